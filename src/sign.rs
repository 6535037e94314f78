//! AK/SK request signing, SDK-HMAC-SHA256, as the official Huawei Cloud SDK signer computes it:
//! the runner signs every request it sends with [`sign_request`]; the reference server checks
//! incoming ones with [`verify`]. Both build the same canonical request, so they cannot drift
//! apart; `tests/signing.rs` pins it to the official signer's vectors.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::Mac;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::exchange::Request;

pub use crate::protocol::{DATE_HEADER, SIGNING_SCHEME as ALGORITHM};
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// A signed request may carry its own payload hash here (the official SDK sets `UNSIGNED-PAYLOAD`
/// for bodies that are not JSON); it then stands in for the hash of a non-empty body.
pub const CONTENT_SHA256_HEADER: &str = "X-Sdk-Content-Sha256";

/// Python's `quote(s, safe='~')`: everything but unreserved characters is escaped.
const ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

type HmacSha256 = hmac::Hmac<Sha256>;

/// The pieces of a signature, exposed so tests can compare each with the official vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub signed_headers: String,
    pub canonical_request: String,
    pub string_to_sign: String,
    pub authorization: String,
}

/// Signs a request. `path` and `query` are unencoded; `headers` are those that will be sent and
/// must include `X-Sdk-Date`; `host` stands in for a missing `Host` header.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    ak: &str,
    sk: &str,
    method: &str,
    host: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> Signature {
    let mut signed: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        // The official signer leaves headers with `_` out (gateways may drop them).
        if lower.contains('_') || signed.iter().any(|(n, _)| *n == lower) {
            continue;
        }
        signed.push((lower, value.trim().to_string()));
    }
    if !signed.iter().any(|(n, _)| n == "host") {
        signed.push(("host".into(), host.trim().to_string()));
    }
    signed.sort();
    let date = signed.iter().find(|(n, _)| n == "x-sdk-date").map(|(_, v)| v.clone()).unwrap_or_default();
    compute(ak, sk, method, path, query, &signed, body, &date)
}

/// The canonical request and signature over already-chosen headers (lower-case names, sorted,
/// trimmed values).
#[allow(clippy::too_many_arguments)]
fn compute(
    ak: &str,
    sk: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    signed: &[(String, String)],
    body: &[u8],
    date: &str,
) -> Signature {
    let content_sha256 = CONTENT_SHA256_HEADER.to_ascii_lowercase();
    // As the official signer: an empty body always hashes the empty string; otherwise a signed
    // `X-Sdk-Content-Sha256` wins over the body's own hash.
    let payload_hash = match signed.iter().find(|(n, _)| *n == content_sha256) {
        Some((_, declared)) if !body.is_empty() && !declared.is_empty() => declared.clone(),
        _ => hex::encode(Sha256::digest(body)),
    };
    compute_hashed(ak, sk, method, path, query, signed, &payload_hash, date)
}

/// [`compute`] with the payload hash given: what a verifier ends up with when it takes the hash
/// from somewhere other than the body (the planted signature faults do).
#[allow(clippy::too_many_arguments)]
fn compute_hashed(
    ak: &str,
    sk: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    signed: &[(String, String)],
    payload_hash: &str,
    date: &str,
) -> Signature {
    let signed_headers = signed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    let canonical_headers: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_uri(path),
        canonical_query(query),
        canonical_headers,
        signed_headers,
        payload_hash,
    );
    let string_to_sign = format!("{ALGORITHM}\n{date}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let signature = hex::encode(mac(sk, &string_to_sign).finalize().into_bytes());
    let authorization = format!("{ALGORITHM} Access={ak}, SignedHeaders={signed_headers}, Signature={signature}");
    Signature { signed_headers, canonical_request, string_to_sign, authorization }
}

fn mac(sk: &str, text: &str) -> HmacSha256 {
    let mut m = <HmacSha256 as Mac>::new_from_slice(sk.as_bytes()).expect("HMAC takes a key of any length");
    m.update(text.as_bytes());
    m
}

/// Each segment escaped on its own; always ends with `/`.
fn canonical_uri(path: &str) -> String {
    let mut out = path.split('/').map(|seg| utf8_percent_encode(seg, ESCAPE).to_string()).collect::<Vec<_>>().join("/");
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Sorted by key, then value, BEFORE escaping (the official signer sorts the raw pairs, and
/// escaping changes the order: `%5B` sorts before `A`, `[` after it); keys and values escaped
/// like path segments.
fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, ESCAPE), utf8_percent_encode(v, ESCAPE)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs a request about to be sent: sets `X-Sdk-Date` (from `now`) and `Authorization`. The
/// host is taken from the URL the way an HTTP client sends it (no port when it is the default).
pub fn sign_request(req: &mut Request, ak: &str, sk: &str, now: DateTime<Utc>) {
    req.headers.remove(crate::protocol::AUTH_HEADER);
    req.headers.insert(DATE_HEADER, now.format(DATE_FORMAT).to_string());
    let (host, path, query) = url_parts(req);
    let sig = sign(ak, sk, &req.method, &host, &path, &query, &req.headers.0, &req.body);
    req.headers.insert(crate::protocol::AUTH_HEADER, sig.authorization);
}

/// Signs like [`sign_request`] but leaves the header `leave_out` (lower-case) out of
/// `SignedHeaders`, the signature otherwise correct: what a server that does not insist on
/// covering that header lets through (`batchconf`'s signature-hardening trials send it).
pub fn sign_request_leaving_out(req: &mut Request, ak: &str, sk: &str, now: DateTime<Utc>, leave_out: &str) {
    sign_request(req, ak, sk, now);
    let (host, path, query) = url_parts(req);
    let date = now.format(DATE_FORMAT).to_string();
    let mut signed: Vec<(String, String)> = Vec::new();
    for (name, value) in &req.headers.0 {
        let lower = name.to_ascii_lowercase();
        if lower == "authorization"
            || lower == leave_out
            || lower.contains('_')
            || signed.iter().any(|(n, _)| *n == lower)
        {
            continue;
        }
        signed.push((lower, value.trim().to_string()));
    }
    if leave_out != "host" && !signed.iter().any(|(n, _)| n == "host") {
        signed.push(("host".into(), host.trim().to_string()));
    }
    signed.sort();
    let sig = compute(ak, sk, &req.method, &path, &query, &signed, &req.body, &date);
    req.headers.insert(crate::protocol::AUTH_HEADER, sig.authorization);
}

/// The host (with a port that is not the default), the decoded path and the query of a
/// request's URL, as a signature covers them.
fn url_parts(req: &Request) -> (String, String, Vec<(String, String)>) {
    match url::Url::parse(&req.url) {
        Ok(u) => {
            let host = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => String::new(),
            };
            let query = u.query().map(parse_query).unwrap_or_default();
            (host, decode_path(u.path()), query)
        }
        // A path with an optional query, when the host is not known yet.
        Err(_) => {
            let query = req.url.split(['#']).next().and_then(|u| u.split_once('?')).map(|(_, q)| parse_query(q));
            (String::new(), decode_path(req.path()), query.unwrap_or_default())
        }
    }
}

fn decode_path(raw: &str) -> String {
    raw.split('/').map(|seg| percent_decode_str(seg).decode_utf8_lossy().to_string()).collect::<Vec<_>>().join("/")
}

fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode_str(k).decode_utf8_lossy().to_string(),
                percent_decode_str(v).decode_utf8_lossy().to_string(),
            )
        })
        .collect()
}

/// Why a signature was refused. Messages never contain a secret key or the expected signature.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("no `Authorization` header")]
    Missing,
    #[error("`Authorization` is not `{ALGORITHM} Access=…, SignedHeaders=…, Signature=…`: {0}")]
    Malformed(String),
    #[error("unknown access key")]
    UnknownKey,
    #[error("no `X-Sdk-Date` header")]
    MissingDate,
    #[error("`X-Sdk-Date` {0:?} is not `YYYYMMDDTHHMMSSZ`")]
    BadDate(String),
    #[error("`X-Sdk-Date` is {seconds} s away from the server's clock (at most {max} s allowed)")]
    Skew { seconds: i64, max: u64 },
    #[error("`SignedHeaders` leaves out `{0}`, which must be signed")]
    UnsignedRequiredHeader(String),
    #[error("signed header `{0}` is not in the request")]
    MissingSignedHeader(String),
    #[error("the signature does not match the request")]
    Mismatch,
}

/// Ways a verifier can be too lenient, each one the reference server's planted fault; the
/// default, none, is the official verifier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lax {
    /// A date ahead of the clock passes, however far (only the past is bounded).
    pub future_dates: bool,
    /// `SignedHeaders` need not cover `host` and `x-sdk-date`.
    pub uncovered_headers: bool,
    /// An empty `Signature=` passes.
    pub empty_signature: bool,
    /// How much of the signature is compared.
    pub compare: Compare,
    /// A signature that does not match is tried again over an empty payload.
    pub empty_payload_fallback: bool,
    /// The payload hash is `X-Sdk-Content-Sha256`'s whenever the header is there, signed or not.
    pub declared_payload_hash: bool,
}

/// How much of a signature a verifier compares (all of it, unless a fault is planted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compare {
    #[default]
    All,
    /// Everything but the first hex digit.
    SkipFirst,
    /// The first and the last 8 hex digits only.
    Ends,
    /// The first half only.
    FirstHalf,
    /// Over the shorter of the two (a non-empty prefix, or the signature extended, passes).
    Shorter,
}

/// Checks an incoming request's signature, with the leniencies `lax` names (none by default).
/// `raw_path` and `raw_query` are as received (still percent-encoded); `headers` as received,
/// `Host` included. Returns the access key.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    method: &str,
    raw_path: &str,
    raw_query: Option<&str>,
    headers: &[(String, String)],
    body: &[u8],
    secret_for: &dyn Fn(&str) -> Option<String>,
    now: DateTime<Utc>,
    max_skew: Duration,
    lax: Lax,
) -> Result<String, VerifyError> {
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let auth = parse_authorization(header("authorization").ok_or(VerifyError::Missing)?)?;
    let (ak, signed_headers, signature) = (auth.access, auth.signed_headers, auth.signature);
    let sk = secret_for(ak).ok_or(VerifyError::UnknownKey)?;
    let date = header(DATE_HEADER).ok_or(VerifyError::MissingDate)?.trim();
    let when = parse_date(date).ok_or_else(|| VerifyError::BadDate(date.chars().take(40).collect()))?;
    let seconds = (now - when).num_seconds();
    let ahead_and_lax = lax.future_dates && seconds < 0;
    if seconds.unsigned_abs() > max_skew.as_secs() && !ahead_and_lax {
        return Err(VerifyError::Skew { seconds, max: max_skew.as_secs() });
    }
    let names: Vec<&str> = signed_headers.split(';').filter(|n| !n.is_empty()).collect();
    for required in ["host", "x-sdk-date"] {
        if !names.contains(&required) && !lax.uncovered_headers {
            return Err(VerifyError::UnsignedRequiredHeader(required.into()));
        }
    }
    // Exactly the headers the client signed, in its order: headers added on the way (by a
    // proxy or the HTTP stack) do not matter.
    let mut signed = Vec::new();
    for name in &names {
        let value = header(name).ok_or_else(|| VerifyError::MissingSignedHeader(name.to_string()))?;
        signed.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let query = raw_query.map(parse_query).unwrap_or_default();
    let path = decode_path(raw_path);
    let mut candidates = vec![compute(ak, &sk, method, &path, &query, &signed, body, date).string_to_sign];
    if lax.empty_payload_fallback {
        candidates.push(compute(ak, &sk, method, &path, &query, &signed, b"", date).string_to_sign);
    }
    if let (true, Some(declared)) = (lax.declared_payload_hash, header(CONTENT_SHA256_HEADER)) {
        candidates.push(compute_hashed(ak, &sk, method, &path, &query, &signed, declared.trim(), date).string_to_sign);
    }
    if lax.empty_signature && signature.is_empty() {
        return Ok(ak.to_string());
    }
    if candidates.iter().any(|string_to_sign| signature_matches(&sk, string_to_sign, signature, lax.compare)) {
        Ok(ak.to_string())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Does `signature` sign `string_to_sign`, compared as `compare` says (all of it, in constant
/// time, unless a fault is planted)?
fn signature_matches(sk: &str, string_to_sign: &str, signature: &str, compare: Compare) -> bool {
    if compare == Compare::All {
        let Ok(given) = hex::decode(signature) else { return false };
        // Constant-time comparison.
        return mac(sk, string_to_sign).verify_slice(&given).is_ok();
    }
    let want = hex::encode(mac(sk, string_to_sign).finalize().into_bytes());
    let (w, g) = (want.as_bytes(), signature.to_ascii_lowercase().into_bytes());
    let n = w.len();
    match compare {
        Compare::All => unreachable!("compared above"),
        // A hand-written compare over the shorter of the two, refusing only the empty signature.
        Compare::Shorter => !g.is_empty() && w[..n.min(g.len())] == g[..n.min(g.len())],
        _ if g.len() != n => false,
        Compare::SkipFirst => w[1..] == g[1..],
        Compare::Ends => w[..8] == g[..8] && w[n - 8..] == g[n - 8..],
        Compare::FirstHalf => w[..n / 2] == g[..n / 2],
    }
}

/// The three fields of an `Authorization` header, borrowed from it.
struct Authorization<'a> {
    access: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

/// Parses `SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…` (fields in any order, each
/// once). Messages name fields only: the header's values are the client's and stay out of them.
fn parse_authorization(value: &str) -> Result<Authorization<'_>, VerifyError> {
    let rest = value
        .trim()
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| VerifyError::Malformed(format!("it does not start with `{ALGORITHM} `")))?;
    let (mut access, mut signed_headers, mut signature) = (None, None, None);
    for (i, part) in rest.split(',').enumerate() {
        let Some((key, v)) = part.trim().split_once('=') else {
            return Err(VerifyError::Malformed(format!("field {} is not `key=value`", i + 1)));
        };
        let slot = match key {
            "Access" => &mut access,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(VerifyError::Malformed(format!("field {} has an unknown key", i + 1))),
        };
        if slot.replace(v).is_some() {
            return Err(VerifyError::Malformed(format!("`{key}` appears twice")));
        }
    }
    match (access, signed_headers, signature) {
        (Some(access), Some(signed_headers), Some(signature)) if !access.is_empty() => {
            Ok(Authorization { access, signed_headers, signature })
        }
        _ => Err(VerifyError::Malformed("`Access`, `SignedHeaders` and `Signature` are all needed".into())),
    }
}

/// `YYYYMMDDTHHMMSSZ` exactly: chrono alone would also take signs and short fields, which the
/// official signer never writes.
fn parse_date(date: &str) -> Option<DateTime<Utc>> {
    let when = NaiveDateTime::parse_from_str(date, DATE_FORMAT).ok()?.and_utc();
    (when.format(DATE_FORMAT).to_string() == date).then_some(when)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_pieces() {
        assert_eq!(canonical_uri("/v1/p/digital-assets/a b+c@d"), "/v1/p/digital-assets/a%20b%2Bc%40d/");
        assert_eq!(canonical_uri("/"), "/");
        let q = vec![("b".to_string(), "x,y".to_string()), ("a".to_string(), "1".to_string())];
        assert_eq!(canonical_query(&q), "a=1&b=x%2Cy");
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn query_sorts_raw_pairs_like_python_then_escapes() {
        // Python sorts the (key, value) tuples before quoting: `A` < `[` < `z` < `é`.
        let q = pairs(&[("é", "1"), ("[", "2"), ("z", "3"), ("A", "4")]);
        assert_eq!(canonical_query(&q), "A=4&%5B=2&z=3&%C3%A9=1");
        // A repeated key keeps all its values, ordered by value.
        let q = pairs(&[("k", "b"), ("k", "a c"), ("k", "a")]);
        assert_eq!(canonical_query(&q), "k=a&k=a%20c&k=b");
        assert_eq!(canonical_query(&pairs(&[("flag", "")])), "flag=");
    }

    #[test]
    fn wire_paths_and_queries_decode_to_what_was_signed() {
        assert_eq!(decode_path("/v1/p/a%20b%2Bc%40d"), "/v1/p/a b+c@d");
        assert_eq!(decode_path("/v1/%E8%B5%84%E4%BA%A7"), "/v1/资产");
        // `+` is a plus in a path and in this query syntax: only `%20` is a space.
        assert_eq!(parse_query("a=1+2&b=x%2Cy&&flag"), pairs(&[("a", "1+2"), ("b", "x,y"), ("flag", "")]));
    }

    #[test]
    fn authorization_parsing() {
        let a = parse_authorization("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=ab").unwrap();
        assert_eq!((a.access, a.signed_headers, a.signature), ("AK", "host;x-sdk-date", "ab"));
        let a = parse_authorization("SDK-HMAC-SHA256 Signature=ab,SignedHeaders=host,Access=AK").unwrap();
        assert_eq!((a.access, a.signed_headers, a.signature), ("AK", "host", "ab"));
        for bad in [
            "",
            "SDK-HMAC-SHA1 Access=AK, SignedHeaders=host, Signature=ab",
            "SDK-HMAC-SHA256Access=AK, SignedHeaders=host, Signature=ab",
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host",
            "SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=ab",
            "SDK-HMAC-SHA256 Access=AK, Access=AK, SignedHeaders=host, Signature=ab",
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=ab, Extra=1",
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, secret-looking-junk",
        ] {
            let err = parse_authorization(bad).err().unwrap_or_else(|| panic!("accepted {bad:?}"));
            assert!(matches!(err, VerifyError::Malformed(_)), "{bad:?}: {err:?}");
            // The client's text is not echoed back.
            assert!(!err.to_string().contains("junk"), "{err}");
        }
    }

    #[test]
    fn dates_are_exactly_the_basic_format() {
        let when = parse_date("20261128T010203Z").unwrap();
        assert_eq!(when.format(DATE_FORMAT).to_string(), "20261128T010203Z");
        for bad in
            ["", "20261128T010203", "2026-11-28T01:02:03Z", "+20261128T010203Z", "20261128T250203Z", "2026112T010203Z"]
        {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn declared_payload_hash_stands_in_for_a_non_empty_body_only() {
        let base = pairs(&[("Host", "h"), ("X-Sdk-Date", "20261128T010203Z")]);
        let mut unsigned = base.clone();
        unsigned.push(("X-Sdk-Content-Sha256".into(), "UNSIGNED-PAYLOAD".into()));
        let sig = |h: &[(String, String)], body: &[u8]| sign("AK", "SK", "POST", "h", "/", &[], h, body);
        assert!(sig(&unsigned, b"x").canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
        assert_eq!(sig(&unsigned, b"x").authorization, sig(&unsigned, b"y").authorization);
        assert!(sig(&unsigned, b"").canonical_request.ends_with(&hex::encode(Sha256::digest(b""))));
        assert_ne!(sig(&base, b"x").authorization, sig(&base, b"y").authorization);
    }

    #[test]
    fn relative_urls_sign_their_query_too() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T01:02:03Z").unwrap().with_timezone(&Utc);
        let mut req = Request {
            method: "GET".into(),
            url: "/v1/p/a%20b?limit=10&x=%2C#frag".into(),
            headers: crate::exchange::Headers::default(),
            body: vec![],
        };
        sign_request(&mut req, "AK", "SK", now);
        let sent: Vec<_> = req.headers.0.iter().filter(|(n, _)| n != "Authorization").cloned().collect();
        let expected = sign("AK", "SK", "GET", "", "/v1/p/a b", &pairs(&[("limit", "10"), ("x", ",")]), &sent, b"");
        assert_eq!(req.headers.get("Authorization"), Some(expected.authorization.as_str()));
        assert_eq!(req.headers.get(DATE_HEADER), Some("20261128T010203Z"));
    }

    #[test]
    fn underscore_headers_and_duplicates_are_left_out() {
        let h = pairs(&[("X_Trace", "t"), ("X-Sdk-Date", "d"), ("x-sdk-date", "other"), ("HOST", " h ")]);
        let s = sign("AK", "SK", "get", "ignored", "/", &[], &h, b"");
        assert_eq!(s.signed_headers, "host;x-sdk-date");
        assert!(s.canonical_request.starts_with("GET\n/\n\nhost:h\nx-sdk-date:d\n\n"), "{}", s.canonical_request);
    }
}

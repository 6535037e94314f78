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

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
pub const DATE_HEADER: &str = "X-Sdk-Date";
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

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
    let signed_headers = signed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    let canonical_headers: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_uri(path),
        canonical_query(query),
        canonical_headers,
        signed_headers,
        hex::encode(Sha256::digest(body)),
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

/// Sorted by key, then value; keys and values escaped like path segments.
fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (utf8_percent_encode(k, ESCAPE).to_string(), utf8_percent_encode(v, ESCAPE).to_string()))
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Signs a request about to be sent: sets `X-Sdk-Date` (from `now`) and `Authorization`. The
/// host is taken from the URL the way an HTTP client sends it (no port when it is the default).
pub fn sign_request(req: &mut Request, ak: &str, sk: &str, now: DateTime<Utc>) {
    req.headers.remove("Authorization");
    req.headers.insert(DATE_HEADER, now.format(DATE_FORMAT).to_string());
    let (host, path, query) = match url::Url::parse(&req.url) {
        Ok(u) => {
            let host = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => String::new(),
            };
            let query = u.query().map(parse_query).unwrap_or_default();
            (host, decode_path(u.path()), query)
        }
        Err(_) => (String::new(), decode_path(req.path()), vec![]),
    };
    let sig = sign(ak, sk, &req.method, &host, &path, &query, &req.headers.0, &req.body);
    req.headers.insert("Authorization", sig.authorization);
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

/// Checks an incoming request's signature. `raw_path` and `raw_query` are as received (still
/// percent-encoded); `headers` as received, `Host` included. Returns the access key.
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
) -> Result<String, VerifyError> {
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let auth = header("authorization").ok_or(VerifyError::Missing)?;
    let rest = auth
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| VerifyError::Malformed(format!("it does not start with `{ALGORITHM} `")))?;
    let (mut access, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| VerifyError::Malformed(format!("`{}` is not key=value", part.trim())))?;
        match k {
            "Access" => access = Some(v),
            "SignedHeaders" => signed_headers = Some(v),
            "Signature" => signature = Some(v),
            _ => return Err(VerifyError::Malformed(format!("unknown field `{k}`"))),
        }
    }
    let (Some(ak), Some(signed_headers), Some(signature)) = (access, signed_headers, signature) else {
        return Err(VerifyError::Malformed("`Access`, `SignedHeaders` and `Signature` are all needed".into()));
    };
    let sk = secret_for(ak).ok_or(VerifyError::UnknownKey)?;
    let date = header(DATE_HEADER).ok_or(VerifyError::MissingDate)?.trim();
    let when =
        NaiveDateTime::parse_from_str(date, DATE_FORMAT).map_err(|_| VerifyError::BadDate(date.to_string()))?.and_utc();
    let seconds = (now - when).num_seconds();
    if seconds.unsigned_abs() > max_skew.as_secs() {
        return Err(VerifyError::Skew { seconds, max: max_skew.as_secs() });
    }
    let names: Vec<&str> = signed_headers.split(';').filter(|n| !n.is_empty()).collect();
    for required in ["host", "x-sdk-date"] {
        if !names.contains(&required) {
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
    let expected = compute(ak, &sk, method, &decode_path(raw_path), &query, &signed, body, date);
    let string_to_sign = expected.string_to_sign;
    let given = hex::decode(signature).map_err(|_| VerifyError::Mismatch)?;
    // Constant-time comparison.
    mac(&sk, &string_to_sign).verify_slice(&given).map_err(|_| VerifyError::Mismatch)?;
    Ok(ak.to_string())
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
}

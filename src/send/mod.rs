//! Sending: turning a generated request into the HTTP request a target gets (URL, credentials,
//! case header), and the transport that sends it.

pub mod transport;

use chrono::{DateTime, Utc};
use url::Url;

use crate::error::SetupError;
use crate::exchange::{Exchange, Headers, Request};
use crate::generate::{AuthMode, GenRequest};
use crate::protocol::{APP_USER_HEADER, AUTH_HEADER, CREDENTIAL_HEADERS, TOKEN_HEADER};

pub use transport::{Transport, TransportConfig};

/// The one place requests leave the engine: the [`Transport`] over the network, or the reference
/// server's router in memory ([`crate::server::InMemory`]) for the engine's own tests.
pub trait Exchanger: Send + Sync {
    /// Sends `prepare()`'s request and reads the whole answer. `prepare` may be called again for
    /// a retry, so a signature is always fresh.
    fn exchange<'a>(
        &'a self,
        prepare: &'a (dyn Fn() -> Request + Send + Sync),
    ) -> futures::future::BoxFuture<'a, Exchange>;

    /// How the target throttled the run so far (an exchanger that never paces: nothing).
    fn pace(&self) -> Throttling {
        Throttling::default()
    }
}

/// What the run saw of the target's throttling: the summary and the JSON report say it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Throttling {
    /// Answers 429 (each retried, none judged unless still 429 after every retry).
    pub answers: u64,
    /// The rate the target let through once it throttled, in requests a second: the most
    /// answers that were not 429 in one second of the paced run (`None`: it never throttled
    /// beyond an odd answer, or not for a whole second).
    pub allowed_rate: Option<f64>,
}

/// Names the case and example a request belongs to, so a target's logs can be matched to the
/// report.
pub const CASE_HEADER: &str = "X-Batchconf-Case";

/// Where requests go: a base URL (scheme, host, port, optional path prefix) and the project.
#[derive(Debug, Clone)]
pub struct Target {
    pub base: Url,
    pub project_id: String,
}

impl Target {
    /// The base URL and project of a run, checked: a URL the operation's path cannot follow, or a
    /// project id that is not one path segment of its own, is the user's mistake (exit 2), found
    /// before anything is sent. Messages show the URL with any userinfo masked.
    pub fn parse(url: &str, project_id: &str) -> Result<Target, SetupError> {
        let shown = shown_url(url);
        let wrong = |why: String| SetupError::Argument(format!("`--target {shown}` {why}"));
        let base = Url::parse(url).map_err(|e| wrong(format!("is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(wrong("must be an http:// or https:// URL with a host".into()));
        }
        // The operation's path goes after the base URL's path: a query or a fragment would end
        // up in front of it (`http://h/?x=1/v1/…`).
        if let Some(q) = base.query() {
            return Err(wrong(format!(
                "has a query (`?{q}`): give the base URL only (scheme, host, port, and a path prefix if there is one)"
            )));
        }
        if let Some(f) = base.fragment() {
            return Err(wrong(format!("has a fragment (`#{f}`): give the base URL only (scheme, host, port, and a path prefix if there is one)")));
        }
        let target = Target { base, project_id: project_id.to_string() };
        // One segment, sent as given: `.` and `..` would be normalised away by any URL parser
        // on the way (`/v1/../digital-assets/…`), a `/` would make two segments.
        let template = "/{project_id}";
        let built = target.url(template, &[]);
        let normalised = Url::parse(&built).map(|u| u.to_string()).unwrap_or_default();
        if project_id.is_empty() || project_id.contains('/') || normalised != built {
            return Err(SetupError::Argument(format!(
                "`--project-id {project_id:?}` must be one path segment that stays as it is (not empty, no `/`, not `.` or `..`)"
            )));
        }
        Ok(target)
    }

    /// Is the target this machine? (Destructive cases never run elsewhere without consent.)
    pub fn is_loopback(&self) -> bool {
        match self.base.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        }
    }

    /// The absolute URL of a path template filled with the project and `params`.
    pub fn url(&self, template: &str, params: &[(&str, &str)]) -> String {
        let mut all = vec![("project_id", self.project_id.as_str())];
        all.extend_from_slice(params);
        let path = crate::contract::fill_path(template, &all);
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }
}

/// The longest request target (path and query) the run sends: 8 KiB, what HTTP servers and
/// gateways take in a request line (nginx's and Apache's defaults). A project id or a fixture id
/// that makes a longer one is the user's mistake, not a target that "stopped answering".
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// The longest header value a user's flag may make: 16 KiB (an IAM token is under 10 KiB).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Can the run's requests be sent as the user's values make them? The requests are built as the
/// run builds them, before anything is sent: the headers the user's values fill are judged by
/// the contract's request-headers schema (a value the contract forbids would have the target
/// blamed for refusing it), and the URLs and header values must be within what HTTP carries.
/// Each problem is one sentence naming the flag.
pub fn check_sendable(
    contract: &crate::contract::Contract,
    target: &Target,
    creds: &Credentials,
    fixtures: &[String],
) -> Result<(), SetupError> {
    let op = contract.operation();
    let req = build(&GenRequest::json(serde_json::json!({})), &op.method, target.url(&op.path, &[]), "-", creds);
    let headers = req.headers.to_json();
    let schema = &contract.request_headers;
    if let Some(e) = schema.errors(&headers).into_iter().next() {
        let name = e.instance_path.trim_start_matches('/');
        let value = headers.pointer(&e.instance_path).and_then(|v| v.as_str()).unwrap_or_default();
        let flag = if creds.app_user_id.as_deref() == Some(value) { "--app-user-id" } else { name };
        let why = schema.json.pointer(&format!("/properties/{name}/description")).and_then(|d| d.as_str());
        return Err(SetupError::Argument(format!(
            "`{flag} {value}` is refused by the contract's request headers (`{}` of `{}`){}: give a value the contract allows",
            e.keyword,
            schema.file,
            why.map(|w| format!("; it says: {}", w.trim_end_matches('.'))).unwrap_or_default()
        )));
    }
    let too_long = |flag: &str, what: &str, len: usize, max: usize| {
        SetupError::Argument(format!(
            "`{flag}` makes {what} of {len} bytes, longer than the {} KiB a request can carry to HTTP servers and gateways",
            max / 1024
        ))
    };
    let path_len = |url: &str| Url::parse(url).map(|u| url.len() - u.origin().ascii_serialization().len()).unwrap_or(0);
    let batch = target.url(&op.path, &[]);
    if path_len(&batch) > MAX_URL_BYTES {
        return Err(too_long("--project-id", "a request path", path_len(&batch), MAX_URL_BYTES));
    }
    if let Some(lookup) = &contract.lookup {
        for id in fixtures {
            let url = target.url(&lookup.path, &[("asset_id", id)]);
            if path_len(&url) > MAX_URL_BYTES {
                return Err(too_long("--fixture-assets", "a lookup path", path_len(&url), MAX_URL_BYTES));
            }
        }
    }
    let values = [("--app-user-id", &creds.app_user_id), ("--token", &creds.token)];
    let aksk = creds.aksk.as_ref().map(|(ak, _)| ak.clone());
    for (flag, value) in values.into_iter().chain([("--ak", &aksk)]) {
        if let Some(v) = value.as_ref().filter(|v| v.len() > MAX_HEADER_BYTES) {
            return Err(too_long(flag, "a header", v.len(), MAX_HEADER_BYTES));
        }
    }
    Ok(())
}

/// A URL as it may be shown: any userinfo (`user:password@`) masked.
pub fn shown_url(url: &str) -> String {
    crate::report::redact::redact_text(url, &[])
}

/// How the run authenticates. Never printed: see [`Credentials::secrets`].
#[derive(Clone, Default)]
pub struct Credentials {
    pub token: Option<String>,
    pub aksk: Option<(String, String)>,
    pub app_user_id: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("aksk", &self.aksk.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Credentials {
    /// Every secret value, for redacting anything that is printed or written.
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.token.iter().cloned().collect();
        if let Some((ak, sk)) = &self.aksk {
            out.push(ak.clone());
            out.push(sk.clone());
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.token.is_none() && self.aksk.is_none()
    }
}

/// Builds the unsigned request for a generated one (credentials are applied at send time, so
/// every request gets a fresh `X-Sdk-Date`).
pub fn build(gen: &GenRequest, method: &str, url: String, case: &str, creds: &Credentials) -> Request {
    let mut headers = Headers::default();
    if !gen.content_type.is_empty() {
        headers.insert("Content-Type", gen.content_type.clone());
    }
    if let Some(user) = &creds.app_user_id {
        headers.insert(APP_USER_HEADER, user.clone());
    }
    for (n, v) in &gen.headers {
        headers.insert(n.clone(), v.clone());
    }
    headers.insert(CASE_HEADER, case);
    Request { method: method.to_string(), url, headers, body: gen.body_bytes() }
}

/// Puts credentials on a request as `mode` says; `now` is the signing time.
pub fn authenticate(req: &mut Request, mode: AuthMode, creds: &Credentials, now: DateTime<Utc>) {
    for h in CREDENTIAL_HEADERS {
        req.headers.remove(h);
    }
    match mode {
        AuthMode::Valid => match (&creds.aksk, &creds.token) {
            (Some((ak, sk)), _) => crate::sign::sign_request(req, ak, sk, now),
            (None, Some(token)) => req.headers.insert(TOKEN_HEADER, token.clone()),
            (None, None) => {}
        },
        AuthMode::Missing => {}
        AuthMode::WrongToken => req.headers.insert(TOKEN_HEADER, "bcf-wrong-token-0000000000000000"),
        AuthMode::AlteredToken => {
            if let Some(token) = &creds.token {
                req.headers.insert(TOKEN_HEADER, tamper(token));
            }
        }
        AuthMode::EmptyToken => req.headers.insert(TOKEN_HEADER, ""),
        AuthMode::TokenCutToOne | AuthMode::TokenCutToHalf | AuthMode::TokenExtended => {
            if let Some(token) = &creds.token {
                req.headers.insert(TOKEN_HEADER, near_miss(token, mode));
            }
        }
        _ => {
            let Some((ak, sk)) = &creds.aksk else { return };
            let when = match mode {
                AuthMode::StaleDate => now - chrono::Duration::hours(1),
                AuthMode::FutureDate => now + chrono::Duration::hours(1),
                _ => now,
            };
            match mode {
                // Made up, `bcf-` prefixed like every id the harness invents: no service has it.
                AuthMode::ForeignAccessKey => crate::sign::sign_request(req, FOREIGN_ACCESS_KEY, sk, when),
                // The string to sign does not name the key: only `Access=` differs.
                AuthMode::AccessKeyCut | AuthMode::AccessKeyExtended => {
                    crate::sign::sign_request(req, &near_miss(ak, mode), sk, when)
                }
                AuthMode::UnsignedDate => crate::sign::sign_request_leaving_out(req, ak, sk, when, "x-sdk-date"),
                AuthMode::EmptyPayloadSignature => {
                    let body = std::mem::take(&mut req.body);
                    crate::sign::sign_request(req, ak, sk, when);
                    req.body = body;
                }
                AuthMode::BodyChangedAfterSigning => {
                    crate::sign::sign_request(req, ak, sk, when);
                    // Declared, not signed: a verifier that trusts the declaration over the body
                    // never looks at what it acts on.
                    let signed = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&req.body));
                    req.headers.insert(crate::sign::CONTENT_SHA256_HEADER, signed);
                    req.body.push(b' ');
                }
                _ => crate::sign::sign_request(req, ak, sk, when),
            }
            let Some(auth) = req.headers.get(AUTH_HEADER).map(str::to_string) else { return };
            let broken = match mode {
                AuthMode::TamperedSignature => tamper(&auth),
                AuthMode::AlteredSignatureFirst => alter_signature(&auth, |_| 0),
                AuthMode::AlteredSignatureMiddle => alter_signature(&auth, |n| n / 2),
                AuthMode::EmptySignature => alter_signature(&auth, |_| usize::MAX),
                AuthMode::SignatureCutToOne | AuthMode::SignatureCutToHalf | AuthMode::SignatureExtended => {
                    resize_signature(&auth, mode)
                }
                _ => return,
            };
            req.headers.insert(AUTH_HEADER, broken);
        }
    }
}

/// The access key that is not the run's, for [`AuthMode::ForeignAccessKey`].
pub const FOREIGN_ACCESS_KEY: &str = "bcf-not-the-runs-access-key";

/// The `Authorization` value with one hex digit of `Signature=` changed, at the index `at`
/// gives for the signature's length; an index past the end empties the signature instead.
fn alter_signature(auth: &str, at: impl Fn(usize) -> usize) -> String {
    let Some(start) = auth.find("Signature=").map(|i| i + "Signature=".len()) else { return auth.to_string() };
    let end = auth[start..].find(',').map_or(auth.len(), |i| start + i);
    let sig = &auth[start..end];
    let i = at(sig.len());
    let new_sig = match sig.as_bytes().get(i) {
        Some(&c) => {
            let swapped = if c == b'0' { '1' } else { '0' };
            format!("{}{swapped}{}", &sig[..i], &sig[i + 1..])
        }
        None => String::new(),
    };
    format!("{}{new_sig}{}", &auth[..start], &auth[end..])
}

/// A credential's near miss for a length-ignoring compare: cut to one character or to half
/// (never empty: an empty value is its own mode), or with one character appended.
fn near_miss(secret: &str, mode: AuthMode) -> String {
    let chars: Vec<char> = secret.chars().collect();
    match mode {
        AuthMode::TokenCutToOne | AuthMode::SignatureCutToOne => chars.iter().take(1).collect(),
        AuthMode::TokenCutToHalf | AuthMode::SignatureCutToHalf | AuthMode::AccessKeyCut => {
            chars.iter().take((chars.len() / 2).max(1)).collect()
        }
        _ => format!("{secret}0"),
    }
}

/// The `Authorization` value with `Signature=` cut short or extended as `mode` says.
fn resize_signature(auth: &str, mode: AuthMode) -> String {
    let Some(start) = auth.find("Signature=").map(|i| i + "Signature=".len()) else { return auth.to_string() };
    let end = auth[start..].find(',').map_or(auth.len(), |i| start + i);
    format!("{}{}{}", &auth[..start], near_miss(&auth[start..end], mode), &auth[end..])
}

/// Changes the last character (of a signature or a token): a one-character forgery.
fn tamper(secret: &str) -> String {
    let mut s = secret.to_string();
    if let Some(last) = s.pop() {
        s.push(if last == '0' { '1' } else { '0' });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("http://127.0.0.1:9/prefix/", "p 1").unwrap();
        assert_eq!(t.url("/v1/{project_id}/x/{id}", &[("id", "a b")]), "http://127.0.0.1:9/prefix/v1/p%201/x/a%20b");
        assert!(t.is_loopback());
        assert!(!Target::parse("https://metastudio.example.com", "p").unwrap().is_loopback());
        assert!(Target::parse("ftp://x", "p").is_err());
        assert!(Target::parse("not a url", "p").is_err());
    }

    #[test]
    fn a_target_the_path_cannot_follow_or_a_project_that_normalises_away_is_refused() {
        let err = |url: &str, p: &str| Target::parse(url, p).unwrap_err().to_string();
        assert!(err("http://h:1?x=1", "p").contains("has a query (`?x=1`)"), "{}", err("http://h:1?x=1", "p"));
        assert!(err("http://h:1/pre/#top", "p").contains("has a fragment (`#top`)"));
        for p in [".", "..", "", "a/b"] {
            assert!(err("http://h:1", p).starts_with("`--project-id"), "{p:?}: {}", err("http://h:1", p));
        }
        // Dots inside a segment, and characters that are percent-encoded, stay one segment.
        for p in ["a.b", "...", "%2e%2e", "p 1", "a\\b"] {
            assert!(Target::parse("http://h:1", p).is_ok(), "{p:?}");
        }
        // Userinfo is never echoed.
        let e = err("http://user:pw@h:1/?q", "p");
        assert!(!e.contains("pw") && e.contains("http://***@h:1"), "{e}");
        assert_eq!(shown_url("see http://user:pw@h:1/x and https://tok@h2"), "see http://***@h:1/x and https://***@h2");
    }

    #[test]
    fn credentials_never_debug_print() {
        let c = Credentials {
            token: Some("tok-secret".into()),
            aksk: Some(("AK".into(), "SK-secret".into())),
            app_user_id: None,
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn auth_modes() {
        let creds = Credentials { token: Some("t".into()), aksk: Some(("ak".into(), "sk".into())), app_user_id: None };
        let base =
            build(&GenRequest::json(serde_json::json!({})), "POST", "http://127.0.0.1:1/v1/p/x".into(), "c", &creds);
        let now = Utc::now();
        let mut r = base.clone();
        authenticate(&mut r, AuthMode::Valid, &creds, now);
        assert!(r.headers.get("Authorization").unwrap().starts_with("SDK-HMAC-SHA256 "));
        let mut t = base.clone();
        authenticate(&mut t, AuthMode::TamperedSignature, &creds, now);
        assert_ne!(t.headers.get("Authorization"), r.headers.get("Authorization"));
        let signature = |r: &Request| {
            let a = r.headers.get("Authorization").unwrap_or_default().to_string();
            a.split("Signature=").nth(1).unwrap_or_default().to_string()
        };
        let good = signature(&r);
        assert_eq!(good.len(), 64);
        for (mode, at) in [
            (AuthMode::AlteredSignatureFirst, 0),
            (AuthMode::AlteredSignatureMiddle, 32),
            (AuthMode::TamperedSignature, 63),
        ] {
            let mut x = base.clone();
            authenticate(&mut x, mode, &creds, now);
            let bad = signature(&x);
            let differ: Vec<usize> = (0..64).filter(|i| bad.as_bytes()[*i] != good.as_bytes()[*i]).collect();
            assert_eq!(differ, [at], "{mode:?}");
        }
        let mut e = base.clone();
        authenticate(&mut e, AuthMode::EmptySignature, &creds, now);
        assert!(e.headers.get("Authorization").unwrap().ends_with("Signature="));
        let mut k = base.clone();
        authenticate(&mut k, AuthMode::ForeignAccessKey, &creds, now);
        assert!(k.headers.get("Authorization").unwrap().contains(&format!("Access={FOREIGN_ACCESS_KEY},")));
        let mut u = base.clone();
        authenticate(&mut u, AuthMode::UnsignedDate, &creds, now);
        let a = u.headers.get("Authorization").unwrap();
        assert!(a.contains("SignedHeaders=") && !a.contains("x-sdk-date") && u.headers.get("X-Sdk-Date").is_some());
        let mut m = base.clone();
        authenticate(&mut m, AuthMode::Missing, &creds, now);
        assert!(m.headers.get("Authorization").is_none() && m.headers.get("X-Auth-Token").is_none());
    }
}

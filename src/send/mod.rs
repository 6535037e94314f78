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
    pub fn parse(url: &str, project_id: &str) -> Result<Target, SetupError> {
        let base = Url::parse(url).map_err(|e| SetupError::Argument(format!("`--target {url}` is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(SetupError::Argument(format!(
                "`--target {url}` must be an http:// or https:// URL with a host"
            )));
        }
        if project_id.is_empty() || project_id.contains('/') {
            return Err(SetupError::Argument(format!(
                "`--project-id {project_id:?}` must be one non-empty path segment"
            )));
        }
        Ok(Target { base, project_id: project_id.to_string() })
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
                AuthMode::UnsignedDate => crate::sign::sign_request_leaving_out(req, ak, sk, when, "x-sdk-date"),
                _ => crate::sign::sign_request(req, ak, sk, when),
            }
            let Some(auth) = req.headers.get(AUTH_HEADER).map(str::to_string) else { return };
            let broken = match mode {
                AuthMode::TamperedSignature => tamper(&auth),
                AuthMode::AlteredSignatureFirst => alter_signature(&auth, |_| 0),
                AuthMode::AlteredSignatureMiddle => alter_signature(&auth, |n| n / 2),
                AuthMode::EmptySignature => alter_signature(&auth, |_| usize::MAX),
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

//! Who may call the reference server: configured `X-Auth-Token` values and AK/SK pairs whose
//! SDK-HMAC-SHA256 signatures are verified exactly as the official signer computes them.
//!
//! Every credential a request presents must be valid, and it must present at least one: a good
//! signature does not excuse a wrong token, nor the other way round.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::catalogue::{Behaviour, Fault};
use super::incoming::Incoming;
use crate::sign::{self, VerifyError};

pub(crate) use crate::protocol::MAX_SKEW;

#[derive(Debug, Clone, Default)]
pub(crate) struct Credentials {
    pub tokens: Vec<String>,
    pub aksk: Vec<(String, String)>,
}

/// Why a request was not let in; shown in the server's log, never in the answer (which says
/// only `Unauthorized`, as the contract does).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum Refusal {
    #[error("no `X-Auth-Token` and no `Authorization`")]
    Missing,
    #[error("`X-Auth-Token` is not one of the configured tokens")]
    WrongToken,
    #[error("AK/SK: {0}")]
    Signature(VerifyError),
    #[error("the token has expired (`--token-ttl-requests`)")]
    TokenExpired,
    #[error("the access key is locked (more than five failed authentications in a row)")]
    Locked,
}

impl Credentials {
    /// The configured access key a request's `Authorization` names, if it names one: the key
    /// whose failed authentications the lockout counts (a made-up key has nothing to lock).
    pub(crate) fn known_access_key(&self, req: &Incoming) -> Option<&str> {
        let auth = req.header("authorization")?;
        let start = auth.find("Access=")? + "Access=".len();
        let ak = auth[start..].split(',').next()?.trim();
        self.aksk.iter().map(|(a, _)| a.as_str()).find(|a| *a == ak)
    }

    pub(crate) fn check(&self, req: &Incoming, now: DateTime<Utc>, behaviour: &Behaviour) -> Result<(), Refusal> {
        let token = req.header("x-auth-token");
        let signed = req.header("authorization").is_some();
        if token.is_none() && !signed {
            return if behaviour.broken(Fault::AcceptMissingCredentials) { Ok(()) } else { Err(Refusal::Missing) };
        }
        if let Some(token) = token {
            let same = |t: &String| {
                if behaviour.broken(Fault::TokenPrefixCompare) {
                    shorter_equal(t, token)
                } else {
                    t == token
                }
            };
            if !self.tokens.iter().any(same) && !behaviour.broken(Fault::AcceptWrongToken) {
                return Err(Refusal::WrongToken);
            }
        }
        if signed {
            self.verify_signature(req, now, behaviour)?;
        }
        Ok(())
    }

    fn verify_signature(&self, req: &Incoming, now: DateTime<Utc>, behaviour: &Behaviour) -> Result<(), Refusal> {
        let secret_for = |ak: &str| {
            let known = if behaviour.broken(Fault::AkPrefixCompare) {
                self.aksk.iter().find(|(a, _)| shorter_equal(a, ak))
            } else {
                self.aksk.iter().find(|(a, _)| a == ak)
            };
            let known =
                if behaviour.broken(Fault::AcceptForeignAccessKey) { known.or(self.aksk.first()) } else { known };
            known.map(|(_, sk)| sk.clone())
        };
        let max_skew = if behaviour.broken(Fault::AcceptStaleDate) { Duration::from_secs(u64::MAX) } else { MAX_SKEW };
        let lax = sign::Lax {
            future_dates: behaviour.broken(Fault::AcceptFutureDate),
            uncovered_headers: behaviour.broken(Fault::AcceptUncoveredHeaders),
            empty_signature: behaviour.broken(Fault::AcceptEmptySignature),
            compare: match behaviour.fault {
                Some(Fault::SignatureSkipsFirstChar) => sign::Compare::SkipFirst,
                Some(Fault::SignatureEndsOnly) => sign::Compare::Ends,
                Some(Fault::SignatureFirstHalf) => sign::Compare::FirstHalf,
                Some(Fault::SignaturePrefixCompare) => sign::Compare::Shorter,
                _ => sign::Compare::All,
            },
            empty_payload_fallback: behaviour.broken(Fault::SigEmptyPayloadFallback),
            declared_payload_hash: behaviour.broken(Fault::SigIgnoresBody),
        };
        let verdict = sign::verify(
            &req.method,
            &req.path,
            req.query.as_deref(),
            &req.headers,
            &req.body,
            &secret_for,
            now,
            max_skew,
            lax,
        );
        match verdict {
            Ok(_) => Ok(()),
            Err(VerifyError::Mismatch) if behaviour.broken(Fault::AcceptBadSignature) => Ok(()),
            Err(e) => Err(Refusal::Signature(e)),
        }
    }
}

/// A hand-written compare over the shorter of the two values, refusing only an empty one: the
/// length-ignoring comparison the prefix faults plant.
fn shorter_equal(configured: &str, given: &str) -> bool {
    let n = configured.len().min(given.len());
    n > 0 && configured.as_bytes()[..n] == given.as_bytes()[..n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The official signer's vectors, as the server would receive them: lower-case header names
    /// (what the HTTP stack hands over), the raw path percent-encoded the way a client sends it.
    fn incoming(v: &Value) -> Incoming {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let encode =
            |text: &str| percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string();
        let path = s(&v["path"]).split('/').map(&encode).collect::<Vec<_>>().join("/");
        let query: Vec<String> = v["query"]
            .as_array()
            .map(|pairs| pairs.iter().map(|p| format!("{}={}", encode(&s(&p[0])), encode(&s(&p[1])))).collect())
            .unwrap_or_default();
        let mut headers: Vec<(String, String)> = v["headers"]
            .as_object()
            .map(|h| h.iter().map(|(n, v)| (n.to_ascii_lowercase(), s(v))).collect())
            .unwrap_or_default();
        headers.push(("authorization".into(), s(&v["authorization"])));
        Incoming {
            method: s(&v["method"]),
            path,
            query: (!query.is_empty()).then(|| query.join("&")),
            headers,
            body: s(&v["body"]).into_bytes(),
        }
    }

    fn vectors() -> Vec<(Value, Credentials, DateTime<Utc>)> {
        let all: Vec<Value> =
            serde_json::from_str(include_str!("../../tests/data/sdk-hmac-sha256.json")).expect("vectors parse");
        all.into_iter()
            .map(|v| {
                let creds = Credentials {
                    tokens: vec![],
                    aksk: vec![(v["ak"].as_str().unwrap().into(), v["sk"].as_str().unwrap().into())],
                };
                let date = v["headers"]["X-Sdk-Date"].as_str().unwrap();
                let now = chrono::NaiveDateTime::parse_from_str(date, sign::DATE_FORMAT).unwrap().and_utc();
                (v, creds, now)
            })
            .collect()
    }

    #[test]
    fn every_vector_verifies_and_a_changed_byte_does_not() {
        let plain = Behaviour::default();
        let all = vectors();
        assert!(all.len() >= 7);
        for (v, creds, now) in &all {
            let name = v["name"].as_str().unwrap();
            let req = incoming(v);
            assert_eq!(creds.check(&req, *now, &plain), Ok(()), "vector {name}");
            let mut body = req.clone();
            body.body.push(b' ');
            assert!(creds.check(&body, *now, &plain).is_err(), "vector {name}: body");
            let mut path = req.clone();
            path.path.push('x');
            assert!(creds.check(&path, *now, &plain).is_err(), "vector {name}: path");
            let skewed = *now + chrono::Duration::minutes(16);
            assert!(matches!(creds.check(&req, skewed, &plain), Err(Refusal::Signature(VerifyError::Skew { .. }))));
        }
    }

    #[test]
    fn faults_loosen_one_check_each() {
        let (v, creds, now) = vectors().remove(0);
        let mut req = incoming(&v);
        let stale = now + chrono::Duration::days(3);
        let loose = |f| Behaviour { fault: Some(f), variants: vec![] };
        assert!(creds.check(&req, stale, &loose(Fault::AcceptStaleDate)).is_ok());
        assert!(creds.check(&req, stale, &loose(Fault::AcceptBadSignature)).is_err());
        req.body.push(b' ');
        assert!(creds.check(&req, now, &loose(Fault::AcceptBadSignature)).is_ok());
        assert!(creds.check(&req, now, &loose(Fault::AcceptStaleDate)).is_err());
        req.headers.retain(|(n, _)| n != "authorization");
        assert_eq!(creds.check(&req, now, &Behaviour::default()), Err(Refusal::Missing));
        assert!(creds.check(&req, now, &loose(Fault::AcceptMissingCredentials)).is_ok());
        req.headers.push(("x-auth-token".into(), "t".into()));
        assert_eq!(creds.check(&req, now, &Behaviour::default()), Err(Refusal::WrongToken));
        assert!(creds.check(&req, now, &loose(Fault::AcceptWrongToken)).is_ok());
    }

    /// Each signature fault lets through exactly the forgery it exists for, and the clean
    /// server refuses every one of them.
    #[test]
    fn signature_faults_each_let_one_forgery_in() {
        use crate::exchange::{Headers, Request};
        use crate::generate::AuthMode;
        let creds = Credentials { tokens: vec![], aksk: vec![("AKRUN".into(), "sk-run".into())] };
        let run = crate::send::Credentials { aksk: Some(("AKRUN".into(), "sk-run".into())), ..Default::default() };
        let now = Utc::now();
        let incoming = |mode: AuthMode| {
            let mut r = Request {
                method: "POST".into(),
                url: "http://127.0.0.1:9/v1/p/digital-assets/batch-action".into(),
                headers: Headers::from([("Content-Type", "application/json"), ("Host", "127.0.0.1:9")]),
                body: b"{}".to_vec(),
            };
            crate::send::authenticate(&mut r, mode, &run, now);
            Incoming {
                method: r.method.clone(),
                path: "/v1/p/digital-assets/batch-action".into(),
                query: None,
                headers: r.headers.0.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect(),
                body: r.body.clone(),
            }
        };
        assert_eq!(creds.check(&incoming(AuthMode::Valid), now, &Behaviour::default()), Ok(()));
        // Each fault and the forgeries it lets in (the first-half fault also lets the middle
        // character through: it is in the half it does not compare).
        let lets_in: &[(Fault, &[AuthMode])] = &[
            // A key it does not know is verified with the first secret: near misses of it too.
            (
                Fault::AcceptForeignAccessKey,
                &[AuthMode::ForeignAccessKey, AuthMode::AccessKeyCut, AuthMode::AccessKeyExtended],
            ),
            (Fault::AcceptFutureDate, &[AuthMode::FutureDate]),
            (Fault::SignatureSkipsFirstChar, &[AuthMode::AlteredSignatureFirst]),
            (Fault::SignatureEndsOnly, &[AuthMode::AlteredSignatureMiddle]),
            (Fault::SignatureFirstHalf, &[AuthMode::TamperedSignature, AuthMode::AlteredSignatureMiddle]),
            (Fault::AcceptEmptySignature, &[AuthMode::EmptySignature]),
            (Fault::AcceptUncoveredHeaders, &[AuthMode::UnsignedDate]),
            (
                Fault::SignaturePrefixCompare,
                &[AuthMode::SignatureCutToOne, AuthMode::SignatureCutToHalf, AuthMode::SignatureExtended],
            ),
            (Fault::AkPrefixCompare, &[AuthMode::AccessKeyCut, AuthMode::AccessKeyExtended]),
            (Fault::SigEmptyPayloadFallback, &[AuthMode::EmptyPayloadSignature]),
            (Fault::SigIgnoresBody, &[AuthMode::BodyChangedAfterSigning]),
        ];
        let forgeries: Vec<AuthMode> =
            crate::generate::AUTH_VARIANTS.iter().map(|(_, m)| *m).filter(|m| m.needs_aksk()).collect();
        for mode in &forgeries {
            assert!(
                creds.check(&incoming(*mode), now, &Behaviour::default()).is_err(),
                "{mode:?} let in by a clean server"
            );
            // Stale dates are let in by a fault of their own (`faults_loosen_one_check_each`).
            let own = *mode == AuthMode::StaleDate;
            assert!(own || lets_in.iter().any(|(_, ms)| ms.contains(mode)), "no fault lets {mode:?} in");
        }
        for (fault, modes) in lets_in {
            let loose = Behaviour { fault: Some(*fault), variants: vec![] };
            for mode in &forgeries {
                let verdict = creds.check(&incoming(*mode), now, &loose);
                if modes.contains(mode) {
                    assert_eq!(verdict, Ok(()), "{fault:?} should let {mode:?} in");
                } else {
                    assert!(verdict.is_err(), "{fault:?} lets {mode:?} in");
                }
            }
        }
    }

    /// The token's near misses: refused by a clean server, let in by a compare over the shorter.
    #[test]
    fn token_near_misses_pass_only_a_length_ignoring_compare() {
        use crate::exchange::{Headers, Request};
        use crate::generate::AuthMode;
        let creds = Credentials { tokens: vec!["MIItoken-of-the-run".into()], aksk: vec![] };
        let run = crate::send::Credentials { token: Some("MIItoken-of-the-run".into()), ..Default::default() };
        for mode in [AuthMode::TokenCutToOne, AuthMode::TokenCutToHalf, AuthMode::TokenExtended, AuthMode::EmptyToken] {
            let mut r = Request {
                method: "POST".into(),
                url: "http://127.0.0.1:9/v1/p/digital-assets/batch-action".into(),
                headers: Headers::default(),
                body: b"{}".to_vec(),
            };
            crate::send::authenticate(&mut r, mode, &run, Utc::now());
            let req = Incoming {
                method: "POST".into(),
                path: "/v1/p/digital-assets/batch-action".into(),
                query: None,
                headers: r.headers.0.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect(),
                body: r.body.clone(),
            };
            assert_eq!(creds.check(&req, Utc::now(), &Behaviour::default()), Err(Refusal::WrongToken), "{mode:?}");
            let loose = Behaviour { fault: Some(Fault::TokenPrefixCompare), variants: vec![] };
            let empty = mode == AuthMode::EmptyToken;
            assert_eq!(creds.check(&req, Utc::now(), &loose).is_ok(), !empty, "{mode:?}");
        }
    }
}

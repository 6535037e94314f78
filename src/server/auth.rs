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

/// How far `X-Sdk-Date` may be from the server's clock, either way (the service's 15 minutes).
pub(crate) const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

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
}

impl Credentials {
    pub(crate) fn check(&self, req: &Incoming, now: DateTime<Utc>, behaviour: &Behaviour) -> Result<(), Refusal> {
        let token = req.header("x-auth-token");
        let signed = req.header("authorization").is_some();
        if token.is_none() && !signed {
            return if behaviour.broken(Fault::AcceptMissingCredentials) { Ok(()) } else { Err(Refusal::Missing) };
        }
        if let Some(token) = token {
            if !self.tokens.iter().any(|t| t == token) && !behaviour.broken(Fault::AcceptWrongToken) {
                return Err(Refusal::WrongToken);
            }
        }
        if signed {
            self.verify_signature(req, now, behaviour)?;
        }
        Ok(())
    }

    fn verify_signature(&self, req: &Incoming, now: DateTime<Utc>, behaviour: &Behaviour) -> Result<(), Refusal> {
        let secret_for = |ak: &str| self.aksk.iter().find(|(a, _)| a == ak).map(|(_, sk)| sk.clone());
        let max_skew = if behaviour.broken(Fault::AcceptStaleDate) { Duration::from_secs(u64::MAX) } else { MAX_SKEW };
        let verdict = sign::verify(
            &req.method,
            &req.path,
            req.query.as_deref(),
            &req.headers,
            &req.body,
            &secret_for,
            now,
            max_skew,
        );
        match verdict {
            Ok(_) => Ok(()),
            Err(VerifyError::Mismatch) if behaviour.broken(Fault::AcceptBadSignature) => Ok(()),
            Err(e) => Err(Refusal::Signature(e)),
        }
    }
}

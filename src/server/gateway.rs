//! The API gateway in front of the service, as the platform has it (the manifest's `platform`):
//! authentication failures answered by the gateway (`gateway-auth`), the AK/SK lockout
//! (`lockout`), and a token that expires after a number of requests (`--token-ttl-requests`).
//!
//! The lockout keeps, per configured access key, its failed authentications in a row; more than
//! [`LOCK_AFTER`] lock the key for [`LOCKED_FOR`], and every request signed with it is refused
//! with [`LOCKED_MESSAGE`]. The server counts the lockouts and the longest run of failures any
//! key saw ([`AuthStats`]): what the harness's own tests read to prove it never locks a key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::auth::Refusal;
use crate::sign::VerifyError;

/// The gateway's code for a failed authentication.
pub(crate) const AUTH_CODE: &str = "APIGW.0301";
/// More failed authentications in a row than this lock an access key (the platform's five).
pub(crate) const LOCK_AFTER: u64 = 5;
/// How long a locked key stays locked (the platform's five minutes).
pub(crate) const LOCKED_FOR: Duration = Duration::from_secs(300);
/// The `<why>` of a refusal of a locked key, as the platform words it.
pub(crate) const LOCKED_MESSAGE: &str = "AK access failed to reach the limit,forbidden.";

/// What a server saw of AK/SK authentication over its life (with the `lockout` variant).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Times an access key was locked.
    pub lockouts: u64,
    /// The most failed authentications in a row any one access key had.
    pub max_failures_in_a_row: u64,
}

impl std::fmt::Display for AuthStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "access keys locked: {}; most failed AK/SK authentications in a row with one access key: {}",
            self.lockouts, self.max_failures_in_a_row
        )
    }
}

#[derive(Debug, Default)]
struct KeyState {
    failures_in_a_row: u64,
    locked_until: Option<Instant>,
}

/// The gateway's memory: keys' failures and locks, the token's uses.
#[derive(Debug, Default)]
pub(crate) struct Gateway {
    keys: Mutex<HashMap<String, KeyState>>,
    lockouts: AtomicU64,
    max_failures_in_a_row: AtomicU64,
    /// Requests a configured token let in so far, for `--token-ttl-requests`.
    token_uses: AtomicU64,
    token_ttl_requests: Option<u64>,
}

impl Gateway {
    pub(crate) fn new(token_ttl_requests: Option<u64>) -> Gateway {
        Gateway { token_ttl_requests, ..Default::default() }
    }

    /// Is this access key locked now?
    pub(crate) fn locked(&self, ak: &str) -> bool {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(ak).and_then(|k| k.locked_until).is_some_and(|until| Instant::now() < until)
    }

    /// One AK/SK authentication of a configured key, failed or not: a failure more than
    /// [`LOCK_AFTER`] in a row locks the key; a success resets the count.
    pub(crate) fn authenticated(&self, ak: &str, failed: bool) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let key = keys.entry(ak.to_string()).or_default();
        if !failed {
            key.failures_in_a_row = 0;
            return;
        }
        key.failures_in_a_row += 1;
        self.max_failures_in_a_row.fetch_max(key.failures_in_a_row, Ordering::Relaxed);
        if key.failures_in_a_row > LOCK_AFTER {
            key.locked_until = Some(Instant::now() + LOCKED_FOR);
            key.failures_in_a_row = 0;
            self.lockouts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request a configured token let in: has the token expired with it?
    pub(crate) fn token_expired(&self) -> bool {
        let Some(ttl) = self.token_ttl_requests else { return false };
        self.token_uses.fetch_add(1, Ordering::Relaxed) >= ttl
    }

    pub(crate) fn stats(&self) -> AuthStats {
        AuthStats {
            lockouts: self.lockouts.load(Ordering::Relaxed),
            max_failures_in_a_row: self.max_failures_in_a_row.load(Ordering::Relaxed),
        }
    }
}

/// The `<why>` the gateway gives for a refusal, as the platform's documentation words them
/// (`Incorrect IAM authentication information: <why>`). The access key is never echoed.
pub(crate) fn why(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Missing => "x-auth-token not found".into(),
        Refusal::WrongToken => "decrypt token fail".into(),
        Refusal::TokenExpired => {
            let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
            format!("token expires, expires_at: {at}")
        }
        Refusal::Locked => LOCKED_MESSAGE.into(),
        Refusal::Signature(VerifyError::UnknownKey) => "Get secretKey failed,ak:******,err:ak not exist".into(),
        Refusal::Signature(_) => "verify aksk signature fail".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_five_failures_in_a_row_lock_a_key_and_a_success_resets() {
        let g = Gateway::new(None);
        for _ in 0..5 {
            g.authenticated("AK", true);
        }
        g.authenticated("AK", false);
        assert!(!g.locked("AK"));
        for _ in 0..5 {
            g.authenticated("AK", true);
        }
        assert!(!g.locked("AK"), "five in a row do not lock");
        g.authenticated("AK", true);
        assert!(g.locked("AK") && !g.locked("OTHER"));
        assert_eq!(g.stats(), AuthStats { lockouts: 1, max_failures_in_a_row: 6 });
    }

    #[test]
    fn a_token_expires_after_its_requests() {
        let g = Gateway::new(Some(2));
        assert!(!g.token_expired() && !g.token_expired());
        assert!(g.token_expired());
        assert!(!Gateway::new(None).token_expired());
    }

    /// The harness's own limit, three in a row, stays below the platform's: the manifest says
    /// five, and so does this server.
    #[test]
    fn the_server_locks_as_the_manifest_says() {
        let c = crate::contract::Contract::bundled().unwrap();
        let lockout = c.gateway.as_ref().and_then(|g| g.lockout.clone()).expect("the manifest's lockout");
        assert_eq!(u64::from(lockout.consecutive_failures), LOCK_AFTER);
        assert_eq!(lockout.locked_seconds, LOCKED_FOR.as_secs());
        assert_eq!(lockout.message, LOCKED_MESSAGE);
    }
}

//! Never lock the user's access key. The platform locks an AK/SK pair for five minutes once it
//! fails authentication more than five times in a row, and with it the user's production traffic
//! on that key. The requests a run means to fail authentication with the run's own access key (a
//! tampered signature, a stale date, …) therefore go through this one guard, one at a time, and
//! after every [`FAILURES_BETWEEN_VALID`] of them a valid signed request resets the platform's
//! count. Valid requests of other trials only reset it sooner; a made-up access key
//! ([`AuthMode::ForeignAccessKey`]) has nothing to lock and does not count.
//!
//! Two failures between valid requests leave a margin under the brief's three (and the
//! platform's five): a failing request the transport retries after a 429 is one more attempt.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Mutex, MutexGuard};

use crate::generate::AuthMode;

/// Failed authentications with the run's access key sent before a valid request must follow.
pub const FAILURES_BETWEEN_VALID: u32 = 2;

/// The one governor of requests that fail authentication with the run's access key.
#[derive(Debug, Default)]
pub struct KeyGuard {
    /// Attempts with the run's key meant to fail since the last valid request the guard sent.
    failures: Mutex<u32>,
    /// Valid requests sent so far to reset the count (each gets a label of its own).
    resets: AtomicUsize,
}

impl KeyGuard {
    /// Does a request authenticated as `mode` fail authentication with the run's access key?
    pub fn fails_with_run_key(mode: AuthMode, has_aksk: bool) -> bool {
        has_aksk && mode.needs_aksk() && mode != AuthMode::ForeignAccessKey
    }

    /// Might a request the run means to be valid still fail authentication with the run's access
    /// key? One whose headers carry bytes outside ASCII (a negative case's `X-App-UserId` in Han,
    /// say) may: gateways differ in how they read such a header for the signature (as UTF-8, as
    /// Latin-1, or not at all), and several of them sent at once could lock the key before the
    /// first refusal stops the run. So it waits for the guard's turn and counts as a failure.
    pub fn risks_run_key(request: &crate::exchange::Request, mode: AuthMode, has_aksk: bool) -> bool {
        has_aksk && mode == AuthMode::Valid && request.headers.0.iter().any(|(_, v)| !v.is_ascii())
    }

    /// Waits for the guard's turn: the count of failures since the last valid request, to be
    /// reset by the holder once it has sent one.
    pub async fn turn(&self) -> MutexGuard<'_, u32> {
        self.failures.lock().await
    }

    /// The number of the next resetting request.
    pub fn next_reset(&self) -> usize {
        self.resets.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runs_own_key_counts() {
        assert!(KeyGuard::fails_with_run_key(AuthMode::TamperedSignature, true));
        assert!(KeyGuard::fails_with_run_key(AuthMode::StaleDate, true));
        assert!(!KeyGuard::fails_with_run_key(AuthMode::ForeignAccessKey, true));
        assert!(!KeyGuard::fails_with_run_key(AuthMode::Missing, true));
        assert!(!KeyGuard::fails_with_run_key(AuthMode::WrongToken, true));
        assert!(!KeyGuard::fails_with_run_key(AuthMode::TamperedSignature, false));
        // Near misses of the run's key are guarded too: a length-ignoring compare takes them for it.
        for mode in [AuthMode::AccessKeyCut, AuthMode::AccessKeyExtended, AuthMode::SignatureCutToOne] {
            assert!(KeyGuard::fails_with_run_key(mode, true), "{mode:?}");
        }
        assert!(KeyGuard::fails_with_run_key(AuthMode::BodyChangedAfterSigning, true));
        assert!(KeyGuard::fails_with_run_key(AuthMode::EmptyPayloadSignature, true));
    }

    #[test]
    fn a_valid_request_with_a_header_outside_ascii_risks_the_key() {
        let request = |value: &str| crate::exchange::Request {
            method: "POST".into(),
            url: "/v1/p/x".into(),
            headers: crate::exchange::Headers(vec![("X-App-UserId".into(), value.into())]),
            body: vec![],
        };
        assert!(KeyGuard::risks_run_key(&request("用户"), AuthMode::Valid, true));
        assert!(!KeyGuard::risks_run_key(&request("user"), AuthMode::Valid, true));
        assert!(!KeyGuard::risks_run_key(&request("用户"), AuthMode::Valid, false));
        assert!(!KeyGuard::risks_run_key(&request("用户"), AuthMode::ForeignAccessKey, true));
    }
}

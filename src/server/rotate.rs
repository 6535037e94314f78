//! Why the reference server remounts its one mock every [`ROTATE_EVERY`] requests: flat memory.
//!
//! wiremock 0.6's `MountedMock` keeps a clone of every request it matched (`mounted_mock.rs`,
//! `matched_requests.push`) whether request recording is on or off, so a server that answers from
//! one mounted mock grows by the size of every request it has seen (about 5.8 KB for a signed
//! batch) for as long as it runs. Scoped mocks do not free that: dropping a `MockGuard` only marks
//! its mock out of scope (`mock_set.rs`, `deactivate`); the mock stays in the set with everything
//! it matched. The one public call that drops mocks is [`MockServer::reset`]. So every
//! [`ROTATE_EVERY`] requests the server resets itself and mounts a fresh catch-all. Everything the
//! server knows (the store, the credentials, the request-id counter) lives in [`Shared`], outside
//! the mock, so the fresh mock answers exactly as the old one would have.
//!
//! `reset` and `register` take wiremock's lock on its mock set one after the other; a request
//! that took the lock between them would find no mock and get wiremock's empty 404. None can:
//! wiremock serves every connection on one current-thread runtime on its own thread, and a request
//! holds the lock only within one poll (`MockServerState::handle_request` never awaits). The
//! rotation is spawned from the responder onto that same runtime, so it runs on that thread as one
//! poll in which both calls find the lock free, and no request can run in between. That holds as
//! long as nothing outside the server thread takes the lock while it serves: after the first mount
//! in [`RefServer::start`](super::RefServer::start), nothing does. The unit test below sends
//! thousands of stateful requests across hundreds of rotations and fails on any wrong answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use super::respond::{Router, Shared};

/// Requests between two rotations: the most the mock holds, about 6 MB of signed batches. A
/// rotation frees them in one go on the server thread, about 0.1 ms every thousand requests.
pub(crate) const ROTATE_EVERY: u64 = 1000;

/// wiremock counts resets in a `u16` (`mock_set.rs`, `generation += 1`), which panics on overflow
/// in a build with overflow checks and wraps harmlessly in a release build. A debug build stops
/// rotating just short of that (and then grows again, after 65 million requests).
const DEBUG_MAX_ROTATIONS: u64 = u16::MAX as u64 - 1;

/// When to rotate, and the server to rotate.
pub(crate) struct Rotation {
    /// Weak, because the server's mock holds the responder that holds this.
    server: OnceLock<Weak<MockServer>>,
    every: u64,
    rotations: AtomicU64,
}

impl Rotation {
    pub(crate) fn new(every: u64) -> Rotation {
        Rotation { server: OnceLock::new(), every: every.max(1), rotations: 0.into() }
    }

    /// Rotations start once the server is known.
    pub(crate) fn attach(&self, server: &Arc<MockServer>) {
        let _ = self.server.set(Arc::downgrade(server));
    }

    /// Rotations done so far.
    #[cfg(test)]
    pub(crate) fn rotations(&self) -> u64 {
        self.rotations.load(Ordering::Relaxed)
    }
}

/// The catch-all mock every request is answered by.
pub(crate) fn catch_all(shared: Arc<Shared>) -> Mock {
    Mock::given(any()).respond_with(Router(shared))
}

/// Called by the responder with the number of the request it answers; every [`ROTATE_EVERY`]th
/// schedules a rotation. The responder runs on wiremock's server runtime (outside one, for
/// example in a test that calls the responder directly, nothing is scheduled).
pub(crate) fn count(shared: &Arc<Shared>, received: u64) {
    let rotation = &shared.rotation;
    if received % rotation.every != 0 {
        return;
    }
    if cfg!(debug_assertions) && rotation.rotations.load(Ordering::Relaxed) >= DEBUG_MAX_ROTATIONS {
        return;
    }
    let (Ok(runtime), Some(server)) = (tokio::runtime::Handle::try_current(), rotation.server.get().cloned()) else {
        return;
    };
    let shared = Arc::clone(shared);
    // Spawned, not run here: the responder runs inside wiremock's lock, which `reset` needs.
    runtime.spawn(async move {
        let Some(server) = server.upgrade() else { return };
        // No await may come between these two but their own (see the module comment).
        server.reset().await;
        server.register(catch_all(Arc::clone(&shared))).await;
        shared.rotation.rotations.fetch_add(1, Ordering::Relaxed);
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::super::{RefServer, ServerConfig};

    const TOKEN: &str = "rotation-token";

    async fn call(req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.header("X-Auth-Token", TOKEN).send().await.expect("the server answers");
        let status = resp.status().as_u16();
        assert!(resp.headers().get("x-request-id").is_some(), "an answer without X-Request-Id (status {status})");
        let body = resp.bytes().await.expect("a whole body");
        let body = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("status {status}: a body that is not JSON ({e}): {body:?}"));
        (status, body)
    }

    /// Each worker drives its own asset through DELETE and RESTORE and looks it up after each
    /// step, so a request answered by no mock (an empty 404) or a store lost in a rotation fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_stay_right_across_many_rotations() {
        const WORKERS: usize = 16;
        const ROUNDS: usize = 40;
        const EVERY: u64 = 3;
        let fixtures: Vec<String> = (0..WORKERS).map(|i| format!("rot-{i}")).collect();
        let config = ServerConfig { tokens: vec![TOKEN.into()], fixtures: fixtures.clone(), ..Default::default() };
        let server = RefServer::start_rotating(config, EVERY).await.expect("the server starts");
        let base = format!("{}/v1/p", server.uri());
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let mut workers = Vec::new();
        for id in fixtures {
            let (client, base) = (client.clone(), base.clone());
            workers.push(tokio::spawn(async move {
                let batch = format!("{base}/digital-assets/batch-action");
                let lookup = format!("{base}/digital-assets/{id}");
                for round in 0..ROUNDS {
                    for (action, state) in [("DELETE", "DELETING"), ("RESTORE", "ACTIVED")] {
                        let body = json!({ "action": action, "asset_ids": [id] });
                        let (status, answer) =
                            call(client.post(&batch).header("Content-Type", "application/json").body(body.to_string()))
                                .await;
                        assert_eq!(status, 200, "round {round}: {action} {id}: {answer}");
                        assert_eq!(answer["results"][0]["ret_status"], "SUCCESS", "round {round}: {answer}");
                        let (status, answer) = call(client.get(&lookup)).await;
                        assert_eq!((status, answer["asset_state"].as_str()), (200, Some(state)), "round {round}");
                    }
                }
            }));
        }
        for worker in workers {
            worker.await.expect("every answer was right");
        }
        let sent = (WORKERS * ROUNDS * 4) as u64;
        let rotations = server.shared.rotation.rotations();
        // Rotations still queued when the last answer went out have not been counted yet.
        assert!(rotations >= sent / EVERY / 2, "{rotations} rotations for {sent} requests");
        server.stop().await;
    }
}

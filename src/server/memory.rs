//! The reference server without a socket: its router called directly, behind the same seam the
//! engine sends through ([`crate::send::Exchanger`]). Shrinking, sequences and verdicts are
//! unit-tested against it, fast and with no port to bind.

use futures::future::BoxFuture;

use super::incoming::Incoming;
use super::respond::Router;
use super::ServerConfig;
use crate::error::SetupError;
use crate::exchange::{Exchange, Headers, Outcome, Request, Response};
use crate::send::Exchanger;

/// The reference server in memory. Delays (the `slow` and `hang-on-large-batch` faults) are
/// slept, so time-based checks see them as a network client would.
pub struct InMemory {
    router: Router,
}

impl InMemory {
    pub fn new(config: ServerConfig) -> Result<InMemory, SetupError> {
        Ok(InMemory { router: Router::new(config)? })
    }

    /// What the server saw of AK/SK authentication (see [`super::RefServer::auth_stats`]).
    pub fn auth_stats(&self) -> super::AuthStats {
        self.router.0.gateway.stats()
    }
}

impl Exchanger for InMemory {
    fn exchange<'a>(&'a self, prepare: &'a (dyn Fn() -> Request + Send + Sync)) -> BoxFuture<'a, Exchange> {
        Box::pin(async move {
            let request = prepare();
            let started = std::time::Instant::now();
            let answer = self.router.answer(&Incoming::from_request(&request));
            if let Some(delay) = answer.delay {
                tokio::time::sleep(delay).await;
            }
            let headers = Headers(answer.headers.into_iter().map(|(n, v)| (n.to_string(), v)).collect());
            let outcome =
                Outcome::Response(Response { status: answer.status, headers: Some(headers), body: answer.body });
            Exchange { request, outcome, elapsed_ms: Some(started.elapsed().as_millis() as u64) }
        })
    }
}

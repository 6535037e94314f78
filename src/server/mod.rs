//! The bundled reference server: a stateful, faithful implementation of the Batch Asset
//! Operations contract on wiremock, bound to 127.0.0.1.
//!
//! It keeps an asset store with the contract's lifecycle, authenticates by token and by AK/SK
//! signature, and rejects every bad request the way the contract says. `run` and `cargo test`
//! start it in-process ([`RefServer::start`]); `batchconf serve` runs it standalone. With a
//! planted fault ([`FAULTS`]) it breaks exactly one rule, so the harness can prove each check
//! trips; with a variant ([`VARIANTS`]) it makes another conformant choice where the contract is
//! silent, so the harness can prove no check invents a rule. The README documents it all.
//!
//! ```no_run
//! # async fn demo() -> Result<(), batchconf::error::SetupError> {
//! use batchconf::server::{RefServer, ServerConfig};
//! let config = ServerConfig { tokens: vec!["t".into()], fixtures: vec!["a1".into()], ..Default::default() };
//! let server = RefServer::start(config).await?;
//! println!("POST {}/v1/p/digital-assets/batch-action", server.uri());
//! server.stop().await;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use wiremock::MockServer;

use crate::error::SetupError;

mod auth;
mod catalogue;
mod gateway;
mod incoming;
mod memory;
mod request;
mod respond;
mod results;
mod rotate;
mod serve;
mod store;
mod throttle;

pub use catalogue::{Fault, FaultInfo, Needs, Variant, VariantInfo, FAULTS, PLATFORM_HUAWEICLOUD, VARIANTS};
pub use gateway::AuthStats;
pub use memory::InMemory;
pub use serve::{serve, ServeSettings, DEFAULT_TOKEN};
pub use throttle::RateLimit;

/// How to run the server. An empty configuration accepts no credentials at all: give it at least
/// one token or AK/SK pair.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Accepted `X-Auth-Token` values.
    pub tokens: Vec<String>,
    /// Accepted (access key, secret key) pairs for SDK-HMAC-SHA256 signatures.
    pub aksk: Vec<(String, String)>,
    /// Ids of the assets that exist at start, all `ACTIVED`.
    pub fixtures: Vec<String>,
    /// The planted fault, if any.
    pub fault: Option<Fault>,
    /// The conformant variants chosen.
    pub variants: Vec<Variant>,
    /// The gateway's limit under `rate-limit` (`None`: [`RateLimit::DEFAULT`]); given alone, it
    /// throttles all the same.
    pub rate_limit: Option<RateLimit>,
    /// Makes `X-Request-Id` a function of this seed and the request's `X-Batchconf-Case` label,
    /// so a run with the same seed shows the same answers; `None`: fresh random ids.
    pub request_id_seed: Option<u64>,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Log one line per request to stderr.
    pub log: bool,
    /// A token is refused as expired after it let in this many requests (the platform's tokens
    /// expire after 24 hours; this makes "credentials lost mid-run" rehearsable).
    pub token_ttl_requests: Option<u64>,
}

/// A running reference server. Dropping it stops it too; [`RefServer::stop`] says so.
pub struct RefServer {
    mock: Arc<MockServer>,
    shared: Arc<respond::Shared>,
}

impl RefServer {
    /// Starts the server. Credentials that would let anything in, or a port that cannot be
    /// bound, are a [`SetupError::Argument`] that says which and why.
    pub async fn start(config: ServerConfig) -> Result<RefServer, SetupError> {
        RefServer::start_rotating(config, rotate::ROTATE_EVERY).await
    }

    /// [`RefServer::start`], with its mock remounted every `every` requests (see `rotate.rs`).
    pub(crate) async fn start_rotating(config: ServerConfig, every: u64) -> Result<RefServer, SetupError> {
        let router = respond::Router::with_rotation(config.clone(), every)?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", config.port)).map_err(|e| {
            SetupError::Argument(format!("cannot listen on 127.0.0.1:{}: {e} (port 0 picks a free one)", config.port))
        })?;
        // Recording would keep every request for the server's lifetime; so would one mock that
        // is never remounted (`rotate.rs` says why).
        let mock = Arc::new(MockServer::builder().listener(listener).disable_request_recording().start().await);
        mock.register(rotate::catch_all(Arc::clone(&router.0))).await;
        router.0.rotation.attach(&mock);
        Ok(RefServer { mock, shared: router.0 })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn uri(&self) -> String {
        format!("http://{}", self.address())
    }

    pub fn address(&self) -> SocketAddr {
        *self.mock.address()
    }

    /// What the server saw of AK/SK authentication: lockouts, the longest run of failures.
    pub fn auth_stats(&self) -> AuthStats {
        self.shared.gateway.stats()
    }

    /// Stops accepting connections; requests in flight are dropped.
    pub async fn stop(self) {
        drop(self.mock);
    }
}

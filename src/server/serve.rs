//! `batchconf serve`: the reference server standalone, for clients and other tools.
//!
//! The first line on stdout is always `batchconf serve listening on http://127.0.0.1:PORT`, so a
//! script that asked for `--port 0` can read the port; everything else goes to stderr.

use std::io::Write;

use super::{Fault, RefServer, ServerConfig, Variant};
use crate::error::{Error, Verdict};

/// The token a local dev server accepts when it is given no credentials.
pub const DEFAULT_TOKEN: &str = "batchconf-token";

/// What `serve` was asked for.
#[derive(Debug, Clone, Default)]
pub struct ServeSettings {
    pub port: u16,
    pub tokens: Vec<String>,
    pub aksk: Option<(String, String)>,
    pub fixtures: Vec<String>,
    pub fault: Option<Fault>,
    pub variants: Vec<Variant>,
    /// Tokens expire after letting in this many requests (rehearses credentials lost mid-run).
    pub token_ttl_requests: Option<u64>,
    /// The gateway's limit (`--rate-limit`): implies the `rate-limit` variant.
    pub rate_limit: Option<super::RateLimit>,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn serve(settings: ServeSettings) -> Result<Verdict, Error> {
    let runtime = crate::runtime()?;
    runtime.block_on(run(settings))
}

async fn run(settings: ServeSettings) -> Result<Verdict, Error> {
    let mut config = ServerConfig {
        tokens: settings.tokens,
        aksk: settings.aksk.into_iter().collect(),
        fixtures: settings.fixtures.into_iter().map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect(),
        fault: settings.fault,
        variants: settings.variants,
        request_id_seed: None,
        rate_limit: settings.rate_limit,
        port: settings.port,
        log: true,
        token_ttl_requests: settings.token_ttl_requests,
    };
    if config.rate_limit.is_some() && !config.variants.contains(&Variant::RateLimit) {
        config.variants.push(Variant::RateLimit);
    }
    let default_token = config.tokens.is_empty() && config.aksk.is_empty();
    if default_token {
        config.tokens.push(DEFAULT_TOKEN.to_string());
    }
    let summary = describe(&config, default_token);
    let server = RefServer::start(config).await?;
    // The first Ctrl-C or SIGTERM stops the server cleanly (exit 0); a second ends it at once.
    let stop = crate::interrupt::Interrupt::default();
    stop.listen("stopping the server")?;
    println!("batchconf serve listening on {}", server.uri());
    // Scripts wait for this line through a pipe: it must not sit in a buffer.
    let _ = std::io::stdout().flush();
    eprintln!("{summary}");
    eprintln!("Ctrl-C stops the server.");
    stop.wait().await;
    // What the lockout rule saw, on one line a test (or a user) can read: a harness that never
    // locks a key leaves `access keys locked: 0`.
    let stats = server.auth_stats();
    server.stop().await;
    eprintln!("batchconf serve: stopped; {stats}");
    Ok(Verdict::Conforms)
}

/// What the server accepts and holds, without secrets (the default dev token is no secret).
fn describe(config: &ServerConfig, default_token: bool) -> String {
    let mut lines = Vec::new();
    if default_token {
        lines.push(format!("no --token or --ak given: accepting `X-Auth-Token: {DEFAULT_TOKEN}`"));
    } else {
        lines.push(format!("accepting {} token(s) and {} AK/SK pair(s)", config.tokens.len(), config.aksk.len()));
    }
    if config.fixtures.is_empty() {
        lines.push("no fixture assets (--fixtures): every id is \"not found\"".to_string());
    } else {
        lines.push(format!("fixture assets (ACTIVED): {}", config.fixtures.join(", ")));
    }
    if let Some(fault) = &config.fault {
        lines.push(format!("planted fault: {fault} (this server breaks the contract on purpose)"));
    }
    if let Some(n) = config.token_ttl_requests {
        lines.push(format!("tokens expire after letting in {n} request(s)"));
    }
    if !config.variants.is_empty() {
        let names: Vec<&str> = config.variants.iter().map(|v| v.name()).collect();
        lines.push(format!("variants: {}", names.join(", ")));
    }
    if config.variants.contains(&Variant::RateLimit) {
        let limit = config.rate_limit.unwrap_or(super::RateLimit::DEFAULT);
        lines.push(format!("gateway rate limit: {limit} (429 APIGW.0308 past it, no Retry-After)"));
    }
    lines.join("\n")
}

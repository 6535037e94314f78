//! `batchconf serve`: the reference server standalone, for clients and other tools.
//!
//! The first line on stdout is always `batchconf serve listening on http://127.0.0.1:PORT`, so a
//! script that asked for `--port 0` can read the port; everything else goes to stderr.

use std::io::Write;

use super::{RefServer, ServerConfig};
use crate::cli::ServeArgs;
use crate::error::exit;

/// The token a local dev server accepts when it is given no credentials.
pub const DEFAULT_TOKEN: &str = "batchconf-token";

pub fn command(args: ServeArgs) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::SETUP;
        }
    };
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> i32 {
    let mut config = ServerConfig {
        tokens: args.tokens,
        aksk: args.ak.zip(args.sk).into_iter().collect(),
        fixtures: args.fixtures.into_iter().map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect(),
        fault: args.fault,
        variants: args.variants,
        port: args.port,
        log: true,
    };
    let default_token = config.tokens.is_empty() && config.aksk.is_empty();
    if default_token {
        config.tokens.push(DEFAULT_TOKEN.to_string());
    }
    let summary = describe(&config, default_token);
    let server = match RefServer::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    println!("batchconf serve listening on {}", server.uri());
    // Scripts wait for this line through a pipe: it must not sit in a buffer.
    let _ = std::io::stdout().flush();
    eprintln!("{summary}");
    eprintln!("Ctrl-C stops the server.");
    stopped().await;
    server.stop().await;
    eprintln!("batchconf serve: stopped");
    exit::OK
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
    if !config.variants.is_empty() {
        lines.push(format!("variants: {}", config.variants.join(", ")));
    }
    lines.join("\n")
}

/// Ctrl-C, or SIGTERM where there is one (what service managers and `kill` send).
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

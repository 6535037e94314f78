//! The command line: clap's types ([`args`]), one module per command turning them into the
//! library's typed settings, and the one place a result becomes an exit code.

mod args;
mod run;

use batchconf::engine::replay::{replay, ReplayOptions};
use batchconf::error::{exit_code, Error, Verdict};
use batchconf::server::ServeSettings;
use clap::Parser;

use args::{Cli, Command};

/// Parses the command line and runs the command; returns the process exit code.
pub fn main() -> i32 {
    let result = match Cli::parse().command {
        Command::Run(args) => run::run(*args),
        Command::Serve(args) => batchconf::server::serve(ServeSettings {
            variants: args.platform_variants(),
            port: args.port,
            tokens: args.tokens,
            aksk: args.ak.zip(args.sk),
            fixtures: args.fixtures,
            fault: args.fault,
            token_ttl_requests: args.token_ttl_requests,
            rate_limit: args.rate_limit,
        }),
        Command::Validate(args) => batchconf::validate::validate(&args.files, args.schemas.as_deref()),
        Command::Replay(args) => replay(&ReplayOptions {
            report: args.report,
            target: args.target,
            access: args.auth.into(),
            schemas: args.schemas,
            timeout: std::time::Duration::from_millis(args.timeout_ms),
        }),
        Command::List(args) => batchconf::list::list(args.cases.as_deref(), args.schemas.as_deref()),
        Command::Init(args) => batchconf::init::command(&args.dir, args.force),
        Command::Openapi(args) => batchconf::openapi::command(args.schemas.as_deref(), args.format.into()),
    };
    report(&result);
    exit_code(&result)
}

/// The one line a command that stopped without a verdict ends with.
fn report(result: &Result<Verdict, Error>) {
    if let Err(e) = result {
        eprintln!("error: {e}");
    }
}

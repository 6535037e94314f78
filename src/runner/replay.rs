//! `batchconf replay`: re-sends the failing requests of a JSON report to any target and checks
//! them again — the same bug, checked against staging and production.

use std::time::Duration;

use chrono::Utc;

use crate::checks::{self, Context, RunState};
use crate::cli::ReplayArgs;
use crate::contract::{path_params, Contract};
use crate::error::{exit, SetupError};
use crate::report::json;
use crate::send::{self, Credentials, Target, Transport, TransportConfig};

pub fn command(args: ReplayArgs) -> i32 {
    match run(&args) {
        Ok(code) => code,
        Err(Failure::Setup(e)) => {
            eprintln!("error: {e}");
            exit::SETUP
        }
        Err(Failure::Unreachable(e)) => {
            eprintln!("error: {e}");
            exit::UNREACHABLE
        }
    }
}

enum Failure {
    Setup(SetupError),
    Unreachable(String),
}

impl From<SetupError> for Failure {
    fn from(e: SetupError) -> Self {
        Failure::Setup(e)
    }
}

fn run(args: &ReplayArgs) -> Result<i32, Failure> {
    let report = json::read(&args.report)?;
    let contract = match &args.schemas {
        Some(dir) => Contract::load(dir)?,
        None => Contract::bundled()?,
    };
    let url = match (&args.target, report.target.as_str()) {
        (Some(t), _) => t.clone(),
        (None, "bundled") => {
            return Err(SetupError::Argument(format!(
                "`{}` was made against the bundled server, which stopped with its run: give `--target` (for example a `batchconf serve --fault …`)",
                args.report.display()
            ))
            .into())
        }
        (None, t) => t.to_string(),
    };
    let project = args.auth.project_id.clone().unwrap_or_else(|| report.project_id.clone());
    let target = Target::parse(&url, &project)?;
    let creds = Credentials {
        token: args.auth.token.clone().filter(|t| !t.is_empty()),
        aksk: args.auth.ak.clone().zip(args.auth.sk.clone()),
        app_user_id: args.auth.app_user_id.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SetupError::Argument(format!("cannot start the async runtime: {e}")))?;
    let transport = Transport::new(TransportConfig {
        timeout: Duration::from_millis(args.timeout_ms),
        ..TransportConfig::default()
    })?;
    runtime
        .block_on(send::transport::reachable(&target.base, Duration::from_secs(5)))
        .map_err(|e| Failure::Unreachable(format!("target `{url}` unreachable: {e}")))?;
    if report.divergences.is_empty() {
        println!("{} holds no divergence: nothing to replay", args.report.display());
        return Ok(exit::OK);
    }
    let run_state = RunState::new(None).with_path_prefix(target.base.path());
    let secrets = creds.secrets();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let mut still = 0;
    for (i, entry) in report.divergences.iter().enumerate() {
        let mut request = json::Entry::strip_credentials(entry.exchange.clone()).request;
        request.url = retarget(&contract, &target, &request.url);
        let exchange = runtime.block_on(transport.send(|| {
            let mut r = request.clone();
            send::authenticate(&mut r, entry.auth, &creds, Utc::now());
            r
        }));
        let label = format!("replay #{}", i + 1);
        let ctx = Context::new(&contract, &exchange, &entry.expect, &run_state, &label);
        let violations = checks::run_all(&ctx, None);
        if violations.is_empty() {
            println!("conforms now: {} (was: {})", entry.trial, entry.checks.join(", "));
            continue;
        }
        still += 1;
        let reproduce = crate::report::curl::curl_line(&exchange.request);
        let text = crate::report::render::render(&crate::report::render::Failure {
            title: format!("{} (replayed)", entry.trial),
            violations: &violations,
            exchange: &exchange,
            seed: Some(entry.seed),
            reproduce: Some(reproduce),
        });
        println!("{}", crate::report::redact::redact_text(&text, &secrets));
    }
    println!(
        "{} replayed: {} still diverge, {} conform",
        report.divergences.len(),
        still,
        report.divergences.len() - still
    );
    Ok(if still > 0 { exit::DIVERGED } else { exit::OK })
}

/// The same path on another target: its base URL, and its project where the path names one.
fn retarget(contract: &Contract, target: &Target, url: &str) -> String {
    let parsed = url::Url::parse(url).ok();
    let path = parsed.as_ref().map(|u| u.path().to_string()).unwrap_or_else(|| url.to_string());
    let query = parsed.as_ref().and_then(|u| u.query()).map(|q| format!("?{q}")).unwrap_or_default();
    let templates =
        std::iter::once(contract.operation().path.as_str()).chain(contract.lookup.as_ref().map(|l| l.path.as_str()));
    for template in templates {
        if let Some(params) = path_params(template, &path) {
            let params: Vec<(&str, &str)> =
                params.iter().filter(|(k, _)| *k != "project_id").map(|(k, v)| (k.as_str(), v.as_str())).collect();
            return format!("{}{query}", target.url(template, &params));
        }
    }
    format!("{}{path}{query}", target.base.as_str().trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retargeting_keeps_the_path_and_swaps_the_project() {
        let c = Contract::bundled().unwrap();
        let t = Target::parse("https://prod.example/", "p2").unwrap();
        assert_eq!(
            retarget(&c, &t, "http://127.0.0.1:5/v1/p1/digital-assets/batch-action"),
            "https://prod.example/v1/p2/digital-assets/batch-action"
        );
        assert_eq!(
            retarget(&c, &t, "http://127.0.0.1:5/v1/p1/digital-assets/a%20b"),
            "https://prod.example/v1/p2/digital-assets/a%20b"
        );
        assert_eq!(retarget(&c, &t, "http://127.0.0.1:5/other?x=1"), "https://prod.example/other?x=1");
    }
}

//! `batchconf replay`: re-sends the failing requests of a JSON report to any target and checks
//! them again — the same bug, checked against staging and production.
//!
//! Each request goes out with the same kind of credentials it failed with (valid, missing,
//! wrong, altered…). A request meant to carry valid credentials that the target now refuses
//! exactly as it refuses a request with none was rejected for authentication: that says nothing
//! of the bug, so it is "cannot judge", never "conforms now".

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;

use super::verdict::{credentials_refused, Signature};
use crate::checks::{self, Context, RunState};
use crate::contract::{path_params, Contract};
use crate::error::{Error, SetupError, Verdict};
use crate::exchange::{Exchange, Request};
use crate::generate::AuthMode;
use crate::report::json;
use crate::send::{self, Credentials, Target, Transport, TransportConfig};

/// What `replay` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    pub report: PathBuf,
    pub target: Option<String>,
    pub access: super::Access,
    pub schemas: Option<PathBuf>,
    pub timeout: Duration,
}

/// How one replayed request came out.
enum Replayed {
    Conforms,
    Diverges(String),
    CannotJudge(String),
}

pub fn replay(o: &ReplayOptions) -> Result<Verdict, Error> {
    // Ctrl-C or SIGTERM: the request in flight is finished and judged, no other is sent.
    let interrupt = crate::interrupt::Interrupt::default();
    interrupt.listen("stopping after the request in flight")?;
    let report = json::read(&o.report)?;
    let contract = match &o.schemas {
        Some(dir) => Contract::load(dir)?,
        None => Contract::bundled()?,
    };
    let url = match (&o.target, report.target.as_str()) {
        (Some(t), _) => t.clone(),
        (None, "bundled") => {
            return Err(SetupError::Argument(format!(
                "`{}` was made against the bundled server, which stopped with its run: give `--target` (for example a `batchconf serve --fault …`)",
                o.report.display()
            ))
            .into())
        }
        (None, t) => t.to_string(),
    };
    let project = o.access.project_id.clone().unwrap_or_else(|| report.project_id.clone());
    let target = Target::parse(&url, &project)?;
    let creds = super::plan::credentials(&o.access)?;
    let runtime = crate::runtime()?;
    let transport = Transport::new(TransportConfig { timeout: o.timeout, ..TransportConfig::default() })?;
    runtime.block_on(send::transport::reachable(&target.base, Duration::from_secs(5))).map_err(|e| {
        let url = send::shown_url(&url);
        Error::Untestable(format!("`{url}` is unreachable: {e}; check the URL and the network"))
    })?;
    if report.divergences.is_empty() {
        println!("{} holds no divergence: nothing to replay", o.report.display());
        return Ok(Verdict::Conforms);
    }
    let run_state = RunState::new(None).with_path_prefix(target.base.path());
    let context = crate::report::render::Context { secrets: creds.secrets(), local: None };
    let (mut still, mut conform, mut unjudged) = (0, 0, Vec::new());
    // Never lock the user's key (see `keyguard.rs`): after every few requests meant to fail
    // authentication with the run's access key, a valid signed lookup of a made-up id.
    let mut key_failures = 0;
    for (i, entry) in report.divergences.iter().enumerate() {
        if interrupt.received().is_some() {
            break;
        }
        if super::KeyGuard::fails_with_run_key(entry.auth, creds.aksk.is_some()) {
            if key_failures >= super::FAILURES_BETWEEN_VALID {
                runtime.block_on(reset_key_failures(&transport, &contract, &target, &creds, i));
                key_failures = 0;
            }
            key_failures += 1;
        }
        let mut request = json::Entry::strip_credentials(entry.exchange.clone()).request;
        request.url = retarget(&contract, &target, &request.url);
        let outcome = match missing_credentials(entry.auth, &creds) {
            Some(why) => Replayed::CannotJudge(why),
            None => runtime.block_on(async {
                let exchange = send_as(&transport, &request, entry.auth, &creds).await;
                let refused_for_auth = match (entry.auth, Signature::of(&exchange)) {
                    (AuthMode::Valid, Some(with)) if !(200..300).contains(&with.status) => {
                        let without = send_as(&transport, &request, AuthMode::Missing, &creds).await;
                        Signature::of(&without).filter(|w| with.same_refusal(w)).map(|_| credentials_refused(&with))
                    }
                    _ => None,
                };
                if let Some(why) = refused_for_auth {
                    return Replayed::CannotJudge(why);
                }
                let label = format!("replay #{}", i + 1);
                let ctx = Context::new(&contract, &exchange, &entry.expect, &run_state, &label);
                let violations = checks::run_all(&ctx, None);
                if violations.is_empty() {
                    return Replayed::Conforms;
                }
                let text = crate::report::render::render(&crate::report::render::Failure {
                    title: format!("{} (replayed)", entry.trial),
                    violations: &violations,
                    exchange: &exchange,
                    seed: Some(entry.seed),
                    reproduce: Some(context.reproduce(&exchange.request, entry.auth)),
                    steps: &entry.steps,
                    shrink: None,
                });
                Replayed::Diverges(context.redact(&text))
            }),
        };
        match outcome {
            Replayed::Conforms => {
                conform += 1;
                println!("conforms now: {} (was: {})", entry.trial, entry.checks.join(", "));
            }
            Replayed::Diverges(text) => {
                still += 1;
                println!("{text}");
            }
            Replayed::CannotJudge(why) => {
                println!("cannot judge: {}: {why}", entry.trial);
                unjudged.push(why);
            }
        }
    }
    let replayed = still + conform + unjudged.len();
    println!("{replayed} replayed: {still} still diverge, {conform} conform now, {} cannot be judged", unjudged.len());
    if let Some(signal) = interrupt.received() {
        println!(
            "interrupted by {signal}: {} of {} not replayed",
            report.divergences.len() - replayed,
            report.divergences.len()
        );
        return Err(Error::Interrupted(signal));
    }
    match (still, unjudged.first()) {
        (0, Some(why)) => Err(Error::Untestable(format!(
            "{} of {} replayed requests could not be judged: {why}",
            unjudged.len(),
            report.divergences.len()
        ))),
        (0, None) => Ok(Verdict::Conforms),
        _ => Ok(Verdict::Diverges),
    }
}

/// What `auth` needs that the replay was not given, if anything.
fn missing_credentials(auth: AuthMode, creds: &Credentials) -> Option<String> {
    let missing = match auth {
        AuthMode::Valid if creds.is_empty() => "credentials",
        AuthMode::AlteredToken if creds.token.is_none() => "a token",
        mode if mode.needs_aksk() && creds.aksk.is_none() => "an AK/SK pair",
        _ => return None,
    };
    Some(format!(
        "it failed with {} and is re-sent the same way, which needs {missing}: give `--token` or `--ak`/`--sk`",
        auth.describe()
    ))
}

async fn send_as(transport: &Transport, request: &Request, auth: AuthMode, creds: &Credentials) -> Exchange {
    transport
        .send(|| {
            let mut r = request.clone();
            send::authenticate(&mut r, auth, creds, Utc::now());
            r
        })
        .await
}

/// A valid signed lookup of a made-up id (read-only), so the platform's count of the key's
/// failed authentications starts again.
async fn reset_key_failures(
    transport: &Transport,
    contract: &Contract,
    target: &Target,
    creds: &Credentials,
    n: usize,
) {
    let Some(lookup) = &contract.lookup else { return };
    let id = super::made_up_id(0, "batchconf-key-reset", n);
    let mut headers = crate::exchange::Headers::default();
    headers.insert(send::CASE_HEADER, format!("batchconf-key-reset#{n}"));
    let url = target.url(&lookup.path, &[("asset_id", &id)]);
    let request = Request { method: lookup.method.clone(), url, headers, body: vec![] };
    send_as(transport, &request, AuthMode::Valid, creds).await;
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

//! `batchconf replay`: re-sends the failing requests of a JSON report to any target and checks
//! them again — the same bug, checked against staging and production.
//!
//! Each request goes out with the same kind of credentials it failed with (valid, missing,
//! wrong, altered…). A sequence's failure depends on its earlier steps: its whole recorded
//! script is sent first, in order, then the request that showed it, and the fixtures the steps
//! named are put back afterwards as they were before the replay (the run's own put-back). What
//! cannot be replayed so (batches the run sent at once, a report without the steps' requests) is
//! said plainly: "cannot judge", exit 3 unless something still diverges. A request meant to carry valid credentials that the target now refuses
//! exactly as it refuses a request with none was rejected for authentication: that says nothing
//! of the bug, so it is "cannot judge", never "conforms now".

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::verdict::{credentials_refused, Signature};
use crate::checks::{self, Context, Expect, RunState};
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
    let contract = Arc::new(match &o.schemas {
        Some(dir) => Contract::load(dir)?,
        None => Contract::bundled()?,
    });
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
    let transport = Arc::new(Transport::new(TransportConfig { timeout: o.timeout, ..TransportConfig::default() })?);
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
    // Looks fixtures up and puts them back after a sequence is replayed, as a run does.
    let engine = super::Engine::new(
        contract.clone(),
        transport.clone(),
        target.clone(),
        creds.clone(),
        report.seed,
        super::Fixtures::default(),
    );
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
        let script: Vec<Request> = entry
            .script
            .iter()
            .map(|r| {
                let mut r = json::Entry::strip_request(r.clone());
                r.url = retarget(&contract, &target, &r.url);
                r
            })
            .collect();
        let needs = missing_credentials(entry.auth, &creds)
            .or_else(|| script.first().and_then(|_| missing_credentials(AuthMode::Valid, &creds)));
        let outcome = match needs {
            Some(why) => Replayed::CannotJudge(why),
            None if entry.at_once => Replayed::CannotJudge(format!(
                "its {} batches were sent at once, and one after another they cannot show what concurrency did; run `batchconf run {}` against the target again",
                script.len(),
                entry.trial
            )),
            None if script.is_empty() && !entry.steps.is_empty() => Replayed::CannotJudge(
                "the report keeps its earlier steps as text only, not their requests (it was written by an older batchconf), and the failure depends on them; run `batchconf run --report-json` again".into(),
            ),
            None => runtime.block_on(async {
                // The fixtures the steps name, as they are now: put back after the replay.
                let before = engine.snapshot(&named_ids(&contract, script.iter().chain([&request]))).await;
                let replayed = async {
                    for (k, step) in script.iter().enumerate() {
                        let x = send_as(&transport, step, AuthMode::Valid, &creds).await;
                        if x.response().is_none() {
                            return Replayed::CannotJudge(format!(
                                "step {} of {} of the recorded sequence got no answer ({}), so the failure cannot be judged",
                                k + 1,
                                script.len() + 1,
                                no_answer(&x)
                            ));
                        }
                    }
                    judge(&contract, &run_state, &context, &transport, &creds, entry, &request, i).await
                };
                let outcome = replayed.await;
                if !script.is_empty() {
                    println!("{}", engine.put_back(&before).await.sentence());
                }
                outcome
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

/// Sends the request that showed the divergence and judges it as the run did. A lookup that
/// shows a state the case does not allow is looked at again for about 1.5 s, as the run does
/// (a service may apply a batch just after answering it).
#[allow(clippy::too_many_arguments)]
async fn judge(
    contract: &Contract,
    run_state: &RunState,
    context: &crate::report::render::Context,
    transport: &Transport,
    creds: &Credentials,
    entry: &json::Entry,
    request: &Request,
    i: usize,
) -> Replayed {
    let label = format!("replay #{}", i + 1);
    let mut exchange = send_as(transport, request, entry.auth, creds).await;
    let refused_for_auth = match (entry.auth, Signature::of(&exchange)) {
        (AuthMode::Valid, Some(with)) if !(200..300).contains(&with.status) => {
            let without = send_as(transport, request, AuthMode::Missing, creds).await;
            Signature::of(&without).filter(|w| with.same_refusal(w)).map(|_| credentials_refused(&with))
        }
        _ => None,
    };
    if let Some(why) = refused_for_auth {
        return Replayed::CannotJudge(why);
    }
    let mut violations = checks::run_all(&Context::new(contract, &exchange, &entry.expect, run_state, &label), None);
    let is_lookup = contract.lookup.as_ref().is_some_and(|l| l.method == request.method);
    for pause in [100u64, 200, 400, 800] {
        if violations.is_empty() || !is_lookup || !matches!(entry.expect, Expect::State { .. }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
        exchange = send_as(transport, request, entry.auth, creds).await;
        violations = checks::run_all(&Context::new(contract, &exchange, &entry.expect, run_state, &label), None);
    }
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
}

/// Why a request got no answer.
fn no_answer(x: &Exchange) -> String {
    match &x.outcome {
        crate::exchange::Outcome::Transport { reason, .. } => reason.clone(),
        crate::exchange::Outcome::Response(r) => format!("status {}", r.status),
    }
}

/// Every asset a replay's requests name: the ids of its batches and the assets it looks up.
fn named_ids<'a>(contract: &Contract, requests: impl Iterator<Item = &'a Request>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in requests {
        let body: Option<serde_json::Value> = serde_json::from_slice(&r.body).ok();
        let ids = body.as_ref().and_then(|b| b.pointer(&contract.batch().request_ids)).and_then(|v| v.as_array());
        let mut named: Vec<String> = ids.into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
        if let Some(lookup) = &contract.lookup {
            let path = url::Url::parse(&r.url).map(|u| u.path().to_string()).unwrap_or_default();
            named.extend(path_params(&lookup.path, &path).and_then(|p| p.get("asset_id").cloned()));
        }
        for id in named {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

/// What `auth` needs that the replay was not given, if anything.
fn missing_credentials(auth: AuthMode, creds: &Credentials) -> Option<String> {
    let missing = match auth {
        AuthMode::Valid if creds.is_empty() => "credentials",
        mode if mode.needs_token() && creds.token.is_none() => "a token",
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

//! The engine against the reference server's router in memory, through the same seam the network
//! transport fills: shrinking, sequences and the run's own verdict, with no socket.

use std::sync::Arc;

use super::*;
use crate::contract::Contract;
use crate::events::TrialEnd;
use crate::server::{Fault, InMemory, ServerConfig};

const TOKEN: &str = "bcf-test-token-1234";

struct Bench {
    engine: Engine,
    units: Vec<Unit>,
}

/// An engine whose requests reach an in-memory reference server with `fault`, sent with `token`.
fn bench(fault: Option<Fault>, token: &str) -> Bench {
    let settings = Settings::bundled().unwrap();
    let (pool, per_sequence) = settings.fixture_plan();
    let fixtures = Fixtures::new(pool, per_sequence);
    let server = InMemory::new(ServerConfig {
        tokens: vec![TOKEN.into()],
        fixtures: fixtures.all(),
        fault,
        request_id_seed: Some(1),
        ..ServerConfig::default()
    })
    .unwrap();
    let target = Target::parse("http://127.0.0.1:9", "p").unwrap();
    let creds = Credentials { token: Some(token.into()), ..Credentials::default() };
    let mut engine = Engine::new(Arc::new(Contract::bundled().unwrap()), Arc::new(server), target, creds, 7, fixtures);
    engine.examples = 24;
    Bench { engine, units: settings.units() }
}

impl Bench {
    fn unit(&self, name: &str) -> &Unit {
        self.units.iter().find(|u| u.name == name).unwrap_or_else(|| panic!("no trial `{name}`"))
    }

    fn run(&self, name: &str) -> TrialEnd {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(self.engine.run_unit(self.unit(name)))
    }
}

fn divergences(end: TrialEnd) -> Vec<Divergence> {
    match end {
        TrialEnd::Diverged(found) => found,
        other => panic!("expected divergences, got {other:?}"),
    }
}

#[test]
fn shrinking_stays_on_the_failure_and_finds_the_smallest_batch() {
    let b = bench(Some(Fault::DropLastId), TOKEN);
    let found = divergences(b.run("property::ordinary-batches"));
    let d = &found[0];
    assert_eq!(d.violations[0].check, "batch_ids_answered", "{:?}", d.violations);
    let body = d.exchange.request.body.clone();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["asset_ids"].as_array().unwrap().len(), 2, "drop-last-id needs two distinct ids: {body}");
    let (tried, kept) = d.shrink.unwrap();
    assert!(tried >= kept && kept > 0, "{tried} tried, {kept} kept");
}

#[test]
fn the_same_seed_shrinks_to_the_same_request() {
    let a = divergences(bench(Some(Fault::DropLastId), TOKEN).run("property::edge-batches"));
    let b = divergences(bench(Some(Fault::DropLastId), TOKEN).run("property::edge-batches"));
    let bodies = |v: &[Divergence]| v.iter().map(|d| d.exchange.request.body.clone()).collect::<Vec<_>>();
    assert_eq!(bodies(&a), bodies(&b));
}

#[test]
fn a_sequence_stops_at_the_step_that_diverges_and_lists_the_steps_before() {
    let clean = bench(None, TOKEN);
    assert!(matches!(clean.run("sequence::restore-undoes-delete"), TrialEnd::Passed));
    let b = bench(Some(Fault::RestoreDoesNothing), TOKEN);
    let found = divergences(b.run("sequence::restore-undoes-delete"));
    let d = &found[0];
    assert_eq!(d.violations[0].check, "lifecycle", "{:?}", d.violations);
    assert!(d.steps.len() >= 2, "{:?}", d.steps);
    assert!(d.steps.iter().any(|s| s.contains(". DELETE ")), "{:?}", d.steps);
    assert!(d.steps.last().unwrap().contains(". RESTORE "), "{:?}", d.steps);
    assert!(d.exchange.request.method == "GET", "the failing step is a lookup: {}", d.exchange.request.url);
}

#[test]
fn credentials_the_target_refuses_stop_the_run_instead_of_passing_it() {
    let b = bench(None, "bcf-not-the-token");
    // A negative trial alone would pass: every invalid request is refused anyway.
    let end = b.run("negative::invalid-requests::enum@action");
    assert!(matches!(end, TrialEnd::Passed | TrialEnd::Stopped), "{end:?}");
    let end = b.run("property::ordinary-batches");
    assert!(matches!(end, TrialEnd::Stopped), "{end:?}");
    let why = b.engine.tally.stopped().unwrap();
    assert!(why.contains("as it answers requests with none") && why.contains("400 MSS.00000001"), "{why}");
}

#[test]
fn a_run_that_never_tried_its_credentials_probes_them_at_the_end() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let b = bench(None, "bcf-not-the-token");
    assert!(matches!(b.run("auth::bad-credentials::no-credentials"), TrialEnd::Passed));
    rt.block_on(b.engine.prove_tested());
    assert!(b.engine.tally.stopped().is_some(), "only refusals were expected, yet the credentials never worked");

    let good = bench(None, TOKEN);
    assert!(matches!(good.run("auth::bad-credentials::no-credentials"), TrialEnd::Passed));
    rt.block_on(good.engine.prove_tested());
    assert_eq!(good.engine.tally.stopped(), None);
}

#[test]
fn a_server_that_refuses_valid_batches_is_a_divergence_not_bad_credentials() {
    let b = bench(Some(Fault::RejectValidBatches), TOKEN);
    let found = divergences(b.run("property::ordinary-batches"));
    assert!(found.iter().any(|d| d.violations.iter().any(|v| v.check == "accepts_valid_request")));
    assert_eq!(b.engine.tally.stopped(), None);
}

/// The state a lookup through the engine shows.
fn state(b: &Bench, id: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let x = rt.block_on(b.engine.lookup(id, "test")).unwrap().unwrap();
    let body: serde_json::Value = serde_json::from_slice(&x.response().unwrap().body).unwrap();
    body["asset_state"].as_str().unwrap_or_default().to_string()
}

#[test]
fn random_sequences_pass_a_conformant_server_and_leave_every_fixture_actived() {
    let b = bench(None, TOKEN);
    for trial in ["stateful::random-batches", "stateful::concurrent-batches", "stateful::project-isolation"] {
        assert!(matches!(b.run(trial), TrialEnd::Passed), "{trial}");
    }
    for case in ["random-batches", "concurrent-batches", "project-isolation"] {
        for id in b.engine.fixtures.of_sequence(case).iter().filter(|id| !id.contains("reserved")) {
            assert_eq!(state(&b, id), "ACTIVED", "{id}");
        }
    }
}

#[test]
fn a_failing_random_sequence_is_shrunk_to_numbered_steps_with_a_curl_line_each() {
    let b = bench(Some(Fault::PhantomSuccessMixedBatch), TOKEN);
    let found = divergences(b.run("stateful::random-batches"));
    let d = &found[0];
    assert_eq!(d.violations[0].check, "lifecycle", "{:?}", d.violations);
    let batches: Vec<&String> =
        d.steps.iter().filter(|s| s.starts_with(|c: char| c.is_ascii_digit()) && !s.starts_with("0. ")).collect();
    // One batch mixing a fixture with a made-up id shows it; shrinking finds that.
    assert_eq!(batches.len(), 1, "{:#?}", d.steps);
    assert!(batches[0].starts_with("1. "), "{}", batches[0]);
    // The reproduction has a `curl` line for that batch, then one for the lookup that shows it.
    assert_eq!(d.script.len(), 1, "{:#?}", d.script);
    let script = crate::report::render::Context::default().reproduce_divergence(d);
    let curls: Vec<&str> = script.lines().filter(|l| l.starts_with("curl ")).collect();
    assert!(curls.len() == 2 && curls[0].contains("-X POST") && curls[1].contains("-X GET"), "{script}");
    assert!(!script.contains(TOKEN), "no secret in a reproduction: {script}");
    assert!(d.steps[0].starts_with("0. looked up: ") && d.steps[0].contains("ACTIVED"), "{}", d.steps[0]);
    assert!(d.shrink.is_some_and(|(tried, kept)| tried >= kept && kept > 0), "{:?}", d.shrink);
    // The fixtures are in use again afterwards.
    for id in b.engine.fixtures.of_sequence("random-batches").iter().filter(|id| !id.contains("reserved")) {
        assert_eq!(state(&b, id), "ACTIVED", "{id}");
    }
}

#[test]
fn another_projects_batch_that_acts_here_is_caught() {
    let b = bench(Some(Fault::StoreIgnoresProject), TOKEN);
    let found = divergences(b.run("stateful::project-isolation"));
    assert_eq!(found[0].violations[0].check, "project_isolation", "{:?}", found[0].violations);
    assert!(found[0].exchange.request.url.contains("/v1/bcf-"), "{}", found[0].exchange.request.url);
}

/// Every auth trial at once, each example of each in flight together, against the lockout rule:
/// the guard keeps the run's key under three failures in a row, and nothing is locked.
#[test]
fn concurrent_auth_trials_never_lock_the_key() {
    let settings = Settings::bundled().unwrap();
    let (pool, per_sequence) = settings.fixture_plan();
    let fixtures = Fixtures::new(pool, per_sequence);
    let aksk = ("BCFAKTEST0000000001".to_string(), "bcf-sk-test".to_string());
    let server = Arc::new(
        InMemory::new(ServerConfig {
            aksk: vec![aksk.clone()],
            fixtures: fixtures.all(),
            variants: vec![crate::server::Variant::Lockout],
            ..ServerConfig::default()
        })
        .unwrap(),
    );
    let target = Target::parse("http://127.0.0.1:9", "p").unwrap();
    let creds = Credentials { aksk: Some(aksk), ..Credentials::default() };
    let sender: Arc<dyn crate::send::Exchanger> = server.clone();
    let engine = Engine::new(Arc::new(Contract::bundled().unwrap()), sender, target, creds, 7, fixtures);
    let units = settings.units();
    let auth: Vec<&Unit> = units.iter().filter(|u| u.name.starts_with("auth::") && u.skip.is_none()).collect();
    assert!(auth.len() >= 8, "{}", auth.len());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let ends = rt.block_on(futures::future::join_all(auth.iter().map(|u| engine.run_unit(u))));
    assert!(ends.iter().all(|e| matches!(e, TrialEnd::Passed)), "{ends:?}");
    let stats = server.auth_stats();
    assert_eq!(stats.lockouts, 0);
    assert!(stats.max_failures_in_a_row <= 3, "{stats:?}");
    assert!(stats.max_failures_in_a_row >= 1, "the trials sent failing signatures: {stats:?}");
}

#[test]
fn shrinking_gives_a_lookup_the_lag_the_run_has_seen_not_the_whole_grace() {
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;
    // A target with no lag: the failure is found with the whole grace, then shrunk with lookups
    // given 20 ms each (a lookup that never lagged shows the divergence at once).
    let b = bench(Some(Fault::RestoreDoesNothing), TOKEN);
    let found = divergences(b.run("stateful::random-batches"));
    assert_eq!(found[0].violations[0].check, "lifecycle", "{:?}", found[0].violations);
    assert!(found[0].shrink.is_some_and(|(tried, kept)| tried > kept && kept > 0), "{:?}", found[0].shrink);
    assert_eq!(b.engine.lag_seen.load(Relaxed), 0, "the in-memory server never lags");
    assert_eq!(b.engine.settle_within(false), b.engine.settle);
    assert_eq!(b.engine.settle_within(true), Duration::from_millis(20));
    // A target seen 300 ms behind is given twice that while shrinking; never more than the grace.
    b.engine.lag_seen.store(300, Relaxed);
    assert_eq!(b.engine.settle_within(true), Duration::from_millis(620));
    b.engine.lag_seen.store(5_000, Relaxed);
    assert_eq!(b.engine.settle_within(true), b.engine.settle);
}

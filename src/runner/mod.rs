//! The runner: `batchconf run` and the `cargo test` gate. It plans the trials ([`plan`]), starts
//! the bundled server or checks the target can be reached, runs each trial with the [`engine`],
//! and reports every divergence as a libtest-mimic trial failure, then a summary per check.

pub mod engine;
pub mod plan;
mod progress;
mod replay;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libtest_mimic::{Arguments, Conclusion, Failed, Trial};

use crate::report::junit::{TrialOutcome, TrialRecord};

use crate::cli::{ReplayArgs, RunArgs};
use crate::error::{exit, SetupError};
use crate::send::{Credentials, Target, Transport};
use crate::server::{RefServer, ServerConfig};

pub use engine::{Divergence, Engine};
pub use plan::{Part, Settings, TargetSpec, Unit};

/// A planned run: its settings and trials, and (once the first trial starts) the engine and,
/// for a bundled run, the server.
pub struct Suite {
    pub settings: Settings,
    pub units: Vec<Unit>,
    runtime: tokio::runtime::Runtime,
    engine: OnceLock<Result<Arc<Engine>, String>>,
    server: Mutex<Option<RefServer>>,
    /// Every divergence found so far, in the order trials finished.
    pub divergences: Mutex<Vec<Divergence>>,
    /// How each trial that ran ended, for the JUnit report.
    records: Mutex<Vec<TrialRecord>>,
}

impl Suite {
    pub fn new(settings: Settings) -> Result<Suite, SetupError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| SetupError::Argument(format!("cannot start the async runtime: {e}")))?;
        let units = settings.units();
        Ok(Suite {
            settings,
            units,
            runtime,
            engine: OnceLock::new(),
            server: Mutex::new(None),
            divergences: Mutex::default(),
            records: Mutex::default(),
        })
    }

    /// The engine, made on first use: starts the bundled server, or checks the target answers.
    pub fn engine(&self) -> Result<Arc<Engine>, String> {
        self.engine.get_or_init(|| self.runtime.block_on(self.start()).map(Arc::new)).clone()
    }

    async fn start(&self) -> Result<Engine, String> {
        let s = &self.settings;
        let transport = Transport::new(s.transport.clone()).map_err(|e| e.to_string())?;
        let (pool, per_sequence) = s.fixture_plan();
        let (target, creds) = match &s.target {
            TargetSpec::Bundled { fault, variants } => {
                // Credentials of our own, made fresh per run; AK/SK so every request is signed.
                let creds = Credentials {
                    token: Some(format!("bcf-token-{:016x}", rand::random::<u64>())),
                    aksk: Some((
                        format!("BCFAK{:015X}", rand::random::<u64>() >> 4),
                        format!("bcf-sk-{:032x}", rand::random::<u128>()),
                    )),
                    app_user_id: s.creds.app_user_id.clone(),
                };
                let fixtures = pool.iter().chain(per_sequence.values().flatten()).cloned().collect();
                let config = ServerConfig {
                    tokens: creds.token.iter().cloned().collect(),
                    aksk: creds.aksk.iter().cloned().collect(),
                    fixtures,
                    fault: fault.clone(),
                    variants: variants.clone(),
                    port: 0,
                    log: false,
                };
                let server = RefServer::start(config).await.map_err(|e| e.to_string())?;
                let target = Target::parse(&server.uri(), &s.project_id).map_err(|e| e.to_string())?;
                *self.server.lock().unwrap_or_else(|e| e.into_inner()) = Some(server);
                (target, creds)
            }
            TargetSpec::Remote { url } => {
                let target = Target::parse(url, &s.project_id).map_err(|e| e.to_string())?;
                crate::send::transport::reachable(&target.base, Duration::from_secs(5))
                    .await
                    .map_err(|e| format!("target `{url}` unreachable: {e}"))?;
                (target, s.creds.clone())
            }
        };
        let mut engine = Engine::new(
            s.contract.clone(),
            transport,
            target,
            creds,
            s.seed,
            s.examples,
            s.max_response_ms,
            pool,
            per_sequence,
        );
        engine.shrink_budget = s.shrink_budget;
        Ok(engine)
    }

    /// Runs one trial to its end.
    pub fn run_unit(&self, unit: &Unit) -> Result<Vec<Divergence>, String> {
        let engine = self.engine()?;
        let found = self.runtime.block_on(engine.run_unit(unit))?;
        self.divergences.lock().unwrap_or_else(|e| e.into_inner()).extend(found.iter().cloned());
        Ok(found)
    }

    /// Runs every trial that is not skipped, all at once; for the self-tests.
    pub fn run_all(&self) -> Result<Vec<Divergence>, String> {
        let engine = self.engine()?;
        let units: Vec<&Unit> = self.units.iter().filter(|u| u.skip.is_none()).collect();
        let results = self.runtime.block_on(futures::future::join_all(units.iter().map(|u| engine.run_unit(u))));
        let mut all = Vec::new();
        for (unit, r) in units.iter().zip(results) {
            all.extend(r.map_err(|e| format!("{}: {e}", unit.name))?);
        }
        Ok(all)
    }

    /// The trials, for libtest-mimic. Making them does no I/O.
    pub fn trials(self: &Arc<Self>) -> Vec<Trial> {
        self.units
            .iter()
            .map(|unit| {
                let suite = self.clone();
                let u = unit.clone();
                let kind = unit.case.kind();
                Trial::test(unit.name.clone(), move || suite.trial(&u))
                    .with_kind(kind)
                    .with_ignored_flag(unit.skip.is_some())
            })
            .collect()
    }

    fn trial(&self, unit: &Unit) -> Result<(), Failed> {
        let started = std::time::Instant::now();
        let (outcome, result) = match self.run_unit(unit) {
            Err(e) => (TrialOutcome::Error(e.clone()), Err(Failed::from(format!("could not run: {e}")))),
            Ok(found) if found.is_empty() => (TrialOutcome::Passed, Ok(())),
            Ok(found) => {
                let text = found.iter().map(|d| self.render(d)).collect::<Vec<_>>().join("\n");
                let check = found[0].violations.first().map(|v| v.check.clone()).unwrap_or_default();
                (TrialOutcome::Diverged { check, text: text.clone() }, Err(Failed::from(text)))
            }
        };
        let record =
            TrialRecord { name: unit.name.clone(), kind: unit.case.kind().into(), outcome, time: started.elapsed() };
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(record);
        result
    }

    /// One divergence as people read it; secrets of the run are masked whatever they hide in.
    pub fn render(&self, d: &Divergence) -> String {
        let reproduce = crate::report::curl::curl_line(&d.exchange.request);
        let mut text = crate::report::render::render(&crate::report::render::Failure {
            title: d.trial.clone(),
            violations: &d.violations,
            exchange: &d.exchange,
            seed: Some(d.seed),
            reproduce: Some(reproduce),
        });
        if !d.steps.is_empty() {
            text = format!("Earlier steps:\n  {}\n{text}", d.steps.join("\n  "));
        }
        if let Some((tries, kept)) = d.shrink {
            text.push_str(&format!(
                "\n(shrinking sent {tries} smaller requests; {kept} of them still failed this way, and the smallest is shown)\n"
            ));
        }
        let secrets = self.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        crate::report::redact::redact_text(&text, &secrets)
    }

    pub fn secrets(&self) -> Vec<String> {
        let mut all = self.settings.creds.secrets();
        if let Some(Ok(engine)) = self.engine.get() {
            all.extend(engine.creds.secrets());
        }
        all
    }

    /// The closing summary: one line per check, the skipped trials and why, the seed.
    pub fn summary(&self, conclusion: &Conclusion) -> String {
        let divergences = self.divergences.lock().unwrap_or_else(|e| e.into_inner());
        let mut per_check: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in divergences.iter() {
            for v in &d.violations {
                let trials = per_check.entry(v.check.clone()).or_default();
                if !trials.contains(&d.trial) {
                    trials.push(d.trial.clone());
                }
            }
        }
        let mut out = String::from("\nbatchconf summary per check:\n");
        for check in crate::checks::CHECKS {
            match per_check.get(check.name) {
                None => out.push_str(&format!("  {:<28} ok\n", check.name)),
                Some(trials) => out.push_str(&format!(
                    "  {:<28} DIVERGES in {} trial(s): {}\n",
                    check.name,
                    trials.len(),
                    crate::checks::cut(&trials.join(", "), 200)
                )),
            }
        }
        let skipped: Vec<&Unit> = self.units.iter().filter(|u| u.skip.is_some()).collect();
        if !skipped.is_empty() {
            out.push_str("skipped:\n");
            for u in skipped {
                out.push_str(&format!("  {}: {}\n", u.name, u.skip.as_deref().unwrap_or_default()));
            }
        }
        if let Some(Ok(engine)) = self.engine.get() {
            let (sent, throttled) = engine.transport.counts();
            out.push_str(&format!("requests sent: {sent}"));
            if throttled > 0 {
                out.push_str(&format!(" ({throttled} answered 429 and retried: throttling, not a divergence)"));
            }
            out.push('\n');
            let unjudged = engine.unjudged.load(std::sync::atomic::Ordering::Relaxed);
            if unjudged > 0 {
                out.push_str(&format!(
                    "WARNING: {unjudged} answer(s) were still 429 after retries and were not judged: lower `--rate`\n"
                ));
            }
        }
        out.push_str(&format!(
            "seed: {} (the same requests again: `--seed {}`)\n",
            self.settings.seed, self.settings.seed
        ));
        out.push_str(&format!(
            "{} passed, {} failed, {} skipped\n",
            conclusion.num_passed, conclusion.num_failed, conclusion.num_ignored
        ));
        out
    }

    /// Writes `--junit` and `--report-json`, if asked for.
    pub fn write_reports(&self, conclusion: &Conclusion) -> Result<(), SetupError> {
        let secrets = self.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        if let Some(path) = &self.settings.junit {
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for u in self.units.iter().filter(|u| u.skip.is_some()) {
                let outcome = TrialOutcome::Skipped(u.skip.clone().unwrap_or_default());
                records.push(TrialRecord {
                    name: u.name.clone(),
                    kind: u.case.kind().into(),
                    outcome,
                    time: Duration::ZERO,
                });
            }
            records.sort_by(|a, b| a.name.cmp(&b.name));
            crate::report::junit::write(path, &records, &secrets)?;
        }
        if let Some(path) = &self.settings.report_json {
            use crate::report::json::{Entry, JsonReport, Skipped, FORMAT};
            let divergences = self.divergences.lock().unwrap_or_else(|e| e.into_inner());
            let report = JsonReport {
                format: FORMAT.into(),
                seed: self.settings.seed,
                target: match &self.settings.target {
                    TargetSpec::Bundled { .. } => "bundled".into(),
                    TargetSpec::Remote { url } => url.clone(),
                },
                project_id: self.settings.project_id.clone(),
                passed: conclusion.num_passed as usize,
                failed: conclusion.num_failed as usize,
                skipped: self
                    .units
                    .iter()
                    .filter_map(|u| u.skip.as_ref().map(|r| Skipped { trial: u.name.clone(), reason: r.clone() }))
                    .collect(),
                divergences: divergences
                    .iter()
                    .map(|d| {
                        let mut checks: Vec<String> = d.violations.iter().map(|v| v.check.clone()).collect();
                        checks.dedup();
                        Entry {
                            trial: d.trial.clone(),
                            checks,
                            violations: d.violations.clone(),
                            seed: d.seed,
                            auth: d.auth,
                            expect: d.expect.clone(),
                            exchange: Entry::strip_credentials(d.exchange.clone()),
                            steps: d.steps.clone(),
                            curl: crate::report::curl::curl_line(&d.exchange.request),
                        }
                    })
                    .collect(),
            };
            crate::report::json::write(path, &report, &secrets)?;
        }
        Ok(())
    }

    /// `--dry-run`: the requests each trial would send first, as `curl` lines; nothing is sent.
    pub fn dry_run(&self) -> Result<(), String> {
        let engine = self.dry_engine()?;
        let secrets = self.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let filter = self.settings.filter.as_deref().unwrap_or("");
        let mut total = 0;
        for unit in self.units.iter().filter(|u| u.name.contains(filter)) {
            if let Some(reason) = &unit.skip {
                println!("# {}: skipped: {reason}", unit.name);
                continue;
            }
            let requests = engine.draw(unit)?;
            println!("# {}: {} request(s) first, then shrinking steps if any diverge", unit.name, requests.len());
            for r in &requests {
                println!("{}", crate::report::redact::redact_text(&crate::report::curl::curl_line(r), &secrets));
            }
            total += requests.len();
        }
        println!("# dry run: {total} requests shown, none sent");
        Ok(())
    }

    /// An engine that only draws requests: no server is started and nothing is contacted.
    fn dry_engine(&self) -> Result<Engine, String> {
        let s = &self.settings;
        let (pool, per_sequence) = s.fixture_plan();
        let url = match &s.target {
            TargetSpec::Remote { url } => url.clone(),
            TargetSpec::Bundled { .. } => "http://127.0.0.1:8080".into(),
        };
        let target = Target::parse(&url, &s.project_id).map_err(|e| e.to_string())?;
        let transport = Transport::new(s.transport.clone()).map_err(|e| e.to_string())?;
        Ok(Engine::new(
            s.contract.clone(),
            transport,
            target,
            s.creds.clone(),
            s.seed,
            s.examples,
            s.max_response_ms,
            pool,
            per_sequence,
        ))
    }

    /// Stops the bundled server, if one runs.
    pub fn shutdown(&self) {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(server) = server {
            self.runtime.block_on(server.stop());
        }
    }
}

/// libtest-mimic arguments for a run from the command line.
fn arguments(settings: &Settings) -> Arguments {
    Arguments {
        filter: settings.filter.clone(),
        test_threads: Some(settings.transport.concurrency.clamp(1, 16)),
        ..Arguments::default()
    }
}

/// `batchconf run`.
pub fn command(args: RunArgs) -> i32 {
    let settings = match Settings::from_args(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    let suite = match Suite::new(settings) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    let where_to = match &suite.settings.target {
        TargetSpec::Bundled { fault: None, .. } => "the bundled reference server".to_string(),
        TargetSpec::Bundled { fault: Some(f), .. } => {
            format!("the bundled reference server with the fault `{f}` planted")
        }
        TargetSpec::Remote { url } => format!("`{url}`"),
    };
    println!("batchconf run: seed {} against {where_to}", suite.settings.seed);
    if suite.settings.dry_run {
        return match suite.dry_run() {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("error: {e}");
                exit::SETUP
            }
        };
    }
    // An unreachable target is one clear error (exit 3), not a failure per trial.
    if let Err(e) = suite.engine() {
        eprintln!("error: {e}");
        return if suite.settings.is_bundled() { exit::SETUP } else { exit::UNREACHABLE };
    }
    let watched = suite.clone();
    let progress = progress::Progress::start(move || {
        let sent = watched.engine.get().and_then(|e| e.as_ref().ok()).map(|e| e.transport.counts().0).unwrap_or(0);
        (sent, watched.divergences.lock().map(|d| d.len()).unwrap_or(0))
    });
    let conclusion = libtest_mimic::run(&arguments(&suite.settings), suite.trials());
    progress.finish();
    print!("{}", suite.summary(&conclusion));
    let written = suite.write_reports(&conclusion);
    suite.shutdown();
    if let Err(e) = written {
        eprintln!("error: {e}");
        return exit::SETUP;
    }
    if conclusion.has_failed() {
        exit::DIVERGED
    } else {
        exit::OK
    }
}

/// `batchconf replay`.
pub fn replay_command(args: ReplayArgs) -> i32 {
    replay::command(args)
}

/// The `cargo test` gate: the whole suite against the bundled server, or against
/// `BATCHCONF_TARGET` (with `BATCHCONF_TOKEN`, `HUAWEICLOUD_SDK_AK`/`_SK`/`_PROJECT_ID`,
/// `BATCHCONF_FIXTURE_ASSETS`, `BATCHCONF_ALLOW_DESTRUCTIVE`, `BATCHCONF_SEED`) when set.
pub fn test_main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut argv: Vec<String> = vec!["batchconf".into(), "run".into()];
    for (var, flag) in [
        ("BATCHCONF_FIXTURE_ASSETS", "--fixture-assets"),
        ("BATCHCONF_SEED", "--seed"),
        ("BATCHCONF_EXAMPLES", "--examples"),
        ("BATCHCONF_MAX_RESPONSE_MS", "--max-response-ms"),
        ("BATCHCONF_RATE", "--rate"),
    ] {
        if let Some(v) = env(var) {
            argv.push(flag.into());
            argv.push(v);
        }
    }
    if env("BATCHCONF_ALLOW_DESTRUCTIVE").is_some() {
        argv.push("--allow-destructive".into());
    }
    // `--target`, credentials and the project come from the environment through clap.
    let parsed = <crate::cli::Cli as clap::Parser>::try_parse_from(&argv);
    let settings = match parsed.map_err(|e| e.to_string()).and_then(|cli| match cli.command {
        crate::cli::Command::Run(run) => Settings::from_args(&run).map_err(|e| e.to_string()),
        _ => Err("internal: not a run".into()),
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("batchconf suite: {e}");
            return std::process::ExitCode::from(exit::SETUP as u8);
        }
    };
    let suite = match Suite::new(settings) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("batchconf suite: {e}");
            return std::process::ExitCode::from(exit::SETUP as u8);
        }
    };
    if !args.list {
        println!("batchconf suite: seed {}", suite.settings.seed);
    }
    let conclusion = libtest_mimic::run(&args, suite.trials());
    if !args.list {
        print!("{}", suite.summary(&conclusion));
    }
    suite.shutdown();
    conclusion.exit_code()
}

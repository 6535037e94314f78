//! A suite: the settings and trials of one run, the target it runs against (the bundled server,
//! started in-process, or a remote one, checked reachable), and the engine, made on first use so
//! that listing trials does no I/O. `batchconf run` and the `cargo test` gate both drive it.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::stream::{self, StreamExt};

use super::budget::Ending;
use super::plan::{Settings, TargetSpec, Unit};
use super::{Engine, Fixtures, PutBack, Snapshot};
use crate::error::{Error, SetupError, Verdict};
use crate::events::{Hub, RunEnd, TrialEnd};
use crate::report::render::{Context, LocalServer};
use crate::send::{Credentials, Target, Transport};
use crate::server::{RefServer, ServerConfig};

/// Why the engine could not be made: the user's to fix, or the target's fault.
#[derive(Debug, Clone)]
enum StartError {
    Setup(String),
    Untestable(String),
}

impl From<StartError> for Error {
    fn from(e: StartError) -> Error {
        match e {
            StartError::Setup(why) => Error::Setup(SetupError::Argument(why)),
            StartError::Untestable(why) => Error::Untestable(why),
        }
    }
}

pub struct Suite {
    pub settings: Settings,
    pub units: Vec<Unit>,
    runtime: tokio::runtime::Runtime,
    engine: OnceLock<Result<Arc<Engine>, StartError>>,
    server: Mutex<Option<RefServer>>,
    /// Every reporter of the run; the engine emits into it.
    pub hub: Arc<Hub>,
    /// Raised by Ctrl-C or SIGTERM (where the command listens): the run winds down and reports.
    pub interrupt: crate::interrupt::Interrupt,
    /// The fixtures as the run found them (looked up before the first trial), and what putting
    /// them back at its end did.
    before: Mutex<Option<Snapshot>>,
    put_back: Mutex<Option<PutBack>>,
}

impl Suite {
    pub fn new(settings: Settings) -> Result<Suite, SetupError> {
        let runtime = crate::runtime()?;
        let units = settings.units();
        Ok(Suite {
            settings,
            units,
            runtime,
            engine: OnceLock::new(),
            server: Mutex::new(None),
            hub: Arc::new(Hub::default()),
            interrupt: Default::default(),
            before: Mutex::new(None),
            put_back: Mutex::new(None),
        })
    }

    /// The trials a filter selects (substring of the name, as libtest's). None selected is the
    /// user's mistake: a run of nothing must not pass.
    pub fn selected(&self) -> Result<Vec<&Unit>, SetupError> {
        let filter = self.settings.filter.as_deref().unwrap_or("");
        let selected: Vec<&Unit> = self.units.iter().filter(|u| u.name.contains(filter)).collect();
        if selected.is_empty() {
            return Err(SetupError::Argument(format!(
                "no trial of the {} cases matches the filter `{filter}`; `batchconf list` shows them",
                self.settings.cases_origin
            )));
        }
        Ok(selected)
    }

    /// The engine, made on first use: starts the bundled server, or checks the target answers.
    pub fn engine(&self) -> Result<Arc<Engine>, Error> {
        let made = self.engine.get_or_init(|| self.runtime.block_on(self.start()).map(Arc::new));
        made.clone().map_err(Error::from)
    }

    async fn start(&self) -> Result<Engine, StartError> {
        let s = &self.settings;
        let setup = |e: SetupError| StartError::Setup(e.to_string());
        let transport = Transport::new(s.transport.clone()).map_err(setup)?;
        let (pool, per_sequence) = s.fixture_plan();
        let fixtures = Fixtures::new(pool, per_sequence);
        let (target, creds) = match &s.target {
            TargetSpec::Bundled { fault, variants } => {
                let creds = bundled_credentials(&s.creds);
                let config = ServerConfig {
                    tokens: creds.token.iter().cloned().collect(),
                    aksk: creds.aksk.iter().cloned().collect(),
                    fixtures: fixtures.all(),
                    fault: *fault,
                    variants: variants.clone(),
                    request_id_seed: Some(s.seed),
                    rate_limit: None,
                    port: 0,
                    log: false,
                    token_ttl_requests: None,
                };
                let server = RefServer::start(config).await.map_err(setup)?;
                let target = Target::parse(&server.uri(), &s.project_id).map_err(setup)?;
                *self.server.lock().unwrap_or_else(|e| e.into_inner()) = Some(server);
                (target, creds)
            }
            TargetSpec::Remote { url } => {
                let target = Target::parse(url, &s.project_id).map_err(setup)?;
                crate::send::transport::reachable(&target.base, Duration::from_secs(5)).await.map_err(|e| {
                    let url = crate::send::shown_url(url);
                    StartError::Untestable(format!("`{url}` is unreachable: {e}; check the URL and the network"))
                })?;
                (target, s.creds.clone())
            }
        };
        let mut engine = Engine::new(s.contract.clone(), Arc::new(transport), target, creds, s.seed, fixtures)
            .with_transport(s.transport.timeout, s.transport.concurrency);
        engine.examples = s.examples;
        engine.shrink_budget = s.shrink_budget;
        engine.settle = s.settle;
        engine.run.max_response_ms = s.max_response_ms;
        engine.events = self.hub.clone();
        engine.budget = super::Budget::start(s.limits).with_interrupt(self.interrupt.clone());
        // Before any trial changes them: what the end of the run puts the fixtures back to.
        let before = engine.snapshot(&s.kept_fixtures()).await;
        *self.before.lock().unwrap_or_else(|e| e.into_inner()) = Some(before);
        Ok(engine)
    }

    /// Runs the selected trials, `concurrency` at a time, then makes sure the run tested
    /// something, and ends every reporter. The verdict: divergences or none; or the target
    /// cannot be tested.
    pub fn run(&self, selected: &[&Unit]) -> Result<Verdict, Error> {
        let engine = self.engine()?;
        let ends: Vec<TrialEnd> = self.runtime.block_on(async {
            // A soak run keeps every trial going at once (the transport bounds what is in
            // flight); an ordinary one runs a few trials at a time.
            let trials_at_once = if engine.budget.soak() {
                selected.len().max(1)
            } else {
                self.settings.transport.concurrency.clamp(1, 16)
            };
            let ends = stream::iter(selected.iter())
                .map(|u| engine.run_unit(u))
                .buffer_unordered(trials_at_once)
                .collect()
                .await;
            engine.prove_tested().await;
            ends
        });
        self.put_back();
        // Past `--max-duration`, the work under way has finished: now the run stops, untestable.
        if let Some(Ending::OutOfTime(bound)) = engine.budget.ended() {
            engine.tally.stop(format!(
                "the run did not finish within `--max-duration {}`; raise it, or lower `--examples` (a slow target, or one that stopped answering)",
                humantime::format_duration(bound)
            ));
        }
        let written = self.hub.finish(&self.run_end());
        if let Some(Ending::Interrupted(signal)) = engine.budget.ended() {
            if let Err(e) = written {
                eprintln!("error: {e}");
            }
            return Err(Error::Interrupted(signal));
        }
        if let Some(why) = engine.tally.stopped() {
            if let Err(e) = written {
                eprintln!("error: {e}");
            }
            return Err(Error::Untestable(why.to_string()));
        }
        let diverged = ends.iter().any(|e| matches!(e, TrialEnd::Diverged(_) | TrialEnd::Failed(_)));
        match written {
            // Findings outrank a report that could not be written: both are said, exit 1 stays.
            Err(e) if diverged => {
                eprintln!("error: {e}");
                Ok(Verdict::Diverges)
            }
            Err(e) => Err(e.into()),
            Ok(()) if diverged => Ok(Verdict::Diverges),
            Ok(()) => Ok(Verdict::Conforms),
        }
    }

    /// Runs every trial of the plan and hands back the divergences, in plan order: for callers
    /// (and tests) that want the findings themselves rather than a report.
    pub fn run_all(&self) -> Result<Vec<super::Divergence>, Error> {
        let collector = crate::report::trials::Collector::default();
        self.hub.add(Box::new(collector.clone()));
        let all: Vec<&Unit> = self.units.iter().collect();
        self.run(&all)?;
        Ok(collector.divergences())
    }

    /// Runs one trial to its end (the `cargo test` gate's trials).
    pub fn run_unit(&self, unit: &Unit) -> Result<TrialEnd, Error> {
        let engine = self.engine()?;
        Ok(self.runtime.block_on(engine.run_unit(unit)))
    }

    /// Undoes whatever the run changed of its fixtures (once, after every trial has ended, however
    /// the run ended): the run's last requests.
    pub fn put_back(&self) {
        let Some(engine) = self.engine.get().and_then(|e| e.as_ref().ok()) else { return };
        let Some(before) = self.before.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
        let done = self.runtime.block_on(engine.put_back(&before));
        *self.put_back.lock().unwrap_or_else(|e| e.into_inner()) = Some(done);
    }

    /// The last word on whether the run tested anything (after every trial has run).
    pub fn prove_tested(&self) -> Option<String> {
        let engine = self.engine.get()?.as_ref().ok()?;
        self.runtime.block_on(engine.prove_tested());
        engine.tally.stopped().map(str::to_string)
    }

    /// How the run ended, for the reporters.
    pub fn run_end(&self) -> RunEnd {
        let engine = self.engine.get().and_then(|e| e.as_ref().ok());
        let (sent, throttled, judged) = engine.map(|e| e.tally.counts()).unwrap_or_default();
        RunEnd {
            seed: self.settings.seed,
            sent,
            throttled,
            judged,
            throttling: engine.map(|e| e.sender.pace()).unwrap_or_default(),
            stopped: engine.and_then(|e| e.tally.stopped().map(str::to_string)),
            ended_early: engine.and_then(|e| e.tally.verdict_early().map(str::to_string)),
            contract_notes: engine.map(|e| e.tally.notes()).unwrap_or_default(),
            interrupted: engine.and_then(|e| match e.budget.ended() {
                Some(Ending::Interrupted(signal)) => Some(signal.to_string()),
                _ => None,
            }),
            elapsed: engine.map(|e| e.tally.elapsed()).unwrap_or_default(),
            put_back: self.put_back.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(PutBack::sentence),
            context: self.context(),
        }
    }

    /// How divergences of this run are shown: its secrets masked, its bundled server named.
    pub fn context(&self) -> Context {
        let mut secrets = self.settings.creds.secrets();
        let engine = self.engine.get().and_then(|e| e.as_ref().ok());
        if let Some(engine) = engine {
            secrets.extend(engine.creds.secrets());
        }
        let local = match (&self.settings.target, engine) {
            (TargetSpec::Bundled { fault, variants }, Some(engine)) => {
                let mut flags = String::new();
                let ids = engine.fixtures.all();
                if !ids.is_empty() {
                    flags.push_str(&format!(" --fixtures {}", ids.join(",")));
                }
                if let Some(f) = fault {
                    flags.push_str(&format!(" --fault {f}"));
                }
                for v in variants {
                    flags.push_str(&format!(" --variant {v}"));
                }
                Some(LocalServer {
                    uri: engine.target.base.as_str().trim_end_matches('/').to_string(),
                    serve_flags: flags,
                })
            }
            _ => None,
        };
        Context { secrets, local }
    }

    /// `--dry-run`: the requests each selected trial would send first, as `curl` lines; nothing
    /// is sent and no server is started.
    pub fn dry_run(&self, selected: &[&Unit]) -> Result<(), SetupError> {
        let s = &self.settings;
        let (pool, per_sequence) = s.fixture_plan();
        let url = match &s.target {
            TargetSpec::Remote { url } => url.clone(),
            TargetSpec::Bundled { .. } => "http://127.0.0.1:8080".into(),
        };
        let target = Target::parse(&url, &s.project_id)?;
        let transport = Transport::new(s.transport.clone())?;
        let mut engine = Engine::new(
            s.contract.clone(),
            Arc::new(transport),
            target,
            s.creds.clone(),
            s.seed,
            Fixtures::new(pool, per_sequence),
        );
        engine.examples = s.examples;
        let context = Context { secrets: s.creds.secrets(), local: None };
        let mut total = 0;
        for unit in selected {
            if let Some(reason) = &unit.skip {
                println!("# {}: skipped: {reason}", unit.name);
                continue;
            }
            let requests = engine.draw(unit).map_err(|e| SetupError::Argument(format!("{}: {e}", unit.name)))?;
            println!("# {}: {} request(s) first, then shrinking steps if any diverge", unit.name, requests.len());
            for (r, auth) in &requests {
                println!("{}", context.redact(&context.reproduce(r, *auth)));
            }
            total += requests.len();
        }
        println!("# dry run: {total} requests shown, none sent");
        Ok(())
    }

    /// Stops the bundled server, if one runs.
    pub fn shutdown(&self) {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(server) = server {
            self.runtime.block_on(server.stop());
        }
    }
}

/// Credentials of our own for the bundled server, made fresh per run: a token and an AK/SK pair,
/// so every request is signed. The user's `--app-user-id` is kept.
fn bundled_credentials(user: &Credentials) -> Credentials {
    Credentials {
        token: Some(format!("bcf-token-{:016x}", rand::random::<u64>())),
        aksk: Some((
            format!("BCFAK{:015X}", rand::random::<u64>() >> 4),
            format!("bcf-sk-{:032x}", rand::random::<u128>()),
        )),
        app_user_id: user.app_user_id.clone(),
    }
}

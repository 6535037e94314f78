//! The engine: runs one trial (a case, or one rule of a negative case) against the target —
//! generate, send, judge, shrink — and returns its divergences. It knows nothing of libtest-mimic
//! or the terminal, so the self-tests drive it directly.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::join_all;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use serde_json::Value;

use crate::cases::{Case, CaseBody, Expectation, Step, FIXTURE, UNKNOWN};
use crate::checks::{self, Context, Expect, RunState, Violation};
use crate::contract::Contract;
use crate::exchange::{Exchange, Headers, Request};
use crate::generate::{self, AuthMode, GenRequest, Source, ID_PREFIX};
use crate::send::{self, Credentials, Target, Transport};

use super::plan::{Part, Unit};

/// One divergence, reported on the smallest request that still shows it.
#[derive(Debug, Clone)]
pub struct Divergence {
    pub trial: String,
    pub violations: Vec<Violation>,
    pub exchange: Exchange,
    pub seed: u64,
    /// For sequences: the earlier steps, one line each, so the failing step reads in context.
    pub steps: Vec<String>,
    /// How many smaller requests were tried while shrinking, and how many of them still failed.
    pub shrink: Option<(usize, usize)>,
    /// How the request authenticated, and what the case expected: what a replay needs to send
    /// and judge it the same way.
    pub auth: AuthMode,
    pub expect: Expect,
}

/// What the engine needs to run trials.
pub struct Engine {
    pub contract: Arc<Contract>,
    pub transport: Transport,
    pub target: Target,
    pub creds: Credentials,
    pub run: RunState,
    pub seed: u64,
    pub examples: u32,
    /// Time spent shrinking one divergence at most.
    pub shrink_budget: Duration,
    /// Fixture ids that properties and examples may use (only non-destructive actions).
    pub pool: Vec<String>,
    /// Fixture ids per sequence case name.
    pub sequence_fixtures: BTreeMap<String, Vec<String>>,
    locks: HashMap<String, Arc<tokio::sync::RwLock<()>>>,
    /// Answers left unjudged because they were still 429 after retries.
    pub unjudged: std::sync::atomic::AtomicU64,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        contract: Arc<Contract>,
        transport: Transport,
        target: Target,
        creds: Credentials,
        seed: u64,
        examples: u32,
        max_response_ms: Option<u64>,
        pool: Vec<String>,
        sequence_fixtures: BTreeMap<String, Vec<String>>,
    ) -> Engine {
        let locks = pool
            .iter()
            .chain(sequence_fixtures.values().flatten())
            .map(|id| (id.clone(), Arc::new(tokio::sync::RwLock::new(()))))
            .collect();
        let prefix = target.base.path().to_string();
        Engine {
            contract,
            transport,
            target,
            creds,
            run: RunState::new(max_response_ms).with_path_prefix(&prefix),
            seed,
            examples,
            shrink_budget: Duration::from_secs(30),
            pool,
            sequence_fixtures,
            locks,
            unjudged: 0.into(),
        }
    }

    /// What a generated trial draws from: the strategy, how many examples, the expectation.
    /// `None` for examples and sequences, whose requests are fixed.
    fn generator(&self, unit: &Unit) -> Result<Option<(BoxedStrategy<GenRequest>, u32, Expect)>, String> {
        let case = &unit.case;
        Ok(Some(match (&case.body, &unit.part) {
            (CaseBody::Property(p), _) => {
                let body = generate::body_strategy(&self.contract, p, &self.pool).map_err(|e| e.to_string())?;
                (body.prop_map(GenRequest::json).boxed(), self.examples, expectation(p.expect, &case.name))
            }
            (CaseBody::Negative(_), Part::Rule(rule)) => {
                let strategy = generate::negative_strategy(&self.contract, rule).map_err(|e| e.to_string())?;
                (strategy, self.examples.clamp(1, 24), Expect::Rejected { rule: rule.clone() })
            }
            (CaseBody::Auth(_), Part::Auth(variant)) => {
                let mode = AuthMode::from_variant(variant).ok_or_else(|| format!("no auth variant `{variant}`"))?;
                let strategy = generate::auth_strategy(&self.contract, mode).map_err(|e| e.to_string())?;
                (strategy, self.examples.clamp(1, 16), Expect::Unauthenticated { how: variant.replace('-', " ") })
            }
            _ => return Ok(None),
        }))
    }

    /// Runs one trial; every divergence it found, each on its minimal request.
    pub async fn run_unit(&self, unit: &Unit) -> Result<Vec<Divergence>, String> {
        let case = &unit.case;
        if let Some((strategy, n, expect)) = self.generator(unit)? {
            // Properties may act on pool fixtures; no sequence may change them meanwhile.
            let _shared = self.lock_shared(if case.uses_fixtures() { &self.pool } else { &[] }).await;
            return self.generated(unit, strategy, n, expect).await;
        }
        match &case.body {
            CaseBody::Example(e) => {
                let _shared = self.lock_shared(&self.pool).await;
                let gen = GenRequest::json(self.fill_placeholders(&unit.name, &e.request));
                let expect = expectation(e.expect, &case.name);
                let label = format!("{}#0", unit.name);
                let exchange = self.send_batch(&gen, &label).await;
                let violations = self.judge(case, &exchange, &expect, &label);
                Ok(self.divergence(unit, violations, exchange, &expect, vec![]).into_iter().collect())
            }
            CaseBody::Sequence(s) => {
                let fixtures = self.sequence_fixtures.get(&case.name).cloned().unwrap_or_default();
                if fixtures.len() < s.fixtures_needed() {
                    return Err(format!("needs {} fixture assets and has {}", s.fixtures_needed(), fixtures.len()));
                }
                let _exclusive = self.lock_exclusive(&fixtures).await;
                Ok(self.sequence(unit, &s.steps, &fixtures).await)
            }
            _ => Err(format!("`{}` has no part to run", unit.name)),
        }
    }

    /// The requests a trial sends first, built and signed but not sent (`--dry-run`). Shrinking
    /// and later sequence steps depend on answers, so they are not shown.
    pub fn draw(&self, unit: &Unit) -> Result<Vec<Request>, String> {
        let sign = |gen: &GenRequest, label: String| {
            let mut r = send::build(gen, &self.contract.operation().method, self.batch_url(), &label, &self.creds);
            send::authenticate(&mut r, gen.auth, &self.creds, Utc::now());
            r
        };
        if let Some((strategy, n, _)) = self.generator(unit)? {
            let mut source = Source::new(self.seed, &unit.name);
            return (0..n)
                .map(|i| source.tree(&strategy).map(|t| sign(&t.current(), format!("{}#{i}", unit.name))))
                .collect();
        }
        match &unit.case.body {
            CaseBody::Example(e) => Ok(vec![sign(
                &GenRequest::json(self.fill_placeholders(&unit.name, &e.request)),
                format!("{}#0", unit.name),
            )]),
            CaseBody::Sequence(s) => {
                let fixtures = self.sequence_fixtures.get(&unit.case.name).cloned().unwrap_or_default();
                Ok(s.steps
                    .iter()
                    .enumerate()
                    .filter_map(|(n, step)| match step {
                        Step::Act { action, ids, .. } => {
                            let ids: Vec<String> = ids
                                .iter()
                                .enumerate()
                                .map(|(j, id)| self.resolve(unit, &fixtures, id, n * 100 + j))
                                .collect();
                            let body = serde_json::json!({"action": action, "asset_ids": ids});
                            Some(sign(&GenRequest::json(body), format!("{} step {}", unit.name, n + 1)))
                        }
                        Step::Observe { .. } => None,
                    })
                    .collect())
            }
            _ => Ok(vec![]),
        }
    }

    /// `$f<N>` is the sequence's N-th fixture; anything else a made-up id.
    fn resolve(&self, unit: &Unit, fixtures: &[String], id: &str, n: usize) -> String {
        match id.strip_prefix("$f").and_then(|k| k.parse::<usize>().ok()).and_then(|k| fixtures.get(k)) {
            Some(f) => f.clone(),
            None => made_up_id(self.seed, &unit.name, n),
        }
    }

    fn divergence(
        &self,
        unit: &Unit,
        violations: Vec<Violation>,
        exchange: Exchange,
        expect: &Expect,
        steps: Vec<String>,
    ) -> Option<Divergence> {
        (!violations.is_empty()).then(|| Divergence {
            trial: unit.name.clone(),
            violations,
            exchange,
            seed: self.seed,
            steps,
            shrink: None,
            auth: AuthMode::Valid,
            expect: expect.clone(),
        })
    }

    /// Judges an exchange with every check the case asks for.
    pub fn judge(&self, case: &Case, exchange: &Exchange, expect: &Expect, label: &str) -> Vec<Violation> {
        // Still 429 after the transport's retries: the endpoint's quota, not its contract.
        if exchange.response().is_some_and(|r| r.status == 429) {
            self.unjudged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return vec![];
        }
        let ctx = Context::new(&self.contract, exchange, expect, &self.run, label);
        checks::run_all(&ctx, case.checks.as_deref())
    }

    /// The URL of the batch operation on the target.
    fn batch_url(&self) -> String {
        self.target.url(&self.contract.operation().path, &[])
    }

    /// Sends a generated request to the batch operation, authenticated as it says.
    pub async fn send_batch(&self, gen: &GenRequest, label: &str) -> Exchange {
        let base = send::build(gen, &self.contract.operation().method, self.batch_url(), label, &self.creds);
        self.send_prepared(base, gen.auth).await
    }

    async fn send_prepared(&self, base: Request, mode: AuthMode) -> Exchange {
        let creds = &self.creds;
        self.transport
            .send(|| {
                let mut r = base.clone();
                send::authenticate(&mut r, mode, creds, Utc::now());
                r
            })
            .await
    }

    /// Looks one asset up (to observe what a sequence did).
    async fn lookup(&self, id: &str, label: &str) -> Option<Exchange> {
        let lookup = self.contract.lookup.as_ref()?;
        let url = self.target.url(&lookup.path, &[("asset_id", id)]);
        let mut headers = Headers::default();
        headers.insert(send::CASE_HEADER, label);
        if let Some(user) = &self.creds.app_user_id {
            headers.insert("X-App-UserId", user.clone());
        }
        let base = Request { method: lookup.method.clone(), url, headers, body: vec![] };
        Some(self.send_prepared(base, AuthMode::Valid).await)
    }

    /// `$fixture` → a pool fixture (in turn), `$unknown` → a fresh made-up id.
    fn fill_placeholders(&self, trial: &str, v: &Value) -> Value {
        let mut counter = 0usize;
        fill(v, &mut |s: &str| {
            counter += 1;
            match s {
                FIXTURE if !self.pool.is_empty() => Some(self.pool[counter % self.pool.len()].clone()),
                FIXTURE | UNKNOWN => Some(made_up_id(self.seed, trial, counter)),
                _ => None,
            }
        })
    }

    /// Sends `n` generated requests at once, judges them, and shrinks each distinct failure.
    async fn generated(
        &self,
        unit: &Unit,
        strategy: BoxedStrategy<GenRequest>,
        n: u32,
        expect: Expect,
    ) -> Result<Vec<Divergence>, String> {
        let mut source = Source::new(self.seed, &unit.name);
        // Boundaries first: each keyword's edge values, then `n` random examples.
        let rule = match &unit.part {
            Part::Rule(r) => Some(r.as_str()),
            _ => None,
        };
        let mut trees = generate::boundary_trees(&self.contract, &unit.case, rule, &self.pool)
            .map_err(|e| format!("the boundary pass failed: {e}"))?;
        let boundaries = trees.len();
        for _ in 0..n {
            trees.push(source.tree(&strategy).map_err(|e| format!("the generator failed: {e}"))?);
        }
        let requests: Vec<GenRequest> = trees.iter().map(|t| t.current()).collect();
        let expect = &expect;
        let exchanges = join_all(requests.iter().enumerate().map(|(i, g)| {
            let label = format!("{}#{i}", unit.name);
            async move {
                let x = self.send_batch(g, &label).await;
                let v = self.judge(&unit.case, &x, expect, &label);
                (x, v)
            }
        }))
        .await;
        // The first example of each kind of failure is shrunk; the others add nothing.
        let mut first_of: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (i, (_, violations)) in exchanges.iter().enumerate() {
            for v in violations {
                // A random example shrinks and a boundary one does not: prefer the former.
                let at = first_of.entry(v.key()).or_insert(i);
                if *at < boundaries && i >= boundaries {
                    *at = i;
                }
            }
        }
        let mut out: Vec<Divergence> = Vec::new();
        for (key, i) in first_of {
            // A failure already shown by a reported request needs no report of its own.
            if out.iter().any(|d| d.violations.iter().any(|v| v.key() == key)) {
                continue;
            }
            let (exchange, violations) = exchanges[i].clone();
            let tree = &mut trees[i];
            let (exchange, violations, stats) =
                self.shrink(unit, tree.as_mut(), expect, &key, exchange, violations).await;
            out.push(Divergence {
                trial: unit.name.clone(),
                violations,
                exchange,
                seed: self.seed,
                steps: vec![],
                shrink: Some(stats),
                auth: requests[i].auth,
                expect: expect.clone(),
            });
        }
        Ok(out)
    }

    /// proptest's shrinking loop, run by hand so each step can send a request: simplify while the
    /// same failure (same check, same place) shows; step back when it does not.
    async fn shrink(
        &self,
        unit: &Unit,
        tree: &mut dyn ValueTree<Value = GenRequest>,
        expect: &Expect,
        key: &(String, String),
        mut best: Exchange,
        mut best_violations: Vec<Violation>,
    ) -> (Exchange, Vec<Violation>, (usize, usize)) {
        let started = Instant::now();
        let (mut tries, mut kept) = (0usize, 0usize);
        if !tree.simplify() {
            return (best, best_violations, (0, 0));
        }
        while started.elapsed() < self.shrink_budget && tries < 500 {
            tries += 1;
            let label = format!("{}~{tries}", unit.name);
            let candidate = tree.current();
            let x = self.send_batch(&candidate, &label).await;
            let v = self.judge(&unit.case, &x, expect, &label);
            if v.iter().any(|v| &v.key() == key) {
                kept += 1;
                best = x;
                best_violations = v;
                if !tree.simplify() {
                    break;
                }
            } else if !tree.complicate() {
                break;
            }
        }
        // Report the failure shrinking stayed on first, then whatever else the request shows.
        best_violations.sort_by_key(|v| &v.key() != key);
        (best, best_violations, (tries, kept))
    }

    async fn sequence(&self, unit: &Unit, steps: &[Step], fixtures: &[String]) -> Vec<Divergence> {
        let resolve = |id: &str, n: usize| self.resolve(unit, fixtures, id, n);
        let mut done: Vec<String> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            let label = format!("{} step {}", unit.name, n + 1);
            let (exchange, expect, line) = match step {
                Step::Act { action, ids, expect } => {
                    let ids: Vec<String> = ids.iter().enumerate().map(|(j, id)| resolve(id, n * 100 + j)).collect();
                    let body = serde_json::json!({"action": action, "asset_ids": ids});
                    let fixture_ids: Vec<String> = ids.iter().filter(|i| fixtures.contains(i)).cloned().collect();
                    let expect = match expect {
                        Some(status) => Expect::Outcome {
                            ids: fixture_ids,
                            status: status.clone(),
                            why: format!("`{action}` on an asset in a state that allows it succeeds"),
                        },
                        None => Expect::Nothing,
                    };
                    let x = self.send_batch(&GenRequest::json(body.clone()), &label).await;
                    let status = x.response().map(|r| r.status.to_string()).unwrap_or_else(|| "no answer".into());
                    (x, expect, format!("{}. {action} {} -> {status}", n + 1, crate::checks::id_list(&ids)))
                }
                Step::Observe { id, states, why } => {
                    let id = resolve(id, n);
                    let Some(x) = self.lookup(&id, &label).await else {
                        done.push(format!("{}. (no lookup in the contract: cannot observe {id:?})", n + 1));
                        continue;
                    };
                    let state = x
                        .response()
                        .and_then(|r| r.json())
                        .and_then(|b| {
                            b.pointer(&self.contract.lookup.as_ref().map(|l| l.state.clone()).unwrap_or_default())
                                .cloned()
                        })
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| {
                            x.response().map(|r| format!("status {}", r.status)).unwrap_or("no answer".into())
                        });
                    let expect = Expect::State { id: id.clone(), allowed: states.clone(), why: why.clone() };
                    (x, expect, format!("{}. look up {id:?} -> {state}", n + 1))
                }
            };
            let violations = self.judge(&unit.case, &exchange, &expect, &label);
            if !violations.is_empty() {
                // Later steps build on this one: stop here, the rest would only echo it.
                return self.divergence(unit, violations, exchange, &expect, done).into_iter().collect();
            }
            done.push(line);
        }
        vec![]
    }

    /// The locks of these fixtures, in one global order so that no two trials deadlock.
    fn locks_of(&self, ids: &[String]) -> Vec<Arc<tokio::sync::RwLock<()>>> {
        let mut sorted: Vec<&String> = ids.iter().collect();
        sorted.sort();
        sorted.dedup();
        sorted.into_iter().filter_map(|id| self.locks.get(id).cloned()).collect()
    }

    async fn lock_shared(&self, ids: &[String]) -> Vec<tokio::sync::OwnedRwLockReadGuard<()>> {
        let mut guards = Vec::new();
        for lock in self.locks_of(ids) {
            guards.push(lock.read_owned().await);
        }
        guards
    }

    async fn lock_exclusive(&self, ids: &[String]) -> Vec<tokio::sync::OwnedRwLockWriteGuard<()>> {
        let mut guards = Vec::new();
        for lock in self.locks_of(ids) {
            guards.push(lock.write_owned().await);
        }
        guards
    }
}

fn expectation(e: Expectation, case: &str) -> Expect {
    match e {
        Expectation::Accepted => Expect::Accepted,
        Expectation::Rejected => Expect::Rejected { rule: case.to_string() },
        Expectation::Conformant => Expect::Nothing,
    }
}

/// A made-up asset id, the same for the same seed, trial and position.
pub fn made_up_id(seed: u64, trial: &str, n: usize) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::new().chain_update(seed.to_le_bytes()).chain_update(trial).chain_update(n.to_le_bytes()).finalize();
    format!("{ID_PREFIX}{}", &hex::encode(d)[..12])
}

fn fill(v: &Value, f: &mut dyn FnMut(&str) -> Option<String>) -> Value {
    match v {
        Value::String(s) => f(s).map(Value::String).unwrap_or_else(|| v.clone()),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, f)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), fill(x, f))).collect()),
        other => other.clone(),
    }
}

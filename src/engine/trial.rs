//! One trial, from start to end: pick what it sends (a generator, an example, a sequence), send
//! through the seam, count and judge every exchange, and tell the reporters.

use std::time::{Duration, Instant};

use chrono::Utc;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use serde_json::Value;

use super::{Divergence, Engine, Part, Stopped, Unit};
use crate::cases::{CaseBody, Expectation, Step, FIXTURE, UNKNOWN};
use crate::checks::{self, Context, Expect, Violation};
use crate::events::{Event, TrialEnd};
use crate::exchange::{Exchange, Headers, Outcome, Request};
use crate::generate::{self, AuthMode, GenRequest, Source, ID_PREFIX};
use crate::send;

/// What a lookup is given beyond twice the longest lag seen, while shrinking.
const SHRINK_SETTLE_MARGIN: Duration = Duration::from_millis(20);

/// Why a trial ended without a list of divergences.
pub(super) enum Interrupted {
    Stopped,
    Failed(String),
}

impl From<Stopped> for Interrupted {
    fn from(_: Stopped) -> Self {
        Interrupted::Stopped
    }
}

/// What a generated trial draws from: the strategy, how many examples, the expectation.
pub(super) struct Generator {
    pub strategy: BoxedStrategy<GenRequest>,
    pub examples: u32,
    pub expect: Expect,
}

impl Engine {
    /// Runs one trial to its end and tells the reporters how it went; skipped trials end at once.
    pub async fn run_unit(&self, unit: &Unit) -> TrialEnd {
        let started = Instant::now();
        self.events.emit(Event::TrialStarted { unit });
        let end = match &unit.skip {
            Some(reason) => TrialEnd::Skipped(reason.clone()),
            None if self.winding_down() => TrialEnd::Stopped,
            None => match self.divergences(unit).await {
                // Cut short by the run's end with nothing found: it did not pass, it did not run out.
                Ok(found) if found.is_empty() && self.winding_down() => TrialEnd::Stopped,
                Ok(found) if found.is_empty() => TrialEnd::Passed,
                Ok(found) => {
                    for divergence in &found {
                        self.events.emit(Event::Divergence { unit, divergence });
                    }
                    TrialEnd::Diverged(found)
                }
                Err(Interrupted::Stopped) => TrialEnd::Stopped,
                Err(Interrupted::Failed(why)) => TrialEnd::Failed(why),
            },
        };
        self.events.emit(Event::TrialFinished { unit, end: &end, elapsed: started.elapsed() });
        end
    }

    /// Every divergence of one trial, each on its minimal request.
    async fn divergences(&self, unit: &Unit) -> Result<Vec<Divergence>, Interrupted> {
        let case = &unit.case;
        if let Some(generator) = self.generator(unit).map_err(Interrupted::Failed)? {
            // Properties may act on pool fixtures; no sequence may change them meanwhile.
            let pool = if case.uses_fixtures() { self.fixtures.pool.clone() } else { vec![] };
            let _shared = self.fixtures.shared(&pool).await;
            return self.generated(unit, generator).await;
        }
        match &case.body {
            CaseBody::Example(e) => {
                let _shared = self.fixtures.shared(&self.fixtures.pool).await;
                let gen = GenRequest::json(self.fill_placeholders(&unit.name, &e.request));
                let expect = expectation(e.expect, &case.name);
                let label = format!("{}#0", unit.name);
                let (exchange, violations) = self.send_and_judge(unit, &gen, &expect, &label).await?;
                Ok(self.divergence(unit, violations, exchange, &expect, vec![], vec![]).into_iter().collect())
            }
            CaseBody::Sequence(s) => {
                let fixtures = self.own_fixtures(&case.name, s.fixtures_needed())?;
                let _exclusive = self.fixtures.exclusive(&fixtures).await;
                // A soak run plays a sequence that leaves its fixtures live again and again, until
                // it diverges or the budget is spent; one that destroys them plays once.
                let again = self.budget.soak() && !case.destructive();
                loop {
                    let found = self.sequence(unit, &s.steps, &fixtures).await?;
                    if !found.is_empty() || !again || self.soak_spent() || self.winding_down() {
                        return Ok(found);
                    }
                }
            }
            CaseBody::Stateful(s) => {
                let fixtures = self.own_fixtures(&case.name, s.fixtures_needed())?;
                // Sole use: the model compares every fixture after every step.
                let _exclusive = self.fixtures.exclusive(&fixtures).await;
                self.stateful(unit, s, &fixtures).await
            }
            _ => Err(Interrupted::Failed(format!("`{}` has no part to run", unit.name))),
        }
    }

    /// The fixtures a case has to itself, when there are as many as it needs.
    fn own_fixtures(&self, case: &str, needed: usize) -> Result<Vec<String>, Interrupted> {
        let fixtures = self.fixtures.of_sequence(case).to_vec();
        if fixtures.len() < needed {
            return Err(Interrupted::Failed(format!("needs {needed} fixture assets and has {}", fixtures.len())));
        }
        Ok(fixtures)
    }

    /// The generator of a generated trial; `None` for examples and sequences, whose requests
    /// are fixed.
    pub(super) fn generator(&self, unit: &Unit) -> Result<Option<Generator>, String> {
        let case = &unit.case;
        Ok(Some(match (&case.body, &unit.part) {
            (CaseBody::Property(p), _) => {
                let body =
                    generate::body_strategy(&self.contract, p, &self.fixtures.pool).map_err(|e| e.to_string())?;
                Generator {
                    strategy: body.prop_map(GenRequest::json).boxed(),
                    examples: self.examples,
                    expect: expectation(p.expect, &case.name),
                }
            }
            (CaseBody::Negative(_), Part::Rule(rule)) => Generator {
                strategy: generate::negative_strategy(&self.contract, rule).map_err(|e| e.to_string())?,
                examples: self.examples.clamp(1, 24),
                expect: Expect::Rejected { rule: rule.clone() },
            },
            (CaseBody::Auth(_), Part::Auth(mode)) => Generator {
                strategy: generate::auth_strategy(&self.contract, *mode).map_err(|e| e.to_string())?,
                examples: self.examples.clamp(1, 16),
                expect: Expect::Unauthenticated { how: mode.describe().to_string() },
            },
            _ => return Ok(None),
        }))
    }

    /// The requests a trial sends first, built and signed but not sent (`--dry-run`). Shrinking
    /// and later sequence steps depend on answers, so they are not shown.
    pub fn draw(&self, unit: &Unit) -> Result<Vec<(Request, AuthMode)>, String> {
        let sign = |gen: &GenRequest, label: String| {
            let mut r = self.build(gen, &label);
            send::authenticate(&mut r, gen.auth, &self.creds, Utc::now());
            (r, gen.auth)
        };
        if let Some(g) = self.generator(unit)? {
            let mut source = Source::new(self.seed, &unit.name);
            return (0..g.examples)
                .map(|i| source.tree(&g.strategy).map(|t| sign(&t.current(), format!("{}#{i}", unit.name))))
                .collect();
        }
        match &unit.case.body {
            CaseBody::Example(e) => Ok(vec![sign(
                &GenRequest::json(self.fill_placeholders(&unit.name, &e.request)),
                format!("{}#0", unit.name),
            )]),
            CaseBody::Sequence(s) => {
                let fixtures = self.fixtures.of_sequence(&unit.case.name);
                Ok(s.steps
                    .iter()
                    .enumerate()
                    .filter_map(|(n, step)| match step {
                        Step::Act { action, ids, .. } => {
                            let body = self.step_body(unit, fixtures, n, action, ids);
                            Some(sign(&GenRequest::json(body), format!("{} step {}", unit.name, n + 1)))
                        }
                        Step::Observe { .. } => None,
                    })
                    .collect())
            }
            _ => Ok(vec![]),
        }
    }

    /// The body of a sequence's `n`-th step: `$f<N>` is the sequence's N-th fixture, anything
    /// else a made-up id.
    pub(super) fn step_body(&self, unit: &Unit, fixtures: &[String], n: usize, action: &str, ids: &[String]) -> Value {
        let ids: Vec<String> =
            ids.iter().enumerate().map(|(j, id)| self.resolve(unit, fixtures, id, n * 100 + j)).collect();
        self.contract.batch_body(action, &ids)
    }

    /// `$f<N>` is the sequence's N-th fixture; anything else a made-up id.
    pub(super) fn resolve(&self, unit: &Unit, fixtures: &[String], id: &str, n: usize) -> String {
        match id.strip_prefix("$f").and_then(|k| k.parse::<usize>().ok()).and_then(|k| fixtures.get(k)) {
            Some(f) => f.clone(),
            None => made_up_id(self.seed, &unit.name, n),
        }
    }

    pub(super) fn divergence(
        &self,
        unit: &Unit,
        violations: Vec<Violation>,
        exchange: Exchange,
        expect: &Expect,
        steps: Vec<String>,
        script: Vec<Request>,
    ) -> Option<Divergence> {
        (!violations.is_empty()).then(|| Divergence {
            trial: unit.name.clone(),
            violations,
            exchange,
            seed: self.seed,
            steps,
            script,
            at_once: false,
            shrink: None,
            auth: AuthMode::Valid,
            expect: expect.clone(),
        })
    }

    /// Counts an exchange and judges it with every check the case asks for, and tells the
    /// reporters. An answer still throttled after retries is the endpoint's quota, not its
    /// contract: it is counted, not judged.
    pub(super) async fn judge(
        &self,
        unit: &Unit,
        exchange: &Exchange,
        auth: AuthMode,
        expect: &Expect,
        label: &str,
    ) -> Vec<Violation> {
        self.judge_sent(unit, exchange, None, auth, expect, label).await
    }

    /// [`Engine::judge`], told the JSON body the request was written from, if it was.
    async fn judge_sent(
        &self,
        unit: &Unit,
        exchange: &Exchange,
        sent: Option<&Value>,
        auth: AuthMode,
        expect: &Expect,
        label: &str,
    ) -> Vec<Violation> {
        if !self.tally.observe(exchange, auth) {
            return vec![];
        }
        if self.tally.looks_refused(exchange, auth) && self.credentials_gone().await {
            return vec![];
        }
        let ctx = match sent {
            Some(body) => Context::sent(&self.contract, exchange, body, expect, &self.run, label),
            None => Context::new(&self.contract, exchange, expect, &self.run, label),
        };
        let violations = checks::run_all(&ctx, unit.case.checks.as_deref());
        // An answer that could not be read at all (no JSON body, a broken connection) counts
        // towards an early verdict; no answer at all is the tally's silence rule's to judge.
        let silent = matches!(exchange.outcome, Outcome::Transport { silent: true, .. });
        if self.tally.first_answers_open() && !silent {
            let unreadable = match &exchange.outcome {
                Outcome::Transport { .. } => violations.iter().find(|v| v.check == checks::CONNECTION),
                Outcome::Response(_) if ctx.response_json.is_none() => {
                    violations.iter().find(|v| v.check == checks::RESPONSE_SCHEMA)
                }
                Outcome::Response(_) => None,
            };
            self.tally.first_answer(&unit.name, unreadable.map(Violation::key));
        }
        self.events.emit(Event::Judged {
            unit,
            exchange,
            violations: &violations,
            request_json: ctx.request_json.as_deref(),
            response_json: ctx.response_json.as_ref(),
        });
        self.probe_credentials(false).await;
        violations
    }

    /// Sends a generated request and judges the answer.
    pub(super) async fn send_and_judge(
        &self,
        unit: &Unit,
        gen: &GenRequest,
        expect: &Expect,
        label: &str,
    ) -> Result<(Exchange, Vec<Violation>), Stopped> {
        let x = self.send(self.build(gen, label), gen.auth).await?;
        let v = self.judge_sent(unit, &x, gen.json_body(), gen.auth, expect, label).await;
        Ok((x, v))
    }

    /// The unsigned request of a generated one, to the batch operation.
    pub(super) fn build(&self, gen: &GenRequest, label: &str) -> Request {
        let url = self.target.url(&self.contract.operation().path, &[]);
        send::build(gen, &self.contract.operation().method, url, label, &self.creds)
    }

    /// The request for a batch of `action` on `ids`, its body laid out as the contract says
    /// ([`crate::contract::Contract::batch_body`]).
    pub(super) fn batch_request<S: AsRef<str>>(&self, action: &str, ids: &[S], label: &str) -> Request {
        self.build(&GenRequest::json(self.contract.batch_body(action, ids)), label)
    }

    /// Is the run ending (interrupted, past `--max-duration`, or stopped)? Then no new work starts
    /// (no trial, example, shrinking step, sequence or round), while the work under way finishes:
    /// its requests in flight, and putting its fixtures back.
    pub(super) fn winding_down(&self) -> bool {
        self.tally.stopped().is_some() || self.budget.ended().is_some() || self.tally.verdict_early().is_some()
    }

    /// Sends a request, authenticated as `mode` says (afresh on every retry). Nothing is sent once
    /// the run has stopped (the target cannot be tested); a run that is only winding down still
    /// sends what the work under way needs. A request meant to fail authentication with the run's
    /// own access key (or that might: [`super::KeyGuard::risks_run_key`]) waits for the
    /// [`super::KeyGuard`]'s turn, so the key is never locked.
    pub(super) async fn send(&self, base: Request, mode: AuthMode) -> Result<Exchange, Stopped> {
        let has_aksk = self.creds.aksk.is_some();
        if !super::KeyGuard::fails_with_run_key(mode, has_aksk)
            && !super::KeyGuard::risks_run_key(&base, mode, has_aksk)
        {
            return self.send_now(base, mode).await.map(|(x, _)| x);
        }
        let mut failures = self.keyguard.turn().await;
        if *failures >= super::FAILURES_BETWEEN_VALID {
            self.reset_key_failures().await?;
            *failures = 0;
        }
        self.tally.spent_run_key();
        let (x, attempts) = self.send_now(base, mode).await?;
        *failures += attempts;
        Ok(x)
    }

    /// [`Engine::send`] without the guard: the exchange, and how many attempts it took.
    async fn send_now(&self, base: Request, mode: AuthMode) -> Result<(Exchange, u32), Stopped> {
        if self.tally.stopped().is_some() {
            return Err(Stopped);
        }
        let creds = &self.creds;
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let prepare = || {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut r = base.clone();
            send::authenticate(&mut r, mode, creds, Utc::now());
            r
        };
        // Once the run stops, a request still waiting for its answer (or for its turn) is
        // dropped: a dead target must not hold the run for another timeout per request.
        let x = tokio::select! {
            x = self.sender.exchange(&prepare) => x,
            () = self.tally.until_stopped() => return Err(Stopped),
        };
        // An answer that arrives after the run stopped is not judged: the verdict is made.
        if self.tally.stopped().is_some() {
            return Err(Stopped);
        }
        Ok((x, attempts.into_inner()))
    }

    /// A valid signed request, so the platform's count of the run's key's failed
    /// authentications starts again from nothing: a lookup of a made-up id (read-only), or, if
    /// the contract has no lookup, an ordinary batch on made-up ids. Its answer is counted like
    /// any (a refusal of it is a sign of a lock: the tally stops the run).
    async fn reset_key_failures(&self) -> Result<(), Stopped> {
        let n = self.keyguard.next_reset();
        let label = format!("batchconf-key-reset#{n}");
        let request = self.lookup_request(&made_up_id(self.seed, "batchconf-key-reset", n), &label);
        let Some(request) = request.or_else(|| self.canary()) else { return Ok(()) };
        let (x, _) = self.send_now(request, AuthMode::Valid).await?;
        self.tally.observe(&x, AuthMode::Valid);
        // The reset is itself a request accepted before: refused like one with no credentials,
        // the key is gone.
        if self.tally.looks_refused(&x, AuthMode::Valid) {
            self.tally.confirm_gone(&x);
        }
        match self.tally.stopped() {
            Some(_) => Err(Stopped),
            None => Ok(()),
        }
    }

    /// Are the run's credentials gone? Asked when a request made with them was refused exactly
    /// as one with none is, after they had been accepted: an ordinary valid request on made-up
    /// ids (accepted before) is sent; refused the same way, the run stops (`true`).
    async fn credentials_gone(&self) -> bool {
        let _turn = self.tally.confirming().await;
        if self.tally.stopped().is_some() {
            return true;
        }
        let Some(canary) = self.canary() else { return false };
        match self.send_now(canary, AuthMode::Valid).await {
            Ok((x, _)) => self.tally.confirm_gone(&x),
            Err(Stopped) => true,
        }
    }

    /// Has a soak run spent its budget?
    pub(super) fn soak_spent(&self) -> bool {
        self.budget.spent(self.tally.counts().0)
    }

    /// Looks an asset up until it shows one of `allowed` or `within` has passed, and gives the
    /// last lookup either way: a lookup may be served by a replica that is behind the batch just
    /// answered (read-your-writes is not promised). The looks before the last are counted, not
    /// judged. How long it took to settle, when it had to wait, is kept in `lag_seen`.
    pub(super) async fn settled_lookup(
        &self,
        id: &str,
        label: &str,
        allowed: &[String],
        within: Duration,
    ) -> Option<Result<Exchange, Stopped>> {
        let settled = |x: &Exchange| x.response().is_none() || self.state_of(x).is_some_and(|s| allowed.contains(&s));
        let started = Instant::now();
        let mut x = match self.lookup(id, label).await? {
            Ok(x) => x,
            stopped => return Some(stopped),
        };
        let (mut pause, mut waited) = (Duration::from_millis(10), false);
        while !settled(&x) {
            let Some(left) = within.checked_sub(started.elapsed()).filter(|d| !d.is_zero()) else { break };
            self.tally.observe(&x, AuthMode::Valid);
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(250));
            waited = true;
            x = match self.lookup(id, label).await? {
                Ok(next) => next,
                stopped => return Some(stopped),
            };
        }
        if waited && settled(&x) {
            self.lag_seen.fetch_max(started.elapsed().as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        Some(Ok(x))
    }

    /// How long a lookup may take to show a batch: `settle`; while shrinking a failure already
    /// found, twice the longest lag seen so far and a little (a lookup that never lagged shows a
    /// divergence at once; one that did is given its lag), never more than `settle`.
    pub(super) fn settle_within(&self, shrinking: bool) -> Duration {
        if shrinking {
            self.lag_bound()
        } else {
            self.settle
        }
    }

    /// How far behind a lookup may be, as far as the run has seen: twice the longest lag so far
    /// and a little, never more than `settle`.
    pub(super) fn lag_bound(&self) -> Duration {
        let seen = Duration::from_millis(self.lag_seen.load(std::sync::atomic::Ordering::Relaxed));
        (seen * 2 + SHRINK_SETTLE_MARGIN).min(self.settle)
    }

    /// Looks one asset up (to observe what a sequence did).
    pub(super) async fn lookup(&self, id: &str, label: &str) -> Option<Result<Exchange, Stopped>> {
        let base = self.lookup_request(id, label)?;
        Some(self.send(base, AuthMode::Valid).await)
    }

    /// The unsigned lookup of one asset, if the contract has a lookup.
    fn lookup_request(&self, id: &str, label: &str) -> Option<Request> {
        let segment = percent_encoding::utf8_percent_encode(id, crate::contract::SEGMENT).to_string();
        self.lookup_request_spelled(&segment, label)
    }

    /// The unsigned lookup of one asset with its id written as `segment` in the URL (already
    /// percent-encoded: another spelling of the same id, for the near-miss trial).
    pub(super) fn lookup_request_spelled(&self, segment: &str, label: &str) -> Option<Request> {
        let lookup = self.contract.lookup.as_ref()?;
        // A placeholder that encodes as itself, swapped for the segment as it is.
        const SLOT: &str = "bcf-spelling-slot";
        let url = self.target.url(&lookup.path, &[("asset_id", SLOT)]).replace(SLOT, segment);
        let mut headers = Headers::default();
        headers.insert(send::CASE_HEADER, label);
        if let Some(user) = &self.creds.app_user_id {
            headers.insert(crate::protocol::APP_USER_HEADER, user.clone());
        }
        Some(Request { method: lookup.method.clone(), url, headers, body: vec![] })
    }

    /// When every request made with the run's credentials so far was refused, sends one of them
    /// again with and without credentials: the same answer both ways means the credentials do
    /// nothing, and the run stops (see [`super::verdict`]). `at_end` asks on a single refusal,
    /// and with a request of its own when the run's credentials were never tried.
    pub(super) async fn probe_credentials(&self, at_end: bool) {
        let sample = match self.tally.wants_probe(at_end) {
            Some(sample) => sample,
            None if at_end && self.tally.credentials_untried() && !self.tally.accepted_any() => match self.canary() {
                Some(canary) => canary,
                None => return,
            },
            None => return,
        };
        let prepare = |mode: AuthMode| {
            let mut r = sample.clone();
            r.headers.insert(send::CASE_HEADER, "batchconf-probe");
            send::authenticate(&mut r, mode, &self.creds, Utc::now());
            r
        };
        let with = self.sender.exchange(&|| prepare(AuthMode::Valid)).await;
        if with.response().is_some_and(|r| (200..300).contains(&r.status)) {
            self.tally.probed(None, None);
            return;
        }
        let without = self.sender.exchange(&|| prepare(AuthMode::Missing)).await;
        self.tally.probed(super::verdict::Signature::of(&with), super::verdict::Signature::of(&without));
    }

    /// An ordinary valid request on made-up ids, to see whether the run's credentials work.
    fn canary(&self) -> Option<Request> {
        let property = crate::cases::Property::default();
        let strategy = generate::body_strategy(&self.contract, &property, &[]).ok()?;
        let body = Source::new(self.seed, "batchconf-probe").tree(&strategy).ok()?.current();
        Some(self.build(&GenRequest::json(body), "batchconf-probe"))
    }

    /// The last word on whether the run tested anything: probes the credentials if nothing made
    /// with them was accepted, and stops the run if most of it went unjudged.
    pub async fn prove_tested(&self) {
        if self.winding_down() {
            return;
        }
        // Mostly unjudged says it all; a probe would only be throttled or unanswered too.
        if let Some(why) = self.tally.unjudged_majority() {
            self.tally.stop(why);
            return;
        }
        if !self.tally.accepted_any() {
            self.probe_credentials(true).await;
        }
    }

    /// `$fixture` → a pool fixture (in turn), `$unknown` → a fresh made-up id.
    pub(super) fn fill_placeholders(&self, trial: &str, v: &Value) -> Value {
        let pool = &self.fixtures.pool;
        let mut counter = 0usize;
        fill(v, &mut |s: &str| {
            counter += 1;
            match s {
                FIXTURE if !pool.is_empty() => Some(pool[counter % pool.len()].clone()),
                FIXTURE | UNKNOWN => Some(made_up_id(self.seed, trial, counter)),
                _ => None,
            }
        })
    }
}

pub(super) fn expectation(e: Expectation, case: &str) -> Expect {
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

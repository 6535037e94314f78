//! Stateful trials: what one request cannot show.
//!
//! - Random sequences: batches of any action on the trial's fixtures mixed with made-up ids,
//!   from one id to all of them at once, drawn and shrunk as proptest values (a sequence of
//!   operations; the model supplies the state, so shrinking a step away replays the rest from
//!   the states the server then shows). After every batch each fixture of the sequence is looked
//!   up, in the batch or not, and compared with the lifecycle model ([`super::model`]). The first
//!   failing sequence is shrunk to the shortest that still fails and reported as numbered steps,
//!   with a reproduction that sends every step again.
//! - Concurrent batches: a few batches at once, on disjoint or overlapping fixtures; their answers
//!   and the states looked up afterwards must be what some order of them one after another gives
//!   (every order is tried: a linearizability check small enough to be exact).
//! - Project isolation: the run's credentials, a made-up project: nothing of the run's may change.
//!
//! Safety: DELETE_FORCE goes to made-up ids and, only where a fixture is reserved for it
//! (`--allow-destructive`, or the bundled server's own), to that one; every live fixture is made
//! `ACTIVED` again at the end.

use std::time::Instant;

use futures::future::join_all;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::Value;

use super::model::{either, Model, Said, RESTORE};
use super::trial::Interrupted;
use super::{Divergence, Engine, Stopped, Unit};
use crate::cases::{Stateful, StatefulTrial};
use crate::checks::{Expect, Violation, ABSENT};
use crate::exchange::{Exchange, Request};
use crate::generate::{AuthMode, Source};

/// The actions in the order shrinking prefers them (earlier is simpler).
pub(super) const ACTIONS: &[&str] = &["SHARE", "UNSHARE", "ACTIVE", "UNACTIVE", "DELETE", RESTORE, "DELETE_FORCE"];
/// What concurrent batches may do: every action that a later one can undo.
const UNDOABLE: &[&str] = &["SHARE", "UNACTIVE", "ACTIVE", "DELETE", RESTORE];
/// The rounds of concurrent batches that overlap on every fixture with conflicting actions, the
/// second batch naming the ids in reverse order: a service that locks one id at a time instead
/// of running a batch as one transaction lets them interleave id by id, which no order explains.
/// Played before the drawn rounds, each pair twice (an interleaving depends on timing).
const CONFLICTS: &[(&str, &str)] =
    &[("UNACTIVE", "ACTIVE"), ("DELETE", RESTORE), ("ACTIVE", "UNACTIVE"), (RESTORE, "DELETE")];
const CONFLICT_ROUNDS: u32 = 2 * CONFLICTS.len() as u32;
/// Sequences one shrink may replay at most, besides its time budget.
const MAX_SHRINK_TRIES: usize = 200;

/// One batch of a random sequence, before ids are chosen: which action, which live fixtures,
/// the reserved one or not, and how many made-up ids.
#[derive(Debug, Clone)]
pub(super) struct Op {
    pub action: usize,
    pub pick: Vec<bool>,
    pub reserved: bool,
    pub unknown: usize,
    /// The made-up ids first, the fixtures behind them (the scripted batch sizes: a service that
    /// acts on the first N ids only shows it on the ids at the end).
    pub fixtures_last: bool,
}

/// Where a stateful trial failed: every step up to it, the exchange that showed it, and why.
pub(super) struct Failure {
    pub(super) steps: Vec<String>,
    /// The requests sent before `exchange` that it depends on, in order (for a reproduction).
    pub(super) script: Vec<Request>,
    /// `script`'s batches were sent at once.
    pub(super) at_once: bool,
    pub(super) exchange: Exchange,
    pub(super) violations: Vec<Violation>,
    pub(super) expect: Expect,
}

impl Engine {
    pub(super) async fn stateful(
        &self,
        unit: &Unit,
        spec: &Stateful,
        fixtures: &[String],
    ) -> Result<Vec<Divergence>, Interrupted> {
        let Some(lifecycle) = &self.contract.manifest.lifecycle else {
            return Err(Interrupted::Failed("the contract has no `lifecycle` to compare the states with".into()));
        };
        if self.contract.lookup.is_none() {
            return Err(Interrupted::Failed("the contract has no `lookup`: the states cannot be seen".into()));
        }
        let model = Model::new(lifecycle);
        let (live, reserved) = fixtures.split_at(spec.fixtures_needed().min(fixtures.len()));
        let found = match spec.trial {
            StatefulTrial::RandomSequences => self.random_sequences(unit, spec, &model, live, reserved).await,
            StatefulTrial::ConcurrentBatches => self.concurrent(unit, spec, &model, live).await,
            StatefulTrial::ProjectIsolation => self.isolation(unit, &model, live).await,
            StatefulTrial::NearMisses => self.near_misses(unit, &model, live).await,
        };
        // Whatever happened, the live fixtures are left in use (ACTIVED) for the next trial that
        // shares them (a sequence starts from a live asset); the end of the run puts them back
        // as they were before it (`put_back`).
        let restored = self.make_live(&model, live, &format!("{} restore", unit.name), self.settle).await;
        let found = found?;
        restored.map_err(|_| Interrupted::Stopped)?;
        Ok(found
            .map(|(f, shrink)| Divergence {
                trial: unit.name.clone(),
                violations: f.violations,
                exchange: f.exchange,
                seed: self.seed,
                steps: f.steps,
                at_once: f.at_once,
                script: f.script,
                shrink,
                auth: AuthMode::Valid,
                expect: f.expect,
            })
            .into_iter()
            .collect())
    }

    async fn random_sequences(
        &self,
        unit: &Unit,
        spec: &Stateful,
        model: &Model,
        live: &[String],
        reserved: &[String],
    ) -> Result<Option<(Failure, Option<(usize, usize)>)>, Interrupted> {
        // The actions that move assets between live, bin and gone come twice as often: the
        // lifecycle's bugs hide in those moves (a DELETE_FORCE after a DELETE, say).
        let action = prop::sample::select(vec![0usize, 1, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
        let picks = prop::collection::vec(any::<bool>(), live.len());
        // Mostly a few made-up ids; now and then a large batch (at most 50 ids in all, which
        // every conformant server takes).
        let unknown = prop_oneof![4 => 0..=4usize, 1 => 20..=45usize];
        let op = (action, picks, prop::bool::weighted(0.7), unknown).prop_map(|(action, pick, reserved, unknown)| Op {
            action,
            pick,
            reserved,
            unknown,
            fixtures_last: false,
        });
        let strategy = prop::collection::vec(op, 1..=spec.max_steps).boxed();
        let mut source = Source::new(self.seed, &unit.name);
        let mut attempt = 0usize;
        for n in 0u32.. {
            // The scripted sequences (batch sizes, the recycle bin) play once, after the first
            // random one: early in a soak run too, and the same in every run of a seed.
            if n == 1 {
                for ops in self.scripts(live.len(), !reserved.is_empty()) {
                    // Not past a soak run's budget either, as no random sequence starts then.
                    if self.winding_down() || (self.budget.soak() && self.soak_spent()) {
                        break;
                    }
                    if let Some(f) = self.run_ops(unit, model, live, reserved, &ops, &mut attempt, 0, false).await? {
                        return Ok(Some(self.shrink_script(unit, model, live, reserved, ops, f, &mut attempt).await?));
                    }
                }
            }
            if !self.another_round(n, spec.sequences) {
                break;
            }
            let mut tree = source.tree(&strategy).map_err(Interrupted::Failed)?;
            let Some(first) =
                self.run_ops(unit, model, live, reserved, &tree.current(), &mut attempt, n, false).await?
            else {
                continue;
            };
            // Shrink: drop and simplify operations while the same check still fails.
            let check = first.violations[0].check.clone();
            let (mut best, started) = (first, Instant::now());
            let (mut tries, mut kept) = (0usize, 0usize);
            let mut more = tree.simplify();
            while more && started.elapsed() < self.shrink_budget && tries < MAX_SHRINK_TRIES && !self.winding_down() {
                tries += 1;
                match self.run_ops(unit, model, live, reserved, &tree.current(), &mut attempt, n, true).await? {
                    Some(f) if f.violations.iter().any(|v| v.check == check) => {
                        kept += 1;
                        best = f;
                        more = tree.simplify();
                    }
                    _ => more = tree.complicate(),
                }
            }
            best.violations.sort_by_key(|v| v.check != check);
            return Ok(Some((best, Some((tries, kept)))));
        }
        Ok(None)
    }

    /// Shrinks a failing scripted sequence: drops one batch at a time, from the last, while the
    /// same check still fails (a script is not a proptest value, but the report is read the same
    /// way: the fewest steps that show it).
    #[allow(clippy::too_many_arguments)]
    async fn shrink_script(
        &self,
        unit: &Unit,
        model: &Model,
        live: &[String],
        reserved: &[String],
        mut ops: Vec<Op>,
        first: Failure,
        attempt: &mut usize,
    ) -> Result<(Failure, Option<(usize, usize)>), Stopped> {
        let check = first.violations[0].check.clone();
        let (mut best, started) = (first, Instant::now());
        let (mut tries, mut kept) = (0usize, 0usize);
        let mut i = ops.len();
        while i > 0 && ops.len() > 1 && started.elapsed() < self.shrink_budget && tries < MAX_SHRINK_TRIES {
            if self.winding_down() {
                break;
            }
            i -= 1;
            let mut fewer = ops.clone();
            fewer.remove(i);
            tries += 1;
            match self.run_ops(unit, model, live, reserved, &fewer, attempt, 0, true).await? {
                Some(f) if f.violations.iter().any(|v| v.check == check) => {
                    kept += 1;
                    best = f;
                    ops = fewer;
                    i = i.min(ops.len());
                }
                _ => {}
            }
        }
        best.violations.sort_by_key(|v| v.check != check);
        Ok((best, Some((tries, kept))))
    }

    /// The scripted sequences ([`super::scripted`]): the batch sizes the request schema allows,
    /// and, where a fixture is reserved for DELETE_FORCE, the recycle bin.
    fn scripts(&self, live: usize, reserved: bool) -> Vec<Vec<Op>> {
        let sizes = super::scripted::batch_sizes(self.contract.batch_size_bounds());
        let mut out = vec![super::scripted::size_ops(&sizes, live)];
        if reserved {
            out.push(super::scripted::recycle_bin_ops(live));
        }
        out
    }

    /// Is there another sequence (or round) to play? `planned` of them in an ordinary run; in a
    /// soak run, as many as the budget allows; none once the run is ending.
    fn another_round(&self, n: u32, planned: u32) -> bool {
        if self.winding_down() {
            false
        } else if self.budget.soak() {
            !self.soak_spent()
        } else {
            n < planned
        }
    }

    /// Plays one sequence from live fixtures; the first divergence, if any.
    #[allow(clippy::too_many_arguments)]
    async fn run_ops(
        &self,
        unit: &Unit,
        model: &Model,
        live: &[String],
        reserved: &[String],
        ops: &[Op],
        attempt: &mut usize,
        sequence: u32,
        shrinking: bool,
    ) -> Result<Option<Failure>, Stopped> {
        let within = self.settle_within(shrinking);
        let tag = format!("{} seq {sequence} try {}", unit.name, *attempt);
        *attempt += 1;
        // The first reserved fixture not yet destroyed, so each try starts from a live one while
        // they last (on a real target there is one, and after it is gone, none).
        let mut spare = None;
        for id in reserved {
            let x = self.observe(id, &format!("{tag} spare")).await?;
            if self.state_of(&x).is_some_and(|s| !model.is_gone(&s)) {
                spare = Some(id.clone());
                break;
            }
        }
        let watched: Vec<String> = live.iter().cloned().chain(spare.clone()).collect();
        // The spare too, unless an earlier try destroyed it for good.
        let mut states = self.make_live(model, &watched, &tag, within).await?;
        let start: Vec<String> = watched.iter().zip(&states).map(|(id, s)| format!("{id:?} {s}")).collect();
        let mut steps = vec![format!("0. looked up: {}", start.join(", "))];
        let mut script = self.fresh_to_start(&watched, &states, &tag);
        for (i, op) in ops.iter().enumerate() {
            // A run that is ending starts no further step: the fixtures are put back next.
            if self.winding_down() {
                return Ok(None);
            }
            let action = ACTIONS[op.action];
            let mut ids: Vec<String> = Vec::new();
            if action != "DELETE_FORCE" {
                ids.extend(live.iter().zip(&op.pick).filter(|(_, p)| **p).map(|(id, _)| id.clone()));
            }
            if op.reserved {
                ids.extend(spare.clone());
            }
            // Within the schema's bounds on a batch's size, like every generated batch.
            let (min, max) = self.contract.batch_size_bounds();
            let max = max.unwrap_or(usize::MAX);
            ids.truncate(max);
            let made_up = op.unknown.max(usize::from(ids.is_empty())).max(min.saturating_sub(ids.len()));
            let made_up = made_up.min(max - ids.len());
            let unknown = (0..made_up).map(|j| super::made_up_id(self.seed, &unit.name, i * 10 + j));
            if op.fixtures_last {
                ids.splice(0..0, unknown);
            } else {
                ids.extend(unknown);
            }
            let label = format!("{tag} step {}", i + 1);
            match self
                .step(unit, model, action, &ids, &watched, &mut states, &label, i + 1, &mut steps, &mut script, within)
                .await?
            {
                None => {}
                Some(f) => return Ok(Some(f)),
            }
        }
        Ok(None)
    }

    /// Sends one batch, then looks every watched fixture up and compares it with the model.
    #[allow(clippy::too_many_arguments)]
    async fn step(
        &self,
        unit: &Unit,
        model: &Model,
        action: &str,
        ids: &[String],
        watched: &[String],
        states: &mut [String],
        label: &str,
        number: usize,
        steps: &mut Vec<String>,
        script: &mut Vec<Request>,
        within: std::time::Duration,
    ) -> Result<Option<Failure>, Stopped> {
        let x = self.send(self.batch_request(action, ids, label), AuthMode::Valid).await?;
        let said: Vec<Said> = watched.iter().map(|id| self.said(&x, id, ids)).collect();
        steps.push(step_line(number, action, ids, &x, &said, watched));
        let violations = self.judge(unit, &x, AuthMode::Valid, &Expect::Nothing, label).await;
        if !violations.is_empty() {
            let (steps, script) = (steps.clone(), script.clone());
            return Ok(Some(Failure {
                steps,
                script,
                at_once: false,
                exchange: x,
                violations,
                expect: Expect::Nothing,
            }));
        }
        script.push(x.request.clone());
        // Judged below, which counts them; a state not yet allowed is looked at again until
        // `within` (`settled_lookup`): a service may apply a batch just after answering it, and a
        // lookup may be served by a replica behind it.
        let allowed: Vec<Vec<String>> = (0..watched.len()).map(|k| model.next(&states[k], action, said[k])).collect();
        let looked =
            join_all(watched.iter().zip(&allowed).map(|(id, ok)| self.settled_lookup(id, label, ok, within))).await;
        for (k, found) in looked.into_iter().enumerate() {
            let found = found.ok_or(Stopped)??;
            let allowed = allowed[k].clone();
            let why = match said[k] {
                Said::Untouched => format!("it was {} and not in the batch of step {number}", states[k]),
                s => format!(
                    "it was {} and step {number}'s {action} {}",
                    states[k],
                    match s {
                        Said::Success => "answered SUCCESS for it",
                        Said::Failed => "did not act on it",
                        _ => "may or may not have acted on it",
                    }
                ),
            };
            let expect = Expect::State { id: watched[k].clone(), allowed: allowed.clone(), why };
            let violations = self.judge(unit, &found, AuthMode::Valid, &expect, label).await;
            if !violations.is_empty() {
                let seen = self.state_of(&found).unwrap_or_else(|| "no state".into());
                let mut steps = steps.clone();
                steps.push(format!(
                    "{INDENT}then {:?} looked up: {} (the model allows {})",
                    watched[k],
                    if seen == ABSENT { "absent" } else { &seen },
                    either(&allowed)
                ));
                return Ok(Some(Failure {
                    steps,
                    script: script.clone(),
                    at_once: false,
                    exchange: found,
                    violations,
                    expect,
                }));
            }
            if let Some(s) = self.state_of(&found) {
                states[k] = s;
            }
        }
        Ok(None)
    }

    /// What a batch's answer says about `id`.
    pub(super) fn said(&self, x: &Exchange, id: &str, ids: &[String]) -> Said {
        if !ids.iter().any(|i| i == id) {
            return Said::Untouched;
        }
        let Some(resp) = x.response() else { return Said::Unknown };
        if resp.status == self.contract.operation().invalid_request_status {
            return Said::Failed;
        }
        if resp.status != 200 {
            return Said::Unknown;
        }
        let spec = self.contract.batch();
        let groups = resp.json().and_then(|b| b.pointer(&spec.groups).cloned()).unwrap_or(Value::Null);
        let mut said = Said::Unknown;
        for g in groups.as_array().into_iter().flatten() {
            let has = g.pointer(&spec.group_ids).and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == id));
            if !has {
                continue;
            }
            let failed = g.pointer(&spec.group_status).and_then(Value::as_str) == Some(spec.failed_status.as_str());
            let this = if failed { Said::Failed } else { Said::Success };
            // An id in two groups says both: the model allows either (another check flags it).
            said = if said == Said::Unknown || said == this { this } else { return Said::Unknown };
        }
        said
    }

    /// Looks an asset up, counted like any exchange (for lookups no check judges).
    pub(super) async fn observe(&self, id: &str, label: &str) -> Result<Exchange, Stopped> {
        let x = self.fetch(id, label).await?;
        self.tally.observe(&x, AuthMode::Valid);
        Ok(x)
    }

    /// Looks an asset up, for the caller to judge (judging counts it).
    async fn fetch(&self, id: &str, label: &str) -> Result<Exchange, Stopped> {
        self.lookup(id, label).await.ok_or(Stopped)?
    }

    /// The state a lookup shows: the manifest's state field, or `$absent` for a not-found status.
    pub(super) fn state_of(&self, x: &Exchange) -> Option<String> {
        let lookup = self.contract.lookup.as_ref()?;
        let resp = x.response()?;
        if lookup.absent_statuses.contains(&resp.status) {
            return Some(ABSENT.to_string());
        }
        if resp.status != 200 {
            return None;
        }
        resp.json().and_then(|b| b.pointer(&lookup.state).and_then(Value::as_str).map(str::to_string))
    }

    /// The batches that bring fixtures from where a fresh one is (in use, `ACTIVED`) to the states
    /// a trial started them from (an earlier try may have left one in the recycle bin, which a
    /// broken RESTORE does not empty): the start of a reproduction on a fresh server. For each
    /// state, the action the lifecycle says leads to it.
    fn fresh_to_start(&self, ids: &[String], states: &[String], tag: &str) -> Vec<Request> {
        let Some(lifecycle) = &self.contract.manifest.lifecycle else { return vec![] };
        let mut out = Vec::new();
        for (action, leads_to) in lifecycle.after.iter().filter(|(a, _)| !lifecycle.final_actions.contains(a)) {
            let moved: Vec<&String> = ids
                .iter()
                .zip(states)
                .filter(|(_, s)| s.as_str() != "ACTIVED" && leads_to.contains(s))
                .map(|(id, _)| id)
                .collect();
            if !moved.is_empty() {
                out.push(self.batch_request(action, &moved, &format!("{tag} start")));
            }
        }
        out
    }

    /// Brings the live fixtures back in use and gives their states once settled. RESTORE goes
    /// to those a lookup shows in the recycle bin, then ACTIVE to every one that is not gone,
    /// ACTIVED or not: a lookup may lag behind, the answer says for sure. Each is then looked up
    /// until it shows what the answer said (or `within` passes). Where the answer leaves it open
    /// (ACTIVE not SUCCESS, a lookup without a state), the lag seen so far is waited out once
    /// and the asset looked up again. Counted, not judged (the trials judge what they do
    /// themselves).
    pub(super) async fn make_live(
        &self,
        model: &Model,
        live: &[String],
        tag: &str,
        within: std::time::Duration,
    ) -> Result<Vec<String>, Stopped> {
        let mut seen = Vec::new();
        for id in live {
            let x = self.observe(id, &format!("{tag} prepare")).await?;
            seen.push(self.state_of(&x));
        }
        let pick = |f: &dyn Fn(&str) -> bool| -> Vec<String> {
            live.iter().zip(&seen).filter(|(_, s)| s.as_deref().is_some_and(f)).map(|(id, _)| id.clone()).collect()
        };
        let in_bin = pick(&|s| model.in_bin(s));
        // Nothing brings a gone asset back: those are left as they are.
        let not_gone = pick(&|s| model.is_live(s) || model.in_bin(s));
        let mut said = vec![Said::Untouched; live.len()];
        for (action, ids) in [(RESTORE, in_bin), ("ACTIVE", not_gone)] {
            if ids.is_empty() {
                continue;
            }
            let label = format!("{tag} prepare {action}");
            let x = self.send(self.batch_request(action, &ids, &label), AuthMode::Valid).await?;
            self.tally.observe(&x, AuthMode::Valid);
            if action == "ACTIVE" {
                said = live.iter().map(|id| self.said(&x, id, &ids)).collect();
            }
        }
        let active: Vec<String> =
            self.contract.manifest.lifecycle.as_ref().and_then(|l| l.after.get("ACTIVE").cloned()).unwrap_or_default();
        let mut states: Vec<Option<String>> = vec![None; live.len()];
        for (k, id) in live.iter().enumerate() {
            let allowed = match (said[k], &seen[k]) {
                (Said::Success, _) => active.clone(),
                // Gone for good: a lookup cannot show it otherwise.
                (Said::Untouched, Some(s)) => vec![s.clone()],
                _ => continue,
            };
            if let Some(x) = self.settled_lookup(id, &format!("{tag} prepare settle"), &allowed, within).await {
                let x = x?;
                self.tally.observe(&x, AuthMode::Valid);
                states[k] = self.state_of(&x).filter(|s| allowed.contains(s));
            }
        }
        if states.iter().any(Option::is_none) {
            tokio::time::sleep(self.lag_bound().min(within)).await;
        }
        let mut out = Vec::new();
        for (id, state) in live.iter().zip(states) {
            let state = match state {
                Some(s) => s,
                None => {
                    let x = self.observe(id, &format!("{tag} prepare look again")).await?;
                    self.state_of(&x).unwrap_or_else(|| ABSENT.to_string())
                }
            };
            out.push(state);
        }
        Ok(out)
    }

    async fn concurrent(
        &self,
        unit: &Unit,
        spec: &Stateful,
        model: &Model,
        live: &[String],
    ) -> Result<Option<(Failure, Option<(usize, usize)>)>, Interrupted> {
        let batches = spec.max_steps.clamp(2, 4);
        let batch = (0..UNDOABLE.len(), prop::collection::vec(any::<bool>(), live.len()));
        let round = (prop::collection::vec(batch, batches), any::<bool>()).boxed();
        let mut source = Source::new(self.seed, &unit.name);
        let most = self.contract.batch_size_bounds().1.unwrap_or(usize::MAX);
        for r in 0u32.. {
            if !self.another_round(r, spec.sequences + CONFLICT_ROUNDS) {
                break;
            }
            let tag = format!("{} round {r}", unit.name);
            // The states the round starts from, confirmed settled (a lookup may lag behind).
            let before = self.make_live(model, live, &tag, self.settle).await?;
            let fresh = self.fresh_to_start(live, &before, &tag);
            let (drawn, disjoint) = source.tree(&round).map_err(Interrupted::Failed)?.current();
            // Disjoint rounds give each fixture to one batch; overlapping ones keep the draw.
            let mut plans: Vec<(&str, Vec<String>)> = drawn
                .iter()
                .enumerate()
                .map(|(b, (action, pick))| {
                    let ids: Vec<String> = live
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| if disjoint { k % batches == b } else { pick[*k] })
                        .map(|(_, id)| id.clone())
                        .collect();
                    let ids = if ids.is_empty() { vec![live[b % live.len()].clone()] } else { ids };
                    (UNDOABLE[*action], ids)
                })
                .collect();
            if let Some((first, second)) = CONFLICTS.get(r as usize % CONFLICTS.len()).filter(|_| r < CONFLICT_ROUNDS) {
                let ids: Vec<String> = live.iter().take(most).cloned().collect();
                plans = vec![(first, ids.clone()), (second, ids.into_iter().rev().collect())];
            }
            for (_, ids) in plans.iter_mut() {
                ids.truncate(most);
            }
            let sent = join_all(plans.iter().enumerate().map(|(b, (action, ids))| {
                let label = format!("{tag} batch {}", b + 1);
                async move { self.send(self.batch_request(action, ids, &label), AuthMode::Valid).await }
            }))
            .await;
            let mut exchanges = Vec::new();
            for (b, x) in sent.into_iter().enumerate() {
                let x = x?;
                let label = format!("{tag} batch {}", b + 1);
                let violations = self.judge(unit, &x, AuthMode::Valid, &Expect::Nothing, &label).await;
                if !violations.is_empty() {
                    let steps = concurrent_lines(&plans, &[], &[], live, &before);
                    // The batches sent at once with it, as far as they are known.
                    let script =
                        fresh.iter().cloned().chain(exchanges.iter().map(|x: &Exchange| x.request.clone())).collect();
                    let failure =
                        Failure { steps, script, at_once: true, exchange: x, violations, expect: Expect::Nothing };
                    return Ok(Some((failure, None)));
                }
                exchanges.push(x);
            }
            let said: Vec<Vec<Said>> = plans
                .iter()
                .zip(&exchanges)
                .map(|((_, ids), x)| live.iter().map(|id| self.said(x, id, ids)).collect())
                .collect();
            let actions: Vec<&str> = plans.iter().map(|(a, _)| *a).collect();
            // A service may apply batches a moment after answering them, and a lookup may lag
            // behind: states no order explains are looked at again, until the grace runs out,
            // before they are a divergence.
            let (mut after, mut last, mut looked): (Vec<String>, Option<Exchange>, Vec<Request>);
            let (started, mut pause) = (Instant::now(), std::time::Duration::ZERO);
            loop {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).clamp(std::time::Duration::from_millis(10), std::time::Duration::from_millis(250));
                (after, last, looked) = (Vec::new(), None, Vec::new());
                for id in live {
                    let x = self.observe(id, &format!("{tag} end")).await?;
                    after.push(self.state_of(&x).unwrap_or_else(|| "no state".into()));
                    looked.push(x.request.clone());
                    last = Some(x);
                }
                if explained(model, &before, &actions, &said, &after) || started.elapsed() >= self.settle {
                    break;
                }
            }
            if explained(model, &before, &actions, &said, &after) {
                continue;
            }
            let shown: Vec<String> = live.iter().zip(&after).map(|(id, s)| format!("{id:?} {s}")).collect();
            let violation = Violation::new(
                "lifecycle",
                "states after the concurrent batches",
                format!(
                    "answers and states that some order of the {} batches, one after another, gives (all orders tried)",
                    plans.len()
                ),
                format!("{}; no order gives that", shown.join(", ")),
            );
            let steps = concurrent_lines(&plans, &exchanges, &said, live, &before);
            let exchange = last.ok_or(Stopped)?;
            let expect = Expect::Nothing;
            // The batches (sent at once in the run), then the lookups before the last.
            let batches = exchanges.iter().map(|x| x.request.clone());
            let script = fresh.into_iter().chain(batches).chain(looked.into_iter().take(live.len() - 1)).collect();
            return Ok(Some((
                Failure { steps, script, at_once: true, exchange, violations: vec![violation], expect },
                None,
            )));
        }
        Ok(None)
    }

    async fn isolation(
        &self,
        unit: &Unit,
        model: &Model,
        live: &[String],
    ) -> Result<Option<(Failure, Option<(usize, usize)>)>, Interrupted> {
        let tag = format!("{} other project", unit.name);
        // The states before, confirmed settled (a lookup may lag behind).
        let states = self.make_live(model, live, &tag, self.settle).await?;
        // A project nobody has: made up and `bcf-` prefixed like every id the harness invents.
        let mut other = self.target.clone();
        other.project_id = super::made_up_id(self.seed, &unit.name, 0);
        let url = other.url(&self.contract.operation().path, &[]);
        let (mut steps, mut script) = (Vec::new(), self.fresh_to_start(live, &states, &tag));
        for (n, action) in ["UNACTIVE", "DELETE"].into_iter().enumerate() {
            let label = format!("{tag} {action}");
            let mut req = self.batch_request(action, live, &label);
            req.url = url.clone();
            let x = self.send(req, AuthMode::Valid).await?;
            let said: Vec<Said> = live.iter().map(|_| Said::Untouched).collect();
            steps.push(step_line(n + 1, action, live, &x, &said, live));
            let expect = Expect::OtherProject { ids: live.to_vec() };
            let violations = self.judge(unit, &x, AuthMode::Valid, &expect, &label).await;
            if !violations.is_empty() {
                return Ok(Some((Failure { steps, script, at_once: false, exchange: x, violations, expect }, None)));
            }
            script.push(x.request.clone());
            for (k, id) in live.iter().enumerate() {
                // A lookup may still show a state from before the trial's own preparation: it is
                // looked at again until it shows the state before (or the grace runs out).
                let found = match self.settled_lookup(id, &label, &states[k..=k], self.settle).await {
                    Some(found) => found?,
                    None => self.fetch(id, &label).await?,
                };
                let why =
                    format!("it was {} and the batch named project {:?}, not the run's", states[k], other.project_id);
                let expect = Expect::State { id: id.clone(), allowed: vec![states[k].clone()], why };
                let violations = self.judge(unit, &found, AuthMode::Valid, &expect, &label).await;
                if !violations.is_empty() {
                    return Ok(Some((
                        Failure { steps, script, at_once: false, exchange: found, violations, expect },
                        None,
                    )));
                }
            }
        }
        Ok(None)
    }
}

const INDENT: &str = "   ";

/// `3. UNACTIVE ["f0", "bcf-…"] -> 200: "f0" SUCCESS` (its `curl` line is in the reproduction).
fn step_line(n: usize, action: &str, ids: &[String], x: &Exchange, said: &[Said], watched: &[String]) -> String {
    let status = x.response().map(|r| r.status.to_string()).unwrap_or_else(|| "no answer".into());
    let outcomes: Vec<String> = watched
        .iter()
        .zip(said)
        .filter_map(|(id, s)| match s {
            Said::Success => Some(format!("{id:?} SUCCESS")),
            Said::Failed => Some(format!("{id:?} FAILED")),
            Said::Unknown => Some(format!("{id:?} ?")),
            Said::Untouched => None,
        })
        .collect();
    let outcomes = if outcomes.is_empty() { String::new() } else { format!(": {}", outcomes.join(", ")) };
    format!("{n}. {action} {} -> {status}{outcomes}", crate::checks::id_list(ids))
}

/// The lines of a round of concurrent batches: the states before, then each batch (all sent at
/// once) with what it said.
fn concurrent_lines(
    plans: &[(&str, Vec<String>)],
    exchanges: &[Exchange],
    said: &[Vec<Said>],
    live: &[String],
    before: &[String],
) -> Vec<String> {
    let start: Vec<String> = live.iter().zip(before).map(|(id, s)| format!("{id:?} {s}")).collect();
    let mut lines = vec![format!("0. looked up: {}", start.join(", "))];
    for (b, (action, ids)) in plans.iter().enumerate() {
        match (exchanges.get(b), said.get(b)) {
            (Some(x), Some(said)) => {
                lines.push(format!("(at once) {}", step_line(b + 1, action, ids, x, said, live)));
            }
            _ => lines.push(format!("(at once) {}. {action} {}", b + 1, crate::checks::id_list(ids))),
        }
    }
    lines
}

/// Does some order of the batches, one after another from `before`, say what each said and end
/// in `after`? Every order is tried, and every state the model allows at each step.
fn explained(model: &Model, before: &[String], actions: &[&str], said: &[Vec<Said>], after: &[String]) -> bool {
    let mut order: Vec<usize> = (0..actions.len()).collect();
    loop {
        if explains(model, before, actions, said, after, &order) {
            return true;
        }
        if !next_permutation(&mut order) {
            return false;
        }
    }
}

fn explains(
    model: &Model,
    before: &[String],
    actions: &[&str],
    said: &[Vec<Said>],
    after: &[String],
    order: &[usize],
) -> bool {
    // Fixtures are independent given the order: each has its own set of possible states.
    (0..before.len()).all(|k| {
        let mut possible: Vec<String> = vec![before[k].clone()];
        for &b in order {
            let mut next: Vec<String> = possible.iter().flat_map(|s| model.next(s, actions[b], said[b][k])).collect();
            next.sort();
            next.dedup();
            possible = next;
        }
        possible.contains(&after[k])
    })
}

fn next_permutation(v: &mut [usize]) -> bool {
    let Some(i) = (1..v.len()).rev().find(|&i| v[i - 1] < v[i]) else { return false };
    let j = (i..v.len()).rev().find(|&j| v[j] > v[i - 1]).unwrap_or(i);
    v.swap(i - 1, j);
    v[i..].reverse();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::model::tests::{model, v};

    #[test]
    fn some_order_explains_what_atomic_batches_do() {
        let m = model();
        let before = v(&["ACTIVED", "ACTIVED"]);
        // DELETE then RESTORE of the same asset, both SUCCESS: back in a live state, or (RESTORE
        // first, a no-op on a live asset) in the bin.
        let actions = ["RESTORE", "DELETE"];
        let said = vec![vec![Said::Success, Said::Untouched], vec![Said::Success, Said::Untouched]];
        assert!(explained(&m, &before, &actions, &said, &v(&["UNACTIVED", "ACTIVED"])));
        assert!(explained(&m, &before, &actions, &said, &v(&["DELETING", "ACTIVED"])));
        // A RESTORE that failed did nothing: only the DELETE acted, in any order.
        let said = vec![vec![Said::Failed, Said::Untouched], vec![Said::Success, Said::Untouched]];
        assert!(explained(&m, &before, &actions, &said, &v(&["DELETING", "ACTIVED"])));
        assert!(!explained(&m, &before, &actions, &said, &v(&["ACTIVED", "ACTIVED"])));
        // The asset not in any batch never moves.
        assert!(!explained(&m, &before, &actions, &said, &v(&["DELETING", "UNACTIVED"])));
    }

    #[test]
    fn a_lost_update_on_disjoint_assets_has_no_order() {
        let m = model();
        let before = v(&["ACTIVED", "ACTIVED"]);
        let actions = ["UNACTIVE", "DELETE"];
        let said = vec![vec![Said::Success, Said::Untouched], vec![Said::Untouched, Said::Success]];
        assert!(explained(&m, &before, &actions, &said, &v(&["UNACTIVED", "DELETING"])));
        // The second batch wrote back the first one's asset as it found it.
        assert!(!explained(&m, &before, &actions, &said, &v(&["ACTIVED", "DELETING"])));
    }

    #[test]
    fn permutations_are_all_visited() {
        let mut v = vec![0, 1, 2];
        let mut n = 1;
        while next_permutation(&mut v) {
            n += 1;
        }
        assert_eq!(n, 6);
    }
}

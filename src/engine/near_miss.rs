//! The near-miss trial: what a storage collation or a normalising id column does to ids that are
//! not quite a fixture's, and what a lookup cache keyed by the URL as it came does to spellings.
//!
//! - Near misses: for each kind ([`crate::generate::near_miss`]: case flipped, a trailing or
//!   leading space, full-width letters, another normal form, percent-encoded), one `UNACTIVE` of
//!   the near misses of every live fixture and a made-up id. A near miss is answered like the
//!   made-up id (the contract does not say how an id that names no asset is answered: whatever
//!   the made-up id gets, a 400 included, is right), and the fixture, in no batch, stays as it
//!   was. `UNACTIVE` is undone by `ACTIVE`, which the end of the trial sends.
//! - Spellings: every fixture is looked up in each spelling RFC 3986 makes equivalent (an
//!   unreserved character percent-encoded, hex digits in lower case) before, and after an
//!   `UNACTIVE` and an `ACTIVE` of the fixtures: every spelling shows the current state.
//!
//! Safety: a near miss is sent only after a lookup of it answers "not found", or answers the
//! fixture itself (its body, with the near miss where the fixture's id was): a near miss that
//! names another asset of the user's is never acted on.

use serde_json::Value;

use super::model::Model;
use super::stateful::Failure;
use super::trial::Interrupted;
use super::{Engine, Stopped, Unit};
use crate::checks::{Expect, ABSENT};
use crate::exchange::{Exchange, Request};
use crate::generate::near_miss::{near_misses, spellings, NEAR_MISSES};
use crate::generate::AuthMode;

/// What the trial sends the near misses: an action `ACTIVE` undoes.
const PROBE: &str = "UNACTIVE";

impl Engine {
    pub(super) async fn near_misses(
        &self,
        unit: &Unit,
        model: &Model,
        live: &[String],
    ) -> Result<Option<(Failure, Option<(usize, usize)>)>, Interrupted> {
        let tag = format!("{} near misses", unit.name);
        self.make_live(model, live, &tag, self.settle).await?;
        let (mut states, mut bodies) = (Vec::new(), Vec::new());
        for id in live {
            let x = self.observe(id, &format!("{tag} start")).await?;
            states.push(self.state_of(&x).unwrap_or_else(|| ABSENT.to_string()));
            bodies.push(x.response().and_then(|r| r.json()));
        }
        let start: Vec<String> = live.iter().zip(&states).map(|(id, s)| format!("{id:?} {s}")).collect();
        let mut steps = vec![format!("0. looked up: {}", start.join(", "))];
        let mut script: Vec<Request> = Vec::new();
        // Every spelling looked up once first, so a cache keyed by the spelling holds them all.
        if let Some(f) = self.spelled_lookups(unit, live, &states, "before any batch", &tag, &steps, &script).await? {
            return Ok(Some((f, None)));
        }
        let made_up = super::made_up_id(self.seed, &unit.name, 0);
        for kind in NEAR_MISSES.iter().map(|k| k.name) {
            // A run that is ending, or a soak run whose budget is spent, sends no further kind.
            if self.winding_down() || (self.budget.soak() && self.soak_spent()) {
                return Ok(None);
            }
            let label = format!("{tag} {kind}");
            let mut near: Vec<(usize, String)> = Vec::new();
            for (k, id) in live.iter().enumerate() {
                let Some((_, miss)) = near_misses(id).into_iter().find(|(n, m)| *n == kind && !live.contains(m)) else {
                    continue;
                };
                let x = self.observe(&miss, &format!("{label} safe")).await?;
                if self.state_of(&x).as_deref() == Some(ABSENT) || same_asset(&x, bodies[k].as_ref(), &miss, id) {
                    near.push((k, miss));
                }
            }
            if near.is_empty() {
                continue;
            }
            let ids: Vec<String> = near.iter().map(|(_, m)| m.clone()).chain([made_up.clone()]).collect();
            let x = self.send(self.batch_request(PROBE, &ids, &label), AuthMode::Valid).await?;
            let status = x.response().map(|r| r.status.to_string()).unwrap_or_else(|| "no answer".into());
            steps.push(format!(
                "{}. {PROBE} {} ({kind} near misses) -> {status}",
                steps.len(),
                crate::checks::id_list(&ids)
            ));
            let near_ids: Vec<String> = near.iter().map(|(_, m)| m.clone()).collect();
            let expect = match self.group_status_of(&x, &made_up) {
                Some(status) => Expect::Outcome {
                    ids: near_ids,
                    why: format!(
                        "a near miss ({kind}) of a fixture's id names no asset, like {made_up:?}, answered {status}"
                    ),
                    status,
                    or_failed: false,
                },
                None => Expect::Nothing,
            };
            let violations = self.judge(unit, &x, AuthMode::Valid, &expect, &label).await;
            if !violations.is_empty() {
                let failure = Failure { steps, script, at_once: false, exchange: x, violations, expect };
                return Ok(Some((failure, None)));
            }
            script.push(x.request.clone());
            for (k, miss) in &near {
                let id = &live[*k];
                let allowed = vec![states[*k].clone()];
                let found = self.settled_lookup(id, &label, &allowed, self.settle).await.ok_or(Stopped)??;
                let why =
                    format!("it was {} and the batch named only {miss:?}, a near miss ({kind}), not it", states[*k]);
                let expect = Expect::State { id: id.clone(), allowed, why };
                let violations = self.judge(unit, &found, AuthMode::Valid, &expect, &label).await;
                if !violations.is_empty() {
                    let seen = self.state_of(&found).unwrap_or_else(|| "no state".into());
                    steps.push(format!("   then {id:?} looked up: {seen}"));
                    let failure = Failure { steps, script, at_once: false, exchange: found, violations, expect };
                    return Ok(Some((failure, None)));
                }
            }
        }
        // A change, then every spelling must show it: UNACTIVE, then ACTIVE (which also undoes it).
        for action in ["UNACTIVE", "ACTIVE"] {
            let label = format!("{tag} {action}");
            let x = self.send(self.batch_request(action, live, &label), AuthMode::Valid).await?;
            let status = x.response().map(|r| r.status.to_string()).unwrap_or_else(|| "no answer".into());
            steps.push(format!("{}. {action} {} -> {status}", steps.len(), crate::checks::id_list(live)));
            let violations = self.judge(unit, &x, AuthMode::Valid, &Expect::Nothing, &label).await;
            if !violations.is_empty() {
                let failure =
                    Failure { steps, script, at_once: false, exchange: x, violations, expect: Expect::Nothing };
                return Ok(Some((failure, None)));
            }
            script.push(x.request.clone());
            let mut after = Vec::new();
            for (k, id) in live.iter().enumerate() {
                let allowed = model.next(&states[k], action, self.said(&x, id, live));
                let found = self.settled_lookup(id, &label, &allowed, self.settle).await.ok_or(Stopped)??;
                let why = format!("it was {} and {action} of it answered {status}", states[k]);
                let expect = Expect::State { id: id.clone(), allowed, why };
                let violations = self.judge(unit, &found, AuthMode::Valid, &expect, &label).await;
                if !violations.is_empty() {
                    let failure = Failure { steps, script, at_once: false, exchange: found, violations, expect };
                    return Ok(Some((failure, None)));
                }
                after.push(self.state_of(&found).unwrap_or_else(|| ABSENT.to_string()));
            }
            states = after;
            let when = format!("after the {action}");
            if let Some(f) = self.spelled_lookups(unit, live, &states, &when, &tag, &steps, &script).await? {
                return Ok(Some((f, None)));
            }
        }
        Ok(None)
    }

    /// Looks every fixture up in each of its other spellings: each must show its state as the
    /// usual spelling just did (`states`); one that does not is asked again once the usual
    /// spelling has settled, and only then is a divergence.
    #[allow(clippy::too_many_arguments)]
    async fn spelled_lookups(
        &self,
        unit: &Unit,
        live: &[String],
        states: &[String],
        when: &str,
        tag: &str,
        steps: &[String],
        script: &[Request],
    ) -> Result<Option<Failure>, Stopped> {
        for (k, id) in live.iter().enumerate() {
            for (name, segment) in spellings(id) {
                let label = format!("{tag} spelled {name}");
                let allowed = vec![states[k].clone()];
                let Some(req) = self.lookup_request_spelled(&segment, &label) else { return Ok(None) };
                let mut x = self.send(req.clone(), AuthMode::Valid).await?;
                if self.state_of(&x).is_none_or(|s| !allowed.contains(&s)) {
                    self.tally.observe(&x, AuthMode::Valid);
                    if let Some(settled) = self.settled_lookup(id, &label, &allowed, self.settle).await {
                        self.tally.observe(&settled?, AuthMode::Valid);
                    }
                    x = self.send(req, AuthMode::Valid).await?;
                }
                let why = format!(
                    "{id:?} is {} {when}, and {segment:?} ({name}) is the same id in a URL (RFC 3986)",
                    states[k]
                );
                let expect = Expect::State { id: id.clone(), allowed, why };
                let violations = self.judge(unit, &x, AuthMode::Valid, &expect, &label).await;
                if !violations.is_empty() {
                    let mut steps = steps.to_vec();
                    let seen = self.state_of(&x).unwrap_or_else(|| "no state".into());
                    steps.push(format!("   then {id:?} looked up as {segment:?} ({name}) {when}: {seen}"));
                    let failure =
                        Failure { steps, script: script.to_vec(), at_once: false, exchange: x, violations, expect };
                    return Ok(Some(failure));
                }
            }
        }
        Ok(None)
    }

    /// The `ret_status` of the group a 200 answer lists `id` in, if it is one and lists it.
    fn group_status_of(&self, x: &Exchange, id: &str) -> Option<String> {
        let resp = x.response().filter(|r| r.status == 200)?;
        let spec = self.contract.batch();
        let body = resp.json()?;
        let groups = body.pointer(&spec.groups)?.as_array()?;
        groups
            .iter()
            .find(|g| g.pointer(&spec.group_ids).and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == id)))
            .and_then(|g| g.pointer(&spec.group_status).and_then(Value::as_str).map(str::to_string))
    }
}

/// Is the lookup of `miss` the fixture `id` itself, seen through a lookup that normalises ids:
/// the fixture's body, with `miss` wherever the fixture's id was? (Then acting on the near miss
/// acts on a fixture, which the trial undoes; another asset is never acted on.)
fn same_asset(x: &Exchange, fixture: Option<&Value>, miss: &str, id: &str) -> bool {
    fn swap(v: &Value, miss: &str, id: &str) -> Value {
        match v {
            Value::String(s) if s == miss => Value::String(id.to_string()),
            Value::Array(a) => Value::Array(a.iter().map(|v| swap(v, miss, id)).collect()),
            Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), swap(v, miss, id))).collect()),
            other => other.clone(),
        }
    }
    let seen = x.response().filter(|r| r.status == 200).and_then(|r| r.json());
    matches!((seen, fixture), (Some(seen), Some(fixture)) if swap(&seen, miss, id) == *fixture)
}

//! Sequences: steps on the sequence's own fixtures whose expectations depend on earlier steps
//! (what `DELETE` did, `RESTORE` undoes). The first step that diverges ends the sequence, reported
//! with the steps before it.

use std::collections::BTreeMap;

use super::model::{Model, Said};
use super::{Divergence, Engine, Stopped, Unit};
use crate::cases::Step;
use crate::checks::Expect;
use crate::generate::{AuthMode, GenRequest};

impl Engine {
    pub(super) async fn sequence(
        &self,
        unit: &Unit,
        steps: &[Step],
        fixtures: &[String],
    ) -> Result<Vec<Divergence>, Stopped> {
        let mut done: Vec<String> = Vec::new();
        // Every request sent so far, batches and lookups: a reproduction replays them in order.
        let mut script = Vec::new();
        let model = self.contract.manifest.lifecycle.as_ref().map(Model::new);
        // The states each fixture may be in, as the answers say (the case's `after` assumes each
        // batch did what it asked; an all-or-nothing batch with a failing id did nothing).
        let mut known: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Fixtures whose last batch answered FAILED where the case expected SUCCESS, by step.
        let mut refused: BTreeMap<String, usize> = BTreeMap::new();
        for (n, step) in steps.iter().enumerate() {
            let label = format!("{} step {}", unit.name, n + 1);
            let mut acted: Option<(&str, Vec<String>, bool)> = None;
            let (exchange, expect, line) = match step {
                Step::Act { action, ids, expect } => {
                    let body = self.step_body(unit, fixtures, n, action, ids);
                    let sent: Vec<String> = body
                        .pointer(&self.contract.batch().request_ids)
                        .and_then(|v| v.as_array())
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    let others_fail = sent.iter().any(|i| !fixtures.contains(i));
                    let or_failed = expect.is_some() && model.as_ref().is_some_and(|m| m.may_fail_with(others_fail));
                    let expect = match expect {
                        Some(status) => Expect::Outcome {
                            ids: sent.iter().filter(|i| fixtures.contains(i)).cloned().collect(),
                            status: status.clone(),
                            why: if or_failed {
                                format!("`{action}` on an asset in a state that allows it succeeds, or (all or nothing) fails with the batch's unknown id")
                            } else {
                                format!("`{action}` on an asset in a state that allows it succeeds")
                            },
                            or_failed,
                        },
                        None => Expect::Nothing,
                    };
                    acted = Some((action.as_str(), sent.clone(), or_failed));
                    let x = self.send(self.build(&GenRequest::json(body), &label), AuthMode::Valid).await?;
                    let status = x.response().map(|r| r.status.to_string()).unwrap_or_else(|| "no answer".into());
                    (x, expect, format!("{}. {action} {} -> {status}", n + 1, crate::checks::id_list(&sent)))
                }
                Step::Observe { id, states, why } => {
                    let id = self.resolve(unit, fixtures, id, n);
                    // After a batch that did nothing (all or nothing), the state it had before.
                    let (states, why) = match (refused.get(&id), known.get(&id)) {
                        (Some(step), Some(before)) => (
                            before.clone(),
                            format!(
                                "step {step} answered FAILED for it (the batch was all or nothing): nothing was done"
                            ),
                        ),
                        _ => (states.clone(), why.clone()),
                    };
                    let (states, why) = (&states, &why);
                    let Some(x) = self.settled_lookup(&id, &label, states, self.settle).await else {
                        done.push(format!("{}. (no lookup in the contract: cannot observe {id:?})", n + 1));
                        continue;
                    };
                    let x = x?;
                    let state_at = self.contract.lookup.as_ref().map(|l| l.state.clone()).unwrap_or_default();
                    let state = x
                        .response()
                        .and_then(|r| r.json())
                        .and_then(|b| b.pointer(&state_at).cloned())
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| {
                            x.response().map(|r| format!("status {}", r.status)).unwrap_or("no answer".into())
                        });
                    let expect = Expect::State { id: id.clone(), allowed: states.clone(), why: why.clone() };
                    (x, expect, format!("{}. look up {id:?} -> {state}", n + 1))
                }
            };
            let violations = self.judge(unit, &exchange, AuthMode::Valid, &expect, &label).await;
            if !violations.is_empty() {
                // Later steps build on this one: stop here, the rest would only echo it.
                return Ok(self.divergence(unit, violations, exchange, &expect, done, script).into_iter().collect());
            }
            if let (Some(model), Some((action, sent, or_failed))) = (&model, acted) {
                for id in sent.iter().filter(|i| fixtures.contains(i)) {
                    let said = self.said(&exchange, id, &sent);
                    match model.follow(known.get(id).map(Vec::as_slice), action, said) {
                        Some(states) => known.insert(id.clone(), states),
                        None => known.remove(id),
                    };
                    if or_failed && said == Said::Failed {
                        refused.insert(id.clone(), n + 1);
                    } else {
                        refused.remove(id);
                    }
                }
            } else if let (Step::Observe { .. }, Some(state)) = (step, self.state_of(&exchange)) {
                if let Some(id) = expect_id(&expect) {
                    known.insert(id, vec![state]);
                }
            }
            script.push(exchange.request);
            done.push(line);
        }
        Ok(vec![])
    }
}

/// The asset a state expectation is about.
fn expect_id(expect: &Expect) -> Option<String> {
    match expect {
        Expect::State { id, .. } => Some(id.clone()),
        _ => None,
    }
}

//! Sequences: steps on the sequence's own fixtures whose expectations depend on earlier steps
//! (what `DELETE` did, `RESTORE` undoes). The first step that diverges ends the sequence, reported
//! with the steps before it.

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
        for (n, step) in steps.iter().enumerate() {
            let label = format!("{} step {}", unit.name, n + 1);
            let (exchange, expect, line) = match step {
                Step::Act { action, ids, expect } => {
                    let body = self.step_body(unit, fixtures, n, action, ids);
                    let sent: Vec<String> = body
                        .pointer(&self.contract.batch().request_ids)
                        .and_then(|v| v.as_array())
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    let expect = match expect {
                        Some(status) => Expect::Outcome {
                            ids: sent.iter().filter(|i| fixtures.contains(i)).cloned().collect(),
                            status: status.clone(),
                            why: format!("`{action}` on an asset in a state that allows it succeeds"),
                        },
                        None => Expect::Nothing,
                    };
                    let x = self.send(self.build(&GenRequest::json(body), &label), AuthMode::Valid).await?;
                    let status = x.response().map(|r| r.status.to_string()).unwrap_or_else(|| "no answer".into());
                    (x, expect, format!("{}. {action} {} -> {status}", n + 1, crate::checks::id_list(&sent)))
                }
                Step::Observe { id, states, why } => {
                    let id = self.resolve(unit, fixtures, id, n);
                    let Some(x) = self.settled_lookup(&id, &label, states).await else {
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
            script.push(exchange.request);
            done.push(line);
        }
        Ok(vec![])
    }
}

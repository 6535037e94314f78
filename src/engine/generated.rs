//! Generated trials (properties, negative rules, bad credentials): examples stream through
//! send-and-judge a few at a time, and only the first failure of each kind is kept, with its value
//! tree, for shrinking. Memory stays flat however many examples a trial draws.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};
use proptest::strategy::ValueTree;

use super::trial::{Generator, Interrupted};
use super::{Divergence, Engine, Part, Unit};
use crate::checks::{Violation, CONNECTION};
use crate::exchange::Exchange;
use crate::generate::{self, GenRequest, Source};

/// The first example that showed a kind of failure: what shrinking starts from.
struct First {
    tree: Box<dyn ValueTree<Value = GenRequest>>,
    exchange: Exchange,
    violations: Vec<Violation>,
    /// From the boundary pass: it cannot shrink, so a random example of the same failure that
    /// comes later takes its place.
    boundary: bool,
}

impl Engine {
    /// Sends the trial's boundary requests (each keyword's edge values, from the schema), then its
    /// random examples, `concurrency` at a time, in the order they were drawn, and shrinks the
    /// first example of each distinct failure (same check, same place).
    pub(super) async fn generated(&self, unit: &Unit, g: Generator) -> Result<Vec<Divergence>, Interrupted> {
        let rule = match &unit.part {
            Part::Rule(r) => Some(r.as_str()),
            _ => None,
        };
        let boundaries = generate::boundary_trees(&self.contract, &unit.case, rule, &self.fixtures.pool)
            .map_err(|e| Interrupted::Failed(format!("the boundary pass failed: {e}")))?;
        let edges = boundaries.len();
        let mut boundaries = boundaries.into_iter();
        let mut source = Source::new(self.seed, &unit.name);
        let expect = &g.expect;
        // Trees are drawn one after another as the stream is polled, so the same seed draws the
        // same requests whatever the timing; `buffered` hands results back in that order too.
        // A soak run draws until its budget is spent; an ordinary one draws `examples`.
        let last = if self.budget.soak() { usize::MAX } else { edges + g.examples as usize };
        let mut results = stream::iter(0..last)
            .take_while(|i| {
                let more = *i < edges || !self.budget.soak() || !self.soak_spent();
                std::future::ready(more && !self.winding_down())
            })
            .map(|i| {
                let tree = match boundaries.next() {
                    Some(edge) => Ok(edge),
                    None => source.tree(&g.strategy),
                };
                async move {
                    let tree = tree.map_err(|e| Interrupted::Failed(format!("the generator failed: {e}")))?;
                    let label = format!("{}#{i}", unit.name);
                    let (exchange, violations) = self.send_and_judge(unit, &tree.current(), expect, &label).await?;
                    Ok::<_, Interrupted>((i < edges, tree, exchange, violations))
                }
            })
            .buffered(self.concurrency.max(1));
        let mut firsts: BTreeMap<(String, String), First> = BTreeMap::new();
        while let Some(result) = results.next().await {
            let (boundary, tree, exchange, violations) = result?;
            let new: Vec<(String, String)> = violations
                .iter()
                .map(Violation::key)
                .filter(|k| firsts.get(k).is_none_or(|f| f.boundary && !boundary))
                .collect();
            let Some((last, rest)) = new.split_last() else { continue };
            // One example may be the first of several kinds; each kind keeps its own copy.
            for key in rest {
                let tree = source_copy(&tree);
                let first = First { tree, exchange: exchange.clone(), violations: violations.clone(), boundary };
                firsts.insert(key.clone(), first);
            }
            firsts.insert(last.clone(), First { tree, exchange, violations, boundary });
        }
        drop(results);
        let mut out: Vec<Divergence> = Vec::new();
        for (key, first) in firsts {
            // A failure already shown by a reported request needs no report of its own.
            if out.iter().any(|d| d.violations.iter().any(|v| v.key() == key)) {
                continue;
            }
            let auth = first.tree.current().auth;
            let (exchange, violations, shrink) = if key.0 == CONNECTION || self.winding_down() {
                // A connection that fails fails for every smaller request too, each after a
                // timeout: shrinking would only make a dead target take longer to report. A run
                // that is ending reports what it found as it found it.
                (first.exchange, first.violations, None)
            } else {
                let (x, v, stats) =
                    self.shrink(unit, first.tree, expect, &key, first.exchange, first.violations).await?;
                (x, v, Some(stats))
            };
            out.push(Divergence {
                trial: unit.name.clone(),
                violations,
                exchange,
                seed: self.seed,
                steps: vec![],
                script: vec![],
                at_once: false,
                shrink,
                auth,
                expect: expect.clone(),
            });
        }
        Ok(out)
    }
}

/// A tree whose current value is the same request, for a second kind of failure shown by one
/// example. It cannot shrink (proptest trees cannot be cloned); the first kind's tree does.
fn source_copy(tree: &dyn ValueTree<Value = GenRequest>) -> Box<dyn ValueTree<Value = GenRequest>> {
    Box::new(Fixed(tree.current()))
}

struct Fixed(GenRequest);

impl ValueTree for Fixed {
    type Value = GenRequest;
    fn current(&self) -> GenRequest {
        self.0.clone()
    }
    fn simplify(&mut self) -> bool {
        false
    }
    fn complicate(&mut self) -> bool {
        false
    }
}

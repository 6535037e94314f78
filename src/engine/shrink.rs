//! Shrinking: proptest's loop, run by hand so that each step can send a request. Simplify while
//! the same failure (same check, same place) shows; step back when it does not.

use std::time::Instant;

use proptest::strategy::ValueTree;

use super::{Engine, Stopped, Unit};
use crate::checks::{Expect, Violation};
use crate::exchange::Exchange;
use crate::generate::GenRequest;

/// Requests one shrink may send at most, besides its time budget.
const MAX_TRIES: usize = 500;

impl Engine {
    /// The smallest request that still fails as `key` says, what it got, and how many smaller
    /// requests were tried and still failed that way.
    pub(super) async fn shrink(
        &self,
        unit: &Unit,
        mut tree: Box<dyn ValueTree<Value = GenRequest>>,
        expect: &Expect,
        key: &(String, String),
        mut best: Exchange,
        mut best_violations: Vec<Violation>,
    ) -> Result<(Exchange, Vec<Violation>, (usize, usize)), Stopped> {
        let started = Instant::now();
        let (mut tries, mut kept) = (0usize, 0usize);
        let mut more = tree.simplify();
        // A run that is ending keeps the smallest request found so far.
        while more && started.elapsed() < self.shrink_budget && tries < MAX_TRIES && !self.winding_down() {
            tries += 1;
            let label = format!("{}~{tries}", unit.name);
            let (x, v) = self.send_and_judge(unit, &tree.current(), expect, &label).await?;
            if v.iter().any(|v| &v.key() == key) {
                kept += 1;
                best = x;
                best_violations = v;
                more = tree.simplify();
            } else {
                more = tree.complicate();
            }
        }
        // Report the failure shrinking stayed on first, then whatever else the request shows.
        best_violations.sort_by_key(|v| &v.key() != key);
        Ok((best, best_violations, (tries, kept)))
    }
}

//! What a reporter remembers of the trials it was told of, in plan order: how each ended, how
//! long it took, and its divergences. Each reporter keeps its own, from the one event stream, so
//! reports list trials the same way whatever order they finished in.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engine::Divergence;
use crate::events::{Event, TrialEnd};

/// One trial as reported.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// `property`, `negative`, …
    pub kind: &'static str,
    /// `None` while it runs.
    pub end: Option<TrialEnd>,
    pub elapsed: Duration,
}

impl Row {
    /// The trial's divergences, in the order it found them.
    pub fn divergences(&self) -> &[Divergence] {
        match &self.end {
            Some(TrialEnd::Diverged(found)) => found,
            _ => &[],
        }
    }
}

#[derive(Debug, Default)]
pub struct Trials {
    rows: BTreeMap<usize, Row>,
}

/// How many trials ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    /// Diverged, or could not run.
    pub failed: usize,
    pub skipped: usize,
    /// Cut short because the run stopped.
    pub stopped: usize,
}

impl Trials {
    pub fn on(&mut self, event: &Event) {
        let row = |unit: &crate::engine::Unit| Row {
            name: unit.name.clone(),
            kind: unit.case.kind(),
            end: None,
            elapsed: Duration::ZERO,
        };
        match event {
            Event::TrialStarted { unit } => {
                self.rows.insert(unit.index, row(unit));
            }
            Event::TrialFinished { unit, end, elapsed } => {
                let r = self.rows.entry(unit.index).or_insert_with(|| row(unit));
                r.end = Some((*end).clone());
                r.elapsed = *elapsed;
            }
            Event::Judged { .. } | Event::Divergence { .. } => {}
        }
    }

    /// Every trial told of, in plan order.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.values()
    }

    /// Every divergence, in plan order, and in the order each trial found them.
    pub fn divergences(&self) -> impl Iterator<Item = &Divergence> {
        self.rows.values().flat_map(|r| r.divergences().iter())
    }

    /// Each check that diverged, and the trials it diverged in (each once, in plan order).
    pub fn per_check(&self) -> std::collections::BTreeMap<&str, Vec<&str>> {
        let mut per_check: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for d in self.divergences() {
            for v in &d.violations {
                let trials = per_check.entry(v.check.as_str()).or_default();
                if !trials.contains(&d.trial.as_str()) {
                    trials.push(&d.trial);
                }
            }
        }
        per_check
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in self.rows.values() {
            match &r.end {
                Some(TrialEnd::Passed) => c.passed += 1,
                Some(TrialEnd::Diverged(_) | TrialEnd::Failed(_)) => c.failed += 1,
                Some(TrialEnd::Skipped(_)) => c.skipped += 1,
                Some(TrialEnd::Stopped) | None => c.stopped += 1,
            }
        }
        c
    }
}

/// A [`Trials`] that can be read while (and after) the hub owns it: for tests, and for callers
/// that want the divergences themselves rather than a report.
#[derive(Clone, Default)]
pub struct Collector(std::sync::Arc<std::sync::Mutex<Trials>>);

impl Collector {
    /// Every divergence told of so far, in plan order.
    pub fn divergences(&self) -> Vec<Divergence> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).divergences().cloned().collect()
    }

    /// Every trial told of so far, in plan order.
    pub fn rows(&self) -> Vec<Row> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).rows().cloned().collect()
    }
}

impl crate::events::Reporter for Collector {
    fn on(&mut self, event: &Event) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).on(event);
    }
}

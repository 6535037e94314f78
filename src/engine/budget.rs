//! How long a run may go on. An ordinary run draws a fixed number of examples per trial; a soak
//! run (`--duration`, `--requests`) keeps every trial generating until its budget is spent; and
//! `--max-duration` bounds any run, ending it as "cannot be tested" if the target is too slow
//! to be tested within it; an interrupt (Ctrl-C, SIGTERM) ends it as the user asked.
//!
//! Both end a run the same way ([`Budget::ended`]): no new work starts, the work under way
//! finishes (requests in flight, each within its timeout; fixtures being put back), and the
//! reports say why the run ended early.

use std::time::{Duration, Instant};

use crate::interrupt::{Interrupt, Signal};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Keep generating for this long (a soak run).
    pub duration: Option<Duration>,
    /// Keep generating until this many requests were sent (a soak run).
    pub requests: Option<u64>,
    /// Stop any run after this long, whatever it is doing.
    pub max_duration: Option<Duration>,
}

impl Limits {
    pub fn soak(&self) -> bool {
        self.duration.is_some() || self.requests.is_some()
    }
}

/// Why a run ended before its work was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Past `--max-duration`, which it names.
    OutOfTime(Duration),
    Interrupted(Signal),
}

/// The limits, started.
#[derive(Debug, Clone)]
pub struct Budget {
    pub limits: Limits,
    started: Instant,
    interrupt: Interrupt,
}

impl Budget {
    pub fn start(limits: Limits) -> Budget {
        Budget { limits, started: Instant::now(), interrupt: Interrupt::default() }
    }

    /// The same budget, ended early by `interrupt`'s signal.
    pub fn with_interrupt(mut self, interrupt: Interrupt) -> Budget {
        self.interrupt = interrupt;
        self
    }

    /// Has the run been told to end early? The interrupt first: the user's word outranks a bound.
    pub fn ended(&self) -> Option<Ending> {
        if let Some(signal) = self.interrupt.received() {
            return Some(Ending::Interrupted(signal));
        }
        self.limits.max_duration.filter(|_| self.overrun()).map(Ending::OutOfTime)
    }

    /// Is this a soak run, where trials generate until the budget is spent?
    pub fn soak(&self) -> bool {
        self.limits.soak()
    }

    /// Has a soak run spent its budget, `sent` requests in?
    pub fn spent(&self, sent: u64) -> bool {
        let elapsed = self.started.elapsed();
        self.limits.duration.is_some_and(|d| elapsed >= d) || self.limits.requests.is_some_and(|n| sent >= n)
    }

    /// Has the run gone past `--max-duration`?
    pub fn overrun(&self) -> bool {
        self.limits.max_duration.is_some_and(|d| self.started.elapsed() >= d)
    }

    /// What is left of a soak run: time, requests (for the progress display).
    pub fn left(&self, sent: u64) -> (Option<Duration>, Option<u64>) {
        let time = self.limits.duration.map(|d| d.saturating_sub(self.started.elapsed()));
        let requests = self.limits.requests.map(|n| n.saturating_sub(sent));
        (time, requests)
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::start(Limits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_spent_by_time_or_by_requests() {
        let b = Budget::start(Limits { requests: Some(10), ..Limits::default() });
        assert!(b.soak() && !b.spent(9) && b.spent(10));
        assert_eq!(b.left(4), (None, Some(6)));
        let b = Budget::start(Limits { duration: Some(Duration::ZERO), ..Limits::default() });
        assert!(b.soak() && b.spent(0));
        let b = Budget::start(Limits::default());
        assert!(!b.soak() && !b.spent(u64::MAX) && !b.overrun());
        let b = Budget::start(Limits { max_duration: Some(Duration::ZERO), ..Limits::default() });
        assert!(!b.soak() && b.overrun());
        assert_eq!(b.ended(), Some(Ending::OutOfTime(Duration::ZERO)));
    }

    #[test]
    fn an_interrupt_ends_a_run_before_any_bound() {
        let interrupt = Interrupt::default();
        let b = Budget::start(Limits { max_duration: Some(Duration::ZERO), ..Limits::default() })
            .with_interrupt(interrupt.clone());
        assert_eq!(b.ended(), Some(Ending::OutOfTime(Duration::ZERO)));
        interrupt.raise(Signal::Terminate);
        assert_eq!(b.ended(), Some(Ending::Interrupted(Signal::Terminate)));
        assert_eq!(Budget::default().ended(), None);
    }
}

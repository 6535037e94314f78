//! What the engine tells the reporters while a run goes.
//!
//! The engine emits one stream of events; everything a person or a CI system sees is a consumer
//! of it: the libtest lines, the progress display, the summary per check, JUnit and JSON. No
//! reporter reads the engine's fields, and the engine knows none of them.

use std::sync::Mutex;
use std::time::Duration;

use crate::checks::Violation;
use crate::engine::{Divergence, Unit};
use crate::exchange::Exchange;

/// How one trial ended.
#[derive(Debug, Clone)]
pub enum TrialEnd {
    /// Every exchange conformed.
    Passed,
    /// At least one divergence (each also emitted as [`Event::Divergence`] when it was found).
    Diverged(Vec<Divergence>),
    /// The trial could not run (a generator failed, fixtures were missing…).
    Failed(String),
    /// Not run here, and why (missing fixtures, credentials or consent).
    Skipped(String),
    /// Not run, or cut short with nothing found, because the run stopped (the target cannot be
    /// tested) or ended early (`--max-duration`, an interrupt).
    Stopped,
}

/// The headings under which trials without a verdict of their own are listed.
pub const COULD_NOT_RUN: &str = "could not run";
pub const SKIPPED: &str = "skipped";

impl TrialEnd {
    /// For a trial that could not run or was skipped: the heading it is listed under, and why.
    pub fn reason(&self) -> Option<(&'static str, &str)> {
        match self {
            TrialEnd::Failed(why) => Some((COULD_NOT_RUN, why)),
            TrialEnd::Skipped(why) => Some((SKIPPED, why)),
            _ => None,
        }
    }
}

/// One thing that happened.
#[derive(Debug)]
pub enum Event<'a> {
    TrialStarted {
        unit: &'a Unit,
    },
    /// An exchange was sent and judged (with no violation, or some). The bodies come parsed (once,
    /// by the judging), where they are JSON.
    Judged {
        unit: &'a Unit,
        exchange: &'a Exchange,
        violations: &'a [Violation],
        request_json: Option<&'a serde_json::Value>,
        response_json: Option<&'a serde_json::Value>,
    },
    /// A divergence, on its smallest request, as it will be reported.
    Divergence {
        unit: &'a Unit,
        divergence: &'a Divergence,
    },
    TrialFinished {
        unit: &'a Unit,
        end: &'a TrialEnd,
        elapsed: Duration,
    },
}

/// How the whole run ended, for the reporters' last word.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub seed: u64,
    /// Requests sent, answers still 429 after retries (not judged), and exchanges judged.
    pub sent: u64,
    pub throttled: u64,
    pub judged: u64,
    /// How the target throttled the run: 429 answers (retried) and the rate it let through.
    pub throttling: crate::send::Throttling,
    /// Why the run stopped early: the target cannot be tested.
    pub stopped: Option<String>,
    /// The signal that interrupted the run (`SIGINT (Ctrl-C)`, `SIGTERM`), if one did: what was
    /// found is reported, but trials were cut short or not run.
    pub interrupted: Option<String>,
    /// Why the run had its verdict before its end (every answer broken the same way), if it did:
    /// the trials not started are listed as not run.
    pub ended_early: Option<String>,
    /// Notes on the contract the target's answers bore out (where the page and the platform
    /// differ, `platform.gateway`'s notes in the manifest): said once each, not divergences.
    pub contract_notes: Vec<String>,
    pub elapsed: Duration,
    /// What putting the fixtures back at the end of the run did (none without fixtures).
    pub put_back: Option<String>,
    /// How to show the run's divergences (its secrets, its bundled server).
    pub context: crate::report::render::Context,
}

/// A consumer of the event stream.
pub trait Reporter: Send {
    fn on(&mut self, event: &Event);

    /// The run is over: write the file, print the summary. An error here (a report that could
    /// not be written) is the user's to fix.
    fn finish(&mut self, _end: &RunEnd) -> Result<(), crate::error::SetupError> {
        Ok(())
    }
}

/// Where the engine sends its events.
pub trait Sink: Send + Sync {
    fn emit(&self, event: Event);
}

/// Events go nowhere (a dry run, a test of the engine alone).
pub struct Discard;

impl Sink for Discard {
    fn emit(&self, _: Event) {}
}

/// Hands every event to each reporter in turn, one event at a time.
#[derive(Default)]
pub struct Hub {
    reporters: Mutex<Vec<Box<dyn Reporter>>>,
}

impl Hub {
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Hub {
        Hub { reporters: Mutex::new(reporters) }
    }

    pub fn add(&self, reporter: Box<dyn Reporter>) {
        self.reporters.lock().unwrap_or_else(|e| e.into_inner()).push(reporter);
    }

    /// Every reporter's last word, in order; every one runs even when an earlier one fails, and
    /// the first failure is returned.
    pub fn finish(&self, end: &RunEnd) -> Result<(), crate::error::SetupError> {
        let mut first = Ok(());
        for r in self.reporters.lock().unwrap_or_else(|e| e.into_inner()).iter_mut() {
            let done = r.finish(end);
            if first.is_ok() {
                first = done;
            }
        }
        first
    }
}

impl Sink for Hub {
    fn emit(&self, event: Event) {
        for r in self.reporters.lock().unwrap_or_else(|e| e.into_inner()).iter_mut() {
            r.on(&event);
        }
    }
}

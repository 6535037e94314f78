//! The engine: the plan of trials, and running them against a target: generate, send, judge,
//! shrink; sequences on fixtures; the tally that says whether the run tested anything.
//!
//! It knows nothing of the command line or of how results are shown: it emits
//! [`crate::events::Event`]s, and sends through one seam ([`crate::send::Exchanger`]), so its
//! own tests drive it against the reference server in memory.

mod budget;
mod fixtures;
mod generated;
mod keyguard;
mod model;
mod near_miss;
pub mod plan;
mod put_back;
pub mod replay;
mod scripted;
mod sequence;
mod shrink;
mod stateful;
pub mod suite;
mod trial;
pub mod verdict;

use std::sync::Arc;
use std::time::Duration;

use crate::checks::{Expect, RunState, Violation};
use crate::contract::Contract;
use crate::events::{Discard, Sink};
use crate::exchange::{Exchange, Request};
use crate::generate::AuthMode;
use crate::send::{Credentials, Exchanger, Target};

pub use budget::{Budget, Limits};
pub use fixtures::Fixtures;
pub use keyguard::{KeyGuard, FAILURES_BETWEEN_VALID};
pub use plan::{Access, Hints, Part, RunOptions, Settings, TargetSpec, Unit};
pub use put_back::{PutBack, Snapshot};
pub use scripted::size_class;
pub use suite::Suite;
pub use trial::made_up_id;
pub use verdict::Tally;

/// One divergence, reported on the smallest request that still shows it.
#[derive(Debug, Clone)]
pub struct Divergence {
    pub trial: String,
    pub violations: Vec<Violation>,
    pub exchange: Exchange,
    pub seed: u64,
    /// For sequences: the earlier steps, one line each, so the failing step reads in context.
    pub steps: Vec<String>,
    /// For sequences: every request the failure depends on, in the order sent (all with valid
    /// credentials), before `exchange`'s: what a reproduction or a replay must send first.
    pub script: Vec<Request>,
    /// The batches of `script` were sent at once (concurrent batches): one after another they
    /// may not show what concurrency did.
    pub at_once: bool,
    /// How many smaller requests were tried while shrinking, and how many of them still failed.
    pub shrink: Option<(usize, usize)>,
    /// How the request authenticated, and what the case expected: what a replay needs to send
    /// and judge it the same way.
    pub auth: AuthMode,
    pub expect: Expect,
}

/// The run was stopped (the target cannot be tested): the trial ends without a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// What the engine needs to run trials.
pub struct Engine {
    pub contract: Arc<Contract>,
    pub sender: Arc<dyn Exchanger>,
    pub target: Target,
    pub creds: Credentials,
    pub run: RunState,
    pub seed: u64,
    /// Generated requests per property trial.
    pub examples: u32,
    /// Requests of one trial in flight at once.
    pub concurrency: usize,
    /// Time spent shrinking one divergence at most.
    pub shrink_budget: Duration,
    /// How long a lookup may lag behind a batch (read-your-writes is not promised): a state not
    /// yet what the answer said is looked up again until then.
    pub settle: Duration,
    /// The longest a lookup was seen to lag so far (ms): while shrinking, a lookup is given a
    /// little more than that instead of the whole `settle` (see `settled_lookup`).
    pub lag_seen: std::sync::atomic::AtomicU64,
    pub fixtures: Fixtures,
    pub tally: Tally,
    pub events: Arc<dyn Sink>,
    /// How long the run may go on (a soak run keeps generating until it is spent).
    pub budget: Budget,
    /// The one way requests meant to fail authentication with the run's access key are sent.
    pub keyguard: KeyGuard,
}

impl Engine {
    /// An engine with the usual knobs: 100 examples, 8 in flight, 30 s of shrinking, no bound on
    /// response time, events discarded.
    pub fn new(
        contract: Arc<Contract>,
        sender: Arc<dyn Exchanger>,
        target: Target,
        creds: Credentials,
        seed: u64,
        fixtures: Fixtures,
    ) -> Engine {
        let refused_with = contract.operation().auth.rejected_with;
        let contract_for_tally = Arc::clone(&contract);
        let prefix = target.base.path().to_string();
        Engine {
            contract,
            sender,
            target,
            creds,
            run: RunState::new(None).with_path_prefix(&prefix),
            seed,
            examples: 100,
            concurrency: 8,
            shrink_budget: Duration::from_secs(30),
            settle: plan::DEFAULT_SETTLE,
            lag_seen: 0.into(),
            fixtures,
            tally: Tally::new(Duration::from_secs(10), 8, refused_with).with_contract(contract_for_tally),
            events: Arc::new(Discard),
            budget: Budget::default(),
            keyguard: KeyGuard::default(),
        }
    }

    /// The same engine with a request timeout and concurrency the tally should know of.
    pub fn with_transport(mut self, timeout: Duration, concurrency: usize) -> Engine {
        self.concurrency = concurrency.max(1);
        self.tally = Tally::new(timeout, concurrency, self.contract.operation().auth.rejected_with)
            .with_contract(Arc::clone(&self.contract));
        self
    }
}

#[cfg(test)]
mod tests;

//! Fixture assets and their locks: which existing assets properties share and which each
//! sequence owns, so that no trial changes an asset another trial is observing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// The fixtures of a run.
#[derive(Debug, Default)]
pub struct Fixtures {
    /// Ids that properties and examples may use (only non-destructive actions).
    pub pool: Vec<String>,
    /// Ids per sequence case name.
    pub per_sequence: BTreeMap<String, Vec<String>>,
    locks: HashMap<String, Arc<RwLock<()>>>,
}

impl Fixtures {
    pub fn new(pool: Vec<String>, per_sequence: BTreeMap<String, Vec<String>>) -> Fixtures {
        let locks = pool.iter().chain(per_sequence.values().flatten()).map(|id| (id.clone(), Arc::default())).collect();
        Fixtures { pool, per_sequence, locks }
    }

    /// Every fixture id, pool first.
    pub fn all(&self) -> Vec<String> {
        self.pool.iter().chain(self.per_sequence.values().flatten()).cloned().collect()
    }

    /// The fixtures of one sequence (none if it has none).
    pub fn of_sequence(&self, case: &str) -> &[String] {
        self.per_sequence.get(case).map(Vec::as_slice).unwrap_or_default()
    }

    /// The locks of these fixtures, in one global order so that no two trials deadlock.
    fn locks_of(&self, ids: &[String]) -> Vec<Arc<RwLock<()>>> {
        let mut sorted: Vec<&String> = ids.iter().collect();
        sorted.sort();
        sorted.dedup();
        sorted.into_iter().filter_map(|id| self.locks.get(id).cloned()).collect()
    }

    /// Shared use: trials that only read (or do what does not change a state others observe).
    pub async fn shared(&self, ids: &[String]) -> Vec<OwnedRwLockReadGuard<()>> {
        let mut guards = Vec::new();
        for lock in self.locks_of(ids) {
            guards.push(lock.read_owned().await);
        }
        guards
    }

    /// Sole use: a sequence whose later steps depend on the states its earlier steps left.
    pub async fn exclusive(&self, ids: &[String]) -> Vec<OwnedRwLockWriteGuard<()>> {
        let mut guards = Vec::new();
        for lock in self.locks_of(ids) {
            guards.push(lock.write_owned().await);
        }
        guards
    }
}

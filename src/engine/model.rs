//! The asset lifecycle as the manifest states it (`lifecycle`), as a model the stateful trials
//! compare every lookup with: from a state and what a batch answered for an asset, the states
//! the asset may be seen in next. Where the contract allows several outcomes the model allows
//! them all (RESTORE brings an asset back in any live state; an action the contract says nothing
//! about for a state may answer SUCCESS or FAILED, the state unchanged or moved as the action
//! says; a lookup of an absent asset may answer any of the manifest's absent statuses).
//!
//! The contract is silent on whether a batch is applied id by id or all or nothing, so both
//! conform ([`Model::may_fail_with`]): in a batch where some id fails, an id that would have
//! succeeded may be FAILED (nothing done, its state unchanged) or SUCCESS (its state moved). A
//! batch in which every id allows the action must succeed for every id. Either way what the
//! answer said and the states looked up afterwards must agree: [`Model::next`] follows the answer.

use std::collections::BTreeSet;

use crate::checks::ABSENT;
use crate::contract::Lifecycle;

/// The action that undoes the recoverable ones (not in the manifest's `after`: what it restores
/// to depends on the asset).
pub const RESTORE: &str = "RESTORE";

/// What a batch said about one asset of the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// Reported in the SUCCESS group.
    Success,
    /// Reported FAILED, or the batch was refused (400): nothing was done.
    Failed,
    /// Not in the batch: nothing may change.
    Untouched,
    /// The answer does not say (no answer, a 5xx, the id in no group): either outcome.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Model {
    /// The states an asset is in use in (what ACTIVE and UNACTIVE lead to).
    live: BTreeSet<String>,
    /// The recycle bin: what the actions RESTORE undoes lead to.
    bin: BTreeSet<String>,
    /// What the final actions lead to (`$absent` among them where the manifest allows it).
    gone: BTreeSet<String>,
    lifecycle: Lifecycle,
}

impl Model {
    pub fn new(lifecycle: &Lifecycle) -> Model {
        let after = |actions: &[String]| -> BTreeSet<String> {
            actions.iter().flat_map(|a| lifecycle.after.get(a).cloned().unwrap_or_default()).collect()
        };
        Model {
            live: after(&["ACTIVE".to_string(), "UNACTIVE".to_string()]),
            bin: after(&lifecycle.recoverable_by_restore),
            gone: after(&lifecycle.final_actions),
            lifecycle: lifecycle.clone(),
        }
    }

    pub fn is_live(&self, state: &str) -> bool {
        self.live.contains(state)
    }

    pub fn in_bin(&self, state: &str) -> bool {
        self.bin.contains(state)
    }

    pub fn is_gone(&self, state: &str) -> bool {
        self.gone.contains(state)
    }

    /// May an id whose state allows the action be answered FAILED? Only where another id of the
    /// same batch fails (`others_fail`): an all-or-nothing batch then does nothing at all.
    pub fn may_fail_with(&self, others_fail: bool) -> bool {
        others_fail
    }

    /// The states an asset may be in after `action`, from the states it may be in before
    /// (`None`: not known), given what the batch said about it; `None` when that is not known.
    pub fn follow(&self, before: Option<&[String]>, action: &str, said: Said) -> Option<Vec<String>> {
        match before {
            Some(states) => {
                let mut out: Vec<String> = states.iter().flat_map(|s| self.next(s, action, said)).collect();
                out.sort();
                out.dedup();
                Some(out)
            }
            // From an unknown state, only a promise says where the asset is now.
            None if said == Said::Success => self.lifecycle.after.get(action).cloned(),
            None => None,
        }
    }

    /// The states an asset seen in `state` may be seen in after `action`, given what the batch
    /// said about it. Sorted, never empty.
    pub fn next(&self, state: &str, action: &str, said: Said) -> Vec<String> {
        let mut out: BTreeSet<String> = BTreeSet::new();
        // Nothing undoes a final action: whatever is sent, the asset stays gone.
        if self.is_gone(state) {
            return self.gone.iter().cloned().collect();
        }
        let unchanged = || -> BTreeSet<String> {
            // The bin's states are one place (a service may move an asset from DELETING to
            // WAITING_DELETE on its own).
            if self.in_bin(state) {
                self.bin.clone()
            } else {
                [state.to_string()].into()
            }
        };
        match said {
            Said::Untouched | Said::Failed => out.extend(unchanged()),
            Said::Success => out.extend(self.after_success(state, action, &unchanged())),
            Said::Unknown => {
                out.extend(unchanged());
                out.extend(self.after_success(state, action, &unchanged()));
            }
        }
        out.into_iter().collect()
    }

    fn after_success(&self, state: &str, action: &str, unchanged: &BTreeSet<String>) -> BTreeSet<String> {
        let promised: Option<BTreeSet<String>> = self.lifecycle.after.get(action).map(|s| s.iter().cloned().collect());
        let is_final = self.lifecycle.final_actions.iter().any(|a| a == action);
        match promised {
            // What the action promises, from a live state, and for a final action from anywhere.
            Some(p) if self.is_live(state) || is_final => p,
            // An action the contract does not say is allowed from here: SUCCESS with the state
            // unchanged, or moved as the action says.
            Some(p) => p.union(unchanged).cloned().collect(),
            None if action == RESTORE && self.in_bin(state) => self.live.clone(),
            // RESTORE of a live asset, SHARE, UNSHARE: no state changes.
            None => unchanged.clone(),
        }
    }
}

/// The allowed states, for messages: `ACTIVED or UNACTIVED`.
pub fn either(states: &[String]) -> String {
    states.iter().map(|s| if s == ABSENT { "absent".to_string() } else { s.clone() }).collect::<Vec<_>>().join(" or ")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The model of the built-in contract.
    pub(in crate::engine) fn model() -> Model {
        Model::new(crate::contract::Contract::bundled().unwrap().manifest.lifecycle.as_ref().unwrap())
    }

    /// Owned states, for comparing with the model's answers.
    pub(in crate::engine) fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn promises_and_leniency() {
        let m = model();
        assert_eq!(m.next("ACTIVED", "UNACTIVE", Said::Success), v(&["UNACTIVED"]));
        assert_eq!(m.next("ACTIVED", "UNACTIVE", Said::Failed), v(&["ACTIVED"]));
        assert_eq!(m.next("ACTIVED", "DELETE", Said::Success), v(&["DELETING", "WAITING_DELETE"]));
        assert_eq!(m.next("DELETING", "RESTORE", Said::Success), v(&["ACTIVED", "UNACTIVED"]));
        assert_eq!(m.next("ACTIVED", "RESTORE", Said::Success), v(&["ACTIVED"]));
        assert_eq!(m.next("ACTIVED", "RESTORE", Said::Failed), v(&["ACTIVED"]));
        // A DELETE_FORCE from the bin is as final as from anywhere.
        assert_eq!(m.next("DELETING", "DELETE_FORCE", Said::Success), v(&["$absent", "DELETED"]));
        // The contract does not say ACTIVE works on a deleted asset: either is fine.
        assert_eq!(m.next("DELETING", "ACTIVE", Said::Success), v(&["ACTIVED", "DELETING", "WAITING_DELETE"]));
        // Nothing brings a force-deleted asset back.
        for a in ["ACTIVE", "UNACTIVE", "RESTORE", "DELETE", "DELETE_FORCE", "SHARE"] {
            assert_eq!(m.next("DELETED", a, Said::Success), v(&["$absent", "DELETED"]), "{a}");
            assert_eq!(m.next("$absent", a, Said::Failed), v(&["$absent", "DELETED"]), "{a}");
        }
        assert_eq!(m.next("UNACTIVED", "SHARE", Said::Success), v(&["UNACTIVED"]));
        assert_eq!(m.next("UNACTIVED", "ACTIVE", Said::Unknown), v(&["ACTIVED", "UNACTIVED"]));
        assert_eq!(m.next("UNACTIVED", "ACTIVE", Said::Untouched), v(&["UNACTIVED"]));
    }

    #[test]
    fn an_all_or_nothing_batch_that_failed_left_the_state_as_it_was() {
        let m = model();
        assert!(m.may_fail_with(true) && !m.may_fail_with(false));
        let actived = v(&["ACTIVED"]);
        assert_eq!(m.follow(Some(&actived), "UNACTIVE", Said::Failed), Some(actived.clone()));
        assert_eq!(m.follow(Some(&actived), "UNACTIVE", Said::Success), Some(v(&["UNACTIVED"])));
        assert_eq!(m.follow(None, "ACTIVE", Said::Success), Some(actived));
        assert_eq!(m.follow(None, "UNACTIVE", Said::Failed), None);
    }
}

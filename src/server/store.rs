//! The reference server's assets and the lifecycle the actions move them along. A whole batch is
//! applied under one lock, so concurrent batches on the same ids never lose an update and a
//! lookup never sees half a batch.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::catalogue::{Behaviour, Fault, Variant};

/// The actions of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Delete,
    DeleteForce,
    Restore,
    Unactive,
    Active,
    Share,
    Unshare,
}

impl Action {
    pub const NAMES: &'static [&'static str] =
        &["DELETE", "DELETE_FORCE", "RESTORE", "UNACTIVE", "ACTIVE", "SHARE", "UNSHARE"];

    pub fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "DELETE" => Action::Delete,
            "DELETE_FORCE" => Action::DeleteForce,
            "RESTORE" => Action::Restore,
            "UNACTIVE" => Action::Unactive,
            "ACTIVE" => Action::Active,
            "SHARE" => Action::Share,
            "UNSHARE" => Action::Unshare,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Delete => "DELETE",
            Action::DeleteForce => "DELETE_FORCE",
            Action::Restore => "RESTORE",
            Action::Unactive => "UNACTIVE",
            Action::Active => "ACTIVE",
            Action::Share => "SHARE",
            Action::Unshare => "UNSHARE",
        }
    }
}

/// The states the actions move between (the contract lists more, which no action reaches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Actived,
    Unactived,
    Deleting,
    Deleted,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Actived => "ACTIVED",
            State::Unactived => "UNACTIVED",
            State::Deleting => "DELETING",
            State::Deleted => "DELETED",
        }
    }

    pub(crate) fn is_live(self) -> bool {
        matches!(self, State::Actived | State::Unactived)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub state: State,
    /// The live state `RESTORE` returns to, remembered by `DELETE`.
    pub before_delete: State,
    pub shared: bool,
}

/// Why one id of a batch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    NotFound,
    NotAllowed(Action),
}

impl Failure {
    pub fn code(&self) -> &'static str {
        match self {
            Failure::NotFound => "MSS.00000003",
            Failure::NotAllowed(_) => "MSS.00000005",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::NotFound => "Asset not found".to_string(),
            Failure::NotAllowed(action) => format!("Asset state does not allow {}", action.name()),
        }
    }
}

/// Ordered, not hashed: an id may be 64 KiB long, and hashing reads all of it where comparing
/// stops at the first difference.
type Assets = BTreeMap<String, Asset>;

#[derive(Debug, Default)]
pub struct Store {
    assets: Mutex<Assets>,
    /// Under `lost-concurrent-updates` only: whole copies of the assets, each written back over
    /// them at its instant (a batch's "commit"), the way a read-modify-write without a lock loses
    /// the updates of any batch that ran meanwhile.
    pending: Mutex<Vec<(Instant, Assets)>>,
    /// Under a fault whose id column normalises (or `near-miss-ids-400`): each seeded asset's id
    /// by its key, computed once (nothing creates assets later), so a batch of large ids stays fast.
    keys: Keys,
    loosest: Keys,
}

/// How long after it arrives a batch's changes land under `lost-concurrent-updates` (and how
/// long its answer waits, so a client that waits for the answer never sees the gap).
/// From which batch size `phantom-success-large-batch` reports an id done without doing it.
const PHANTOM_FROM_IDS: usize = 20;

pub(crate) const LOST_UPDATE_WINDOW: Duration = Duration::from_millis(30);

impl Store {
    /// Every fixture exists, `ACTIVED` and not shared; no other id exists.
    pub fn seeded(fixtures: &[String]) -> Store {
        let assets = fixtures
            .iter()
            .map(|id| (id.clone(), Asset { state: State::Actived, before_delete: State::Actived, shared: false }))
            .collect();
        Store { assets: Mutex::new(assets), ..Store::default() }
    }

    /// A panic elsewhere while holding the lock leaves the map whole (each update is one insert
    /// or field write), so a poisoned lock is still safe to use.
    fn lock(&self) -> MutexGuard<'_, Assets> {
        let mut assets = self.assets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        while pending.first().is_some_and(|(at, _)| *at <= now) {
            *assets = pending.remove(0).1;
        }
        assets
    }

    pub fn get(&self, id: &str) -> Option<Asset> {
        self.lock().get(id).cloned()
    }

    /// The asset `id` finds, compared the way the planted fault's id column compares ids.
    pub(crate) fn get_as(&self, id: &str, behaviour: &Behaviour) -> Option<Asset> {
        let assets = self.lock();
        resolve(&assets, &self.keys, id, behaviour).and_then(|found| assets.get(&found).cloned())
    }

    /// Is `id` no asset's id, but one that case, spaces, full-width forms, normal form or
    /// percent-encoding would make an asset's (what `near-miss-ids-400` refuses)?
    pub(crate) fn is_near_miss(&self, id: &str) -> bool {
        let assets = self.lock();
        let keyed = self.loosest.get_or_init(|| assets.keys().map(|a| (loosest(a), a.clone())).collect());
        !assets.contains_key(id) && keyed.contains_key(&loosest(id))
    }

    /// Applies `action` to each id (each distinct id once) atomically; one outcome per id, in order.
    pub fn apply(&self, action: Action, ids: &[&str], behaviour: &Behaviour) -> Vec<Result<(), Failure>> {
        let mut assets = self.lock();
        if behaviour.broken(Fault::LostConcurrentUpdates) {
            // Works on a copy and writes all of it back later, over whatever happened meanwhile.
            let mut copy = assets.clone();
            drop(assets);
            let outcomes = apply_batch(&mut copy, &self.keys, action, ids, behaviour);
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            pending.push((Instant::now() + LOST_UPDATE_WINDOW, copy));
            return outcomes;
        }
        apply_batch(&mut assets, &self.keys, action, ids, behaviour)
    }
}

/// Each seeded asset's id by the planted fault's key (see [`Store`]).
type Keys = std::sync::OnceLock<BTreeMap<String, String>>;

fn apply_batch(
    assets: &mut Assets,
    keys: &Keys,
    action: Action,
    ids: &[&str],
    behaviour: &Behaviour,
) -> Vec<Result<(), Failure>> {
    let fault = behaviour.fault;
    let exists = |assets: &Assets, id: &&str| assets.contains_key(*id);
    let known = ids.iter().filter(|id| exists(assets, id)).count();
    // The ids a phantom-success fault reports SUCCESS without acting on.
    let phantom: Vec<&str> = match fault {
        Some(Fault::PhantomSuccessLargeBatch) if ids.len() >= PHANTOM_FROM_IDS => {
            ids.iter().rev().find(|id| exists(assets, id)).copied().into_iter().collect()
        }
        Some(Fault::PhantomSuccessMixedBatch) if known > 0 && known < ids.len() => {
            ids.iter().filter(|id| exists(assets, id)).copied().collect()
        }
        _ => vec![],
    };
    let outcomes: Vec<Result<(), Failure>> = ids
        .iter()
        .map(|id| if phantom.contains(id) { Ok(()) } else { apply_one(assets, keys, action, id, behaviour) })
        .collect();
    if fault == Some(Fault::ActsOutsideBatch) && action == Action::Unactive {
        if let Some(first) = ids.iter().find(|id| exists(assets, id)) {
            let stem = &first[..first.len() - first.chars().last().map_or(0, char::len_utf8)];
            let mut next: Vec<&String> = assets
                .keys()
                .filter(|k| k.as_str() > *first && k.starts_with(stem) && k.len() == first.len())
                .collect();
            next.sort();
            if let Some(neighbour) = next.first().map(|k| k.to_string()) {
                if let Some(a) = assets.get_mut(&neighbour).filter(|a| a.state.is_live()) {
                    a.state = State::Unactived;
                }
            }
        }
    }
    outcomes
}

/// How the planted fault's id column compares ids: the key both sides are reduced to (`None`:
/// exactly, as the contract's string ids are compared).
fn id_key(behaviour: &Behaviour) -> Option<fn(&str) -> String> {
    use crate::generate::near_miss::{compose, fold_width};
    Some(match behaviour.fault? {
        // MySQL's `_ci` collations with PAD SPACE: letter case and trailing spaces do not count.
        Fault::CollationCi => |id| id.trim_end_matches(' ').to_lowercase(),
        Fault::PadSpace => |id| id.trim_end_matches(' ').to_string(),
        Fault::TrimmedLookup => |id| id.trim().to_string(),
        Fault::NfcIds => compose,
        Fault::NfkcIds => |id| compose(&fold_width(id)),
        Fault::FullwidthFold => fold_width,
        Fault::PercentDecodedLookup => |id| percent_encoding::percent_decode_str(id).decode_utf8_lossy().to_string(),
        _ => return None,
    })
}

/// Every normalisation at once: what `near-miss-ids-400` compares by.
fn loosest(id: &str) -> String {
    use crate::generate::near_miss::{compose, fold_width};
    let decoded = percent_encoding::percent_decode_str(id).decode_utf8_lossy().to_string();
    compose(&fold_width(&decoded)).trim().to_lowercase()
}

/// The stored id `id` finds: itself, or under a normalising fault the asset whose key is its key.
fn resolve(assets: &Assets, keys: &Keys, id: &str, behaviour: &Behaviour) -> Option<String> {
    if assets.contains_key(id) {
        return Some(id.to_string());
    }
    let key = id_key(behaviour)?;
    let keyed = keys.get_or_init(|| assets.keys().map(|a| (key(a), a.clone())).collect());
    keyed.get(&key(id)).cloned()
}

fn apply_one(assets: &mut Assets, keys: &Keys, action: Action, id: &str, behaviour: &Behaviour) -> Result<(), Failure> {
    let fault = behaviour.fault;
    let id = &resolve(assets, keys, id, behaviour).ok_or(Failure::NotFound)?;
    let asset = assets.get_mut(id).ok_or(Failure::NotFound)?;
    let refuse = Err(Failure::NotAllowed(action));
    match action {
        Action::Delete if asset.state == State::Deleting && behaviour.chose(Variant::SecondDeleteSuccess) => {}
        Action::Delete => {
            if !asset.state.is_live() {
                return refuse;
            }
            asset.before_delete = asset.state;
            asset.state = State::Deleting;
        }
        Action::DeleteForce if fault == Some(Fault::ForceDeleteRecoverable) => {
            if !asset.state.is_live() {
                return refuse;
            }
            asset.before_delete = asset.state;
            asset.state = State::Deleting;
        }
        Action::DeleteForce if asset.state == State::Deleting && fault == Some(Fault::ForceDeleteFromBinNotFinal) => {}
        Action::DeleteForce => {
            if asset.state == State::Deleted {
                return refuse;
            }
            if behaviour.chose(Variant::DeleteForceAbsent) {
                assets.remove(id);
            } else {
                asset.state = State::Deleted;
            }
        }
        Action::Restore => {
            if asset.state != State::Deleting {
                if asset.state == State::Actived && fault == Some(Fault::RestoreMovesLive) {
                    asset.state = State::Unactived;
                }
                return refuse;
            }
            if fault != Some(Fault::RestoreDoesNothing) {
                let back =
                    if behaviour.chose(Variant::RestoreToActived) { State::Actived } else { asset.before_delete };
                asset.state = back;
            }
        }
        Action::Active | Action::Unactive
            if asset.state == State::Deleted && fault == Some(Fault::AnyActionResurrects) =>
        {
            asset.state = if action == Action::Active { State::Actived } else { State::Unactived };
        }
        Action::Active | Action::Unactive => {
            if !asset.state.is_live() {
                return refuse;
            }
            if action == Action::Active {
                asset.state = State::Actived;
            } else if fault != Some(Fault::UnactiveDoesNothing) {
                asset.state = State::Unactived;
            }
        }
        Action::Share | Action::Unshare => {
            if !asset.state.is_live() {
                return refuse;
            }
            asset.shared = action == Action::Share;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::seeded(&["a".to_string()])
    }

    fn state(s: &Store) -> Option<State> {
        s.get("a").map(|a| a.state)
    }

    #[test]
    fn delete_is_undone_by_restore_into_the_previous_state() {
        let s = store();
        let a = ["a"];
        let plain = Behaviour::default();
        assert_eq!(s.apply(Action::Unactive, &a, &plain), [Ok(())]);
        assert_eq!(s.apply(Action::Delete, &a, &plain), [Ok(())]);
        assert_eq!(state(&s), Some(State::Deleting));
        assert_eq!(s.apply(Action::Delete, &a, &plain), [Err(Failure::NotAllowed(Action::Delete))]);
        assert_eq!(s.apply(Action::Restore, &a, &plain), [Ok(())]);
        assert_eq!(state(&s), Some(State::Unactived));
        assert_eq!(s.apply(Action::Restore, &a, &plain), [Err(Failure::NotAllowed(Action::Restore))]);
    }

    #[test]
    fn force_delete_is_final() {
        let s = store();
        let a = ["a"];
        let plain = Behaviour::default();
        assert_eq!(s.apply(Action::DeleteForce, &a, &plain), [Ok(())]);
        assert_eq!(state(&s), Some(State::Deleted));
        for action in [Action::Restore, Action::Active, Action::DeleteForce, Action::Share] {
            assert_eq!(s.apply(action, &a, &plain), [Err(Failure::NotAllowed(action))]);
        }
        let s = store();
        let absent = Behaviour { fault: None, variants: vec![Variant::DeleteForceAbsent] };
        assert_eq!(s.apply(Action::DeleteForce, &a, &absent), [Ok(())]);
        assert_eq!(state(&s), None);
        assert_eq!(s.apply(Action::Restore, &a, &absent), [Err(Failure::NotFound)]);
    }

    #[test]
    fn unknown_ids_are_not_found() {
        let s = store();
        assert_eq!(s.apply(Action::Share, &["b"], &Behaviour::default()), [Err(Failure::NotFound)]);
    }

    fn with(fault: Fault) -> Behaviour {
        Behaviour { fault: Some(fault), variants: vec![] }
    }

    #[test]
    fn lifecycle_faults_break_one_rule_each() {
        let ids = |n: usize| (0..n).map(|k| format!("f{k}")).collect::<Vec<_>>();
        let state_of = |s: &Store, id: &str| s.get(id).map(|a| a.state);
        // UNACTIVE of f0 also deactivates f1, the id after it.
        let s = Store::seeded(&ids(3));
        s.apply(Action::Unactive, &["f0"], &with(Fault::ActsOutsideBatch));
        assert_eq!(state_of(&s, "f1"), Some(State::Unactived));
        assert_eq!(state_of(&s, "f2"), Some(State::Actived));
        // The last existing id of a large batch is reported done, not done.
        let s = Store::seeded(&ids(PHANTOM_FROM_IDS));
        let all: Vec<String> = ids(PHANTOM_FROM_IDS);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        assert!(s.apply(Action::Unactive, &refs, &with(Fault::PhantomSuccessLargeBatch)).iter().all(Result::is_ok));
        assert_eq!(state_of(&s, &all[PHANTOM_FROM_IDS - 1]), Some(State::Actived));
        assert_eq!(state_of(&s, &all[0]), Some(State::Unactived));
        // Mixed with an unknown id, the existing ones are reported done, not done.
        let s = Store::seeded(&ids(1));
        let out = s.apply(Action::Delete, &["f0", "nope"], &with(Fault::PhantomSuccessMixedBatch));
        assert_eq!(out, [Ok(()), Err(Failure::NotFound)]);
        assert_eq!(state_of(&s, "f0"), Some(State::Actived));
        // DELETE_FORCE from the bin leaves the asset restorable.
        let s = Store::seeded(&ids(1));
        let b = with(Fault::ForceDeleteFromBinNotFinal);
        s.apply(Action::Delete, &["f0"], &b);
        assert_eq!(s.apply(Action::DeleteForce, &["f0"], &b), [Ok(())]);
        assert_eq!(s.apply(Action::Restore, &["f0"], &b), [Ok(())]);
        // A force-deleted asset comes back with ACTIVE.
        let s = Store::seeded(&ids(1));
        let b = with(Fault::AnyActionResurrects);
        s.apply(Action::DeleteForce, &["f0"], &b);
        assert_eq!(s.apply(Action::Active, &["f0"], &b), [Ok(())]);
        assert_eq!(state_of(&s, "f0"), Some(State::Actived));
        // RESTORE of a live asset fails, yet deactivates it.
        let s = Store::seeded(&ids(1));
        let out = s.apply(Action::Restore, &["f0"], &with(Fault::RestoreMovesLive));
        assert_eq!(out, [Err(Failure::NotAllowed(Action::Restore))]);
        assert_eq!(state_of(&s, "f0"), Some(State::Unactived));
    }

    #[test]
    fn lost_updates_need_batches_within_the_window() {
        let b = with(Fault::LostConcurrentUpdates);
        let s = Store::seeded(&["a".to_string(), "b".to_string()]);
        // Two batches at once on disjoint assets: the second writes back the first one's asset.
        s.apply(Action::Unactive, &["a"], &b);
        s.apply(Action::Delete, &["b"], &b);
        std::thread::sleep(LOST_UPDATE_WINDOW * 2);
        assert_eq!(s.get("a").map(|a| a.state), Some(State::Actived), "the first update is lost");
        assert_eq!(s.get("b").map(|a| a.state), Some(State::Deleting));
        // One after another (each answer waits out the window), nothing is lost.
        s.apply(Action::Unactive, &["a"], &b);
        std::thread::sleep(LOST_UPDATE_WINDOW * 2);
        s.apply(Action::Restore, &["b"], &b);
        std::thread::sleep(LOST_UPDATE_WINDOW * 2);
        assert_eq!(s.get("a").map(|a| a.state), Some(State::Unactived));
        assert_eq!(s.get("b").map(|a| a.state), Some(State::Actived));
    }

    #[test]
    fn variants_choose_otherwise_where_the_contract_is_silent() {
        let s = Store::seeded(&["a".to_string()]);
        let b = Behaviour { fault: None, variants: vec![Variant::RestoreToActived, Variant::SecondDeleteSuccess] };
        s.apply(Action::Unactive, &["a"], &b);
        s.apply(Action::Delete, &["a"], &b);
        assert_eq!(s.apply(Action::Delete, &["a"], &b), [Ok(())], "a second DELETE succeeds");
        assert_eq!(s.get("a").map(|a| a.state), Some(State::Deleting));
        s.apply(Action::Restore, &["a"], &b);
        assert_eq!(s.get("a").map(|a| a.state), Some(State::Actived), "back ACTIVED, not UNACTIVED");
    }
}

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
    /// DELETE_FORCE found it in the recycle bin (the `force-delete-from-bin-*` faults revive
    /// only those).
    pub purged_from_bin: bool,
    /// The live state `RESTORE` returns to, remembered by `DELETE`.
    pub before_delete: State,
    pub shared: bool,
}

/// Why one id of a batch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    NotFound,
    NotAllowed(Action),
    /// `atomic-batches`: the id could have been acted on, but another id of its batch failed.
    RolledBack,
}

impl Failure {
    pub fn code(&self) -> &'static str {
        match self {
            Failure::NotFound => "MSS.00000003",
            Failure::NotAllowed(_) => "MSS.00000005",
            Failure::RolledBack => "MSS.00000006",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::NotFound => "Asset not found".to_string(),
            Failure::NotAllowed(action) => format!("Asset state does not allow {}", action.name()),
            Failure::RolledBack => "Batch not applied: another asset in it failed".to_string(),
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
    /// Under `lagging-lookup` only: the assets after each batch, from when they were so, kept
    /// as long as a lookup [`REPLICA_LAG`] behind may still show them.
    history: Mutex<std::collections::VecDeque<(Instant, Assets)>>,
    /// Under `row-locks` only: one id's change each, applied at its instant, the way a service
    /// that locks one row at a time lets two batches over the same ids interleave.
    rows: Mutex<Vec<RowWrite>>,
    /// Under a fault whose id column normalises (or `near-miss-ids-400`): each seeded asset's id
    /// by its key, computed once (nothing creates assets later), so a batch of large ids stays fast.
    keys: Keys,
    loosest: Keys,
}

/// One id's change of a batch under `row-locks`, due at `at`.
#[derive(Debug)]
struct RowWrite {
    at: Instant,
    action: Action,
    id: String,
    behaviour: Behaviour,
}

/// How far behind the batches a lookup is under `lagging-lookup`.
pub(crate) const REPLICA_LAG: Duration = Duration::from_millis(300);

/// How long after it arrives a batch's changes land under `lost-concurrent-updates` (and how
/// long its answer waits, so a client that waits for the answer never sees the gap).
/// From which batch size `phantom-success-large-batch` reports an id done without doing it.
const PHANTOM_FROM_IDS: usize = 20;

pub(crate) const LOST_UPDATE_WINDOW: Duration = Duration::from_millis(30);

/// Under `row-locks`, how long each existing id of a batch holds its row before the next one is
/// taken (the answer waits for all of them, so one client alone never sees the gap).
pub(crate) const ROW_LOCK_STEP: Duration = Duration::from_millis(2);

impl Store {
    /// Every fixture exists, `ACTIVED` and not shared; no other id exists.
    pub fn seeded(fixtures: &[String]) -> Store {
        let assets = fixtures
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    Asset {
                        state: State::Actived,
                        before_delete: State::Actived,
                        shared: false,
                        purged_from_bin: false,
                    },
                )
            })
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
        drop(pending);
        let mut rows = self.rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !rows.is_empty() {
            rows.sort_by_key(|w| w.at);
            let due = rows.iter().take_while(|w| w.at <= now).count();
            for w in rows.drain(..due) {
                let _ = apply_one(&mut assets, &self.keys, w.action, &w.id, &w.behaviour);
            }
        }
        assets
    }

    pub fn get(&self, id: &str) -> Option<Asset> {
        self.lock().get(id).cloned()
    }

    /// What a lookup shows: the asset now, or under `lagging-lookup` as it was [`REPLICA_LAG`] ago.
    pub fn seen(&self, id: &str, behaviour: &Behaviour) -> Option<Asset> {
        if !behaviour.chose(Variant::LaggingLookup) {
            return self.get_as(id, behaviour);
        }
        let assets = self.lock();
        let history = self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(then) = Instant::now().checked_sub(REPLICA_LAG) else { return assets.get(id).cloned() };
        // The last change that is old enough; before the first batch, the seeded assets.
        match history.iter().rev().find(|(at, _)| *at <= then).or(history.front()) {
            Some((_, old)) => old.get(id).cloned(),
            None => assets.get(id).cloned(),
        }
    }

    /// Keeps the assets as they are now for lagging lookups (the ones before too, the first time).
    fn remember(&self, before: &Assets, after: &Assets) {
        let now = Instant::now();
        let mut history = self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if history.is_empty() {
            history.push_back((now.checked_sub(REPLICA_LAG * 2).unwrap_or(now), before.clone()));
        }
        history.push_back((now, after.clone()));
        // The oldest entry stays while the one after it is too young to be shown.
        while history.len() >= 2 && now.checked_sub(REPLICA_LAG).is_some_and(|then| history[1].0 <= then) {
            history.pop_front();
        }
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
        if behaviour.broken(Fault::RowLocks) {
            // Answered as if alone, applied one id at a time, each at its own instant.
            let outcomes = apply_batch(&mut assets.clone(), &self.keys, action, ids, behaviour);
            let existing: Vec<&str> = ids.iter().copied().filter(|id| assets.contains_key(*id)).collect();
            drop(assets);
            let now = Instant::now();
            let mut rows = self.rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for (k, id) in existing.into_iter().enumerate() {
                let at = now + ROW_LOCK_STEP * k as u32;
                rows.push(RowWrite { at, action, id: id.to_string(), behaviour: behaviour.clone() });
            }
            return outcomes;
        }
        let before = behaviour.chose(Variant::LaggingLookup).then(|| assets.clone());
        let outcomes = if behaviour.chose(Variant::AtomicBatches) {
            apply_all_or_nothing(&mut assets, &self.keys, action, ids, behaviour)
        } else {
            apply_batch(&mut assets, &self.keys, action, ids, behaviour)
        };
        if let Some(before) = before {
            self.remember(&before, &assets);
        }
        outcomes
    }
}

/// `atomic-batches`: the batch is applied to a copy, kept only if no id failed; otherwise every
/// id that would have succeeded fails too, and nothing changes.
fn apply_all_or_nothing(
    assets: &mut Assets,
    keys: &Keys,
    action: Action,
    ids: &[&str],
    behaviour: &Behaviour,
) -> Vec<Result<(), Failure>> {
    let mut copy = assets.clone();
    let outcomes = apply_batch(&mut copy, keys, action, ids, behaviour);
    if outcomes.iter().all(Result::is_ok) {
        *assets = copy;
        return outcomes;
    }
    outcomes.into_iter().map(|o| o.and(Err(Failure::RolledBack))).collect()
}

/// Under `cap-N`, how many ids of a batch are acted on.
fn cap(fault: Option<Fault>) -> Option<usize> {
    match fault? {
        Fault::Cap8 => Some(8),
        Fault::Cap50 => Some(50),
        Fault::Cap500 => Some(500),
        _ => None,
    }
}

/// Under `partial-apply-N`, how many ids of a batch keep their changes.
fn partial(fault: Option<Fault>) -> Option<usize> {
    match fault? {
        Fault::PartialApply100 => Some(100),
        Fault::PartialApply250 => Some(250),
        _ => None,
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
    if let Some(n) = partial(fault).filter(|n| ids.len() > *n) {
        // Every id judged and answered, but only the first `n` ids' changes are written.
        let mut copy = assets.clone();
        let outcomes = apply_batch(&mut copy, keys, action, ids, &Behaviour::new(None, &behaviour.variants));
        for id in ids.iter().take(n) {
            match copy.remove(*id) {
                Some(a) => assets.insert(id.to_string(), a),
                None => assets.remove(*id),
            };
        }
        return outcomes;
    }
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
        _ => match cap(fault) {
            // Past the first `n` ids, every existing one is answered SUCCESS and left alone.
            Some(n) => ids.iter().skip(n).filter(|id| exists(assets, id)).copied().collect(),
            None => vec![],
        },
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
            asset.purged_from_bin = asset.state == State::Deleting;
            if behaviour.chose(Variant::DeleteForceAbsent) {
                assets.remove(id);
            } else {
                asset.state = State::Deleted;
            }
        }
        Action::Restore if revives(asset, action, fault) => asset.state = asset.before_delete,
        Action::Active if revives(asset, action, fault) => asset.state = State::Actived,
        Action::Unshare if revives(asset, action, fault) => {
            asset.state = State::Unactived;
            asset.shared = false;
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

/// Does `action` bring back an asset force-deleted from the recycle bin (the
/// `force-delete-from-bin-*` faults, one reviving action each)?
fn revives(asset: &Asset, action: Action, fault: Option<Fault>) -> bool {
    let reviver = match fault {
        Some(Fault::ForceDeleteFromBinRestorable) => Action::Restore,
        Some(Fault::ForceDeleteFromBinActiveRevives) => Action::Active,
        Some(Fault::ForceDeleteFromBinUnshareRevives) => Action::Unshare,
        _ => return false,
    };
    asset.state == State::Deleted && asset.purged_from_bin && action == reviver
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
    fn caps_act_on_the_first_ids_only() {
        let all: Vec<String> = (0..12).map(|k| format!("f{k:02}")).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        // cap-8: all twelve answered SUCCESS, the last four left alone.
        let s = Store::seeded(&all);
        assert!(s.apply(Action::Unactive, &refs, &with(Fault::Cap8)).iter().all(Result::is_ok));
        assert_eq!(s.get("f07").map(|a| a.state), Some(State::Unactived));
        assert_eq!(s.get("f08").map(|a| a.state), Some(State::Actived));
        // partial-apply-100: a batch past 100 ids is answered in full, its tail not written.
        let mut big: Vec<String> = (0..101).map(|k| format!("u{k:03}")).collect();
        big.push("f11".into());
        let refs: Vec<&str> = big.iter().map(String::as_str).collect();
        let s = Store::seeded(&all);
        let out = s.apply(Action::Unactive, &refs, &with(Fault::PartialApply100));
        assert_eq!(out[101], Ok(()));
        assert_eq!(out[0], Err(Failure::NotFound));
        assert_eq!(s.get("f11").map(|a| a.state), Some(State::Actived));
    }

    #[test]
    fn row_locks_interleave_batches_over_the_same_ids() {
        let b = with(Fault::RowLocks);
        let ids: Vec<String> = (0..4).map(|k| format!("f{k}")).collect();
        let fwd: Vec<&str> = ids.iter().map(String::as_str).collect();
        let rev: Vec<&str> = fwd.iter().rev().copied().collect();
        let s = Store::seeded(&ids);
        s.apply(Action::Unactive, &fwd, &b);
        s.apply(Action::Active, &rev, &b);
        std::thread::sleep(ROW_LOCK_STEP * 8);
        // Each id takes the last change that reached it: the first id is ACTIVE's last (the
        // reversed batch gets to it after three others); where the two batches met depends on
        // how far apart they arrived, so the other ids are not asserted (no timed assertions).
        assert_eq!(s.get("f0").map(|a| a.state), Some(State::Actived));
        // One batch alone lands whole once its answer's wait is over.
        let s = Store::seeded(&ids);
        s.apply(Action::Unactive, &rev, &b);
        std::thread::sleep(ROW_LOCK_STEP * 8);
        assert!(fwd.iter().all(|id| s.get(id).unwrap().state == State::Unactived));
    }

    #[test]
    fn force_deleted_from_the_bin_revived_by_one_action_each() {
        for (fault, action, back) in [
            (Fault::ForceDeleteFromBinRestorable, Action::Restore, State::Unactived),
            (Fault::ForceDeleteFromBinActiveRevives, Action::Active, State::Actived),
            (Fault::ForceDeleteFromBinUnshareRevives, Action::Unshare, State::Unactived),
        ] {
            let b = with(fault);
            let s = store();
            s.apply(Action::Unactive, &["a"], &b);
            s.apply(Action::Delete, &["a"], &b);
            assert_eq!(s.apply(Action::DeleteForce, &["a"], &b), [Ok(())]);
            assert_eq!(state(&s), Some(State::Deleted), "{fault:?}");
            assert_eq!(s.apply(action, &["a"], &b), [Ok(())], "{fault:?}");
            assert_eq!(state(&s), Some(back), "{fault:?}");
            // Force-deleted while live, it stays gone.
            let s = store();
            s.apply(Action::DeleteForce, &["a"], &b);
            assert_eq!(s.apply(action, &["a"], &b), [Err(Failure::NotAllowed(action))], "{fault:?}");
        }
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
    fn atomic_batches_do_all_or_nothing() {
        let b = Behaviour { fault: None, variants: vec![Variant::AtomicBatches] };
        let s = Store::seeded(&["a".to_string(), "b".to_string()]);
        let out = s.apply(Action::Unactive, &["a", "nope", "b"], &b);
        assert_eq!(out, [Err(Failure::RolledBack), Err(Failure::NotFound), Err(Failure::RolledBack)]);
        assert_eq!(s.get("a").map(|a| a.state), Some(State::Actived), "nothing was done");
        assert_eq!(s.apply(Action::Unactive, &["a", "b"], &b), [Ok(()), Ok(())]);
        assert_eq!(s.get("b").map(|a| a.state), Some(State::Unactived));
    }

    #[test]
    fn lagging_lookups_show_the_state_of_300_ms_ago() {
        let b = Behaviour { fault: None, variants: vec![Variant::LaggingLookup] };
        let s = Store::seeded(&["a".to_string()]);
        s.apply(Action::Unactive, &["a"], &b);
        assert_eq!(s.get("a").map(|a| a.state), Some(State::Unactived));
        assert_eq!(s.seen("a", &b).map(|a| a.state), Some(State::Actived), "the replica is behind");
        std::thread::sleep(REPLICA_LAG + Duration::from_millis(20));
        assert_eq!(s.seen("a", &b).map(|a| a.state), Some(State::Unactived), "and catches up");
        assert_eq!(s.seen("a", &Behaviour::default()).map(|a| a.state), Some(State::Unactived));
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

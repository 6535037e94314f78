//! The reference server's assets and the lifecycle the actions move them along. A whole batch is
//! applied under one lock, so concurrent batches on the same ids never lose an update and a
//! lookup never sees half a batch.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

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

    fn is_live(self) -> bool {
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

#[derive(Debug, Default)]
pub struct Store {
    assets: Mutex<HashMap<String, Asset>>,
}

impl Store {
    /// Every fixture exists, `ACTIVED` and not shared; no other id exists.
    pub fn seeded(fixtures: &[String]) -> Store {
        let assets = fixtures
            .iter()
            .map(|id| (id.clone(), Asset { state: State::Actived, before_delete: State::Actived, shared: false }))
            .collect();
        Store { assets: Mutex::new(assets) }
    }

    /// A panic elsewhere while holding the lock leaves the map whole (each update is one insert
    /// or field write), so a poisoned lock is still safe to use.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Asset>> {
        self.assets.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, id: &str) -> Option<Asset> {
        self.lock().get(id).cloned()
    }

    /// Applies `action` to each id (each distinct id once) atomically; one outcome per id, in order.
    pub fn apply(&self, action: Action, ids: &[&str], behaviour: &Behaviour) -> Vec<Result<(), Failure>> {
        let mut assets = self.lock();
        ids.iter().map(|id| apply_one(&mut assets, action, id, behaviour)).collect()
    }
}

fn apply_one(
    assets: &mut HashMap<String, Asset>,
    action: Action,
    id: &str,
    behaviour: &Behaviour,
) -> Result<(), Failure> {
    let fault = behaviour.fault;
    let asset = assets.get_mut(id).ok_or(Failure::NotFound)?;
    let refuse = Err(Failure::NotAllowed(action));
    match action {
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
                return refuse;
            }
            if fault != Some(Fault::RestoreDoesNothing) {
                asset.state = asset.before_delete;
            }
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
}

//! Putting fixtures back: whatever a run did to a fixture is undone before it ends, passed,
//! failed, past `--max-duration` or interrupted. Before the first trial every fixture the run
//! must keep is looked up (the snapshot); after the last, each is looked up again and the
//! actions that undo the difference are sent: `RESTORE` for what is in the recycle bin, the
//! action the lifecycle says leads to the state it had (`ACTIVE`, `UNACTIVE`), and for every
//! field of the manifest's `lookup.set_by` the action that leaves the value it had (`UNSHARE`
//! for a fixture a trial shared). Nothing is guessed: a fixture still different after a few
//! rounds is named as not put back.
//!
//! The fixtures given up to destruction (`--allow-destructive`, or the bundled server's own)
//! are left out: nothing brings them back.

use futures::future::join_all;
use serde_json::Value;

use super::model::{Model, RESTORE};
use super::{Engine, Stopped};
use crate::checks::ABSENT;
use crate::exchange::Exchange;
use crate::generate::AuthMode;

/// The `X-Batchconf-Case` of every request of the put-back (`batchconf put-back look up`, …).
const LABEL: &str = "batchconf put-back";
/// Rounds of undo actions at most (RESTORE, then the state, then what RESTORE brought back).
const ROUNDS: usize = 3;

/// One fixture as the run found it.
#[derive(Debug, Clone)]
struct Found {
    id: String,
    state: String,
    body: Value,
}

/// Every fixture the run must leave as it found it, as looked up before the first trial.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    found: Vec<Found>,
}

/// What the put-back did: how many fixtures it changed back, and those it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutBack {
    pub checked: usize,
    pub changed: usize,
    /// `"f1" DELETING (was ACTIVED)`, one per fixture left different.
    pub left: Vec<String>,
}

impl PutBack {
    /// One sentence for the summary and the reports.
    pub fn sentence(&self) -> String {
        if self.left.is_empty() {
            format!(
                "fixtures put back: {} looked up before and after the run, {} changed by it and put back as they were",
                self.checked, self.changed
            )
        } else {
            format!(
                "FIXTURES NOT PUT BACK: {} of {} differ from what they were before the run: {}",
                self.left.len(),
                self.checked,
                self.left.join("; ")
            )
        }
    }
}

impl Engine {
    /// Looks up every fixture the run keeps (all but those given up to destruction), or every
    /// asset a replay names; those that exist are kept.
    pub async fn snapshot(&self, keep: &[String]) -> Snapshot {
        if self.contract.lookup.is_none() {
            return Snapshot::default();
        }
        let looked = join_all(keep.iter().map(|id| self.look(id))).await;
        let found = keep
            .iter()
            .zip(looked)
            .filter_map(|(id, x)| {
                let (state, body) = x?;
                // Nothing brings an absent asset into being: there is nothing to put back.
                (state != ABSENT).then(|| Found { id: id.clone(), state, body })
            })
            .collect();
        Snapshot { found }
    }

    /// Undoes what the run changed of the snapshot's fixtures, and says what it did. Runs while
    /// the run winds down: only a target that stopped answering ends it early.
    pub async fn put_back(&self, snapshot: &Snapshot) -> PutBack {
        let mut done = PutBack { checked: snapshot.found.len(), ..PutBack::default() };
        let Some(lifecycle) = &self.contract.manifest.lifecycle else { return done };
        let model = Model::new(lifecycle);
        let mut changed = vec![false; snapshot.found.len()];
        let mut now: Vec<Option<(String, Value)>> = join_all(snapshot.found.iter().map(|f| self.look(&f.id))).await;
        for _ in 0..ROUNDS {
            let undo: Vec<Vec<String>> =
                snapshot.found.iter().zip(&now).map(|(f, n)| self.undo(&model, f, n.as_ref())).collect();
            if undo.iter().all(Vec::is_empty) {
                break;
            }
            // One batch per action, in a fixed order: RESTORE first (nothing else acts on the
            // recycle bin), the state next, then the fields that need a live asset.
            let mut actions: Vec<String> = undo.iter().flatten().cloned().collect();
            actions.sort_by_key(|a| (a != RESTORE, !self.moves_state(a), a.clone()));
            actions.dedup();
            for action in actions {
                let ids: Vec<String> = snapshot
                    .found
                    .iter()
                    .zip(&undo)
                    .filter(|(_, u)| u.contains(&action))
                    .map(|(f, _)| f.id.clone())
                    .collect();
                for (k, u) in undo.iter().enumerate() {
                    changed[k] |= u.contains(&action);
                }
                let label = format!("{LABEL} {action}");
                match self.send(self.batch_request(&action, &ids, &label), AuthMode::Valid).await {
                    Ok(x) => {
                        self.tally.observe(&x, AuthMode::Valid);
                    }
                    Err(Stopped) => break,
                }
            }
            // A service may apply them a moment after answering: each is looked at until it shows
            // what it had, for about 1.5 s.
            let model = &model;
            now = join_all(snapshot.found.iter().zip(&undo).zip(now).map(|((f, u), n)| async move {
                if u.is_empty() {
                    n
                } else {
                    self.settled(model, f, u.iter().any(|a| a == RESTORE)).await
                }
            }))
            .await;
        }
        done.changed = changed.iter().filter(|c| **c).count();
        for (f, n) in snapshot.found.iter().zip(&now) {
            if let Some(why) = self.differs(f, n.as_ref()) {
                done.left.push(format!("{:?} {why}", f.id));
            }
        }
        done
    }

    /// The actions that bring `now` back to `was` (none when it is as it was, or when nothing can).
    fn undo(&self, model: &Model, was: &Found, now: Option<&(String, Value)>) -> Vec<String> {
        let Some((state, body)) = now else { return vec![] };
        if model.in_bin(state) && !model.in_bin(&was.state) {
            return vec![RESTORE.to_string()];
        }
        let mut out = Vec::new();
        if *state != was.state && model.is_live(state) {
            out.extend(self.action_leading_to(&was.state));
        }
        if let Some(lookup) = &self.contract.lookup {
            for (at, by) in &lookup.set_by {
                let (then, seen) = (was.body.pointer(at), body.pointer(at));
                if then.is_some() && then != seen {
                    out.extend(by.iter().find(|(_, v)| Some(*v) == then).map(|(a, _)| a.clone()));
                }
            }
        }
        out
    }

    /// Why `now` is not what `was` shows: the state, or a field of `lookup.set_by`.
    fn differs(&self, was: &Found, now: Option<&(String, Value)>) -> Option<String> {
        let Some((state, body)) = now else { return Some("could not be looked up".into()) };
        let shown = |s: &str| if s == ABSENT { "absent".to_string() } else { s.to_string() };
        if *state != was.state {
            return Some(format!("{} (was {})", shown(state), shown(&was.state)));
        }
        let lookup = self.contract.lookup.as_ref()?;
        lookup.set_by.keys().find_map(|at| {
            let (then, seen) = (was.body.pointer(at), body.pointer(at));
            (then != seen).then(|| {
                let v = |x: Option<&Value>| x.map(Value::to_string).unwrap_or_else(|| "nothing".into());
                format!("{at} {} (was {})", v(seen), v(then))
            })
        })
    }

    /// The action the lifecycle says leaves an asset in `state` and nothing else (`ACTIVE` for
    /// `ACTIVED`).
    fn action_leading_to(&self, state: &str) -> Option<String> {
        let lifecycle = self.contract.manifest.lifecycle.as_ref()?;
        let (action, _) = lifecycle.after.iter().find(|(_, s)| s.len() == 1 && s[0] == state)?;
        Some(action.clone())
    }

    /// Does `action` move the state (the lifecycle names it)?
    fn moves_state(&self, action: &str) -> bool {
        self.contract.manifest.lifecycle.as_ref().is_some_and(|l| l.after.contains_key(action))
    }

    /// A fixture looked up again, until it shows the state it had (or, after a RESTORE, any
    /// state RESTORE may bring), for about 1.5 s.
    async fn settled(&self, model: &Model, was: &Found, restored: bool) -> Option<(String, Value)> {
        let lifecycle = self.contract.manifest.lifecycle.as_ref()?;
        let allowed: Vec<String> =
            lifecycle.states.iter().filter(|s| **s == was.state || (restored && model.is_live(s))).cloned().collect();
        let label = format!("{LABEL} look up");
        let x = self.settled_lookup(&was.id, &label, &allowed, self.settle).await?.ok()?;
        self.tally.observe(&x, AuthMode::Valid);
        self.seen(&x)
    }

    /// One lookup: the state and the whole body.
    async fn look(&self, id: &str) -> Option<(String, Value)> {
        let x = self.lookup(id, &format!("{LABEL} look up")).await?.ok()?;
        self.tally.observe(&x, AuthMode::Valid);
        self.seen(&x)
    }

    fn seen(&self, x: &Exchange) -> Option<(String, Value)> {
        let state = self.state_of(x)?;
        let body = if state == ABSENT { Value::Null } else { x.response()?.json()? };
        Some((state, body))
    }
}

//! Running a valid batch against the store and grouping its outcome the contract's way: every
//! requested id in exactly one group, successes together, failures grouped by error.
//!
//! Layout: one SUCCESS group (left out when empty), then one FAILED group per distinct error, in
//! the order of each group's first id. A repeated id is acted on and listed once.

use serde_json::{json, Value};

use super::catalogue::{Behaviour, Fault, Variant};
use super::request::Batch;
use super::store::{Failure, Store};

/// The id the `extra-id` fault adds: nobody asked for it.
pub(crate) const GHOST_ID: &str = "bcf-ghost";

#[derive(Debug)]
struct Group {
    failure: Option<Failure>,
    ids: Vec<String>,
}

/// Applies `batch` to `store` and returns the 200 body.
pub(crate) fn run(store: &Store, batch: &Batch, behaviour: &Behaviour) -> Value {
    let mut seen = std::collections::BTreeSet::new();
    let unique: Vec<&str> = batch.ids.iter().map(String::as_str).filter(|id| seen.insert(*id)).collect();
    let outcomes = store.apply(batch.action, &unique, behaviour);
    let times = |id: &str| {
        if behaviour.chose(Variant::RepeatedIdsEach) {
            batch.ids.iter().filter(|r| *r == id).count()
        } else {
            1
        }
    };
    let mut groups: Vec<Group> = Vec::new();
    if outcomes.iter().any(Result::is_ok) || behaviour.chose(Variant::EmptyGroups) {
        groups.push(Group { failure: None, ids: vec![] });
    }
    for (id, outcome) in unique.iter().zip(&outcomes) {
        let failure = outcome.err();
        let shared = failure.is_none() || !behaviour.chose(Variant::GroupPerFailedId);
        let listed = std::iter::repeat_n(id.to_string(), times(id));
        match groups.iter_mut().find(|g| shared && g.failure == failure) {
            Some(group) => group.ids.extend(listed),
            None => groups.push(Group { failure, ids: listed.collect() }),
        }
    }
    plant_faults(&mut groups, &batch.ids, unique.len(), behaviour);
    let results: Vec<Value> = groups.into_iter().map(|g| render(g, behaviour)).collect();
    json!({ "results": results })
}

/// The batch-rule faults: each bends the grouping in one way.
fn plant_faults(groups: &mut Vec<Group>, requested: &[String], distinct: usize, behaviour: &Behaviour) {
    match behaviour.fault {
        Some(Fault::DropLastId) if distinct >= 2 => {
            if let Some(last) = requested.last() {
                for g in groups.iter_mut() {
                    g.ids.retain(|id| id != last);
                }
                groups.retain(|g| !g.ids.is_empty());
            }
        }
        Some(Fault::IdInTwoGroups) => {
            let first_failed = groups.iter().find(|g| g.failure.is_some()).and_then(|g| g.ids.first()).cloned();
            let success = groups.iter_mut().find(|g| g.failure.is_none() && !g.ids.is_empty());
            if let (Some(id), Some(success)) = (first_failed, success) {
                success.ids.push(id);
            }
        }
        Some(Fault::ExtraId) if !requested.is_empty() => {
            if let Some(first) = groups.first_mut() {
                first.ids.push(GHOST_ID.to_string());
            }
        }
        _ => {}
    }
}

fn render(group: Group, behaviour: &Behaviour) -> Value {
    let ids = Value::Array(group.ids.into_iter().map(Value::String).collect());
    match group.failure {
        None => {
            let status = if behaviour.broken(Fault::BadRetStatus) { "SUCESS" } else { "SUCCESS" };
            json!({ "ret_status": status, "asset_ids": ids })
        }
        Some(_) if behaviour.broken(Fault::FailedWithoutErrorInfo) => {
            json!({ "ret_status": "FAILED", "asset_ids": ids })
        }
        Some(failure) => json!({
            "ret_status": "FAILED",
            "asset_ids": ids,
            "error_info": { "error_code": failure.code(), "error_msg": failure.message() },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::Action;
    use super::*;

    fn batch(action: Action, ids: &[&str]) -> Batch {
        Batch { action, ids: ids.iter().map(|s| s.to_string()).collect() }
    }

    fn answer(ids: &[&str], behaviour: &Behaviour) -> Value {
        let store = Store::seeded(&["a".into(), "b".into()]);
        run(&store, &batch(Action::Delete, ids), behaviour)
    }

    #[test]
    fn successes_then_failures_by_error() {
        let store = Store::seeded(&["a".into(), "b".into(), "c".into()]);
        run(&store, &batch(Action::Delete, &["c"]), &Behaviour::default());
        let body = run(&store, &batch(Action::Delete, &["x", "a", "c", "a", "y", "b"]), &Behaviour::default());
        assert_eq!(
            body,
            json!({"results": [
                {"ret_status": "SUCCESS", "asset_ids": ["a", "b"]},
                {"ret_status": "FAILED", "asset_ids": ["x", "y"],
                 "error_info": {"error_code": "MSS.00000003", "error_msg": "Asset not found"}},
                {"ret_status": "FAILED", "asset_ids": ["c"],
                 "error_info": {"error_code": "MSS.00000005", "error_msg": "Asset state does not allow DELETE"}},
            ]})
        );
    }

    #[test]
    fn empty_batch_has_no_groups() {
        assert_eq!(answer(&[], &Behaviour::default()), json!({"results": []}));
        let b = Behaviour { fault: None, variants: vec![Variant::EmptyGroups] };
        assert_eq!(answer(&[], &b), json!({"results": [{"ret_status": "SUCCESS", "asset_ids": []}]}));
    }

    #[test]
    fn variants_regroup() {
        let b = Behaviour { fault: None, variants: vec![Variant::GroupPerFailedId, Variant::RepeatedIdsEach] };
        let body = answer(&["x", "a", "y", "a"], &b);
        let groups = body["results"].as_array().unwrap();
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0]["asset_ids"], json!(["a", "a"]));
        assert_eq!(groups[1]["asset_ids"], json!(["x"]));
        assert_eq!(groups[2]["asset_ids"], json!(["y"]));
    }

    #[test]
    fn faults_bend_one_thing() {
        let with = |f| Behaviour { fault: Some(f), variants: vec![] };
        let body = answer(&["a", "x"], &with(Fault::DropLastId));
        assert_eq!(body, json!({"results": [{"ret_status": "SUCCESS", "asset_ids": ["a"]}]}));
        let body = answer(&["a", "x"], &with(Fault::IdInTwoGroups));
        assert_eq!(body["results"][0]["asset_ids"], json!(["a", "x"]));
        assert_eq!(body["results"][1]["asset_ids"], json!(["x"]));
        let body = answer(&["x"], &with(Fault::ExtraId));
        assert_eq!(body["results"][0]["asset_ids"], json!(["x", GHOST_ID]));
        assert_eq!(answer(&["a"], &with(Fault::BadRetStatus))["results"][0]["ret_status"], "SUCESS");
        assert!(answer(&["x"], &with(Fault::FailedWithoutErrorInfo))["results"][0].get("error_info").is_none());
    }
}

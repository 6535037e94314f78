use serde_json::Value;

use super::{id_list, Check, Context, Expect, Violation};

pub const CHECK: Check = Check {
    name: "lifecycle",
    description: "the effects the contract promises are observable: `RESTORE` undoes `DELETE`, nothing undoes `DELETE_FORCE`, `ACTIVE`/`UNACTIVE` set the state",
    run,
};

/// Stands for "the lookup answered not found" in a list of allowed states.
pub const ABSENT: &str = "$absent";

fn run(ctx: &Context) -> Vec<Violation> {
    match ctx.expect {
        Expect::Outcome { ids, status, why, or_failed } => outcome(ctx, ids, status, why, *or_failed),
        Expect::State { id, allowed, why } => state(ctx, id, allowed, why),
        _ => vec![],
    }
}

fn outcome(ctx: &Context, ids: &[String], status: &str, why: &str, or_failed: bool) -> Vec<Violation> {
    let Some(resp) = ctx.response() else { return vec![] };
    if resp.status != 200 {
        return vec![Violation::new(
            CHECK.name,
            "response.status",
            format!("200, because {why}"),
            resp.status.to_string(),
        )];
    }
    let spec = ctx.contract.batch();
    let failed = spec.failed_status.as_str();
    let fits = |s: &Option<&str>| *s == Some(status) || (or_failed && *s == Some(failed));
    let wrong: Vec<String> = ids.iter().filter(|id| !ctx.statuses_naming(id).iter().any(fits)).cloned().collect();
    if wrong.is_empty() {
        return vec![];
    }
    let groups = if or_failed { format!("a `{status}` or `{failed}` group") } else { format!("a `{status}` group") };
    vec![Violation::new(
        CHECK.name,
        ctx.body_at(&spec.groups),
        format!("{} in {groups}, because {why}", id_list(ids)),
        format!("{} not in such a group", id_list(&wrong)),
    )]
}

fn state(ctx: &Context, id: &str, allowed: &[String], why: &str) -> Vec<Violation> {
    let Some(lookup) = &ctx.contract.lookup else { return vec![] };
    let Some(resp) = ctx.response() else { return vec![] };
    let expected = || format!("asset {id:?} in {}, because {why}", allowed.join(" or "));
    if lookup.absent_statuses.contains(&resp.status) {
        if allowed.iter().any(|s| s == ABSENT) {
            return vec![];
        }
        return vec![Violation::new(CHECK.name, "response.status", expected(), "not found")];
    }
    let seen = ctx.response_json.as_ref().and_then(|b| b.pointer(&lookup.state)).and_then(Value::as_str);
    match seen {
        Some(s) if allowed.iter().any(|a| a == s) => vec![],
        Some(s) => {
            vec![Violation::new(CHECK.name, format!("response.body{}", lookup.state), expected(), format!("{s:?}"))]
        }
        None => vec![Violation::new(
            CHECK.name,
            format!("response.body{}", lookup.state),
            expected(),
            format!("status {} without a state", resp.status),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use crate::exchange::{Exchange, Outcome};
    use serde_json::json;

    #[test]
    fn outcome_expectations() {
        let expect = Expect::Outcome {
            ids: vec!["a".into()],
            status: "SUCCESS".into(),
            why: "it was deleted".into(),
            or_failed: false,
        };
        assert!(judge_with("lifecycle", &good(), &expect).is_empty());
        let expect = Expect::Outcome {
            ids: vec!["b".into()],
            status: "SUCCESS".into(),
            why: "it was deleted".into(),
            or_failed: false,
        };
        assert_eq!(failing(&good(), &expect), ["lifecycle"]);
    }

    #[test]
    fn state_expectations() {
        let mut req = request(json!({}));
        req.method = "GET".into();
        req.url = "http://127.0.0.1/v1/p/digital-assets/a1".into();
        let x = Exchange::new(req.clone(), response(200, json!({"asset_id": "a1", "asset_state": "ACTIVED"})));
        let expect = Expect::State { id: "a1".into(), allowed: vec!["ACTIVED".into()], why: "restored".into() };
        assert!(failing(&x, &expect).is_empty());
        let expect = Expect::State {
            id: "a1".into(),
            allowed: vec!["DELETED".into(), "$absent".into()],
            why: "force-deleted".into(),
        };
        assert_eq!(failing(&x, &expect), ["lifecycle"]);
        let mut gone = x.clone();
        gone.outcome =
            Outcome::Response(response(404, json!({"error_code": "MSS.00000003", "error_msg": "not found"})));
        assert!(failing(&gone, &expect).is_empty());
    }
}

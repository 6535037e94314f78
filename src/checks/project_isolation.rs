use super::{id_list, Check, Context, Expect, Violation};

pub const CHECK: Check = Check {
    name: "project_isolation",
    description: "a batch naming a project that is not the run's acts on none of the run's assets: rejected with the contract's status, or every id FAILED",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    let Expect::OtherProject { ids } = ctx.expect else { return vec![] };
    let Some(resp) = ctx.response() else { return vec![] };
    // A refusal is what the contract asks of credentials that do not reach the project; other
    // statuses are the other checks' to judge (a 500 is `no_server_error`'s).
    if resp.status != 200 {
        return vec![];
    }
    let spec = ctx.contract.batch();
    let acted: Vec<String> = ids
        .iter()
        .filter(|id| ctx.statuses_naming(id).iter().any(|s| *s != Some(spec.failed_status.as_str())))
        .cloned()
        .collect();
    if acted.is_empty() {
        return vec![];
    }
    vec![Violation::new(
        CHECK.name,
        ctx.body_at(&spec.groups),
        format!(
            "{} only in `{}` groups, because the batch names a project that is not the run's",
            id_list(ids),
            spec.failed_status
        ),
        format!("{} reported done", id_list(&acted)),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use crate::exchange::Exchange;
    use serde_json::json;

    fn exchange(status: u16, body: serde_json::Value) -> Exchange {
        Exchange::new(request(json!({"action": "UNACTIVE", "asset_ids": ["a"]})), response(status, body))
    }

    #[test]
    fn another_projects_batch_touches_nothing() {
        let expect = Expect::OtherProject { ids: vec!["a".into()] };
        assert_eq!(failing(&good(), &expect), ["project_isolation"]);
        let failed = exchange(
            200,
            json!({"results": [{"ret_status": "FAILED", "asset_ids": ["a"], "error_info": {"error_code": "MSS.00000003", "error_msg": "not found"}}]}),
        );
        assert!(failing(&failed, &expect).is_empty());
        let refused = exchange(400, json!({"error_code": "MSS.00000001", "error_msg": "Unauthorized"}));
        assert!(failing(&refused, &expect).is_empty());
    }
}

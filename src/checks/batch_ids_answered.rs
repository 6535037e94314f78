use std::collections::{BTreeMap, BTreeSet};

use super::{id_list, Check, Context, Violation};

pub const CHECK: Check = Check {
    name: "batch_ids_answered",
    description: "every requested id appears in exactly one result group of a 200 answer",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    let Some(resp) = ctx.batch_response() else { return vec![] };
    if resp.status != 200 || ctx.response_json.is_none() {
        return vec![];
    }
    let Some(requested) = ctx.requested_ids() else { return vec![] };
    // Which groups name each id. An id repeated inside one group is still in one group: the
    // contract does not say how a repeated request id is answered. Ordered, not hashed: ids run
    // to 64 KiB, and comparing two stops at their first difference.
    let mut seen_in: BTreeMap<&str, Vec<usize>> = requested.iter().map(|id| (*id, vec![])).collect();
    for (i, group) in ctx.groups() {
        for id in ctx.group_ids(group) {
            if let Some(groups) = seen_in.get_mut(id) {
                if groups.last() != Some(&i) {
                    groups.push(i);
                }
            }
        }
    }
    let mut missing = Vec::new();
    let mut repeated = Vec::new();
    let mut reported = BTreeSet::new();
    // In the requested order, so that messages read like the request.
    for id in &requested {
        if !reported.insert(*id) {
            continue;
        }
        match seen_in[id].as_slice() {
            [] => missing.push(*id),
            [_] => {}
            groups => repeated.push(format!("{id:?} in groups {groups:?}")),
        }
    }
    let at = ctx.body_at(&ctx.contract.batch().groups);
    let mut out = Vec::new();
    if !missing.is_empty() {
        out.push(Violation::new(
            CHECK.name,
            at.clone(),
            "every requested id in one result group",
            format!("{} requested id(s) in no group: {}", missing.len(), id_list(&missing)),
        ));
    }
    if !repeated.is_empty() {
        out.push(Violation::new(
            CHECK.name,
            at,
            "each requested id in exactly one result group",
            format!("{} id(s) in more than one group: {}", repeated.len(), repeated.join("; ")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use crate::exchange::Outcome;
    use serde_json::json;

    #[test]
    fn passes_complete_answers_and_repeated_request_ids() {
        assert!(judge("batch_ids_answered", &good()).is_empty());
        let mut x = good();
        x.request = request(json!({"action": "DELETE", "asset_ids": ["a", "a", "b"]}));
        assert!(judge("batch_ids_answered", &x).is_empty());
    }

    #[test]
    fn trips_missing_and_doubled_ids() {
        let mut x = good();
        x.outcome =
            Outcome::Response(response(200, json!({"results": [{"ret_status": "SUCCESS", "asset_ids": ["a"]}]})));
        assert_eq!(failing(&x, &Expect::Nothing), ["batch_ids_answered"]);
        assert!(judge("batch_ids_answered", &x)[0].seen.contains("\"b\""));
        x.outcome = Outcome::Response(response(
            200,
            json!({"results": [
                {"ret_status": "SUCCESS", "asset_ids": ["a", "b"]},
                {"ret_status": "FAILED", "asset_ids": ["b"], "error_info": {"error_code": "E", "error_msg": "m"}}
            ]}),
        ));
        assert_eq!(failing(&x, &Expect::Nothing), ["batch_ids_answered"]);
        assert!(judge("batch_ids_answered", &x)[0].seen.contains("more than one group"));
    }
}

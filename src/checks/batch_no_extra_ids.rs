use super::{id_list, Check, Context, Violation};

pub const CHECK: Check =
    Check { name: "batch_no_extra_ids", description: "no result group names an id that was not requested", run };

fn run(ctx: &Context) -> Vec<Violation> {
    let Some(requested) = ctx.requested_ids() else { return vec![] };
    // Ordered, not hashed: ids run to 64 KiB, and comparing two stops at their first difference.
    let requested: std::collections::BTreeSet<&str> = requested.into_iter().collect();
    let spec = ctx.contract.batch();
    ctx.groups()
        .into_iter()
        .filter_map(|(i, group)| {
            let extra: Vec<&str> = ctx.group_ids(group).into_iter().filter(|id| !requested.contains(id)).collect();
            (!extra.is_empty()).then(|| {
                Violation::new(
                    CHECK.name,
                    ctx.body_at(&format!("{}/{i}{}", spec.groups, spec.group_ids)),
                    "only requested ids",
                    format!("{} id(s) that were not requested: {}", extra.len(), id_list(&extra)),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use crate::exchange::Outcome;
    use serde_json::json;

    #[test]
    fn passes_good_and_trips_extra() {
        assert!(judge("batch_no_extra_ids", &good()).is_empty());
        let mut x = good();
        x.outcome = Outcome::Response(response(
            200,
            json!({"results": [
                {"ret_status": "SUCCESS", "asset_ids": ["a", "b", "zz"]}
            ]}),
        ));
        assert_eq!(failing(&x, &Expect::Nothing), ["batch_no_extra_ids"]);
        assert_eq!(judge("batch_no_extra_ids", &x)[0].location, "response.body/results/0/asset_ids");
    }
}

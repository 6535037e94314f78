use serde_json::Value;

use super::{Check, Context, Violation};

pub const CHECK: Check =
    Check { name: "failed_group_has_error_info", description: "a `FAILED` result group says why in `error_info`", run };

fn run(ctx: &Context) -> Vec<Violation> {
    let spec = ctx.contract.batch();
    ctx.groups()
        .into_iter()
        .filter(|(_, g)| g.pointer(&spec.group_status).and_then(Value::as_str) == Some(spec.failed_status.as_str()))
        .filter(|(_, g)| g.pointer(&spec.group_error).is_none_or(Value::is_null))
        .map(|(i, _)| {
            Violation::new(
                CHECK.name,
                ctx.body_at(&format!("{}/{i}{}", spec.groups, spec.group_error)),
                format!("`{}` on a `{}` group", spec.group_error.trim_start_matches('/'), spec.failed_status),
                "no error information",
            )
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
    fn passes_good_and_trips_bare_failure() {
        assert!(judge("failed_group_has_error_info", &good()).is_empty());
        let mut x = good();
        x.outcome = Outcome::Response(response(
            200,
            json!({"results": [
                {"ret_status": "SUCCESS", "asset_ids": ["a"]},
                {"ret_status": "FAILED", "asset_ids": ["b"]}
            ]}),
        ));
        assert_eq!(failing(&x, &Expect::Nothing), ["failed_group_has_error_info"]);
    }
}

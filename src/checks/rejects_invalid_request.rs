use super::{Check, Context, Expect, Violation};

pub const CHECK: Check = Check {
    name: "rejects_invalid_request",
    description: "a request that breaks one rule of the request schema is rejected with 400 (its body is judged by `response_schema`)",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    let (Expect::Rejected { rule }, Some(resp)) = (ctx.expect, ctx.response()) else { return vec![] };
    let want = ctx.contract.operation().invalid_request_status;
    if resp.status == want || resp.status >= 500 {
        return vec![];
    }
    vec![Violation::new(
        CHECK.name,
        "response.status",
        format!("{want} for a request that breaks a rule ({rule})"),
        resp.status.to_string(),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use crate::exchange::Outcome;
    use serde_json::json;

    #[test]
    fn passes_400_and_trips_200() {
        let expect = Expect::Rejected { rule: "`action` missing".into() };
        let mut x = good();
        x.request = request(json!({"asset_ids": ["a", "b"]}));
        assert_eq!(failing(&x, &expect), ["rejects_invalid_request"]);
        x.outcome = Outcome::Response(response(400, json!({"error_code": "MSS.00000002", "error_msg": "bad"})));
        assert!(failing(&x, &expect).is_empty());
    }
}

use super::{Check, Context, Expect, Violation};

pub const CHECK: Check = Check {
    name: "rejects_bad_credentials",
    description: "a request with missing or failed authentication is rejected with 400, as the contract says, or 401 by the platform's gateway",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    let (Expect::Unauthenticated { how }, Some(resp)) = (ctx.expect, ctx.response()) else { return vec![] };
    let want = ctx.contract.operation().auth.rejected_with;
    if resp.status == want || resp.status >= 500 || ctx.gateway_refused_credentials() {
        return vec![];
    }
    vec![Violation::new(CHECK.name, "response.status", format!("{want} for {how}"), resp.status.to_string())]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use crate::exchange::Outcome;
    use serde_json::json;

    #[test]
    fn passes_400_and_trips_200() {
        let expect = Expect::Unauthenticated { how: "no credentials".into() };
        assert_eq!(failing(&good(), &expect), ["rejects_bad_credentials"]);
        let mut x = good();
        x.outcome =
            Outcome::Response(response(400, json!({"error_code": "MSS.00000001", "error_msg": "Unauthorized"})));
        assert!(failing(&x, &expect).is_empty());
        x.outcome = Outcome::Response(response(
            401,
            json!({"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information: verify aksk signature fail", "request_id": "r"}),
        ));
        assert!(failing(&x, &expect).is_empty());
        x.outcome =
            Outcome::Response(response(401, json!({"error_code": "MSS.00000001", "error_msg": "Unauthorized"})));
        assert!(failing(&x, &expect).contains(&"rejects_bad_credentials".to_string()));
    }
}

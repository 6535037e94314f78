use super::{Check, Context, Expect, Violation};

pub const CHECK: Check = Check {
    name: "rejects_bad_credentials",
    description: "a request with missing or failed authentication is rejected with 400, as the contract says",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    let (Expect::Unauthenticated { how }, Some(resp)) = (ctx.expect, ctx.response()) else { return vec![] };
    let want = ctx.contract.operation().auth.rejected_with;
    if resp.status == want || resp.status >= 500 {
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
    }
}

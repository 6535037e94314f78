use super::{Check, Context, Expect, Violation};

pub const CHECK: Check = Check {
    name: "accepts_valid_request",
    description: "an ordinary valid, authenticated request (a few plain ids, no extras) is answered 200",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    let (Expect::Accepted, Some(resp)) = (ctx.expect, ctx.response()) else { return vec![] };
    if resp.status == 200 || resp.status >= 500 {
        // 5xx is `no_server_error`'s to report.
        return vec![];
    }
    vec![Violation::new(
        CHECK.name,
        "response.status",
        "200",
        format!("{} {}", resp.status, super::cut(&String::from_utf8_lossy(&resp.body), 120)),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use crate::exchange::Outcome;
    use serde_json::json;

    #[test]
    fn passes_200_and_trips_400() {
        assert!(judge_with("accepts_valid_request", &good(), &Expect::Accepted).is_empty());
        let mut x = good();
        x.outcome = Outcome::Response(response(400, json!({"error_code": "MSS.00000002", "error_msg": "no"})));
        assert!(judge("accepts_valid_request", &x).is_empty(), "only applies when the case expects acceptance");
        assert_eq!(failing(&x, &Expect::Accepted), ["accepts_valid_request"]);
    }
}

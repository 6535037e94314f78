use super::{Check, Context, Violation};

pub const CHECK: Check = Check {
    name: "status_documented",
    description: "the response status is one the contract lists (200, 400, 500)",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    let Some(resp) = ctx.batch_response() else { return vec![] };
    let listed = ctx.contract.documented_statuses();
    if listed.contains(&resp.status) {
        return vec![];
    }
    let listed: Vec<String> = listed.iter().map(u16::to_string).collect();
    vec![Violation::new(
        CHECK.name,
        "response.status",
        format!("one of {}", listed.join(", ")),
        resp.status.to_string(),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use serde_json::json;

    #[test]
    fn passes_listed_and_trips_unlisted() {
        assert!(judge("status_documented", &good()).is_empty());
        let mut x = good();
        x.outcome = crate::exchange::Outcome::Response(response(201, json!({"results": []})));
        x.request = request(json!({"action": "DELETE", "asset_ids": []}));
        assert_eq!(failing(&x, &Expect::Nothing), ["status_documented"]);
    }
}

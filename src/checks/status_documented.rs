use super::{Check, Context, Violation};

pub const CHECK: Check = Check {
    name: "status_documented",
    description:
        "the response status is one the contract lists (200, 400, 500), or the gateway's for failed authentication",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    let Some(resp) = ctx.batch_response() else { return vec![] };
    let listed = ctx.contract.documented_statuses();
    if listed.contains(&resp.status) || ctx.gateway_refused_credentials() {
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

    /// The platform's gateway answers failed authentication 401 with an `APIGW` code: conformant
    /// for bad credentials, not for a valid request, and not with a service code.
    #[test]
    fn a_gateway_401_conforms_only_for_bad_credentials() {
        let bad = Expect::Unauthenticated { how: "no credentials".into() };
        let mut x = good();
        let gateway = json!({"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information: x-auth-token not found", "request_id": "r"});
        x.outcome = crate::exchange::Outcome::Response(response(401, gateway.clone()));
        assert!(failing(&x, &bad).is_empty(), "{:?}", failing(&x, &bad));
        let mut old = x.clone();
        old.outcome =
            crate::exchange::Outcome::Response(response(401, json!({"error_code": "APIG.0301", "error_msg": "m"})));
        assert!(failing(&old, &bad).is_empty());
        assert!(failing(&x, &Expect::Nothing).contains(&"status_documented".to_string()));
        assert!(failing(&x, &Expect::Accepted).contains(&"status_documented".to_string()));
        let mut service = x.clone();
        service.outcome = crate::exchange::Outcome::Response(response(
            401,
            json!({"error_code": "MSS.00000001", "error_msg": "Unauthorized"}),
        ));
        assert_eq!(failing(&service, &bad), ["status_documented", "rejects_bad_credentials"]);
        let mut throttle = x.clone();
        throttle.outcome =
            crate::exchange::Outcome::Response(response(401, json!({"error_code": "APIGW.0308x", "error_msg": "m"})));
        assert!(!failing(&throttle, &bad).is_empty());
    }
}

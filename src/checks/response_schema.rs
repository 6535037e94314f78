use super::{brief, Check, Context, Violation};

pub const CHECK: Check = Check {
    name: "response_schema",
    description: "the response body is JSON and validates against the schema for its status",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    let Some(resp) = ctx.batch_response() else { return vec![] };
    // A gateway answer is judged by the gateway's body schema (its code is what made it one).
    let gateway = ctx.gateway_answer().and(ctx.contract.gateway.as_ref()).map(|g| &g.body);
    let Some(schema) = gateway.or_else(|| ctx.contract.responses.get(&resp.status).map(|(s, _)| s)) else {
        return vec![];
    };
    let Some(body) = &ctx.response_json else {
        let seen = if resp.body.is_empty() {
            "an empty body".to_string()
        } else {
            format!("a body that is not JSON: {}", super::cut(&String::from_utf8_lossy(&resp.body), 80))
        };
        return vec![Violation::new(CHECK.name, "response.body", format!("JSON matching `{}`", schema.file), seen)];
    };
    schema
        .errors(body)
        .into_iter()
        .map(|e| {
            let seen = body.pointer(&e.instance_path).map(brief).unwrap_or_default();
            Violation::new(
                CHECK.name,
                ctx.body_at(&e.instance_path),
                format!("`{}` of `{}`: {}", e.keyword, schema.file, e.message),
                seen,
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
    fn passes_good_and_trips_enum() {
        assert!(judge("response_schema", &good()).is_empty());
        let mut x = good();
        x.outcome = Outcome::Response(response(
            200,
            json!({"results": [
                {"ret_status": "SUCESS", "asset_ids": ["a"]},
                {"ret_status": "FAILED", "asset_ids": ["b"], "error_info": {"error_code": "MSS.00000003", "error_msg": "x"}}
            ]}),
        ));
        assert_eq!(failing(&x, &Expect::Nothing), ["response_schema"]);
        let v = judge("response_schema", &x);
        assert_eq!(v[0].location, "response.body/results/0/ret_status");
        assert!(v[0].expected.starts_with("`enum`"), "{}", v[0].expected);
        assert_eq!(v[0].seen, "\"SUCESS\"");
    }

    #[test]
    fn trips_error_body_without_code_and_non_json() {
        let mut x = good();
        x.outcome = Outcome::Response(response(400, json!({"error_msg": "bad"})));
        assert_eq!(failing(&x, &Expect::Nothing), ["response_schema"]);
        if let Outcome::Response(r) = &mut x.outcome {
            r.body = b"<html>oops</html>".to_vec();
        }
        let v = judge("response_schema", &x);
        assert_eq!(v[0].location, "response.body");
        assert!(v[0].seen.contains("not JSON"));
    }
}

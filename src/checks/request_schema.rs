use super::{brief, Check, Context, Subject, Violation};

pub const CHECK: Check = Check {
    name: "request_schema",
    description:
        "the request itself follows the contract (body and headers): a failure here is a client bug, not a server one",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    // A request the case broke on purpose is judged by `rejects_invalid_request` instead.
    if ctx.subject != Subject::Batch || !matches!(ctx.expect, super::Expect::Nothing | super::Expect::Accepted) {
        return vec![];
    }
    let schema = &ctx.contract.request_body;
    let mut out = Vec::new();
    match ctx.request_json.as_deref() {
        None => out.push(Violation::new(
            CHECK.name,
            "request.body",
            format!("JSON matching `{}`", schema.file),
            format!(
                "a body that is not JSON: {}",
                super::cut(&String::from_utf8_lossy(&ctx.exchange.request.body), 80)
            ),
        )),
        Some(body) => out.extend(schema.errors(body).into_iter().map(|e| {
            Violation::new(
                CHECK.name,
                format!("request.body{}", e.instance_path),
                format!("`{}` of `{}`: {}", e.keyword, schema.file, e.message),
                body.pointer(&e.instance_path).map(brief).unwrap_or_default(),
            )
        })),
    }
    let headers = ctx.exchange.request.headers.to_json();
    let hschema = &ctx.contract.request_headers;
    out.extend(hschema.errors(&headers).into_iter().map(|e| {
        let name = e.instance_path.trim_start_matches('/');
        Violation::new(
            CHECK.name,
            format!("request.headers.{name}"),
            format!("`{}` of `{}`: {}", e.keyword, hschema.file, e.message),
            headers.pointer(&e.instance_path).map(brief).unwrap_or_default(),
        )
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use serde_json::json;

    #[test]
    fn passes_good_and_trips_bad_action_and_header() {
        assert!(judge("request_schema", &good()).is_empty());
        let mut x = good();
        x.request = request(json!({"action": "DETELTE", "asset_ids": ["a", "b"]}));
        assert_eq!(failing(&x, &Expect::Nothing), ["request_schema"]);
        assert_eq!(judge("request_schema", &x)[0].location, "request.body/action");
        let mut x = good();
        x.request.headers.insert("X-App-UserId", "用户42");
        assert_eq!(judge("request_schema", &x)[0].location, "request.headers.x-app-userid");
    }
}

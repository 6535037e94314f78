use super::{Check, Context, Violation};

pub const CHECK: Check = Check {
    name: "content_type_json",
    description: "the response's `Content-Type` is JSON (`application/json`, parameters allowed)",
    run,
};

/// `application/json` or a `+json` type, any parameters; case does not matter.
pub fn is_json(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

fn run(ctx: &Context) -> Vec<Violation> {
    let Some(resp) = ctx.batch_response() else { return vec![] };
    let Some(headers) = &resp.headers else { return vec![] };
    match headers.get("content-type") {
        Some(ct) if is_json(ct) => vec![],
        Some(ct) => {
            vec![Violation::new(CHECK.name, "response.headers.Content-Type", "application/json", format!("{ct:?}"))]
        }
        None => vec![Violation::new(
            CHECK.name,
            "response.headers.Content-Type",
            "application/json",
            "no Content-Type header",
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use super::is_json;
    use crate::exchange::Outcome;

    #[test]
    fn media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("text/json+html"));
    }

    #[test]
    fn passes_json_and_trips_text() {
        assert!(judge("content_type_json", &good()).is_empty());
        let mut x = good();
        if let Outcome::Response(r) = &mut x.outcome {
            r.headers.as_mut().unwrap().insert("Content-Type", "text/html");
        }
        assert_eq!(failing(&x, &Expect::Nothing), ["content_type_json"]);
    }
}

use super::{Check, Context, Violation};

pub const CHECK: Check = Check {
    name: "required_headers",
    description: "the response carries the headers the contract requires for its status (`X-Request-Id` on 200)",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    let Some(resp) = ctx.batch_response() else { return vec![] };
    let Some(headers) = &resp.headers else { return vec![] };
    let Some((_, required)) = ctx.contract.responses.get(&resp.status) else { return vec![] };
    required
        .iter()
        .filter(|name| headers.get(name).is_none_or(|v| v.trim().is_empty()))
        .map(|name| {
            let seen = if headers.get(name).is_some() { "an empty value" } else { "no such header" };
            Violation::new(CHECK.name, format!("response.headers.{name}"), format!("a non-empty `{name}` header"), seen)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use crate::exchange::Outcome;

    #[test]
    fn passes_present_and_trips_missing() {
        assert!(judge("required_headers", &good()).is_empty());
        let mut x = good();
        if let Outcome::Response(r) = &mut x.outcome {
            r.headers.as_mut().unwrap().remove("x-request-id");
        }
        assert_eq!(failing(&x, &Expect::Nothing), ["required_headers"]);
    }
}

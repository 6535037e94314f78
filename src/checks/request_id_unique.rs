use super::{Check, Context, Violation};

pub const CHECK: Check =
    Check { name: "request_id_unique", description: "no two responses of a run carry the same `X-Request-Id`", run };

fn run(ctx: &Context) -> Vec<Violation> {
    let Some(resp) = ctx.response() else { return vec![] };
    let Some(id) = resp.header("x-request-id").filter(|v| !v.trim().is_empty()) else { return vec![] };
    match ctx.run.note_request_id(id, ctx.label) {
        Some(first) => vec![Violation::new(
            CHECK.name,
            "response.headers.X-Request-Id",
            "an id no other response of the run had",
            format!("{id:?}, already seen on {first}"),
        )],
        None => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{find, Context, Expect, RunState};

    #[test]
    fn passes_fresh_ids_and_trips_a_repeat() {
        let run = RunState::default();
        let x = good();
        let check = find("request_id_unique").unwrap();
        assert!((check.run)(&Context::new(contract(), &x, &Expect::Nothing, &run, "first")).is_empty());
        let v = (check.run)(&Context::new(contract(), &x, &Expect::Nothing, &run, "second"));
        assert_eq!(v.len(), 1);
        assert!(v[0].seen.contains("first"));
    }
}

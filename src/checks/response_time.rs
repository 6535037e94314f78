use super::{Check, Context, Violation};

pub const CHECK: Check =
    Check { name: "response_time", description: "a response arrives within `--max-response-ms` (when set)", run };

fn run(ctx: &Context) -> Vec<Violation> {
    let (Some(limit), Some(took), Some(_)) = (ctx.run.max_response_ms, ctx.exchange.elapsed_ms, ctx.response()) else {
        return vec![];
    };
    if took <= limit {
        return vec![];
    }
    vec![Violation::new(CHECK.name, "response", format!("an answer within {limit} ms"), format!("{took} ms"))]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;

    #[test]
    fn passes_fast_and_trips_slow() {
        let mut x = good();
        x.elapsed_ms = Some(999);
        assert!(judge("response_time", &x).is_empty());
        x.elapsed_ms = Some(1001);
        assert_eq!(failing(&x, &Expect::Nothing), ["response_time"]);
    }
}

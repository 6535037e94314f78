use super::{Check, Context, Violation};
use crate::exchange::Outcome;

pub const CHECK: Check = Check {
    name: "connection",
    description: "every request gets a whole HTTP answer: no reset, hang, timeout or garbled response",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    match &ctx.exchange.outcome {
        Outcome::Transport { reason, elapsed_ms, .. } => vec![Violation::new(
            CHECK.name,
            "connection",
            "a complete HTTP response",
            format!("{reason} (after {elapsed_ms} ms)"),
        )],
        Outcome::Response(_) => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use crate::exchange::Outcome;

    #[test]
    fn passes_answers_and_trips_resets() {
        assert!(judge("connection", &good()).is_empty());
        let mut x = good();
        x.outcome = Outcome::Transport { reason: "connection reset by peer".into(), elapsed_ms: 3, silent: true };
        assert_eq!(failing(&x, &Expect::Nothing), ["connection"]);
    }
}

use super::{Check, Context, Violation};

pub const CHECK: Check =
    Check { name: "no_server_error", description: "no request of any kind is answered with a 5xx", run };

fn run(ctx: &Context) -> Vec<Violation> {
    match ctx.response() {
        Some(resp) if resp.status >= 500 => {
            vec![Violation::new(CHECK.name, "response.status", "a status below 500", resp.status.to_string())]
        }
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;
    use serde_json::json;

    #[test]
    fn passes_200_and_trips_500() {
        assert!(judge("no_server_error", &good()).is_empty());
        let mut x = good();
        x.outcome = crate::exchange::Outcome::Response(response(
            500,
            json!({"error_code": "MSS.00000004", "error_msg": "Internal Error"}),
        ));
        assert_eq!(failing(&x, &Expect::Nothing), ["no_server_error"]);
    }
}

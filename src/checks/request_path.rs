use super::{Check, Context, Subject, Violation};

pub const CHECK: Check = Check {
    name: "request_path",
    description:
        "the request's method and path match the operation (`POST /v1/{project_id}/digital-assets/batch-action`)",
    run,
};

fn run(ctx: &Context) -> Vec<Violation> {
    if ctx.subject != Subject::Batch {
        return vec![];
    }
    let op = ctx.contract.operation();
    let req = &ctx.exchange.request;
    let mut out = Vec::new();
    if !req.method.eq_ignore_ascii_case(&op.method) {
        out.push(Violation::new(CHECK.name, "request.method", op.method.clone(), req.method.clone()));
    }
    if !ctx.contract.matches_path(ctx.path) {
        out.push(Violation::new(CHECK.name, "request.path", format!("`{}`", op.path), format!("`{}`", req.path())));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Expect;

    #[test]
    fn a_targets_base_path_is_not_part_of_the_operation() {
        let mut x = good();
        x.request.url = "https://h/gw/v1/p/digital-assets/batch-action".into();
        assert_eq!(failing(&x, &Expect::Nothing), ["request_path"]);
        let run = super::super::RunState::new(None).with_path_prefix("/gw/");
        let ctx = super::super::Context::new(contract(), &x, &Expect::Nothing, &run, "t");
        assert!((super::CHECK.run)(&ctx).is_empty());
    }

    #[test]
    fn passes_good_and_trips_missing_project() {
        assert!(judge("request_path", &good()).is_empty());
        let mut x = good();
        x.request.url = "https://h/v1/digital-assets/batch-action".into();
        assert_eq!(failing(&x, &Expect::Nothing), ["request_path"]);
    }
}

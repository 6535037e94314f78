//! `batchconf run`: flags into [`RunOptions`], the reporters a terminal user gets, and the run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use batchconf::engine::{Limits, RunOptions, Settings, Suite, TargetSpec};
use batchconf::error::{Error, SetupError, Verdict};
use batchconf::report::{
    coverage::Coverage, html::Html, json::Json, junit::Junit, progress::Progress, summary::Summary, terminal::Terminal,
};

use super::args::RunArgs;

fn options(a: RunArgs) -> RunOptions {
    RunOptions {
        target: a.target,
        access: a.auth.into(),
        schemas: a.schemas,
        cases: a.cases,
        seed: a.seed,
        examples: a.examples,
        concurrency: a.concurrency,
        timeout: Duration::from_millis(a.timeout_ms),
        max_response_ms: a.max_response_ms,
        rate: a.rate,
        settle: Duration::from_millis(a.settle_ms),
        fixture_assets: a.fixture_assets,
        allow_destructive: a.allow_destructive,
        dry_run: a.dry_run,
        junit: a.junit,
        report_json: a.report_json,
        filter: a.filter,
        fault: a.fault,
        variants: a.variants,
        limits: Limits { duration: a.duration, requests: a.requests, max_duration: a.max_duration },
    }
}

pub fn run(args: RunArgs) -> Result<Verdict, Error> {
    let report_html = args.report_html.clone();
    let suite = Suite::new(Settings::new(options(args))?)?;
    let s = &suite.settings;
    let selected = suite.selected()?;
    // Reports are checked before anything is sent: findings must never be lost to a bad path.
    let target_name = match &s.target {
        TargetSpec::Bundled { .. } => "bundled".to_string(),
        TargetSpec::Remote { url } => batchconf::send::shown_url(url),
    };
    distinct_reports(&[
        ("--junit", s.junit.as_deref()),
        ("--report-json", s.report_json.as_deref()),
        ("--report-html", report_html.as_deref()),
    ])?;
    let junit = s.junit.as_deref().map(Junit::new).transpose()?;
    let json = s.report_json.as_deref().map(|p| Json::new(p, &target_name, &s.project_id)).transpose()?;
    let html = report_html.as_deref().map(|p| Html::new(p, &target_name, &s.contract)).transpose()?;
    let where_to = match &s.target {
        TargetSpec::Bundled { fault: None, .. } => "the bundled reference server".to_string(),
        TargetSpec::Bundled { fault: Some(f), .. } => {
            format!("the bundled reference server with the fault `{f}` planted")
        }
        TargetSpec::Remote { url } => format!("`{}`", batchconf::send::shown_url(url)),
    };
    println!(
        "batchconf run: seed {} against {where_to} (contract: {}, cases: {})",
        s.seed, s.contract.origin, s.cases_origin
    );
    if s.dry_run {
        suite.dry_run(&selected)?;
        return Ok(Verdict::Conforms);
    }
    // From here on Ctrl-C and SIGTERM wind the run down: it stops starting requests, lets those in
    // flight finish, puts fixtures back and writes every report, marked interrupted.
    suite.interrupt.listen(
        "stopping: no new requests; those in flight finish, fixtures are put back, then the summary and reports",
    )?;
    // An unreachable target is one clear error (exit 3), not a failure per trial.
    suite.engine()?;
    // The libtest lines print through the progress display, so its spinner never draws over them.
    let progress = Progress::start(s.limits);
    suite.hub.add(Box::new(Terminal::new(selected.iter().map(|u| u.index).collect(), progress.lines())));
    suite.hub.add(Box::new(progress));
    // One coverage tracker, fed once, read by every report that shows it.
    let coverage = Coverage::new(s.contract.clone(), s.fixture_ids());
    suite.hub.add(Box::new(coverage.clone()));
    suite.hub.add(Box::new(Summary::with_coverage(coverage.clone(), &s.contract)));
    if let Some(j) = junit {
        suite.hub.add(Box::new(j));
    }
    if let Some(j) = json {
        suite.hub.add(Box::new(j.with_coverage(coverage.clone())));
    }
    if let Some(h) = html {
        suite.hub.add(Box::new(h.with_coverage(coverage.clone())));
    }
    let verdict = suite.run(&selected);
    suite.shutdown();
    verdict
}

/// Two reports written to one file would leave only the last: the user's mistake, said before
/// anything is sent. Paths are compared as the files they name (`./x` and `x` are one file).
fn distinct_reports(reports: &[(&str, Option<&Path>)]) -> Result<(), Error> {
    let file = |p: &Path| -> PathBuf {
        let absolute = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        match (absolute.parent().and_then(|d| d.canonicalize().ok()), absolute.file_name()) {
            (Some(dir), Some(name)) => dir.join(name),
            _ => absolute,
        }
    };
    let given: Vec<(&str, &Path, PathBuf)> =
        reports.iter().filter_map(|(flag, p)| p.map(|p| (*flag, p, file(p)))).collect();
    for (i, (flag, path, a)) in given.iter().enumerate() {
        if let Some((other, _, _)) = given[..i].iter().find(|(_, _, b)| b == a) {
            return Err(SetupError::Argument(format!(
                "`{other}` and `{flag}` both name `{}`: each report needs a file of its own",
                path.display()
            ))
            .into());
        }
    }
    Ok(())
}

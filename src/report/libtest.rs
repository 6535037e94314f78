//! The `cargo test` gate: the suite as libtest-mimic trials, so `cargo test`, filters, `--list`
//! and nextest partitions work. Each trial's result is what the engine's `TrialFinished` says;
//! the summary is the same consumer `batchconf run` prints.
//!
//! This is the one place that reads batchconf's environment variables: `BATCHCONF_TARGET` (and
//! the credentials, fixtures and knobs that go with it) choose what the gate tests, on purpose.

use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

use super::coverage::Coverage;
use super::summary::Summary;
use crate::engine::{Access, Hints, RunOptions, Settings, Suite};
use crate::error::exit;
use crate::events::TrialEnd;

/// What the gate tests, from the environment: the bundled server unless `BATCHCONF_TARGET` is set.
pub fn options_from_env() -> Result<RunOptions, String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let number = |k: &str| -> Result<Option<u64>, String> {
        env(k).map(|v| v.trim().parse::<u64>().map_err(|_| format!("`{k}={v}` is not a whole number"))).transpose()
    };
    Ok(RunOptions {
        target: env("BATCHCONF_TARGET"),
        access: Access {
            project_id: env("HUAWEICLOUD_SDK_PROJECT_ID"),
            token: env("BATCHCONF_TOKEN"),
            ak: env("HUAWEICLOUD_SDK_AK"),
            sk: env("HUAWEICLOUD_SDK_SK"),
            app_user_id: None,
        },
        fixture_assets: env("BATCHCONF_FIXTURE_ASSETS"),
        schemas: env("BATCHCONF_SCHEMAS").map(std::path::PathBuf::from),
        cases: env("BATCHCONF_CASES").map(std::path::PathBuf::from),
        allow_destructive: env("BATCHCONF_ALLOW_DESTRUCTIVE").is_some(),
        seed: number("BATCHCONF_SEED")?,
        examples: number("BATCHCONF_EXAMPLES")?.map(|n| n as u32).unwrap_or(100),
        max_response_ms: number("BATCHCONF_MAX_RESPONSE_MS")?,
        timeout: Duration::from_millis(number("BATCHCONF_TIMEOUT_MS")?.unwrap_or(10_000)),
        rate: env("BATCHCONF_RATE")
            .map(|v| v.trim().parse::<f64>().map_err(|_| format!("`BATCHCONF_RATE={v}` is not a number")))
            .transpose()?,
        ..RunOptions::default()
    })
}

/// The gate's settings: its hints name the environment variables it reads, not flags (a `cargo
/// test` user sets no flags).
pub fn settings(options: RunOptions) -> Result<Settings, String> {
    let mut settings = Settings::new(options).map_err(|e| e.to_string())?;
    settings.hints = Hints::Env;
    Ok(settings)
}

/// The gate's `main`: runs the suite as libtest trials and exits the way libtest does, or 2 when
/// the environment is wrong, or 3 when the target cannot be tested.
pub fn gate() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let settings = match options_from_env().and_then(settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("batchconf suite: {e}");
            return std::process::ExitCode::from(exit::SETUP as u8);
        }
    };
    let suite = match Suite::new(settings) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("batchconf suite: {e}");
            return std::process::ExitCode::from(exit::SETUP as u8);
        }
    };
    if args.list {
        return libtest_mimic::run(&args, trials(&suite)).exit_code();
    }
    println!("batchconf suite: seed {}", suite.settings.seed);
    // The same summary `batchconf run` ends with, coverage included.
    let coverage = Coverage::new(suite.settings.contract.clone(), suite.settings.fixture_ids());
    suite.hub.add(Box::new(coverage.clone()));
    suite.hub.add(Box::new(Summary::with_coverage(coverage, &suite.settings.contract)));
    let conclusion = libtest_mimic::run(&args, trials(&suite));
    let stopped = if conclusion.num_passed + conclusion.num_failed > 0 { suite.prove_tested() } else { None };
    suite.put_back();
    if let Err(e) = suite.hub.finish(&suite.run_end()) {
        eprintln!("batchconf suite: {e}");
    }
    suite.shutdown();
    match stopped {
        Some(why) => {
            eprintln!("batchconf suite: the target cannot be tested: {why}");
            std::process::ExitCode::from(exit::UNTESTABLE as u8)
        }
        None => conclusion.exit_code(),
    }
}

/// One libtest trial per unit. Making them does no I/O.
pub fn trials(suite: &Arc<Suite>) -> Vec<Trial> {
    suite
        .units
        .iter()
        .map(|unit| {
            let s = suite.clone();
            let index = unit.index;
            Trial::test(unit.name.clone(), move || run_one(&s, index))
                .with_kind(unit.case.kind())
                .with_ignored_flag(unit.skip.is_some())
        })
        .collect()
}

fn run_one(suite: &Suite, index: usize) -> Result<(), Failed> {
    let end = suite.run_unit(&suite.units[index]).map_err(|e| Failed::from(format!("could not run: {e}")))?;
    match end {
        TrialEnd::Passed | TrialEnd::Skipped(_) => Ok(()),
        TrialEnd::Failed(why) => Err(format!("could not run: {why}").into()),
        TrialEnd::Stopped => Err(format!(
            "not run: the target cannot be tested: {}",
            suite.run_end().stopped.unwrap_or_else(|| "the run stopped".into())
        )
        .into()),
        TrialEnd::Diverged(found) => {
            let context = suite.context();
            Err(found.iter().map(|d| context.divergence(d)).collect::<Vec<_>>().join("\n").into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gates_skip_reasons_name_environment_variables_not_flags() {
        let remote = RunOptions {
            target: Some("https://x.example".into()),
            access: crate::engine::Access {
                project_id: Some("p".into()),
                token: Some("t".into()),
                ..Default::default()
            },
            ..RunOptions::default()
        };
        let reasons = |s: Settings| -> Vec<String> { s.units().into_iter().filter_map(|u| u.skip).collect() };
        let gate = reasons(settings(remote.clone()).unwrap());
        assert!(gate.iter().any(|r| r.contains("`BATCHCONF_FIXTURE_ASSETS`")), "{gate:?}");
        assert!(gate.iter().any(|r| r.contains("`HUAWEICLOUD_SDK_AK`, `HUAWEICLOUD_SDK_SK`")), "{gate:?}");
        assert!(gate.iter().all(|r| !r.contains("`--")), "a flag named under cargo test: {gate:?}");
        let gate = reasons(settings(RunOptions { fixture_assets: Some("a,b".into()), ..remote.clone() }).unwrap());
        assert!(gate.iter().any(|r| r.contains("`BATCHCONF_ALLOW_DESTRUCTIVE=1`")), "{gate:?}");

        // The command line's own settings still name its flags.
        let cli = reasons(Settings::new(remote).unwrap());
        assert!(cli.iter().any(|r| r.contains("`--fixture-assets`")), "{cli:?}");
        assert!(cli.iter().all(|r| !r.contains("BATCHCONF_")), "{cli:?}");
    }
}

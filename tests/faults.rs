//! The harness tests itself: for every fault the reference server can plant, the suite run
//! against that server must fail the check the fault is meant for; against the clean server, and
//! against every conformant variant (other choices where the contract is silent), nothing may fail.
//! One trial per fault and per variant, so `--list`, filters and nextest partitions work.

use std::collections::BTreeSet;
use std::time::Duration;

use batchconf::runner::{Settings, Suite, TargetSpec};
use batchconf::server::{FAULTS, VARIANTS};
use libtest_mimic::{Arguments, Failed, Trial};

/// A fixed seed keeps CI repeatable; `BATCHCONF_SEED` explores others.
fn seed() -> u64 {
    std::env::var("BATCHCONF_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261128)
}

fn settings(fault: Option<&str>, variants: &[&str]) -> Result<Settings, Failed> {
    let mut s = Settings::bundled().map_err(|e| e.to_string())?;
    s.target = TargetSpec::Bundled {
        fault: fault.map(str::to_string),
        variants: variants.iter().map(|v| v.to_string()).collect(),
    };
    s.seed = seed();
    s.examples = 24;
    // Short enough that a hang is found quickly; the bound on slowness is what `slow` breaks.
    s.transport.timeout = Duration::from_millis(1500);
    s.max_response_ms = fault.map(|_| 300);
    s.shrink_budget = Duration::from_secs(4);
    Ok(s)
}

fn run(settings: Settings) -> Result<(Suite, Vec<batchconf::runner::Divergence>), Failed> {
    let suite = Suite::new(settings).map_err(|e| e.to_string())?;
    let found = suite.run_all()?;
    Ok((suite, found))
}

fn clean(variants: &'static [&'static str]) -> Result<(), Failed> {
    let (suite, found) = run(settings(None, variants)?)?;
    suite.shutdown();
    if found.is_empty() {
        return Ok(());
    }
    let text: Vec<String> = found.iter().map(|d| suite.render(d)).collect();
    Err(format!("a conformant server was reported as diverging (false alarm):\n{}", text.join("\n")).into())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![Trial::test("clean::reference-server", || clean(&[]))];
    for v in VARIANTS {
        let name: &'static str = v.name;
        let leaked: &'static [&'static str] = Box::leak(Box::new([name]));
        trials.push(Trial::test(format!("variant::{name}"), move || clean(leaked)));
    }
    // A soak-only fault shows after more requests than this suite sends (see its `breaks`); the
    // soak runs prove those.
    for f in FAULTS.iter().filter(|f| !f.soak_only) {
        let (name, check) = (f.name, f.caught_by);
        trials.push(Trial::test(format!("fault::{name}"), move || {
            let (suite, found) = run(settings(Some(name), &[])?)?;
            suite.shutdown();
            let tripped: BTreeSet<&str> =
                found.iter().flat_map(|d| d.violations.iter().map(|v| v.check.as_str())).collect();
            if tripped.contains(check) {
                Ok(())
            } else {
                Err(format!("the fault `{name}` should trip `{check}`; the suite reported {tripped:?}").into())
            }
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}

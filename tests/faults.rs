//! The harness tests itself: for every fault the reference server can plant, the suite run
//! against that server must fail the check the fault is meant for; against the clean server, and
//! against every conformant variant (other choices where the contract is silent), nothing may fail.
//! One trial per fault and per variant, so `--list`, filters and nextest partitions work.

use std::collections::BTreeSet;
use std::time::Duration;

use batchconf::engine::{Divergence, RunOptions, Settings, Suite};
use batchconf::report::trials::Collector;
use batchconf::server::{Fault, Variant};
use libtest_mimic::{Arguments, Failed, Trial};

/// A fixed seed keeps CI repeatable.
const SEED: u64 = 20261128;

fn settings(fault: Option<Fault>, variants: &[Variant]) -> Result<Settings, Failed> {
    let mut s = Settings::new(RunOptions {
        fault,
        variants: variants.to_vec(),
        seed: Some(SEED),
        examples: 24,
        // Short enough that a hang is found quickly; the bound on slowness is what `slow` breaks.
        timeout: Duration::from_millis(1500),
        max_response_ms: fault.map(|_| 300),
        ..RunOptions::default()
    })
    .map_err(|e| e.to_string())?;
    s.shrink_budget = Duration::from_secs(4);
    Ok(s)
}

/// Runs every trial; the divergences, rendered, and whether the run stopped.
fn run(settings: Settings) -> Result<(Vec<Divergence>, String), Failed> {
    let suite = Suite::new(settings).map_err(|e| e.to_string())?;
    let collector = Collector::default();
    suite.hub.add(Box::new(collector.clone()));
    let all: Vec<_> = suite.units.iter().collect();
    let verdict = suite.run(&all);
    suite.shutdown();
    if let Err(e) = verdict {
        return Err(format!("the run did not reach a verdict: {e}").into());
    }
    let context = suite.context();
    let found = collector.divergences();
    let text = found.iter().map(|d| context.divergence(d)).collect::<Vec<_>>().join("\n");
    Ok((found, text))
}

fn clean(variants: Vec<Variant>) -> Result<(), Failed> {
    let (found, text) = run(settings(None, &variants)?)?;
    if found.is_empty() {
        return Ok(());
    }
    Err(format!("a conformant server was reported as diverging (false alarm):\n{text}").into())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![Trial::test("clean::reference-server", || clean(vec![]))];
    for v in Variant::ALL.iter().copied() {
        trials.push(Trial::test(format!("variant::{v}"), move || clean(vec![v])));
    }
    // A soak-only fault shows after more requests than this suite sends (see its `breaks`); the
    // soak runs prove those.
    for f in Fault::ALL.iter().copied().filter(|f| !f.info().soak_only) {
        let check = f.info().caught_by;
        trials.push(Trial::test(format!("fault::{f}"), move || {
            let (found, _) = run(settings(Some(f), &[])?)?;
            let tripped: BTreeSet<&str> =
                found.iter().flat_map(|d| d.violations.iter().map(|v| v.check.as_str())).collect();
            if tripped.contains(check) {
                Ok(())
            } else {
                Err(format!("the fault `{f}` should trip `{check}`; the suite reported {tripped:?}").into())
            }
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}

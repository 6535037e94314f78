//! The harness tests itself: for every fault the reference server can plant, the suite run
//! against that server must fail the check the fault is meant for; against the clean server, and
//! against every conformant variant (other choices where the contract is silent), nothing may fail.
//! One trial per fault and per variant, so `--list`, filters and nextest partitions work.
//!
//! Each fault runs exactly as `batchconf list` says it is caught: `--fault NAME` and the flags it
//! names (`needs`), no other check-enabling option. The only other settings here make the run
//! quicker (a shorter request timeout and shrinking budget), which can only make a fault harder to
//! catch. And a flag `list` names is proven needed: without it the fault is not caught.

use std::collections::BTreeSet;
use std::time::Duration;

use batchconf::engine::{Divergence, RunOptions, Settings, Suite};
use batchconf::report::trials::Collector;
use batchconf::server::{Fault, Needs, Variant};
use libtest_mimic::{Arguments, Failed, Trial};

/// A fixed seed keeps CI repeatable.
const SEED: u64 = 20261128;

/// A run against the bundled server, with the flags `needs` names (those `list` prints).
fn settings(fault: Option<Fault>, variants: &[Variant], needs: Needs) -> Result<Settings, Failed> {
    let mut o = RunOptions {
        fault,
        variants: variants.to_vec(),
        seed: Some(SEED),
        // Short enough that a hang is found quickly (the examples are the default's: fewer would
        // send too few requests for `late-server-errors`, which shows after 1000).
        timeout: Duration::from_millis(1500),
        ..RunOptions::default()
    };
    o.max_response_ms = needs.max_response_ms;
    o.limits.requests = needs.requests;
    let mut s = Settings::new(o).map_err(|e| e.to_string())?;
    s.shrink_budget = Duration::from_secs(4);
    Ok(s)
}

/// Runs every trial; the divergences, rendered, and whether the run stopped.
fn run(settings: Settings) -> Result<(Vec<Divergence>, String), Failed> {
    run_some(settings, "")
}

/// Runs the trials whose name contains `filter`.
fn run_some(settings: Settings, filter: &str) -> Result<(Vec<Divergence>, String), Failed> {
    let suite = Suite::new(settings).map_err(|e| e.to_string())?;
    let collector = Collector::default();
    suite.hub.add(Box::new(collector.clone()));
    let all: Vec<_> = suite.units.iter().filter(|u| u.name.contains(filter)).collect();
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

/// Exactly the checks each fault trips with the seed above: the check it names (`caught_by`)
/// and whatever else the same broken behaviour shows. A change here is a change in what the
/// suite sees, to be explained in review, not a flake to silence.
fn tripped_by(fault: Fault) -> &'static [&'static str] {
    match fault.name() {
        "status-201" => &["accepts_valid_request", "status_documented"],
        "server-error-on-repeated-id" | "malformed-json-500" | "server-error-share-unactived" => &["no_server_error"],
        "hang-on-large-batch" => &["connection"],
        "content-type-text" => &["content_type_json"],
        "no-request-id" => &["required_headers"],
        "repeated-request-id" | "rare-repeated-request-id" => &["request_id_unique"],
        "bad-ret-status" | "error-body-without-code" => &["response_schema"],
        "drop-last-id" | "id-in-two-groups" => &["batch_ids_answered"],
        "extra-id" => &["batch_no_extra_ids"],
        "failed-without-error-info" => &["failed_group_has_error_info"],
        "accept-unknown-action"
        | "accept-missing-action"
        | "accept-missing-asset-ids"
        | "accept-non-string-ids"
        | "accept-non-string-params"
        | "accept-wrong-content-type"
        | "accept-chinese-user-id"
        | "accept-non-object-body"
        | "action-any-case"
        | "action-trimmed"
        | "null-asset-ids-empty"
        | "string-asset-ids-as-one" => &["rejects_invalid_request"],
        // A mangled id is both a requested id answered nowhere and an answered id nobody asked for;
        // these three also mangle a near miss of a fixture into (or out of) it, which the
        // near-miss trial sees answered unlike a made-up id (`lifecycle`).
        "ids-percent-decoded" | "ids-combining-stripped" | "ids-trimmed" => {
            &["batch_ids_answered", "batch_no_extra_ids", "lifecycle"]
        }
        "ids-astral-replaced"
        | "ids-truncated"
        | "ids-control-stripped"
        | "ids-bidi-reversed"
        | "ids-plus-as-space" => &["batch_ids_answered", "batch_no_extra_ids"],
        "accept-missing-credentials"
        | "accept-wrong-token"
        | "accept-bad-signature"
        | "accept-stale-date"
        | "accept-future-date"
        | "accept-foreign-access-key"
        | "signature-skips-first-char"
        | "signature-ends-only"
        | "signature-first-half"
        | "accept-empty-signature"
        | "accept-uncovered-headers"
        | "sig-empty-payload-fallback"
        | "sig-ignores-body"
        | "token-prefix-compare"
        | "signature-prefix-compare"
        | "ak-prefix-compare" => &["rejects_bad_credentials"],
        "auth-401" => &["rejects_bad_credentials", "status_documented"],
        "reject-valid-batches" => &["accepts_valid_request", "lifecycle"],
        "restore-does-nothing"
        | "force-delete-recoverable"
        | "unactive-does-nothing"
        | "acts-outside-batch"
        | "any-action-resurrects"
        | "force-delete-from-bin-not-final"
        | "phantom-success-large-batch"
        | "phantom-success-mixed-batch"
        | "restore-moves-live"
        | "lost-concurrent-updates"
        | "collation-ci"
        | "pad-space"
        | "trimmed-lookup"
        | "nfc-ids"
        | "nfkc-ids"
        | "fullwidth-fold"
        | "percent-decoded-lookup"
        | "lookup-cache-raw-path" => &["lifecycle"],
        // Batch caps: only the fixtures at the end of a large batch show them.
        "cap-8" | "cap-50" | "cap-500" | "partial-apply-100" | "partial-apply-250" => &["lifecycle"],
        // Per-id locks: overlapping batches over many shared ids, one in reverse order.
        "row-locks" => &["lifecycle"],
        // The recycle bin: DELETE, DELETE_FORCE, then every reviving action on the reserved fixture.
        "force-delete-from-bin-restorable"
        | "force-delete-from-bin-active-revives"
        | "force-delete-from-bin-unshare-revives" => &["lifecycle"],
        "slow" => &["response_time"],
        "store-ignores-project" => &["project_isolation"],
        other => panic!("fault `{other}` has no pinned set of checks in tests/faults.rs: add one"),
    }
}

fn clean(variants: Vec<Variant>) -> Result<(), Failed> {
    let (found, text) = run(settings(None, &variants, Needs::NONE)?)?;
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
    // A real endpoint's realistic set at once (`serve --platform huaweicloud`).
    trials.push(Trial::test("platform::huaweicloud", || clean(batchconf::server::PLATFORM_HUAWEICLOUD.to_vec())));
    // A late fault meets trials the timing picks: it must trip its check, and may trip others.
    for f in Fault::ALL.iter().copied().filter(|f| f.info().late) {
        trials.push(Trial::test(format!("fault::{f}"), move || {
            let (found, text) = run(settings(Some(f), &[], f.info().needs)?)?;
            let check = f.info().caught_by;
            if !found.iter().any(|d| d.violations.iter().any(|v| v.check == check)) {
                return Err(format!("the fault `{f}` should trip `{check}`:\n{text}").into());
            }
            Ok(())
        }));
    }
    for f in Fault::ALL.iter().copied().filter(|f| !f.info().late) {
        let check = f.info().caught_by;
        trials.push(Trial::test(format!("fault::{f}"), move || {
            let (found, text) = run(settings(Some(f), &[], f.info().needs)?)?;
            let tripped: BTreeSet<&str> =
                found.iter().flat_map(|d| d.violations.iter().map(|v| v.check.as_str())).collect();
            let pinned: BTreeSet<&str> = tripped_by(f).iter().copied().collect();
            if tripped != pinned {
                return Err(format!(
                    "the fault `{f}` should trip exactly {pinned:?}; the suite reported {tripped:?}:\n{text}"
                )
                .into());
            }
            if !pinned.contains(check) {
                return Err(format!("the pinned set of `{f}` lacks the check it names, `{check}`").into());
            }
            Ok(())
        }));
    }
    // A flag `list` names for a fault is one the check needs: without it, nothing catches it.
    for f in Fault::ALL.iter().copied().filter(|f| f.info().needs != Needs::NONE) {
        trials.push(Trial::test(format!("needs::{f}"), move || {
            let info = f.info();
            // One trial is enough to see the check judge nothing (and `slow` makes a whole run long).
            let (found, _) = run_some(settings(Some(f), &[], Needs::NONE)?, "property::o")?;
            if found.iter().any(|d| d.violations.iter().any(|v| v.check == info.caught_by)) {
                return Err(format!(
                    "`{f}` is caught by `{}` without `{}`: `batchconf list` should not say it needs it",
                    info.caught_by,
                    info.needs.flags().join(" ")
                )
                .into());
            }
            Ok(())
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}

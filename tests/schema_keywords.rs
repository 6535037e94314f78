//! The contract is data: limits a user writes into a copy of the schemas are honoured without a
//! code change. With `maxItems: 50`, an id `pattern` and `maxLength: 64` added, the suite sends
//! valid requests that respect all three and requests that break each one; the bundled server,
//! which enforces none, is reported diverging on each, and the `max-batch-50` variant passes the
//! `maxItems` rule.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use batchconf::cases::{self, CaseBody};
use batchconf::contract::Contract;
use batchconf::runner::{Settings, Suite, TargetSpec};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

const RULES: [&str; 3] = ["maxItems@asset_ids", "pattern@asset_ids.item", "maxLength@asset_ids.item"];

/// A copy of the shipped schemas with the three limits a user might add.
fn limited_schemas(dir: &Path) {
    for entry in std::fs::read_dir(batchconf::contract::default_dir()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let path = dir.join("request.schema.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    schema["properties"]["asset_ids"]["maxItems"] = json!(50);
    schema["properties"]["asset_ids"]["items"] =
        json!({ "type": "string", "pattern": "^[a-z0-9-]+$", "maxLength": 64 });
    std::fs::write(&path, serde_json::to_string_pretty(&schema).unwrap()).unwrap();
}

fn settings(dir: &Path, variants: &[&str]) -> Settings {
    let mut s = Settings::bundled().unwrap();
    let contract = Arc::new(Contract::load(dir).unwrap());
    s.cases = cases::load_dir(&cases::default_dir(), &contract)
        .unwrap()
        .into_iter()
        .filter(|c| matches!(c.body, CaseBody::Property(_) | CaseBody::Negative(_)))
        .map(Arc::new)
        .collect();
    s.contract = contract;
    s.target = TargetSpec::Bundled { fault: None, variants: variants.iter().map(|v| v.to_string()).collect() };
    s.seed = 20261129;
    s.examples = 24;
    s.transport.timeout = Duration::from_millis(3000);
    s.shrink_budget = Duration::from_secs(2);
    s
}

#[test]
fn valid_requests_respect_the_added_limits() {
    let dir = tempfile::tempdir().unwrap();
    limited_schemas(dir.path());
    let contract = Contract::load(dir.path()).unwrap();
    let cases = cases::load_dir(&cases::default_dir(), &contract).unwrap();
    let mut runner = TestRunner::deterministic();
    let mut most = 0;
    for case in &cases {
        let CaseBody::Property(p) = &case.body else { continue };
        let fixtures = ["fixture-1".to_string()];
        let s = batchconf::generate::body_strategy(&contract, p, &fixtures).unwrap();
        let edges = batchconf::generate::body_edges(&contract, p, &fixtures).unwrap();
        let drawn = (0..150).map(|_| s.new_tree(&mut runner).unwrap().current());
        for body in edges.into_iter().chain(drawn) {
            let ids = body["asset_ids"].as_array().unwrap();
            most = most.max(ids.len());
            assert!(ids.len() <= 50, "{}: {} ids", case.name, ids.len());
            for id in ids.iter().map(|i| i.as_str().unwrap()).filter(|i| *i != "fixture-1") {
                assert!(
                    id.len() <= 64 && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{}: {id:?}",
                    case.name
                );
            }
            assert!(contract.request_body.is_valid(&body), "{}: {body}", case.name);
        }
    }
    assert_eq!(most, 50, "the boundary pass sends a batch of exactly `maxItems`");
    let rules = batchconf::generate::negative_rules(&contract).unwrap();
    for rule in RULES {
        assert!(rules.iter().any(|r| r == rule), "{rule} not derived: {rules:?}");
    }
}

#[test]
fn the_bundled_server_diverges_on_each_added_limit_and_the_variant_passes_max_items() {
    let dir = tempfile::tempdir().unwrap();
    limited_schemas(dir.path());

    let suite = Suite::new(settings(dir.path(), &[])).unwrap();
    let found = suite.run_all().unwrap();
    suite.shutdown();
    let text: Vec<String> = found.iter().map(|d| suite.render(d)).collect();
    // batchconf's own valid requests respect the schema.
    assert!(
        !found.iter().any(|d| d.violations.iter().any(|v| v.check == "request_schema")),
        "batchconf sent requests its own schema refuses:\n{}",
        text.join("\n")
    );
    let diverged: BTreeSet<&str> = found
        .iter()
        .filter(|d| d.violations.iter().any(|v| v.check == "rejects_invalid_request"))
        .map(|d| d.trial.as_str())
        .collect();
    for rule in RULES {
        let trial = format!("negative::invalid-requests::{rule}");
        assert!(diverged.contains(trial.as_str()), "{trial} should diverge; found {diverged:?}");
    }

    let suite = Suite::new(settings(dir.path(), &["max-batch-50"])).unwrap();
    let found = suite.run_all().unwrap();
    suite.shutdown();
    let trial = "negative::invalid-requests::maxItems@asset_ids";
    let failed: Vec<String> = found.iter().filter(|d| d.trial == trial).map(|d| suite.render(d)).collect();
    assert!(failed.is_empty(), "the max-batch-50 variant enforces `maxItems: 50`:\n{}", failed.join("\n"));
}

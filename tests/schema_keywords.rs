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
use batchconf::engine::{Settings, Suite, TargetSpec};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

/// The shipped cases, as files (the tests load them against a changed contract).
fn cases_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

const RULES: [&str; 3] = ["maxItems@asset_ids", "pattern@asset_ids.item", "maxLength@asset_ids.item"];

/// A copy of the shipped schemas with the three limits a user might add.
fn limited_schemas(dir: &Path) {
    for (name, text) in batchconf::builtin::SCHEMAS {
        std::fs::write(dir.join(name), text).unwrap();
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
    s.cases = cases::load_dir(&cases_dir(), &contract)
        .unwrap()
        .into_iter()
        .filter(|c| matches!(c.body, CaseBody::Property(_) | CaseBody::Negative(_)))
        .map(Arc::new)
        .collect();
    s.contract = contract;
    s.target = TargetSpec::Bundled { fault: None, variants: variants.iter().map(|v| v.parse().unwrap()).collect() };
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
    let cases = cases::load_dir(&cases_dir(), &contract).unwrap();
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
    let text: Vec<String> = found.iter().map(|d| suite.context().divergence(d)).collect();
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
    let failed: Vec<String> =
        found.iter().filter(|d| d.trial == trial).map(|d| suite.context().divergence(d)).collect();
    assert!(failed.is_empty(), "the max-batch-50 variant enforces `maxItems: 50`:\n{}", failed.join("\n"));
}

/// A request schema that uses every keyword the generator honours.
fn every_keyword_schema(dir: &Path) {
    limited_schemas(dir);
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://batchconf.invalid/schemas/request.schema.json",
        "type": "object",
        "required": ["action", "asset_ids"],
        "additionalProperties": false,
        "dependentRequired": { "params": ["count"] },
        "$defs": { "id": { "type": "string", "pattern": "^[a-z0-9-]+$", "minLength": 3, "maxLength": 64 } },
        "properties": {
            "action": { "type": "string", "enum": ["DELETE", "DELETE_FORCE", "RESTORE", "UNACTIVE", "ACTIVE", "SHARE", "UNSHARE"] },
            "asset_ids": { "type": "array", "items": { "$ref": "#/$defs/id" }, "minItems": 1, "maxItems": 50, "uniqueItems": true },
            "params": { "type": "string", "format": "uuid" },
            "count": { "type": "integer", "minimum": 1, "exclusiveMaximum": 100, "multipleOf": 3 },
            "when": { "type": "string", "format": "date-time" },
            "who": { "type": "string", "format": "email" },
            "link": { "type": "string", "format": "uri" },
            "ratio": { "type": "number", "exclusiveMinimum": 0, "maximum": 1 },
            "pair": { "type": "array", "prefixItems": [{ "const": "a" }, { "type": "boolean" }], "items": false },
            "tags": { "type": "array", "items": { "type": "string", "maxLength": 4 }, "contains": { "const": "t" }, "maxItems": 3 },
            "mode": { "oneOf": [{ "type": "string", "enum": ["x", "y"] }, { "type": "integer", "minimum": 0 }] },
            "alt": { "anyOf": [{ "type": "null" }, { "type": "string", "minLength": 2 }] },
            "both": { "allOf": [{ "type": "string", "minLength": 2 }, { "maxLength": 5 }], "not": { "const": "ab" } },
            "meta": { "type": "object", "patternProperties": { "^k_[a-z]{2}$": { "type": ["integer", "null"] } }, "additionalProperties": false }
        }
    });
    std::fs::write(dir.join("request.schema.json"), serde_json::to_string_pretty(&schema).unwrap()).unwrap();
}

/// An independent judge: the schema compiled here, with formats checked.
fn judge(dir: &Path) -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("request.schema.json")).unwrap()).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn keywords_failed(v: &jsonschema::Validator, body: &Value) -> Vec<String> {
    v.iter_errors(body).map(|e| e.schema_path.to_string().rsplit('/').next().unwrap_or_default().to_string()).collect()
}

/// Property: every valid request generated from the schema (each property case's, with its
/// overrides) validates; every negative request fails exactly the keyword its rule names (a
/// type swap of an enum may fail `enum` beside `type`).
#[test]
fn a_case_whose_extra_field_the_schema_forbids_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    every_keyword_schema(dir.path());
    let contract = Contract::load(dir.path()).unwrap();
    let e = cases::load_file(&cases_dir().join("unknown-fields.json"), &contract).unwrap_err().to_string();
    assert!(
        e.contains("unknown-fields.json") && e.contains("`/extra_field`") && e.contains("additionalProperties"),
        "{e}"
    );
}

#[test]
fn generated_requests_validate_and_negatives_fail_one_keyword() {
    for every in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        if every {
            every_keyword_schema(dir.path());
        } else {
            limited_schemas(dir.path());
        }
        let contract = Contract::load(dir.path()).unwrap();
        let v = judge(dir.path());
        let copied = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(cases_dir()).unwrap() {
            let p = entry.unwrap().path();
            // `additionalProperties: false` makes the unknown-fields case meaningless (and exit 2).
            if p.is_file() && !(every && p.ends_with("unknown-fields.json")) {
                std::fs::copy(&p, copied.path().join(p.file_name().unwrap())).unwrap();
            }
        }
        let config = proptest::test_runner::Config { cases: 256, failure_persistence: None, ..Default::default() };
        // A fixed stream keeps CI repeatable; the set-up check and unit tests use others.
        let runner = || {
            let rng = proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha);
            TestRunner::new_with_rng(config.clone(), rng)
        };
        for case in cases::load_dir(copied.path(), &contract).unwrap() {
            let CaseBody::Property(p) = &case.body else { continue };
            let fixtures = ["fixture-1".to_string(), "fixture-2".to_string()];
            let s = batchconf::generate::body_strategy(&contract, p, &fixtures).unwrap();
            runner()
                .run(&s, |body| {
                    let failed = keywords_failed(&v, &body);
                    proptest::prop_assert!(failed.is_empty(), "{}: {body} fails {failed:?}", case.name);
                    Ok(())
                })
                .unwrap();
        }
        for rule in batchconf::generate::negative_rules(&contract).unwrap() {
            let Some((keyword, _)) = rule.split_once('@').filter(|_| !rule.contains("@header.")) else { continue };
            let keyword = if keyword == "null" { "type".to_string() } else { keyword.to_string() };
            let s = batchconf::generate::negative_strategy(&contract, &rule).unwrap();
            let check = |r: batchconf::generate::GenRequest| {
                let batchconf::generate::Payload::Json(body) = &r.body else { panic!("{rule}: not JSON") };
                let failed = keywords_failed(&v, body);
                let one = failed == [keyword.clone()];
                let swap = keyword == "type"
                    && failed.contains(&keyword)
                    && failed.iter().all(|k| ["type", "enum", "const"].contains(&k.as_str()));
                (one || swap, format!("{rule}: {body} fails {failed:?}"))
            };
            for r in batchconf::generate::negative_edges(&contract, &rule).unwrap() {
                let (ok, why) = check(r);
                assert!(ok, "boundary pass: {why}");
            }
            runner()
                .run(&s, |r| {
                    let (ok, why) = check(r);
                    proptest::prop_assert!(ok, "{}", why);
                    Ok(())
                })
                .unwrap();
        }
    }
}

#[test]
fn an_override_the_schema_refuses_names_the_case_and_the_override() {
    let dir = tempfile::tempdir().unwrap();
    limited_schemas(dir.path());
    let path = dir.path().join("request.schema.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    schema["properties"]["asset_ids"]["minItems"] = json!(10);
    std::fs::write(&path, schema.to_string()).unwrap();
    let contract = Contract::load(dir.path()).unwrap();
    // ordinary-batches asks for 1 to 5 ids and expects acceptance.
    let e = cases::load_file(&cases_dir().join("ordinary-batches.json"), &contract).unwrap_err().to_string();
    assert!(
        e.contains("ordinary-batches.json") && e.contains("`/overrides/~1asset_ids`") && e.contains("10..=50"),
        "{e}"
    );
    // Negative rules still build their bases (of 10 ids at least).
    let rules = batchconf::generate::negative_rules(&contract).unwrap();
    assert!(rules.iter().any(|r| r == "minItems@asset_ids"), "{rules:?}");
    for r in batchconf::generate::negative_edges(&contract, "maxItems@asset_ids").unwrap() {
        let batchconf::generate::Payload::Json(b) = &r.body else { panic!() };
        assert_eq!(b["asset_ids"].as_array().unwrap().len(), 51);
    }
    // edge-batches asks for 0 to 300: narrowed to 10..=50, not refused.
    let edge = cases::load_file(&cases_dir().join("edge-batches.json"), &contract).unwrap();
    let CaseBody::Property(p) = &edge.body else { panic!() };
    for body in batchconf::generate::body_edges(&contract, p, &[]).unwrap() {
        let n = body["asset_ids"].as_array().unwrap().len();
        assert!((10..=50).contains(&n), "{n}");
    }
}

/// Each rule the shipped schema yields, each near-miss and each alphabet is proven by a planted
/// fault: the trial that sends it is the one that diverges (not merely some trial).
#[test]
fn each_derived_rule_near_miss_and_alphabet_catches_its_fault() {
    let pairs: &[(&str, &str, &str)] = &[
        ("accept-non-object-body", "negative::invalid-requests::type@body", "rejects_invalid_request"),
        ("accept-non-object-body", "negative::invalid-requests::null@body", "rejects_invalid_request"),
        ("accept-missing-action", "negative::invalid-requests::required@action", "rejects_invalid_request"),
        ("accept-missing-asset-ids", "negative::invalid-requests::required@asset_ids", "rejects_invalid_request"),
        ("accept-unknown-action", "negative::invalid-requests::type@action", "rejects_invalid_request"),
        ("accept-unknown-action", "negative::invalid-requests::null@action", "rejects_invalid_request"),
        ("action-any-case", "negative::invalid-requests::enum@action", "rejects_invalid_request"),
        ("action-trimmed", "negative::invalid-requests::enum@action", "rejects_invalid_request"),
        ("string-asset-ids-as-one", "negative::invalid-requests::type@asset_ids", "rejects_invalid_request"),
        ("null-asset-ids-empty", "negative::invalid-requests::null@asset_ids", "rejects_invalid_request"),
        ("accept-non-string-ids", "negative::invalid-requests::type@asset_ids.item", "rejects_invalid_request"),
        ("accept-non-string-ids", "negative::invalid-requests::null@asset_ids.item", "rejects_invalid_request"),
        ("accept-non-string-params", "negative::invalid-requests::type@params", "rejects_invalid_request"),
        (
            "accept-chinese-user-id",
            "negative::invalid-requests::pattern@header.x-app-userid",
            "rejects_invalid_request",
        ),
        ("ids-percent-decoded", "property::edge-batches", "batch_ids_answered"),
        ("ids-astral-replaced", "property::edge-batches", "batch_ids_answered"),
        ("ids-truncated", "property::edge-batches", "batch_ids_answered"),
        ("ids-control-stripped", "property::edge-batches", "batch_ids_answered"),
        ("ids-combining-stripped", "property::edge-batches", "batch_ids_answered"),
        ("ids-bidi-reversed", "property::edge-batches", "batch_ids_answered"),
        ("ids-plus-as-space", "property::edge-batches", "batch_ids_answered"),
        ("ids-trimmed", "property::edge-batches", "batch_ids_answered"),
    ];
    let shipped = batchconf::generate::negative_rules(&Contract::bundled().unwrap()).unwrap();
    for rule in shipped.iter().filter(|r| r.contains('@')) {
        let trial = format!("negative::invalid-requests::{rule}");
        assert!(pairs.iter().any(|(_, t, _)| *t == trial), "the rule `{rule}` has no planted fault here");
    }
    for (fault, trial, check) in pairs {
        let mut s = Settings::bundled().unwrap();
        let keep = ["invalid-requests", "edge-batches"];
        s.cases.retain(|c| keep.contains(&c.name.as_str()));
        s.target = TargetSpec::Bundled { fault: Some(fault.parse().unwrap()), variants: vec![] };
        s.seed = 20261129;
        s.examples = 24;
        s.transport.timeout = Duration::from_millis(3000);
        s.shrink_budget = Duration::from_secs(2);
        let suite = Suite::new(s).unwrap();
        let found = suite.run_all().unwrap();
        suite.shutdown();
        let caught = found.iter().any(|d| d.trial == *trial && d.violations.iter().any(|v| v.check == *check));
        let seen: BTreeSet<&str> = found.iter().map(|d| d.trial.as_str()).collect();
        assert!(caught, "`{fault}` should be caught by `{check}` in `{trial}`; diverging trials: {seen:?}");
    }
}

#[test]
fn a_keyword_the_generator_cannot_honour_is_named_also_under_an_override() {
    let dir = tempfile::tempdir().unwrap();
    limited_schemas(dir.path());
    let path = dir.path().join("request.schema.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    schema["properties"]["asset_ids"]["maxContains"] = json!(3);
    std::fs::write(&path, schema.to_string()).unwrap();
    let contract = Contract::load(dir.path()).unwrap();
    // ordinary-batches overrides `/asset_ids` with `ids`: the keyword is still refused.
    let e = cases::load_file(&cases_dir().join("ordinary-batches.json"), &contract).unwrap_err().to_string();
    assert!(
        e.contains("request.schema.json") && e.contains("`maxContains`") && e.contains("/properties/asset_ids"),
        "{e}"
    );
}

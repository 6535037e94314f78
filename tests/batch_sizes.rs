//! The stateful trials' own batches come from the contract too: with `maxItems: 20` added to a
//! copy of the request schema, random sequences, their scripted batch sizes and concurrent
//! rounds never send more than 20 ids, so `request_schema` (which judges every request the
//! harness sends) has nothing to flag against the bundled server, which enforces no limit.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use batchconf::cases::{self, CaseBody};
use batchconf::contract::Contract;
use batchconf::engine::{Settings, Suite, TargetSpec};
use serde_json::{json, Value};

fn limited_schemas(dir: &Path, max: usize) {
    for (name, text) in batchconf::builtin::SCHEMAS {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let path = dir.join("request.schema.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    schema["properties"]["asset_ids"]["maxItems"] = json!(max);
    std::fs::write(&path, serde_json::to_string_pretty(&schema).unwrap()).unwrap();
}

#[test]
fn stateful_batches_stay_within_max_items() {
    let dir = tempfile::tempdir().unwrap();
    limited_schemas(dir.path(), 20);
    let contract = Arc::new(Contract::load(dir.path()).unwrap());
    assert_eq!(contract.batch_size_bounds(), (0, Some(20)));
    let mut s = Settings::bundled().unwrap();
    let cases_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    s.cases = cases::load_dir(&cases_dir, &contract)
        .unwrap()
        .into_iter()
        .filter(|c| matches!(c.body, CaseBody::Stateful(_)))
        .map(Arc::new)
        .collect();
    s.contract = contract;
    s.target = TargetSpec::Bundled { fault: None, variants: vec![] };
    s.seed = 20261204;
    s.transport.timeout = Duration::from_millis(3000);
    s.shrink_budget = Duration::from_secs(2);
    let suite = Suite::new(s).unwrap();
    let found = suite.run_all().unwrap();
    suite.shutdown();
    let text: Vec<String> = found.iter().map(|d| suite.context().divergence(d)).collect();
    assert!(found.is_empty(), "the stateful trials broke the schema's maxItems:\n{}", text.join("\n"));
}

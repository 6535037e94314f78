//! Every set-up problem is exit 2 with the file (and the JSON path or line) or the flag named,
//! before anything is sent, and never a panic.

use std::path::Path;
mod common;

fn batchconf(args: &[&str]) -> (i32, String) {
    let o = common::batchconf().args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!text.contains("panicked"), "{text}");
    (o.status.code().unwrap_or(-1), text)
}

/// A copy of a shipped folder, to break one file of.
fn copy_of(folder: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

#[test]
fn a_broken_case_file_names_the_file_and_the_path() {
    let cases = copy_of("cases");
    std::fs::write(cases.path().join("typo.json"), r#"{"kind": "property", "checks": ["response_shcema"]}"#).unwrap();
    let (code, text) = batchconf(&["run", "--cases", cases.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("typo.json") && text.contains("/checks/0") && text.contains("response_shcema"), "{text}");

    std::fs::write(cases.path().join("typo.json"), "{\"kind\": \"example\",\n \"request\": {,}}").unwrap();
    let (code, text) = batchconf(&["run", "--cases", cases.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("typo.json") && text.contains("line 2"), "{text}");
}

#[test]
fn a_broken_schema_names_the_file() {
    let schemas = copy_of("schemas");
    std::fs::write(schemas.path().join("error.schema.json"), "{\"type\": ").unwrap();
    let (code, text) = batchconf(&["run", "--schemas", schemas.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("error.schema.json"), "{text}");

    // A schema keyword the generator cannot honour is named, not silently skipped.
    let schemas = copy_of("schemas");
    let path = schemas.path().join("request.schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(r#""Operation parameter.","#, r#""Operation parameter.", "format": "ipv6","#);
    std::fs::write(&path, text).unwrap();
    let (code, text) = batchconf(&["run", "--schemas", schemas.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("format `ipv6`") && text.contains("request.schema.json"), "{text}");
}

#[test]
fn bad_flags_say_what_to_do() {
    let (code, text) = batchconf(&["run", "--target", "https://api.example"]);
    assert_eq!(code, 2);
    assert!(text.contains("--project-id"), "{text}");
    let (code, text) = batchconf(&["run", "--fault", "no-such-fault"]);
    assert_eq!(code, 2);
    assert!(text.contains("no-such-fault") && text.contains("status-201"), "{text}");
    let (code, _) = batchconf(&["run", "--examples", "0"]);
    assert_eq!(code, 2);
    let (code, _) = batchconf(&["run", "--nonsense"]);
    assert_eq!(code, 2);
}

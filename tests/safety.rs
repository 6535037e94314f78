//! Safety against real endpoints: nothing destroyed without consent, nothing sent on a dry run,
//! no secret anywhere in what batchconf prints or writes. A recording server on 127.0.0.1 stands
//! in for the endpoint and shows what was really sent.

mod common;

use std::process::Output;

use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-VERY-secret-4242";
const AK: &str = "AKSECRETACCESS00042";
const SK: &str = "sk-VERY-secret-key-0042";
const FIXTURES: &[&str] = &["prod-asset-1", "prod-asset-2", "prod-asset-3"];

/// Accepts every request with a 200 that answers no id (so the run has plenty to report, and its
/// credentials are seen to work), and records it.
async fn recording_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Request-Id", "rec")
                .set_body_json(serde_json::json!({"results": []})),
        )
        .mount(&server)
        .await;
    server
}

fn batchconf(server: &MockServer, extra: &[&str]) -> Output {
    let fixtures = FIXTURES.join(",");
    let uri = server.uri();
    let mut args = vec![
        "run",
        "--target",
        &uri,
        "--project-id",
        "proj",
        "--token",
        TOKEN,
        "--ak",
        AK,
        "--sk",
        SK,
        "--fixture-assets",
        &fixtures,
        "--examples",
        "8",
        "--seed",
        "3",
    ];
    args.extend_from_slice(extra);
    common::batchconf().args(&args).output().unwrap()
}

/// Every asset id of every batch request the server received.
async fn sent_batches(server: &MockServer) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for r in server.received_requests().await.unwrap_or_default() {
        let Ok(body) = serde_json::from_slice::<Value>(&r.body) else { continue };
        let action = body.get("action").and_then(Value::as_str).unwrap_or_default().to_string();
        let ids = body
            .get("asset_ids")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        out.push((action, ids));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_destroyed_and_only_fixtures_named() {
    let server = recording_server().await;
    let run = tokio::task::block_in_place(|| batchconf(&server, &[]));
    assert!(!String::from_utf8_lossy(&run.stderr).contains("panicked"));
    let batches = sent_batches(&server).await;
    assert!(batches.len() > 20, "the run sent too little to prove anything: {}", batches.len());
    let mut fixture_seen = false;
    for (action, ids) in &batches {
        for id in ids {
            let is_fixture = FIXTURES.contains(&id.as_str());
            fixture_seen |= is_fixture;
            assert!(is_fixture || id.starts_with("bcf-"), "`{id}` is neither a fixture nor a made-up id");
            assert!(
                !(is_fixture && action == "DELETE_FORCE"),
                "DELETE_FORCE sent to fixture `{id}` without --allow-destructive"
            );
        }
    }
    assert!(fixture_seen, "fixtures were never used");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("sequence::force-delete-is-final: sends DELETE_FORCE"),
        "the summary must say why it skipped:\n{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_sends_nothing() {
    let server = recording_server().await;
    let run = tokio::task::block_in_place(|| batchconf(&server, &["--dry-run"]));
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.matches("curl ").count() > 20, "{stdout}");
    assert!(server.received_requests().await.unwrap_or_default().is_empty(), "a dry run sent requests");
    for secret in [TOKEN, AK, SK] {
        assert!(!stdout.contains(secret), "`{secret}` printed by a dry run");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_output_or_reports() {
    let server = recording_server().await;
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let json = dir.path().join("report.json");
    let run = tokio::task::block_in_place(|| {
        batchconf(&server, &["--junit", junit.to_str().unwrap(), "--report-json", json.to_str().unwrap()])
    });
    assert_eq!(run.status.code(), Some(1), "the recorder answers no id, so the run diverges");
    // The signatures the target saw: none may appear either.
    let signatures: Vec<String> = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|a| a.split("Signature=").nth(1))
                .map(str::to_string)
        })
        // The `empty-signature` trial's is empty and `signature-cut-to-one`'s one hex digit:
        // nothing to hide, and found in any text. Every other (a half signature too) is checked.
        .filter(|sig| sig.len() > 1)
        .collect();
    assert!(!signatures.is_empty());
    let texts = [
        String::from_utf8_lossy(&run.stdout).to_string(),
        String::from_utf8_lossy(&run.stderr).to_string(),
        std::fs::read_to_string(&junit).unwrap(),
        std::fs::read_to_string(&json).unwrap(),
    ];
    for (i, text) in texts.iter().enumerate() {
        for secret in [TOKEN, AK, SK] {
            assert!(!text.contains(secret), "`{secret}` appears in output #{i}");
        }
        for sig in &signatures {
            assert!(!text.contains(sig.as_str()), "a signature appears in output #{i}");
        }
    }
    // The JUnit report parses as JUnit: one test case per trial, the failures among them.
    let junit = quick_junit::Report::deserialize_from_str(&texts[2]).expect("JUnit XML that parses");
    let cases: Vec<&quick_junit::TestCase> = junit.test_suites.iter().flat_map(|s| s.test_cases.iter()).collect();
    assert!(cases.len() >= 20, "{} test cases", cases.len());
    assert!(cases.iter().any(|c| matches!(c.status, quick_junit::TestCaseStatus::NonSuccess { .. })));
    let report: Value = serde_json::from_str(&texts[3]).unwrap();
    assert_eq!(report["format"], "batchconf-report/1");
    assert!(!report["divergences"].as_array().unwrap().is_empty());
}

/// `--target http://user:password@host`: the userinfo is a credential, masked wherever the target
/// is printed or written (the first line, failures, `curl` lines, dry runs, every report).
#[tokio::test(flavor = "multi_thread")]
async fn a_targets_userinfo_is_never_echoed() {
    let server = recording_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (junit, json, html) = (dir.path().join("j.xml"), dir.path().join("r.json"), dir.path().join("r.html"));
    let target = server.uri().replace("http://", "http://gw-user:gw-pass-77@");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--target", &target, "--project-id", "proj", "--token", TOKEN, "--examples", "4"];
        args.extend_from_slice(extra);
        common::batchconf().args(&args).output().unwrap()
    };
    let (o, dry) = tokio::task::block_in_place(|| {
        let reports = ["--junit", junit.to_str().unwrap(), "--report-json", json.to_str().unwrap()];
        let o = run(&[&reports[..], &["--report-html", html.to_str().unwrap(), "property::ordinary-batches"]].concat());
        (o, run(&["--dry-run", "property::ordinary-batches"]))
    });
    assert_eq!(o.status.code(), Some(1), "{}", common::text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("against `http://***@127.0.0.1:"), "{}", common::text(&o));
    assert!(!server.received_requests().await.unwrap_or_default().is_empty());
    let texts = [
        common::text(&o),
        common::text(&dry),
        std::fs::read_to_string(&junit).unwrap(),
        std::fs::read_to_string(&json).unwrap(),
        std::fs::read_to_string(&html).unwrap(),
    ];
    for (i, text) in texts.iter().enumerate() {
        assert!(text.contains("127.0.0.1"), "output #{i} names no target");
        assert!(!text.contains("gw-pass-77") && !text.contains("gw-user"), "the userinfo appears in output #{i}");
    }
}

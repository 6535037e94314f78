//! A verdict must mean something: a run passes only if it tested what it claims. Each test here
//! is a way batchconf once went green having tested nothing, or blamed the target for the user's
//! own mistake. Every server is a `batchconf serve` on 127.0.0.1.

mod common;

use std::process::Output;

use common::{text, Serve};

const TOKEN: &str = "verdict-token-5150";

fn run(args: &[&str]) -> Output {
    common::batchconf().args(args).output().unwrap()
}

fn against<'a>(server: &'a Serve, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--target", server.url.as_str(), "--project-id", "p", "--seed", "3"];
    args.extend_from_slice(extra);
    args
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn no_credentials_or_an_empty_token_is_the_users_mistake_before_anything_is_sent() {
    let server = Serve::start(TOKEN, &[]);
    let o = run(&against(&server, &["property::edge"]));
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("no credentials") && text(&o).contains("--token"), "{}", text(&o));
    assert!(!text(&o).contains("running"), "nothing may run: {}", text(&o));
    let o = run(&against(&server, &["--token", "", "property::edge"]));
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("`--token` is empty"), "{}", text(&o));
}

#[test]
fn credentials_the_target_refuses_are_exit_3_with_what_to_check() {
    let server = Serve::start(TOKEN, &[]);
    let o = run(&against(&server, &["--token", "not-the-token", "property::edge"]));
    assert_eq!(code(&o), 3, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the target cannot be tested") && err.contains("check the token"), "{err}");
    assert!(!text(&o).contains("not-the-token"), "a secret was printed");
    // Even when every selected trial expects refusals, a run must show its credentials work.
    let o = run(&against(&server, &["--token", "not-the-token", "auth::bad-credentials::no-credentials"]));
    assert_eq!(code(&o), 3, "{}", text(&o));
    // With the right token the same trials pass.
    let o = run(&against(&server, &["--token", TOKEN, "auth::bad-credentials::no-credentials"]));
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn trials_a_filter_leaves_out_are_not_listed_as_skipped() {
    let server = Serve::start(TOKEN, &[]);
    let o = run(&against(&server, &["--token", TOKEN, "property::edge"]));
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("skipped:") && !out.contains("sequence::"), "{out}");
    assert!(out.contains("1 passed, 0 failed, 0 skipped"), "{out}");
    // A trial that is selected and skipped is listed, and counted.
    let o = run(&against(&server, &["--token", TOKEN, "sequence::restore"]));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("skipped:\n  sequence::restore-undoes-delete: needs existing assets"), "{out}");
    assert!(out.contains("0 passed, 0 failed, 1 skipped"), "{out}");
}

#[test]
fn selecting_nothing_is_an_error_naming_the_filter_or_the_directory() {
    let o = run(&["run", "nosuchtrial"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("`nosuchtrial`"), "{}", text(&o));
    let empty = tempfile::tempdir().unwrap();
    let o = run(&["run", "--cases", empty.path().to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains(&empty.path().display().to_string()), "{}", text(&o));
}

#[test]
fn the_users_mistakes_are_exit_2_before_anything_is_sent() {
    for args in [
        &["run", "--dry-run", "--fault", "nope"][..],
        &["run", "--fault", "nope"],
        &["run", "--variant", "nope"],
        &["serve", "--port", "0", "--token", ""],
        &["run", "--token", "a\r\nX-Injected: 1", "--target", "http://127.0.0.1:9", "--project-id", "p"],
        &["run", "--app-user-id", "u\n", "--dry-run"],
    ] {
        let o = run(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(!text(&o).contains("planted"), "{args:?} announced a fault it then refused: {}", text(&o));
        assert!(!text(&o).contains("running"), "{args:?} ran: {}", text(&o));
    }
    // A report that cannot be written is found before the run, not after it.
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--junit", "--report-json"] {
        let path = dir.path().join("no-such-dir").join("r.xml");
        let o = run(&["run", flag, path.to_str().unwrap()]);
        assert_eq!(code(&o), 2, "{flag}: {}", text(&o));
        assert!(text(&o).contains("no-such-dir") && !text(&o).contains("running"), "{flag}: {}", text(&o));
    }
    // A case that expects a request the schema forbids to be accepted, or mixes kinds.
    let cases = tempfile::tempdir().unwrap();
    let file = cases.path().join("boom.json");
    std::fs::write(&file, r#"{"kind": "sequence", "steps": [{"action": "EXPLODE", "ids": ["$f0"]}]}"#).unwrap();
    let o = run(&["run", "--cases", cases.path().to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("boom.json") && text(&o).contains("/steps/0/action"), "{}", text(&o));
    std::fs::write(&file, r#"{"kind": "property", "rules": ["wrong-type"]}"#).unwrap();
    let o = run(&["run", "--cases", cases.path().to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("`/rules`") && text(&o).contains("negative"), "{}", text(&o));
}

/// The output of a run with everything that depends on the clock or the port masked. So are how
/// many fixtures the put-back found changed and the requests that took: trials running at once
/// act on the shared pool fixtures in timing's order, so which of them ends the run changed is
/// timing's too.
fn masked(o: &Output) -> String {
    let time = regex::Regex::new(
        r"(?m)(finished in [0-9.]+s|X-Sdk-Date: \S+|date: .*$|127\.0\.0\.1:\d+|\d+ ms\)|^time: .*$|^requests sent: \d+$|\d+ changed by it)",
    )
    .unwrap();
    time.replace_all(&text(o), "<masked>").into_owned()
}

/// Apart from timings: batches sent at once meet in whatever order the server takes them, so the
/// concurrent trial's answers are timing's too; every other trial prints the same, byte for byte.
#[test]
fn the_same_seed_gives_the_same_output_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["init", dir.path().to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    std::fs::remove_file(dir.path().join("cases").join("concurrent-batches.json")).unwrap();
    let cases = dir.path().join("cases");
    let go = |name: &str| {
        let json = dir.path().join(name);
        let o = run(&[
            "run",
            "--seed",
            "11",
            "--fault",
            "drop-last-id",
            "--cases",
            cases.to_str().unwrap(),
            "--report-json",
            json.to_str().unwrap(),
        ]);
        assert_eq!(code(&o), 1, "{}", text(&o));
        let report = std::fs::read_to_string(&json).unwrap();
        let time = regex::Regex::new(
            r#"(127\.0\.0\.1:\d+|"elapsed_ms": \d+|"date",\s*"[^"]*"|X-Sdk-Date[^,]*|\d+ changed by it)"#,
        )
        .unwrap();
        (masked(&o), time.replace_all(&report, "<masked>").into_owned())
    };
    let (a, ra) = go("a.json");
    let (b, rb) = go("b.json");
    assert!(a.matches("---- ").count() >= 3, "{a}");
    assert_eq!(a, b, "the same seed must print the same run");
    assert_eq!(ra, rb, "the same seed must write the same report");
}

#[test]
fn replay_with_missing_or_wrong_credentials_cannot_judge_and_never_says_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let broken = Serve::start(TOKEN, &["--fault", "drop-last-id"]);
    let mut args = against(&broken, &["--token", TOKEN, "--fixture-assets", "f1,f2", "property::ordinary-batches"]);
    args.extend(["--report-json", report.to_str().unwrap()]);
    let o = run(&args);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let report = report.to_str().unwrap();

    let o = run(&["replay", report, "--token", "not-the-token"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("cannot judge") && !text(&o).contains("conforms now"), "{}", text(&o));
    let o = run(&["replay", report]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("--token") && !text(&o).contains("conforms now"), "{}", text(&o));
    let o = run(&["replay", report, "--token", TOKEN]);
    assert_eq!(code(&o), 1, "{}", text(&o));
}

#[test]
fn validate_masks_secret_values_not_signed_header_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.json");
    let exchange = serde_json::json!({
        "request": {
            "method": "POST",
            "url": "http://localhost:8080/v1/p/digital-assets/batch-action",
            "headers": {
                "Content-Type": "application/json",
                "X-Sdk-Date": "20261128T000000Z",
                "Authorization": "SDK-HMAC-SHA256 Access=AKSECRET0001, SignedHeaders=host, Signature=0123abcd0123abcd"
            },
            "body": {"action": "DELETE", "asset_ids": ["a"]}
        },
        "response": {
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "body": {"results": [{"ret_status": "SUCCESS", "asset_ids": ["a"]}]}
        }
    });
    std::fs::write(&file, exchange.to_string()).unwrap();
    let o = run(&["validate", file.to_str().unwrap()]);
    let out = text(&o);
    assert!(out.contains("http://localhost:8080"), "{out}");
    assert!(!out.contains("AKSECRET0001") && !out.contains("0123abcd0123abcd"), "{out}");
}

//! Fixtures are left as they were: whatever a run does to a fixture (DELETE, UNACTIVE, SHARE…)
//! is undone before it ends, whether it passed, failed or was interrupted. Every fixture's whole
//! lookup is compared before and after a run against a `batchconf serve` process on 127.0.0.1;
//! two fixtures start the run other than fresh (one `UNACTIVED`, one shared), so "as they were"
//! cannot pass as "made `ACTIVED`".

mod common;

use std::io::Read;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{text, Serve};
use serde_json::Value;

const TOKEN: &str = "put-back-token-5150";
// Eight: every stateful trial runs (concurrent batches need 8 of their own).
const FIXTURES: &[&str] = &["pb1", "pb2", "pb3", "pb4", "pb5", "pb6", "pb7", "pb8"];

/// Every fixture's whole lookup.
fn lookups(server: &Serve) -> Vec<Value> {
    server.lookups(TOKEN, FIXTURES)
}

/// A served target whose fixtures are not all fresh: `pb2` is UNACTIVED and `pb3` shared.
fn served(extra: &[&str]) -> Serve {
    let server = Serve::start(TOKEN, &[&["--fixtures", &FIXTURES.join(",")], extra].concat());
    server.batch(TOKEN, "UNACTIVE", &["pb2"]);
    server.batch(TOKEN, "SHARE", &["pb3"]);
    let before = lookups(&server);
    assert_eq!(before[1]["asset_state"], "UNACTIVED");
    assert_eq!(before[2]["shared"], true);
    server
}

fn run(server: &Serve, extra: &[&str]) -> std::process::Command {
    let mut cmd = common::batchconf();
    cmd.args(["run", "--target", &server.url, "--project-id", "p", "--token", TOKEN, "--seed", "4"])
        .args(["--fixture-assets", &FIXTURES.join(",")])
        .args(extra);
    cmd
}

/// The run's own word on its put-back: how many fixtures it changed back.
fn changed_back(o: &Output) -> usize {
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out.lines().find(|l| l.starts_with("fixtures put back: ")).unwrap_or_else(|| panic!("{}", text(o)));
    let n = line.split(", ").nth(1).and_then(|p| p.split(' ').next()).and_then(|n| n.parse().ok());
    n.unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn a_whole_run_leaves_every_fixture_as_it_found_it() {
    let server = served(&[]);
    let before = lookups(&server);
    let o = run(&server, &[]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(lookups(&server), before, "{}", text(&o));
    // The run did change them (the stateful trials SHARE, DELETE, UNACTIVE): undone, not spared.
    assert!(changed_back(&o) >= 3, "{}", text(&o));
}

#[test]
fn a_failing_run_leaves_every_fixture_as_it_found_it() {
    let server = served(&["--fault", "bad-ret-status"]);
    let before = lookups(&server);
    let o = run(&server, &["stateful::"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("stateful::random-batches ... FAILED"), "{}", text(&o));
    assert_eq!(lookups(&server), before, "{}", text(&o));
    assert!(changed_back(&o) >= 3, "{}", text(&o));
}

/// What cannot be put back is said, fixture by fixture, never claimed done: here RESTORE does
/// nothing, so what a trial deleted stays in the recycle bin.
#[test]
fn a_fixture_that_cannot_be_put_back_is_named() {
    let server = served(&["--fault", "restore-does-nothing"]);
    let o = run(&server, &["sequence::restore-undoes-delete"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out.lines().find(|l| l.starts_with("FIXTURES NOT PUT BACK: ")).unwrap_or_else(|| panic!("{out}"));
    let after = lookups(&server);
    assert!(after.iter().any(|a| a["asset_state"] == "DELETING"), "{after:?}");
    for (id, now) in FIXTURES.iter().zip(&after) {
        if now["asset_state"] == "DELETING" {
            assert!(line.contains(&format!("{id:?} DELETING (was ")), "{line}");
        }
    }
    assert!(!out.contains("fixtures put back: "), "{out}");
}

#[cfg(unix)]
#[test]
fn an_interrupted_run_leaves_every_fixture_as_it_found_it() {
    use std::io::BufRead;
    let server = served(&[]);
    let before = lookups(&server);
    let mut child = run(&server, &["--duration", "10m", "stateful::"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut head = String::new();
    while !head.contains("running ") {
        assert!(out.read_line(&mut head).unwrap() > 0, "{head}");
    }
    // Well into the trials: fixtures deleted, deactivated and shared on the way.
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: kill(2) on a child of ours that has not been waited for yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{head}{rest}");
    assert!(rest.contains("fixtures put back: "), "{head}{rest}");
    assert_eq!(lookups(&server), before, "{head}{rest}");
}

/// Past `--max-duration` the run winds down the same way: the fixtures are put back before it
/// ends (exit 3), and the JSON and HTML reports say so too.
#[test]
fn a_run_past_its_max_duration_leaves_every_fixture_as_it_found_it() {
    let server = served(&[]);
    let before = lookups(&server);
    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let o = run(&server, &["--duration", "10m", "--max-duration", "2s", "stateful::"])
        .args(["--report-json", json.to_str().unwrap(), "--report-html", html.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(lookups(&server), before, "{}", text(&o));
    assert!(changed_back(&o) >= 1, "{}", text(&o));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(report["put_back"].as_str().is_some_and(|p| p.starts_with("fixtures put back: ")), "{report}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<p id=\"put-back\">fixtures put back: "), "{page}");
}

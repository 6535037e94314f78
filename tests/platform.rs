//! A real endpoint sits behind Huawei Cloud's API gateway: `batchconf serve` rehearses it
//! (`--variant gateway-auth`, `lockout`, `service-error-codes`, `--platform huaweicloud`,
//! `--token-ttl-requests`), and a whole `batchconf run` against it must pass, with AK/SK and with
//! a token, without ever locking the run's access key: the server counts its lockouts and the
//! longest run of failed authentications of any key, and says so when it stops. Refused, locked
//! or lost credentials are exit 3 in one sentence, never a list of divergences.

mod common;

use std::io::{Read, Write};
use std::process::{Child, Output, Stdio};

use common::{batchconf, text};

const AK: &str = "PLATFORMAK0000000001";
const SK: &str = "platform-secret-key-0123456789";
const TOKEN: &str = "platform-token";
const PROJECT: &str = "p1";
/// Enough fixture assets for every sequence of the built-in cases.
const FIXTURES: &str = "f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12,f13,f14,f15,f16";

/// A `batchconf serve` whose stderr is kept, for the line it prints when it stops.
struct Served {
    child: Child,
    url: String,
    stderr: std::thread::JoinHandle<String>,
}

/// What the server said of its AK/SK authentications when it stopped.
#[derive(Debug, PartialEq, Eq)]
struct Stats {
    lockouts: u64,
    max_failures_in_a_row: u64,
}

impl Served {
    fn start(extra: &[&str]) -> Served {
        let args = [&["--ak", AK, "--sk", SK, "--token", TOKEN, "--fixtures", FIXTURES][..], extra].concat();
        let (mut child, url) = common::serve(&args, Stdio::piped());
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = err.read_to_string(&mut all);
            all
        });
        Served { child, url, stderr }
    }

    /// `batchconf run` against this server with these credentials (and any other flags).
    fn run(&self, creds: &[&str], extra: &[&str]) -> Output {
        batchconf()
            .args(["run", "--target", &self.url, "--project-id", PROJECT, "--fixture-assets", FIXTURES])
            .args(["--allow-destructive", "--seed", "16"])
            .args(creds)
            .args(extra)
            .output()
            .unwrap()
    }

    /// Stops the server (SIGTERM) and reads what its last line says.
    fn stop(mut self) -> Stats {
        // SAFETY: kill(2) on a child of ours that has not been waited for yet.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) }, 0);
        self.child.wait().unwrap();
        let log = self.stderr.join().unwrap();
        let last = log.lines().rev().find(|l| l.contains("access keys locked:")).unwrap_or_else(|| panic!("{log}"));
        let number = |after: &str| -> u64 {
            let rest = &last[last.find(after).unwrap_or_else(|| panic!("{last}")) + after.len()..];
            rest.trim().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
        };
        Stats { lockouts: number("access keys locked:"), max_failures_in_a_row: number("with one access key:") }
    }

    /// Sends one request signed with the server's access key and a signature that cannot be
    /// right: one failed authentication of that key.
    fn fail_authentication(&self) -> String {
        let host = self.url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(host).unwrap();
        let request = format!(
            "POST /v1/{PROJECT}/digital-assets/batch-action HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             X-Sdk-Date: 20200101T000000Z\r\nAuthorization: SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature=00\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    }
}

const WITH_AKSK: &[&str] = &["--ak", AK, "--sk", SK];
const WITH_TOKEN: &[&str] = &["--token", TOKEN];

/// The harness's own bound: never more than three failed authentications in a row with the
/// run's key (the platform locks after five).
const MOST_IN_A_ROW: u64 = 3;

fn passes_without_a_lockout(serve: &[&str]) {
    for creds in [WITH_AKSK, WITH_TOKEN] {
        let server = Served::start(serve);
        let o = server.run(creds, &[]);
        let stats = server.stop();
        assert_eq!(o.status.code(), Some(0), "serve {serve:?}, run {:?}:\n{}", creds[0], text(&o));
        assert_eq!(stats.lockouts, 0, "serve {serve:?}, run {:?}", creds[0]);
        assert!(stats.max_failures_in_a_row <= MOST_IN_A_ROW, "serve {serve:?}: {stats:?}");
    }
}

#[test]
fn the_suite_passes_behind_the_gateway() {
    passes_without_a_lockout(&["--variant", "gateway-auth"]);
}

#[test]
fn the_suite_passes_against_the_lockout_rule_and_locks_nothing() {
    passes_without_a_lockout(&["--variant", "lockout"]);
}

#[test]
fn the_suite_passes_with_the_services_own_codes() {
    passes_without_a_lockout(&["--variant", "service-error-codes"]);
}

#[test]
fn the_suite_passes_against_the_whole_platform() {
    passes_without_a_lockout(&["--platform", "huaweicloud"]);
}

/// Every trial at once, many requests in flight, a soak of several thousand requests, and
/// shrinking of failing bad-signature requests (the `auth-401` fault makes every auth trial
/// diverge): still never more than three failures in a row, and no lockout.
#[test]
fn concurrency_soak_and_shrinking_never_lock_the_key() {
    let server = Served::start(&["--platform", "huaweicloud"]);
    let o = server.run(WITH_AKSK, &["--concurrency", "32", "--requests", "6000"]);
    let stats = server.stop();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stats.lockouts, 0);
    assert!(stats.max_failures_in_a_row <= MOST_IN_A_ROW, "{stats:?}");

    let server = Served::start(&["--fault", "auth-401", "--variant", "lockout"]);
    let o = server.run(WITH_AKSK, &["--concurrency", "16"]);
    let stats = server.stop();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("rejects_bad_credentials      DIVERGES"), "{out}");
    assert!(out.contains("(shrunk: "), "shrinking ran:\n{out}");
    assert_eq!(stats.lockouts, 0);
    assert!(stats.max_failures_in_a_row <= MOST_IN_A_ROW, "{stats:?}");
}

/// A key locked before the run (six failed authentications in a row): the first refusal says
/// so, the run stops at once with exit 3, and nothing is blamed on the target.
#[test]
fn a_locked_key_stops_the_run_at_once() {
    let server = Served::start(&["--platform", "huaweicloud"]);
    for _ in 0..6 {
        assert!(server.fail_authentication().starts_with("HTTP/1.1 401"));
    }
    assert!(server.fail_authentication().contains("AK access failed to reach the limit,forbidden."));
    let o = server.run(WITH_AKSK, &[]);
    server.stop();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("may be locked") && out.contains("5 minutes"), "{out}");
    assert!(!out.contains("DIVERGES"), "{out}");
    assert!(sent(&out) <= 40, "stopped at once:\n{out}");
}

/// The run's own credentials refused at the gateway from the start: exit 3 within the first few
/// requests, one sentence (today: exit 1 and a list of divergences after thousands).
#[test]
fn credentials_refused_at_the_gateway_are_exit_3_early() {
    let server = Served::start(&["--variant", "gateway-auth"]);
    for creds in [&["--ak", AK, "--sk", "not-the-secret-key"][..], &["--token", "not-the-token"]] {
        let o = server.run(creds, &[]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(3), "{out}");
        assert!(out.contains("refused the run's own credentials (401 APIGW.0301) from the first request"), "{out}");
        assert!(!out.contains("DIVERGES"), "{out}");
        assert!(sent(&out) <= 40, "{out}");
    }
    server.stop();
}

/// A token that expires mid-run (the platform's expire after 24 hours): exit 3, the credentials
/// lost, never a list of divergences; behind the gateway (401 APIGW.0301) and without it (the
/// service's 400, told from another refusal by a request accepted before).
#[test]
fn credentials_lost_mid_run_are_exit_3() {
    for platform in [&["--platform", "huaweicloud"][..], &[]] {
        let server = Served::start(&[platform, &["--token-ttl-requests", "300"]].concat());
        let o = server.run(WITH_TOKEN, &[]);
        server.stop();
        let out = text(&o);
        assert_eq!(o.status.code(), Some(3), "{platform:?}: {out}");
        assert!(out.contains("the credentials were lost mid-run"), "{platform:?}: {out}");
        assert!(!out.contains("DIVERGES"), "{platform:?}: {out}");
    }
}

/// The page says 400 where the platform's gateway answers 401: the reports say it once, as a
/// note on the contract, when the target answered so, and not otherwise.
#[test]
fn the_gateways_401_is_a_note_on_the_contract_once() {
    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let server = Served::start(&["--variant", "gateway-auth"]);
    let reports = ["--report-json", json.to_str().unwrap(), "--report-html", html.to_str().unwrap()];
    let o = server.run(WITH_AKSK, &reports);
    server.stop();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert_eq!(out.matches("note on the contract: The page's status table says").count(), 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let notes = report["contract_notes"].as_array().expect("contract_notes");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].as_str().unwrap().contains("401"), "{notes:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("id=\"contract-notes\"").count(), 1);

    let plain = Served::start(&[]);
    let o = plain.run(WITH_AKSK, &["--report-json", json.to_str().unwrap()]);
    plain.stop();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("note on the contract"));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(report.get("contract_notes").is_none());
}

/// `requests sent: N` of a run's summary.
fn sent(out: &str) -> u64 {
    let line = out.lines().find(|l| l.starts_with("requests sent: ")).unwrap_or_else(|| panic!("{out}"));
    line["requests sent: ".len()..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// `replay` re-sends a report's failing requests one after the other: seven bad-signature
/// divergences in a row would lock the key, so it interleaves a valid request too.
#[test]
fn replay_never_locks_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let server = Served::start(&["--fault", "auth-401", "--variant", "lockout"]);
    let o = server.run(WITH_AKSK, &["--report-json", json.to_str().unwrap(), "auth::"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stats = server.stop();
    assert_eq!(stats.lockouts, 0);
    let server = Served::start(&["--fault", "auth-401", "--variant", "lockout"]);
    let o = batchconf()
        .args(["replay", json.to_str().unwrap(), "--target", &server.url, "--project-id", PROJECT])
        .args(WITH_AKSK)
        .output()
        .unwrap();
    let stats = server.stop();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Every variant of `bad-credentials` a run with AK/SK alone sends (the token's four need a token).
    assert!(text(&o).contains("18 replayed: 18 still diverge"), "{}", text(&o));
    assert_eq!(stats.lockouts, 0, "{}", text(&o));
    assert!(stats.max_failures_in_a_row <= MOST_IN_A_ROW, "{stats:?}");
}

//! Nothing lost: Ctrl-C (SIGINT) or SIGTERM winds a `batchconf run` down instead of killing it.
//! It stops starting requests, lets those in flight finish, puts fixtures back, prints the
//! summary and writes every report marked interrupted, with what it found so far; it exits 130
//! (SIGINT) or 143 (SIGTERM), never 0; a second signal ends it at once. `serve` and `replay` end
//! cleanly on a signal too. Each test signals a real process and reads back what it wrote.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{text, Serve};

const TOKEN: &str = "interrupt-test-token-8812";

/// A child process whose stdout is read as it comes.
struct Running {
    child: Child,
    /// What stdout said up to the `ready` line.
    head: String,
    rest: std::thread::JoinHandle<String>,
}

/// Starts `cmd` with its output piped, and waits until stdout has printed a line containing
/// `ready` (the run has begun).
fn start(mut cmd: Command, ready: &str) -> Running {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut head = String::new();
    while !head.contains(ready) {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "stdout ended before `{ready}`:\n{head}");
        head.push_str(&line);
    }
    // The rest of stdout is read on a thread, so a full pipe never blocks the child.
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        rest
    });
    Running { child, head, rest }
}

impl Running {
    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on a child of ours that has not been waited for yet.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0, "kill failed");
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits (at most `within`) for the child to end; its output, and how long it took.
    fn finish(mut self, within: Duration) -> (Output, Duration) {
        let started = Instant::now();
        while self.running() {
            if started.elapsed() > within {
                let _ = self.child.kill();
                panic!("the process did not end within {within:?} of the signal");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = started.elapsed();
        let mut o = self.child.wait_with_output().unwrap();
        o.stdout = format!("{}{}", self.head, self.rest.join().unwrap()).into_bytes();
        (o, took)
    }
}

/// Each fixture's `asset_state`, looked up on the served target (a plain HTTP/1.0 GET).
fn lookups(server: &Serve, ids: &[&str]) -> Vec<String> {
    let addr = server.url.trim_start_matches("http://").to_string();
    ids.iter()
        .map(|id| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            let head =
                format!("GET /v1/p/digital-assets/{id} HTTP/1.0\r\nHost: {addr}\r\nX-Auth-Token: {TOKEN}\r\n\r\n");
            std::io::Write::write_all(&mut s, head.as_bytes()).unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{answer}"));
            v["asset_state"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

/// The text of the element whose start tag contains `marker`, as an HTML reader sees it (the
/// page is read with quick-xml, leniently: void elements such as `<meta>` have no end tag).
fn html_text(page: &str, marker: &str) -> String {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(page);
    reader.config_mut().check_end_names = false;
    let (mut depth, mut inside, mut text) = (0usize, None::<usize>, String::new());
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("the page does not parse: {e}")) {
            // HTML's void elements have no end tag: they open nothing.
            Event::Start(e)
                if matches!(e.name().as_ref(), b"meta" | b"br" | b"hr" | b"img" | b"input" | b"link" | b"wbr") => {}
            Event::Start(e) => {
                depth += 1;
                if inside.is_none() && String::from_utf8_lossy(&e).contains(marker) {
                    inside = Some(depth);
                }
            }
            Event::End(_) => {
                if inside == Some(depth) {
                    return text;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) if inside.is_some() => text.push_str(&String::from_utf8_lossy(&t)),
            Event::Eof => panic!("no element `{marker}` in the page"),
            _ => {}
        }
    }
}

fn check_reports(dir: &Path, signal_name: &str) {
    let json = batchconf::report::json::read(&dir.join("r.json")).expect("the JSON report reads back");
    assert_eq!(json.interrupted.as_deref(), Some(signal_name), "{json:?}");
    assert!(!json.divergences.is_empty(), "what was found before the signal is kept: {json:?}");
    assert!(json.divergences.iter().any(|d| d.checks.iter().any(|c| c == "batch_ids_answered")), "{json:?}");
    assert!(!json.not_run.is_empty(), "a soak interrupted after seconds leaves trials unfinished");

    let xml = std::fs::read_to_string(dir.join("r.xml")).unwrap();
    let junit = quick_junit::Report::deserialize_from_str(&xml).expect("the JUnit report parses");
    let cases: Vec<&quick_junit::TestCase> = junit.test_suites.iter().flat_map(|s| s.test_cases.iter()).collect();
    assert!(cases.len() >= 30, "one test case per trial: {}", cases.len());
    let message = |c: &quick_junit::TestCase| match &c.status {
        quick_junit::TestCaseStatus::NonSuccess { message, .. } => message.as_ref().map(|m| m.to_string()),
        _ => None,
    };
    assert!(
        cases.iter().any(|c| message(c).is_some_and(|m| m.contains(&format!("interrupted by {signal_name}")))),
        "{xml}"
    );
    assert!(cases.iter().any(|c| message(c).is_some_and(|m| m.contains("batch_ids_answered"))), "{xml}");

    let page = std::fs::read_to_string(dir.join("r.html")).unwrap();
    let verdict = html_text(&page, "id=\"verdict\"");
    assert!(verdict.contains(&format!("INTERRUPTED by {signal_name}")), "{verdict}");
    let first = html_text(&page, "class=\"divergence\"");
    assert!(first.contains("batch_ids_answered at response.body/results"), "{first}");
}

/// A soak run of the bundled server with a planted fault, interrupted a few seconds in: every
/// report is written, marked, holds the divergence found, and parses.
#[test]
fn an_interrupted_run_prints_the_summary_and_writes_every_report() {
    for (sig, name, code) in [(libc::SIGINT, "SIGINT (Ctrl-C)", 130), (libc::SIGTERM, "SIGTERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = common::batchconf();
        cmd.current_dir(dir.path())
            .args(["run", "--seed", "3", "--requests", "2000000", "--fault", "drop-last-id"])
            .args(["--report-json", "r.json", "--report-html", "r.html", "--junit", "r.xml"]);
        let run = start(cmd, "running ");
        std::thread::sleep(Duration::from_secs(3));
        run.signal(sig);
        let (o, took) = run.finish(Duration::from_secs(30));
        assert_eq!(o.status.code(), Some(code), "{name}: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("batchconf summary per check:"), "{out}");
        assert!(out.contains(&format!("INTERRUPTED by {name}")) && out.contains("not run (interrupted)"), "{out}");
        assert!(out.contains("batch_ids_answered           DIVERGES"), "{out}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("interrupted by {name}")), "{}", text(&o));
        assert!(took < Duration::from_secs(15), "{name}: winding down took {took:?}");
        check_reports(dir.path(), name);
    }
}

/// Against a served target with fixtures: the trials under way put their fixtures back, so none
/// is left in the recycle bin or gone.
#[test]
fn an_interrupted_run_puts_its_fixtures_back() {
    let fixtures = ["f1", "f2", "f3", "f4", "f5", "f6"];
    let server = Serve::start(TOKEN, &["--fixtures", &fixtures.join(",")]);
    let mut cmd = common::batchconf();
    cmd.args(["run", "--target", &server.url, "--project-id", "p", "--token", TOKEN, "--seed", "9"]).args([
        "--fixture-assets",
        &fixtures.join(","),
        "--duration",
        "10m",
        "stateful::",
    ]);
    let run = start(cmd, "running ");
    std::thread::sleep(Duration::from_secs(3));
    run.signal(libc::SIGINT);
    let (o, _) = run.finish(Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    for (id, state) in fixtures.iter().zip(lookups(&server, &fixtures)) {
        assert_eq!(state, "ACTIVED", "fixture {id} was left {state}: {}", text(&o));
    }
}

/// A target that never answers: the first signal waits for the requests in flight (bounded by
/// the request timeout); a second ends the process at once.
#[test]
fn a_second_interrupt_ends_at_once_and_the_first_waits_only_for_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s); // read nothing, answer nothing
        }
    });
    let run = |timeout_ms: &str| {
        let mut cmd = common::batchconf();
        cmd.args(["run", "--target", &target, "--project-id", "p", "--token", TOKEN, "--timeout-ms", timeout_ms])
            .arg("example::published-example-corrected");
        start(cmd, "running ")
    };

    let mut slow = run("60000");
    std::thread::sleep(Duration::from_millis(500));
    slow.signal(libc::SIGINT);
    std::thread::sleep(Duration::from_millis(700));
    assert!(slow.running(), "the first interrupt waits for the request in flight");
    slow.signal(libc::SIGINT);
    let (o, took) = slow.finish(Duration::from_secs(5));
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("again: ending at once"), "{}", text(&o));

    let short = run("3000");
    std::thread::sleep(Duration::from_millis(500));
    short.signal(libc::SIGTERM);
    let (o, took) = short.finish(Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(143), "{}", text(&o));
    assert!(took < Duration::from_secs(8), "bounded by the 3 s request timeout: {took:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("INTERRUPTED by SIGTERM"), "{}", text(&o));
}

#[test]
fn serve_ends_cleanly_on_a_signal() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let mut cmd = common::batchconf();
        cmd.args(["serve", "--port", "0", "--token", TOKEN]);
        let serve = start(cmd, "listening on");
        std::thread::sleep(Duration::from_millis(200));
        serve.signal(sig);
        let (o, _) = serve.finish(Duration::from_secs(10));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("batchconf serve: stopped"), "{}", text(&o));
    }
}

/// `replay` finishes the request in flight, says how many were not replayed, and exits 143.
#[test]
fn replay_ends_cleanly_on_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let faulty = Serve::start(TOKEN, &["--fault", "slow"]);
    let o = common::batchconf()
        .args(["run", "--target", &faulty.url, "--project-id", "p", "--token", TOKEN, "--seed", "2"])
        .args(["--max-response-ms", "100", "--examples", "5", "--report-json"])
        .arg(&report)
        .arg("property::")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let found = batchconf::report::json::read(&report).unwrap().divergences.len();
    assert!(found >= 4, "{found} divergences");

    let mut cmd = common::batchconf();
    cmd.args(["replay", "--target", &faulty.url, "--project-id", "p", "--token", TOKEN, "--timeout-ms", "5000"])
        .arg(&report);
    // Each replayed request takes 400 ms (the fault): the signal comes while the first is in flight.
    let replay = start(cmd, "");
    std::thread::sleep(Duration::from_millis(600));
    replay.signal(libc::SIGTERM);
    let (o, _) = replay.finish(Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(143), "{}", text(&o));
    assert!(text(&o).contains("not replayed"), "{}", text(&o));
}

//! Reproductions hold: the same seed sends the same requests, a failure's `curl` line shows the
//! failure again, and `replay` re-checks a saved report against any target. Servers are
//! `batchconf serve` processes on 127.0.0.1.

mod common;

use std::process::{Command, Output};

use common::{text, Serve};

const TOKEN: &str = "replay-token-7777";

fn batchconf(args: &[&str]) -> Output {
    common::batchconf().args(args).env("BATCHCONF_TOKEN", TOKEN).output().unwrap()
}

/// `batchconf run` against a served target with the fixtures `f1,f2`: one trial, one seed.
fn run_on(server: &Serve, seed: &str, trial: &str, extra: &[&str]) -> Output {
    let args = ["run", "--target", &server.url, "--project-id", "p", "--seed", seed, "--fixture-assets", "f1,f2"];
    batchconf(&[&args[..], extra, &[trial]].concat())
}

#[test]
fn the_same_seed_sends_the_same_requests() {
    let run = |seed: &str| {
        let o =
            batchconf(&["run", "--target", "https://api.example", "--project-id", "p", "--seed", seed, "--dry-run"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let (a, b, c) = (run("42"), run("42"), run("43"));
    assert!(a.matches("curl ").count() > 100, "{a}");
    assert_eq!(a, b, "the same seed must send the same requests, byte for byte");
    assert_ne!(a, c);
}

/// A failure found on the bundled server names how to start the same server again (its port
/// died with the run): the printed lines, run by `sh`, show the failure again.
#[test]
fn a_bundled_failures_reproduction_starts_the_same_server_again() {
    let o = common::batchconf()
        .args(["run", "--seed", "1", "--fault", "bad-ret-status", "property::ordinary-batches"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let block: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "Reproduce with:")
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(str::trim)
        .collect();
    assert!(block.iter().any(|l| l.starts_with("batchconf serve ") && l.contains("--fault bad-ret-status")), "{out}");
    // The same lines, on a free port and with this build's binary; the server is stopped after.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let script = block
        .iter()
        .map(|l| {
            l.replace("8080", &port).replacen(
                "batchconf serve",
                &format!("{} serve", env!("CARGO_BIN_EXE_batchconf")),
                1,
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let again = Command::new("sh").arg("-c").arg(format!("{script}\nkill $! 2>/dev/null")).output().unwrap();
    let answer = String::from_utf8_lossy(&again.stdout);
    assert!(answer.contains("HTTP/1.1 200") && answer.contains("\"SUCESS\""), "{script}\n{answer}");
}

#[test]
fn a_failures_curl_line_reproduces_it() {
    let server = Serve::start(TOKEN, &["--fault", "bad-ret-status"]);
    let o = run_on(&server, "1", "property::ordinary-batches", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let curl = out.lines().map(str::trim).find(|l| l.starts_with("curl ")).expect("a curl line");
    let again = Command::new("sh").arg("-c").arg(curl).env("BATCHCONF_TOKEN", TOKEN).output().unwrap();
    let answer = String::from_utf8_lossy(&again.stdout);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("\"SUCESS\""),
        "the curl line did not reproduce the failure:\n{answer}"
    );
}

#[test]
fn replay_rechecks_a_report_against_any_target() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let broken = Serve::start(TOKEN, &["--fault", "drop-last-id"]);
    let o = run_on(&broken, "9", "property::ordinary-batches", &["--report-json", report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // Against the same broken server the failure is there again…
    let again = batchconf(&["replay", report.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("batch_ids_answered at"), "{}", text(&again));
    // …against a fixed one it is gone.
    let fixed = Serve::start(TOKEN, &[]);
    let ok = batchconf(&["replay", report.to_str().unwrap(), "--target", &fixed.url]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("conforms now: property::ordinary-batches"), "{}", text(&ok));

    // A file that is not a report is a setup error naming it.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": \"something-else\"}").unwrap();
    let o = batchconf(&["replay", bad.to_str().unwrap(), "--target", &fixed.url]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("bad.json"), "{}", text(&o));
}

/// The `Reproduce with:` block of a run's output, one line each, unindented.
fn reproduction(out: &str) -> Vec<String> {
    out.lines()
        .skip_while(|l| *l != "Reproduce with:")
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}

/// Runs `script` with bash, with `BATCHCONF_TOKEN` set and this build's binary for `batchconf`;
/// stops whatever it started in the background. What it printed.
fn run_script(script: &[String]) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let script = script
        .iter()
        .map(|l| {
            l.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
                .replace("--port 8080", &format!("--port {port}"))
                .replacen("batchconf serve", &format!("{} serve", env!("CARGO_BIN_EXE_batchconf")), 1)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!("{script}\njobs -p | xargs -r kill 2>/dev/null"))
        .env("BATCHCONF_TOKEN", TOKEN)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The body of the last HTTP answer in `curl -i` output.
fn last_answer(printed: &str) -> serde_json::Value {
    let last = printed.rsplit("HTTP/1.1 ").next().unwrap_or_default();
    let body = last.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body.trim()).unwrap_or_else(|_| panic!("{printed}"))
}

/// A sequence's failure depends on its earlier steps: the reproduction sends every one of them
/// in order (the `serve` line first), so on a fresh server it shows the failure, not the state
/// a fresh fixture has (`ACTIVED`).
#[test]
fn a_sequences_reproduction_replays_every_step_on_a_fresh_server() {
    let o = common::batchconf()
        .args(["run", "--seed", "1", "--fault", "restore-does-nothing", "sequence::restore-undoes-delete"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let script = reproduction(&out);
    assert!(script.iter().any(|l| l.starts_with("batchconf serve ") && l.contains("--fault restore-does-nothing")));
    let curls: Vec<&String> = script.iter().filter(|l| l.starts_with("curl ")).collect();
    assert_eq!(curls.len(), 6, "every step, batches and lookups: {script:#?}");
    for (n, curl) in curls.iter().enumerate() {
        assert!(curl.contains(&format!("step {}'", n + 1)), "step {} out of order: {curl}", n + 1);
    }
    let printed = run_script(&script);
    assert_eq!(printed.matches("HTTP/1.1 200").count(), 6, "{printed}");
    assert_eq!(last_answer(&printed)["asset_state"], "DELETING", "{printed}");
}

/// A stateful trial's failure (a shrunk random sequence) reproduces the same way, in the
/// terminal and in the JSON and HTML reports alike.
#[test]
fn a_random_sequences_reproduction_shows_the_failure_again_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let o = common::batchconf()
        .args(["run", "--seed", "2", "--fault", "restore-does-nothing", "stateful::random-batches"])
        .args(["--report-json", json.to_str().unwrap(), "--report-html", html.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let script = reproduction(&out);
    assert!(script.iter().filter(|l| l.starts_with("curl ")).count() >= 2, "{out}");
    let printed = run_script(&script);
    assert_eq!(last_answer(&printed)["asset_state"], "DELETING", "{out}\n{printed}");
    // The reports carry the same script.
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let entry = &report["divergences"][0];
    assert_eq!(entry["curl"].as_str().unwrap().lines().map(str::trim).collect::<Vec<_>>(), script);
    assert_eq!(entry["script"].as_array().unwrap().len() + 1, script.iter().filter(|l| l.starts_with("curl ")).count());
    let page = std::fs::read_to_string(&html).unwrap();
    for curl in script.iter().filter(|l| l.starts_with("curl ")) {
        assert!(page.contains(&batchconf::report::html::escape(curl)), "not in the HTML report: {curl}");
    }
}

/// Against a target, the script has no `serve` line and reads the credentials from the user's
/// environment: run against a fresh target with the same fault, it shows the failure again.
#[test]
fn a_sequences_reproduction_against_a_target_uses_the_environment() {
    let server = Serve::start(TOKEN, &["--fault", "restore-does-nothing"]);
    let o = run_on(&server, "1", "sequence::restore-undoes-delete", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains(TOKEN), "a secret in the output");
    let script = reproduction(&out);
    assert!(!script.iter().any(|l| l.contains("batchconf serve")), "{script:#?}");
    assert!(script.iter().filter(|l| l.starts_with("curl ")).all(|l| l.contains("$BATCHCONF_TOKEN")), "{script:#?}");
    let fresh = Serve::start(TOKEN, &["--fault", "restore-does-nothing"]);
    let script: Vec<String> = script.iter().map(|l| l.replace(&server.url, &fresh.url)).collect();
    let printed = run_script(&script);
    assert_eq!(last_answer(&printed)["asset_state"], "DELETING", "{printed}");
}

/// A sequence's failure found on a broken server, kept in a report; the served fixtures `f1`,
/// `f2`. The report's path.
fn sequence_report(dir: &std::path::Path) -> std::path::PathBuf {
    let report = dir.join("sequence.json");
    let broken = Serve::start(TOKEN, &["--fault", "restore-does-nothing"]);
    let o = run_on(&broken, "1", "sequence::restore-undoes-delete", &["--report-json", report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    report
}

/// `replay` of a sequence's failure sends every recorded step in order, then the request that
/// showed it: on a fresh broken server the failure is there again (the lookup alone would show a
/// fresh `ACTIVED`), and what cannot be put back is said.
#[test]
fn replay_sends_a_sequences_every_step_again() {
    let dir = tempfile::tempdir().unwrap();
    let report = sequence_report(dir.path());
    let fresh = Serve::start(TOKEN, &["--fault", "restore-does-nothing"]);
    let again = batchconf(&["replay", report.to_str().unwrap(), "--target", &fresh.url]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    let out = text(&again);
    assert!(out.contains("lifecycle at response.body/asset_state") && out.contains("seen: \"DELETING\""), "{out}");
    assert!(out.contains("FIXTURES NOT PUT BACK: 1 of") && out.contains("\"f1\" DELETING (was ACTIVED)"), "{out}");
    assert!(!out.contains(TOKEN), "a secret in the output");
}

/// Against a fixed server the whole sequence conforms, and every fixture it named is put back
/// as it was before the replay (here `f1` starts deactivated and shared).
#[test]
fn replay_of_a_sequence_puts_its_fixtures_back() {
    let dir = tempfile::tempdir().unwrap();
    let report = sequence_report(dir.path());
    let fixed = Serve::start(TOKEN, &[]);
    fixed.batch(TOKEN, "UNACTIVE", &["f1"]);
    fixed.batch(TOKEN, "SHARE", &["f1"]);
    let before = fixed.lookups(TOKEN, &["f1", "f2"]);
    let ok = batchconf(&["replay", report.to_str().unwrap(), "--target", &fixed.url]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("conforms now: sequence::restore-undoes-delete"), "{}", text(&ok));
    assert!(text(&ok).contains("fixtures put back: "), "{}", text(&ok));
    assert_eq!(fixed.lookups(TOKEN, &["f1", "f2"]), before, "{}", text(&ok));
}

/// What replay cannot send the way the run did, it says, and ends with exit 3 (no verdict):
/// batches the run sent at once, and a report that keeps a sequence's steps as text only.
#[test]
fn replay_says_plainly_what_it_cannot_replay() {
    let dir = tempfile::tempdir().unwrap();
    let report = sequence_report(dir.path());
    let fresh = Serve::start(TOKEN, &["--fault", "restore-does-nothing"]);
    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for (edit, said) in [
        ("at_once", "were sent at once, and one after another they cannot show what concurrency did"),
        ("script", "keeps its earlier steps as text only, not their requests"),
    ] {
        let mut changed = original.clone();
        let entry = &mut changed["divergences"][0];
        match edit {
            "at_once" => entry["at_once"] = serde_json::json!(true),
            _ => drop(entry.as_object_mut().unwrap().remove("script")),
        }
        let path = dir.path().join(format!("{edit}.json"));
        std::fs::write(&path, changed.to_string()).unwrap();
        let o = batchconf(&["replay", path.to_str().unwrap(), "--target", &fresh.url]);
        assert_eq!(o.status.code(), Some(3), "{edit}: {}", text(&o));
        assert!(
            text(&o).contains("cannot judge: sequence::restore-undoes-delete") && text(&o).contains(said),
            "{}",
            text(&o)
        );
    }
}

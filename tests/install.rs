//! An installed binary works with no checkout: the contract and cases are built in, and `init`
//! writes a copy that `--schemas`/`--cases` read.
//!
//! The binary is copied out of `target/` and run from another directory with an empty
//! environment (no `BATCHCONF_*` a user exported, no `CARGO_*`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary, copied into a directory of its own, as `cargo install` would place it.
fn installed(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let to = bin.join("batchconf");
    std::fs::copy(env!("CARGO_BIN_EXE_batchconf"), &to).unwrap();
    to
}

fn run(bin: &Path, cwd: &Path, args: &[&str]) -> Output {
    let o = spawn(Command::new(bin).args(args).current_dir(cwd).env_clear());
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!text.contains("panicked"), "{text}");
    o
}

/// Runs the command. A binary just copied can be "busy" for a moment: another test thread's fork
/// may still hold the copy's write handle until its child execs (Linux ETXTBSY), so retry then.
fn spawn(cmd: &mut Command) -> Output {
    for _ in 0..100 {
        match cmd.output() {
            // ETXTBSY is 26 on Linux and macOS (`ErrorKind::ExecutableFileBusy` is newer than the MSRV).
            Err(e) if e.raw_os_error() == Some(26) => std::thread::sleep(std::time::Duration::from_millis(20)),
            other => return other.unwrap(),
        }
    }
    panic!("the copied binary stayed busy for 2 s")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn runs_from_anywhere_with_the_built_in_contract_and_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = installed(tmp.path());
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();

    let list = run(&bin, &elsewhere, &["list"]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list));
    assert!(text(&list).contains("cases (built-in)"), "{}", text(&list));
    assert!(text(&list).contains("sequence::restore-undoes-delete"), "{}", text(&list));

    let r = run(&bin, &elsewhere, &["run", "--examples", "2"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    assert!(text(&r).contains(" passed, 0 failed"), "{}", text(&r));
    let api = run(&bin, &elsewhere, &["openapi"]);
    assert_eq!(api.status.code(), Some(0), "{}", text(&api));
    let doc: serde_json::Value = serde_json::from_slice(&api.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["description"].as_str().unwrap().contains("(built-in)"), "{doc}");
}

#[test]
fn init_writes_a_copy_that_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = installed(tmp.path());
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();

    let init = run(&bin, &work, &["init", "x"]);
    assert_eq!(init.status.code(), Some(0), "{}", text(&init));
    assert!(work.join("x/schemas/manifest.json").is_file() && work.join("x/cases/bad-credentials.json").is_file());

    let r = run(&bin, &work, &["run", "--examples", "2", "--schemas", "x/schemas", "--cases", "x/cases"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    // The README's `validate cases/recorded/…` works in the copy, with no checkout.
    let v = run(&bin, &work.join("x"), &["validate", "cases/recorded/published-example.json"]);
    assert!(matches!(v.status.code(), Some(0 | 1)), "{}", text(&v));
    assert!(text(&v).contains("published-example.json"), "{}", text(&v));

    // The copy is what runs: a case added to it shows up, a broken schema in it is exit 2.
    std::fs::write(
        work.join("x/cases/mine.json"),
        r#"{"kind": "example", "request": {"action": "DELETE", "asset_ids": ["$unknown"]}}"#,
    )
    .unwrap();
    let list = run(&bin, &work, &["list", "--cases", "x/cases"]);
    assert!(text(&list).contains("example::mine") && text(&list).contains("cases (x/cases)"), "{}", text(&list));
    std::fs::write(work.join("x/schemas/manifest.json"), "{}").unwrap();
    let r = run(&bin, &work, &["run", "--schemas", "x/schemas", "--cases", "x/cases"]);
    assert_eq!(r.status.code(), Some(2), "{}", text(&r));
    assert!(text(&r).contains("x/schemas/manifest.json"), "{}", text(&r));

    // A second `init` leaves the edited copy alone.
    let again = run(&bin, &work, &["init", "x"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert_eq!(std::fs::read_to_string(work.join("x/schemas/manifest.json")).unwrap(), "{}");
}

#[test]
fn the_copy_can_be_named_by_environment_variables_and_a_flag_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = installed(tmp.path());
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    assert_eq!(run(&bin, &work, &["init", "x"]).status.code(), Some(0));
    std::fs::write(
        work.join("x/cases/mine.json"),
        r#"{"kind": "example", "request": {"action": "DELETE", "asset_ids": ["$unknown"]}}"#,
    )
    .unwrap();
    let with_env = |args: &[&str]| {
        spawn(
            Command::new(&bin)
                .args(args)
                .current_dir(&work)
                .env_clear()
                .env("BATCHCONF_SCHEMAS", "x/schemas")
                .env("BATCHCONF_CASES", "x/cases"),
        )
    };
    let r = with_env(&["run", "--examples", "2", "example::mine"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    let first = text(&r).lines().next().unwrap_or_default().to_string();
    assert!(first.contains("contract: x/schemas") && first.contains("cases: x/cases"), "{first}");
    let list = with_env(&["list"]);
    assert!(text(&list).contains("example::mine"), "{}", text(&list));
    // A flag is more specific than the environment.
    let r = with_env(&["run", "--dry-run", "--cases", "x/nothing-here"]);
    assert_eq!(r.status.code(), Some(2), "{}", text(&r));
    assert!(text(&r).contains("x/nothing-here"), "{}", text(&r));
}

/// The copy of the binary above still sits on the machine that built it, so it would find a
/// checkout path baked in at build time. What keeps it from reading one: no code outside tests
/// names the checkout.
#[test]
fn no_code_outside_tests_reads_the_checkout() {
    let mut offenders = vec![];
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                if code.contains("CARGO_MANIFEST_DIR") {
                    offenders.push(path.display().to_string());
                }
            }
        }
    }
    assert!(offenders.is_empty(), "these name the checkout at run time: {offenders:?}");
}

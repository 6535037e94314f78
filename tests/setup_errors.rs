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

/// A target that counts the connections it is given: "nothing was sent" is "nothing connected".
fn counting_target() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for _ in listener.incoming() {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (url, count)
}

#[test]
fn the_users_mistakes_are_exit_2_with_the_flag_named_before_anything_is_sent() {
    let (url, connections) = counting_target();
    let dir = tempfile::tempdir().unwrap();
    let long = "p".repeat(100_000);
    let query = format!("{url}?x=1");
    let fragment = format!("{url}/#top");
    let remote = |target: &str, project: &str| -> Vec<String> {
        ["run", "--target", target, "--project-id", project, "--token", "t0ken"].map(String::from).to_vec()
    };
    let with = |mut args: Vec<String>, extra: &[&str]| {
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let mistakes: Vec<(Vec<String>, &str)> = vec![
        (remote(&query, "p"), "`--target"),
        (remote(&fragment, "p"), "`--target"),
        (remote(&url, ".."), "`--project-id"),
        (remote(&url, "."), "`--project-id"),
        (remote(&url, &long), "`--project-id`"),
        (with(remote(&url, "p"), &["--app-user-id", "用户"]), "`--app-user-id 用户`"),
        (vec!["run".into(), "--app-user-id".into(), "用户".into()], "`--app-user-id 用户`"),
        (vec!["run".into(), "--project-id".into(), "..".into()], "`--project-id"),
        (with(remote(&url, "p"), &["--junit", "x.xml", "--report-json", "./x.xml"]), "`--report-json`"),
        (vec!["run".into(), "--report-html".into(), "r".into(), "--junit".into(), "r".into()], "`--junit`"),
    ];
    for (args, flag) in mistakes {
        let o = common::batchconf().current_dir(dir.path()).args(&args).output().unwrap();
        let text = common::text(&o);
        let shown: String = text.chars().take(300).collect();
        assert_eq!(o.status.code(), Some(2), "{shown}");
        assert_eq!(text.lines().count(), 1, "one sentence: {shown}");
        assert!(text.starts_with("error: ") && text.contains(flag), "{shown}");
        assert!(text.len() < 400, "{} bytes: {shown}", text.len());
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0, "something was sent");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "a report was written");
}

#[test]
fn help_never_prints_environment_values_and_says_what_flags_need() {
    let o = common::batchconf()
        .args(["run", "--help"])
        .env("BATCHCONF_TARGET", "http://gw:hunter2-pw@gw.example")
        .env("HUAWEICLOUD_SDK_PROJECT_ID", "proj-from-env-9")
        .env("BATCHCONF_TOKEN", "tok-from-env-9")
        .env("BATCHCONF_CASES", "/cases-from-env")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for value in ["hunter2-pw", "gw.example", "proj-from-env-9", "tok-from-env-9", "cases-from-env"] {
        assert!(!help.contains(value), "`--help` shows `{value}`:\n{help}");
    }
    assert!(help.contains("[env: BATCHCONF_TARGET]") && help.contains("[env: HUAWEICLOUD_SDK_PROJECT_ID]"), "{help}");
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("needed with `--target`"), "{help}");
    assert!(flat.contains("for `--target` only"), "{help}");
    assert!(flat.contains("the `response_time` check judges only with it"), "{help}");
}

#[test]
fn a_count_out_of_range_says_the_range_it_takes() {
    for n in ["0", "99999999999"] {
        let o = common::batchconf().args(["run", "--examples", n]).output().unwrap();
        assert_eq!(o.status.code(), Some(2));
        let text = common::text(&o);
        assert!(text.contains("not in 1..=4294967295") && !text.contains("0..="), "{text}");
    }
}

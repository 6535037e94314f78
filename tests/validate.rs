//! `batchconf validate` end to end: the built binary on committed recordings, judged by exit code,
//! stdout and stderr. The published example's whole transcript is compared with a committed file;
//! `BLESS=1 cargo test --test validate` rewrites it after an intended change.

mod common;

use std::path::PathBuf;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `batchconf validate ARGS…` from the crate root (so labels show paths relative to it).
fn validate(args: &[&str]) -> Run {
    let out =
        common::batchconf().current_dir(root()).arg("validate").args(args).output().expect("the batchconf binary runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "batchconf panicked:\n{}", run.stderr);
    run
}

/// The headline of each violation: `N. check at location`.
fn headlines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.split_once(". ").is_some_and(|(n, rest)| n.parse::<u32>().is_ok() && rest.contains(" at ")))
        .map(str::to_string)
        .collect()
}

const DATA: &str = "tests/data/validate";

#[test]
fn the_published_example_has_exactly_its_five_defects() {
    let run = validate(&["cases/recorded/published-example.json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        headlines(&run.stdout),
        [
            "1. response_schema at response.body/results/0/ret_status",
            "2. batch_ids_answered at response.body/results",
            "3. batch_no_extra_ids at response.body/results/1/asset_ids",
            "4. request_schema at request.body/action",
            "5. request_path at request.path",
        ]
    );

    let expected_file = root().join(DATA).join("published-example.out");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&expected_file, &run.stdout).expect("write the expected transcript");
    }
    let expected = std::fs::read_to_string(&expected_file).expect("tests/data/validate/published-example.out exists");
    assert_eq!(run.stdout, expected, "transcript changed; if intended, re-run with BLESS=1");
}

#[test]
fn the_corrected_example_conforms() {
    let run = validate(&["cases/recorded/published-example-corrected.json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.ends_with("\n1 exchange, 1 conform, 0 diverge\n"), "{}", run.stdout);
    assert!(headlines(&run.stdout).is_empty());
}

#[test]
fn the_published_example_as_har_has_the_same_five_defects() {
    let json = validate(&["cases/recorded/published-example.json"]);
    let har = validate(&["cases/recorded/published-example.har"]);
    assert_eq!(har.code, 1, "{}{}", har.stdout, har.stderr);
    assert_eq!(headlines(&har.stdout), headlines(&json.stdout));
    assert!(har.stdout.contains("cases/recorded/published-example.har entry 1\n"), "{}", har.stdout);
    // The recording's token must not be shown, in the headers or in the reproduction.
    assert!(!har.stdout.contains("MIIExampleTokenOnlyForThisRecording"), "{}", har.stdout);
    assert!(har.stdout.contains("X-Auth-Token: ***"));
    assert!(har.stdout.contains(r#"-H "X-Auth-Token: $BATCHCONF_TOKEN""#));
}

#[test]
fn har_from_real_tools_is_read_and_other_calls_skipped() {
    let run = validate(&["cases/recorded/schemathesis-reference-server.har"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("\n4 exchanges, 4 conform, 0 diverge\n"), "{}", run.stdout);

    let run = validate(&["cases/recorded/chrome-console-session.har"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        "cases/recorded/chrome-console-session.har: 3 exchanges (HAR; 2 entries of other operations skipped)\n\
         \n3 exchanges, 3 conform, 0 diverge (2 HAR entries of other operations skipped)\n"
    );
}

#[test]
fn every_file_is_judged_and_counted_together() {
    let run = validate(&[
        "cases/recorded/published-example-corrected.json",
        "cases/recorded/published-example.json",
        "cases/recorded/published-example.har",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(headlines(&run.stdout).len(), 10);
    assert!(run.stdout.contains("    request_path        2 violations in 2 exchanges\n"), "{}", run.stdout);
    assert!(run.stdout.ends_with("\n3 exchanges, 1 conform, 2 diverge\n"), "{}", run.stdout);
}

#[test]
fn a_response_body_that_is_not_json_is_a_divergence_not_an_input_error() {
    let run = validate(&[&format!("{DATA}/response-not-json.json")]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(headlines(&run.stdout).contains(&"1. response_schema at response.body".to_string()), "{}", run.stdout);
    assert!(run.stdout.contains("seen: a body that is not JSON: <html>"), "{}", run.stdout);
}

#[test]
fn a_request_body_that_is_not_json_is_judged_too() {
    let run = validate(&[&format!("{DATA}/request-not-json.json")]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(headlines(&run.stdout)[0], "1. request_schema at request.body");
}

#[test]
fn request_ids_are_compared_across_files() {
    let run = validate(&[&format!("{DATA}/request-id-1.json"), &format!("{DATA}/request-id-2.json")]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(headlines(&run.stdout), ["1. request_id_unique at response.headers.X-Request-Id"]);
    assert!(
        run.stdout.contains(&format!(
            "\n{DATA}/request-id-2.json#1\n\n1. request_id_unique at response.headers.X-Request-Id\n"
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&format!("already seen on {DATA}/request-id-1.json#1")), "{}", run.stdout);
    assert!(!run.stdout.contains("MIIExampleTokenForRequestIdTest"));
}

/// Exit 2, nothing judged, and stderr names the file (and `also` says where in it).
fn assert_input_error(args: &[&str], file: &str, also: &str) {
    let run = validate(args);
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "", "nothing is judged when a file cannot be read");
    assert!(run.stderr.contains(file), "stderr does not name `{file}`:\n{}", run.stderr);
    assert!(run.stderr.contains(also), "stderr does not say `{also}`:\n{}", run.stderr);
}

#[test]
fn malformed_inputs_exit_2_naming_the_file_and_the_place() {
    let not_json = format!("{DATA}/not-json.json");
    assert_input_error(&[&not_json], &not_json, "line 5, column 33");
    let no_entries = format!("{DATA}/har-without-entries.har");
    assert_input_error(&[&no_entries], &no_entries, "entries");
    let only_others = format!("{DATA}/har-other-operations-only.har");
    assert_input_error(&[&only_others], &only_others, "nothing to judge");
    let broken = format!("{DATA}/broken-structure.json");
    assert_input_error(&[&broken], &broken, "bdy");
    assert_input_error(&["no/such/recording.har"], "no/such/recording.har", "read");
}

#[test]
fn a_bad_file_among_good_ones_stops_everything_and_every_bad_file_is_named() {
    let not_json = format!("{DATA}/not-json.json");
    let broken = format!("{DATA}/broken-structure.json");
    let run = validate(&["cases/recorded/published-example.json", &not_json, &broken]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains(&not_json) && run.stderr.contains(&broken), "{}", run.stderr);
}

#[test]
fn a_schema_with_a_syntax_error_exits_2_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(root().join("schemas")).expect("schemas/") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
    }
    let broken = dir.path().join("response-200.schema.json");
    std::fs::write(&broken, "{\n  \"type\": \"object\",\n  \"properties\": {\n}\n").expect("write");
    let schemas = dir.path().to_string_lossy().into_owned();
    let run = validate(&["--schemas", &schemas, "cases/recorded/published-example.json"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("response-200.schema.json"), "{}", run.stderr);
    assert!(run.stderr.contains("line"), "{}", run.stderr);

    // The same copy, repaired, judges as the bundled contract does.
    std::fs::copy(root().join("schemas/response-200.schema.json"), &broken).expect("copy");
    let run = validate(&["--schemas", &schemas, "cases/recorded/published-example-corrected.json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn junk_never_panics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let junk: &[&[u8]] = &[
        b"",
        b"\xff\xfe\x00",
        b"null",
        b"[]",
        b"[1]",
        b"{\"log\": null}",
        b"{\"log\": {\"entries\": [1]}}",
        b"{\"log\": {\"entries\": [{\"request\": {}}]}}",
        b"{\"log\": {\"entries\": [{\"request\": {\"method\": \"POST\", \"url\": \"/v1/p/digital-assets/batch-action\"}, \"response\": {\"status\": 70000}}]}}",
        b"{\"request\": {\"method\": \"POST\", \"url\": \"/x\"}, \"response\": {\"status\": -1}}",
        b"{\"request\": {\"method\": \"POST\", \"url\": \"\"}, \"response\": {\"status\": 200, \"body_text\": 5}}",
    ];
    for (i, bytes) in junk.iter().enumerate() {
        let file = dir.path().join(format!("junk-{i}.json"));
        std::fs::write(&file, bytes).expect("write");
        let name = file.to_string_lossy().into_owned();
        let run = validate(&[&name]);
        assert!(run.code == 1 || run.code == 2, "junk #{i}: exit {}\n{}{}", run.code, run.stdout, run.stderr);
        if run.code == 2 {
            assert!(run.stderr.contains(&format!("junk-{i}.json")), "junk #{i}: {}", run.stderr);
        }
    }
}

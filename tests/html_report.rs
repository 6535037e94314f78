//! `--report-html`: the page is rendered by a real headless Chromium, and what the browser made
//! of it (its DOM) must show the verdict, the coverage grid and a divergence with its request,
//! response and `curl` line. A page that is only written, or that a browser would not parse the
//! way it was meant, fails here.
//!
//! The browser trials need Chromium (Debian's `chromium` package) on `PATH`. Where there is none
//! (a fresh machine with only a Rust toolchain) they are reported as ignored, never as passed, and
//! `cargo test` still passes; with `REQUIRE_CHROMIUM=1` (which `.ci/run` sets, having installed
//! it) a missing browser fails them. The last trial proves both, re-running this binary with a
//! `PATH` that holds no browser.

mod common;

use std::path::Path;
use std::process::Command;

use common::{text, Serve};

const TOKEN: &str = "html-report-secret-token-4411";

/// Chromium's flags for a closed machine: no sandbox (CI runs as root), and none of the
/// background connections a closed network refuses.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Set to `1` where the browser trials must run (`.ci/run`): a missing browser then fails them.
/// (Not a `BATCHCONF_` variable: only the suite gate reads those.)
const REQUIRED: &str = "REQUIRE_CHROMIUM";

const BROWSERS: &[&str] = &["chromium", "chromium-browser", "google-chrome"];

/// The first browser on `PATH`, if any.
fn find_chromium() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| BROWSERS.iter().map(move |b| dir.join(b)))
        .find(|candidate| Command::new(candidate).arg("--version").output().is_ok_and(|o| o.status.success()))
}

fn chromium() -> std::path::PathBuf {
    find_chromium().unwrap_or_else(|| {
        panic!(
            "this test renders the HTML report in a headless Chromium, and none ({}) is on PATH; \
             install it with `sudo apt-get install chromium` (Debian/Ubuntu; `.ci/run` does this)",
            BROWSERS.join(", ")
        )
    })
}

/// The DOM Chromium built from the page, serialized.
fn rendered(page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && dom.contains("<body"), "chromium did not render the page: {}", text(&out));
    dom
}

/// The text inside the element that starts at `open` (up to its closing `</tag>`), tags removed.
fn element_text(dom: &str, open: &str, close: &str) -> String {
    let start = dom.find(open).unwrap_or_else(|| panic!("no `{open}` in the rendered page:\n{dom}"));
    let rest = &dom[start..];
    let end = rest.find(close).unwrap_or(rest.len());
    let mut out = String::new();
    let mut in_tag = false;
    for c in rest[..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn the_page_renders_in_a_browser_with_verdict_coverage_and_divergence() {
    let server = Serve::start(TOKEN, &["--fault", "server-error-on-repeated-id"]);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let json = dir.path().join("report.json");
    let o = common::batchconf()
        .args(["run", "--target", &server.url, "--project-id", "p", "--token", TOKEN, "--seed", "5"])
        .args(["--fixture-assets", "f1,f2", "--examples", "40", "--report-html"])
        .arg(&page)
        .arg("--report-json")
        .arg(&json)
        .arg("property::ordinary-batches")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // The JSON report carries the same coverage, as data, and still reads back.
    let report = batchconf::report::json::read(&json).unwrap();
    let coverage = report.coverage.expect("the JSON report has a `coverage` object");
    assert!(coverage.statuses.contains_key("500") && coverage.error_codes.contains_key("MSS.00000004"), "{coverage:?}");
    assert!(
        coverage.id_kinds.contains_key("fixture") && coverage.id_kinds.contains_key("repeated ids"),
        "{coverage:?}"
    );
    assert!(coverage.actions.values().any(|a| a.states.contains_key("absent")), "{coverage:?}");
    let raw: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(raw["coverage"]["actions"].is_object() && raw["coverage"]["not_exercised"].is_array(), "{raw}");

    let written = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch, nothing to run.
    for outside in ["<script", "<link", "src=", "@import", "url("] {
        assert!(!written.contains(outside), "the page refers outside itself with `{outside}`");
    }
    assert!(!written.contains(TOKEN), "the run's token is in the page");

    let dom = rendered(&page);
    let verdict = element_text(&dom, "id=\"verdict\"", "</p>");
    assert!(verdict.contains("DIVERGES"), "{verdict}");
    let checks = element_text(&dom, "id=\"checks\"", "</table>");
    assert!(checks.contains("no_server_error") && checks.contains("DIVERGES in 1 trial(s)"), "{checks}");
    let grid = element_text(&dom, "id=\"coverage\"", "</table>");
    assert!(grid.contains("action") && grid.contains("absent") && grid.contains("FAILED"), "{grid}");
    assert!(["ACTIVE", "DELETE", "RESTORE", "SHARE"].iter().any(|a| grid.contains(a)), "{grid}");
    let divergence = element_text(&dom, "class=\"divergence\"", "</section>");
    assert!(divergence.contains("property::ordinary-batches"), "{divergence}");
    assert!(divergence.contains("no_server_error at response.status"), "{divergence}");
    assert!(divergence.contains("POST ") && divergence.contains("/v1/p/digital-assets/batch-action"), "{divergence}");
    assert!(divergence.contains("MSS.00000004"), "the response is shown: {divergence}");
    assert!(divergence.contains("curl ") && divergence.contains("$BATCHCONF_TOKEN"), "{divergence}");
    assert!(!dom.contains(TOKEN), "the run's token is in the rendered page");
}

fn a_conforming_run_says_so_and_a_bad_path_fails_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("ok.html");
    let o = common::batchconf()
        .args(["run", "--seed", "5", "--examples", "10", "--report-html"])
        .arg(&page)
        .arg("auth::")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dom = rendered(&page);
    assert!(element_text(&dom, "id=\"verdict\"", "</p>").contains("CONFORMS"), "{dom}");
    assert!(element_text(&dom, "id=\"coverage-lists\"", "</dl>").contains("no credentials"), "{dom}");

    let o =
        common::batchconf().args(["run", "--report-html"]).arg(dir.path().join("missing-dir/x.html")).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("missing-dir/x.html") && !text(&o).contains("running"), "{}", text(&o));
}

/// This binary again, with a `PATH` that has no browser: the browser trials are ignored (and the
/// run passes) unless `REQUIRE_CHROMIUM=1`, when they fail saying how to install one.
fn without_a_browser_the_browser_trials_are_ignored_unless_required() {
    let empty = tempfile::tempdir().unwrap();
    let me = std::env::current_exe().unwrap();
    let run = |required: bool| {
        let mut c = Command::new(&me);
        c.arg("browser::").env("PATH", empty.path()).env_remove(REQUIRED);
        if required {
            c.env(REQUIRED, "1");
        }
        c.output().unwrap()
    };
    let o = run(false);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("2 ignored") && out.contains("0 passed"), "the browser trials are ignored, not passed: {out}");
    let o = run(true);
    let out = text(&o);
    assert_ne!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("2 failed") && out.contains("apt-get install chromium"), "{out}");
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let required = std::env::var(REQUIRED).is_ok_and(|v| v == "1");
    let ignored = find_chromium().is_none() && !required;
    let trial = |name: &str, f: fn()| {
        libtest_mimic::Trial::test(name, move || {
            std::panic::catch_unwind(f).map_err(|e| {
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                libtest_mimic::Failed::from(why)
            })
        })
    };
    let browser = [
        (
            "browser::the-page-renders-with-verdict-coverage-and-divergence",
            the_page_renders_in_a_browser_with_verdict_coverage_and_divergence as fn(),
        ),
        (
            "browser::a-conforming-run-says-so-and-a-bad-path-fails-early",
            a_conforming_run_says_so_and_a_bad_path_fails_before_anything_is_sent,
        ),
    ];
    if ignored {
        eprintln!(
            "html_report: no browser ({}) on PATH: the browser trials are ignored; `{REQUIRED}=1` makes that a failure",
            BROWSERS.join(", ")
        );
    }
    let mut trials: Vec<_> = browser.into_iter().map(|(name, f)| trial(name, f).with_ignored_flag(ignored)).collect();
    trials.push(trial(
        "without-a-browser-the-browser-trials-are-ignored-unless-required",
        without_a_browser_the_browser_trials_are_ignored_unless_required,
    ));
    libtest_mimic::run(&args, trials).exit();
}

//! `--report-html`: the page is rendered by a real headless Chromium, and what the browser made
//! of it (its DOM) must show the verdict, the coverage grid and a divergence with its request,
//! response and `curl` line. A page that is only written, or that a browser would not parse the
//! way it was meant, fails here.
//!
//! Chromium is Debian's `chromium` package; `.ci/run` installs it. Without it this test fails and
//! says how to install it: it is never skipped silently.

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

fn chromium() -> String {
    for candidate in ["chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"] {
        if Command::new(candidate).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return candidate.to_string();
        }
    }
    panic!(
        "this test renders the HTML report in a headless Chromium, and none was found; \
         install it with `sudo apt-get install chromium` (Debian/Ubuntu; `.ci/run` does this)"
    );
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

#[test]
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

#[test]
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

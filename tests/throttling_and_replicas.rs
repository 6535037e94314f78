//! The platform around the service, rehearsed: the whole suite, run by the binary against
//! `batchconf serve` with each conformant platform variant (a gateway rate limit, `Retry-After`
//! shedding, a lookup replica 300 ms behind, all-or-nothing batches), passes with a token and
//! with AK/SK. One trial per variant and credential kind; they run side by side.

mod common;

use common::{batchconf, text, Serve};

const TOKEN: &str = "platform-token";
const AK: &str = "PLATFORMAK0123456789";
const SK: &str = "platform-secret-key-0123456789";

/// Enough fixture assets for every trial of the built-in cases.
fn fixtures() -> String {
    (0..60).map(|i| format!("pf{i}")).collect::<Vec<_>>().join(",")
}

/// Runs the whole suite against `serve --variant VARIANT`, authenticating the way `creds` says.
/// The gateway's limit is 200/s here: low enough that even a debug build meets it for seconds.
fn whole_suite(variant: &str, creds: &[&str]) -> String {
    let fixtures = fixtures();
    let mut args = vec!["--ak", AK, "--sk", SK, "--fixtures", &fixtures, "--variant", variant];
    if variant == "rate-limit" {
        args.extend(["--rate-limit", "200/s"]);
    }
    let server = Serve::start(TOKEN, &args);
    let out = batchconf()
        .args(["run", "--target", &server.url, "--project-id", "p1", "--fixture-assets", &fixtures, "--seed", "7"])
        .args(creds)
        .output()
        .unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "against --variant {variant}:\n{shown}");
    shown
}

fn with_token(variant: &str) -> String {
    whole_suite(variant, &["--token", TOKEN])
}

fn with_aksk(variant: &str) -> String {
    whole_suite(variant, &["--ak", AK, "--sk", SK])
}

/// The summary says the target throttled, how often, and the rate it allowed.
fn says_throttled(shown: &str) {
    let line = shown.lines().find(|l| l.starts_with("throttled: ")).unwrap_or_else(|| panic!("{shown}"));
    assert!(line.contains("answer(s) were 429") && line.contains("the target allowed about"), "{line}");
}

#[test]
fn a_gateway_rate_limit_with_a_token() {
    says_throttled(&with_token("rate-limit"));
}

#[test]
fn a_gateway_rate_limit_with_aksk() {
    says_throttled(&with_aksk("rate-limit"));
}

#[test]
fn retry_after_shedding_with_a_token() {
    let shown = with_token("throttle-retry-after");
    assert!(shown.contains("throttled: "), "{shown}");
}

#[test]
fn retry_after_shedding_with_aksk() {
    let shown = with_aksk("throttle-retry-after");
    assert!(shown.contains("throttled: "), "{shown}");
}

#[test]
fn a_lagging_lookup_with_a_token() {
    with_token("lagging-lookup");
}

#[test]
fn a_lagging_lookup_with_aksk() {
    with_aksk("lagging-lookup");
}

#[test]
fn atomic_batches_with_a_token() {
    with_token("atomic-batches");
}

#[test]
fn atomic_batches_with_aksk() {
    with_aksk("atomic-batches");
}

/// The grace is what tolerates the lag: with less than the replica's 300 ms, the same run fails.
#[test]
fn a_settle_shorter_than_the_lag_is_not_enough() {
    let fixtures = fixtures();
    let server = Serve::start(TOKEN, &["--fixtures", &fixtures, "--variant", "lagging-lookup"]);
    let out = batchconf()
        .args(["run", "--target", &server.url, "--project-id", "p1", "--fixture-assets", &fixtures])
        .args(["--token", TOKEN, "--settle-ms", "50", "stateful::"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

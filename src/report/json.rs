//! The JSON report (`--report-json`): every divergence with its minimal request, response, seed
//! and check, in a documented, versioned format that `batchconf replay` reads back.
//!
//! Credentials are never in it: requests are stored without `Authorization`, `X-Sdk-Date` and
//! `X-Auth-Token` (a replay authenticates afresh, the same way: see `auth`), and the whole text
//! is redacted of the run's secrets before it is written.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::coverage::{Coverage, CoverageData};
use super::trials::Trials;
use crate::checks::{Expect, Violation};
use crate::error::SetupError;
use crate::events::{Event, Reporter, RunEnd, TrialEnd};
use crate::exchange::{Exchange, Request};
use crate::generate::AuthMode;

/// The value of `format`; bumped on any incompatible change.
pub const FORMAT: &str = "batchconf-report/1";

pub use crate::protocol::CREDENTIAL_HEADERS;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JsonReport {
    pub format: String,
    #[serde(with = "seed_text")]
    pub seed: u64,
    /// The base URL tested, or `bundled` for the in-process reference server.
    pub target: String,
    pub project_id: String,
    pub passed: usize,
    pub failed: usize,
    /// Why the run stopped early (the target cannot be tested), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The signal that interrupted the run (`SIGINT (Ctrl-C)`, `SIGTERM`), if one did: the report
    /// holds what was found until then; `not_run` lists the trials cut short or never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// Why the run had its verdict before its end (every answer broken the same way), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_early: Option<String>,
    /// Trials that did not run to their end because the run stopped or was interrupted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
    /// What putting the fixtures back at the end of the run did (absent without fixtures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub put_back: Option<String>,
    /// Answers 429 (throttled), each retried and none judged.
    #[serde(default)]
    pub throttled_answers: u64,
    /// The rate the target let through once it throttled, in requests a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_rate: Option<f64>,
    pub skipped: Vec<Skipped>,
    /// Notes on the contract the target's answers bore out (where the page and the platform
    /// differ): not divergences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contract_notes: Vec<String>,
    pub divergences: Vec<Entry>,
    /// What the run exercised (see [`super::coverage`]); absent in reports written without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageData>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    pub trial: String,
    pub reason: String,
}

/// One divergence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub trial: String,
    /// The checks that failed, in report order.
    pub checks: Vec<String>,
    pub violations: Vec<Violation>,
    #[serde(with = "seed_text")]
    pub seed: u64,
    /// How the request authenticated (`valid`, `missing`, `wrong-token`, …).
    pub auth: AuthMode,
    /// What the case expected beyond the contract's own rules.
    pub expect: Expect,
    /// The minimal request (credentials removed) and what it got.
    pub exchange: Exchange,
    /// For sequences: the steps before the failing one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// For sequences: every request the failure depends on, in the order sent, before
    /// `exchange`'s (credentials removed; all were sent with valid ones). `replay` sends them
    /// first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub script: Vec<Request>,
    /// `script`'s batches were sent at once (concurrent batches): `replay` cannot send them so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_once: bool,
    /// The reproduction: a script of `curl` lines (for a sequence, one per step, in order).
    pub curl: String,
}

impl Entry {
    /// The exchange as stored: credentials removed from the request.
    pub fn strip_credentials(mut exchange: Exchange) -> Exchange {
        exchange.request = Entry::strip_request(exchange.request);
        exchange
    }

    /// A request as stored: credentials removed.
    pub fn strip_request(mut request: Request) -> Request {
        for h in CREDENTIAL_HEADERS {
            request.headers.remove(h);
        }
        request
    }
}

/// `--report-json FILE`: writes the report when the run ends.
pub struct Json {
    path: std::path::PathBuf,
    /// `bundled`, or the base URL tested.
    target: String,
    project_id: String,
    trials: Trials,
    coverage: Option<Coverage>,
}

impl Json {
    /// Fails at once, before anything is sent, if the file cannot be written.
    pub fn new(path: &Path, target: &str, project_id: &str) -> Result<Json, SetupError> {
        super::check_writable(path)?;
        Ok(Json {
            path: path.to_path_buf(),
            target: target.to_string(),
            project_id: project_id.to_string(),
            trials: Trials::default(),
            coverage: None,
        })
    }

    /// The report also carries what the run exercised (a handle the hub feeds elsewhere).
    pub fn with_coverage(mut self, coverage: Coverage) -> Json {
        self.coverage = Some(coverage);
        self
    }

    pub fn report(&self, end: &RunEnd) -> JsonReport {
        let counts = self.trials.counts();
        JsonReport {
            format: FORMAT.into(),
            seed: end.seed,
            target: self.target.clone(),
            project_id: self.project_id.clone(),
            passed: counts.passed,
            failed: counts.failed,
            stopped: end.stopped.clone(),
            interrupted: end.interrupted.clone(),
            ended_early: end.ended_early.clone(),
            contract_notes: end.contract_notes.clone(),
            put_back: end.put_back.clone(),
            not_run: self
                .trials
                .rows()
                .filter(|r| matches!(r.end, Some(TrialEnd::Stopped) | None))
                .map(|r| r.name.clone())
                .collect(),
            throttled_answers: end.throttling.answers,
            allowed_rate: end.throttling.allowed_rate,
            skipped: self
                .trials
                .rows()
                .filter_map(|r| match &r.end {
                    Some(TrialEnd::Skipped(reason)) => Some(Skipped { trial: r.name.clone(), reason: reason.clone() }),
                    _ => None,
                })
                .collect(),
            divergences: self
                .trials
                .divergences()
                .map(|d| {
                    let mut checks: Vec<String> = d.violations.iter().map(|v| v.check.clone()).collect();
                    checks.dedup();
                    Entry {
                        trial: d.trial.clone(),
                        checks,
                        violations: d.violations.clone(),
                        seed: d.seed,
                        auth: d.auth,
                        expect: d.expect.clone(),
                        exchange: Entry::strip_credentials(d.exchange.clone()),
                        steps: d.steps.clone(),
                        script: d.script.iter().map(|r| Entry::strip_request(r.clone())).collect(),
                        at_once: d.at_once,
                        curl: end.context.reproduce_divergence(d),
                    }
                })
                .collect(),
            coverage: self.coverage.as_ref().map(Coverage::data),
        }
    }
}

impl Reporter for Json {
    fn on(&mut self, event: &Event) {
        self.trials.on(event);
    }

    fn finish(&mut self, end: &RunEnd) -> Result<(), SetupError> {
        let secrets: Vec<&str> = end.context.secrets.iter().map(String::as_str).collect();
        write(&self.path, &self.report(end), &secrets)
    }
}

pub fn write(path: &Path, report: &JsonReport, secrets: &[&str]) -> Result<(), SetupError> {
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| SetupError::Input { file: path.display().to_string(), reason: e.to_string() })?;
    let text = super::redact::redact_text(&text, secrets);
    std::fs::write(path, text + "\n").map_err(|e| SetupError::Input {
        file: path.display().to_string(),
        reason: format!("cannot write the report: {e}"),
    })
}

pub fn read(path: &Path) -> Result<JsonReport, SetupError> {
    let err = |reason: String| SetupError::Input { file: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    parse(&text).map_err(err)
}

/// A report from its text, or what is wrong with it and where (a JSON pointer).
pub fn parse(text: &str) -> Result<JsonReport, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| crate::error::not_json(&e))?;
    let wanted = format!("this batchconf reads `{FORMAT}` (a report written by `batchconf run --report-json`)");
    match value.get("format") {
        Some(serde_json::Value::String(f)) if f == FORMAT => {}
        Some(serde_json::Value::String(f)) => return Err(format!("`format` is `{f}`; {wanted}")),
        Some(_) => return Err(format!("`format` is not a string; {wanted}")),
        None => return Err(format!("`format` is missing; {wanted}")),
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at: String =
            e.path().iter().map(|s| format!("/{}", s.to_string().replace('~', "~0").replace('/', "~1"))).collect();
        format!("not a batchconf report: at `{}`: {}", if at.is_empty() { "/" } else { &at }, e.into_inner())
    })
}

/// Seeds are written as strings, because jq and JavaScript read JSON numbers above 2^53 rounded
/// (and a rounded seed replays other requests); they are read as strings or numbers, so reports
/// written before stay readable.
mod seed_text {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(seed: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(seed)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let not_a_seed = |seen: &dyn std::fmt::Display| {
            D::Error::custom(format!("{seen} is not a seed (a whole number from 0 to {}, as a string)", u64::MAX))
        };
        match Value::deserialize(d)? {
            Value::String(s) => s.parse().map_err(|_| not_a_seed(&format!("`{s}`"))),
            Value::Number(n) => n.as_u64().ok_or_else(|| not_a_seed(&n)),
            other => Err(not_a_seed(&crate::contract::json_kind(&other))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(seed: u64) -> JsonReport {
        JsonReport {
            format: FORMAT.into(),
            seed,
            target: "bundled".into(),
            project_id: "p".into(),
            passed: 1,
            failed: 0,
            stopped: None,
            interrupted: None,
            ended_early: None,
            put_back: None,
            not_run: vec![],
            throttled_answers: 0,
            allowed_rate: None,
            skipped: vec![],
            contract_notes: vec![],
            divergences: vec![],
            coverage: None,
        }
    }

    #[test]
    fn seeds_are_written_as_strings_and_read_as_strings_or_numbers() {
        let big = u64::MAX - 1; // above 2^53: a JSON number would be rounded by jq
        let text = serde_json::to_string(&report(big)).unwrap();
        assert!(text.contains(&format!(r#""seed":"{big}""#)), "{text}");
        assert_eq!(parse(&text).unwrap(), report(big));

        let old = text.replace(&format!(r#""{big}""#), &big.to_string());
        assert_eq!(parse(&old).unwrap(), report(big), "a report with a numeric seed still reads");
    }

    #[test]
    fn broken_reports_say_what_and_where_in_json_terms() {
        let text = serde_json::to_string(&report(7)).unwrap();
        let e = parse(&text.replace(r#""seed":"7""#, r#""seed":"seven""#)).unwrap_err();
        assert!(e.starts_with("not a batchconf report: at `/seed`: `seven` is not a seed"), "{e}");
        let e = parse(&text.replace(r#""seed":"7""#, r#""seed":-7"#)).unwrap_err();
        assert!(e.contains("at `/seed`: -7 is not a seed"), "{e}");
        let e = parse(&text.replace(r#""seed":"7""#, r#""seed":null"#)).unwrap_err();
        assert!(e.contains("at `/seed`: null is not a seed"), "{e}");
        let e = parse(r#"{"seed": 1}"#).unwrap_err();
        assert!(e.starts_with("`format` is missing;") && !e.contains("None"), "{e}");
        let e = parse(r#"{"format": "other/9"}"#).unwrap_err();
        assert!(e.starts_with("`format` is `other/9`;") && !e.contains("Some"), "{e}");
        let e = parse("{\n\"format\": }").unwrap_err();
        assert_eq!(e, "not JSON: expected value (line 2, column 11)");
    }
}

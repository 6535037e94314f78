//! The JSON report (`--report-json`): every divergence with its minimal request, response, seed
//! and check, in a documented, versioned format that `batchconf replay` reads back.
//!
//! Credentials are never in it: requests are stored without `Authorization`, `X-Sdk-Date` and
//! `X-Auth-Token` (a replay authenticates afresh, the same way: see `auth`), and the whole text
//! is redacted of the run's secrets before it is written.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::trials::Trials;
use crate::checks::{Expect, Violation};
use crate::error::SetupError;
use crate::events::{Event, Reporter, RunEnd, TrialEnd};
use crate::exchange::Exchange;
use crate::generate::AuthMode;

/// The value of `format`; bumped on any incompatible change.
pub const FORMAT: &str = "batchconf-report/1";

/// Headers that carry credentials: never stored, re-made on replay.
pub const CREDENTIAL_HEADERS: &[&str] = &["Authorization", "X-Sdk-Date", "X-Auth-Token"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JsonReport {
    pub format: String,
    pub seed: u64,
    /// The base URL tested, or `bundled` for the in-process reference server.
    pub target: String,
    pub project_id: String,
    pub passed: usize,
    pub failed: usize,
    /// Why the run stopped early (the target cannot be tested), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub skipped: Vec<Skipped>,
    pub divergences: Vec<Entry>,
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
    pub curl: String,
}

impl Entry {
    /// The exchange as stored: credentials removed from the request.
    pub fn strip_credentials(mut exchange: Exchange) -> Exchange {
        for h in CREDENTIAL_HEADERS {
            exchange.request.headers.remove(h);
        }
        exchange
    }
}

/// `--report-json FILE`: writes the report when the run ends.
pub struct Json {
    path: std::path::PathBuf,
    /// `bundled`, or the base URL tested.
    target: String,
    project_id: String,
    trials: Trials,
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
        })
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
                        curl: end.context.reproduce(&d.exchange.request, d.auth),
                    }
                })
                .collect(),
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
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| err(format!("not JSON: {e} (line {}, column {})", e.line(), e.column())))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        other => return Err(err(format!("`format` is {other:?}; this batchconf reads `{FORMAT}` (a report written by `batchconf run --report-json`)"))),
    }
    serde_json::from_value(value).map_err(|e| err(format!("not a batchconf report: {e}")))
}

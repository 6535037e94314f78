//! The JSON report (`--report-json`): every divergence with its minimal request, response, seed
//! and check, in a documented, versioned format that `batchconf replay` reads back.
//!
//! Credentials are never in it: requests are stored without `Authorization`, `X-Sdk-Date` and
//! `X-Auth-Token` (a replay authenticates afresh, the same way: see `auth`), and the whole text
//! is redacted of the run's secrets before it is written.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checks::{Expect, Violation};
use crate::error::SetupError;
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

//! JUnit XML (`--junit`): one test case per trial, failures carrying the full rendered report,
//! skipped trials with their reason. What CI systems render.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::trials::Trials;
use crate::error::SetupError;
use crate::events::{Event, Reporter, RunEnd, TrialEnd};

/// `--junit FILE`: writes the report when the run ends.
pub struct Junit {
    path: std::path::PathBuf,
    trials: Trials,
}

impl Junit {
    /// Fails at once, before anything is sent, if the file cannot be written.
    pub fn new(path: &Path) -> Result<Junit, SetupError> {
        super::check_writable(path)?;
        Ok(Junit { path: path.to_path_buf(), trials: Trials::default() })
    }
}

impl Reporter for Junit {
    fn on(&mut self, event: &Event) {
        self.trials.on(event);
    }

    fn finish(&mut self, end: &RunEnd) -> Result<(), SetupError> {
        let records: Vec<TrialRecord> = self
            .trials
            .rows()
            .map(|row| {
                let outcome = match &row.end {
                    Some(TrialEnd::Passed) => TrialOutcome::Passed,
                    Some(TrialEnd::Diverged(_)) => TrialOutcome::Diverged {
                        check: row
                            .divergences()
                            .first()
                            .and_then(|d| d.violations.first())
                            .map(|v| v.check.clone())
                            .unwrap_or_default(),
                        text: row
                            .divergences()
                            .iter()
                            .map(|d| end.context.divergence(d))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    },
                    Some(TrialEnd::Failed(why)) => TrialOutcome::Error(why.clone()),
                    Some(TrialEnd::Skipped(why)) => TrialOutcome::Skipped(why.clone()),
                    Some(TrialEnd::Stopped) | None => TrialOutcome::Error(match (&end.interrupted, &end.ended_early) {
                        (Some(signal), _) => format!("not run: the run was interrupted by {signal}"),
                        (None, Some(why)) => format!("not run: the run had its verdict: {why}"),
                        (None, None) => format!(
                            "not run: the target cannot be tested: {}",
                            end.stopped.as_deref().unwrap_or("the run stopped")
                        ),
                    }),
                };
                TrialRecord { name: row.name.clone(), kind: row.kind.to_string(), outcome, time: row.elapsed }
            })
            .collect();
        let secrets: Vec<&str> = end.context.secrets.iter().map(String::as_str).collect();
        write(&self.path, &records, &secrets)
    }
}

/// How one trial ended.
#[derive(Debug, Clone)]
pub struct TrialRecord {
    pub name: String,
    /// `property`, `negative`, … (one JUnit test suite each).
    pub kind: String,
    pub outcome: TrialOutcome,
    pub time: Duration,
}

#[derive(Debug, Clone)]
pub enum TrialOutcome {
    Passed,
    /// The rendered divergences, and the first check that failed (the JUnit failure type).
    Diverged {
        check: String,
        text: String,
    },
    /// The trial could not run (the target broke off, a generator failed, …).
    Error(String),
    Skipped(String),
}

pub fn to_xml(records: &[TrialRecord]) -> Result<String, String> {
    let mut report = Report::new("batchconf");
    let mut kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        let mut suite = TestSuite::new(kind);
        for r in records.iter().filter(|r| r.kind == kind) {
            let status = match &r.outcome {
                TrialOutcome::Passed => TestCaseStatus::success(),
                TrialOutcome::Diverged { check, text } => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!("diverges from the contract: {check}"))
                        .set_type(check.as_str())
                        .set_description(text.as_str());
                    s
                }
                TrialOutcome::Error(e) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(e.as_str());
                    s
                }
                TrialOutcome::Skipped(reason) => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(reason.as_str());
                    s
                }
            };
            let mut case = TestCase::new(r.name.as_str(), status);
            case.set_classname(format!("batchconf.{kind}")).set_time(r.time);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().map_err(|e| e.to_string())
}

pub fn write(path: &Path, records: &[TrialRecord], secrets: &[&str]) -> Result<(), SetupError> {
    let err = |reason: String| SetupError::Input { file: path.display().to_string(), reason };
    let xml = to_xml(records).map_err(&err)?;
    std::fs::write(path, super::redact::redact_text(&xml, secrets))
        .map_err(|e| err(format!("cannot write the JUnit report: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_has_one_case_per_trial() {
        let rec = |name: &str, outcome| TrialRecord {
            name: name.into(),
            kind: "property".into(),
            outcome,
            time: Duration::from_millis(5),
        };
        let xml = to_xml(&[
            rec("property::a", TrialOutcome::Passed),
            rec(
                "property::b",
                TrialOutcome::Diverged {
                    check: "response_schema".into(),
                    text: "1. response_schema at <x> & y".into(),
                },
            ),
            rec("property::c", TrialOutcome::Skipped("needs fixtures".into())),
        ])
        .unwrap();
        assert_eq!(xml.matches("<testcase").count(), 3, "{xml}");
        assert!(xml.contains("<failure") && xml.contains("&lt;x&gt; &amp; y") && xml.contains("<skipped"), "{xml}");
    }
}

//! JUnit XML (`--junit`): one test case per trial, failures carrying the full rendered report,
//! skipped trials with their reason. What CI systems render.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::error::SetupError;

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

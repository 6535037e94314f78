//! The HTML report (`--report-html`): one self-contained page for people who would rather look
//! than read a log: the verdict, the summary per check, the coverage grid, and every divergence
//! with its request, response and `curl` line.
//!
//! Self-contained means it opens from a mail attachment or a CI artifact with no network: the
//! style is inline and there is no script. Every text from the run is escaped, and masked of the
//! run's secrets (through [`super::render::Context`]) before it is escaped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::coverage::{Coverage, CoverageData};
use super::redact::redact_headers;
use super::render::MAX_BODY_CHARS;
use super::trials::Trials;
use crate::error::SetupError;
use crate::events::{Event, Reporter, RunEnd};
use crate::exchange::{Headers, Outcome};

/// `--report-html FILE`: writes the page when the run ends.
pub struct Html {
    path: PathBuf,
    /// `bundled`, or the base URL tested.
    target: String,
    /// The contract's lifecycle states: the grid's columns, in the contract's order.
    states: Vec<String>,
    trials: Trials,
    coverage: Option<Coverage>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}\
h1{margin-bottom:.2em}.verdict{font-size:1.4em;font-weight:bold;padding:.4em .8em;display:inline-block;border-radius:4px}\
.conforms{background:#d7f5dc;color:#0a5a1c}.diverges{background:#fbdada;color:#8a1010}.untestable{background:#fde9c4;color:#7a4a00}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#f0f0f0}td.ok{color:#0a5a1c}td.bad{color:#8a1010;font-weight:bold}td.empty{background:#fafafa}\
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\
section.divergence{border-left:4px solid #c33;padding-left:1em;margin:1.5em 0}dt{font-weight:bold}";

impl Html {
    /// Fails at once, before anything is sent, if the file cannot be written.
    pub fn new(path: &Path, target: &str, contract: &crate::contract::Contract) -> Result<Html, SetupError> {
        super::check_writable(path)?;
        Ok(Html {
            path: path.to_path_buf(),
            target: target.to_string(),
            states: contract.manifest.lifecycle.as_ref().map(|l| l.states.clone()).unwrap_or_default(),
            trials: Trials::default(),
            coverage: None,
        })
    }

    /// The page also shows what the run exercised (a handle the hub feeds elsewhere).
    pub fn with_coverage(mut self, coverage: Coverage) -> Html {
        self.coverage = Some(coverage);
        self
    }

    /// The whole page.
    pub fn page(&self, end: &RunEnd) -> String {
        let e = |text: &str| escape(&end.context.redact(text));
        let c = self.trials.counts();
        let (class, verdict) = match (&end.stopped, &end.interrupted) {
            (_, Some(signal)) => (
                "untestable",
                format!(
                    "INTERRUPTED by {signal}: {} trial(s) failed before it, {} not run; only what ran is judged",
                    c.failed, c.stopped
                ),
            ),
            (Some(why), None) => ("untestable", format!("CANNOT BE TESTED: {why}")),
            (None, None) if c.failed > 0 => match &end.ended_early {
                Some(why) => ("diverges", format!("DIVERGES: {} trial(s) failed, then the run ended: {why}", c.failed)),
                None => ("diverges", format!("DIVERGES: {} trial(s) failed", c.failed)),
            },
            (None, None) => ("conforms", "CONFORMS: no divergence found".to_string()),
        };
        let mut out = String::new();
        out.push_str(&format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>batchconf: {}</title><style>{STYLE}</style></head><body>\n",
            e(&verdict)
        ));
        out.push_str("<h1>batchconf report</h1>\n");
        out.push_str(&format!("<p id=\"verdict\" class=\"verdict {class}\">{}</p>\n", e(&verdict)));
        out.push_str(&format!(
            "<p>Target: <code>{}</code>. Seed: <code>{}</code> (the same requests again: <code>--seed {}</code>). \
             {} passed, {} failed, {} skipped{}. Requests sent: {}{}. Finished in {:.2}s.</p>\n",
            e(&self.target),
            end.seed,
            end.seed,
            c.passed,
            c.failed,
            c.skipped,
            match (c.stopped, &end.interrupted) {
                (0, _) => String::new(),
                (n, Some(_)) => format!(", {n} not run (interrupted)"),
                (n, None) => format!(", {n} not run (the run stopped)"),
            },
            end.sent,
            if end.throttled > 0 { format!(" ({} throttled, not judged)", end.throttled) } else { String::new() },
            end.elapsed.as_secs_f64()
        ));

        if !end.contract_notes.is_empty() {
            out.push_str("<h2>Notes on the contract</h2>\n<ul id=\"contract-notes\">\n");
            for note in &end.contract_notes {
                out.push_str(&format!("<li>{}</li>\n", e(note)));
            }
            out.push_str("</ul>\n");
        }

        if let Some(put_back) = &end.put_back {
            out.push_str(&format!("<p id=\"put-back\">{}</p>\n", e(put_back)));
        }
        out.push_str("<h2>Per check</h2>\n<table id=\"checks\"><tr><th>check</th><th>result</th></tr>\n");
        let per_check = self.trials.per_check();
        for check in crate::checks::CHECKS {
            match per_check.get(check.name) {
                None => out.push_str(&format!("<tr><td>{}</td><td class=\"ok\">ok</td></tr>\n", e(check.name))),
                Some(trials) => out.push_str(&format!(
                    "<tr><td>{}</td><td class=\"bad\">DIVERGES in {} trial(s): {}</td></tr>\n",
                    e(check.name),
                    trials.len(),
                    e(&trials.join(", "))
                )),
            }
        }
        out.push_str("</table>\n");

        if let Some(coverage) = &self.coverage {
            out.push_str(&coverage_html(&coverage.data(), &self.states, &e));
        }

        let not_run: Vec<String> = self
            .trials
            .rows()
            .filter_map(|r| {
                r.end.as_ref()?.reason().map(|(h, why)| format!("<li>{}: {h}: {}</li>", e(&r.name), e(why)))
            })
            .collect();
        if !not_run.is_empty() {
            out.push_str(&format!("<h2>Not run</h2>\n<ul>{}</ul>\n", not_run.concat()));
        }

        let divergences: Vec<_> = self.trials.divergences().collect();
        out.push_str(&format!("<h2>Divergences ({})</h2>\n", divergences.len()));
        if divergences.is_empty() {
            out.push_str("<p>None.</p>\n");
        }
        for d in divergences {
            out.push_str(&format!("<section class=\"divergence\"><h3>{}</h3>\n<dl>", e(&d.trial)));
            for v in &d.violations {
                out.push_str(&format!(
                    "<dt>{} at {}</dt><dd>expected: {}<br>seen: {}</dd>",
                    e(&v.check),
                    e(&v.location),
                    e(&v.expected),
                    e(&v.seen)
                ));
            }
            out.push_str("</dl>\n");
            if !d.steps.is_empty() {
                out.push_str(&format!("<p>Earlier steps:</p><pre>{}</pre>\n", e(&d.steps.join("\n"))));
            }
            let req = &d.exchange.request;
            let request = format!("{} {}\n{}{}", req.method, req.url, headers(&req.headers), body(&req.body));
            out.push_str(&format!("<h4>Request</h4><pre class=\"request\">{}</pre>\n", e(&request)));
            let response = match &d.exchange.outcome {
                Outcome::Response(r) => format!(
                    "{}\n{}{}",
                    r.status,
                    r.headers.as_ref().map(headers).unwrap_or_else(|| "(headers not recorded)\n".into()),
                    body(&r.body)
                ),
                Outcome::Transport { reason, .. } => format!("No response: {reason}"),
            };
            out.push_str(&format!("<h4>Response</h4><pre class=\"response\">{}</pre>\n", e(&response)));
            out.push_str(&format!(
                "<h4>Reproduce with</h4><pre class=\"curl\">{}</pre>\n</section>\n",
                e(&end.context.reproduce_divergence(d))
            ));
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn coverage_html(data: &CoverageData, states: &[String], e: &dyn Fn(&str) -> String) -> String {
    let mut out = String::from(
        "<h2>Coverage</h2>\n<p>Per action: the state the ids were in when it was sent (as far as the run saw it) \
         and the outcomes seen, per id.</p>\n<table id=\"coverage\"><tr><th>action</th>",
    );
    let cols = data.columns(states);
    for c in &cols {
        out.push_str(&format!("<th>{}</th>", e(c)));
    }
    out.push_str("</tr>\n");
    for action in data.actions.keys() {
        out.push_str(&format!("<tr><th>{}</th>", e(action)));
        for c in &cols {
            let cell = data.cell(action, c);
            let class = if cell.is_empty() { " class=\"empty\"" } else { "" };
            out.push_str(&format!("<td{class}>{}</td>", e(&cell)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n<dl id=\"coverage-lists\">");
    let counted = |m: &BTreeMap<String, u64>| {
        if m.is_empty() {
            "none".to_string()
        } else {
            m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
        }
    };
    let mut item = |name: &str, value: String| out.push_str(&format!("<dt>{name}</dt><dd>{}</dd>", e(&value)));
    if !data.actions_not_sent.is_empty() {
        item("Actions not sent", data.actions_not_sent.join(", "));
    }
    item("Negative rules", counted(&data.negative_rules));
    item("Auth", counted(&data.auth_variants));
    item("Ids and batches", counted(&data.id_kinds));
    item("Lookups", counted(&data.lookups));
    item("Statuses", counted(&data.statuses));
    item("Error codes", counted(&data.error_codes));
    if !data.not_exercised.is_empty() {
        let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
        for n in &data.not_exercised {
            *by_reason.entry(n.reason.as_str()).or_default() += 1;
        }
        let text: Vec<String> = by_reason.iter().map(|(r, n)| format!("{n} trial(s): {r}")).collect();
        item("Not exercised", text.join("; "));
    }
    out.push_str("</dl>\n");
    out
}

/// Headers one a line, credentials masked.
fn headers(h: &Headers) -> String {
    redact_headers(h).iter().map(|(n, v)| format!("{n}: {v}\n")).collect()
}

/// A body as text (pretty JSON where it is JSON), cut where it is long.
fn body(b: &[u8]) -> String {
    if b.is_empty() {
        return String::new();
    }
    let text = match serde_json::from_slice::<serde_json::Value>(b) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(b).to_string(),
    };
    let n = text.chars().count();
    if n > MAX_BODY_CHARS {
        let cut: String = text.chars().take(MAX_BODY_CHARS).collect();
        format!("\n{cut}\n… ({} more characters)", n - MAX_BODY_CHARS)
    } else {
        format!("\n{text}")
    }
}

/// Text as HTML: the five characters that could open markup are escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl Reporter for Html {
    fn on(&mut self, event: &Event) {
        self.trials.on(event);
    }

    fn finish(&mut self, end: &RunEnd) -> Result<(), SetupError> {
        std::fs::write(&self.path, self.page(end)).map_err(|e| SetupError::Input {
            file: self.path.display().to_string(),
            reason: format!("cannot write the report: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_run_text_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
    }
}

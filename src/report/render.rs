//! The one layout of a failure: what broke, the request, the response, and how to reproduce it.
//!
//! Every report (the terminal, `validate`, JUnit, JSON) shows a failure with [`render`], so a
//! reader learns one layout. The output depends only on its input: no clock, no colour, no
//! terminal width.

use serde_json::Value;

use super::redact::redact_headers;
use crate::checks::Violation;
use crate::exchange::{Exchange, Headers, Outcome, Request};
use crate::generate::AuthMode;

/// Bodies longer than this many characters are cut, with a note of how much was left out.
pub const MAX_BODY_CHARS: usize = 2000;

const INDENT: &str = "    ";

/// One failed exchange, with what is needed to understand and reproduce it.
pub struct Failure<'a> {
    /// What failed: `published-example.json#1`, or a runner trial name.
    pub title: String,
    pub violations: &'a [Violation],
    pub exchange: &'a Exchange,
    pub seed: Option<u64>,
    /// A line built by [`super::curl::curl_line`] (it may be several lines).
    pub reproduce: Option<String>,
    /// For sequences: the steps before the failing one, one line each.
    pub steps: &'a [String],
    /// How many smaller requests shrinking tried, and how many of them still failed this way.
    pub shrink: Option<(usize, usize)>,
}

/// The failure as text, ending with a newline. Header values that are credentials are masked;
/// values the caller knows to be secret are masked by [`super::redact::redact_text`] afterwards.
pub fn render(f: &Failure) -> String {
    let mut out = String::new();
    out.push_str(&f.title);
    out.push('\n');
    if !f.steps.is_empty() {
        out.push_str("\nEarlier steps:\n");
        for step in f.steps {
            out.push_str(&format!("{INDENT}{step}\n"));
        }
    }

    for (i, v) in f.violations.iter().enumerate() {
        let number = format!("{}. ", i + 1);
        let pad = " ".repeat(number.len());
        out.push('\n');
        out.push_str(&format!("{number}{} at {}\n", v.check, v.location));
        push_field(&mut out, &pad, "expected", &v.expected);
        push_field(&mut out, &pad, "seen", &v.seen);
    }

    let req = &f.exchange.request;
    out.push_str("\nRequest:\n");
    out.push_str(&format!("{INDENT}{} {}\n", req.method, req.url));
    push_headers(&mut out, &req.headers);
    push_body(&mut out, &req.body);

    match &f.exchange.outcome {
        Outcome::Response(resp) => {
            out.push_str("\nResponse:\n");
            out.push_str(&format!("{INDENT}{}\n", resp.status));
            match &resp.headers {
                Some(h) => push_headers(&mut out, h),
                None => out.push_str(&format!("{INDENT}(headers not recorded)\n")),
            }
            push_body(&mut out, &resp.body);
        }
        Outcome::Transport { reason, .. } => {
            out.push_str(&format!("\nNo response: {reason}\n"));
        }
    }

    if let Some(seed) = f.seed {
        out.push_str(&format!("\nSeed: {seed}\n"));
    }
    if let Some(line) = &f.reproduce {
        out.push_str("\nReproduce with:\n\n");
        push_indented(&mut out, INDENT, line);
    }
    if let Some((tried, kept)) = f.shrink {
        out.push_str(&format!(
            "\n(shrunk: {tried} smaller request(s) tried, {kept} still failed the same way; the smallest is shown)\n"
        ));
    }
    out
}

/// What every rendering of a run's divergences needs besides the divergence: the secrets to
/// mask, and for the bundled server how to get the same server back (its port dies with the run).
#[derive(Clone, Default)]
pub struct Context {
    pub secrets: Vec<String>,
    pub local: Option<LocalServer>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("secrets", &self.secrets.len()).field("local", &self.local).finish()
    }
}

/// The bundled server a run used: where it listened, and the `batchconf serve` flags that start
/// the same server (fault, variants, fixtures) on a fixed port.
#[derive(Debug, Clone)]
pub struct LocalServer {
    pub uri: String,
    pub serve_flags: String,
}

/// The port a reproduction starts `batchconf serve` on.
pub const REPRODUCE_PORT: u16 = 8080;

impl Context {
    /// The reproduction of a request sent with `auth`: a `curl` line, preceded for the bundled
    /// server by the lines that start the same server again.
    pub fn reproduce(&self, req: &Request, auth: AuthMode) -> String {
        self.reproduce_steps(&[], req, auth, false)
    }

    /// The reproduction of a divergence: every request it depends on, in order.
    pub fn reproduce_divergence(&self, d: &crate::engine::Divergence) -> String {
        self.reproduce_steps(&d.script, &d.exchange.request, d.auth, d.at_once)
    }

    /// A script that shows a failure again from scratch: for the bundled server the lines that
    /// start the same server again, then a `curl` line for each request of `before` (a
    /// sequence's earlier steps, sent with valid credentials) in order, and the last one for
    /// `req`, sent with `auth`. Runnable as it is by `sh`; credentials come from the reader's
    /// environment (`$BATCHCONF_TOKEN`), never from the report. `at_once`: the run sent the
    /// batches of `before` at once, which a script cannot (it says so).
    pub fn reproduce_steps(&self, before: &[Request], req: &Request, auth: AuthMode, at_once: bool) -> String {
        let mut lines: Vec<String> = Vec::new();
        let here = format!("http://127.0.0.1:{REPRODUCE_PORT}");
        let moved = |r: &Request| {
            let mut r = r.clone();
            if let Some(rest) = self.local.as_ref().and_then(|l| r.url.strip_prefix(l.uri.as_str())) {
                r.url = format!("{here}{rest}");
            }
            r
        };
        if let Some(local) = &self.local {
            lines.push("# the same server again (it stopped with the run):".into());
            lines.push(format!("export {var}=\"${{{var}:-bcf-local-token}}\"", var = super::curl::TOKEN_VAR));
            lines.push(format!(
                "batchconf serve --port {REPRODUCE_PORT} --token \"${}\"{} & sleep 1",
                super::curl::TOKEN_VAR,
                local.serve_flags
            ));
        }
        if !before.is_empty() {
            // A fresh bundled server has its fixtures in use; a target's are the user's own.
            let on = if self.local.is_some() {
                ""
            } else {
                ", on the fixtures in use (`ACTIVED`) as the run had them, which it changes as the run did"
            };
            let order = if at_once {
                "the batches the run sent at once, here one after another (which may not show what concurrency did), then the lookups"
            } else {
                "every step in order"
            };
            lines.push(format!("# {order} ({} requests){on}; the last shows the divergence:", before.len() + 1));
        }
        let curls = before.iter().map(|r| super::curl::curl_line(&moved(r), AuthMode::Valid));
        for curl in curls.chain(std::iter::once(super::curl::curl_line(&moved(req), auth))) {
            for line in curl.lines() {
                // A note (the request was signed, say) is said once, not before every step.
                if !(line.starts_with('#') && lines.iter().any(|l| l == line)) {
                    lines.push(line.to_string());
                }
            }
        }
        lines.join("\n")
    }

    /// A divergence of a run as people read it, everywhere it is shown (terminal, JUnit, JSON),
    /// with the run's secrets masked whatever they hide in.
    pub fn divergence(&self, d: &crate::engine::Divergence) -> String {
        let text = render(&Failure {
            title: d.trial.clone(),
            violations: &d.violations,
            exchange: &d.exchange,
            seed: Some(d.seed),
            reproduce: Some(self.reproduce_divergence(d)),
            steps: &d.steps,
            shrink: d.shrink,
        });
        self.redact(&text)
    }

    pub fn redact(&self, text: &str) -> String {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        super::redact::redact_text(text, &secrets)
    }
}

/// `expected: …` under a numbered violation; a value of several lines keeps them aligned.
fn push_field(out: &mut String, pad: &str, name: &str, value: &str) {
    let mut lines = value.lines();
    out.push_str(&format!("{pad}{name}: {}\n", lines.next().unwrap_or_default()));
    let cont = format!("{pad}{}", " ".repeat(name.len() + 2));
    for line in lines {
        out.push_str(&format!("{cont}{line}\n"));
    }
}

fn push_headers(out: &mut String, headers: &Headers) {
    for (name, value) in redact_headers(headers).iter() {
        out.push_str(&format!("{INDENT}{name}: {value}\n"));
    }
}

fn push_body(out: &mut String, body: &[u8]) {
    out.push('\n');
    if body.is_empty() {
        out.push_str(&format!("{INDENT}(empty body)\n"));
        return;
    }
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned()),
        Err(_) => match std::str::from_utf8(body) {
            Ok(text) => text.to_string(),
            Err(_) => {
                out.push_str(&format!(
                    "{INDENT}(not UTF-8: {} bytes, shown with U+FFFD for invalid bytes)\n",
                    body.len()
                ));
                String::from_utf8_lossy(body).into_owned()
            }
        },
    };
    let (shown, cut) = cut_chars(&text, MAX_BODY_CHARS);
    push_indented(out, INDENT, shown);
    if cut > 0 {
        out.push_str(&format!("{INDENT}… ({cut} more characters not shown)\n"));
    }
}

/// The first `max` characters of `text`, and how many were left out.
fn cut_chars(text: &str, max: usize) -> (&str, usize) {
    match text.char_indices().nth(max) {
        Some((end, _)) => (&text[..end], text[end..].chars().count()),
        None => (text, 0),
    }
}

fn push_indented(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!("{indent}{line}\n"));
        }
    }
    if text.lines().next().is_none() {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Request, Response};
    use crate::report::curl::curl_line;

    fn exchange() -> Exchange {
        Exchange::new(
            Request {
                method: "POST".into(),
                url: "http://127.0.0.1:8080/v1/p1/digital-assets/batch-action".into(),
                headers: Headers::from([
                    ("Content-Type", "application/json"),
                    ("X-Auth-Token", "MIIsecret"),
                    ("X-Batchconf-Case", "ordinary-batches"),
                ]),
                body: br#"{"action":"DELETE","asset_ids":["a","b"]}"#.to_vec(),
            },
            Response {
                status: 200,
                headers: Some(Headers::from([("Content-Type", "application/json")])),
                body: br#"{"results":[{"ret_status":"SUCCESS","asset_ids":["a"]}]}"#.to_vec(),
            },
        )
    }

    /// The failure titled `t` with only its violations and exchange: no seed, no reproduction.
    fn bare(violations: &[Violation], exchange: &Exchange) -> String {
        render(&Failure {
            title: "t".into(),
            violations,
            exchange,
            seed: None,
            reproduce: None,
            steps: &[],
            shrink: None,
        })
    }

    fn violations() -> Vec<Violation> {
        vec![
            Violation::new("required_headers", "response.headers.X-Request-Id", "present", "absent"),
            Violation::new(
                "batch_ids_answered",
                "response.body/results",
                "every requested id in one group",
                "[\"b\"] in none",
            ),
        ]
    }

    #[test]
    fn whole_transcript() {
        let x = exchange();
        let v = violations();
        let text = render(&Failure {
            title: "ordinary-batches/DELETE".into(),
            violations: &v,
            exchange: &x,
            seed: Some(42),
            reproduce: Some(curl_line(&x.request, crate::generate::AuthMode::Valid)),
            steps: &[],
            shrink: None,
        });
        let expected = r#"ordinary-batches/DELETE

1. required_headers at response.headers.X-Request-Id
   expected: present
   seen: absent

2. batch_ids_answered at response.body/results
   expected: every requested id in one group
   seen: ["b"] in none

Request:
    POST http://127.0.0.1:8080/v1/p1/digital-assets/batch-action
    Content-Type: application/json
    X-Auth-Token: ***
    X-Batchconf-Case: ordinary-batches

    {
      "action": "DELETE",
      "asset_ids": [
        "a",
        "b"
      ]
    }

Response:
    200
    Content-Type: application/json

    {
      "results": [
        {
          "ret_status": "SUCCESS",
          "asset_ids": [
            "a"
          ]
        }
      ]
    }

Seed: 42

Reproduce with:

    curl -sS -i -X POST 'http://127.0.0.1:8080/v1/p1/digital-assets/batch-action' -H 'Content-Type: application/json' -H 'X-Batchconf-Case: ordinary-batches' -H "X-Auth-Token: $BATCHCONF_TOKEN" --data-binary '{"action":"DELETE","asset_ids":["a","b"]}'
"#;
        assert_eq!(text, expected);
        assert!(!text.contains("MIIsecret"));
    }

    /// The layout of a run's divergence, everywhere it is shown: earlier steps, the violations,
    /// request and response, seed, how to get the bundled server back, and the shrink figures.
    /// Pinned by a committed transcript; secrets of the run are masked wherever they appear.
    #[test]
    fn a_divergence_of_a_run_reads_the_same_everywhere() {
        let mut x = exchange();
        x.request.url = "http://127.0.0.1:41279/v1/p1/digital-assets/batch-action".into();
        x.request.headers.insert("X-App-UserId", "user-with-secret-SK123456");
        let d = crate::engine::Divergence {
            trial: "sequence::restore-undoes-delete".into(),
            violations: violations(),
            exchange: x,
            seed: 7,
            steps: vec!["1. DELETE [\"f0\"] -> 200".into(), "2. look up \"f0\" -> \"DELETING\"".into()],
            script: vec![crate::exchange::Request {
                method: "POST".into(),
                url: "http://127.0.0.1:41279/v1/p1/digital-assets/batch-action".into(),
                headers: Headers(vec![("X-Batchconf-Case".into(), "sequence::restore-undoes-delete step 1".into())]),
                body: br#"{"action":"DELETE","asset_ids":["f0"]}"#.to_vec(),
            }],
            at_once: false,
            shrink: Some((12, 3)),
            auth: crate::generate::AuthMode::Valid,
            expect: crate::checks::Expect::Nothing,
        };
        let context = Context {
            secrets: vec!["SK123456".into()],
            local: Some(LocalServer {
                uri: "http://127.0.0.1:41279".into(),
                serve_flags: " --fixtures f0 --fault restore-does-nothing".into(),
            }),
        };
        let text = context.divergence(&d);
        let expected = include_str!("../../tests/data/render/divergence.txt");
        assert_eq!(text, expected, "the layout changed; if on purpose, update tests/data/render/divergence.txt");
    }

    #[test]
    fn transport_failure_and_unrecorded_headers() {
        let mut x = exchange();
        x.outcome = Outcome::Transport { reason: "connection reset by peer".into(), elapsed_ms: 3, silent: true };
        let v = [Violation::new("connection", "response", "an HTTP response", "connection reset by peer")];
        let text = bare(&v, &x);
        assert!(text.ends_with("\nNo response: connection reset by peer\n"), "{text}");
        assert!(!text.contains("Seed:") && !text.contains("Reproduce"));

        let mut x = exchange();
        x.outcome =
            Outcome::Response(Response { status: 502, headers: None, body: b"<html>\nbad gateway\n</html>".to_vec() });
        let text = bare(&v, &x);
        assert!(
            text.ends_with(
                "Response:\n    502\n    (headers not recorded)\n\n    <html>\n    bad gateway\n    </html>\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn multi_line_values_stay_aligned_and_numbers_widen() {
        let x = exchange();
        let v: Vec<Violation> = (0..10).map(|i| Violation::new("c", format!("l{i}"), "one\ntwo", "s")).collect();
        let text = bare(&v, &x);
        assert!(text.contains("\n1. c at l0\n   expected: one\n             two\n   seen: s\n"), "{text}");
        assert!(text.contains("\n10. c at l9\n    expected: one\n              two\n    seen: s\n"), "{text}");
    }

    #[test]
    fn long_bodies_are_cut_with_a_count_and_empty_ones_said() {
        let mut x = exchange();
        x.request.body = "é".repeat(MAX_BODY_CHARS + 5).into_bytes();
        x.outcome = Outcome::Response(Response { status: 204, headers: Some(Headers::default()), body: vec![] });
        let text = bare(&[], &x);
        assert!(text.contains(&format!("    {}\n    … (5 more characters not shown)\n", "é".repeat(MAX_BODY_CHARS))));
        assert!(text.ends_with("Response:\n    204\n\n    (empty body)\n"), "{text}");
    }

    #[test]
    fn bodies_that_are_not_utf8_are_shown_lossily() {
        let mut x = exchange();
        x.request.body = vec![0xff, b'a'];
        let text = bare(&[], &x);
        assert!(
            text.contains("    (not UTF-8: 2 bytes, shown with U+FFFD for invalid bytes)\n    \u{fffd}a\n"),
            "{text}"
        );
    }
}

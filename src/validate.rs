//! `batchconf validate`: judges recorded exchanges against the contract.
//!
//! Every file is read and parsed before anything is judged, so a typo in the last file does not
//! come after a page of verdicts on the others. Then every exchange is run through every check
//! with one [`RunState`] for the whole invocation (so `request_id_unique` compares across files),
//! and each divergent exchange is shown with [`render`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checks::{run_all, Context, Expect, RunState, Violation, CHECKS};
use crate::contract::{path_params, Contract};
use crate::error::{Error, SetupError, Verdict};
use crate::exchange::Request;
use crate::record::{self, Format, Recorded};
use crate::report::curl::curl_line;
use crate::report::redact::{is_secret_header, redact_text};
use crate::report::render::{render, Failure};

/// Judges every exchange of `files` against the contract of `schemas` (the shipped one by
/// default) and prints the transcript. Every file must be readable before anything is judged.
pub fn validate(files: &[PathBuf], schemas: Option<&Path>) -> Result<Verdict, Error> {
    let contract = match schemas {
        Some(dir) => Contract::load(dir)?,
        None => Contract::bundled()?,
    };
    let recordings = match read_all(files, &contract) {
        Ok(r) => r,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            return Err(SetupError::Argument(format!(
                "nothing was judged: every file must be readable first ({} could not be read)",
                plural(errors.len(), "file")
            ))
            .into());
        }
    };
    let judged = judge(&contract, &recordings);
    print!("{}", judged.transcript);
    Ok(if judged.diverging > 0 { Verdict::Diverges } else { Verdict::Conforms })
}

/// A file read: its exchanges of the operation (and lookups), and how many HAR entries were
/// calls of something else.
pub struct Recording {
    pub name: String,
    pub format: Format,
    pub exchanges: Vec<Recorded>,
    pub skipped: usize,
}

/// Reads every file; on failure, every file's error (not only the first).
pub fn read_all(files: &[PathBuf], contract: &Contract) -> Result<Vec<Recording>, Vec<SetupError>> {
    let mut read = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        match record::read_file(path).and_then(|(format, all)| select(path, format, all, contract)) {
            Ok(r) => read.push(r),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(read)
    } else {
        Err(errors)
    }
}

/// Keeps the exchanges to judge. A HAR file records everything a browser or proxy saw; its other
/// calls are skipped and counted. A HAR file with nothing to judge is an error: passing it would
/// be a green light for nothing.
fn select(path: &Path, format: Format, all: Vec<Recorded>, contract: &Contract) -> Result<Recording, SetupError> {
    let total = all.len();
    let exchanges: Vec<Recorded> =
        all.into_iter().filter(|r| !r.from_har || judged(&r.exchange.request, contract)).collect();
    if exchanges.is_empty() {
        let op = contract.operation();
        return Err(SetupError::Input {
            file: path.display().to_string(),
            reason: format!(
                "none of its {} is a call of `{} {}` (or of the lookup): nothing to judge",
                plural(total, "entry"),
                op.method,
                op.path
            ),
        });
    }
    Ok(Recording { name: path.display().to_string(), format, skipped: total - exchanges.len(), exchanges })
}

/// Is this recorded call one to judge? The operation itself; anything whose path ends like the
/// operation's (a wrong prefix is exactly what `request_path` exists to report); and the
/// single-asset lookup. Not CORS preflights, which the browser sends, not the client.
fn judged(req: &Request, contract: &Contract) -> bool {
    if req.method.eq_ignore_ascii_case("OPTIONS") && req.headers.get("access-control-request-method").is_some() {
        return false;
    }
    let path = req.path();
    let template = &contract.operation().path;
    if path_params(template, path).is_some() {
        return true;
    }
    // The fixed tail of the template after its last `{param}`: `/digital-assets/batch-action`.
    let tail = template.rfind('}').map(|i| &template[i + 1..]).unwrap_or(template);
    if !tail.is_empty() && path.trim_end_matches('/').ends_with(tail.trim_end_matches('/')) {
        return true;
    }
    contract
        .lookup
        .as_ref()
        .is_some_and(|l| req.method.eq_ignore_ascii_case(&l.method) && path_params(&l.path, path).is_some())
}

/// What judging produced: the text to print and the counts behind the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub transcript: String,
    pub exchanges: usize,
    pub diverging: usize,
}

/// Judges every exchange of every recording, in order, and writes the transcript.
pub fn judge(contract: &Contract, recordings: &[Recording]) -> Judged {
    let run = RunState::new(None);
    let mut out = String::new();
    let mut secrets: Vec<String> = Vec::new();
    // Check name to (violations, exchanges with at least one).
    let mut by_check: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut exchanges = 0;
    let mut diverging = 0;

    for r in recordings {
        out.push_str(&file_line(r));
    }
    for r in recordings {
        for recorded in &r.exchanges {
            exchanges += 1;
            let x = &recorded.exchange;
            secrets.extend(secret_values(x));
            let ctx = Context::new(contract, x, &Expect::Nothing, &run, &recorded.label);
            let violations: Vec<Violation> = run_all(&ctx, None);
            if violations.is_empty() {
                continue;
            }
            diverging += 1;
            for v in &violations {
                by_check.entry(v.check.clone()).or_default().0 += 1;
            }
            let mut distinct: Vec<&str> = violations.iter().map(|v| v.check.as_str()).collect();
            distinct.sort_unstable();
            distinct.dedup();
            for name in distinct {
                by_check.entry(name.to_string()).or_default().1 += 1;
            }
            out.push('\n');
            out.push_str(&"-".repeat(72));
            out.push('\n');
            out.push_str(&render(&Failure {
                title: recorded.label.clone(),
                violations: &violations,
                exchange: x,
                seed: None,
                reproduce: Some(reproduction(&x.request, contract)),
                steps: &[],
                shrink: None,
            }));
        }
    }

    if !by_check.is_empty() {
        out.push('\n');
        out.push_str(&"-".repeat(72));
        out.push_str("\nDivergences by check:\n");
        // In the catalogue's order, which is the order `batchconf list` shows.
        let mut ordered: Vec<(&String, &(usize, usize))> = by_check.iter().collect();
        ordered.sort_by_key(|(name, _)| CHECKS.iter().position(|c| c.name == name.as_str()).unwrap_or(usize::MAX));
        let width = ordered.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, (violations, in_exchanges)) in ordered {
            let (violations, in_exchanges) = (*violations, *in_exchanges);
            out.push_str(&format!(
                "    {name:<width$}  {} in {}\n",
                plural(violations, "violation"),
                plural(in_exchanges, "exchange")
            ));
        }
    }
    let skipped: usize = recordings.iter().map(|r| r.skipped).sum();
    let skipped = match skipped {
        0 => String::new(),
        n => format!(" ({} of other operations skipped)", plural(n, "HAR entry")),
    };
    out.push_str(&format!(
        "\n{}, {} conform, {} diverge{skipped}\n",
        plural(exchanges, "exchange"),
        exchanges - diverging,
        diverging
    ));

    // Header values are masked by name when rendered; a credential can also turn up elsewhere
    // (echoed in a body, in a query string), so every credential seen is masked everywhere.
    let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    Judged { transcript: redact_text(&out, &secret_refs), exchanges, diverging }
}

/// The curl line. A recording that kept no `Content-Type` (the published page prints none) gets
/// the contract's, because without one curl would send the body as a form, which is not the
/// request that was recorded.
fn reproduction(req: &Request, contract: &Contract) -> String {
    if req.body.is_empty() || req.headers.get("content-type").is_some() {
        return curl_line(req, recorded_auth(req));
    }
    let mut req = req.clone();
    req.headers.insert("Content-Type", contract.operation().request.content_type.clone());
    curl_line(&req, recorded_auth(&req))
}

/// A recorded request carried credentials (reproduced from `$BATCHCONF_TOKEN`), or none.
fn recorded_auth(req: &Request) -> crate::generate::AuthMode {
    use crate::protocol::{AUTH_HEADER, TOKEN_HEADER};
    if req.headers.get(TOKEN_HEADER).is_some() || req.headers.get(AUTH_HEADER).is_some() {
        crate::generate::AuthMode::Valid
    } else {
        crate::generate::AuthMode::Missing
    }
}

fn file_line(r: &Recording) -> String {
    let judged = r.exchanges.len();
    match r.format {
        Format::Json => format!("{}: {} (JSON exchange form)\n", r.name, plural(judged, "exchange")),
        Format::Har if r.skipped == 0 => format!("{}: {} (HAR)\n", r.name, plural(judged, "exchange")),
        Format::Har => format!(
            "{}: {} (HAR; {} of other operations skipped)\n",
            r.name,
            plural(judged, "exchange"),
            plural(r.skipped, "entry")
        ),
    }
}

/// The values of every credential header of an exchange; for `Authorization` also the part after
/// the scheme word (what the rendering masks) and each `Access=`/`Signature=` value in it, which
/// could be quoted elsewhere on their own.
fn secret_values(x: &crate::exchange::Exchange) -> Vec<String> {
    let mut headers: Vec<(&str, &str)> = x.request.headers.iter().collect();
    if let Some(h) = x.response().and_then(|r| r.headers.as_ref()) {
        headers.extend(h.iter());
    }
    let mut out = Vec::new();
    for (_, value) in headers.into_iter().filter(|(n, _)| is_secret_header(n)) {
        out.push(value.trim().to_string());
        if let Some((_, rest)) = value.trim().split_once(char::is_whitespace) {
            out.push(rest.trim().to_string());
            // `SignedHeaders=host` names headers, not a secret: masking `host` everywhere would
            // print `http://local***:8080`.
            out.extend(
                rest.split(',')
                    .filter_map(|part| part.split_once('='))
                    .filter(|(k, _)| matches!(k.trim(), "Access" | "Signature"))
                    .map(|(_, v)| v.trim().to_string()),
            );
        }
    }
    out
}

fn plural(n: usize, word: &str) -> String {
    match (n, word) {
        (1, _) => format!("1 {word}"),
        (_, w) if w.ends_with("entry") => format!("{n} {}entries", &w[..w.len() - "entry".len()]),
        _ => format!("{n} {word}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Exchange, Headers, Request, Response};
    use crate::record::Recorded;

    fn exchange(request_id: &str, token: &str) -> Exchange {
        Exchange::new(
            Request {
                method: "POST".into(),
                url: format!("https://h/v1/p/digital-assets/batch-action?echo={token}"),
                headers: Headers::from([("Content-Type", "application/json"), ("X-Auth-Token", token)]),
                body: br#"{"action":"DELETE","asset_ids":["a"]}"#.to_vec(),
            },
            Response {
                status: 200,
                headers: Some(Headers::from([("Content-Type", "application/json"), ("X-Request-Id", request_id)])),
                body: br#"{"results":[{"ret_status":"SUCCESS","asset_ids":["a"]}]}"#.to_vec(),
            },
        )
    }

    fn recording(name: &str, xs: Vec<Exchange>) -> Recording {
        let exchanges = xs.into_iter().enumerate().map(|(i, exchange)| Recorded {
            label: format!("{name}#{}", i + 1),
            exchange,
            from_har: false,
        });
        Recording { name: name.into(), format: Format::Json, exchanges: exchanges.collect(), skipped: 0 }
    }

    #[test]
    fn conforming_exchanges_give_a_short_transcript() {
        let c = Contract::bundled().unwrap();
        let v = judge(&c, &[recording("a.json", vec![exchange("r1", "tok-secret-1")])]);
        assert_eq!(v.transcript, "a.json: 1 exchange (JSON exchange form)\n\n1 exchange, 1 conform, 0 diverge\n");
        assert_eq!((v.exchanges, v.diverging), (1, 0));
    }

    #[test]
    fn request_ids_are_compared_across_files_and_tokens_masked_everywhere() {
        let c = Contract::bundled().unwrap();
        let v = judge(
            &c,
            &[
                recording("a.json", vec![exchange("same", "tok-secret-1")]),
                recording("b.json", vec![exchange("same", "tok-secret-2")]),
            ],
        );
        assert_eq!((v.exchanges, v.diverging), (2, 1));
        assert!(v.transcript.contains("\nb.json#1\n\n1. request_id_unique at response.headers.X-Request-Id\n"));
        assert!(v.transcript.contains("\"same\", already seen on a.json#1"), "{}", v.transcript);
        assert!(v.transcript.contains("    request_id_unique  1 violation in 1 exchange\n"), "{}", v.transcript);
        assert!(!v.transcript.contains("tok-secret"), "{}", v.transcript);
        assert!(v.transcript.contains("?echo=***"), "{}", v.transcript);
    }

    #[test]
    fn parts_of_a_signature_are_masked_wherever_they_appear() {
        let c = Contract::bundled().unwrap();
        let mut x = exchange("r1", "unused");
        x.request.headers.remove("x-auth-token");
        x.request.headers.insert(
            "Authorization",
            "SDK-HMAC-SHA256 Access=AKEXAMPLE1234, SignedHeaders=content-type, Signature=0badc0ffee",
        );
        x.request.url = "https://h/v1/digital-assets/batch-action?ak=AKEXAMPLE1234&sig=0badc0ffee".into();
        let v = judge(&c, &[recording("a.json", vec![x])]);
        assert_eq!(v.diverging, 1, "{}", v.transcript);
        assert!(!v.transcript.contains("AKEXAMPLE1234") && !v.transcript.contains("0badc0ffee"), "{}", v.transcript);
        assert!(v.transcript.contains("Authorization: SDK-HMAC-SHA256 ***"), "{}", v.transcript);
    }
}

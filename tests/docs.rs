//! The docs say what the code does. Every transcript in the README and `docs/` is today's output
//! of the command it names, and every table that lists something the code defines (checks,
//! faults, variants, negative rules, auth variants, `run`'s flags, the modules) lists exactly that.
//!
//! A transcript is a fenced block preceded by `<!-- transcript: ARGS -->`: the test runs
//! `batchconf ARGS` from the checkout and compares, after blurring what changes from run to run
//! (the bundled server's port, dates, durations).

mod common;

use std::path::{Path, PathBuf};

use batchconf::server::{FAULTS, VARIANTS};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// README.md, ARCHITECTURE.md and every `docs/*.md`, by path.
fn documents() -> Vec<(String, String)> {
    let mut out =
        vec![("README.md".to_string(), read("README.md")), ("ARCHITECTURE.md".into(), read("ARCHITECTURE.md"))];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    for p in docs {
        let rel = format!("docs/{}", p.file_name().unwrap().to_string_lossy());
        out.push((rel.clone(), read(&rel)));
    }
    out
}

/// Every `<!-- transcript: ARGS -->` and the fenced block after it.
fn transcripts(text: &str) -> Vec<(String, String)> {
    const MARK: &str = "<!-- transcript: ";
    let mut out = vec![];
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        let after = &rest[at + MARK.len()..];
        let end = after.find(" -->").expect("a transcript marker ends with ` -->`");
        let args = after[..end].to_string();
        let block = &after[end..];
        let open = block.find("```").expect("a fenced block follows a transcript marker");
        let body_start = open + block[open..].find('\n').unwrap() + 1;
        let close = body_start + block[body_start..].find("\n```").expect("the fenced block is closed");
        out.push((args, block[body_start..close + 1].to_string()));
        rest = &block[close..];
    }
    out
}

/// What changes from run to run, blurred. Port 8080 is the one a reproduction names: kept.
fn blur(text: &str) -> String {
    let port = regex::Regex::new(r"127\.0\.0\.1:(\d+)").unwrap();
    let out = port.replace_all(
        text,
        |c: &regex::Captures| {
            if &c[1] == "8080" {
                c[0].to_string()
            } else {
                "127.0.0.1:PORT".to_string()
            }
        },
    );
    let rules = [
        (r"X-Sdk-Date: \d{8}T\d{6}Z", "X-Sdk-Date: DATE"),
        (r"(?m)^(\s*)date: .*GMT$", "${1}date: DATE"),
        (r"finished in \d+\.\d+s", "finished in N s"),
        (r"(?m)^time: .* requests/s$", "time: T"),
    ];
    let mut out = out.to_string();
    for (pattern, with) in rules {
        out = regex::Regex::new(pattern).unwrap().replace_all(&out, with).to_string();
    }
    out
}

#[test]
fn every_transcript_is_todays_output() {
    let mut checked = 0;
    let mut wrong = vec![];
    for (file, text) in documents() {
        for (args, shown) in transcripts(&text) {
            let o = common::batchconf().args(args.split_whitespace()).current_dir(root()).output().unwrap();
            let real = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            if blur(&real) != blur(&shown) {
                wrong.push(format!(
                    "{file}: the transcript of `batchconf {args}` is not what it prints today:\n--- shown\n{shown}\n--- printed\n{real}"
                ));
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 3, "only {checked} transcript(s) found: the markers went missing");
    assert!(!transcripts(&read("README.md")).is_empty(), "the README shows a real failure");
}

#[test]
fn the_blur_keeps_what_matters() {
    assert_eq!(
        blur("http://127.0.0.1:41279/v1 and http://127.0.0.1:8080/v1"),
        "http://127.0.0.1:PORT/v1 and http://127.0.0.1:8080/v1"
    );
    assert_eq!(blur("    date: Sun, 29 Nov 2026 03:31:29 GMT"), "    date: DATE");
    assert_ne!(blur("seen: 1 requested id(s)"), blur("seen: 2 requested id(s)"));
}

/// The `serve` session in docs/serve.md: the lines it prints, what the two requests get, and its log.
#[test]
fn the_serve_transcript_is_todays_output() {
    use std::io::{BufRead, BufReader, Read};
    let docs = blur(&read("docs/serve.md"));
    let mut child = common::batchconf()
        .args(["serve", "--port", "0", "--fixtures", "a1,a2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // If `serve` printed fewer lines than expected, the reads below would wait forever: a watchdog
    // ends it after a while (the reads then see the end, and the assertions say what is missing).
    let (done, watch) = std::sync::mpsc::channel::<()>();
    let pid = child.id() as i32;
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(std::time::Duration::from_secs(30)).is_err() {
            // SAFETY: kill(2) on the child this test started and has not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    // The address on stdout (for scripts), then what it accepts on stderr, as a terminal shows them.
    let mut startup = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut startup).unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    for _ in 0..3 {
        err.read_line(&mut startup).unwrap();
    }
    let url = startup.lines().next().unwrap().rsplit(' ').next().unwrap().to_string();
    let shown = format!("$ batchconf serve --port 0 --fixtures a1,a2\n{}```", blur(&startup));
    assert!(docs.contains(&shown), "docs/serve.md does not show what `serve` prints:\n{startup}");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (batch, lookup) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let batch = client
            .post(format!("{url}/v1/p/digital-assets/batch-action"))
            .header("X-Auth-Token", "batchconf-token")
            .header("Content-Type", "application/json")
            .body(r#"{"action":"DELETE","asset_ids":["a1","nope"]}"#)
            .send()
            .await
            .unwrap();
        let batch = batch.text().await.unwrap();
        let lookup = client
            .get(format!("{url}/v1/p/digital-assets/a1"))
            .header("X-Auth-Token", "batchconf-token")
            .send()
            .await
            .unwrap();
        (batch, lookup.text().await.unwrap())
    });
    assert!(docs.contains(&format!("\n{batch}\n$ curl")), "docs/serve.md does not show the batch's answer:\n{batch}");
    assert!(docs.contains(&format!("\n{lookup}\n```")), "docs/serve.md does not show the lookup's answer:\n{lookup}");

    let _ = done.send(());
    let _ = watchdog.join();
    let _ = child.kill();
    let mut log = String::new();
    err.read_to_string(&mut log).unwrap();
    let _ = child.wait();
    let ms = regex::Regex::new(r"\(\d+ ms\)").unwrap();
    for line in log.lines().filter(|l| l.contains(" -> ")) {
        let line = ms.replace(line, "(0 ms)");
        assert!(docs.contains(&format!("\n{line}\n")), "docs/serve.md does not show the log line\n{line}");
    }
    assert_eq!(log.lines().filter(|l| l.contains(" -> ")).count(), 2, "{log}");
}

#[test]
fn the_check_table_is_the_catalogue() {
    let docs = read("docs/checks.md");
    for c in batchconf::checks::CHECKS {
        let row = format!("| `{}` | {} |", c.name, c.description);
        assert!(docs.contains(&row), "docs/checks.md lacks the row\n{row}");
    }
    let rows = docs.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(rows, batchconf::checks::CHECKS.len(), "docs/checks.md has a row for a check that does not exist");
}

#[test]
fn docs_list_every_fault_and_variant_as_the_code_does() {
    let docs = read("docs/serve.md");
    for f in FAULTS {
        let row = format!("| `{}` | {} | {} |", f.name, f.breaks, f.caught());
        assert!(docs.contains(&row), "docs/serve.md lacks the row\n{row}");
    }
    for v in VARIANTS {
        let row = format!("| `{}` | {} |", v.name, v.description);
        assert!(docs.contains(&row), "docs/serve.md lacks the row\n{row}");
    }
}

#[test]
fn the_case_format_names_every_rule_and_auth_variant() {
    let docs = read("docs/cases.md");
    let contract = batchconf::contract::Contract::bundled().unwrap();
    let rules = batchconf::generate::negative_rules(&contract).unwrap();
    for name in rules.iter().map(String::as_str).chain(batchconf::cases::auth_variants()) {
        assert!(docs.contains(&format!("`{name}`")), "docs/cases.md does not name `{name}`");
    }
    for kind in ["example", "property", "negative", "auth", "sequence"] {
        assert!(docs.contains(&format!("| `{kind}` |")), "docs/cases.md has no row for the kind `{kind}`");
    }
}

#[test]
fn every_flag_of_run_is_documented() {
    let help = common::batchconf().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let docs = read("docs/run.md");
    let flags: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| *w != "--help")
        .collect();
    assert!(flags.len() > 15, "{help}");
    for flag in flags {
        assert!(docs.contains(&format!("`{flag}")), "docs/run.md does not document `{flag}`");
    }
}

#[test]
fn the_architecture_names_every_module() {
    let arch = read("ARCHITECTURE.md");
    for entry in std::fs::read_dir(root().join("src")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let shown = if path.is_dir() { format!("`src/{name}/") } else { format!("`src/{name}`") };
        assert!(arch.contains(&shown), "ARCHITECTURE.md does not place {shown}`");
    }
}

#[test]
fn links_between_the_docs_resolve() {
    let link = regex::Regex::new(r"\]\(([^)#:]+)(#[^)]*)?\)").unwrap();
    for (file, text) in documents() {
        let dir = Path::new(&file).parent().unwrap_or(Path::new(""));
        for m in link.captures_iter(&text) {
            let target = root().join(dir).join(&m[1]);
            assert!(target.exists(), "{file} links to {} which does not exist", &m[1]);
        }
    }
}

/// `batchconf list` is read as tables: in each section every row's text starts in one column
/// (however long a name), and a case's description is cut only at the end of a sentence.
#[test]
fn list_rows_are_aligned_and_descriptions_whole() {
    let o = common::batchconf().arg("list").output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    for section in out.split("\n\n") {
        let rows: Vec<&str> = section.lines().skip(1).filter(|l| l.starts_with("  ")).collect();
        let column = |row: &str| {
            let name_end = 2 + row[2..].find(' ').unwrap_or(0);
            name_end + row[name_end..].find(|c: char| c != ' ').unwrap_or(0)
        };
        let columns: std::collections::BTreeSet<usize> =
            rows.iter().filter(|r| r[2..].contains(' ')).map(|r| column(r)).collect();
        assert!(columns.len() <= 1, "misaligned rows in:\n{section}");
    }
    let cases = out.split("\ncases (").nth(1).unwrap();
    for row in cases.lines().skip(1) {
        assert!(!row.ends_with("e.g") && !row.ends_with("i.e"), "cut mid-sentence: {row}");
    }
    assert!(out.contains("slow") && out.contains("caught by `response_time` with `--max-response-ms 300`"), "{out}");
}

/// The README's forms of `X-Batchconf-Case`, as regular expressions: `<trial>` a trial name,
/// `<n>` a number, `<what>` any words, and ` …` more words or none.
fn case_header_forms() -> Vec<regex::Regex> {
    let readme = read("README.md");
    let start = readme.find("<!-- case-header-forms").expect("the README lists the case header's forms");
    let end = readme.find("<!-- /case-header-forms -->").unwrap();
    readme[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("- `")?.split('`').next())
        .map(|form| {
            let pattern = regex::escape(form)
                .replace("<trial>", r"[a-z]+::[a-z0-9-]+(::[a-z0-9@._-]+)?")
                .replace("<n>", r"[0-9]+")
                .replace("<what>", r".+")
                .replace(" …", r"( .+)?");
            regex::Regex::new(&format!("^{pattern}$")).unwrap()
        })
        .collect()
}

/// Forwards one connection to `upstream`, keeping every `X-Batchconf-Case` value the client sent.
fn sniff(client: std::net::TcpStream, upstream: &str, seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let Ok(server) = std::net::TcpStream::connect(upstream) else { return };
    let (mut from_server, mut to_client) = (server.try_clone().unwrap(), client.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = from_server.read(&mut buf) {
            if n == 0 || to_client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(std::net::Shutdown::Both);
    });
    // Bytes are forwarded as they come; the header lines are read from a copy (a line may be
    // split across reads: the unfinished end is kept for the next).
    let (mut client, mut to_server, mut pending) = (client, server, Vec::new());
    let mut buf = [0u8; 16384];
    while let Ok(n) = client.read(&mut buf) {
        if n == 0 || to_server.write_all(&buf[..n]).is_err() {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            if let Some((name, value)) = text.split_once(':') {
                if name.eq_ignore_ascii_case("x-batchconf-case") {
                    seen.lock().unwrap().push(value.trim().to_string());
                }
            }
        }
        // A body without line breaks is no header: keep only what could start one.
        if pending.len() > 65536 {
            pending.clear();
        }
    }
    let _ = to_server.shutdown(std::net::Shutdown::Write);
}

/// Every `X-Batchconf-Case` a whole run sends (sequences, stateful trials, shrinking and the
/// credentials probe included) is one of the forms the README lists.
#[test]
fn every_case_header_a_run_sends_is_one_the_readme_documents() {
    let forms = case_header_forms();
    assert!(forms.len() >= 6, "{forms:?}");
    let fixtures = "d1,d2,d3,d4,d5,d6,d7,d8,d9,d10,d11,d12";
    let server = common::Serve::start("docs-token", &["--fixtures", fixtures, "--fault", "drop-last-id"]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (upstream, kept) = (server.url.trim_start_matches("http://").to_string(), seen.clone());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, kept) = (upstream.clone(), kept.clone());
            std::thread::spawn(move || sniff(client, &upstream, kept));
        }
    });
    let o = common::batchconf()
        .args(["run", "--target", &proxy, "--project-id", "p", "--token", "docs-token", "--seed", "5"])
        .args(["--fixture-assets", fixtures, "--examples", "10", "--timeout-ms", "5000"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", common::text(&o));
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() > 200, "{} headers seen", seen.len());
    let undocumented: std::collections::BTreeSet<&String> =
        seen.iter().filter(|v| !forms.iter().any(|f| f.is_match(v))).collect();
    assert!(undocumented.is_empty(), "sent but not in the README: {undocumented:?}");
    for kind in ["#", "~", " step ", " seq ", " round ", " other project ", " restore prepare", "batchconf put-back "] {
        assert!(
            seen.iter().any(|v| v.contains(kind)),
            "no `{kind}` header was sent: the test proves less than it says"
        );
    }
}

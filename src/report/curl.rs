//! A `curl` command line that re-sends a request from a POSIX shell, without its credentials.
//!
//! Credentials are never copied into the line: a token becomes `$BATCHCONF_TOKEN` (expanded by
//! the reader's shell), and an AK/SK signature, which would be stale anyway, is replaced by token
//! authentication with a comment saying so.

use super::redact::redact_headers;
use crate::exchange::Request;

/// The environment variable the line reads the token from (the one `batchconf run` reads too).
pub const TOKEN_VAR: &str = "BATCHCONF_TOKEN";

const SIGNED_NOTE: &str = "# the original request was signed with AK/SK; this line authenticates with a token instead \
(or re-send it with batchconf replay)";

const NOT_UTF8_NOTE: &str = "# the body was not UTF-8: bytes that are not valid UTF-8 are shown as U+FFFD below";

/// `curl -sS -i -X METHOD 'url' -H 'Name: value' … --data-binary '…'`, shell-quoted. May be
/// several lines: a `#` comment first when the reproduction differs from the original request.
pub fn curl_line(req: &Request) -> String {
    let signed = req.headers.get("Authorization").is_some_and(|v| v.trim_start().starts_with("SDK-HMAC-SHA256"));
    let mut notes = Vec::new();
    if signed {
        notes.push(SIGNED_NOTE.to_string());
    }

    let mut words =
        vec!["curl".to_string(), "-sS".into(), "-i".into(), "-X".into(), quote_if_needed(&req.method), quote(&req.url)];
    let mut token_line = false;
    // Masked values come from `redact_headers`, so the curl line and the report agree.
    let shown = redact_headers(&req.headers);
    for ((name, _), (_, masked)) in req.headers.0.iter().zip(shown.0.iter()) {
        let lower = name.to_ascii_lowercase();
        // curl computes these itself; copying them would be wrong once the URL or body is edited.
        if lower == "host" || lower == "content-length" {
            continue;
        }
        if signed && (lower == "authorization" || lower == "x-sdk-date") {
            continue;
        }
        if lower == "x-auth-token" {
            if !token_line {
                words.push("-H".into());
                words.push(token_header());
                token_line = true;
            }
            continue;
        }
        words.push("-H".into());
        words.push(quote(&format!("{name}: {masked}")));
    }
    if signed && !token_line {
        words.push("-H".into());
        words.push(token_header());
    }
    if !req.body.is_empty() {
        if std::str::from_utf8(&req.body).is_err() {
            notes.push(NOT_UTF8_NOTE.to_string());
        }
        words.push("--data-binary".into());
        words.push(quote(&String::from_utf8_lossy(&req.body)));
    }
    notes.push(words.join(" "));
    notes.join("\n")
}

fn token_header() -> String {
    format!("\"X-Auth-Token: ${TOKEN_VAR}\"")
}

/// The word as is when a shell would read it unchanged (`POST`), quoted otherwise.
fn quote_if_needed(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        word.to_string()
    } else {
        quote(word)
    }
}

/// Quotes a word for a POSIX shell: inside single quotes nothing is special but the single quote
/// itself, which is closed, escaped and reopened (`'\''`).
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Headers;

    fn req(headers: Headers, body: &str) -> Request {
        Request {
            method: "POST".into(),
            url: "https://h.example/v1/p1/digital-assets/batch-action".into(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn quotes_single_quotes_for_a_posix_shell() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME `x` \\ \"q\""), "'$HOME `x` \\ \"q\"'");
        let line = curl_line(&req(Headers::from([("Content-Type", "application/json")]), r#"{"params":"it's"}"#));
        assert_eq!(
            line,
            r#"curl -sS -i -X POST 'https://h.example/v1/p1/digital-assets/batch-action' -H 'Content-Type: application/json' --data-binary '{"params":"it'\''s"}'"#
        );
    }

    #[test]
    fn keeps_non_ascii_as_is() {
        let line = curl_line(&req(Headers::from([("X-App-UserId", "用户")]), r#"{"asset_ids":["é","資產"]}"#));
        assert!(line.contains("-H 'X-App-UserId: 用户'"), "{line}");
        assert!(line.ends_with(r#"--data-binary '{"asset_ids":["é","資產"]}'"#), "{line}");
    }

    #[test]
    fn a_token_comes_from_the_environment_and_never_appears() {
        let h = Headers::from([
            ("Host", "h.example"),
            ("Content-Length", "2"),
            ("X-Auth-Token", "MIIsecret-token-value"),
            ("Cookie", "sid=cookie-secret"),
        ]);
        let line = curl_line(&req(h, "{}"));
        assert_eq!(
            line,
            "curl -sS -i -X POST 'https://h.example/v1/p1/digital-assets/batch-action' \
             -H \"X-Auth-Token: $BATCHCONF_TOKEN\" -H 'Cookie: ***' --data-binary '{}'"
        );
        assert!(!line.contains("secret"));
    }

    #[test]
    fn a_signed_request_is_re_authenticated_with_a_token() {
        let h = Headers::from([
            ("Content-Type", "application/json"),
            ("X-Sdk-Date", "20240101T000000Z"),
            (
                "Authorization",
                "SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=content-type;x-sdk-date, Signature=deadbeef",
            ),
        ]);
        let line = curl_line(&req(h, ""));
        let lines: Vec<&str> = line.lines().collect();
        assert_eq!(lines.len(), 2, "{line}");
        assert!(lines[0].starts_with("# the original request was signed with AK/SK"));
        assert_eq!(
            lines[1],
            "curl -sS -i -X POST 'https://h.example/v1/p1/digital-assets/batch-action' \
             -H 'Content-Type: application/json' -H \"X-Auth-Token: $BATCHCONF_TOKEN\""
        );
        for secret in ["AKEXAMPLE", "deadbeef", "Signature", "X-Sdk-Date"] {
            assert!(!line.contains(secret), "{secret} in {line}");
        }
    }

    #[test]
    fn a_body_that_is_not_utf8_is_noted() {
        let mut r = req(Headers::default(), "");
        r.body = vec![b'{', 0xff, b'}'];
        let line = curl_line(&r);
        assert!(line.starts_with("# the body was not UTF-8"), "{line}");
        assert!(line.ends_with("--data-binary '{\u{fffd}}'"), "{line}");
    }

    #[test]
    fn quoted_words_survive_a_real_posix_shell() {
        let words = ["plain", "it's", "''", "a\nb", "$HOME `id` \\ \"q\" !x *", "用户 é", "-H", ""];
        for word in words {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s' {}", quote(word)))
                .output()
                .expect("a POSIX shell at `sh`");
            assert_eq!(String::from_utf8_lossy(&out.stdout), word, "{word:?}");
        }
    }
}

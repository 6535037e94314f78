//! A `curl` command line that re-sends a request from a POSIX shell, without its credentials.
//!
//! Credentials are never copied into the line: a token becomes `$BATCHCONF_TOKEN` (expanded by
//! the reader's shell), and an AK/SK signature, which would be stale anyway, is replaced by token
//! authentication with a comment saying so. A request that failed with wrong, altered, empty or
//! missing credentials is reproduced with exactly those: an altered token is derived from
//! `$BATCHCONF_TOKEN` by the shell, so no secret, nor anything made from one, is printed.

use super::redact::redact_headers;
use crate::exchange::Request;
use crate::generate::AuthMode;
use crate::protocol::{AUTH_HEADER, CREDENTIAL_HEADERS, SIGNING_SCHEME, TOKEN_HEADER};

/// The environment variable the line reads the token from (the one `batchconf run` reads too).
pub const TOKEN_VAR: &str = "BATCHCONF_TOKEN";

const SIGNED_NOTE: &str = "# the original request was signed with AK/SK; this line authenticates with a token instead \
(or re-send it with batchconf replay)";

const RESIGN_NOTE: &str =
    "# the original request was signed with AK/SK and then broken on purpose; a shell cannot sign: \
re-send it with `batchconf replay`, which breaks a fresh signature the same way";

const NOT_UTF8_NOTE: &str = "# the body was not UTF-8: bytes that are not valid UTF-8 are shown as U+FFFD below";

/// `curl -sS -i -X METHOD 'url' -H 'Name: value' … --data-binary '…'`, shell-quoted, sending the
/// credentials the way `auth` says the request did. May be several lines: a `#` comment first
/// when the reproduction differs from the original request.
pub fn curl_line(req: &Request, auth: AuthMode) -> String {
    let signed = req.headers.get(AUTH_HEADER).is_some_and(|v| v.trim_start().starts_with(SIGNING_SCHEME));
    let mut notes = Vec::new();
    let token = match auth {
        AuthMode::Valid => {
            if signed {
                notes.push(SIGNED_NOTE.to_string());
            }
            Some(token_header())
        }
        AuthMode::Missing => None,
        AuthMode::WrongToken | AuthMode::EmptyToken => {
            // Not a secret: the made-up token, or nothing, exactly as sent.
            let sent = req.headers.get(TOKEN_HEADER).unwrap_or_default();
            Some(if sent.is_empty() {
                quote(&format!("{TOKEN_HEADER};"))
            } else {
                quote(&format!("{TOKEN_HEADER}: {sent}"))
            })
        }
        AuthMode::AlteredToken => {
            Some(format!("\"{TOKEN_HEADER}: $(printf '%s' \"${TOKEN_VAR}\" | sed 's/0$/1/;t;s/.$/0/')\""))
        }
        // The token's near misses, made by a POSIX shell from the variable (never printed).
        AuthMode::TokenCutToOne => Some(format!("\"{TOKEN_HEADER}: $(printf '%s' \"${TOKEN_VAR}\" | cut -c1)\"")),
        AuthMode::TokenCutToHalf => Some(format!(
            "\"{TOKEN_HEADER}: $(printf '%s' \"${TOKEN_VAR}\" | cut -c1-$(( ${{#{TOKEN_VAR}}} > 1 ? ${{#{TOKEN_VAR}}} / 2 : 1 )))\""
        )),
        AuthMode::TokenExtended => Some(format!("\"{TOKEN_HEADER}: ${{{TOKEN_VAR}}}0\"")),
        // Every other mode breaks an AK/SK signature (`needs_aksk`, one list): a shell cannot
        // sign, and the secret key is never printed, so the note says how it was broken and
        // `batchconf replay` redoes it.
        _ => {
            notes.push(RESIGN_NOTE.to_string());
            notes.push(format!("# the bad request was signed with {}", auth.describe()));
            Some(token_header())
        }
    };

    let mut words =
        vec!["curl".to_string(), "-sS".into(), "-i".into(), "-X".into(), quote_if_needed(&req.method), quote(&req.url)];
    // Masked values come from `redact_headers`, so the curl line and the report agree.
    let shown = redact_headers(&req.headers);
    for ((name, _), (_, masked)) in req.headers.0.iter().zip(shown.0.iter()) {
        let lower = name.to_ascii_lowercase();
        // curl computes these itself; copying them would be wrong once the URL or body is edited.
        if lower == "host" || lower == "content-length" {
            continue;
        }
        // Credentials are written once, below, the way `auth` says.
        if CREDENTIAL_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(&lower)) {
            continue;
        }
        words.push("-H".into());
        words.push(quote(&format!("{name}: {masked}")));
    }
    if let Some(token) = token {
        words.push("-H".into());
        words.push(token);
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
    format!("\"{TOKEN_HEADER}: ${TOKEN_VAR}\"")
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
        let line = curl_line(
            &req(Headers::from([("Content-Type", "application/json")]), r#"{"params":"it's"}"#),
            AuthMode::Missing,
        );
        assert_eq!(
            line,
            r#"curl -sS -i -X POST 'https://h.example/v1/p1/digital-assets/batch-action' -H 'Content-Type: application/json' --data-binary '{"params":"it'\''s"}'"#
        );
    }

    #[test]
    fn keeps_non_ascii_as_is() {
        let line = curl_line(
            &req(Headers::from([("X-App-UserId", "用户")]), r#"{"asset_ids":["é","資產"]}"#),
            AuthMode::Missing,
        );
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
        let line = curl_line(&req(h, "{}"), AuthMode::Valid);
        assert_eq!(
            line,
            "curl -sS -i -X POST 'https://h.example/v1/p1/digital-assets/batch-action' \
             -H 'Cookie: ***' -H \"X-Auth-Token: $BATCHCONF_TOKEN\" --data-binary '{}'"
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
        let line = curl_line(&req(h, ""), AuthMode::Valid);
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
        let line = curl_line(&r, AuthMode::Missing);
        assert!(line.starts_with("# the body was not UTF-8"), "{line}");
        assert!(line.ends_with("--data-binary '{\u{fffd}}'"), "{line}");
    }

    /// What a real POSIX shell makes of a curl line's `-H` arguments, with `$BATCHCONF_TOKEN` set.
    fn headers_sent(line: &str, token: &str) -> Vec<String> {
        let args = line.lines().last().unwrap().strip_prefix("curl ").unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("for a in {args}; do printf '%s\\n' \"$a\"; done"))
            .env(TOKEN_VAR, token)
            .output()
            .expect("a POSIX shell at `sh`");
        let words: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        words.windows(2).filter(|w| w[0] == "-H").map(|w| w[1].clone()).collect()
    }

    #[test]
    fn bad_credentials_are_reproduced_as_sent_and_no_secret_is_printed() {
        let base = || req(Headers::from([("Content-Type", "application/json")]), "{}");
        let with = |name: &str, value: &str| {
            let mut r = base();
            r.headers.insert(name, value);
            r
        };
        let token = "MIIsecret-token-7f0";
        let altered = {
            let mut r = base();
            crate::send::authenticate(
                &mut r,
                AuthMode::AlteredToken,
                &crate::send::Credentials { token: Some(token.into()), ..Default::default() },
                chrono::Utc::now(),
            );
            r
        };
        let cases: Vec<(Request, AuthMode, Option<String>)> = vec![
            (base(), AuthMode::Missing, None),
            (with("X-Auth-Token", ""), AuthMode::EmptyToken, Some("X-Auth-Token;".into())),
            (
                with("X-Auth-Token", "bcf-wrong-token-0000000000000000"),
                AuthMode::WrongToken,
                Some("X-Auth-Token: bcf-wrong-token-0000000000000000".into()),
            ),
            (
                altered.clone(),
                AuthMode::AlteredToken,
                Some(format!("X-Auth-Token: {}", altered.headers.get("X-Auth-Token").unwrap())),
            ),
            (with("X-Auth-Token", token), AuthMode::Valid, Some(format!("X-Auth-Token: {token}"))),
        ];
        let mut cases = cases;
        for mode in [AuthMode::TokenCutToOne, AuthMode::TokenCutToHalf, AuthMode::TokenExtended] {
            let mut r = base();
            let creds = crate::send::Credentials { token: Some(token.into()), ..Default::default() };
            crate::send::authenticate(&mut r, mode, &creds, chrono::Utc::now());
            let sent = format!("X-Auth-Token: {}", r.headers.get("X-Auth-Token").unwrap());
            cases.push((r, mode, Some(sent)));
        }
        for (r, mode, expected) in cases {
            let line = curl_line(&r, mode);
            assert!(!line.contains("MIIsecret"), "{mode:?}: {line}");
            let sent: Vec<String> =
                headers_sent(&line, token).into_iter().filter(|h| h.starts_with("X-Auth-Token")).collect();
            assert_eq!(sent, expected.into_iter().collect::<Vec<_>>(), "{mode:?}: {line}");
        }
        // A token ending in 0 is altered to end in 1, as the run did.
        let zero = "tok-ending-in-0";
        let mut r = base();
        crate::send::authenticate(
            &mut r,
            AuthMode::AlteredToken,
            &crate::send::Credentials { token: Some(zero.into()), ..Default::default() },
            chrono::Utc::now(),
        );
        let line = curl_line(&r, AuthMode::AlteredToken);
        let sent: Vec<String> = headers_sent(&line, zero).into_iter().filter(|h| h.starts_with("X-Auth")).collect();
        assert_eq!(sent, [format!("X-Auth-Token: {}", r.headers.get("X-Auth-Token").unwrap())]);
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

    #[test]
    fn broken_signatures_are_reproduced_without_a_secret() {
        let creds = crate::send::Credentials {
            token: None,
            aksk: Some(("AKRUNSOWNKEY".into(), "SKsecretvalue".into())),
            app_user_id: None,
        };
        let modes = crate::generate::AUTH_VARIANTS.iter().map(|(_, m)| *m).filter(|m| m.needs_aksk());
        for mode in modes {
            let mut r = req(Headers::default(), "{}");
            crate::send::authenticate(&mut r, mode, &creds, chrono::Utc::now());
            let signature = r.headers.get("Authorization").unwrap().rsplit('=').next().unwrap().to_string();
            let line = curl_line(&r, mode);
            assert!(line.contains("batchconf replay") && line.contains(mode.describe()), "{mode:?}: {line}");
            for secret in ["AKRUNSOWNKEY", "SKsecretvalue", "Signature=", "X-Sdk-Date"] {
                assert!(!line.contains(secret), "{mode:?}: {secret} in {line}");
            }
            // A signature cut to one hex digit is a letter any line holds, and gives nothing away.
            assert!(signature.len() < 2 || !line.contains(&signature), "{mode:?}: {line}");
        }
    }
}

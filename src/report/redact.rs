//! Masks secrets: credential headers by name, and known secret values wherever they appear.
//!
//! Tokens, keys and signatures must never reach output, reports or reproductions; masking by
//! header name catches what a recording carries, masking by value catches what a run was given.

use crate::exchange::Headers;

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// Headers whose value is a credential whatever their name says.
const SECRET_HEADERS: &[&str] = &["x-auth-token", "x-subject-token", "cookie", "set-cookie"];

/// Parts of a header name that mark its value as secret (`X-Api-Key`, `X-Security-Token`, …).
const SECRET_NAME_PARTS: &[&str] = &["token", "secret", "password", "key"];

/// Is this header's value a credential (or does it carry one)?
pub fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("authorization")
        || SECRET_HEADERS.contains(&lower.as_str())
        || SECRET_NAME_PARTS.iter().any(|part| lower.contains(part))
}

/// The same headers, in the same order, with every credential's value masked. `Authorization`
/// keeps its scheme word (`SDK-HMAC-SHA256 ***`) because which scheme was used helps a reader
/// and gives nothing away.
pub fn redact_headers(h: &Headers) -> Headers {
    Headers(h.0.iter().map(|(name, value)| (name.clone(), redact_value(name, value))).collect())
}

fn redact_value(name: &str, value: &str) -> String {
    if !is_secret_header(name) {
        return value.to_string();
    }
    if name.to_ascii_lowercase().contains("authorization") {
        let trimmed = value.trim_start();
        if let Some((scheme, _)) = trimmed.split_once(char::is_whitespace) {
            return format!("{scheme} {MASK}");
        }
    }
    MASK.to_string()
}

/// `text` with the userinfo of every http(s) URL in it (`http://user:password@host`) masked:
/// whatever length it has, it is a credential.
fn mask_userinfo(text: &str) -> std::borrow::Cow<'_, str> {
    static USERINFO: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = USERINFO
        .get_or_init(|| regex::Regex::new(r#"(?i)\b(https?://)[^\s/?#@"'<>\\]+@"#).expect("a valid literal pattern"));
    if !text.contains('@') {
        return std::borrow::Cow::Borrowed(text);
    }
    re.replace_all(text, format!("${{1}}{MASK}@"))
}

/// `text` with every occurrence of every secret replaced by `***`. Secrets shorter than four
/// characters are ignored: masking every `a` or `42` would make the text unreadable and hide
/// nothing worth hiding.
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    let text = &mask_userinfo(text);
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.chars().count() >= 4).collect();
    // Longest first, so a secret that contains another is masked whole, not in pieces.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret) {
            out = out.replace(secret, MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_credential_headers_and_keeps_the_rest() {
        let h = Headers::from([
            ("Content-Type", "application/json"),
            ("X-Auth-Token", "MIIxyzTOKEN"),
            ("Authorization", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=abc"),
            ("x-subject-token", "subj"),
            ("Cookie", "session=1"),
            ("Set-Cookie", "session=2"),
            ("X-Api-Key", "k"),
            ("X-Client-Secret", "s"),
            ("X-Password", "p"),
            ("X-Security-Token", "t"),
            ("X-Request-Id", "r-1"),
            ("X-Sdk-Date", "20240101T000000Z"),
        ]);
        let r = redact_headers(&h);
        let get = |n: &str| r.get(n).unwrap().to_string();
        assert_eq!(get("Content-Type"), "application/json");
        assert_eq!(get("X-Auth-Token"), "***");
        assert_eq!(get("Authorization"), "SDK-HMAC-SHA256 ***");
        for n in ["X-Subject-Token", "Cookie", "Set-Cookie", "X-Api-Key", "X-Client-Secret", "X-Password"] {
            assert_eq!(get(n), "***", "{n}");
        }
        assert_eq!(get("X-Security-Token"), "***");
        assert_eq!(get("X-Request-Id"), "r-1");
        assert_eq!(get("X-Sdk-Date"), "20240101T000000Z");
        assert_eq!(r.0.len(), h.0.len());
        assert_eq!(r.0[2].0, "Authorization", "order and spelling are kept");
    }

    #[test]
    fn authorization_without_a_scheme_word_is_masked_whole() {
        let r = redact_headers(&Headers::from([("Authorization", "opaque-credential")]));
        assert_eq!(r.get("authorization"), Some("***"));
        let r = redact_headers(&Headers::from([("Proxy-Authorization", "Basic dXNlcjpwYXNz")]));
        assert_eq!(r.get("proxy-authorization"), Some("Basic ***"));
    }

    #[test]
    fn masks_every_occurrence_of_long_enough_secrets() {
        let text = "token=abcd1234 again abcd1234; sk=SECRETKEY; short=ab; empty";
        let out = redact_text(text, &["abcd1234", "SECRETKEY", "ab", ""]);
        assert_eq!(out, "token=*** again ***; sk=***; short=ab; empty");
    }

    #[test]
    fn a_secret_inside_another_is_masked_whole() {
        let out = redact_text("key=LONGSECRET", &["SECRET", "LONGSECRET"]);
        assert_eq!(out, "key=***");
        assert!(!out.contains("LONG"));
    }

    #[test]
    fn non_ascii_secrets_are_masked() {
        assert_eq!(redact_text("用户密码是秘密的", &["密码是秘"]), "用户***密的");
    }
}

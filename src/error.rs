//! What a command ends with, and the one place that turns it into an exit code.
//!
//! A command either finishes with a [`Verdict`] (the target conforms, or it diverges), or stops
//! with an [`Error`]: the user must fix something ([`SetupError`], exit 2), or the target cannot be
//! tested at all ([`Error::Untestable`], exit 3); or it was interrupted ([`Error::Interrupted`], 130
//! after Ctrl-C, 143 after SIGTERM). [`exit_code`] is the only mapping.

use thiserror::Error;

/// Exit codes, as documented in the README and the design.
pub mod exit {
    /// No divergence.
    pub const OK: i32 = 0;
    /// Divergences found.
    pub const DIVERGED: i32 = 1;
    /// Bad arguments, schema, case or input files: the user must fix something.
    pub const SETUP: i32 = 2;
    /// The target cannot be tested: unreachable, stopped answering, rejected the run's own
    /// credentials, or throttled nearly everything.
    pub const UNTESTABLE: i32 = 3;
    /// Interrupted by Ctrl-C (SIGINT): 128 + 2, as shells report it. What was found so far is
    /// printed and written to every report, marked interrupted.
    pub const INTERRUPTED: i32 = 130;
    /// Stopped by SIGTERM: 128 + 15, as shells report it; otherwise as [`INTERRUPTED`].
    pub const TERMINATED: i32 = 143;
}

/// A problem with what the user gave us: arguments, contract, cases, recorded exchanges.
/// Always names the file (or flag) and, where there is one, the position or JSON path.
#[derive(Debug, Error)]
pub enum SetupError {
    #[error("contract `{file}`: {reason}")]
    Contract { file: String, reason: String },
    #[error("case file `{file}` at `{path}`: {reason}")]
    Case { file: String, path: String, reason: String },
    #[error("`{file}`: {reason}")]
    Input { file: String, reason: String },
    #[error("{0}")]
    Argument(String),
}

/// Why a command stopped without a verdict.
#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// One sentence: what went wrong and what to check.
    #[error("the target cannot be tested: {0}")]
    Untestable(String),
    /// A signal asked the command to stop; it wound down and said what it had found.
    #[error("interrupted by {0}: the run was cut short, so its verdict covers only what ran")]
    Interrupted(crate::interrupt::Signal),
}

/// What a command found when it ran to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything that was tested conforms.
    Conforms,
    /// At least one divergence.
    Diverges,
}

/// The process exit code of a command's result: the one mapping, used by every command.
pub fn exit_code(result: &Result<Verdict, Error>) -> i32 {
    match result {
        Ok(Verdict::Conforms) => exit::OK,
        Ok(Verdict::Diverges) => exit::DIVERGED,
        Err(Error::Setup(_)) => exit::SETUP,
        Err(Error::Untestable(_)) => exit::UNTESTABLE,
        Err(Error::Interrupted(signal)) => signal.exit_code(),
    }
}

/// A JSON syntax error for a message: serde_json's sentence with its position said once, the way
/// editors want it: `not JSON: expected value (line 2, column 14)`.
pub fn not_json(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    format!("not JSON: {message} (line {}, column {})", e.line(), e.column())
}

/// A value read into a type, or the JSON pointer of what does not fit (`/` for the root) and why,
/// in JSON's words rather than Rust's.
pub fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at: String = e
            .path()
            .iter()
            .map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => format!("/{index}"),
                serde_path_to_error::Segment::Map { key } | serde_path_to_error::Segment::Enum { variant: key } => {
                    format!("/{}", key.replace('~', "~0").replace('/', "~1"))
                }
                serde_path_to_error::Segment::Unknown => "/?".to_string(),
            })
            .collect();
        let at = if at.is_empty() { "/".to_string() } else { at };
        (at, plain(&e.into_inner()))
    })
}

/// serde's message in JSON's words instead of Rust's: `struct Operation` is an object, `u16` a
/// number, a sequence an array.
fn plain(e: &serde_json::Error) -> String {
    static RUST: std::sync::OnceLock<[(regex::Regex, &'static str); 9]> = std::sync::OnceLock::new();
    let rules = RUST.get_or_init(|| {
        let re = |p: &str| regex::Regex::new(p).expect("a valid literal pattern");
        [
            (
                re(r"invalid length \d+, expected struct \w+ with \d+ elements?"),
                "invalid type: array, expected an object",
            ),
            (re(r"\bstruct \w+"), "an object"),
            (re(r"\bu(8|16|32|64|size)\b"), "a non-negative integer"),
            (re(r"\bi(8|16|32|64|size)\b"), "an integer"),
            (re(r"\bf(32|64)\b"), "a number"),
            (re(r"\ba sequence\b"), "an array"),
            (re(r"\bsequence\b"), "array"),
            (re(r"\ba map\b"), "an object"),
            (re(r"\bmap\b"), "object"),
        ]
    });
    // A value read from a parsed document has no position of its own (serde_json says line 0).
    let mut text = e.to_string();
    if let Some(cut) = text.rfind(" at line ") {
        text.truncate(cut);
    }
    rules.iter().fold(text, |t, (re, with)| re.replace_all(&t, *with).into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_syntax_error_gives_its_position_once() {
        let e = serde_json::from_str::<serde_json::Value>("{\n  \"a\": ,\n}").unwrap_err();
        assert_eq!(super::not_json(&e), "not JSON: expected value (line 2, column 8)");
    }

    #[test]
    fn values_that_do_not_fit_say_where_in_json_words() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Inner {
            n: u16,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            a: Vec<Inner>,
        }
        let e = |v| super::from_json::<Outer>(v).unwrap_err();
        let (at, why) = e(serde_json::json!({"a": [{"n": 1}, {"n": "x"}]}));
        assert_eq!(
            (at.as_str(), why.as_str()),
            ("/a/1/n", r#"invalid type: string "x", expected a non-negative integer"#)
        );
        let (at, why) = e(serde_json::json!({"a": {}}));
        assert_eq!((at.as_str(), why.as_str()), ("/a", "invalid type: object, expected an array"));
        let (at, why) = e(serde_json::json!({"a": [[]]}));
        assert_eq!((at.as_str(), why.as_str()), ("/a/0", "invalid type: array, expected an object"));
        let (at, why) = e(serde_json::json!({"a": [{"n": 1, "m/x": 2}]}));
        assert_eq!((at.as_str(), why.as_str()), ("/a/0/m~1x", "unknown field `m/x`, expected `n`"));
    }
}

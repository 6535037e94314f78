//! What a command ends with, and the one place that turns it into an exit code.
//!
//! A command either finishes with a [`Verdict`] (the target conforms, or it diverges), or stops
//! with an [`Error`]: the user must fix something ([`SetupError`], exit 2), or the target cannot be
//! tested at all ([`Error::Untestable`], exit 3). [`exit_code`] is the only mapping.

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

#[cfg(test)]
mod tests {
    #[test]
    fn a_syntax_error_gives_its_position_once() {
        let e = serde_json::from_str::<serde_json::Value>("{\n  \"a\": ,\n}").unwrap_err();
        assert_eq!(super::not_json(&e), "not JSON: expected value (line 2, column 8)");
    }
}

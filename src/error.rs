//! Errors that stop a command before (or instead of) testing, each with its exit code.

use thiserror::Error;

/// Exit codes, as documented in the README and the design.
pub mod exit {
    /// No divergence.
    pub const OK: i32 = 0;
    /// Divergences found.
    pub const DIVERGED: i32 = 1;
    /// Bad arguments, schema, case or input files.
    pub const SETUP: i32 = 2;
    /// The target could not be reached.
    pub const UNREACHABLE: i32 = 3;
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

impl SetupError {
    pub fn exit_code(&self) -> i32 {
        exit::SETUP
    }
}

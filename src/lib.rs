//! batchconf: a contract-conformance harness for the Batch Asset Operations API.
//!
//! The modules follow the data flow: the [`contract`] (schemas and manifest) and the [`cases`]
//! are loaded, the [`engine`] plans trials, [`generate`]s requests, [`send`]s them, and judges
//! every [`exchange::Exchange`] with the [`checks`]; it emits [`events`] that the [`report`]ers
//! turn into what people and CI read. [`validate`] judges recorded exchanges instead; [`server`]
//! is the bundled reference implementation; [`sign`] is AK/SK signing for both sides.
//!
//! The library knows nothing of the command line: the binary parses flags into typed options
//! ([`engine::RunOptions`], …) and maps each command's result to an exit code with
//! [`error::exit_code`].

pub mod builtin;
pub mod cases;
pub mod checks;
pub mod contract;
pub mod engine;
pub mod error;
pub mod events;
pub mod exchange;
pub mod generate;
pub mod init;
pub mod list;
pub mod openapi;
pub mod protocol;
pub mod record;
pub mod report;
pub mod send;
pub mod server;
pub mod sign;
pub mod validate;

/// The async runtime every command runs on: two workers, as many as the machines it is sized for.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, error::SetupError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| error::SetupError::Argument(format!("cannot start the async runtime: {e}")))
}

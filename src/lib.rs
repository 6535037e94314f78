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
pub mod interrupt;
pub mod list;
pub mod openapi;
pub mod protocol;
pub mod record;
pub mod report;
pub mod send;
pub mod server;
pub mod sign;
pub mod validate;

/// The async runtime `run`, `replay` and the gate drive: one thread. The target (or the bundled
/// server, which wiremock runs on a thread of its own) has the other core; with worker threads,
/// every answer woke a thread across cores, and those wake-ups cost a third of the run's time.
/// (`block_on` from several gate threads at once is allowed: they take turns driving the I/O.)
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, error::SetupError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| error::SetupError::Argument(format!("cannot start the async runtime: {e}")))
}

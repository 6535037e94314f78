//! batchconf: a contract-conformance harness for the Batch Asset Operations API.
//!
//! The modules follow the data flow: the [`contract`] (schemas and manifest) is loaded, requests
//! are generated and sent by the [`runner`], every [`exchange::Exchange`] is judged by the
//! [`checks`], and divergences are reported. [`validate`] judges recorded exchanges instead;
//! [`server`] is the bundled reference implementation; [`sign`] is AK/SK signing for both sides.

pub mod cases;
pub mod checks;
pub mod cli;
pub mod contract;
pub mod error;
pub mod exchange;
pub mod generate;
pub mod list;
pub mod record;
pub mod report;
pub mod runner;
pub mod send;
pub mod server;
pub mod sign;
pub mod validate;

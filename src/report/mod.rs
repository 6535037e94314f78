//! How a failure is shown to people: one pure function renders it (the terminal, `validate`, the
//! JUnit and JSON reports all call it), with secrets masked and a `curl` line that reproduces it.
//!
//! Nothing here does I/O, reads the clock or colours its output, so a rendering can be compared
//! with a committed transcript.

pub mod curl;
pub mod json;
pub mod junit;
pub mod redact;
pub mod render;

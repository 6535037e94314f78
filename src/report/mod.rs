//! How a failure is shown to people: one pure function renders it (the terminal, `validate`, the
//! JUnit and JSON reports all call it), with secrets masked and a `curl` line that reproduces it.
//!
//! The rendering does no I/O, reads no clock and colours nothing, so it can be compared with a
//! committed transcript. The reporters (terminal, summary, progress, JUnit, JSON, libtest) are
//! consumers of the engine's event stream ([`crate::events`]).

pub mod coverage;
pub mod curl;
pub mod html;
pub mod json;
pub mod junit;
pub mod libtest;
pub mod progress;
pub mod redact;
pub mod render;
pub mod summary;
pub mod terminal;
pub mod trials;

use std::path::Path;

use crate::error::SetupError;

/// Can a report be written at `path`? Asked before a run sends anything, so that a run's findings
/// are never lost to a typo in a path. The file is not truncated; one made for the test is removed.
pub fn check_writable(path: &Path) -> Result<(), SetupError> {
    let existed = path.exists();
    let opened = std::fs::OpenOptions::new().create(true).append(true).open(path);
    match opened {
        Ok(_) => {
            if !existed {
                let _ = std::fs::remove_file(path);
            }
            Ok(())
        }
        Err(e) => Err(SetupError::Input {
            file: path.display().to_string(),
            reason: format!("cannot write a report here: {e}"),
        }),
    }
}

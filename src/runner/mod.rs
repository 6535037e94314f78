//! The runner.

use crate::cli::{ReplayArgs, RunArgs};

pub fn command(_args: RunArgs) -> i32 {
    eprintln!("batchconf run: not built yet");
    crate::error::exit::SETUP
}

pub fn replay_command(_args: ReplayArgs) -> i32 {
    eprintln!("batchconf replay: not built yet");
    crate::error::exit::SETUP
}

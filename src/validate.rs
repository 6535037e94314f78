//! `batchconf validate`: judges recorded exchanges against the contract.

use crate::cli::ValidateArgs;

pub fn command(_args: ValidateArgs) -> i32 {
    eprintln!("batchconf validate: not built yet");
    crate::error::exit::SETUP
}

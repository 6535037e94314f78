//! The bundled reference server.

use crate::cli::ServeArgs;

pub fn command(_args: ServeArgs) -> i32 {
    eprintln!("batchconf serve: not built yet");
    crate::error::exit::SETUP
}

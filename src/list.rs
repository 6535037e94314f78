//! `batchconf list`: what the harness knows, for people choosing what to run or plant.

use crate::checks::CHECKS;
use crate::cli::ListArgs;

pub fn command(_args: ListArgs) -> i32 {
    println!("checks:");
    for check in CHECKS {
        println!("  {:<28} {}", check.name, check.description);
    }
    crate::error::exit::OK
}

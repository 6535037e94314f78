//! `batchconf list`: what the harness knows — its checks, the reference server's faults and
//! variants, and the cases — for people choosing what to run, filter or plant.

use crate::checks::CHECKS;
use crate::cli::ListArgs;
use crate::server::{FAULTS, VARIANTS};

pub fn command(args: ListArgs) -> i32 {
    println!("checks:");
    for check in CHECKS {
        println!("  {:<28} {}", check.name, check.description);
    }
    println!("\nfaults (`serve --fault NAME`, `run --fault NAME`): each breaks one rule");
    for f in FAULTS {
        let when = if f.soak_only { ", in a soak run" } else { "" };
        println!("  {:<28} {} (caught by `{}`{when})", f.name, f.breaks, f.caught_by);
    }
    println!("\nvariants (`serve --variant NAME`): other conformant choices where the contract is silent");
    for v in VARIANTS {
        println!("  {:<28} {}", v.name, v.description);
    }
    let dir = args.cases.clone().unwrap_or_else(crate::cases::default_dir);
    let cases = crate::contract::Contract::bundled().and_then(|c| crate::cases::load_dir(&dir, &c));
    match cases {
        Ok(cases) => {
            println!("\ncases (`{}`): run them with `batchconf run [FILTER]`", dir.display());
            for case in cases {
                let name = format!("{}::{}", case.kind(), case.name);
                let first = case.description.split(". ").next().unwrap_or_default().trim_end_matches('.');
                println!("  {name:<42} {first}");
            }
            crate::error::exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

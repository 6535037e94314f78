//! `batchconf list`: what the harness knows — its checks, the reference server's faults and
//! variants, the negative rules the schema yields, and the cases — for people choosing what to
//! run, filter or plant.

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
        println!("  {:<28} {} (caught by `{}`)", f.name, f.breaks, f.caught_by);
    }
    println!("\nvariants (`serve --variant NAME`): other conformant choices where the contract is silent");
    for v in VARIANTS {
        println!("  {:<28} {}", v.name, v.description);
    }
    let dir = args.cases.clone().unwrap_or_else(crate::cases::default_dir);
    let contract = match &args.schemas {
        Some(d) => crate::contract::Contract::load(d),
        None => crate::contract::Contract::bundled(),
    };
    let loaded = contract.and_then(|c| {
        let rules = crate::generate::negative_rules(&c)?;
        Ok((rules, crate::cases::load_dir(&dir, &c)?))
    });
    match loaded {
        Ok((rules, cases)) => {
            println!(
                "\nnegative rules (derived from the schema: `<keyword>@<place>`; a negative case's `rules` picks some)"
            );
            for rule in rules {
                println!("  {rule}");
            }
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

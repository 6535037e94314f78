//! `batchconf list`: what the harness knows — its checks, the reference server's faults and
//! variants, the negative rules the schema yields, and the cases — for people choosing what to
//! run, filter or plant.

use std::path::Path;

use crate::checks::CHECKS;
use crate::error::{Error, Verdict};
use crate::server::{FAULTS, VARIANTS};

/// Prints what the harness knows; the cases come from `cases` (the shipped ones by default).
pub fn list(cases: Option<&Path>, schemas: Option<&Path>) -> Result<Verdict, Error> {
    println!("checks:");
    for check in CHECKS {
        println!("  {:<28} {}", check.name, check.description);
    }
    println!("\nfaults (`serve --fault NAME`, `run --fault NAME`): each breaks one rule");
    for f in FAULTS {
        let when = if f.soak_only { ", in a soak run" } else { "" };
        println!("  {:<28} {} (caught by `{}`{when})", f.name, f.breaks, f.caught_by);
    }
    println!("\nvariants (`serve --variant NAME`, `run --variant NAME`): other conformant choices where the contract is silent");
    for v in VARIANTS {
        println!("  {:<28} {}", v.name, v.description);
    }
    let contract = match schemas {
        Some(d) => crate::contract::Contract::load(d)?,
        None => crate::contract::Contract::bundled()?,
    };
    let rules = crate::generate::negative_rules(&contract)?;
    println!("\nnegative rules (derived from the schema: `<keyword>@<place>`; a negative case's `rules` picks some)");
    for rule in rules {
        println!("  {rule}");
    }
    let origin = crate::builtin::Origin::of(cases);
    let cases = crate::cases::load(cases, &contract)?;
    println!("\ncases ({origin}): run them with `batchconf run [FILTER]`");
    for case in cases {
        let name = format!("{}::{}", case.kind(), case.name);
        let first = case.description.split(". ").next().unwrap_or_default().trim_end_matches('.');
        println!("  {name:<42} {first}");
    }
    Ok(Verdict::Conforms)
}

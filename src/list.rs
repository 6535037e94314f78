//! `batchconf list`: what the harness knows — its checks, the reference server's faults and
//! variants, the negative rules the schema yields, and the cases — for people choosing what to
//! run, filter or plant.

use std::path::Path;

use crate::checks::CHECKS;
use crate::error::{Error, Verdict};
use crate::server::{FAULTS, PLATFORM_HUAWEICLOUD, VARIANTS};

/// Prints what the harness knows; the cases come from `cases` (the shipped ones by default).
pub fn list(cases: Option<&Path>, schemas: Option<&Path>) -> Result<Verdict, Error> {
    println!("checks:");
    table(CHECKS.iter().map(|c| (c.name.to_string(), c.description.to_string())));
    println!(
        "\nfaults (`serve --fault NAME`, `run --fault NAME`): each breaks one rule; `run --fault NAME` with the flags named catches it"
    );
    table(FAULTS.iter().map(|f| (f.name.to_string(), format!("{}; caught by {}", f.breaks, f.caught()))));
    println!("\nvariants (`serve --variant NAME`, `run --variant NAME`): other conformant choices where the contract is silent");
    table(VARIANTS.iter().map(|v| (v.name.to_string(), v.description.to_string())));
    let platform: Vec<&str> = PLATFORM_HUAWEICLOUD.iter().map(|v| v.name()).collect();
    println!("\nplatforms (`serve --platform NAME`): a real endpoint's realistic set of variants");
    table(std::iter::once(("huaweicloud".to_string(), platform.join(", "))));
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
    table(cases.iter().map(|c| (format!("{}::{}", c.kind(), c.name), first_sentence(&c.description).to_string())));
    Ok(Verdict::Conforms)
}

/// Rows of name and text, the texts in one column however long the longest name.
fn table(rows: impl Iterator<Item = (String, String)>) {
    let rows: Vec<(String, String)> = rows.collect();
    let width = rows.iter().map(|(name, _)| name.chars().count()).max().unwrap_or(0);
    for (name, text) in rows {
        println!("  {name:<width$}  {text}");
    }
}

/// The first sentence of a description, whole: it ends at a full stop followed by a capital
/// letter, not at `e.g.` or a version number.
pub fn first_sentence(text: &str) -> &str {
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    for w in bytes.windows(3) {
        let [(i, '.'), (_, ' '), (_, next)] = w else { continue };
        if next.is_uppercase() {
            return &text[..*i];
        }
    }
    text.trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::first_sentence;

    #[test]
    fn a_first_sentence_is_never_cut_at_an_abbreviation() {
        assert_eq!(first_sentence("One thing. Another."), "One thing");
        assert_eq!(
            first_sentence("Each rule (`<keyword>@<place>`, e.g. a missing field), plus more. No list."),
            "Each rule (`<keyword>@<place>`, e.g. a missing field), plus more"
        );
        assert_eq!(first_sentence("Only one."), "Only one");
        assert_eq!(first_sentence(""), "");
    }
}

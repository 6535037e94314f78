//! Near misses of an id: strings that are not the id, but that a storage collation or a lookup
//! that normalises ids would take for it (MySQL's `_ci` collations with PAD SPACE, NFC/NFKC,
//! full-width folding, percent-decoding). A conformant service answers a near miss as an id that
//! does not exist and leaves the asset alone; one that normalises acts on the asset.
//!
//! And spellings of one id in a URL path segment that RFC 3986 makes equivalent (an unreserved
//! character percent-encoded, hex digits in either case): every spelling must answer the same.
//!
//! The server's planted faults normalise with the same tables ([`compose`], [`fold_width`]), so
//! the bundled server breaks exactly what the near misses probe.

use percent_encoding::utf8_percent_encode;

/// One way to nearly spell an id.
#[derive(Debug)]
pub struct NearMissKind {
    /// As the coverage table shows it.
    pub name: &'static str,
    make: fn(&str) -> String,
}

/// Every near-miss kind, in the order a trial sends them.
pub const NEAR_MISSES: &[NearMissKind] = &[
    NearMissKind { name: "case flipped", make: flip_case },
    NearMissKind { name: "trailing space", make: |id| format!("{id} ") },
    NearMissKind { name: "leading space", make: |id| format!(" {id}") },
    NearMissKind { name: "full-width", make: full_width },
    NearMissKind { name: "other normal form", make: other_normal_form },
    NearMissKind { name: "percent-encoded", make: percent_encode_first },
];

/// The near misses of `id`, one per kind that makes a string other than `id` itself (an id
/// without letters has no case to flip; an ASCII id has no other normal form).
pub fn near_misses(id: &str) -> Vec<(&'static str, String)> {
    NEAR_MISSES.iter().map(|k| (k.name, (k.make)(id))).filter(|(_, m)| m != id && !m.is_empty()).collect()
}

/// Every letter's case swapped (where it has a one-letter other case).
fn flip_case(id: &str) -> String {
    id.chars()
        .map(|c| {
            let mut other =
                if c.is_lowercase() { c.to_uppercase().collect::<Vec<_>>() } else { c.to_lowercase().collect() };
            match (other.len(), other.pop()) {
                (1, Some(o)) => o,
                _ => c,
            }
        })
        .collect()
}

/// Printable ASCII as its full-width form (U+FF01 to U+FF5E), which NFKC folds back.
fn full_width(id: &str) -> String {
    id.chars()
        .map(|c| if ('!'..='~').contains(&c) { char::from_u32(c as u32 + 0xFEE0).unwrap_or(c) } else { c })
        .collect()
}

/// The full-width forms folded back to ASCII (what NFKC does to them).
pub fn fold_width(id: &str) -> String {
    id.chars()
        .map(
            |c| if ('\u{FF01}'..='\u{FF5E}').contains(&c) { char::from_u32(c as u32 - 0xFEE0).unwrap_or(c) } else { c },
        )
        .collect()
}

/// Latin-1 letters with one diacritic: (composed, base, combining mark), as NFC and NFD write them.
const LATIN1: &[(char, char, char)] = &[
    ('\u{00C0}', 'A', '\u{0300}'),
    ('\u{00C1}', 'A', '\u{0301}'),
    ('\u{00C2}', 'A', '\u{0302}'),
    ('\u{00C3}', 'A', '\u{0303}'),
    ('\u{00C4}', 'A', '\u{0308}'),
    ('\u{00C5}', 'A', '\u{030A}'),
    ('\u{00C7}', 'C', '\u{0327}'),
    ('\u{00C8}', 'E', '\u{0300}'),
    ('\u{00C9}', 'E', '\u{0301}'),
    ('\u{00CA}', 'E', '\u{0302}'),
    ('\u{00CB}', 'E', '\u{0308}'),
    ('\u{00CC}', 'I', '\u{0300}'),
    ('\u{00CD}', 'I', '\u{0301}'),
    ('\u{00CE}', 'I', '\u{0302}'),
    ('\u{00CF}', 'I', '\u{0308}'),
    ('\u{00D1}', 'N', '\u{0303}'),
    ('\u{00D2}', 'O', '\u{0300}'),
    ('\u{00D3}', 'O', '\u{0301}'),
    ('\u{00D4}', 'O', '\u{0302}'),
    ('\u{00D5}', 'O', '\u{0303}'),
    ('\u{00D6}', 'O', '\u{0308}'),
    ('\u{00D9}', 'U', '\u{0300}'),
    ('\u{00DA}', 'U', '\u{0301}'),
    ('\u{00DB}', 'U', '\u{0302}'),
    ('\u{00DC}', 'U', '\u{0308}'),
    ('\u{00DD}', 'Y', '\u{0301}'),
    ('\u{00E0}', 'a', '\u{0300}'),
    ('\u{00E1}', 'a', '\u{0301}'),
    ('\u{00E2}', 'a', '\u{0302}'),
    ('\u{00E3}', 'a', '\u{0303}'),
    ('\u{00E4}', 'a', '\u{0308}'),
    ('\u{00E5}', 'a', '\u{030A}'),
    ('\u{00E7}', 'c', '\u{0327}'),
    ('\u{00E8}', 'e', '\u{0300}'),
    ('\u{00E9}', 'e', '\u{0301}'),
    ('\u{00EA}', 'e', '\u{0302}'),
    ('\u{00EB}', 'e', '\u{0308}'),
    ('\u{00EC}', 'i', '\u{0300}'),
    ('\u{00ED}', 'i', '\u{0301}'),
    ('\u{00EE}', 'i', '\u{0302}'),
    ('\u{00EF}', 'i', '\u{0308}'),
    ('\u{00F1}', 'n', '\u{0303}'),
    ('\u{00F2}', 'o', '\u{0300}'),
    ('\u{00F3}', 'o', '\u{0301}'),
    ('\u{00F4}', 'o', '\u{0302}'),
    ('\u{00F5}', 'o', '\u{0303}'),
    ('\u{00F6}', 'o', '\u{0308}'),
    ('\u{00F9}', 'u', '\u{0300}'),
    ('\u{00FA}', 'u', '\u{0301}'),
    ('\u{00FB}', 'u', '\u{0302}'),
    ('\u{00FC}', 'u', '\u{0308}'),
    ('\u{00FD}', 'y', '\u{0301}'),
    ('\u{00FF}', 'y', '\u{0308}'),
];

/// The id's other canonical normal form: decomposed (NFD) where it has composed Latin-1
/// letters, else composed (NFC) where it has them decomposed; else the id itself.
fn other_normal_form(id: &str) -> String {
    let decomposed: String = id
        .chars()
        .flat_map(|c| match LATIN1.iter().find(|(composed, _, _)| *composed == c) {
            Some((_, base, mark)) => vec![*base, *mark],
            None => vec![c],
        })
        .collect();
    if decomposed != id {
        decomposed
    } else {
        compose(id)
    }
}

/// A base letter followed by its combining mark written as the one composed letter (NFC, for
/// the Latin-1 letters).
pub fn compose(id: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in id.chars() {
        let joined = out.last().and_then(|b| LATIN1.iter().find(|(_, base, mark)| base == b && *mark == c));
        match joined {
            Some((composed, _, _)) => {
                out.pop();
                out.push(*composed);
            }
            None => out.push(c),
        }
    }
    out.into_iter().collect()
}

/// The first character that is not `%` written percent-encoded (`a1` is `%611`).
fn percent_encode_first(id: &str) -> String {
    let Some((i, c)) = id.char_indices().find(|(_, c)| *c != '%') else { return id.to_string() };
    let mut buf = [0u8; 4];
    let encoded: String = c.encode_utf8(&mut buf).bytes().map(|b| format!("%{b:02X}")).collect();
    format!("{}{encoded}{}", &id[..i], &id[i + c.len_utf8()..])
}

/// The spellings of `id` as one URL path segment, besides the one the run uses
/// ([`crate::contract::SEGMENT`]), that RFC 3986 makes equivalent: its first unreserved
/// character percent-encoded, and its percent-encodings' hex digits in lower case.
pub fn spellings(id: &str) -> Vec<(&'static str, String)> {
    let canonical = utf8_percent_encode(id, crate::contract::SEGMENT).to_string();
    let mut out = Vec::new();
    if let Some(i) = canonical.find(|c: char| c.is_ascii_alphanumeric() || "-._~".contains(c)) {
        let c = canonical.as_bytes()[i];
        out.push(("unreserved percent-encoded", format!("{}%{c:02X}{}", &canonical[..i], &canonical[i + 1..])));
    }
    let lower = lower_hex(&canonical);
    if lower != canonical {
        out.push(("lower-case hex", lower));
    }
    out
}

/// The hex digits after each `%` in lower case.
fn lower_hex(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut digits = 0;
    for c in segment.chars() {
        if c == '%' {
            digits = 2;
            out.push(c);
        } else if digits > 0 {
            digits -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_makes_another_string_a_normaliser_takes_for_the_id() {
        let id = "bcf-fixture-near-misses-1-\u{e9}";
        let all: Vec<(&str, String)> = near_misses(id);
        let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), NEAR_MISSES.len(), "{names:?}");
        let of = |name: &str| all.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(of("case flipped"), "BCF-FIXTURE-NEAR-MISSES-1-\u{c9}");
        assert_eq!(of("case flipped").to_lowercase(), id);
        assert_eq!(of("trailing space").trim_end(), id);
        assert_eq!(of("leading space").trim_start(), id);
        assert_eq!(fold_width(&of("full-width")), id);
        assert_eq!(of("other normal form"), "bcf-fixture-near-misses-1-e\u{301}");
        assert_eq!(compose(&of("other normal form")), id);
        assert_eq!(of("percent-encoded"), "%62cf-fixture-near-misses-1-\u{e9}");
        let decoded = percent_encoding::percent_decode_str(&of("percent-encoded")).decode_utf8_lossy().to_string();
        assert_eq!(decoded, id);
        // An ASCII id has no other normal form; digits and dashes have no case.
        assert_eq!(near_misses("bcf-0").len(), NEAR_MISSES.len() - 1);
        assert!(near_misses("0-1").iter().all(|(n, _)| *n != "case flipped" && *n != "other normal form"));
    }

    #[test]
    fn spellings_decode_to_the_same_id() {
        let id = "bcf-fixture-near-misses-1-\u{e9}";
        let all = spellings(id);
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0].1, "%62cf-fixture-near-misses-1-%C3%A9");
        assert_eq!(all[1].1, "bcf-fixture-near-misses-1-%c3%a9");
        for (_, s) in &all {
            assert_eq!(percent_encoding::percent_decode_str(s).decode_utf8_lossy(), id);
        }
        assert_eq!(spellings("a1").len(), 1, "an ASCII id has no hex digits to lower");
    }
}

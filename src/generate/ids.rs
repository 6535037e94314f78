//! Batches of asset ids: the edges the contract's silence leaves open (empty, one, hundreds,
//! repeated, long, non-ASCII, whitespace, and every alphabet a JSON string can carry), mixed with
//! the fixtures a run may act on. Where the schema constrains ids, each id that breaks it is
//! replaced by one the schema's own strategy makes.
//!
//! Every id made here starts with [`ID_PREFIX`] and carries random characters, so against a
//! real endpoint it cannot name an existing asset; only fixture ids given by the user do.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;
use std::sync::Arc;

use crate::cases::IdsSpec;

/// Marks every id batchconf makes up.
pub const ID_PREFIX: &str = "bcf-";

pub fn is_generated_id(id: &str) -> bool {
    id.starts_with(ID_PREFIX)
}

/// Random characters that do not shrink: a shorter or "simpler" id would not make a failure any
/// easier to read, and shrinking them would spend the budget that should drop whole ids.
fn noise(len: usize) -> BoxedStrategy<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    any::<[u8; 16]>()
        .no_shrink()
        .prop_map(move |bytes| (0..len).map(|i| ALPHABET[bytes[i % 16] as usize % ALPHABET.len()] as char).collect())
        .boxed()
}

fn unknown() -> BoxedStrategy<String> {
    noise(12).prop_map(|s| format!("{ID_PREFIX}{s}")).boxed()
}

fn long() -> BoxedStrategy<String> {
    (noise(12), (200usize..1200).no_shrink()).prop_map(|(s, n)| format!("{ID_PREFIX}{}", s.repeat(n / 12))).boxed()
}

fn unicode() -> BoxedStrategy<String> {
    let chars = vec!['资', '产', '中', 'é', 'ü', 'ß', 'ñ', 'Ω', 'ж', 'ا', '🙂', '\u{200b}'];
    (noise(4), prop::collection::vec(prop::sample::select(chars), 1..8).no_shrink())
        .prop_map(|(s, cs)| format!("{ID_PREFIX}{s}{}", cs.into_iter().collect::<String>()))
        .boxed()
}

/// The alphabets an id may come from where the schema allows any string, each a way a server
/// (or a proxy in front of it) may mangle an id: URL-reserved characters and percent-escapes,
/// characters outside the Basic Multilingual Plane, combining marks, right-to-left text, control
/// characters, trailing whitespace, and ids of 1 KiB and 64 KiB. Each id must come back exactly as
/// sent.
pub const ALPHABETS: &[&str] =
    &["reserved", "astral", "combining", "rtl", "control", "trailing-space", "long-1k", "long-64k"];

/// One id of an alphabet: the prefix, some noise, then the alphabet's characters (or, for the
/// long ones, noise up to that many bytes).
pub fn alphabet_id(kind: &str, noise: &str) -> String {
    let chars = match kind {
        "reserved" => "%41%2F+/?#&= a b".to_string(),
        "astral" => "\u{1F600}\u{1F4A9}\u{10348}\u{1D11E}".to_string(),
        "combining" => "e\u{301}a\u{308}n\u{303}".to_string(),
        "rtl" => "\u{5E9}\u{5DC}\u{5D5}\u{5DD} \u{627}\u{644}".to_string(),
        "control" => "\u{1}\u{1F}\t\n\u{7F}".to_string(),
        "trailing-space" => " \t ".to_string(),
        "long-1k" | "long-64k" => {
            let n: usize = if kind == "long-1k" { 1024 } else { 65536 };
            let head = format!("{ID_PREFIX}{noise}");
            return format!("{head}{}", "x".repeat(n.saturating_sub(head.len())));
        }
        _ => String::new(),
    };
    format!("{ID_PREFIX}{noise}{chars}")
}

fn alphabet() -> BoxedStrategy<String> {
    // The 64 KiB id is rare: one such id makes a body large, and a batch of them too large.
    let kinds: Vec<(u32, &'static str)> =
        ALPHABETS.iter().map(|k| (if *k == "long-64k" { 1 } else { 6 }, *k)).collect();
    let pick = proptest::strategy::Union::new_weighted(kinds.into_iter().map(|(w, k)| (w, Just(k))).collect());
    (pick, noise(6)).no_shrink().prop_map(|(k, n)| alphabet_id(k, &n)).boxed()
}

fn whitespace() -> BoxedStrategy<String> {
    (noise(4), prop::sample::select(vec![" ", "  ", "\t", " \t "]), noise(3), prop::bool::ANY)
        .no_shrink()
        .prop_map(|(a, ws, b, trailing)| format!("{ID_PREFIX}{a}{ws}{b}{}", if trailing { " " } else { "" }))
        .boxed()
}

/// Batches of `one`, small ones more often: edges are at 0 and 1, bugs in the tens, limits in the
/// hundreds. Each branch shrinks by dropping ids, down to `min`.
fn batches(one: BoxedStrategy<Value>, min: usize, max: usize) -> BoxedStrategy<Vec<Value>> {
    let small = (min + 3).min(max);
    let mid = (min + 20).min(max);
    prop_oneof![
        1 => prop::collection::vec(one.clone(), min..=min),
        3 => prop::collection::vec(one.clone(), min..=small),
        3 => prop::collection::vec(one.clone(), min..=mid),
        2 => prop::collection::vec(one, min..=max),
    ]
    .boxed()
}

pub fn ids_strategy(spec: &IdsSpec, fixtures: &[String]) -> BoxedStrategy<Value> {
    ids_strategy_fitted(spec, fixtures, None)
}

/// What replaces an id the schema refuses: the items' own strategy, and the validator of one item.
pub(crate) type Fallback = Option<(BoxedStrategy<Value>, Option<Arc<jsonschema::Validator>>)>;

/// One id of a kind, or the fallback's value where the items' schema refuses it. Built, not
/// filtered: both are drawn and the first that fits is kept.
fn fitted(one: BoxedStrategy<String>, fallback: &Fallback) -> BoxedStrategy<Value> {
    match fallback {
        None => one.prop_map(Value::String).boxed(),
        Some((alt, validator)) => {
            let validator = validator.clone();
            (one, alt.clone())
                .prop_map(move |(id, alt)| {
                    // The prefix marks a made-up id: kept whenever the schema allows it.
                    let prefixed = alt.as_str().map(|a| Value::String(format!("{ID_PREFIX}{a}")));
                    let ok = |v: &Value| validator.as_ref().is_some_and(|c| c.is_valid(v));
                    let id = Value::String(id);
                    if ok(&id) {
                        id
                    } else {
                        prefixed.filter(ok).unwrap_or(alt)
                    }
                })
                .boxed()
        }
    }
}

pub(crate) fn ids_strategy_fitted(spec: &IdsSpec, fixtures: &[String], fallback: Fallback) -> BoxedStrategy<Value> {
    let mut kinds: Vec<(u32, BoxedStrategy<Value>)> = Vec::new();
    // Fixtures name real assets and cannot be changed: one the items' schema refuses is left out
    // of generated batches (overrides narrow the schema, never escape it).
    let usable: Vec<String> = fixtures
        .iter()
        .filter(|f| match &fallback {
            Some((_, Some(v))) => v.is_valid(&Value::String(f.to_string())),
            _ => true,
        })
        .cloned()
        .collect();
    if spec.fixture_weight > 0 && !usable.is_empty() {
        kinds.push((spec.fixture_weight, prop::sample::select(usable).prop_map(Value::String).boxed()));
    }
    for (w, s) in [
        (spec.unknown_weight, unknown()),
        (spec.long_weight, long()),
        (spec.unicode_weight, unicode()),
        (spec.whitespace_weight, whitespace()),
        (spec.alphabet_weight, alphabet()),
    ] {
        if w > 0 {
            kinds.push((w, fitted(s, &fallback)));
        }
    }
    if kinds.is_empty() {
        kinds.push((1, fitted(unknown(), &fallback)));
    }
    let one = proptest::strategy::Union::new_weighted(kinds).boxed();
    let repeat = prop::bool::weighted(f64::from(spec.repeat_percent) / 100.0);
    let max = spec.max;
    (batches(one, spec.min, spec.max), repeat, prop::collection::vec(any::<Index>(), 1..4))
        .prop_map(move |(mut ids, repeat, picks)| {
            if repeat && !ids.is_empty() {
                for pick in picks {
                    let from = pick.index(ids.len());
                    let id = ids[from].clone();
                    if ids.len() < max {
                        ids.insert(pick.index(ids.len() + 1), id);
                    } else {
                        // At the most ids the case (or the schema's `maxItems`) allows: repeat
                        // by overwriting another id instead of growing past it.
                        let to = (from + 1) % ids.len();
                        ids[to] = id;
                    }
                }
            }
            Value::Array(ids)
        })
        .boxed()
}

/// The boundary batches of an `ids` override: the fewest ids, one more, the most (capped at 300),
/// and with `alphabet_weight`, a one-id batch of each alphabet; every id the schema refuses is
/// replaced by one its strategy makes.
pub(crate) fn edges(spec: &IdsSpec, fallback: Fallback) -> Vec<Value> {
    let fit = |id: String, n: usize| -> Value {
        let v = Value::String(id);
        match &fallback {
            None => v,
            Some((alt, validator)) => {
                if validator.as_ref().is_some_and(|c| c.is_valid(&v)) {
                    v
                } else {
                    let drawn = super::schema::sample(alt, n + 1);
                    drawn.last().cloned().unwrap_or(v)
                }
            }
        }
    };
    let plain =
        |n: usize| -> Value { Value::Array((0..n).map(|i| fit(format!("{ID_PREFIX}edge-{i:04}"), i)).collect()) };
    let mut sizes = vec![spec.min, spec.min + 1, spec.max.min(300)];
    sizes.retain(|n| *n <= spec.max);
    sizes.dedup();
    let mut out: Vec<Value> = sizes.into_iter().map(plain).collect();
    if spec.alphabet_weight > 0 && spec.min <= 1 && spec.max >= 1 {
        for (i, kind) in ALPHABETS.iter().enumerate() {
            out.push(Value::Array(vec![fit(alphabet_id(kind, &format!("edge{i}")), i)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn made_up_ids_carry_the_prefix_and_fixtures_are_used() {
        let spec = IdsSpec {
            min: 0,
            max: 300,
            fixture_weight: 1,
            unknown_weight: 1,
            long_weight: 1,
            unicode_weight: 1,
            whitespace_weight: 1,
            alphabet_weight: 1,
            repeat_percent: 50,
        };
        let fixtures = vec!["real-1".to_string()];
        let s = ids_strategy(&spec, &fixtures);
        let mut runner = TestRunner::deterministic();
        let (mut saw_fixture, mut saw_repeat, mut saw_empty, mut saw_big) = (false, false, false, false);
        for _ in 0..300 {
            let v = s.new_tree(&mut runner).unwrap().current();
            let ids: Vec<&str> = v.as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
            saw_empty |= ids.is_empty();
            saw_big |= ids.len() >= 100;
            let mut sorted = ids.clone();
            sorted.sort();
            sorted.dedup();
            saw_repeat |= sorted.len() < ids.len();
            for id in ids {
                saw_fixture |= id == "real-1";
                assert!(id == "real-1" || is_generated_id(id), "{id}");
            }
        }
        assert!(saw_fixture && saw_repeat && saw_empty && saw_big);
    }
}

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

/// The kinds of id a batch mixes (fixtures aside, which are the user's).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Fixture,
    Unknown,
    Long,
    Unicode,
    Whitespace,
    Alphabet,
}

/// The digits of one random number, taken in whatever base each choice needs: every choice an id
/// makes (its kind, its length, its characters) comes from one draw. A run draws hundreds of
/// thousands of ids; as a tree of strategies each cost a dozen random numbers and as many
/// allocations, and nothing in an id shrinks anyway (shrinking drops whole ids).
struct Digits(u128);

impl Digits {
    fn below(&mut self, n: usize) -> usize {
        let n = n.max(1) as u128;
        let digit = self.0 % n;
        self.0 /= n;
        digit as usize
    }

    /// Random characters: a shorter or "simpler" id would not make a failure easier to read.
    fn noise(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| ALPHABET[self.below(ALPHABET.len())] as char).collect()
    }

    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[self.below(from.len())]
    }

    /// One of the choices, each as likely as its weight says.
    fn weighted<T: Copy>(&mut self, choices: &[(u32, T)]) -> Option<T> {
        let total: u32 = choices.iter().map(|(w, _)| w).sum();
        let mut at = self.below(total as usize) as u32;
        choices
            .iter()
            .find(|(w, _)| {
                at < *w || {
                    at -= w;
                    false
                }
            })
            .map(|(_, t)| *t)
    }
}

impl Kind {
    /// One id of this kind (a fixture only when there are fixtures).
    fn make(self, d: &mut Digits, fixtures: &[String]) -> String {
        match self {
            Kind::Fixture if !fixtures.is_empty() => d.pick(fixtures).clone(),
            Kind::Fixture | Kind::Unknown => format!("{ID_PREFIX}{}", d.noise(12)),
            Kind::Long => {
                let noise = d.noise(12);
                let len = 200 + d.below(1000);
                format!("{ID_PREFIX}{}", noise.repeat(len / 12))
            }
            Kind::Unicode => {
                const CHARS: [char; 12] = ['资', '产', '中', 'é', 'ü', 'ß', 'ñ', 'Ω', 'ж', 'ا', '🙂', '\u{200b}'];
                let noise = d.noise(4);
                let n = 1 + d.below(7);
                let chars: String = (0..n).map(|_| *d.pick(&CHARS)).collect();
                format!("{ID_PREFIX}{noise}{chars}")
            }
            Kind::Whitespace => {
                let (a, ws, b) = (d.noise(4), *d.pick(&[" ", "  ", "\t", " \t "]), d.noise(3));
                let trailing = if d.below(2) == 1 { " " } else { "" };
                format!("{ID_PREFIX}{a}{ws}{b}{trailing}")
            }
            Kind::Alphabet => {
                // The 64 KiB id is rare: one such id makes a body large, and a batch of them too
                // large.
                let kinds: Vec<(u32, &str)> =
                    ALPHABETS.iter().map(|k| (if *k == "long-64k" { 1 } else { 6 }, *k)).collect();
                let kind = d.weighted(&kinds).unwrap_or("reserved");
                alphabet_id(kind, &d.noise(6))
            }
        }
    }
}

/// One id of the weighted kinds, from one draw that does not shrink.
fn one_id(kinds: Vec<(u32, Kind)>, fixtures: Vec<String>) -> BoxedStrategy<String> {
    any::<u128>()
        .no_shrink()
        .prop_map(move |n| {
            let mut d = Digits(n);
            let kind = d.weighted(&kinds).unwrap_or(Kind::Unknown);
            kind.make(&mut d, &fixtures)
        })
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
    let mut made: Vec<(u32, Kind)> = [
        (spec.unknown_weight, Kind::Unknown),
        (spec.long_weight, Kind::Long),
        (spec.unicode_weight, Kind::Unicode),
        (spec.whitespace_weight, Kind::Whitespace),
        (spec.alphabet_weight, Kind::Alphabet),
    ]
    .into_iter()
    .filter(|(w, _)| *w > 0)
    .collect();
    let with_fixtures = spec.fixture_weight > 0 && !usable.is_empty();
    if made.is_empty() && !with_fixtures {
        made.push((1, Kind::Unknown));
    }
    let one = match &fallback {
        // Every kind from the same one draw.
        None => {
            let mut kinds = made;
            if with_fixtures {
                kinds.insert(0, (spec.fixture_weight, Kind::Fixture));
            }
            one_id(kinds, usable).prop_map(Value::String).boxed()
        }
        // Made-up ids are fitted to the items' schema; fixtures were filtered above.
        Some(_) => {
            let mut kinds: Vec<(u32, BoxedStrategy<Value>)> = Vec::new();
            if with_fixtures {
                kinds.push((spec.fixture_weight, prop::sample::select(usable).prop_map(Value::String).boxed()));
            }
            if !made.is_empty() {
                let weight = made.iter().map(|(w, _)| w).sum();
                kinds.push((weight, fitted(one_id(made, vec![]), &fallback)));
            }
            proptest::strategy::Union::new_weighted(kinds).boxed()
        }
    };
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

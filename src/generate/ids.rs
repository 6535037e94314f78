//! Batches of asset ids: the edges the contract's silence leaves open (empty, one, hundreds,
//! repeated, long, non-ASCII, whitespace), mixed with the fixtures a run may act on.
//!
//! Every id made here starts with [`ID_PREFIX`] and carries random characters, so against a
//! real endpoint it cannot name an existing asset; only fixture ids given by the user do.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

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

fn whitespace() -> BoxedStrategy<String> {
    (noise(4), prop::sample::select(vec![" ", "  ", "\t", " \t "]), noise(3), prop::bool::ANY)
        .no_shrink()
        .prop_map(|(a, ws, b, trailing)| format!("{ID_PREFIX}{a}{ws}{b}{}", if trailing { " " } else { "" }))
        .boxed()
}

/// Batches of `one`, small ones more often: edges are at 0 and 1, bugs in the tens, limits in the
/// hundreds. Each branch shrinks by dropping ids, down to `min`.
fn batches(one: BoxedStrategy<String>, min: usize, max: usize) -> BoxedStrategy<Vec<String>> {
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
    let mut kinds: Vec<(u32, BoxedStrategy<String>)> = Vec::new();
    if spec.fixture_weight > 0 && !fixtures.is_empty() {
        kinds.push((spec.fixture_weight, prop::sample::select(fixtures.to_vec()).boxed()));
    }
    for (w, s) in [
        (spec.unknown_weight, unknown()),
        (spec.long_weight, long()),
        (spec.unicode_weight, unicode()),
        (spec.whitespace_weight, whitespace()),
    ] {
        if w > 0 {
            kinds.push((w, s));
        }
    }
    if kinds.is_empty() {
        kinds.push((1, unknown()));
    }
    let one = proptest::strategy::Union::new_weighted(kinds).boxed();
    let repeat = prop::bool::weighted(f64::from(spec.repeat_percent) / 100.0);
    (batches(one, spec.min, spec.max), repeat, prop::collection::vec(any::<Index>(), 1..4))
        .prop_map(|(mut ids, repeat, picks)| {
            if repeat && !ids.is_empty() {
                for pick in picks {
                    let id = ids[pick.index(ids.len())].clone();
                    let at = pick.index(ids.len() + 1);
                    ids.insert(at, id);
                }
            }
            Value::Array(ids.into_iter().map(Value::String).collect())
        })
        .boxed()
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

//! The sequences `random-sequences` plays before its random ones: each is built for a class of
//! bug a random draw rarely meets, and judged step by step like any sequence (every watched
//! fixture looked up after every batch and compared with the lifecycle model).
//!
//! - Batch sizes: a batch of every size class the request schema allows (one id, a few, dozens,
//!   just over 100, several hundred, and the schema's own `maxItems`), the fixtures at the end
//!   behind made-up ids, UNACTIVE then ACTIVE (undone by the next step). A service that acts on
//!   the first N ids only, or writes back only part of a batch it answered in full, leaves the
//!   fixtures at the end as they were.
//! - The recycle bin: the reserved fixture (`--allow-destructive`, or the bundled server's own) is
//!   DELETEd, then DELETE_FORCEd from the bin, then sent every action that could bring it back.
//!   Nothing may: a force-deleted asset stays gone, and not restorable.

use super::stateful::{Op, ACTIONS};

/// The batch sizes tried, smallest first: one id, a few, dozens, just over 100, several hundred.
pub const SIZE_CLASSES: &[usize] = &[1, 3, 30, 101, 600];

/// The name of the size class a batch of `n` ids is in, as the coverage table shows it.
pub fn size_class(n: usize) -> &'static str {
    match n {
        0 => "empty batch",
        1 => "one id",
        2..=9 => "2-9 ids",
        10..=99 => "10-99 ids",
        100..=499 => "100-499 ids",
        _ => "500+ ids",
    }
}

/// The sizes to send within the schema's bounds (`minItems`, `maxItems`): every class that fits,
/// and the largest the schema allows where that is below the largest class.
pub fn batch_sizes((min, max): (usize, Option<usize>)) -> Vec<usize> {
    let top = max.unwrap_or(usize::MAX);
    let mut sizes: Vec<usize> = SIZE_CLASSES.iter().map(|&n| n.max(min.max(1))).filter(|&n| n <= top).collect();
    if let Some(max) = max.filter(|&m| m < SIZE_CLASSES[SIZE_CLASSES.len() - 1] && m >= min.max(1)) {
        sizes.push(max);
    }
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// UNACTIVE then ACTIVE for each size, with (up to) half of the batch the live fixtures, placed
/// at its end. The reserved fixture is left out: it is not undone.
pub fn size_ops(sizes: &[usize], live: usize) -> Vec<Op> {
    let mut ops = Vec::new();
    for &size in sizes {
        let fixtures = live.min(size.div_ceil(2));
        for action in ["UNACTIVE", "ACTIVE"] {
            ops.push(Op {
                action: index(action),
                pick: (0..live).map(|k| k < fixtures).collect(),
                reserved: false,
                unknown: size - fixtures,
                fixtures_last: true,
            });
        }
    }
    ops
}

/// DELETE, DELETE_FORCE from the recycle bin, then every action that could revive it (RESTORE
/// twice: after the others too), on the reserved fixture alone.
pub fn recycle_bin_ops(live: usize) -> Vec<Op> {
    ["DELETE", "DELETE_FORCE", "RESTORE", "ACTIVE", "UNACTIVE", "SHARE", "UNSHARE", "DELETE", "RESTORE", "DELETE_FORCE"]
        .into_iter()
        .map(|action| Op {
            action: index(action),
            pick: vec![false; live],
            reserved: true,
            unknown: 0,
            fixtures_last: false,
        })
        .collect()
}

fn index(action: &str) -> usize {
    ACTIONS.iter().position(|a| *a == action).expect("the scripts name actions of ACTIONS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_schema() {
        assert_eq!(batch_sizes((0, None)), vec![1, 3, 30, 101, 600]);
        assert_eq!(batch_sizes((1, Some(20))), vec![1, 3, 20]);
        assert_eq!(batch_sizes((0, Some(100))), vec![1, 3, 30, 100]);
        assert_eq!(batch_sizes((5, Some(50))), vec![5, 30, 50]);
        assert_eq!(batch_sizes((0, Some(1000))), vec![1, 3, 30, 101, 600]);
    }

    #[test]
    fn fixtures_go_last_and_every_size_is_undone() {
        let ops = size_ops(&[1, 30], 4);
        assert_eq!(ops.len(), 4);
        assert_eq!((ops[0].unknown, ops[0].pick.iter().filter(|p| **p).count()), (0, 1));
        assert_eq!((ops[2].unknown, ops[2].pick.iter().filter(|p| **p).count()), (26, 4));
        assert!(ops.iter().all(|o| o.fixtures_last && !o.reserved));
        assert_eq!(ACTIONS[ops[1].action], "ACTIVE");
    }
}

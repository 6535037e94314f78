//! The closing summary: one line per check, the skipped trials and why, how many requests were
//! sent and throttled, why the run stopped if it did, the seed, and the counts.

use super::coverage::Coverage;
use super::trials::Trials;
use crate::events::{Event, Reporter, RunEnd, COULD_NOT_RUN, SKIPPED};

/// Prints the summary at the end of the run, to stdout.
#[derive(Default)]
pub struct Summary {
    trials: Trials,
    /// The coverage table to end with, and the contract's lifecycle states (its columns' order).
    coverage: Option<(Coverage, Vec<String>)>,
}

impl Summary {
    /// A summary that ends with the coverage table.
    pub fn with_coverage(coverage: Coverage, contract: &crate::contract::Contract) -> Summary {
        let states = contract.manifest.lifecycle.as_ref().map(|l| l.states.clone()).unwrap_or_default();
        Summary { trials: Trials::default(), coverage: Some((coverage, states)) }
    }

    pub fn text(&self, end: &RunEnd) -> String {
        let per_check = self.trials.per_check();
        let mut out = String::from("\nbatchconf summary per check:\n");
        for check in crate::checks::CHECKS {
            match per_check.get(check.name) {
                None => out.push_str(&format!("  {:<28} ok\n", check.name)),
                Some(trials) => {
                    let head = format!("  {:<28} DIVERGES in {} trial(s): ", check.name, trials.len());
                    out.push_str(&wrapped(&head, trials));
                }
            }
        }
        for heading in [COULD_NOT_RUN, SKIPPED] {
            let listed: String = self
                .trials
                .rows()
                .filter_map(|r| match r.end.as_ref()?.reason()? {
                    (h, why) if h == heading => Some(format!("  {}: {why}\n", r.name)),
                    _ => None,
                })
                .collect();
            if !listed.is_empty() {
                out.push_str(&format!("{heading}:\n{listed}"));
            }
        }
        if let Some((coverage, states)) = &self.coverage {
            out.push_str(&coverage.data().text(states));
        }
        out.push_str(&format!("requests sent: {}", end.sent));
        if end.throttled > 0 {
            out.push_str(&format!(
                " ({} still answered 429 after retries: throttled, not judged; lower `--rate`)",
                end.throttled
            ));
        }
        out.push('\n');
        if let Some(line) = throttling_line(&end.throttling) {
            out.push_str(&line);
            out.push('\n');
        }
        if end.elapsed.as_secs_f64() > 0.0 {
            out.push_str(&format!(
                "time: {:.1} s, {:.0} requests/s\n",
                end.elapsed.as_secs_f64(),
                end.sent as f64 / end.elapsed.as_secs_f64()
            ));
        }
        for note in &end.contract_notes {
            out.push_str(&format!("note on the contract: {note}\n"));
        }
        if let Some(why) = &end.stopped {
            out.push_str(&format!("STOPPED: the target cannot be tested: {why}\n"));
        }
        if let Some(why) = &end.ended_early {
            out.push_str(&format!("ENDED EARLY with its verdict: {why}\n"));
        }
        if let Some(signal) = &end.interrupted {
            out.push_str(&format!(
                "INTERRUPTED by {signal}: no request was started after it, those in flight finished and fixtures were put back; what ran is reported, the rest was not run\n"
            ));
        }
        if let Some(put_back) = &end.put_back {
            out.push_str(&format!("{put_back}\n"));
        }
        out.push_str(&format!("seed: {} (the same requests again: `--seed {}`)\n", end.seed, end.seed));
        let c = self.trials.counts();
        out.push_str(&format!("{} passed, {} failed, {} skipped", c.passed, c.failed, c.skipped));
        if c.stopped > 0 {
            let why = if end.interrupted.is_some() { "interrupted" } else { "the run stopped" };
            out.push_str(&format!(", {} not run ({why})", c.stopped));
        }
        out.push('\n');
        out
    }
}

/// Lines wider than this are wrapped (a trial name is never cut).
const WIDTH: usize = 100;

/// `throttled: 250 answers were 429, each retried, none judged as a divergence; the target allowed
/// about 150 requests/s` (nothing when the target never throttled).
pub fn throttling_line(t: &crate::send::Throttling) -> Option<String> {
    if t.answers == 0 {
        return None;
    }
    let mut line = format!(
        "throttled: {} answer(s) were 429, each retried after waiting (as `Retry-After` asked, or backing off), none judged",
        t.answers
    );
    if let Some(rate) = t.allowed_rate {
        line.push_str(&format!("; the target allowed about {rate:.0} requests/s and the pace kept to it"));
    }
    Some(line)
}

/// `head` then every name, comma-separated, wrapped at [`WIDTH`] with the lines after the first
/// indented under the verdict: a list of trials is never cut, however long.
fn wrapped(head: &str, names: &[&str]) -> String {
    let indent = " ".repeat(head.chars().count().min(31));
    let mut out = String::new();
    let mut line = head.to_string();
    for (i, name) in names.iter().enumerate() {
        let item = if i + 1 < names.len() { format!("{name},") } else { name.to_string() };
        let at_start = line.len() == head.len() || line.trim().is_empty();
        if !at_start && line.chars().count() + 1 + item.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.clone();
        } else if !at_start {
            line.push(' ');
        }
        line.push_str(&item);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

impl Reporter for Summary {
    fn on(&mut self, event: &Event) {
        self.trials.on(event);
    }

    fn finish(&mut self, end: &RunEnd) -> Result<(), crate::error::SetupError> {
        print!("{}", self.text(end));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{throttling_line, wrapped};

    #[test]
    fn throttling_is_said_with_the_rate_allowed() {
        let none = crate::send::Throttling::default();
        assert_eq!(throttling_line(&none), None);
        let t = crate::send::Throttling { answers: 250, allowed_rate: Some(149.6) };
        let line = throttling_line(&t).unwrap();
        assert!(line.starts_with("throttled: 250 answer(s) were 429"), "{line}");
        assert!(line.ends_with("the target allowed about 150 requests/s and the pace kept to it"), "{line}");
    }

    #[test]
    fn a_long_list_of_trials_is_wrapped_never_cut() {
        let names: Vec<String> = (0..12).map(|i| format!("property::some-long-trial-name-{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let head = format!("  {:<28} DIVERGES in 12 trial(s): ", "batch_ids_answered");
        let text = wrapped(&head, &names);
        assert!(!text.contains('…') && !text.contains("more characters"), "{text}");
        for n in &names {
            assert!(text.contains(n), "{n} is missing:\n{text}");
        }
        assert!(text.lines().all(|l| l.chars().count() <= super::WIDTH), "{text}");
        assert!(text.lines().skip(1).all(|l| l.starts_with(&" ".repeat(31)) && !l[31..].starts_with(' ')), "{text}");
        assert_eq!(wrapped("  x: ", &["a"]), "  x: a\n");
    }
}

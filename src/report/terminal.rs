//! The trials as `batchconf run` prints them: libtest's layout (`test NAME ... ok`), in plan
//! order whatever order they finished in, so the same seed prints the same lines; then every
//! failure, rendered the one way, and libtest's result line.

use std::collections::BTreeMap;
use std::io::Write;

use super::progress::Lines;
use super::trials::Trials;
use crate::events::{Event, Reporter, RunEnd, TrialEnd};

pub struct Terminal {
    /// Where lines go: around the spinner, never under it.
    lines: Lines,
    /// The plan indices of the selected trials, in order, and how far printing has got.
    order: Vec<usize>,
    next: usize,
    finished: BTreeMap<usize, String>,
    trials: Trials,
}

impl Terminal {
    /// `selected`: the plan indices of the trials that will be told of. Prints `running N tests`.
    /// `lines`: how to print while a progress display runs ([`Progress::lines`]).
    pub fn new(selected: Vec<usize>, lines: Lines) -> Terminal {
        lines.print(&format!("\nrunning {} tests\n", selected.len()));
        Terminal { lines, order: selected, next: 0, finished: BTreeMap::new(), trials: Trials::default() }
    }

    /// Prints every finished trial whose turn has come.
    fn flush(&mut self) {
        let mut text = String::new();
        while let Some(line) = self.order.get(self.next).and_then(|i| self.finished.remove(i)) {
            text.push_str(&line);
            text.push('\n');
            self.next += 1;
        }
        if !text.is_empty() {
            self.lines.print(&text);
        }
    }
}

fn word(end: &TrialEnd) -> &'static str {
    match end {
        TrialEnd::Passed => "ok",
        TrialEnd::Diverged(_) | TrialEnd::Failed(_) => "FAILED",
        TrialEnd::Skipped(_) => "ignored",
        TrialEnd::Stopped => "not run (the run stopped)",
    }
}

impl Reporter for Terminal {
    fn on(&mut self, event: &Event) {
        self.trials.on(event);
        if let Event::TrialFinished { unit, end, .. } = event {
            self.finished.insert(unit.index, format!("test {} ... {}", unit.name, word(end)));
            self.flush();
        }
    }

    fn finish(&mut self, end: &RunEnd) -> Result<(), crate::error::SetupError> {
        let mut failures = Vec::new();
        for row in self.trials.rows() {
            let text = match &row.end {
                Some(TrialEnd::Diverged(_)) => {
                    row.divergences().iter().map(|d| end.context.divergence(d)).collect::<Vec<_>>().join("\n")
                }
                Some(TrialEnd::Failed(why)) => format!("could not run: {why}\n"),
                _ => continue,
            };
            failures.push((row.name.as_str(), text));
        }
        let c = self.trials.counts();
        // The spinner may still be drawing (it stops after this reporter): print around it.
        self.lines.with(|| {
            let mut out = std::io::stdout().lock();
            if !failures.is_empty() {
                let _ = writeln!(out, "\nfailures:\n");
                for (name, text) in &failures {
                    let _ = writeln!(out, "---- {name} ----\n{text}");
                }
                let _ = writeln!(out, "\nfailures:");
                for (name, _) in &failures {
                    let _ = writeln!(out, "    {name}");
                }
            }
            let verdict =
                if c.failed > 0 || end.stopped.is_some() || end.interrupted.is_some() { "FAILED" } else { "ok" };
            let _ = writeln!(
            out,
            "\ntest result: {verdict}. {} passed; {} failed; {} ignored; 0 measured; {} not run; finished in {:.2}s",
            c.passed,
            c.failed,
            c.skipped,
            c.stopped,
            end.elapsed.as_secs_f64()
        );
            let _ = out.flush();
        });
        Ok(())
    }
}

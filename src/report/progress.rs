//! Progress while a run goes: a spinner on a terminal (once the run has lasted a moment), plain
//! lines now and then when not on one (CI logs). A consumer of the event stream that only bumps
//! counters; a thread of its own draws, so it never slows the run.
//!
//! Lines printed while the spinner may be drawing (the libtest lines) go through [`Lines`]: the
//! spinner is cleared first and drawn again after, so it never draws over them.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::events::{Event, Reporter, RunEnd};

/// Prints lines so that the spinner, if one is drawing, never draws over them. Clones share it.
///
/// Its lock is held while a line is printed and while the spinner draws, so neither can start in
/// the middle of the other; the line is printed with the spinner suspended (cleared, then drawn
/// again).
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Option<indicatif::ProgressBar>>>);

impl Lines {
    /// Runs `print` with the spinner out of the way.
    pub fn with<R>(&self, print: impl FnOnce() -> R) -> R {
        let bar = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match bar.as_ref() {
            Some(b) => b.suspend(print),
            None => print(),
        }
    }

    /// Prints `text` as it is (no newline added) to stdout.
    pub fn print(&self, text: &str) {
        self.with(|| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        })
    }
}

pub struct Progress {
    lines: Lines,
    stop: Arc<AtomicBool>,
    judged: Arc<AtomicU64>,
    diverged: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Reporter for Progress {
    fn on(&mut self, event: &Event) {
        match event {
            Event::Judged { .. } => {
                self.judged.fetch_add(1, Ordering::Relaxed);
            }
            Event::Divergence { .. } => {
                self.diverged.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    fn finish(&mut self, _: &RunEnd) -> Result<(), crate::error::SetupError> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        Ok(())
    }
}

impl Progress {
    /// How to print lines while this progress display runs.
    pub fn lines(&self) -> Lines {
        self.lines.clone()
    }

    /// Starts drawing; `limits` says what a soak run has left to spend.
    pub fn start(limits: crate::engine::Limits) -> Progress {
        let lines = Lines::default();
        let slot = lines.0.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let judged = Arc::new(AtomicU64::new(0));
        let diverged = Arc::new(AtomicU64::new(0));
        let (j, d) = (judged.clone(), diverged.clone());
        let counts = move || (j.load(Ordering::Relaxed), d.load(Ordering::Relaxed));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let budget = crate::engine::Budget::start(limits);
            let started = Instant::now();
            let terminal = std::io::stderr().is_terminal();
            let mut last_line = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                // Parked, not asleep: `finish` unparks it, so a run does not end up to a tick late.
                std::thread::park_timeout(Duration::from_millis(200));
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let (sent, diverged) = counts();
                let secs = started.elapsed().as_secs_f64().max(0.001);
                let mut msg =
                    format!("{sent} exchanges judged, {diverged} divergences so far, {:.0} req/s", sent as f64 / secs);
                match budget.left(sent) {
                    (Some(time), _) => msg.push_str(&format!(
                        ", {} left",
                        humantime::format_duration(Duration::from_secs(time.as_secs()))
                    )),
                    (None, Some(requests)) => msg.push_str(&format!(", {requests} requests left")),
                    (None, None) => {}
                }
                if terminal {
                    // Drawn under the lock that printing takes: a line is never cut by the spinner.
                    let mut bar = slot.lock().unwrap_or_else(|e| e.into_inner());
                    if bar.is_none() && started.elapsed() > Duration::from_millis(1500) {
                        let b = indicatif::ProgressBar::new_spinner();
                        b.set_style(
                            indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                                .expect("a valid template"),
                        );
                        *bar = Some(b);
                    }
                    if let Some(b) = bar.as_ref() {
                        b.set_message(msg);
                        b.tick();
                    }
                } else if last_line.elapsed() > Duration::from_secs(10) {
                    eprintln!("progress: {msg}");
                    last_line = Instant::now();
                }
            }
            if let Some(b) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                b.finish_and_clear();
            }
        });
        Progress { lines, stop, judged, diverged, thread: Some(thread) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A terminal that records what is done to it; lines printed "beside" it are recorded too.
    #[derive(Clone, Debug, Default)]
    struct Screen(Arc<Mutex<Vec<String>>>);

    impl Screen {
        fn push(&self, what: String) {
            self.0.lock().unwrap().push(what);
        }
    }

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            self.push(format!("up {n}"));
            Ok(())
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            self.push(format!("down {n}"));
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.push(format!("spinner {s}"));
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if !s.is_empty() {
                self.push(format!("spinner {s}"));
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.push("clear".into());
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_is_printed_with_the_spinner_cleared_and_it_is_drawn_again_after() {
        let screen = Screen::default();
        let bar = indicatif::ProgressBar::with_draw_target(
            None,
            indicatif::ProgressDrawTarget::term_like(Box::new(screen.clone())),
        );
        bar.set_style(indicatif::ProgressStyle::with_template("{msg}").unwrap());
        bar.set_message("12 exchanges judged");
        bar.tick();
        let lines = Lines(Arc::new(Mutex::new(Some(bar))));
        lines.with(|| screen.push("test property::x ... ok".into()));
        let ops = screen.0.lock().unwrap().clone();
        let at = ops.iter().position(|o| o == "test property::x ... ok").unwrap();
        let drawn = |o: &String| o.starts_with("spinner") && o.contains("12 exchanges");
        assert!(ops[..at].iter().any(drawn), "the spinner was drawn first: {ops:?}");
        let last_draw = ops[..at].iter().rposition(drawn).unwrap();
        assert!(ops[last_draw..at].iter().any(|o| o == "clear"), "cleared before the line: {ops:?}");
        assert!(ops[at..].iter().any(drawn), "drawn again after the line: {ops:?}");

        // Without a spinner the line is simply printed.
        let plain = Lines::default();
        assert_eq!(plain.with(|| 7), 7);
    }
}

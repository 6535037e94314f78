//! Progress while a run goes: a spinner on a terminal (once the run has lasted a moment), plain
//! lines now and then when not on one (CI logs). A consumer of the event stream that only bumps
//! counters; a thread of its own draws, so it never slows the run.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::events::{Event, Reporter, RunEnd};

pub struct Progress {
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
            let _ = t.join();
        }
        Ok(())
    }
}

impl Progress {
    /// Starts drawing; `limits` says what a soak run has left to spend.
    pub fn start(limits: crate::engine::Limits) -> Progress {
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
            let mut bar: Option<indicatif::ProgressBar> = None;
            let mut last_line = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
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
                    if bar.is_none() && started.elapsed() > Duration::from_millis(1500) {
                        let b = indicatif::ProgressBar::new_spinner();
                        b.set_style(
                            indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                                .expect("a valid template"),
                        );
                        bar = Some(b);
                    }
                    if let Some(b) = &bar {
                        b.set_message(msg);
                        b.tick();
                    }
                } else if last_line.elapsed() > Duration::from_secs(10) {
                    eprintln!("progress: {msg}");
                    last_line = Instant::now();
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        Progress { stop, judged, diverged, thread: Some(thread) }
    }
}

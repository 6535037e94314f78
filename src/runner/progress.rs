//! Progress while a run goes: a bar on a terminal (once the run has lasted a moment), plain lines
//! now and then when not on one (CI logs). Reads counters only; it never slows the run.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// `counts()` gives (requests sent, divergences so far).
    pub fn start(counts: impl Fn() -> (u64, usize) + Send + 'static) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let terminal = std::io::stderr().is_terminal();
            let mut bar: Option<indicatif::ProgressBar> = None;
            let mut last_line = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let (sent, diverged) = counts();
                let secs = started.elapsed().as_secs_f64().max(0.001);
                let msg =
                    format!("{sent} requests sent, {diverged} divergences so far, {:.0} req/s", sent as f64 / secs);
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
        Progress { stop, thread: Some(thread) }
    }

    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

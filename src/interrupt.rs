//! Ctrl-C and SIGTERM, for the commands that must wind down rather than die: the first signal is
//! recorded, and the command stops starting work, lets what is under way finish (requests in
//! flight, fixtures being put back), and reports what it found; a second signal ends the process
//! at once. `run`, `replay` and `serve` listen; everything else keeps the signals' default.

use std::sync::Arc;

use tokio::sync::watch;

/// The signal that asked a command to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: what `kill`, service managers and CI runners send.
    Terminate,
}

impl Signal {
    /// The exit code of a command it stopped: 128 plus the signal's number, as shells report a
    /// process the signal ended (130 for Ctrl-C, 143 for SIGTERM). Never 0.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => crate::error::exit::INTERRUPTED,
            Signal::Terminate => crate::error::exit::TERMINATED,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT (Ctrl-C)",
            Signal::Terminate => "SIGTERM",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether (and by which signal) the command was asked to stop. Clones share it.
#[derive(Clone)]
pub struct Interrupt(Arc<watch::Sender<Option<Signal>>>);

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt(Arc::new(watch::Sender::new(None)))
    }
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Interrupt").field(&self.received()).finish()
    }
}

impl Interrupt {
    /// The first signal received, if any.
    pub fn received(&self) -> Option<Signal> {
        *self.0.borrow()
    }

    /// Records `signal` as if it had been received (the first one is kept); `true` if it was the
    /// first.
    pub fn raise(&self, signal: Signal) -> bool {
        self.0.send_if_modified(|s| {
            if s.is_some() {
                return false;
            }
            *s = Some(signal);
            true
        })
    }

    /// Resolves once a signal has been received (at once if one has).
    pub async fn wait(&self) -> Signal {
        let mut rx = self.0.subscribe();
        let got = rx.wait_for(Option::is_some).await.ok().and_then(|s| *s);
        got.unwrap_or(Signal::Interrupt)
    }

    /// Takes Ctrl-C and SIGTERM over from their default action. The handlers are in place when
    /// this returns (a script that signals the process right after it started must not kill it
    /// by the default action). A thread of its own records the first signal, saying `first` on
    /// stderr, and ends the process on the second with that signal's exit code.
    pub fn listen(&self, first: &'static str) -> Result<(), crate::error::SetupError> {
        let cannot = |e: std::io::Error| crate::error::SetupError::Argument(format!("cannot listen for Ctrl-C: {e}"));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(cannot)?;
        // Registered with the thread's own runtime, entered (not driven) here, so that this may be
        // called from inside another runtime (`serve`'s).
        let mut signals = {
            let _in = runtime.enter();
            Signals::new().map_err(cannot)?
        };
        let me = self.clone();
        std::thread::Builder::new()
            .name("batchconf-signals".into())
            .spawn(move || {
                runtime.block_on(async move {
                    loop {
                        let signal = signals.next().await;
                        // Said before it is recorded: the command may end as soon as it is.
                        if me.received().is_none() {
                            eprintln!("\nbatchconf: {signal}: {first}; interrupt again to end at once");
                            me.raise(signal);
                        } else {
                            eprintln!("\nbatchconf: {signal} again: ending at once");
                            std::process::exit(me.received().unwrap_or(signal).exit_code());
                        }
                    }
                })
            })
            .map_err(cannot)?;
        Ok(())
    }
}

/// The signal streams, registered with the runtime they were made in.
#[cfg(unix)]
struct Signals {
    ctrl_c: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals { ctrl_c: signal(SignalKind::interrupt())?, term: signal(SignalKind::terminate())? })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.ctrl_c.recv() => Signal::Interrupt,
            _ = self.term.recv() => Signal::Terminate,
        }
    }
}

/// Elsewhere, Ctrl-C only.
#[cfg(not(unix))]
struct Signals(tokio::signal::windows::CtrlC);

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals(tokio::signal::windows::ctrl_c()?))
    }

    async fn next(&mut self) -> Signal {
        self.0.recv().await;
        Signal::Interrupt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_is_kept_and_its_exit_code_is_never_zero() {
        let i = Interrupt::default();
        assert_eq!(i.received(), None);
        assert!(i.raise(Signal::Terminate));
        assert!(!i.raise(Signal::Interrupt));
        assert_eq!(i.clone().received(), Some(Signal::Terminate));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert_eq!(rt.block_on(i.wait()), Signal::Terminate);
        assert_eq!((Signal::Interrupt.exit_code(), Signal::Terminate.exit_code()), (130, 143));
    }
}

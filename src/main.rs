//! The `batchconf` command: flags parsed into typed settings, one command run, its result turned
//! into the exit code in one place ([`batchconf::error::exit_code`]).

mod cli;

fn main() {
    // `batchconf run | head` should end quietly, as other command-line tools do, not panic on
    // the first write after the reader has gone.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(cli::main());
}

/// Every exchange allocates its request, answer and parsed JSON; with glibc's allocator that was a
/// fifth of a run's time (and of `serve`'s), with mimalloc a small share.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

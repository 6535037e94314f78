//! The `batchconf` command: flags parsed into typed settings, one command run, its result turned
//! into the exit code in one place ([`batchconf::error::exit_code`]).

mod cli;

fn main() {
    std::process::exit(cli::main());
}

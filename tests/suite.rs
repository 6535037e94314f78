//! The CI gate: the whole batchconf suite as libtest-mimic trials, against the in-process
//! reference server, or against `BATCHCONF_TARGET` when it is set. `cargo test --test suite --
//! --list` lists the trials without any I/O, so nextest can partition them.

fn main() -> std::process::ExitCode {
    batchconf::report::libtest::gate()
}

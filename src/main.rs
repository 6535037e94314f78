fn main() {
    std::process::exit(batchconf::cli::main());
}

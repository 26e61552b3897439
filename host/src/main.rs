//! The `kgdb-host` command.

fn main() -> std::process::ExitCode {
    kgdb_host::cli::main()
}

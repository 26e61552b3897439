//! The `kgdb-host` command.

/// The process's allocator (plugins keep their own: what crosses the boundary is freed by the
/// side that allocated it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kgdb_host::cli::main()
}

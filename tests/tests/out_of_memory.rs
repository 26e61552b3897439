//! A load that runs out of address space (`ulimit -v`) ends with one line on stderr and a
//! non-zero exit, and the store is intact: the load is undone at the next writing open.
//!
//! Where the limit strikes varies: LMDB may fail to grow its map (an `error:` line; before the
//! fix of this test's first run, the LMDB writer then crashed on the map LMDB had unmapped), or
//! an allocation fails, which Rust reports in one line (`memory allocation of N bytes failed`)
//! before aborting: the host has no `unsafe` allocator to turn that into an error.

use std::path::Path;
use std::process::Command;

use kgdb_tests::{host_binary, plugin_library};

fn host(dir: &Path, limit_kib: Option<u64>, args: &str) -> std::process::Output {
    let library = plugin_library("kgdb_plugin_lmdb");
    let command = format!(
        "{}exec '{}' --config plugins.toml --data-dir data {args}",
        limit_kib.map_or_else(String::new, |kib| format!("ulimit -v {kib}; ")),
        host_binary().display()
    );
    std::fs::write(
        dir.join("plugins.toml"),
        format!(
            "manifest_version = 1\ndefault = \"lmdb\"\n[[plugin]]\nname = \"lmdb\"\npath = {:?}\n[plugin.config]\nmap_size = \"1 MiB\"\n",
            library.display().to_string()
        ),
    )
    .unwrap();
    let _ = library;
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .env_remove("RUST_LOG")
        .output()
        .expect("sh runs")
}

#[test]
fn a_load_out_of_address_space_fails_in_one_line_and_is_undone() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..400_000 {
        text.push_str(&format!(
            "<http://oom.test/s{i}> <http://oom.test/p{}> \"value number {i}\" .\n",
            i % 11
        ));
    }
    std::fs::write(dir.path().join("big.nt"), text).unwrap();
    std::fs::write(
        dir.path().join("small.nt"),
        "<http://e/a> <http://e/p> \"x\" .\n",
    )
    .unwrap();
    let first = host(dir.path(), None, "load small.nt");
    assert!(first.status.success(), "{first:?}");
    // 160 MiB of address space: enough to start, not for the load.
    let starved = host(
        dir.path(),
        Some(160 * 1024),
        "load --chunk-quads 50000 big.nt",
    );
    let stderr = String::from_utf8_lossy(&starved.stderr);
    assert!(!starved.status.success(), "the load fit: {starved:?}");
    // Either one `error:` line (LMDB could not grow its map, say), or Rust's own report of a
    // failed allocation (one line, and the note on backtraces) before it aborts.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| {
            !line.trim().is_empty() && !line.starts_with("note: run with `RUST_BACKTRACE")
        })
        .collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].starts_with("error:") || lines[0].starts_with("memory allocation of"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let recovered = host(dir.path(), None, "recover");
    assert!(recovered.status.success(), "{recovered:?}");
    let count = host(dir.path(), None, "count");
    assert_eq!(
        String::from_utf8_lossy(&count.stdout).trim(),
        "1",
        "{count:?}"
    );
    let verify = host(dir.path(), None, "verify");
    assert!(verify.status.success(), "{verify:?}");
}

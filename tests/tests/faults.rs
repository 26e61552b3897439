//! Failures injected at chosen places (the faulty fixture plugin), and what the host makes of
//! them: a load that committed is reported as loaded even when its cleanup fails; a commit
//! that fails half-way through a load loads nothing.

use std::path::Path;

use kgdb_tests::{plugin_library, Run};

/// A manifest naming the faulty fixture as `faulty` with `config`.
fn manifest(dir: &Path, config: &str) {
    let text = format!(
        "manifest_version = 1\ndefault = \"faulty\"\n\n[[plugin]]\nname = \"faulty\"\npath = {:?}\n[plugin.config]\n{config}\n",
        plugin_library("kgdb_fixture_faulty_plugin")
    );
    std::fs::write(dir.join("plugins.toml"), text).unwrap();
}

fn quads(n: usize) -> String {
    (0..n)
        .map(|i| format!("<http://e/s{i}> <http://e/p> \"{i}\" .\n"))
        .collect()
}

/// Issue 15, defect 3: dropping the load journal after the load committed fails (a full disk,
/// say). The load is in: it says so, exits 0, and warns about the cleanup.
#[test]
fn a_load_that_committed_is_reported_loaded_when_its_cleanup_fails() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    manifest(d, "fail_drop_table = true");
    std::fs::write(d.join("some.nt"), quads(100)).unwrap();
    let run = Run::host(d, &["load", "some.nt"]);
    assert!(
        run.expect_success()
            .contains("loaded 100 new quads (100 read, 0 skipped)"),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .contains("the load committed, but dropping its journal table failed"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("No space left on device"), "{run:#?}");
    assert!(!run.stderr.contains("error:"), "{run:#?}");
}

/// A commit that fails in the middle of a chunked load: the load fails naming the cause, and
/// loads nothing.
#[test]
fn a_commit_failing_mid_load_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Commit 1 creates the store; 2 and 3 are the load's first chunks.
    manifest(d, "fail_commit_number = 3");
    std::fs::write(d.join("some.nt"), quads(100)).unwrap();
    let run = Run::host(
        d,
        &[
            "load",
            "some.nt",
            "--chunk-quads",
            "10",
            "--load-path",
            "transactions",
        ],
    );
    run.expect_one_line_error(&["commit 3", "No space left on device", "nothing was loaded"]);
}

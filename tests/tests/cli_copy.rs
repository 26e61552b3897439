//! `kgdb-host migrate` and `kgdb-host backup` end to end: lmdb ↔ rocksdb both ways with
//! canonicalised dumps compared, a copy into memory, backups by checkpoint restored, the
//! refusals, a process killed during a copy (the source untouched, nothing in the target's
//! place), and the format markers a store may carry.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kgdb_host::plugin::TxnOptions;
use kgdb_tests::store_kit::{canonical, parse_file};
use kgdb_tests::{host_binary, plugin_library, Run};

const LMDB: &str = "kgdb_plugin_lmdb";
const ROCKSDB: &str = "kgdb_plugin_rocksdb";
const MEMORY: &str = "kgdb_plugin_memory";

/// Runs `kgdb-host --plugin STEM --data-dir DATA ARGS` in `dir`.
fn host(dir: &Path, stem: &str, data: &str, args: &[&str]) -> Run {
    let library = plugin_library(stem);
    let mut all = vec!["--plugin", library.to_str().unwrap(), "--data-dir", data];
    all.extend_from_slice(args);
    Run::host(dir, &all)
}

/// `kgdb-host --plugin STEM --data-dir DATA migrate --to TO_STEM's library ARGS`.
fn migrate(dir: &Path, stem: &str, data: &str, to: &str, args: &[&str]) -> Run {
    let library = plugin_library(to);
    let mut all = vec!["migrate", "--to", library.to_str().unwrap()];
    all.extend_from_slice(args);
    host(dir, stem, data, &all)
}

/// Writes `quads` N-Quads lines with blank nodes, literals and named graphs to `dir/data.nq`.
fn write_data(dir: &Path, quads: usize) {
    let text: String = (0..quads)
        .map(|n| {
            let graph = match n % 4 {
                0 => String::new(),
                1 => "<http://e/g1> ".to_owned(),
                2 => "_:graph ".to_owned(),
                _ => format!("<http://e/g{}> ", n % 9),
            };
            let object = match n % 3 {
                0 => format!("\"value {n}\"@en"),
                1 => format!("_:b{}", n % 17),
                _ => format!("\"{n}\"^^<http://www.w3.org/2001/XMLSchema#integer>"),
            };
            format!(
                "<http://e/s{}> <http://e/p{}> {object} {graph}.\n",
                n / 3,
                n % 5
            )
        })
        .collect();
    std::fs::write(dir.join("data.nq"), text).unwrap();
}

/// The store's dump, canonicalised.
fn dump(dir: &Path, stem: &str, data: &str) -> oxrdf::Dataset {
    let file = format!("{data}-dump.nq");
    host(dir, stem, data, &["dump", "-o", &file]).expect_success();
    canonical(parse_file(&dir.join(file)))
}

fn count(dir: &Path, stem: &str, data: &str) -> String {
    host(dir, stem, data, &["count"])
        .expect_success()
        .to_owned()
}

#[test]
fn lmdb_and_rocksdb_migrate_both_ways_and_the_dumps_agree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_data(d, 5000);
    host(d, LMDB, "a", &["load", "data.nq"]).expect_success();
    let source = dump(d, LMDB, "a");
    let out = migrate(d, LMDB, "a", ROCKSDB, &["--to-data-dir", "b"])
        .expect_success()
        .to_owned();
    assert!(out.starts_with("migrated 5000 quads and "), "{out}");
    assert!(out.contains("from `lmdb` to `rocksdb` b ("), "{out}");
    assert!(out.contains(", as sorted runs); verified: "), "{out}");
    assert!(!d.join("b.partial").exists());
    assert_eq!(count(d, ROCKSDB, "b"), "5000\n");
    host(d, ROCKSDB, "b", &["verify"]).expect_success();
    assert_eq!(dump(d, ROCKSDB, "b"), source);
    // And back, into a directory that exists and is empty.
    std::fs::create_dir(d.join("c")).unwrap();
    migrate(d, ROCKSDB, "b", LMDB, &["--to-data-dir", "c"]).expect_success();
    assert_eq!(dump(d, LMDB, "c"), source);
    host(d, LMDB, "c", &["verify"]).expect_success();
    // The source is as it was, and each copy takes writes of its own.
    assert_eq!(dump(d, LMDB, "a"), source);
    host(
        d,
        LMDB,
        "c",
        &[
            "update",
            "INSERT DATA { <http://e/x> <http://e/y> <http://e/z> }",
        ],
    )
    .expect_success();
    assert_eq!(count(d, LMDB, "c"), "5001\n");
    assert_eq!(count(d, LMDB, "a"), "5000\n");
}

#[test]
fn a_migrate_into_memory_is_checked_and_said_to_be_gone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_data(d, 500);
    host(d, ROCKSDB, "a", &["load", "data.nq"]).expect_success();
    let run = migrate(d, ROCKSDB, "a", MEMORY, &[]);
    let out = run.expect_success();
    assert!(out.starts_with("migrated 500 quads and "), "{out}");
    assert!(out.contains("from `rocksdb` to `memory` in "), "{out}");
    assert!(
        run.stderr
            .contains("the `memory` plugin keeps nothing on disk: the copy is checked, then gone"),
        "{}",
        run.stderr
    );
}

#[test]
fn migrate_refuses_what_it_cannot_do_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_data(d, 100);
    host(d, LMDB, "a", &["load", "data.nq"]).expect_success();
    // No directory for a plugin that keeps data on disk.
    migrate(d, LMDB, "a", ROCKSDB, &[]).expect_one_line_error(&[
        "the `rocksdb` plugin keeps its data on disk",
        "--to-data-dir",
    ]);
    // A directory with something in it.
    std::fs::create_dir(d.join("full")).unwrap();
    std::fs::write(d.join("full/x"), "x").unwrap();
    migrate(d, LMDB, "a", ROCKSDB, &["--to-data-dir", "full"])
        .expect_one_line_error(&["full: the directory is not empty"]);
    // A config the target plugin rejects, named with its file.
    std::fs::write(d.join("bad.toml"), "no_such_key = 1\n").unwrap();
    migrate(
        d,
        LMDB,
        "a",
        ROCKSDB,
        &["--to-data-dir", "b", "--to-config", "bad.toml"],
    )
    .expect_one_line_error(&["bad.toml", "no_such_key"]);
    // A source that does not exist.
    migrate(d, LMDB, "missing", ROCKSDB, &["--to-data-dir", "b"])
        .expect_one_line_error(&["missing: no such data directory"]);
    assert!(!d.join("b").exists() && !d.join("b.partial").exists());
    // A config that it takes.
    std::fs::write(d.join("good.toml"), "compression = \"zstd\"\n").unwrap();
    migrate(
        d,
        LMDB,
        "a",
        ROCKSDB,
        &["--to-data-dir", "b", "--to-config", "good.toml"],
    )
    .expect_success();
    assert_eq!(count(d, ROCKSDB, "b"), "100\n");
}

#[test]
fn backups_by_checkpoint_verify_and_restore() {
    for stem in [LMDB, ROCKSDB] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_data(d, 2000);
        host(d, stem, "data", &["load", "data.nq"]).expect_success();
        let before = dump(d, stem, "data");
        let out = host(d, stem, "data", &["backup", "saved"])
            .expect_success()
            .to_owned();
        assert!(
            out.starts_with("backed up 2000 quads and ")
                && out.contains(" into saved by checkpoint (the plugin's consistent copy) in ")
                && out.contains("; verified: "),
            "{stem}: {out}"
        );
        // The store changes, then is lost.
        host(d, stem, "data", &["update", "CLEAR ALL"]).expect_success();
        assert_eq!(count(d, stem, "data"), "0\n");
        std::fs::remove_dir_all(d.join("data")).unwrap();
        // Restored by a backup of the backup, which stays as it is.
        host(d, stem, "saved", &["backup", "data"]).expect_success();
        assert_eq!(dump(d, stem, "data"), before, "{stem}");
        host(d, stem, "data", &["verify"]).expect_success();
        assert_eq!(dump(d, stem, "saved"), before, "{stem}");
        // A backup never goes over anything.
        host(d, stem, "data", &["backup", "saved"])
            .expect_one_line_error(&["saved: the directory is not empty"]);
    }
}

#[test]
fn a_plugin_that_keeps_nothing_has_nothing_to_back_up() {
    let dir = tempfile::tempdir().unwrap();
    host(dir.path(), MEMORY, "data", &["backup", "saved"]).expect_one_line_error(&[
        "nothing to back up: the `memory` plugin keeps nothing on disk",
        "kgdb-host migrate",
    ]);
    assert!(!dir.path().join("saved").exists());
}

/// Starts `kgdb-host ARGS`, waits for `appears` to exist, lets it run `after` more, and kills
/// it with SIGKILL; panics if it ended by itself first.
fn kill_when(dir: &Path, args: &[&str], appears: &Path, after: Duration) {
    let mut child = Command::new(host_binary())
        .args(args)
        .current_dir(dir)
        .env_remove("KGDB_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !appears.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the copy ended before {} appeared",
            appears.display()
        );
        assert!(started.elapsed() < Duration::from_secs(60), "timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(after);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the copy ended before it was killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_killed_migrate_or_backup_leaves_the_source_untouched_and_nothing_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_data(d, 60_000);
    host(d, LMDB, "a", &["load", "data.nq"]).expect_success();
    let before = dump(d, LMDB, "a");
    let lmdb = plugin_library(LMDB);
    let rocksdb = plugin_library(ROCKSDB);
    let source = ["--plugin", lmdb.to_str().unwrap(), "--data-dir", "a"];
    // A migrate killed while it copies.
    let mut args = source.to_vec();
    args.extend([
        "migrate",
        "--to",
        rocksdb.to_str().unwrap(),
        "--to-data-dir",
        "b",
    ]);
    kill_when(
        d,
        &args,
        &d.join("b.partial/CURRENT"),
        Duration::from_millis(30),
    );
    assert!(!d.join("b").exists());
    // What is left is no store, and says how to clear it.
    host(d, ROCKSDB, "b.partial", &["count"]).expect_one_line_error(&["b.partial"]);
    migrate(d, LMDB, "a", ROCKSDB, &["--to-data-dir", "b"])
        .expect_one_line_error(&[
            "b.partial: an earlier copy into b did not finish and left this; remove it (`rm -r b.partial`)",
        ]);
    std::fs::remove_dir_all(d.join("b.partial")).unwrap();
    // A backup killed while it verifies its copy.
    let mut args = source.to_vec();
    args.extend(["backup", "saved"]);
    kill_when(
        d,
        &args,
        &d.join("saved.partial/data.mdb"),
        Duration::from_millis(30),
    );
    assert!(!d.join("saved").exists());
    // The source is untouched by both.
    assert_eq!(dump(d, LMDB, "a"), before);
    host(d, LMDB, "a", &["verify"]).expect_success();
    // And the copies work once the leftovers are gone.
    std::fs::remove_dir_all(d.join("saved.partial")).unwrap();
    host(d, LMDB, "a", &["backup", "saved"]).expect_success();
    migrate(d, LMDB, "a", ROCKSDB, &["--to-data-dir", "b"]).expect_success();
    assert_eq!(dump(d, ROCKSDB, "b"), before);
}

/// Writes `marker` as the format marker of the store in `dir/data` (plugin `stem`).
fn set_format_marker(dir: &Path, stem: &str, marker: &[u8]) {
    let backend = kgdb_tests::open_backend(stem, &dir.join("data"), "");
    let meta = backend.open_table("store.meta", false).unwrap();
    let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
    txn.put(meta, b"format", marker).unwrap();
    txn.commit().unwrap();
    backend.close().unwrap();
}

#[test]
fn a_store_of_another_format_is_refused_by_every_command_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_data(d, 10);
    host(d, LMDB, "data", &["load", "data.nq"]).expect_success();
    set_format_marker(d, LMDB, b"kgdb-quadstore 2");
    for args in [
        &["count"][..],
        &["load", "data.nq"],
        &["verify"],
        &["backup", "saved"],
    ] {
        host(d, LMDB, "data", args).expect_one_line_error(&[
            "the store is in format 2, written by a newer kgdb; this kgdb (",
            ") reads format 1: open it with a kgdb that reads format 2",
        ]);
    }
    assert!(!d.join("saved").exists());
    let status = host(d, LMDB, "data", &["status"])
        .expect_success()
        .to_owned();
    assert!(
        status.contains(
            "\nstore:        not readable here: the store is in format 2, written by a newer kgdb"
        ),
        "{status}"
    );
    set_format_marker(d, LMDB, b"something else");
    host(d, LMDB, "data", &["count"]).expect_one_line_error(&[
        "format marker is `something else`, not a kgdb QuadStore's (`kgdb-quadstore 1`)",
    ]);
    set_format_marker(d, LMDB, b"kgdb-quadstore 1");
    assert_eq!(count(d, LMDB, "data"), "10\n");
    let status = host(d, LMDB, "data", &["status"])
        .expect_success()
        .to_owned();
    assert!(
        status.contains("\nstore:        format 1 (the format this kgdb reads and writes)\n"),
        "{status}"
    );
    host(d, LMDB, "data", &["verify"]).expect_success();
}

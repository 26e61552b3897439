//! Reading processes beside a writing one, each a separate `kgdb-host` process: `count` and
//! `quads` beside another process that loads into the same store wait for the load and see
//! all of it, never a part; they work while a
//! `quads` reader holds its snapshot; a second writer is refused, naming the first; and a
//! read-only command leaves every data file as it was.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use kgdb_tests::{host_binary, plugin_library, Run};

const PERSISTENT: [&str; 2] = ["kgdb_plugin_lmdb", "kgdb_plugin_rocksdb"];

fn host(dir: &Path, stem: &str, args: &[&str]) -> Run {
    kgdb_tests::run_plugin(dir, stem, args)
}

/// Starts `kgdb-host` in the background with `args`; stdout and stderr are piped.
fn spawn(dir: &Path, stem: &str, args: &[&str]) -> Child {
    let library = plugin_library(stem);
    Command::new(host_binary())
        .args(["--plugin", library.to_str().unwrap(), "--data-dir", "data"])
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("KGDB_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `n` distinct quads in five named graphs, as N-Quads.
fn quads(n: usize, tag: &str) -> String {
    let mut text = String::with_capacity(n * 80);
    for i in 0..n {
        text.push_str(&format!(
            "<http://e/{tag}/s{i}> <http://e/p{}> \"value {i}\" <http://e/g{}> .\n",
            i % 13,
            i % 5
        ));
    }
    text
}

/// Waits until `child`'s stderr has shown `lines` lines saying a load chunk or batch was
/// written; hands the rest of stderr to a thread that drains it (so the child never blocks on
/// a full pipe).
fn wait_for_chunks(child: &mut Child, lines: usize) {
    let stderr = child.stderr.take().unwrap();
    let mut reader = BufReader::new(stderr);
    let mut seen = 0;
    let mut line = String::new();
    while seen < lines {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the process ended before {lines} chunks were written"
        );
        if line.contains("committed load chunk") || line.contains("wrote load batch") {
            seen += 1;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
}

fn count(dir: &Path, stem: &str) -> (u64, Run) {
    let run = host(dir, stem, &["count"]);
    let value = run
        .expect_success()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{stem}: {e}: {run:?}"));
    (value, run)
}

#[test]
fn readers_work_while_another_process_loads_and_a_second_writer_is_refused() {
    for stem in PERSISTENT {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("first.nq"), quads(100, "first")).unwrap();
        std::fs::write(d.join("big.nq"), quads(200_000, "big")).unwrap();
        std::fs::write(d.join("small.nq"), quads(10, "small")).unwrap();
        host(d, stem, &["load", "first.nq"]).expect_success();

        // Chunks of 5,000 quads (transactions on LMDB, batches on RocksDB): the store records
        // the unfinished load from the first chunk on.
        let path = if stem.contains("lmdb") {
            "transactions"
        } else {
            "batches"
        };
        let mut load = spawn(
            d,
            stem,
            &[
                "-v",
                "load",
                "big.nq",
                "--chunk-quads",
                "5000",
                "--load-path",
                path,
            ],
        );
        wait_for_chunks(&mut load, 2);
        let writer_pid = load.id();
        // The load holds the writer lock: a second writer is refused, naming it.
        host(d, stem, &["load", "small.nq"])
            .expect_one_line_error(&["in use by process", &writer_pid.to_string()]);
        // A reader never sees part of the load (two chunks are in already): it waits for the
        // load to end, then reads all of it.
        let (value, run) = count(d, stem);
        assert_eq!(value, 200_100, "{stem}: {run:?}");
        let run = host(d, stem, &["quads", "<http://e/first/s7>", "*", "*"]);
        assert_eq!(
            run.expect_success(),
            "<http://e/first/s7> <http://e/p7> \"value 7\" <http://e/g2> .\n",
            "{stem}: {run:?}"
        );
        assert!(load.wait().unwrap().success(), "{stem}: the load failed");
        let (value, run) = count(d, stem);
        assert_eq!(value, 200_100, "{stem}: {run:?}");
        assert!(run.stderr.is_empty(), "{stem}: {run:?}");
        assert!(host(d, stem, &["verify"])
            .expect_success()
            .starts_with("ok: "));
    }
}

#[test]
fn a_long_reader_keeps_its_view_while_others_read_and_write() {
    for stem in PERSISTENT {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("first.nq"), quads(30_000, "first")).unwrap();
        std::fs::write(d.join("more.nq"), quads(1_000, "more")).unwrap();
        host(d, stem, &["load", "first.nq"]).expect_success();

        // A reader whose output nobody reads yet: it blocks on the full pipe, holding its
        // snapshot open.
        let mut reader = spawn(d, stem, &["quads", "*", "*", "*"]);
        let mut stdout = reader.stdout.take().unwrap();
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(200) {
            assert!(reader.try_wait().unwrap().is_none(), "{stem}: it finished");
            std::thread::sleep(Duration::from_millis(20));
        }

        assert_eq!(count(d, stem).0, 30_000);
        let run = host(d, stem, &["load", "more.nq"]);
        assert!(
            run.expect_success().contains("the store holds 31000 quads"),
            "{stem}: {run:?}"
        );
        assert_eq!(count(d, stem).0, 31_000);

        // The long reader saw the store as it was when it began.
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert!(reader.wait().unwrap().success(), "{stem}");
        assert_eq!(rest.lines().count(), 30_000, "{stem}");
        assert!(!rest.contains("http://e/more/"), "{stem}");
    }
}

/// Every file under `dir` with its bytes and modification time, but for `skip` (the engine's
/// own reader table, which reading processes use by design).
fn files(dir: &Path, skip: &[&str]) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if skip.iter().any(|name| entry.file_name() == *name) {
            continue;
        }
        if path.is_dir() {
            out.extend(files(&path, skip));
        } else {
            let modified = entry.metadata().unwrap().modified().unwrap();
            out.insert(path.clone(), (std::fs::read(&path).unwrap(), modified));
        }
    }
    out
}

#[test]
fn reading_commands_write_nothing() {
    for stem in PERSISTENT {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("first.nq"), quads(2_000, "first")).unwrap();
        host(d, stem, &["load", "first.nq"]).expect_success();
        // LMDB's `lock.mdb` is its reader table: readers take a slot there (shared memory).
        let skip = ["lock.mdb"];
        let before = files(&d.join("data"), &skip);
        std::thread::sleep(Duration::from_millis(20));
        for args in [
            &["count"][..],
            &["count", "--graph", "http://e/g1"],
            &["quads", "*", "<http://e/p1>", "*"],
            &["dump"],
            &["graphs"],
            &["stats"],
            &["stats", "--json"],
            &["verify"],
            &["status"],
        ] {
            host(d, stem, args).expect_success();
        }
        let after = files(&d.join("data"), &skip);
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>(),
            "{stem}: files came or went"
        );
        for (path, (bytes, modified)) in &before {
            let (after_bytes, after_modified) = &after[path];
            assert!(
                bytes == after_bytes && modified == after_modified,
                "{stem}: {} changed",
                path.display()
            );
        }
    }
}

/// A reader that stays open (this process, read-only, as a server would) keeps caches of term
/// ids and resolved terms; when another process empties the store and loads other terms,
/// which then get the same ids, the reader's next snapshot must see the new terms, never the
/// cached old ones.
#[test]
fn a_long_lived_readers_caches_follow_another_process_clearing_the_store() {
    use kgdb_host::plugin::{OpenSettings, PluginLoader};
    use kgdb_host::store::{GraphPattern, QuadPattern, Store};

    let stem = "kgdb_plugin_lmdb";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.nq"), quads(500, "a")).unwrap();
    std::fs::write(d.join("b.nq"), quads(300, "b")).unwrap();
    host(d, stem, &["load", "a.nq"]).expect_success();

    let loader = PluginLoader::new();
    let plugin = kgdb_tests::load_plugin(&loader, stem);
    let backend = plugin
        .open(&OpenSettings {
            data_dir: Some(d.join("data")),
            read_only: true,
            ..OpenSettings::default()
        })
        .unwrap();
    let store = Store::open_read_only(backend).unwrap();
    let all = |store: &Store| -> Vec<String> {
        let snapshot = store.snapshot().unwrap();
        let mut quads: Vec<String> = snapshot
            .quads_for_pattern(&QuadPattern::default())
            .unwrap()
            .map(|quad| quad.unwrap().to_string())
            .collect();
        quads.sort();
        quads
    };
    let subject = |tag: &str| QuadPattern {
        subject: Some(
            oxrdf::NamedNode::new(format!("http://e/{tag}/s1"))
                .unwrap()
                .into(),
        ),
        graph: GraphPattern::Any,
        ..QuadPattern::default()
    };
    let matches = |store: &Store, pattern: &QuadPattern| {
        store
            .snapshot()
            .unwrap()
            .quads_for_pattern(pattern)
            .unwrap()
            .count()
    };
    // Warm both caches: every term resolved, one looked up.
    let before = all(&store);
    assert_eq!(before.len(), 500);
    assert_eq!(matches(&store, &subject("a")), 1);

    host(d, stem, &["clear"]).expect_success();
    host(d, stem, &["load", "b.nq"]).expect_success();

    let after = all(&store);
    assert_eq!(after.len(), 300);
    assert!(
        after.iter().all(|quad| quad.contains("http://e/b/")),
        "the reader resolved ids through its stale cache: {:?}",
        &after[..3]
    );
    assert_eq!(matches(&store, &subject("a")), 0);
    assert_eq!(matches(&store, &subject("b")), 1);
}

//! `kgdb-host load --load-path sorted` killed with SIGKILL at each stage (parsing, spilling,
//! ingesting) on lmdb and rocksdb: the next writing command undoes what the load wrote and
//! removes its spill directory, so the store holds exactly what it held, and `verify` is
//! clean; first into an empty store (nothing journaled), then into one that holds quads. Then
//! the same load, run to its end, stores every quad.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kgdb_tests::{host_binary, plugin_library, run_plugin};

const PERSISTENT: [&str; 2] = ["kgdb_plugin_lmdb", "kgdb_plugin_rocksdb"];

/// `n` distinct quads, as N-Quads.
fn quads(n: usize, tag: &str) -> String {
    let mut text = String::with_capacity(n * 90);
    for i in 0..n {
        text.push_str(&format!(
            "<http://e/{tag}/s{}> <http://e/p{}> \"value {i}\" <http://e/g{}> .\n",
            i / 2,
            i % 13,
            i % 5
        ));
        if i % 4 == 0 {
            text.push_str(&format!(
                "<http://e/{tag}/s{i}> <http://e/p> <http://e/o{}> .\n",
                i % 1000
            ));
        }
    }
    text
}

/// The store's dump, its lines sorted.
fn dump(dir: &Path, stem: &str) -> Vec<String> {
    let run = run_plugin(dir, stem, &["dump"]);
    let mut lines: Vec<String> = run.expect_success().lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// Runs the sorted load and kills it when stderr shows a line containing `at` (or, for
/// `None`, after `delay`); `true` if it was killed before it ended.
fn load_and_kill(dir: &Path, stem: &str, at: Option<&str>, delay: Duration) -> bool {
    let library = plugin_library(stem);
    let mut child = Command::new(host_binary())
        .args([
            "--plugin",
            library.to_str().unwrap(),
            "--data-dir",
            "data",
            "-v",
        ])
        .args([
            "load",
            "big.nq",
            "--load-path",
            "sorted",
            "--memory-budget",
            "1MiB",
        ])
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("KGDB_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let started = Instant::now();
    match at {
        Some(marker) => {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap() == 0 {
                    panic!("{stem}: the load ended before a line with `{marker}`");
                }
                if line.contains(marker) {
                    break;
                }
            }
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        }
        None => {
            std::thread::spawn(move || {
                let mut stderr = stderr;
                std::io::copy(&mut stderr, &mut std::io::sink())
            });
            std::thread::sleep(delay);
        }
    }
    let killed = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(300));
    killed
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("data"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".kgdb-load-"))
        .collect()
}

#[test]
fn a_sorted_load_killed_at_any_stage_leaves_the_store_as_it_was() {
    for stem in PERSISTENT {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("base.nq"), quads(2000, "base")).unwrap();
        // Overlaps the base: some of its quads are stored already.
        let mut big = quads(60_000, "big");
        big.push_str(&quads(500, "base"));
        std::fs::write(d.join("big.nq"), big).unwrap();
        // Into an empty store, a load journals nothing: its undo empties the indexes.
        assert!(
            load_and_kill(d, stem, Some("ingested sorted runs"), Duration::ZERO),
            "{stem}: the load into the empty store ended before it was killed"
        );
        run_plugin(d, stem, &["recover"]).expect_success();
        assert_eq!(run_plugin(d, stem, &["count"]).expect_success().trim(), "0");
        assert!(run_plugin(d, stem, &["verify"])
            .expect_success()
            .starts_with("ok: "));

        run_plugin(d, stem, &["load", "base.nq"]).expect_success();
        let before = dump(d, stem);

        let mut killed_in = Vec::new();
        for (stage, at, delay) in [
            ("parsing", None, Duration::from_millis(300)),
            ("spilling", Some("spilled a sorted run"), Duration::ZERO),
            ("ingesting", Some("ingested sorted runs"), Duration::ZERO),
        ] {
            if load_and_kill(d, stem, at, delay) {
                killed_in.push(stage);
            }
            // The next writing command undoes the load and removes its spills.
            let run = run_plugin(d, stem, &["recover"]);
            run.expect_success();
            assert!(
                leftovers(d).is_empty(),
                "{stem}, {stage}: {:?}",
                leftovers(d)
            );
            assert_eq!(dump(d, stem), before, "{stem}: killed while {stage}");
            let verify = run_plugin(d, stem, &["verify"]);
            assert!(
                verify.expect_success().starts_with("ok: "),
                "{stem}, {stage}: {verify:?}"
            );
        }
        assert_eq!(
            killed_in,
            ["parsing", "spilling", "ingesting"],
            "{stem}: the load ended before it was killed"
        );

        run_plugin(
            d,
            stem,
            &[
                "load",
                "big.nq",
                "--load-path",
                "sorted",
                "--memory-budget",
                "1MiB",
            ],
        )
        .expect_success();
        let mut expected = before.clone();
        expected.extend(
            std::fs::read_to_string(d.join("big.nq"))
                .unwrap()
                .lines()
                .map(str::to_owned),
        );
        expected.sort();
        expected.dedup();
        assert_eq!(dump(d, stem), expected, "{stem}");
        assert!(run_plugin(d, stem, &["verify"])
            .expect_success()
            .starts_with("ok: "));
        assert!(leftovers(d).is_empty(), "{stem}");
    }
}

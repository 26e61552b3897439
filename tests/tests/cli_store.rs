//! The data commands end to end, each run a separate `kgdb-host` process: load, then count and
//! query in new processes; errors with file:line:column; a load killed with SIGKILL halfway
//! leaves the store as it was.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use kgdb_tests::{host_binary, plugin_library, Run};

const PERSISTENT: [&str; 2] = ["kgdb_plugin_lmdb", "kgdb_plugin_rocksdb"];

fn host(dir: &Path, stem: &str, args: &[&str]) -> Run {
    kgdb_tests::run_plugin(dir, stem, args)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const LIBRARY: &str = r#"
@prefix s: <http://schema.org/> .
@prefix e: <http://e/> .
e:book1 s:author e:ann ; s:name "Un"@fr, "One"@en .
e:book2 s:author e:ann ; s:name "Two" ; s:pages 12 .
e:book3 s:author e:bob ; s:name "Three"@en-GB--ltr .
"#;

#[test]
fn load_then_query_in_new_processes() {
    for stem in PERSISTENT {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "library.ttl", LIBRARY);
        let out = host(d, stem, &["load", "library.ttl"])
            .expect_success()
            .to_owned();
        assert!(out.contains("loaded 8 new quads"), "{out}");
        assert_eq!(host(d, stem, &["count"]).expect_success(), "8\n");
        let run = host(
            d,
            stem,
            &[
                "quads",
                "?b",
                "<http://schema.org/author>",
                "<http://e/ann>",
            ],
        );
        let lines: Vec<&str> = run.expect_success().lines().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines.iter().all(|l| l.ends_with("<http://e/ann> .")),
            "{lines:?}"
        );
        let run = host(d, stem, &["quads", "*", "*", "\"Three\"@en-gb--ltr"]);
        assert_eq!(run.expect_success().lines().count(), 1, "{run:?}");
        let run = host(
            d,
            stem,
            &["quads", "*", "*", "*", "default", "--limit", "3"],
        );
        assert_eq!(run.expect_success().lines().count(), 3);
        let run = host(d, stem, &["quads", "*", "*", "*", "<http://e/nowhere>"]);
        assert_eq!(run.expect_success(), "");

        // Into a named graph, then graphs, dump and reload, remove, clear.
        host(d, stem, &["load", "--graph", "http://e/g", "library.ttl"]).expect_success();
        assert_eq!(host(d, stem, &["count"]).expect_success(), "16\n");
        assert_eq!(
            host(d, stem, &["count", "--graph", "<http://e/g>"]).expect_success(),
            "8\n"
        );
        assert_eq!(
            host(d, stem, &["graphs"]).expect_success(),
            "<http://e/g>\t8\n"
        );
        host(d, stem, &["dump", "-o", "all.trig"]).expect_success();
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(d.join("all.trig"), copy.path().join("all.trig")).unwrap();
        host(copy.path(), stem, &["load", "all.trig"]).expect_success();
        assert_eq!(host(copy.path(), stem, &["count"]).expect_success(), "16\n");
        let run = host(d, stem, &["dump", "--format", "nt"]);
        run.expect_one_line_error(&["N-Triples", "1 named graph", "--graph"]);
        let run = host(
            d,
            stem,
            &["remove", "*", "<http://schema.org/name>", "*", "default"],
        );
        assert_eq!(run.expect_success(), "removed 4 quads\n");
        let run = host(d, stem, &["clear", "--graph", "<http://e/g>"]);
        assert_eq!(run.expect_success(), "removed 8 quads\n");
        assert_eq!(host(d, stem, &["count"]).expect_success(), "4\n");
        let out = host(d, stem, &["verify"]).expect_success().to_owned();
        assert!(out.starts_with("ok: "), "{out}");
        host(d, stem, &["clear"]).expect_success();
        assert_eq!(host(d, stem, &["count"]).expect_success(), "0\n");
    }
}

#[test]
fn user_errors_are_one_line() {
    let stem = "kgdb_plugin_lmdb";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    host(d, stem, &["count"]).expect_one_line_error(&["data", "no such data directory"]);
    host(d, stem, &["load", "missing.nt"]).expect_one_line_error(&["missing.nt", "no such file"]);
    write(d, "x.txt", "");
    host(d, stem, &["load", "x.txt"]).expect_one_line_error(&["x.txt", "--format"]);
    host(d, stem, &["load", "-"]).expect_one_line_error(&["stdin", "--format"]);
    write(d, "a.nt", "<http://e/a> <http://e/b> <http://e/c> .\n");
    host(d, stem, &["load", "a.nt"]).expect_success();
    host(d, stem, &["quads", "<broken", "*", "*"])
        .expect_one_line_error(&["invalid subject", "<broken"]);
    host(d, stem, &["quads", "*", "*", "*", "\"lit\""]).expect_one_line_error(&["invalid graph"]);
    host(d, stem, &["load", "--format", "yaml", "a.nt"])
        .expect_one_line_error(&["unknown RDF format", "yaml"]);
    write(d, "relative.ttl", "<x> <y> <z> .\n");
    host(d, stem, &["load", "--base", "not an iri", "relative.ttl"])
        .expect_one_line_error(&["invalid base IRI"]);
    host(d, stem, &["load", "relative.ttl"])
        .expect_one_line_error(&["relative.ttl:1:", "nothing was loaded"]);
    host(d, stem, &["load", "--base", "http://e/", "relative.ttl"]).expect_success();
    assert_eq!(host(d, stem, &["count"]).expect_success(), "2\n");
}

#[test]
fn a_bad_line_loads_nothing_unless_lenient() {
    for stem in PERSISTENT {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut text = String::new();
        for i in 0..100 {
            if i == 49 {
                text.push_str("<http://e/s> <http://e/p> <not an iri> .\n");
            } else {
                text.push_str(&format!("<http://e/s{i}> <http://e/p> \"{i}\" .\n"));
            }
        }
        write(d, "bad.nt", &text);
        let line = host(d, stem, &["load", "bad.nt", "--chunk-quads", "10"])
            .expect_one_line_error(&["bad.nt:50:", "nothing was loaded", "--lenient"]);
        assert!(!line.contains("panic"), "{line}");
        assert_eq!(host(d, stem, &["count"]).expect_success(), "0\n");
        let run = host(d, stem, &["load", "--lenient", "bad.nt"]);
        assert!(
            run.expect_success()
                .contains("loaded 99 new quads (99 read, 1 skipped)"),
            "{run:?}"
        );
        assert!(
            run.stderr.contains("warning: skipped bad.nt:50:"),
            "{run:?}"
        );
        assert_eq!(host(d, stem, &["count"]).expect_success(), "99\n");
    }
}

#[test]
fn stdin_and_gzip_inputs() {
    let stem = "kgdb_plugin_lmdb";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(
        &mut encoder,
        b"<http://e/a> <http://e/b> \"gz\" <http://e/g> .\n",
    )
    .unwrap();
    std::fs::write(d.join("a.nq.gz"), encoder.finish().unwrap()).unwrap();
    host(d, stem, &["load", "a.nq.gz"]).expect_success();
    let library = plugin_library(stem);
    let mut child = Command::new(host_binary())
        .args(["--plugin", library.to_str().unwrap(), "--data-dir", "data"])
        .args(["load", "--format", "ttl", "-"])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        b"@prefix e: <http://e/> . e:x e:y e:z .",
    )
    .unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(host(d, stem, &["count"]).expect_success(), "2\n");
}

/// SIGKILL a load after it committed two chunks (or wrote two batches): the next process
/// finds the store as it was before the load, and `verify` is clean.
#[test]
fn a_load_killed_halfway_leaves_the_store_as_it_was() {
    for (stem, path) in PERSISTENT
        .iter()
        .flat_map(|stem| [(*stem, "transactions"), (*stem, "batches")])
    {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "before.nt",
            "<http://e/a> <http://e/b> <http://e/c> .\n<http://e/a> <http://e/b> \"d\" .\n",
        );
        host(d, stem, &["load", "before.nt"]).expect_success();
        let mut text = String::with_capacity(8 << 20);
        for i in 0..120_000 {
            text.push_str(&format!(
                "<http://e/big/s{i}> <http://e/p{}> \"value {i}\" <http://e/g{}> .\n",
                i % 17,
                i % 5
            ));
        }
        write(d, "big.nq", &text);
        let library = plugin_library(stem);
        let mut child = Command::new(host_binary())
            .args([
                "-v",
                "--plugin",
                library.to_str().unwrap(),
                "--data-dir",
                "data",
            ])
            .args([
                "load",
                "big.nq",
                "--chunk-quads",
                "5000",
                "--load-path",
                path,
            ])
            .current_dir(d)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut chunks = 0;
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            if line.contains("committed load chunk") || line.contains("wrote load batch") {
                chunks += 1;
                if chunks == 2 {
                    break;
                }
            }
        }
        assert_eq!(
            chunks, 2,
            "{stem}, {path}: the load wrote two chunks before the kill"
        );
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "{stem}, {path}: killed, not finished");
        // A reader writes nothing, and sees no part of the load: it says the load was
        // interrupted (its process is gone) and how to undo it.
        host(d, stem, &["count"]).expect_one_line_error(&[
            "a load into this store was interrupted",
            &format!("its process {} is gone", child.id()),
            "kgdb-host recover",
        ]);
        // A writing open undoes it, without reading the journaled quads one by one (the
        // journal says they are there).
        let run = host(d, stem, &["--stats", "recover"]);
        assert_eq!(
            run.expect_success(),
            "undid an interrupted load; the store holds 2 quads\n",
            "{stem}: {run:?}"
        );
        for op in ["get", "get_many"] {
            let calls: u64 = run
                .stderr
                .lines()
                .find_map(|line| {
                    let mut cells = line.split_whitespace();
                    (cells.next() == Some(op)).then(|| cells.next().unwrap().parse().unwrap())
                })
                .unwrap_or(0);
            assert!(
                calls < 200,
                "{stem}: {calls} {op} calls for at least 10,000 quads: {run:?}"
            );
        }
        // The outcome is the one line above; the undo's own log lines are at info level.
        assert!(!run.stderr.contains("WARN"), "{stem}: {run:?}");
        let run = host(d, stem, &["count"]);
        assert_eq!(run.expect_success(), "2\n", "{stem}: {run:?}");
        assert!(run.stderr.is_empty(), "{stem}: {run:?}");
        assert_eq!(
            host(d, stem, &["recover"]).expect_success(),
            "nothing to recover: no load was interrupted\n"
        );
        let out = host(d, stem, &["verify"]).expect_success().to_owned();
        assert!(out.starts_with("ok: 6 index entries"), "{stem}: {out}");
        assert_eq!(
            host(d, stem, &["quads", "<http://e/big/s1>", "*", "*"]).expect_success(),
            ""
        );
        assert_eq!(host(d, stem, &["graphs"]).expect_success(), "");
        // And the same load, left alone, completes.
        let run = host(
            d,
            stem,
            &[
                "load",
                "big.nq",
                "--chunk-quads",
                "50000",
                "--load-path",
                path,
            ],
        );
        assert!(
            run.expect_success()
                .contains("the store holds 120002 quads"),
            "{run:?}"
        );
        assert!(host(d, stem, &["verify"])
            .expect_success()
            .starts_with("ok: "));
    }
}

/// An engine file that goes missing (RocksDB's `CURRENT`, LMDB's `data.mdb`) or is emptied is
/// `corruption` naming it, for reading and writing commands alike, and nothing is written: the
/// other files stay, and putting the file back brings the store back whole.
#[test]
fn a_missing_engine_file_is_corruption_and_nothing_is_written() {
    let cases: [(&str, &str, bool); 3] = [
        ("kgdb_plugin_rocksdb", "CURRENT", false),
        ("kgdb_plugin_lmdb", "data.mdb", false),
        ("kgdb_plugin_lmdb", "data.mdb", true),
    ];
    for (stem, file, empty_it) in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "library.ttl", LIBRARY);
        host(d, stem, &["load", "library.ttl"]).expect_success();
        let data = d.join("data");
        let saved = std::fs::read(data.join(file)).unwrap();
        if empty_it {
            std::fs::write(data.join(file), b"").unwrap();
        } else {
            std::fs::remove_file(data.join(file)).unwrap();
        }
        let listing = || {
            let mut names: Vec<(String, u64)> = std::fs::read_dir(&data)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.metadata().unwrap().len(),
                    )
                })
                .filter(|(name, _)| name != "lock.mdb" && name != "kgdb.lock")
                .collect();
            names.sort();
            names
        };
        let before = listing();
        let what = if empty_it { "empty" } else { "missing" };
        for args in [
            &["count"][..],
            &["count"],
            &["verify"],
            &["load", "library.ttl"],
        ] {
            host(d, stem, args).expect_one_line_error(&[&format!("{file}: {what}"), "corrupt"]);
        }
        assert_eq!(listing(), before, "{stem}: files changed");
        std::fs::write(data.join(file), &saved).unwrap();
        assert_eq!(host(d, stem, &["count"]).expect_success(), "8\n", "{stem}");
        assert!(host(d, stem, &["verify"])
            .expect_success()
            .starts_with("ok: "));
    }
}

/// A `data.mdb` cut short is `corruption` at open, not a `SIGBUS` when a missing page is read.
#[test]
fn a_truncated_lmdb_file_is_corruption_not_a_crash() {
    let stem = "kgdb_plugin_lmdb";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("<http://e/s{i}> <http://e/p> \"value {i}\" .\n"));
    }
    write(d, "many.nt", &text);
    host(d, stem, &["load", "many.nt"]).expect_success();
    let file = d.join("data/data.mdb");
    let saved = std::fs::read(&file).unwrap();
    std::fs::write(&file, &saved[..saved.len() / 2]).unwrap();
    for args in [&["count"][..], &["verify"], &["quads", "*", "*", "*"]] {
        host(d, stem, args).expect_one_line_error(&["data.mdb: truncated", "corrupt"]);
    }
    std::fs::write(&file, &saved).unwrap();
    assert_eq!(host(d, stem, &["count"]).expect_success(), "20000\n");
}

/// A store emptied by one large remove opens again, for reading and for writing: LMDB leaves
/// the pages a transaction dirtied and freed unwritten, so without the plugin covering them
/// the file ended before the meta page's last page and every open took it for a truncated
/// file.
#[test]
fn a_store_emptied_by_a_large_remove_opens_again() {
    for stem in PERSISTENT {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let text: String = (0..20_000)
            .map(|i| format!("<http://e/s{i}> <http://e/p{}> \"value {i}\" .\n", i % 50))
            .collect();
        write(d, "many.nt", &text);
        host(d, stem, &["load", "many.nt"]).expect_success();
        let out = host(d, stem, &["remove", "*", "*", "*"])
            .expect_success()
            .to_owned();
        assert_eq!(out, "removed 20000 quads\n", "{stem}");
        assert_eq!(host(d, stem, &["count"]).expect_success(), "0\n", "{stem}");
        host(d, stem, &["verify"]).expect_success();
        host(d, stem, &["load", "many.nt"]).expect_success();
        assert_eq!(
            host(d, stem, &["count"]).expect_success(),
            "20000\n",
            "{stem}"
        );
    }
}

/// A "billion laughs" RDF/XML file (ten levels of ten nested entity references) is refused
/// naming its file and line, in bounded memory and at once, and loads nothing; ordinary
/// entities still work.
#[test]
fn an_entity_expansion_bomb_is_refused_before_it_expands() {
    let stem = "kgdb_plugin_lmdb";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut bomb =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rdf:RDF [\n<!ENTITY lol0 \"lol\">\n");
    for level in 1..=10 {
        let refs: String = (0..10).map(|_| format!("&lol{};", level - 1)).collect();
        bomb.push_str(&format!("<!ENTITY lol{level} \"{refs}\">\n"));
    }
    bomb.push_str(
        "]>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n\
         <rdf:Description rdf:about=\"http://e/a\"><rdf:value>&lol10;</rdf:value></rdf:Description>\n\
         </rdf:RDF>\n",
    );
    write(d, "laughs.rdf", &bomb);
    write(d, "library.ttl", LIBRARY);
    host(d, stem, &["load", "library.ttl"]).expect_success();
    let started = std::time::Instant::now();
    for args in [
        &["load", "laughs.rdf"][..],
        &["load", "--lenient", "laughs.rdf"],
    ] {
        host(d, stem, args).expect_one_line_error(&[
            "laughs.rdf:8",
            "entity `lol5`",
            "nothing was loaded",
        ]);
    }
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert_eq!(host(d, stem, &["count"]).expect_success(), "8\n");
    let ordinary = "<?xml version=\"1.0\"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY e \"http://e/\"> ]>\n\
        <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n\
        <rdf:Description rdf:about=\"&e;x\"><rdf:value>&e;y</rdf:value></rdf:Description>\n\
        </rdf:RDF>\n";
    write(d, "ordinary.rdf", ordinary);
    host(d, stem, &["load", "ordinary.rdf"]).expect_success();
    assert_eq!(
        host(d, stem, &["quads", "<http://e/x>", "*", "*"]).expect_success(),
        "<http://e/x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#value> \"http://e/y\" .\n"
    );
}

//! One limit on the size of a term, in every format: what a load accepts, every dump of the
//! store loads back; what is over the limit is refused naming the file and where in it.

use std::path::Path;

use kgdb_tests::run_plugin;
use tempfile::TempDir;

/// `MAX_TERM_TEXT_BYTES`: the longest N-Triples form of a term.
const LIMIT: usize = 8_000_000;
const PLUGIN: &str = "kgdb_plugin_lmdb";

fn scratch() -> TempDir {
    tempfile::tempdir().expect("a scratch directory")
}

fn kgdb(dir: &Path, args: &[&str]) -> kgdb_tests::Run {
    run_plugin(dir, PLUGIN, args)
}

/// Loads two small quads so that a refused load can be seen to leave them alone.
fn preload(dir: &Path) {
    std::fs::write(
        dir.join("small.nq"),
        "<http://e/a> <http://e/p> \"one\" .\n<http://e/b> <http://e/p> \"two\" <http://e/g> .\n",
    )
    .unwrap();
    kgdb(dir, &["load", "small.nq"]).expect_success();
}

fn count(dir: &Path) -> String {
    kgdb(dir, &["count"]).expect_success().trim().to_owned()
}

#[test]
fn the_largest_terms_on_one_line_dump_and_load_back_in_every_format() {
    let dir = scratch();
    // Each term just under the limit in N-Triples form; in TriG each on a line of its own. The
    // quad is in the default graph and in a named graph (for the triple formats' dumps).
    let long = |c: char| c.to_string().repeat(LIMIT - 40);
    let (s, p, o) = (long('s'), long('p'), long('o'));
    let trig = format!(
        "<http://e/{s}>\n<http://e/{p}>\n\"{o}\" .\n<http://e/{}>\n{{ <http://e/{s}>\n<http://e/{p}>\n\"{o}\" . }}\n",
        long('g'),
    );
    std::fs::write(dir.path().join("large.trig"), trig).unwrap();
    kgdb(dir.path(), &["load", "large.trig"]).expect_success();
    assert_eq!(count(dir.path()), "2");
    for (format, graph, quads) in [
        ("nq", "*", "2"),
        ("trig", "*", "2"),
        ("ttl", "default", "1"),
        ("rdf", "default", "1"),
        ("nt", "default", "1"),
    ] {
        let file = format!("dump.{format}");
        kgdb(
            dir.path(),
            &[
                "dump", "--format", format, "--graph", graph, "--output", &file,
            ],
        )
        .expect_success();
        let again = dir.path().join(format!("again-{format}"));
        std::fs::create_dir(&again).unwrap();
        let dump = dir.path().join(&file);
        kgdb(&again, &["load", dump.to_str().unwrap()]).expect_success();
        assert_eq!(count(&again), quads, "{format}");
    }
}

#[test]
fn a_term_over_the_limit_is_refused_in_every_format_and_the_store_is_unchanged() {
    let dir = scratch();
    preload(dir.path());
    let value = "v".repeat(LIMIT);
    for (file, text) in [
        ("big.nt", format!("<http://e/s> <http://e/p> \"{value}\" .\n")),
        (
            "big.nq",
            format!("<http://e/s> <http://e/p> \"x\" <http://e/{value}> .\n"),
        ),
        (
            "big.ttl",
            format!("@prefix e: <http://e/> .\ne:s e:p \"{value}\" .\n"),
        ),
        (
            "big.trig",
            format!("<http://e/g> {{ <http://e/{value}> <http://e/p> 1 }}\n"),
        ),
        (
            "big.rdf",
            format!(
                "<?xml version=\"1.0\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns:e=\"http://e/\">\n<rdf:Description rdf:about=\"http://e/s\">\n<e:p>{value}</e:p>\n</rdf:Description>\n</rdf:RDF>\n"
            ),
        ),
        (
            "big.jsonld",
            format!("{{\"@id\": \"http://e/s\", \"http://e/p\": \"{value}\"}}\n"),
        ),
    ] {
        std::fs::write(dir.path().join(file), text).unwrap();
        let line = kgdb(dir.path(), &["load", file]).expect_one_line_error(&[
            file,
            "bytes a term may take",
            "nothing was loaded",
        ]);
        // Line-based inputs are parsed in blocks of lines, so the line is known exactly.
        if file.ends_with(".nt") || file.ends_with(".nq") {
            assert!(line.contains(&format!("{file}:1:")), "{line}");
        } else {
            assert!(line.contains("line "), "{line}");
        }
        assert_eq!(count(dir.path()), "2", "{file}");
    }
    kgdb(dir.path(), &["verify"]).expect_success();
}

#[test]
fn escapes_count_toward_the_limit() {
    let dir = scratch();
    preload(dir.path());
    // 1.5 million control characters: 1.5 MB of text, 9 MB once escaped in a dump.
    let escaped = "\\u0001".repeat(1_500_000);
    std::fs::write(
        dir.path().join("escaped.nt"),
        format!("<http://e/s> <http://e/p> \"{escaped}\" .\n"),
    )
    .unwrap();
    kgdb(dir.path(), &["load", "escaped.nt"]).expect_one_line_error(&[
        "escaped.nt",
        "a literal of 9,000,002 bytes (written as N-Triples)",
    ]);
    assert_eq!(count(dir.path()), "2");
}

#[test]
fn a_lenient_load_skips_a_term_over_the_limit_at_its_line() {
    let dir = scratch();
    let value = "v".repeat(LIMIT);
    std::fs::write(
        dir.path().join("mixed.nt"),
        format!(
            "<http://e/a> <http://e/p> \"1\" .\n<http://e/b> <http://e/p> \"{value}\" .\n<http://e/c> <http://e/p> \"3\" .\n"
        ),
    )
    .unwrap();
    let run = kgdb(dir.path(), &["load", "--lenient", "mixed.nt"]);
    run.expect_success();
    assert!(run.stderr.contains("mixed.nt:2"), "{}", run.stderr);
    assert!(
        run.stderr.contains("bytes a term may take"),
        "{}",
        run.stderr
    );
    assert_eq!(count(dir.path()), "2");
}

#[test]
fn a_line_too_long_to_hold_fails_a_load_and_a_lenient_one_skips_it() {
    let dir = scratch();
    let mut text = b"<http://e/a> <http://e/p> \"1\" .\n".to_vec();
    // Longer than four terms of the longest a store takes, on one line.
    text.extend(std::iter::repeat_n(b'x', 33 << 20));
    text.extend_from_slice(b"\n<http://e/c> <http://e/p> \"3\" .\n");
    std::fs::write(dir.path().join("long.nt"), text).unwrap();
    kgdb(dir.path(), &["load", "long.nt"]).expect_one_line_error(&[
        "long.nt:2",
        "a line longer than",
        "nothing was loaded",
    ]);
    let run = kgdb(dir.path(), &["load", "--lenient", "long.nt"]);
    run.expect_success();
    assert!(
        run.stderr.contains("long.nt:2") && run.stderr.contains("a line longer than"),
        "{}",
        run.stderr
    );
    assert_eq!(count(dir.path()), "2");
}

#[test]
fn a_lenient_load_gives_up_after_ten_thousand_bad_statements_in_a_row_in_every_format() {
    let dir = scratch();
    preload(dir.path());
    let bad = "this is not rdf .\n".repeat(10_001);
    for file in ["bad.nt", "bad.nq", "bad.ttl"] {
        std::fs::write(dir.path().join(file), &bad).unwrap();
        kgdb(dir.path(), &["load", "--lenient", file])
            .expect_one_line_error(&[file, "gave up after 10000 bad statements in a row"]);
        assert_eq!(count(dir.path()), "2");
    }
}

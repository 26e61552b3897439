//! `kgdb-host query`: SPARQL over the store on the memory and lmdb plugins, every output
//! format, the query's sources, limits, time limits and the errors a user can make.

use kgdb_tests::{run_plugin, Run};

const DATA: &str = r#"@prefix ex: <http://example.com/> .
ex:alice ex:name "Alice" ; ex:age 34 ; ex:knows ex:bob .
ex:bob ex:name "Bob" ; ex:age 27 .
ex:carol ex:name "Carol"@en .
"#;

const GRAPHS: &str = r#"@prefix ex: <http://example.com/> .
ex:g1 { ex:alice ex:likes ex:tea . ex:bob ex:likes ex:coffee . }
ex:g2 { ex:carol ex:likes ex:tea . }
"#;

/// A directory with `people.ttl` and `graphs.trig` loaded into `data` on `plugin`.
fn loaded(plugin: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.ttl"), DATA).unwrap();
    std::fs::write(dir.path().join("graphs.trig"), GRAPHS).unwrap();
    if plugin != "kgdb_plugin_memory" {
        run_plugin(dir.path(), plugin, &["load", "people.ttl", "graphs.trig"]).expect_success();
    }
    dir
}

/// Runs `query` with `args`; the memory plugin keeps nothing, so it gets `--data` each time.
fn query(dir: &tempfile::TempDir, plugin: &str, args: &[&str]) -> Run {
    let mut all = vec!["query"];
    all.extend_from_slice(args);
    if plugin == "kgdb_plugin_memory" {
        all.extend_from_slice(&["--data", "people.ttl", "--data", "graphs.trig"]);
    }
    run_plugin(dir.path(), plugin, &all)
}

const PLUGINS: [&str; 2] = ["kgdb_plugin_memory", "kgdb_plugin_lmdb"];

#[test]
fn select_writes_csv_tsv_json_xml_and_a_table() {
    for plugin in PLUGINS {
        let dir = loaded(plugin);
        let select = "PREFIX ex: <http://example.com/> SELECT ?name ?age WHERE { ?p ex:name ?name OPTIONAL { ?p ex:age ?age } } ORDER BY ?name";
        let csv = query(&dir, plugin, &[select, "--format", "csv"]);
        assert_eq!(
            csv.expect_success(),
            "name,age\r\nAlice,34\r\nBob,27\r\nCarol,\r\n",
            "{plugin}"
        );
        let tsv = query(&dir, plugin, &[select, "--format", "tsv"]);
        assert_eq!(
            tsv.expect_success(),
            "?name\t?age\n\"Alice\"\t34\n\"Bob\"\t27\n\"Carol\"@en\t\n",
            "{plugin}"
        );
        let json = query(&dir, plugin, &[select, "--format", "json"]);
        let json: serde_json::Value = serde_json::from_str(json.expect_success()).unwrap();
        assert_eq!(json["head"]["vars"], serde_json::json!(["name", "age"]));
        assert_eq!(json["results"]["bindings"].as_array().unwrap().len(), 3);
        assert_eq!(json["results"]["bindings"][2]["name"]["xml:lang"], "en");
        let xml = query(&dir, plugin, &[select, "--format", "xml"]);
        assert!(xml.expect_success().contains("<literal>Alice</literal>"));
        let table = query(&dir, plugin, &[select, "--format", "table"]);
        let lines: Vec<&str> = table.expect_success().lines().collect();
        assert_eq!(lines.len(), 7, "{lines:?}");
        assert_eq!(lines[1], "| ?name      | ?age |");
        assert_eq!(lines[3], "| \"Alice\"    | 34   |");
        assert_eq!(lines[5], "| \"Carol\"@en |      |");
    }
}

#[test]
fn without_a_terminal_results_are_json() {
    let dir = loaded("kgdb_plugin_lmdb");
    let run = query(
        &dir,
        "kgdb_plugin_lmdb",
        &["SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"],
    );
    let json: serde_json::Value = serde_json::from_str(run.expect_success()).unwrap();
    assert_eq!(json["results"]["bindings"][0]["n"]["value"], "6");
}

#[test]
fn named_graphs_the_union_and_from_clauses() {
    for plugin in PLUGINS {
        let dir = loaded(plugin);
        let per_graph = query(
            &dir,
            plugin,
            &[
                "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
                "--format",
                "csv",
            ],
        );
        assert_eq!(
            per_graph.expect_success(),
            "g,n\r\nhttp://example.com/g1,2\r\nhttp://example.com/g2,1\r\n"
        );
        let count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }";
        let default_only = query(&dir, plugin, &[count, "--format", "csv"]);
        assert_eq!(default_only.expect_success(), "n\r\n6\r\n", "{plugin}");
        // The union of the named graphs, as in Oxigraph and Jena's TDB.
        let union = query(
            &dir,
            plugin,
            &[count, "--format", "csv", "--union-default-graph"],
        );
        assert_eq!(union.expect_success(), "n\r\n3\r\n", "{plugin}");
        let from = query(
            &dir,
            plugin,
            &[
                "SELECT (COUNT(*) AS ?n) FROM <http://example.com/g1> WHERE { ?s ?p ?o }",
                "--format",
                "csv",
            ],
        );
        assert_eq!(from.expect_success(), "n\r\n2\r\n", "{plugin}");
        let named = query(
            &dir,
            plugin,
            &[
                "SELECT ?s FROM NAMED <http://example.com/g2> WHERE { GRAPH ?g { ?s ?p ?o } }",
                "--format",
                "csv",
            ],
        );
        assert_eq!(
            named.expect_success(),
            "s\r\nhttp://example.com/carol\r\n",
            "{plugin}"
        );
    }
}

#[test]
fn constants_the_store_lacks_match_nothing_and_computed_values_join() {
    for plugin in PLUGINS {
        let dir = loaded(plugin);
        let absent = query(
            &dir,
            plugin,
            &[
                "SELECT ?s ?o WHERE { ?s <http://example.com/absent> ?o }",
                "--format",
                "csv",
            ],
        );
        assert_eq!(absent.expect_success(), "s,o\r\n");
        // 27 + 7 = 34 is a value the store holds: the computed term joins with the stored one.
        let joined = query(
            &dir,
            plugin,
            &[
                "PREFIX ex: <http://example.com/> SELECT ?who WHERE { ex:bob ex:age ?b BIND(?b + 7 AS ?a) ?who ex:age ?a }",
                "--format",
                "csv",
            ],
        );
        assert_eq!(
            joined.expect_success(),
            "who\r\nhttp://example.com/alice\r\n",
            "{plugin}"
        );
    }
}

#[test]
fn ask_and_construct() {
    for plugin in PLUGINS {
        let dir = loaded(plugin);
        let ask = query(
            &dir,
            plugin,
            &[
                "ASK { <http://example.com/alice> ?p ?o }",
                "--format",
                "json",
            ],
        );
        assert_eq!(ask.expect_success(), r#"{"head":{},"boolean":true}"#);
        let construct = query(
            &dir,
            plugin,
            &[
                "PREFIX ex: <http://example.com/> CONSTRUCT { ?b ex:knownBy ?a } WHERE { ?a ex:knows ?b }",
                "--format",
                "nt",
            ],
        );
        assert_eq!(
            construct.expect_success(),
            "<http://example.com/bob> <http://example.com/knownBy> <http://example.com/alice> .\n"
        );
    }
}

#[test]
fn the_query_comes_from_a_file_or_standard_input_and_results_can_be_capped() {
    let dir = loaded("kgdb_plugin_lmdb");
    std::fs::write(
        dir.path().join("q.rq"),
        "SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s",
    )
    .unwrap();
    let run = query(
        &dir,
        "kgdb_plugin_lmdb",
        &["--file", "q.rq", "--format", "csv", "--limit-results", "2"],
    );
    assert_eq!(
        run.expect_success(),
        "s\r\nhttp://example.com/alice\r\nhttp://example.com/alice\r\n"
    );
    let library = kgdb_tests::plugin_library("kgdb_plugin_lmdb");
    let mut child = std::process::Command::new(kgdb_tests::host_binary())
        .args(["--plugin", library.to_str().unwrap(), "--data-dir", "data"])
        .args(["query", "-", "--format", "csv"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "n\r\n6\r\n");
}

#[test]
fn a_syntax_error_is_one_line_with_line_and_column() {
    let dir = loaded("kgdb_plugin_lmdb");
    let run = query(&dir, "kgdb_plugin_lmdb", &["SELECT * WHERE {\n  ?s ?p }"]);
    run.expect_one_line_error(&["query:2:10:", "expected"]);
    std::fs::write(dir.path().join("bad.rq"), "SELECT ?x WHERE { ?x ?y ?z ").unwrap();
    let run = query(&dir, "kgdb_plugin_lmdb", &["--file", "bad.rq"]);
    run.expect_one_line_error(&["bad.rq:1:28:"]);
    let run = query(&dir, "kgdb_plugin_lmdb", &["--file", "missing.rq"]);
    run.expect_one_line_error(&["missing.rq"]);
    let run = query(
        &dir,
        "kgdb_plugin_lmdb",
        &["SELECT * WHERE { ?s ?p ?o }", "--format", "ttl"],
    );
    run.expect_one_line_error(&["--format ttl", "json, xml, csv, tsv, table"]);
    let run = query(
        &dir,
        "kgdb_plugin_lmdb",
        &["SELECT * WHERE { ?s ?p ?o }", "--timeout", "ten"],
    );
    assert_eq!(run.code, Some(2), "{run:#?}");
    let run = query(
        &dir,
        "kgdb_plugin_lmdb",
        &["SELECT * WHERE { <a> ?p ?o }", "--base", "not an iri"],
    );
    run.expect_one_line_error(&["invalid base IRI `not an iri`"]);
}

#[test]
fn deep_nesting_is_refused_and_long_chains_do_not_overflow_the_stack() {
    let dir = loaded("kgdb_plugin_lmdb");
    // 20,000 nested groups overflowed the stack and aborted the process before the bound.
    let deep = format!(
        "SELECT * WHERE {{{}{}}}",
        "{".repeat(20_000),
        "}".repeat(20_000)
    );
    std::fs::write(dir.path().join("deep.rq"), deep).unwrap();
    query(&dir, "kgdb_plugin_lmdb", &["--file", "deep.rq"])
        .expect_one_line_error(&["deep.rq:1:272:", "nest deeper than 256"]);
    // A chain of 2,000 UNIONs (no brackets deeper than 2) recurses 2,000 levels: it runs.
    let chain = format!(
        "SELECT (COUNT(*) AS ?n) WHERE {{ {} }}",
        vec!["{ ?s <http://example.com/age> ?o }"; 2_000].join(" UNION ")
    );
    std::fs::write(dir.path().join("chain.rq"), chain).unwrap();
    let run = query(
        &dir,
        "kgdb_plugin_lmdb",
        &["--file", "chain.rq", "--format", "csv"],
    );
    assert_eq!(run.expect_success(), "n\r\n4000\r\n");
}

#[test]
fn a_query_past_its_time_limit_is_cancelled() {
    let dir = loaded("kgdb_plugin_lmdb");
    // A cross product of 6^12 rows: it would run for hours.
    let run = query(
        &dir,
        "kgdb_plugin_lmdb",
        &[
            "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o . ?p ?q ?r . ?s ?t ?u . ?v ?w ?x . ?a2 ?b2 ?c2 . ?d2 ?e2 ?f2 . ?g2 ?h2 ?i2 . ?j2 ?k2 ?l2 }",
            "--timeout",
            "300ms",
        ],
    );
    run.expect_one_line_error(&["longer than its time limit", "cancelled"]);
}

#[test]
fn explain_prints_the_plan_on_standard_error() {
    let dir = loaded("kgdb_plugin_lmdb");
    let run = query(
        &dir,
        "kgdb_plugin_lmdb",
        &[
            "SELECT ?s WHERE { ?s <http://example.com/name> ?n }",
            "--format",
            "csv",
            "--explain",
        ],
    );
    assert_eq!(run.expect_success().lines().count(), 4);
    let plan: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert!(plan["plan"].is_object(), "{plan}");
}

#[test]
fn a_closed_pipe_ends_the_query_quietly() {
    let dir = loaded("kgdb_plugin_lmdb");
    let library = kgdb_tests::plugin_library("kgdb_plugin_lmdb");
    let mut child = std::process::Command::new(kgdb_tests::host_binary())
        .args(["--plugin", library.to_str().unwrap(), "--data-dir", "data"])
        .args([
            "query",
            "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }",
            "--format",
            "tsv",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    use std::io::Read;
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

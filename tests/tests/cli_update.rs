//! `kgdb-host update`: SPARQL 1.1 Update on lmdb, one transaction per request.

use kgdb_tests::{run_plugin, Run};

const PLUGIN: &str = "kgdb_plugin_lmdb";

const DATA: &str = r#"@prefix ex: <http://example.com/> .
ex:alice ex:age 34 ; ex:knows ex:bob .
ex:bob ex:age 27 .
"#;

fn loaded() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.ttl"), DATA).unwrap();
    run_plugin(dir.path(), PLUGIN, &["load", "people.ttl"]).expect_success();
    dir
}

fn run(dir: &tempfile::TempDir, args: &[&str]) -> Run {
    run_plugin(dir.path(), PLUGIN, args)
}

fn csv(dir: &tempfile::TempDir, query: &str) -> String {
    run(dir, &["query", query, "--format", "csv"])
        .expect_success()
        .to_owned()
}

fn count(dir: &tempfile::TempDir) -> String {
    run(dir, &["count"]).expect_success().trim().to_owned()
}

#[test]
fn delete_insert_where_changes_what_count_reports() {
    let dir = loaded();
    let out = run(
        &dir,
        &[
            "update",
            "PREFIX ex: <http://example.com/> DELETE { ?p ex:age ?a } INSERT { ?p ex:age ?b } WHERE { ?p ex:age ?a BIND(?a + 1 AS ?b) }",
        ],
    );
    assert_eq!(
        out.expect_success(),
        "inserted 2 quads, removed 2 quads; the store holds 3 quads\n"
    );
    assert_eq!(
        csv(
            &dir,
            "SELECT ?a { ?p <http://example.com/age> ?a } ORDER BY ?a"
        ),
        "a\r\n28\r\n35\r\n"
    );
    let out = run(
        &dir,
        &[
            "update",
            "PREFIX ex: <http://example.com/> DELETE WHERE { ?p ex:knows ?o }",
        ],
    );
    assert_eq!(
        out.expect_success(),
        "inserted 0 quads, removed 1 quads; the store holds 2 quads\n"
    );
    assert_eq!(count(&dir), "2");
    run(&dir, &["verify"]).expect_success();
}

#[test]
fn insert_data_gives_fresh_blank_nodes_per_operation_and_graphs_come_and_go() {
    let dir = loaded();
    // The same label in two requests: two nodes (within one, the label is one node).
    for holds in ["4", "5"] {
        let out = run(
            &dir,
            &[
                "update",
                "INSERT DATA { GRAPH <http://example.com/g> { _:x <http://example.com/p> _:x } }",
            ],
        );
        assert_eq!(
            out.expect_success(),
            format!("inserted 1 quads, removed 0 quads; the store holds {holds} quads\n")
        );
    }
    assert_eq!(
        csv(
            &dir,
            "SELECT (COUNT(DISTINCT ?s) AS ?n) { GRAPH ?g { ?s ?p ?s } }"
        ),
        "n\r\n2\r\n"
    );
    let out = run(&dir, &["update", "DROP GRAPH <http://example.com/g>"]);
    assert_eq!(
        out.expect_success(),
        "inserted 0 quads, removed 2 quads; the store holds 3 quads\n"
    );
    run(&dir, &["update", "DROP GRAPH <http://example.com/g>"]).expect_one_line_error(&[
        "DROP GRAPH <http://example.com/g>",
        "no such graph",
        "nothing was changed",
    ]);
    run(
        &dir,
        &["update", "DROP SILENT GRAPH <http://example.com/g>"],
    )
    .expect_success();
}

#[test]
fn a_failing_operation_leaves_the_whole_request_undone() {
    let dir = loaded();
    let run_ = run(
        &dir,
        &[
            "update",
            "INSERT DATA { <http://example.com/new> <http://example.com/p> 1 } ; CLEAR GRAPH <http://example.com/absent>",
        ],
    );
    run_.expect_one_line_error(&[
        "CLEAR GRAPH <http://example.com/absent>",
        "nothing was changed",
    ]);
    assert_eq!(count(&dir), "3");
    let run_ = run(
        &dir,
        &[
            "update",
            "INSERT DATA { <http://example.com/new> <http://example.com/p> 1 } ; LOAD <http://example.com/remote.ttl>",
        ],
    );
    run_.expect_one_line_error(&["only file: IRIs"]);
    assert_eq!(count(&dir), "3");
    run(
        &dir,
        &["update", "INSERT DATA { <http://example.com/new> <http://example.com/p> 1 } ; LOAD SILENT <http://example.com/remote.ttl>"],
    )
    .expect_success();
    assert_eq!(count(&dir), "4");
}

#[test]
fn load_reads_file_iris_into_a_graph_and_create_refuses_an_existing_graph() {
    let dir = loaded();
    let iri = format!("file://{}", dir.path().join("people.ttl").display());
    let out = run(
        &dir,
        &[
            "update",
            &format!("LOAD <{iri}> INTO GRAPH <http://example.com/copy>"),
        ],
    );
    assert_eq!(
        out.expect_success(),
        "inserted 3 quads, removed 0 quads; the store holds 6 quads\n"
    );
    run(&dir, &["update", "CREATE GRAPH <http://example.com/copy>"])
        .expect_one_line_error(&["CREATE GRAPH <http://example.com/copy>", "already exists"]);
    run(
        &dir,
        &["update", "CREATE SILENT GRAPH <http://example.com/copy>"],
    )
    .expect_success();
    let out = run(
        &dir,
        &[
            "update",
            "COPY <http://example.com/copy> TO DEFAULT ; ADD DEFAULT TO <http://example.com/other>",
        ],
    );
    out.expect_success();
    assert_eq!(
        csv(
            &dir,
            "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
        ),
        "g,n\r\nhttp://example.com/copy,3\r\nhttp://example.com/other,3\r\n"
    );
    let out = run(&dir, &["update", "CLEAR ALL"]);
    assert_eq!(
        out.expect_success(),
        "inserted 0 quads, removed 9 quads; the store holds 0 quads\n"
    );
    run(&dir, &["verify"]).expect_success();
}

#[test]
fn create_tracks_an_empty_graph_until_drop_and_clear_keeps_a_graph() {
    let dir = loaded();
    let graphs = "SELECT ?g { GRAPH ?g { } } ORDER BY ?g";
    let created = run(&dir, &["update", "CREATE GRAPH <http://example.com/empty>"]);
    assert_eq!(
        created.expect_success(),
        "inserted 0 quads, removed 0 quads; the store holds 3 quads\n"
    );
    assert_eq!(csv(&dir, graphs), "g\r\nhttp://example.com/empty\r\n");
    run(&dir, &["update", "CREATE GRAPH <http://example.com/empty>"])
        .expect_one_line_error(&["CREATE GRAPH <http://example.com/empty>", "already exists"]);
    run(&dir, &["update", "CLEAR GRAPH <http://example.com/empty>"]).expect_success();
    run(&dir, &["verify"]).expect_success();
    // CLEAR of a graph holding quads keeps it, empty.
    run(
        &dir,
        &["update", "INSERT DATA { GRAPH <http://example.com/full> { <http://example.com/s> <http://example.com/p> 1 } } ; CLEAR GRAPH <http://example.com/full>"],
    )
    .expect_success();
    assert_eq!(
        csv(&dir, graphs),
        "g\r\nhttp://example.com/empty\r\nhttp://example.com/full\r\n"
    );
    run(&dir, &["update", "CREATE GRAPH <http://example.com/full>"])
        .expect_one_line_error(&["already exists"]);
    run(
        &dir,
        &[
            "update",
            "DROP GRAPH <http://example.com/empty> ; DROP GRAPH <http://example.com/full>",
        ],
    )
    .expect_success();
    assert_eq!(csv(&dir, graphs), "g\r\n");
    run(&dir, &["update", "DROP GRAPH <http://example.com/empty>"])
        .expect_one_line_error(&["no such graph"]);
    run(&dir, &["verify"]).expect_success();
    assert_eq!(count(&dir), "3");
}

#[test]
fn a_syntax_error_names_the_line_and_column_and_changes_nothing() {
    let dir = loaded();
    std::fs::write(
        dir.path().join("bad.ru"),
        "INSERT DATA {\n  <http://a> <http://b> }",
    )
    .unwrap();
    run(&dir, &["update", "--file", "bad.ru"]).expect_one_line_error(&["bad.ru:2:"]);
    assert_eq!(count(&dir), "3");
}

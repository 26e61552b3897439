//! A client nobody here wrote: Python's rdflib, through its `SPARQLUpdateStore`, opens the
//! endpoint as a graph store, adds triples, queries them back and removes them. The test
//! makes its virtual environment with rdflib from PyPI when it has none
//! (`KGDB_RDFLIB_VENV`, default `~/.cache/kgdb-rdflib-venv`).

use std::path::PathBuf;
use std::process::Command;

use super::support::{json_number, query, Server};

/// The rdflib release the test installs.
const RDFLIB: &str = "rdflib==7.6.0";

fn venv() -> PathBuf {
    std::env::var_os("KGDB_RDFLIB_VENV").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/kgdb-rdflib-venv")
        },
        PathBuf::from,
    )
}

/// The virtual environment's python, with rdflib installed.
fn python_with_rdflib() -> PathBuf {
    let venv = venv();
    let python = venv.join("bin/python");
    let has_rdflib = |python: &PathBuf| {
        Command::new(python)
            .args(["-c", "import rdflib"])
            .status()
            .is_ok_and(|status| status.success())
    };
    if !has_rdflib(&python) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs (the rdflib test needs Python 3 with venv)");
        assert!(made.success(), "python3 -m venv {} failed", venv.display());
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", RDFLIB])
            .status()
            .expect("pip runs");
        assert!(installed.success(), "pip install {RDFLIB} failed");
    }
    assert!(
        has_rdflib(&python),
        "rdflib is not importable from {}",
        python.display()
    );
    python
}

const SCRIPT: &str = r#"
import sys
from rdflib import Graph, Literal, URIRef, Namespace
from rdflib.plugins.stores.sparqlstore import SPARQLUpdateStore

base = sys.argv[1]
store = SPARQLUpdateStore(query_endpoint=base + "/query", update_endpoint=base + "/update")
EX = Namespace("http://example.com/rdflib/")
graph = Graph(store, identifier=URIRef("http://example.com/rdflib-graph"))

graph.add((EX.alice, EX.name, Literal("Alice")))
graph.add((EX.alice, EX.age, Literal(42)))
graph.add((EX.bob, EX.name, Literal("Bob", lang="en")))
assert len(graph) == 3, len(graph)
assert (EX.alice, EX.age, Literal(42)) in graph

rows = sorted(str(row.name) for row in graph.query(
    "SELECT ?name WHERE { ?person <http://example.com/rdflib/name> ?name }"))
assert rows == ["Alice", "Bob"], rows
ages = [row.age.toPython() for row in graph.query(
    "SELECT ?age WHERE { ?p <http://example.com/rdflib/age> ?age }")]
assert ages == [42], ages
assert graph.value(EX.bob, EX.name) == Literal("Bob", lang="en")

graph.remove((EX.alice, None, None))
assert len(graph) == 1, len(graph)
assert set(graph.objects(EX.bob, EX.name)) == {Literal("Bob", lang="en")}
graph.remove((None, None, None))
assert len(graph) == 0, len(graph)
store.close()
print("rdflib ok")
"#;

#[test]
fn rdflib_sparql_update_store_adds_queries_and_removes() {
    let python = python_with_rdflib();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "kgdb_plugin_lmdb", &[]);
    let output = Command::new(python)
        .args(["-c", SCRIPT, &server.base])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("rdflib ok"),
        "rdflib failed:\n{stdout}\n{stderr}\nserver:\n{}",
        server.stderr()
    );
    // rdflib's writes went through the store: it ends empty, and the server saw updates.
    let count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }";
    assert_eq!(json_number(query(&server, count, None).expect(200), "n"), 0);
    assert!(
        server
            .metric("kgdb_http_requests_total{endpoint=\"/update\",status=\"204\"}")
            .unwrap_or(0.0)
            >= 4.0
    );
}

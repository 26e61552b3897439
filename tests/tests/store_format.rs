//! Store format versions: a small store of every format kgdb has written is kept as a text
//! fixture (`tests/fixtures/store-formats/format-N.txt`: every row of every table, in hex,
//! beside `format-N.nq`, the dataset it holds), and every later kgdb must open it on every
//! shipped plugin and find in it exactly that dataset.
//!
//! The fixture of the current format is written by this test when it is missing and
//! `KGDB_WRITE_FORMAT_FIXTURE=1` is set; a format version without its fixture fails the test,
//! so a change of format cannot land without one.

use std::fmt::Write as _;
use std::path::PathBuf;

use kgdb_host::plugin::{Backend, ScanSpec, TxnOptions};
use kgdb_host::rdf::{self, LoadRequest, Source};
use kgdb_host::store::{Store, FORMAT_VERSION};
use kgdb_tests::store_kit::{
    all_quads, canonical, dump_nquads, parse_file, vocabulary, StoreFixture,
};
use kgdb_tests::workspace_root;
use oxrdf::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad};

const PLUGINS: [&str; 3] = [
    "kgdb_plugin_memory",
    "kgdb_plugin_lmdb",
    "kgdb_plugin_rocksdb",
];

/// The graph the fixture creates empty.
const EMPTY_GRAPH: &str = "http://example.com/empty";

fn fixtures() -> PathBuf {
    workspace_root().join("tests/fixtures/store-formats")
}

/// One stored row.
type Row = (String, Vec<u8>, Vec<u8>);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex digits"))
        .collect()
}

/// Every row of every table of `backend`.
fn rows_of(backend: &Backend) -> Vec<Row> {
    let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
    let mut rows = Vec::new();
    for name in backend.list_tables().unwrap() {
        let table = backend.open_table(&name, false).unwrap();
        for row in txn.scan(table, ScanSpec::all()).unwrap() {
            let (key, value) = row.unwrap();
            rows.push((name.clone(), key, value));
        }
    }
    rows
}

/// Writes `rows` into a fresh backend of plugin `stem` in `dir`.
fn backend_with(stem: &str, dir: &std::path::Path, rows: &[Row]) -> Backend {
    let backend = kgdb_tests::open_backend(stem, dir, "");
    // Tables first: creating one is a write of its own on some plugins.
    let tables: std::collections::HashMap<&str, _> = rows
        .iter()
        .map(|(name, _, _)| (name.as_str(), backend.open_table(name, true).unwrap()))
        .collect();
    let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
    for (name, key, value) in rows {
        txn.put(tables[name.as_str()], key, value).unwrap();
    }
    txn.commit().unwrap();
    backend
}

/// Reads a fixture file: `table<TAB>key<TAB>value` in hex, `#` comments.
fn read_fixture(text: &str) -> Vec<Row> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            let (Some(table), Some(key), Some(value), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                panic!("not a fixture row: {line}");
            };
            (table.to_owned(), unhex(key), unhex(value))
        })
        .collect()
}

/// The fixture's dataset: every kind of term, default and named graphs (one of them empty),
/// and some quads removed after they were stored.
fn write_fixture(txt: &std::path::Path, nq: &std::path::Path) {
    let fixture = StoreFixture::open("kgdb_plugin_memory", "");
    let store = fixture.store();
    let (subjects, predicates, objects, graphs) = vocabulary();
    let mut quads = Vec::new();
    for (n, object) in objects.iter().enumerate() {
        quads.push(Quad::new(
            subjects[n % subjects.len()].clone(),
            predicates[n % predicates.len()].clone(),
            object.clone(),
            graphs[n % graphs.len()].clone(),
        ));
    }
    quads.extend((0..40).map(|n| {
        Quad::new(
            NamedNode::new(format!("http://example.com/s{n}")).unwrap(),
            predicates[n % predicates.len()].clone(),
            Literal::new_simple_literal(format!("v{n}")),
            if n % 2 == 0 {
                GraphName::DefaultGraph
            } else {
                graphs[1].clone()
            },
        )
    }));
    let mut txn = store.transaction().unwrap();
    txn.insert_all(&quads).unwrap();
    txn.create_graph(&NamedOrBlankNode::from(
        NamedNode::new(EMPTY_GRAPH).unwrap(),
    ))
    .unwrap();
    txn.commit().unwrap();
    let mut txn = store.transaction().unwrap();
    for quad in quads.iter().step_by(7) {
        txn.remove(quad).unwrap();
    }
    txn.commit().unwrap();
    let mut text = format!(
        "# kgdb store format {FORMAT_VERSION}: every row of every table of a small store, as \
         `table<TAB>key<TAB>value` in hex;\n# written by kgdb {} \
         (`KGDB_WRITE_FORMAT_FIXTURE=1 cargo test -p kgdb-tests --test store_format`). The \
         dataset it holds is format-{FORMAT_VERSION}.nq.\n# Keep it: every later kgdb must \
         open it (tests/tests/store_format.rs).\n",
        env!("CARGO_PKG_VERSION")
    );
    for (table, key, value) in rows_of(store.backend()) {
        let _ = writeln!(text, "{table}\t{}\t{}", hex(&key), hex(&value));
    }
    std::fs::write(txt, text).unwrap();
    std::fs::write(nq, dump_nquads(store)).unwrap();
}

#[test]
fn the_current_format_has_its_fixture() {
    let txt = fixtures().join(format!("format-{FORMAT_VERSION}.txt"));
    let nq = fixtures().join(format!("format-{FORMAT_VERSION}.nq"));
    if !txt.exists() && std::env::var_os("KGDB_WRITE_FORMAT_FIXTURE").is_some() {
        std::fs::create_dir_all(fixtures()).unwrap();
        write_fixture(&txt, &nq);
    }
    assert!(
        txt.exists() && nq.exists(),
        "store format {FORMAT_VERSION} has no fixture: write it with `KGDB_WRITE_FORMAT_FIXTURE=1 cargo test -p kgdb-tests --test store_format` and commit {} and {}",
        txt.display(),
        nq.display()
    );
}

#[test]
fn every_store_format_fixture_opens_and_holds_its_dataset_on_every_plugin() {
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(fixtures()).expect("the fixture directory") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(version) = name
            .strip_prefix("format-")
            .and_then(|rest| rest.strip_suffix(".txt"))
        {
            versions.push(version.parse::<u32>().expect("a format number"));
        }
    }
    assert!(versions.contains(&FORMAT_VERSION), "{versions:?}");
    for version in versions {
        assert!(
            version <= FORMAT_VERSION,
            "a fixture of a format from the future: {version}"
        );
        let rows = read_fixture(
            &std::fs::read_to_string(fixtures().join(format!("format-{version}.txt"))).unwrap(),
        );
        let nq = fixtures().join(format!("format-{version}.nq"));
        let expected = canonical(parse_file(&nq));
        for stem in PLUGINS {
            let what = format!("format {version} on {stem}");
            let dir = tempfile::tempdir().unwrap();
            let backend = backend_with(stem, &dir.path().join("read"), &rows);
            // Read as it is: a read-only open writes nothing.
            let store = Store::open_read_only(backend).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(canonical(all_quads(&store)), expected, "{what}");
            assert_eq!(
                store.counts().unwrap().quads,
                expected.len() as u64,
                "{what}"
            );
            let report = store.verify(5).unwrap();
            assert!(report.is_ok(), "{what}: {report:?}");
            let graphs = store.snapshot().unwrap().named_graphs().unwrap();
            assert!(
                graphs.iter().any(|(name, quads)| {
                    name.to_string() == format!("<{EMPTY_GRAPH}>") && *quads == 0
                }),
                "{what}: {graphs:?}"
            );
            assert_eq!(
                rows_of(store.backend()),
                rows,
                "{what}: a read-only open wrote"
            );
            store.close().unwrap();
            // Written to by this kgdb: loading the same dataset finds every term and quad
            // (the term hash and encodings are the same), and the store stays whole.
            let backend = backend_with(stem, &dir.path().join("write"), &rows);
            let store = Store::open(backend).unwrap_or_else(|e| panic!("{what}: {e}"));
            let terms = store.counts().unwrap().terms;
            let report = rdf::load(
                &store,
                &LoadRequest {
                    sources: vec![Source::File(
                        nq.clone(),
                        rdf::format_for_path(&nq, None).unwrap(),
                    )],
                    keep_blank_node_labels: true,
                    ..LoadRequest::default()
                },
            )
            .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(report.summary.read, expected.len() as u64, "{what}");
            assert_eq!(report.summary.inserted, 0, "{what}");
            assert_eq!(store.counts().unwrap().terms, terms, "{what}");
            assert!(store.verify(5).unwrap().is_ok(), "{what}");
            store.close().unwrap();
        }
    }
}

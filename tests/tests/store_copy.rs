//! `Store::copy_into` (what `kgdb-host backup` and `migrate` run): every pair of shipped
//! plugins copies the same dataset, counters, named graphs and notes; a target with data is
//! refused; a copy that fails half-way is refused by every open of its target.

use kgdb_host::store::{CopyOptions, GraphPattern, Store, StoreError};
use kgdb_tests::store_kit::{all_quads, canonical, vocabulary, StoreFixture};
use kgdb_tests::Xorshift;
use oxrdf::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad};

const PLUGINS: [(&str, &str); 3] = [
    ("memory", "kgdb_plugin_memory"),
    ("lmdb", "kgdb_plugin_lmdb"),
    ("rocksdb", "kgdb_plugin_rocksdb"),
];

/// A store with every kind of term, default and named graphs, an empty named graph, removed
/// quads and a note.
fn filled(stem: &str) -> StoreFixture {
    let fixture = StoreFixture::open(stem, "");
    let store = fixture.store();
    let (subjects, predicates, objects, graphs) = vocabulary();
    let mut random = Xorshift::new(19);
    let mut pick = |n: usize| usize::try_from(random.below(n as u64)).unwrap();
    let mut quads: Vec<Quad> = (0..400)
        .map(|_| {
            Quad::new(
                subjects[pick(subjects.len())].clone(),
                predicates[pick(predicates.len())].clone(),
                objects[pick(objects.len())].clone(),
                graphs[pick(graphs.len())].clone(),
            )
        })
        .collect();
    quads.extend((0..3000).map(|n| {
        Quad::new(
            NamedNode::new(format!("http://e/s{n}")).unwrap(),
            NamedNode::new(format!("http://e/p{}", n % 7)).unwrap(),
            Literal::new_simple_literal(format!("value {n}")),
            if n % 3 == 0 {
                GraphName::DefaultGraph
            } else {
                NamedNode::new(format!("http://e/g{}", n % 5))
                    .unwrap()
                    .into()
            },
        )
    }));
    let mut txn = store.transaction().unwrap();
    txn.insert_all(&quads).unwrap();
    txn.create_graph(&NamedOrBlankNode::from(
        NamedNode::new("http://e/empty").unwrap(),
    ))
    .unwrap();
    txn.commit().unwrap();
    let mut txn = store.transaction().unwrap();
    for quad in quads.iter().step_by(11) {
        txn.remove(quad).unwrap();
    }
    txn.commit().unwrap();
    store.set_note("copy-test", b"a note").unwrap();
    fixture
}

/// Asserts that `copy` holds what `source` holds.
fn assert_same(source: &Store, copy: &Store, what: &str) {
    assert_eq!(source.counts().unwrap(), copy.counts().unwrap(), "{what}");
    assert_eq!(
        canonical(all_quads(source)),
        canonical(all_quads(copy)),
        "{what}"
    );
    assert_eq!(
        source.snapshot().unwrap().named_graphs().unwrap(),
        copy.snapshot().unwrap().named_graphs().unwrap(),
        "{what}"
    );
    assert_eq!(
        copy.note("copy-test").unwrap().as_deref(),
        Some(&b"a note"[..]),
        "{what}"
    );
    let report = copy.verify(5).unwrap();
    assert!(report.is_ok(), "{what}: {report:?}");
}

#[test]
fn every_pair_of_shipped_plugins_copies_the_whole_store() {
    for (from, from_stem) in PLUGINS {
        let source = filled(from_stem);
        for (to, to_stem) in PLUGINS {
            let what = format!("{from} -> {to}");
            let dir = tempfile::tempdir().unwrap();
            let backend = kgdb_tests::open_backend(to_stem, &dir.path().join("copy"), "");
            // Small chunks: every table goes in several writes.
            let summary = source
                .store()
                .copy_into(&backend, &CopyOptions::with_chunk_bytes(4096), None)
                .unwrap_or_else(|error| panic!("{what}: {error}"));
            let counts = source.store().counts().unwrap();
            assert_eq!(summary.quads, counts.quads, "{what}");
            assert_eq!(summary.terms, counts.terms, "{what}");
            assert!(!summary.load_pending, "{what}");
            assert_eq!(summary.tables, 13, "{what}");
            let copy = Store::open(backend).unwrap();
            assert_same(source.store(), &copy, &what);
            // The copy is a store like any other: it takes writes.
            let extra = Quad::new(
                NamedNode::new("http://e/new").unwrap(),
                NamedNode::new("http://e/p").unwrap(),
                NamedNode::new("http://e/o").unwrap(),
                GraphName::DefaultGraph,
            );
            let mut txn = copy.transaction().unwrap();
            assert!(txn.insert(&extra).unwrap(), "{what}");
            txn.commit().unwrap();
            assert_eq!(copy.counts().unwrap().quads, counts.quads + 1, "{what}");
            assert!(copy.verify(5).unwrap().is_ok(), "{what}");
            copy.close().unwrap();
        }
    }
}

#[test]
fn the_copy_holds_the_snapshot_even_when_the_source_changes_during_it() {
    let source = filled("kgdb_plugin_lmdb");
    let before = all_quads(source.store());
    let counts = source.store().counts().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backend = kgdb_tests::open_backend("kgdb_plugin_rocksdb", &dir.path().join("copy"), "");
    let mut calls = 0;
    let mut change = |_: &kgdb_host::store::CopyProgress| {
        // A writer clears a graph while the copy reads.
        calls += 1;
        if calls == 1 {
            source
                .store()
                .clear(&GraphPattern::Named(
                    NamedNode::new("http://e/g1").unwrap().into(),
                ))
                .unwrap();
        }
    };
    source
        .store()
        .copy_into(
            &backend,
            &CopyOptions::with_chunk_bytes(4096),
            Some(&mut change),
        )
        .unwrap();
    assert!(calls > 1);
    assert!(source.store().counts().unwrap().quads < counts.quads);
    let copy = Store::open(backend).unwrap();
    assert_eq!(copy.counts().unwrap(), counts);
    assert_eq!(canonical(all_quads(&copy)), canonical(before));
    assert!(copy.verify(5).unwrap().is_ok());
}

#[test]
fn a_target_with_data_is_refused_and_left_alone() {
    let source = filled("kgdb_plugin_memory");
    let other = filled("kgdb_plugin_lmdb");
    let before = other.store().counts().unwrap();
    let error = source
        .store()
        .copy_into(other.store().backend(), &CopyOptions::default(), None)
        .unwrap_err();
    assert!(matches!(error, StoreError::InvalidInput(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("the target holds data already (table `"),
        "{error}"
    );
    assert_eq!(other.store().counts().unwrap(), before);
    assert!(other.store().verify(5).unwrap().is_ok());
}

#[test]
fn a_copy_that_fails_half_way_is_refused_by_every_open_of_its_target() {
    let source = filled("kgdb_plugin_lmdb");
    let dir = tempfile::tempdir().unwrap();
    // The faulty fixture has no bulk ingest: the copy commits chunk by chunk, and its fifth
    // commit fails (the first marks the copy unfinished).
    let backend = kgdb_tests::open_backend(
        "kgdb_fixture_faulty_plugin",
        &dir.path().join("copy"),
        "fail_commit_number = 5",
    );
    let error = source
        .store()
        .copy_into(&backend, &CopyOptions::with_chunk_bytes(4096), None)
        .unwrap_err();
    assert!(
        error.to_string().contains("injected by the faulty fixture"),
        "{error}"
    );
    // The source is as it was.
    assert!(source.store().verify(5).unwrap().is_ok());
    let error = Store::open(backend).unwrap_err();
    assert!(matches!(error, StoreError::Incompatible(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("a copy that did not finish (`kgdb-host backup` or `migrate` stopped before its last commit), not a store"),
        "{error}"
    );
}

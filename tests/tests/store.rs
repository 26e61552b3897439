//! The QuadStore on every plugin, each loaded from its built `cdylib`: random quad sets and
//! patterns against a naive model, transactions, atomic loads, and load → dump → load on the
//! shared real data sets.

use std::collections::HashSet;

use kgdb_host::store::{GraphPattern, LoadOptions, LoadPath, QuadPattern, Store};
use kgdb_tests::store_kit::{
    all_quads, canonical, dump_nquads, load_files, load_nquads_bytes, matches, parse_file,
    shared_data_set, vocabulary, StoreFixture,
};
use oxrdf::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term};
use proptest::prelude::*;

/// One random operation: insert or remove the quad built from vocabulary indexes.
#[derive(Debug, Clone)]
struct Op {
    insert: bool,
    quad: [usize; 4],
}

fn build(quad: [usize; 4]) -> Quad {
    let (subjects, predicates, objects, graphs) = vocabulary();
    Quad::new(
        subjects[quad[0] % subjects.len()].clone(),
        predicates[quad[1] % predicates.len()].clone(),
        objects[quad[2] % objects.len()].clone(),
        graphs[quad[3] % graphs.len()].clone(),
    )
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        (
            proptest::bool::weighted(0.8),
            [0..6usize, 0..3, 0..16, 0..4],
        )
            .prop_map(|(insert, quad)| Op { insert, quad }),
        0..120,
    )
}

/// Every pattern shape: each position unbound or bound to a vocabulary term (present in the
/// store or not); the graph any, default, or named.
fn patterns() -> Vec<QuadPattern> {
    let (subjects, predicates, objects, graphs) = vocabulary();
    let mut patterns = Vec::new();
    let subject_choices: Vec<Option<Term>> = std::iter::once(None)
        .chain(
            [0, 4]
                .iter()
                .map(|i| Some(Term::from(subjects[*i].clone()))),
        )
        .collect();
    let predicate_choices: Vec<Option<Term>> = std::iter::once(None)
        .chain(
            [0, 2]
                .iter()
                .map(|i| Some(Term::from(predicates[*i].clone()))),
        )
        .collect();
    let object_choices: Vec<Option<Term>> = std::iter::once(None)
        .chain([1, 8, 11, 14, 15].iter().map(|i| Some(objects[*i].clone())))
        .collect();
    let mut graph_choices = vec![GraphPattern::Any, GraphPattern::Default];
    for graph in &graphs[1..] {
        graph_choices.push(GraphPattern::Named(match graph {
            GraphName::NamedNode(node) => node.clone().into(),
            GraphName::BlankNode(node) => node.clone().into(),
            GraphName::DefaultGraph => unreachable!(),
        }));
    }
    graph_choices.push(GraphPattern::Named(
        NamedNode::new("http://example.com/absent").unwrap().into(),
    ));
    for subject in &subject_choices {
        for predicate in &predicate_choices {
            for object in &object_choices {
                for graph in &graph_choices {
                    patterns.push(QuadPattern {
                        subject: subject.clone(),
                        predicate: predicate.clone(),
                        object: object.clone(),
                        graph: graph.clone(),
                    });
                }
            }
        }
    }
    patterns
}

/// Applies `ops` in `transactions` commits and checks the store against the model: every
/// pattern, every count.
fn check_against_model(stem: &str, config: &str, ops: &[Op], transactions: usize) {
    let fixture = StoreFixture::open(stem, config);
    let store = fixture.store();
    let mut model: HashSet<Quad> = HashSet::new();
    let per_txn = ops.len().div_ceil(transactions.max(1)).max(1);
    for chunk in ops.chunks(per_txn) {
        let mut txn = store.transaction().unwrap();
        for op in chunk {
            let quad = build(op.quad);
            if op.insert {
                assert_eq!(
                    txn.insert(&quad).unwrap(),
                    model.insert(quad.clone()),
                    "{quad}"
                );
            } else {
                assert_eq!(txn.remove(&quad).unwrap(), model.remove(&quad), "{quad}");
            }
        }
        txn.commit().unwrap();
    }
    check_store(store, &model);
}

fn check_store(store: &Store, model: &HashSet<Quad>) {
    let snapshot = store.snapshot().unwrap();
    for pattern in patterns() {
        let expected: HashSet<Quad> = model
            .iter()
            .filter(|quad| matches(&pattern, quad))
            .cloned()
            .collect();
        let found: Vec<Quad> = snapshot
            .quads_for_pattern(&pattern)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            found.len(),
            expected.len(),
            "duplicates or misses for {pattern:?}"
        );
        assert_eq!(
            found.into_iter().collect::<HashSet<_>>(),
            expected,
            "{pattern:?}"
        );
    }
    let counts = snapshot.counts().unwrap();
    assert_eq!(counts.quads, model.len() as u64);
    assert_eq!(
        counts.default_graph_quads,
        model
            .iter()
            .filter(|q| q.graph_name.is_default_graph())
            .count() as u64
    );
    let mut named: Vec<(String, u64)> = snapshot
        .named_graphs()
        .unwrap()
        .into_iter()
        .map(|(name, count)| (name.to_string(), count))
        .collect();
    named.sort();
    let mut expected_named: Vec<(String, u64)> = Vec::new();
    for quad in model {
        let name = match &quad.graph_name {
            GraphName::DefaultGraph => continue,
            GraphName::NamedNode(node) => node.to_string(),
            GraphName::BlankNode(node) => node.to_string(),
        };
        match expected_named.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => expected_named.push((name, 1)),
        }
    }
    expected_named.sort();
    assert_eq!(named, expected_named);
    for quad in model {
        assert!(snapshot.contains(quad).unwrap(), "{quad}");
    }
    drop(snapshot);
    let report = store.verify(10).unwrap();
    assert!(report.is_ok(), "{report:#?}");
}

fn transactions_isolate_read_their_writes_and_roll_back(stem: &str, config: &str) {
    let fixture = StoreFixture::open(stem, config);
    let store = fixture.store();
    let a = build([0, 0, 6, 0]);
    let b = build([1, 1, 14, 1]);
    let before = store.snapshot().unwrap();
    let mut txn = store.transaction().unwrap();
    assert!(txn.insert(&a).unwrap());
    assert!(
        !txn.insert(&a).unwrap(),
        "set semantics inside one transaction"
    );
    assert!(txn.insert(&b).unwrap());
    // Read-your-writes: patterns, membership and counts see the writes.
    assert!(txn.contains(&b).unwrap());
    assert_eq!(txn.counts().unwrap().quads, 2);
    let seen: Vec<Quad> = txn
        .quads_for_pattern(&QuadPattern::default())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(seen.len(), 2);
    // A snapshot taken before sees nothing.
    assert_eq!(before.counts().unwrap().quads, 0);
    assert!(!before.contains(&a).unwrap());
    txn.commit().unwrap();
    assert!(
        !before.contains(&a).unwrap(),
        "an older snapshot stays as it was"
    );
    drop(before);
    let after = store.snapshot().unwrap();
    assert!(after.contains(&a).unwrap() && after.contains(&b).unwrap());
    drop(after);
    let figures = store.figures();
    assert_eq!((figures.quads_inserted, figures.quads_removed), (2, 0));
    assert!(figures.dictionary_misses > 0);

    // Dropped without commit: rolled back.
    {
        let mut txn = store.transaction().unwrap();
        assert!(txn.remove(&a).unwrap());
        assert!(txn.insert(&build([2, 2, 9, 3])).unwrap());
        assert!(!txn.contains(&a).unwrap());
    }
    assert_eq!(all_quads(store), HashSet::from([a.clone(), b.clone()]));
    // Explicit rollback.
    let mut txn = store.transaction().unwrap();
    txn.clear(&GraphPattern::Any).unwrap();
    assert_eq!(txn.counts().unwrap().quads, 0);
    txn.rollback().unwrap();
    assert_eq!(store.counts().unwrap().quads, 2);
    // remove_pattern and clear of one graph.
    let removed = store
        .update(3, |txn| {
            txn.remove_pattern(&QuadPattern {
                subject: Some(a.subject.clone().into()),
                ..QuadPattern::default()
            })
        })
        .unwrap();
    assert_eq!(removed, 1);
    let graph_of_b = match &b.graph_name {
        GraphName::NamedNode(node) => NamedOrBlankNode::from(node.clone()),
        other => panic!("b is in a named graph, not {other}"),
    };
    assert_eq!(store.clear(&GraphPattern::Named(graph_of_b)).unwrap(), 1);
    assert_eq!(store.counts().unwrap().quads, 0);
    assert!(store.verify(10).unwrap().is_ok());
    // Only committed quads count: the dropped and the rolled-back transactions add nothing.
    let figures = store.figures();
    assert_eq!((figures.quads_inserted, figures.quads_removed), (2, 2));
    // The same figures reach the backend's operation stats.
    let counters = store.backend().collector().snapshot().counters;
    let removed = counters.iter().find(|c| c.name == "quads_removed");
    assert_eq!(removed.map(|c| c.value), Some(2));
}

/// A term committed after a snapshot began (and cached store-wide by a newer view) is no term
/// of the snapshot's: its look-ups miss, and a query over the snapshot that meets the term as
/// a constant (or computes it) writes it without looking its id up in a dictionary that
/// lacks it.
fn a_snapshot_never_takes_an_id_committed_after_it_began(stem: &str, config: &str) {
    use kgdb_host::sparql::{self, QueryOptions, QueryResults};
    let fixture = StoreFixture::open(stem, config);
    let store = fixture.store();
    let older = build([0, 0, 6, 0]);
    store.update(1, |txn| txn.insert(&older).map(drop)).unwrap();
    let old = store.snapshot().unwrap();
    let newer = Quad::new(
        NamedNode::new_unchecked("http://example.com/late"),
        NamedNode::new_unchecked("http://example.com/p"),
        oxrdf::Literal::from("committed later"),
        GraphName::DefaultGraph,
    );
    store.update(1, |txn| txn.insert(&newer).map(drop)).unwrap();
    // A newer view looks the terms up, filling the shared cache.
    assert!(store.snapshot().unwrap().contains(&newer).unwrap());
    assert!(!old.contains(&newer).unwrap());
    let query = sparql::parse_query(
        "SELECT ?v (COUNT(*) AS ?n) WHERE { VALUES ?v { \"committed later\" <http://example.com/late> } OPTIONAL { ?v ?p ?o } } GROUP BY ?v ORDER BY ?v",
        "the test",
        None,
    )
    .unwrap();
    let (results, context) = sparql::evaluate(&old, &query, &QueryOptions::default())
        .unwrap()
        .into_parts();
    let QueryResults::Solutions(solutions) = results else {
        panic!("a SELECT gives solutions")
    };
    let rows: Vec<String> = solutions
        .map(|row| row.map_err(|e| context.error(e)).unwrap())
        .map(|row| format!("{} {}", row.get("v").unwrap(), row.get("n").unwrap()))
        .collect();
    assert_eq!(
        rows,
        [
            "<http://example.com/late> \"1\"^^<http://www.w3.org/2001/XMLSchema#integer>",
            "\"committed later\" \"1\"^^<http://www.w3.org/2001/XMLSchema#integer>",
        ]
    );
}

fn whole_clear_empties_the_dictionary(stem: &str, config: &str) {
    let fixture = StoreFixture::open(stem, config);
    let store = fixture.store();
    store
        .update(1, |txn| {
            for i in 0..50 {
                txn.insert(&build([i, i, i, i]))?;
            }
            Ok(())
        })
        .unwrap();
    assert!(store.counts().unwrap().terms > 0);
    store.clear(&GraphPattern::Any).unwrap();
    let counts = store.counts().unwrap();
    assert_eq!((counts.quads, counts.terms), (0, 0));
    assert!(store.verify(10).unwrap().is_ok());
    // Usable again afterwards, with fresh ids.
    assert!(store
        .update(1, |txn| txn.insert(&build([1, 1, 1, 1])))
        .unwrap());
    assert!(store.verify(10).unwrap().is_ok());

    // Ids cached before a clear must not leak past it: after the clear, id 1 names another
    // term, so a stale cache would file `a` under the wrong terms.
    let a = build([2, 0, 6, 1]);
    let c = build([3, 2, 9, 0]);
    store.update(1, |txn| txn.insert(&a)).unwrap();
    let snapshot = store.snapshot().unwrap();
    assert!(snapshot.contains(&a).unwrap(), "populates the shared cache");
    let mut txn = store.transaction().unwrap();
    txn.clear(&GraphPattern::Any).unwrap();
    assert!(
        !txn.contains(&a).unwrap(),
        "inside the clearing transaction"
    );
    assert!(txn.insert(&c).unwrap());
    txn.commit().unwrap();
    assert!(
        snapshot.contains(&a).unwrap(),
        "the old snapshot still sees its data"
    );
    drop(snapshot);
    assert!(store.update(1, |txn| txn.insert(&a)).unwrap());
    assert_eq!(all_quads(store), HashSet::from([a, c]));
    assert!(store.verify(10).unwrap().is_ok());
}

/// A file with one bad line in the middle: nothing is loaded (in one chunk or many), or
/// everything but that line with `lenient`.
fn a_bad_line_loads_nothing_or_everything_else(stem: &str, config: &str) {
    let fixture = StoreFixture::open(stem, config);
    let store = fixture.store();
    let dir = fixture.dir.path();
    let good = dir.join("good.nt");
    std::fs::write(&good, "<http://e/x> <http://e/p> \"before\" .\n").unwrap();
    load_files(store, &[good], LoadOptions::default(), false).unwrap();
    let before = all_quads(store);
    let terms_before = store.counts().unwrap().terms;

    let mut text = String::new();
    for i in 0..3000 {
        if i == 1500 {
            text.push_str("<http://e/s1500> <http://e/p> \"unterminated .\n");
        } else {
            text.push_str(&format!(
                "_:b{i} <http://e/p> \"v{i}\"@en <http://e/g{}> .\n",
                i % 7
            ));
        }
    }
    let bad = dir.join("bad.nq");
    std::fs::write(&bad, text).unwrap();
    for (chunk_quads, path) in [
        (100_000, LoadPath::Transactions),
        (200, LoadPath::Transactions),
        (200, LoadPath::Batches),
    ] {
        let error = load_files(
            store,
            std::slice::from_ref(&bad),
            LoadOptions { chunk_quads, path },
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("bad.nq:1501:"), "{error}");
        assert!(error.contains("nothing was loaded"), "{error}");
        assert_eq!(
            all_quads(store),
            before,
            "chunk size {chunk_quads}, {path:?}"
        );
        assert_eq!(store.counts().unwrap().terms, terms_before);
        assert!(store.verify(10).unwrap().is_ok());
    }
    let options = LoadOptions {
        chunk_quads: 500,
        ..LoadOptions::default()
    };
    let report = load_files(store, &[bad], options, true).unwrap();
    assert_eq!(report.skipped_count, 1);
    assert!(
        report.skipped[0].location.ends_with("bad.nq:1501:31"),
        "{:?}",
        report.skipped
    );
    assert_eq!(report.summary.inserted, 2999);
    assert_eq!(store.counts().unwrap().quads, 3000);
    assert!(store.verify(10).unwrap().is_ok());
}

/// A load dropped after several chunks (or batches) were written is undone.
fn a_dropped_chunked_load_is_undone(stem: &str, config: &str) {
    let fixture = StoreFixture::open(stem, config);
    let store = fixture.store();
    store
        .update(1, |txn| txn.insert(&build([0, 0, 0, 0])))
        .unwrap();
    let before = all_quads(store);
    let counts = store.counts().unwrap();
    for path in [LoadPath::Transactions, LoadPath::Batches] {
        let mut load = store
            .bulk_load(LoadOptions {
                chunk_quads: 100,
                path,
            })
            .unwrap();
        for i in 0..1000 {
            let quad = Quad::new(
                NamedNode::new(format!("http://e/s{i}")).unwrap(),
                NamedNode::new("http://e/p").unwrap(),
                NamedNode::new(format!("http://e/o{}", i % 13)).unwrap(),
                GraphName::DefaultGraph,
            );
            load.add(quad).unwrap();
        }
        assert!(load.summary().chunks >= 9, "{path:?}: {:?}", load.summary());
        drop(load);
        assert_eq!(all_quads(store), before, "{path:?}");
        assert_eq!(store.counts().unwrap(), counts, "{path:?}");
        assert!(store.verify(10).unwrap().is_ok(), "{path:?}");
    }
}

/// load → dump → load again gives an isomorphic dataset equal to the file's; counts are the
/// distinct quads of the file; everything survives a reopen.
fn real_data_round_trips(stem: &str, config: &str, file: &str) {
    let Some(path) = shared_data_set(file) else {
        return;
    };
    let mut fixture = StoreFixture::open(stem, config);
    let report = load_files(
        fixture.store(),
        std::slice::from_ref(&path),
        LoadOptions {
            chunk_quads: 100_000,
            ..LoadOptions::default()
        },
        false,
    )
    .unwrap();
    let original = parse_file(&path);
    let distinct = original.iter().collect::<HashSet<_>>().len() as u64;
    assert_eq!(report.summary.inserted, distinct);
    assert_eq!(fixture.store().counts().unwrap().quads, distinct);
    let persistent = fixture
        .store()
        .backend()
        .capabilities()
        .has(kgdb_host::plugin::Capabilities::PERSISTENT);
    if persistent {
        fixture.reopen();
        assert_eq!(
            fixture.store().counts().unwrap().quads,
            distinct,
            "after reopening"
        );
    }
    let store = fixture.store();
    assert!(store.verify(10).unwrap().is_ok());
    let dumped = dump_nquads(store);
    let other = StoreFixture::open(stem, config);
    load_nquads_bytes(other.store(), other.dir.path(), &dumped);
    assert_eq!(other.store().counts().unwrap().quads, distinct);
    let reloaded = canonical(all_quads(other.store()));
    let expected = canonical(original);
    assert_eq!(reloaded.len(), expected.len());
    assert!(
        reloaded == expected,
        "load, dump and load again gives a dataset isomorphic to the file"
    );
}

/// Concurrent writers through `update`: serialised by the store, nothing lost, counters exact.
fn concurrent_writers_lose_nothing(stem: &str, config: &str) {
    let fixture = StoreFixture::open(stem, config);
    let store = fixture.store();
    std::thread::scope(|scope| {
        for thread in 0..4 {
            scope.spawn(move || {
                for i in 0..50 {
                    let quad = Quad::new(
                        NamedNode::new(format!("http://e/t{thread}/s{i}")).unwrap(),
                        NamedNode::new("http://e/p").unwrap(),
                        NamedNode::new(format!("http://e/o{}", i % 3)).unwrap(),
                        NamedNode::new(format!("http://e/g{}", i % 2)).unwrap(),
                    );
                    assert!(store.update(3, |txn| txn.insert(&quad)).unwrap());
                }
            });
        }
        // Readers meanwhile always see whole commits: counters match the data.
        scope.spawn(|| {
            for _ in 0..20 {
                let snapshot = store.snapshot().unwrap();
                let counted = snapshot
                    .quads_for_pattern(&QuadPattern::default())
                    .unwrap()
                    .count() as u64;
                assert_eq!(snapshot.counts().unwrap().quads, counted);
            }
        });
    });
    assert_eq!(store.counts().unwrap().quads, 200);
    assert!(store.verify(10).unwrap().is_ok());
}

/// A store of 20 quads that verifies.
fn twenty_quads(stem: &str, config: &str) -> StoreFixture {
    let fixture = StoreFixture::open(stem, config);
    fixture
        .store()
        .update(1, |txn| {
            for i in 0..20 {
                txn.insert(&build([i, i, i, i]))?;
            }
            Ok(())
        })
        .unwrap();
    assert!(fixture.store().verify(10).unwrap().is_ok());
    fixture
}

/// `verify` finds an index entry that another ordering lacks, and a wrong counter.
fn verify_reports_differences(stem: &str, config: &str) {
    let fixture = twenty_quads(stem, config);
    let store = fixture.store();
    let backend = store.backend();
    let pos = backend.open_table("quads.pos", false).unwrap();
    let mut txn = backend
        .begin(kgdb_host::plugin::TxnOptions::READ_WRITE)
        .unwrap();
    let key = txn
        .scan(pos, kgdb_host::plugin::ScanSpec::all())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .0;
    txn.delete(pos, &key).unwrap();
    txn.commit().unwrap();
    let report = store.verify(10).unwrap();
    assert!(!report.is_ok());
    assert!(
        report
            .differences
            .iter()
            .any(|d| d.contains("ordering pos holds")),
        "{report:#?}"
    );
}

/// `verify` names what differs where every count agrees: an index entry replaced by another
/// (the same number of entries), and two dictionary entries whose ids were swapped.
fn verify_names_what_differs(stem: &str, config: &str) {
    use kgdb_host::plugin::{ScanSpec, TxnOptions};
    let fixture = twenty_quads(stem, config);
    let store = fixture.store();
    let backend = store.backend();
    let table = |name: &str| backend.open_table(name, false).unwrap();
    let (spo, pos, term2id) = (
        table("quads.spo"),
        table("quads.pos"),
        table("dict.term2id"),
    );
    let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
    let first = |txn: &kgdb_host::plugin::BackendTxn, table, n: usize| {
        txn.scan(table, ScanSpec::all())
            .unwrap()
            .nth(n)
            .unwrap()
            .unwrap()
    };
    // pos loses an entry and gains spo's first key read as a pos key: another quad.
    let (lost, _) = first(&txn, pos, 0);
    let (foreign, _) = first(&txn, spo, 0);
    txn.delete(pos, &lost).unwrap();
    txn.put(pos, &foreign, b"").unwrap();
    // Two term-to-id entries swap their ids.
    let (hash_a, id_a) = first(&txn, term2id, 0);
    let (hash_b, id_b) = first(&txn, term2id, 1);
    txn.put(term2id, &hash_a, &id_b).unwrap();
    txn.put(term2id, &hash_b, &id_a).unwrap();
    txn.commit().unwrap();
    let report = store.verify(20).unwrap();
    let has = |fragments: &[&str]| {
        report
            .differences
            .iter()
            .any(|d| fragments.iter().all(|f| d.contains(f)))
    };
    assert!(
        has(&["ordering pos holds (", "that spo lacks"]),
        "{report:#?}"
    );
    assert!(
        has(&["ordering spo holds (", "that pos lacks"]),
        "{report:#?}"
    );
    assert!(has(&["maps back to id"]), "{report:#?}");
    assert!(!has(&["the counters say"]), "{report:#?}");
}

/// Every writable format: dump, load into a fresh store, same dataset (up to blank nodes).
fn every_format_round_trips(stem: &str, config: &str) {
    use kgdb_host::rdf::{self, DumpRequest, InputFormat, LoadRequest, Source};
    use oxrdfio::RdfFormat;
    let fixture = StoreFixture::open(stem, config);
    let dir = fixture.dir.path();
    let trig = dir.join("in.trig");
    std::fs::write(
        &trig,
        r#"@prefix e: <http://e/> .
e:a e:says <<( e:b e:knows _:c )>> ; e:name "Ann"@en--rtl, "x\\ny"^^e:dt .
_:c e:p [ e:q 1.5e0 ] .
e:g { e:a e:in e:g . _:c e:p "in g" . }
_:h { e:x e:y "blank graph" . }
"#,
    )
    .unwrap();
    let load = |store: &Store, path: &std::path::Path, format: RdfFormat| {
        rdf::load(
            store,
            &LoadRequest {
                sources: vec![Source::File(
                    path.to_owned(),
                    InputFormat {
                        format,
                        gzip: false,
                    },
                )],
                ..LoadRequest::default()
            },
        )
        .unwrap()
    };
    load(fixture.store(), &trig, RdfFormat::TriG);
    let original = canonical(all_quads(fixture.store()));
    assert_eq!(original.len(), 8);
    for format in [RdfFormat::NQuads, RdfFormat::TriG] {
        let path = dir.join(format!("out.{}", format.file_extension()));
        let mut bytes = Vec::new();
        rdf::dump(
            fixture.store(),
            &DumpRequest {
                format,
                graph: GraphPattern::Any,
            },
            &mut bytes,
        )
        .unwrap();
        std::fs::write(&path, bytes).unwrap();
        let other = StoreFixture::open(stem, config);
        load(other.store(), &path, format);
        assert!(canonical(all_quads(other.store())) == original, "{format}");
    }
    // One-graph formats, on the default graph (RDF/XML cannot hold triple terms: a graph
    // without them).
    let plain = GraphPattern::Named(NamedNode::new("http://e/g").unwrap().into());
    let graph_quads: Vec<Quad> = all_quads(fixture.store())
        .into_iter()
        .filter(|quad| {
            matches(
                &QuadPattern {
                    graph: plain.clone(),
                    ..QuadPattern::default()
                },
                quad,
            )
        })
        .map(|mut quad| {
            quad.graph_name = GraphName::DefaultGraph;
            quad
        })
        .collect();
    for format in [RdfFormat::NTriples, RdfFormat::Turtle, RdfFormat::RdfXml] {
        let path = dir.join(format!("graph.{}", format.file_extension()));
        let mut bytes = Vec::new();
        rdf::dump(
            fixture.store(),
            &DumpRequest {
                format,
                graph: plain.clone(),
            },
            &mut bytes,
        )
        .unwrap();
        std::fs::write(&path, bytes).unwrap();
        let other = StoreFixture::open(stem, config);
        load(other.store(), &path, format);
        assert!(
            canonical(all_quads(other.store())) == canonical(graph_quads.clone()),
            "{format}"
        );
    }
}

macro_rules! store_tests {
    ($module:ident, $stem:expr, $config:expr) => {
        mod $module {
            use super::*;

            proptest! {
                #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
                #[test]
                fn random_quads_and_patterns_match_a_naive_model(ops in ops(), transactions in 1..4usize) {
                    check_against_model($stem, $config, &ops, transactions);
                }
            }

            #[test]
            fn transactions() {
                transactions_isolate_read_their_writes_and_roll_back($stem, $config);
            }

            #[test]
            fn clear_all() {
                whole_clear_empties_the_dictionary($stem, $config);
            }

            #[test]
            fn snapshot_ids() {
                a_snapshot_never_takes_an_id_committed_after_it_began($stem, $config);
            }

            #[test]
            fn bad_line() {
                a_bad_line_loads_nothing_or_everything_else($stem, $config);
            }

            #[test]
            fn dropped_load() {
                a_dropped_chunked_load_is_undone($stem, $config);
            }

            #[test]
            fn concurrent_writers() {
                concurrent_writers_lose_nothing($stem, $config);
            }

            #[test]
            fn verify_finds_differences() {
                verify_reports_differences($stem, $config);
            }

            #[test]
            fn verify_names_differences_where_counts_agree() {
                verify_names_what_differs($stem, $config);
            }

            #[test]
            fn every_format() {
                every_format_round_trips($stem, $config);
            }

            #[test]
            fn zazuko_vocab_round_trips() {
                real_data_round_trips($stem, $config, "zazuko-vocab.nq.gz");
            }

            #[test]
            fn brick_round_trips() {
                real_data_round_trips($stem, $config, "brick.nq.gz");
            }
        }
    };
}

store_tests!(memory, "kgdb_plugin_memory", "");
store_tests!(lmdb, "kgdb_plugin_lmdb", "map_size = \"64 MiB\"");
store_tests!(rocksdb, "kgdb_plugin_rocksdb", "");

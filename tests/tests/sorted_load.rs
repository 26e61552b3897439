//! The sorted-run load on every shipped plugin, in process: the same store as a transactional
//! load (counts, named-graph counts, every quad, `verify`), set semantics against what the
//! store holds, spills under a small memory budget, rollback, and readers that see a load
//! whole or not at all.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use kgdb_host::store::{
    GraphPattern, LoadOptions, LoadPath, LoadStage, SortedLoadOptions, Store, MIN_MEMORY_BUDGET,
};
use kgdb_tests::store_kit::{all_quads, StoreFixture};
use oxrdf::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term, Triple};

const PLUGINS: [(&str, &str); 3] = [
    ("kgdb_plugin_memory", ""),
    ("kgdb_plugin_lmdb", ""),
    ("kgdb_plugin_rocksdb", ""),
];

fn iri(text: String) -> NamedNode {
    NamedNode::new(text).unwrap()
}

/// `n` quads numbered from `from`: default-graph and named-graph ones, literals, a few
/// triple terms, and every tenth quad given twice.
fn quads(from: usize, n: usize) -> Vec<Quad> {
    let mut out = Vec::with_capacity(n + n / 10);
    for i in from..from + n {
        let subject = iri(format!("http://e/s{}", i / 3));
        let predicate = iri(format!("http://e/p{}", i % 17));
        let object: Term = match i % 4 {
            0 => iri(format!("http://e/o{i}")).into(),
            1 => Literal::new_simple_literal(format!("value {i}")).into(),
            2 => Literal::new_language_tagged_literal(format!("mot {i}"), "fr")
                .unwrap()
                .into(),
            _ if i % 40 == 3 => Triple::new(
                iri(format!("http://e/s{i}")),
                iri("http://e/said".into()),
                Literal::from(i as i64),
            )
            .into(),
            _ => Literal::from(i as i64).into(),
        };
        let graph: GraphName = match i % 3 {
            0 => GraphName::DefaultGraph,
            _ => iri(format!("http://e/g{}", i % 7)).into(),
        };
        let quad = Quad::new(subject, predicate, object, graph);
        if i % 10 == 0 {
            out.push(quad.clone());
        }
        out.push(quad);
    }
    out
}

fn sorted_load(store: &Store, quads: &[Quad], budget: u64) -> (u64, u64) {
    let mut load = store
        .sorted_load(SortedLoadOptions {
            memory_budget: budget,
            ..SortedLoadOptions::default()
        })
        .unwrap();
    for chunk in quads.chunks(1000) {
        load.add_all(chunk).unwrap();
    }
    let spilled = load.spilled_runs();
    (load.commit().unwrap().inserted, spilled)
}

fn transactional_load(store: &Store, quads: &[Quad]) -> u64 {
    let mut load = store
        .bulk_load(LoadOptions {
            chunk_quads: 1_000_000,
            path: LoadPath::Transactions,
        })
        .unwrap();
    for quad in quads {
        load.add(quad.clone()).unwrap();
    }
    load.commit().unwrap().inserted
}

/// The figures two stores must share.
fn figures(store: &Store) -> (u64, u64, u64, Vec<(NamedOrBlankNode, u64)>) {
    let counts = store.counts().unwrap();
    let mut graphs = store.snapshot().unwrap().named_graphs().unwrap();
    graphs.sort_by_key(|(name, _)| name.to_string());
    (
        counts.quads,
        counts.default_graph_quads,
        counts.terms,
        graphs,
    )
}

fn assert_verified(store: &Store, what: &str) {
    let report = store.verify(10).unwrap();
    assert!(report.is_ok(), "{what}: {report:?}");
}

#[test]
fn a_sorted_load_stores_what_a_transactional_load_stores() {
    let data = quads(0, 3000);
    let distinct: HashSet<Quad> = data.iter().cloned().collect();
    for (stem, config) in PLUGINS {
        let sorted = StoreFixture::open(stem, config);
        let (inserted, spilled) = sorted_load(sorted.store(), &data, 1 << 30);
        assert_eq!(spilled, 0, "{stem}");
        assert_eq!(inserted, distinct.len() as u64, "{stem}");
        let reference = StoreFixture::open(stem, config);
        transactional_load(reference.store(), &data);
        assert_eq!(
            figures(sorted.store()),
            figures(reference.store()),
            "{stem}"
        );
        assert_eq!(all_quads(sorted.store()), distinct, "{stem}");
        assert_verified(sorted.store(), stem);
    }
}

#[test]
fn a_sorted_load_into_a_store_that_holds_quads_adds_only_new_ones() {
    for (stem, config) in PLUGINS {
        let mut fixture = StoreFixture::open(stem, config);
        let first = quads(0, 2000);
        // Half of the second load is already stored.
        let second = quads(1000, 2000);
        transactional_load(fixture.store(), &first);
        let before: HashSet<Quad> = all_quads(fixture.store());
        let (inserted, _) = sorted_load(fixture.store(), &second, 1 << 30);
        let mut expected = before.clone();
        expected.extend(second.iter().cloned());
        assert_eq!(inserted, (expected.len() - before.len()) as u64, "{stem}");
        let reference = StoreFixture::open(stem, config);
        transactional_load(reference.store(), &first);
        transactional_load(reference.store(), &second);
        assert_eq!(
            figures(fixture.store()),
            figures(reference.store()),
            "{stem}"
        );
        assert_eq!(all_quads(fixture.store()), expected, "{stem}");
        assert_verified(fixture.store(), stem);
        fixture.reopen();
        if !stem.contains("memory") {
            assert_eq!(
                all_quads(fixture.store()),
                expected,
                "{stem}: after reopening"
            );
            assert_verified(fixture.store(), stem);
        }
    }
}

#[test]
fn a_sorted_load_over_its_budget_spills_runs_and_merges_them() {
    // About 20,000 quads per run at the smallest budget.
    let data = quads(0, 60_000);
    let distinct: HashSet<Quad> = data.iter().cloned().collect();
    for (stem, config) in PLUGINS {
        let fixture = StoreFixture::open(stem, config);
        transactional_load(fixture.store(), &quads(59_000, 2000));
        let (_, spilled) = sorted_load(fixture.store(), &data, MIN_MEMORY_BUDGET);
        assert!(spilled >= 2, "{stem}: {spilled} runs spilled");
        let mut expected = distinct.clone();
        expected.extend(quads(59_000, 2000));
        assert_eq!(all_quads(fixture.store()), expected, "{stem}");
        assert_eq!(
            fixture.store().counts().unwrap().quads,
            expected.len() as u64,
            "{stem}"
        );
        assert_verified(fixture.store(), stem);
    }
}

#[test]
fn a_sorted_load_given_up_or_dropped_leaves_the_store_as_it_was() {
    for (stem, config) in PLUGINS {
        let fixture = StoreFixture::open(stem, config);
        let store = fixture.store();
        transactional_load(store, &quads(0, 500));
        let before = (figures(store), all_quads(store));
        let mut load = store.sorted_load(SortedLoadOptions::default()).unwrap();
        load.add_all(&quads(400, 2000)).unwrap();
        load.rollback().unwrap();
        let mut load = store.sorted_load(SortedLoadOptions::default()).unwrap();
        load.add_all(&quads(400, 2000)).unwrap();
        drop(load);
        assert_eq!((figures(store), all_quads(store)), before, "{stem}");
        assert_verified(store, stem);
        // The store takes the next load as usual.
        sorted_load(store, &quads(400, 200), 1 << 30);
        assert_verified(store, stem);
    }
}

#[test]
fn a_load_into_a_store_with_terms_raises_the_engine_cache_for_its_length() {
    // RocksDB's block cache is 64 MiB by default: a 2 GiB budget raises it to a quarter of a
    // GiB (an eighth of the budget) while the load runs.
    let fixture = StoreFixture::open("kgdb_plugin_rocksdb", "");
    let store = fixture.store();
    let configured = store.backend().cache_capacity().unwrap();
    assert_eq!(configured, Some(64 << 20));
    let options = SortedLoadOptions {
        memory_budget: 2 << 30,
        ..SortedLoadOptions::default()
    };
    // An empty store: nothing to look up, nothing raised.
    let load = store.sorted_load(options.clone()).unwrap();
    assert_eq!(store.backend().cache_capacity().unwrap(), configured);
    drop(load);
    transactional_load(store, &quads(0, 500));
    for commit in [true, false] {
        let mut load = store.sorted_load(options.clone()).unwrap();
        assert_eq!(store.backend().cache_capacity().unwrap(), Some(256 << 20));
        load.add_all(&quads(400, 500)).unwrap();
        if commit {
            load.commit().unwrap();
        } else {
            load.rollback().unwrap();
        }
        assert_eq!(
            store.backend().cache_capacity().unwrap(),
            configured,
            "set back after a {}",
            if commit { "commit" } else { "rollback" }
        );
    }
    // A budget whose share is below the configured cache leaves it alone.
    let small = store
        .sorted_load(SortedLoadOptions {
            memory_budget: 256 << 20,
            ..SortedLoadOptions::default()
        })
        .unwrap();
    assert_eq!(store.backend().cache_capacity().unwrap(), configured);
    drop(small);
    // LMDB reads through the page cache: it has no cache the host can size.
    let lmdb = StoreFixture::open("kgdb_plugin_lmdb", "");
    assert_eq!(lmdb.store().backend().cache_capacity().unwrap(), None);
    assert_verified(store, "rocksdb");
}

#[test]
fn readers_see_a_sorted_load_whole_or_not_at_all() {
    let first = quads(0, 1000);
    let second = quads(5000, 40_000);
    for (stem, config) in PLUGINS {
        let fixture = StoreFixture::open(stem, config);
        let store = fixture.store();
        transactional_load(store, &first);
        let before = store.counts().unwrap().quads;
        let all: HashSet<Quad> = first.iter().chain(&second).cloned().collect();
        let after = all.len() as u64;
        let done = AtomicBool::new(false);
        let seen = std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut seen = Vec::new();
                while !done.load(Ordering::SeqCst) {
                    let snapshot = store.snapshot().unwrap();
                    let counted = snapshot.counts().unwrap().quads;
                    let scanned = snapshot
                        .quads_for_pattern(&Default::default())
                        .unwrap()
                        .count() as u64;
                    let default_graph = snapshot.graph_len(&GraphPattern::Default).unwrap();
                    assert_eq!(counted, scanned, "{stem}: counters and indexes disagree");
                    assert!(default_graph <= counted);
                    seen.push(counted);
                }
                seen
            });
            let mut stages = Vec::new();
            let mut load = store
                .sorted_load(SortedLoadOptions {
                    memory_budget: MIN_MEMORY_BUDGET,
                    ..SortedLoadOptions::default()
                })
                .unwrap();
            load.set_progress(|progress| stages.push(progress.stage));
            for chunk in second.chunks(1000) {
                load.add_all(chunk).unwrap();
            }
            load.commit().unwrap();
            done.store(true, Ordering::SeqCst);
            let seen = reader.join().unwrap();
            assert!(stages.contains(&LoadStage::Ingesting), "{stem}: {stages:?}");
            seen
        });
        assert!(!seen.is_empty(), "{stem}");
        for counted in &seen {
            assert!(
                *counted == before || *counted == after,
                "{stem}: a reader saw {counted} quads, neither {before} nor {after}"
            );
        }
        assert_eq!(store.counts().unwrap().quads, after, "{stem}");
        assert_verified(store, stem);
    }
}

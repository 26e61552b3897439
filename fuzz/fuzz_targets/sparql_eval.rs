//! SPARQL evaluation of arbitrary text over a small store on the memory plugin (named graphs,
//! blank nodes, numbers, language-tagged and typed literals, a triple term): the first byte
//! picks query or update and the options, the rest is the text. A query that parses is
//! evaluated (with a timeout, reading at most 10,000 results) and never panics; an update that
//! parses runs in a transaction that is then dropped, and the store is as before.
//!
//! Needs `KGDB_FUZZ_PLUGIN`: the path of the memory plugin's library (`fuzz/run` sets it).
#![no_main]

#[path = "memory_store.rs"]
mod memory_store;

use std::cell::RefCell;
use std::time::Duration;

use kgdb_host::sparql::{
    self, execute_update_in, parse_query, parse_update, with_sparql_stack, QueryOptions,
    QueryResults,
};
use kgdb_host::store::Store;
use libfuzzer_sys::fuzz_target;

/// The store's data: a little of everything a query can meet.
const DATA: &str = r#"
@prefix ex: <http://example.com/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:alice a ex:Person ; ex:name "Alice" , "Alicia"@es ; ex:age 34 ; ex:knows ex:bob , _:c .
ex:bob a ex:Person ; ex:name "Bob" ; ex:age "27"^^xsd:integer ; ex:score 1.5e0 ; ex:knows ex:alice .
_:c ex:name "Carol"@en ; ex:age 41 ; ex:born "1984-03-02"^^xsd:date ; ex:ok true .
ex:Person ex:sub ex:Agent . ex:Agent ex:sub ex:Thing .
ex:g1 { ex:alice ex:likes ex:tea . ex:bob ex:likes ex:coffee , ex:tea . }
ex:g2 { ex:bob ex:wrote <<( ex:alice ex:knows ex:bob )>> . ex:tea ex:price 2.50 . }
"#;

const BATCH_RESULTS: usize = 10_000;

fn store() -> Store {
    let store = memory_store::memory_store();
    let quads: Vec<oxrdf::Quad> = oxrdfio::RdfParser::from_format(oxrdfio::RdfFormat::TriG)
        .for_slice(DATA)
        .collect::<Result<_, _>>()
        .expect("the fixture's data");
    store
        .update(1, |txn| txn.insert_all(&quads))
        .expect("loading the fixture");
    store
}

thread_local! {
    static STORE: RefCell<Option<Store>> = const { RefCell::new(None) };
}

fn query(store: &Store, text: &str, union_default_graph: bool) {
    let Ok(query) = parse_query(text, "fuzz", Some("http://example.com/base/")) else {
        return;
    };
    let snapshot = store.snapshot().expect("a snapshot");
    let mut options = QueryOptions::default().with_timeout(Duration::from_secs(1));
    if union_default_graph {
        options = options.with_union_default_graph();
    }
    let Ok(evaluation) = sparql::evaluate(&snapshot, &query, &options) else {
        return;
    };
    let (results, _context) = evaluation.into_parts();
    match results {
        QueryResults::Boolean(_) => {}
        QueryResults::Solutions(solutions) => solutions.take(BATCH_RESULTS).for_each(drop),
        QueryResults::Graph(triples) => triples.take(BATCH_RESULTS).for_each(drop),
    };
}

fn update(store: &Store, text: &str) {
    let Ok(update) = parse_update(text, "fuzz", Some("http://example.com/base/")) else {
        return;
    };
    let before = store.counts().expect("counts");
    {
        let mut txn = store.transaction().expect("a transaction");
        if execute_update_in(&mut txn, &update).is_ok() {
            txn.counts().expect("the transaction's counts");
        }
    }
    assert_eq!(
        store.counts().expect("counts"),
        before,
        "a dropped update changed the store"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    STORE.with_borrow_mut(|store| {
        let store = store.get_or_insert_with(self::store);
        with_sparql_stack(|| {
            if selector & 1 == 0 {
                query(store, &text, selector & 2 != 0);
            } else {
                update(store, &text);
            }
        });
    });
});

//! SPARQL parsing of arbitrary text, as a query and as an update, with and without a base
//! IRI: never a panic, and every refusal is a syntax or base IRI error naming where the text
//! came from.
#![no_main]

use kgdb_host::sparql::{parse_query, parse_update, SparqlError};
use libfuzzer_sys::fuzz_target;

fn check<T>(result: Result<T, SparqlError>) {
    match result {
        Ok(_) => {}
        Err(SparqlError::Syntax { location, message }) => {
            assert!(location.starts_with("fuzz"), "{location}: {message}");
            assert!(!message.is_empty());
        }
        Err(SparqlError::BaseIri { .. }) => {}
        Err(other) => panic!("parsing gave {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let base = (first & 1 == 1).then_some("http://example.com/base/");
    check(parse_query(&text, "fuzz", base));
    check(parse_update(&text, "fuzz", base));
});

//! SPARQL parsing of arbitrary text, as a query and as an update, with and without a base
//! IRI: never a panic or a stack overflow, and every refusal is a syntax or base IRI error
//! naming where the text came from. It parses on a thread with the stack the command line
//! gives every command (`with_sparql_stack`); deeply nested brackets are refused before.
#![no_main]

use kgdb_host::sparql::{parse_query, parse_update, with_sparql_stack, SparqlError};
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
    with_sparql_stack(|| {
        check(parse_query(&text, "fuzz", base));
        check(parse_update(&text, "fuzz", base));
    });
});

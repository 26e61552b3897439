//! Dictionary entries: decoding arbitrary bytes never panics, and every term that decodes
//! (or that parses from the input as N-Triples term syntax) encodes and decodes back to
//! itself.
#![no_main]

use std::str::FromStr;

use kgdb_host::store::encoding::{DecodedTerm, EncodedTerm};
use libfuzzer_sys::fuzz_target;
use oxrdf::Term;

fn round_trips(term: &Term) {
    if let Some(encoded) = EncodedTerm::plain(term.as_ref()) {
        let decoded = encoded
            .decode()
            .unwrap_or_else(|error| panic!("{term} was encoded but does not decode: {error}"));
        assert_eq!(decoded, DecodedTerm::Term(term.clone()), "{term}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(DecodedTerm::Term(term)) = EncodedTerm::from_bytes(data.to_vec()).decode() {
        round_trips(&term);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(term) = Term::from_str(text) {
            round_trips(&term);
        }
    }
});

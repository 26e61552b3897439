//! The command line's quad patterns: any four strings give a pattern or a message naming
//! the position; a bound term prints back to text that parses to the same pattern.
#![no_main]

use kgdb_host::cli::PatternArgs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n').map(str::to_owned);
    let args = PatternArgs {
        subject: parts.next().unwrap_or_default(),
        predicate: parts.next().unwrap_or_default(),
        object: parts.next().unwrap_or_default(),
        graph: parts.next(),
    };
    match args.to_pattern() {
        Ok(pattern) => {
            let show = |term: &Option<oxrdf::Term>| {
                term.as_ref()
                    .map_or_else(|| "?any".to_owned(), ToString::to_string)
            };
            let again = PatternArgs {
                subject: show(&pattern.subject),
                predicate: show(&pattern.predicate),
                object: show(&pattern.object),
                graph: args.graph.clone(),
            };
            let reparsed = again
                .to_pattern()
                .unwrap_or_else(|error| panic!("{again:?} does not parse back: {}", error.0));
            assert_eq!(reparsed, pattern);
        }
        Err(failure) => assert!(failure.0.starts_with("invalid "), "{}", failure.0),
    }
});

//! RDF loading of arbitrary bytes through the load path (`kgdb_host::rdf::load` into a store
//! on the memory plugin), in every input format: the first byte picks the format and the
//! options, the rest is the file. A load either fails and leaves the store empty, or
//! succeeds, and then the store's N-Quads dump loads back to the same number of quads.
//!
//! Needs `KGDB_FUZZ_PLUGIN`: the path of the memory plugin's library (`fuzz/run` sets it).
#![no_main]

#[path = "memory_store.rs"]
mod memory_store;

use kgdb_host::rdf::{dump, load, DumpRequest, InputFormat, LoadRequest, Source};
use kgdb_host::store::{GraphPattern, LoadOptions, Store};
use libfuzzer_sys::fuzz_target;
use oxrdfio::RdfFormat;
use std::cell::RefCell;

const FORMATS: [RdfFormat; 7] = [
    RdfFormat::NTriples,
    RdfFormat::NQuads,
    RdfFormat::Turtle,
    RdfFormat::TriG,
    RdfFormat::RdfXml,
    RdfFormat::N3,
    RdfFormat::JsonLd {
        profile: oxrdfio::JsonLdProfileSet::empty(),
    },
];

struct Fixture {
    store: Store,
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    Fixture {
        store: memory_store::memory_store(),
        // In memory where the machine has it: the input is written afresh for every run.
        dir: tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("a scratch directory"),
    }
}

thread_local! {
    static FIXTURE: RefCell<Option<Fixture>> = const { RefCell::new(None) };
}

fn request(source: Source, lenient: bool, keep_labels: bool) -> LoadRequest {
    LoadRequest {
        sources: vec![source],
        lenient,
        keep_blank_node_labels: keep_labels,
        // Small chunks, so that inputs of a few quads already commit more than once.
        options: LoadOptions {
            chunk_quads: 3,
            ..LoadOptions::default()
        },
        ..LoadRequest::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(selector & 7) % FORMATS.len()];
    let lenient = selector & 0x10 != 0;
    let keep_labels = selector & 0x20 != 0;
    FIXTURE.with_borrow_mut(|fixture| {
        let Fixture { store, dir } = fixture.get_or_insert_with(self::fixture);
        let input = dir.path().join("input");
        std::fs::write(&input, body).expect("writing the input");
        let source = Source::File(
            input,
            InputFormat {
                format,
                gzip: false,
            },
        );
        match load(store, &request(source, lenient, keep_labels)) {
            Err(error) => {
                assert_eq!(store.counts().expect("counts").quads, 0, "{error}");
            }
            Ok(report) => {
                let quads = store.counts().expect("counts").quads;
                assert!(report.summary.inserted <= report.summary.read);
                let mut nquads = Vec::new();
                let dump_request = DumpRequest {
                    format: RdfFormat::NQuads,
                    graph: GraphPattern::Any,
                };
                let dumped = dump(store, &dump_request, &mut nquads).expect("the dump");
                assert_eq!(dumped, quads);
                assert_eq!(report.summary.inserted, quads);
                store.clear(&GraphPattern::Any).expect("clear");
                let again = dir.path().join("dump.nq");
                std::fs::write(&again, &nquads).expect("writing the dump");
                let reload = Source::File(
                    again,
                    InputFormat {
                        format: RdfFormat::NQuads,
                        gzip: false,
                    },
                );
                load(store, &request(reload, false, true)).unwrap_or_else(|error| {
                    panic!(
                        "the dump does not load back: {error}\n{}",
                        String::from_utf8_lossy(&nquads)
                    )
                });
                assert_eq!(store.counts().expect("counts").quads, quads);
            }
        }
        store.clear(&GraphPattern::Any).expect("clear");
    });
});

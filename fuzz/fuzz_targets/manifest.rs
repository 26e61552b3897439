//! `plugins.toml`: any text parses or fails with an error whose line and column lie inside
//! the text; it never panics.
#![no_main]

use std::path::Path;

use kgdb_host::plugin::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let lines = text.split('\n').count();
    if let Err(error) = Manifest::parse(Path::new("plugins.toml"), text.clone()) {
        if let Some((line, column)) = error.location {
            assert!(
                line >= 1 && line <= lines,
                "line {line} of {lines}: {error}"
            );
            assert!(column >= 1, "column {column}: {error}");
        }
        assert!(!error.to_string().is_empty());
    }
});

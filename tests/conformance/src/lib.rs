//! # kgdb-conformance
//!
//! The conformance suite for kgdb storage plugins: one set of named cases, written once against
//! the plugin ABI through the host's own loader and adapter (`kgdb-loader`), never against an
//! engine. Any plugin library can be checked with it: `kgdb-host conformance --plugin PATH`
//! runs it from the command line, and kgdb's test suite runs it on every plugin it ships.
//!
//! Each [`Case`] belongs to a [`Category`] and is parametrised by the capability bits the plugin
//! declares: where a bit is clear, the case checks that the operation answers `UNSUPPORTED`
//! instead of skipping it. A case runs on a fresh, empty data directory of its own.
//!
//! ```no_run
//! use kgdb_conformance::{run_suite, Target};
//!
//! let target = Target::new("target/debug/libkgdb_plugin_memory.so");
//! let summary = run_suite(&target, None, |report| println!("{report}"));
//! println!("{} passed, {} failed", summary.passed, summary.failed);
//! ```

#![warn(missing_docs)]

mod cases;
pub mod crash;
mod fixture;
mod runner;

pub use fixture::{expect_code, scan_all, Fixture};
pub use runner::{run_case, run_suite, CaseReport, Summary};

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use kgdb_loader::LoadedPlugin;

/// The groups the cases are reported under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Point reads and writes, tables, key and value sizes.
    Crud,
    /// Range scans: bounds, order, batch limits, large ranges.
    Range,
    /// Prefix scans.
    Prefix,
    /// Write batches and bulk ingestion.
    Batch,
    /// Transactions: commit, rollback, isolation, conflicts.
    Transaction,
    /// What survives close, reopen, flush, checkpoints, compaction and SIGKILL.
    Durability,
    /// Many threads at once.
    Concurrency,
    /// Errors: closed backends, bad input, bad config, damaged data.
    Errors,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Self; 8] = [
        Self::Crud,
        Self::Range,
        Self::Prefix,
        Self::Batch,
        Self::Transaction,
        Self::Durability,
        Self::Concurrency,
        Self::Errors,
    ];

    /// The category's name as it appears in case names (`crud`, `range`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Crud => "crud",
            Self::Range => "range",
            Self::Prefix => "prefix",
            Self::Batch => "batch",
            Self::Transaction => "transaction",
            Self::Durability => "durability",
            Self::Concurrency => "concurrency",
            Self::Errors => "errors",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One named conformance case.
#[derive(Clone, Copy)]
pub struct Case {
    /// The case's name within its category.
    pub name: &'static str,
    /// Its category.
    pub category: Category,
    /// Whether it must run alone in the process (it measures process-wide memory).
    pub exclusive: bool,
    /// The check: panics (an assertion) on a breach of the contract.
    pub run: fn(&mut Fixture),
}

impl Case {
    /// The full name, `category::name`, as reported and matched by filters.
    #[must_use]
    pub fn full_name(&self) -> String {
        format!("{}::{}", self.category, self.name)
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.full_name())
            .finish_non_exhaustive()
    }
}

/// Every case of the suite, grouped by category in [`Category::ALL`] order.
#[must_use]
pub fn cases() -> Vec<&'static Case> {
    cases::ALL.iter().flat_map(|group| group.iter()).collect()
}

/// The cases whose full name contains `filter` (every case when `None`), in report order.
#[must_use]
pub fn cases_matching(filter: Option<&str>) -> Vec<&'static Case> {
    let mut cases = cases();
    if let Some(text) = filter {
        cases.retain(|case| case.full_name().contains(text));
    }
    cases
}

/// The plugin under test and how to run it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The plugin library file (`.so`, `.dylib`, `.dll`).
    pub library: PathBuf,
    /// The plugin config (TOML) every case opens the backend with.
    pub config: String,
    /// A config that makes the backend small enough to fill (for example
    /// `max_map_size = "1 MiB"`); without one, the full-backend case says it could not
    /// simulate a full store.
    pub full_config: Option<String>,
    /// A program that runs the crash writer (see [`crash`]) for the SIGKILL case; without one,
    /// that case fails and says so.
    pub crash_writer: Option<CrashWriter>,
    /// `library` already loaded (and checked) by the caller; without it the suite loads the
    /// file itself, once per process.
    pub loaded: Option<Arc<LoadedPlugin>>,
}

impl Target {
    /// A target for `library` with an empty config and no helpers.
    #[must_use]
    pub fn new(library: impl Into<PathBuf>) -> Self {
        Self {
            library: library.into(),
            config: String::new(),
            full_config: None,
            crash_writer: None,
            loaded: None,
        }
    }
}

/// How to start the crash writer child process: `program args… LIBRARY DATA_DIR FIRST COUNT
/// CONFIG`, which must call [`crash::writer_main`] with the last five arguments.
#[derive(Debug, Clone)]
pub struct CrashWriter {
    /// The executable.
    pub program: PathBuf,
    /// Arguments placed before the writer's own (a subcommand, say).
    pub args: Vec<String>,
}

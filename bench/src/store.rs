//! The store benchmark: one RDF file on one plugin, through the QuadStore. Bulk load and
//! transactional load throughput, bytes on disk per quad (after the load, and after compaction
//! where the engine has it), peak RSS of the load, full-scan rate, and the median and p99
//! latency of the 16 pattern shapes over the workload's constants; for an engine reached over
//! a network, the round trips each of these took (see [`crate::engine`]).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use kgdb_host::disk::bytes_on_disk;
use kgdb_host::plugin::{Access, Capabilities, PluginRegistry};
use kgdb_host::rdf::{self, LoadRequest, Source};
use kgdb_host::store::{GraphPattern, LoadOptions, LoadPath, QuadPattern, Store};
use oxrdf::{GraphName, NamedOrBlankNode, Quad, Term};
use serde::{Deserialize, Serialize};

use crate::engine::{EngineCounters, EngineFigures, Spent};
use crate::workload::{BoundPattern, Latency, Shape};

/// What a store benchmark measures, for one plugin and one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreRun {
    /// What was measured: `kgdb <plugin>` or `oxigraph`.
    pub store: String,
    /// The data file's name.
    pub data: String,
    /// Quads the store holds after the load.
    pub quads: u64,
    /// The bulk path (`kgdb-host load`'s default).
    pub bulk: LoadFigures,
    /// The transactional path (`--load-path transactions`), when measured.
    pub transactional: Option<LoadFigures>,
    /// Bytes on disk after compaction, where the engine compacts.
    pub compacted_bytes: Option<u64>,
    /// Seconds the compaction took.
    #[serde(default)]
    pub compact_seconds: Option<f64>,
    /// Quads per second of one full scan of every quad.
    pub full_scan_quads_per_second: Option<f64>,
    /// Look-up latency by shape.
    pub lookups: Vec<ShapeFigures>,
    /// Look-ups per shape.
    pub constants: usize,
    /// Results read per look-up, at most.
    pub limit: usize,
    /// Round trips to the engine, where it counts them.
    #[serde(default)]
    pub engine: Option<EngineFigures>,
}

/// One load's figures.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct LoadFigures {
    /// Wall time in seconds.
    pub seconds: f64,
    /// Quads read per second.
    pub quads_per_second: f64,
    /// Bytes on disk after the load (persistent stores only): the data directory's, or for
    /// an engine that keeps the data elsewhere, the size it reports for one copy.
    pub bytes_on_disk: Option<u64>,
    /// The process's peak resident set during the load, in bytes (Linux).
    pub peak_rss_bytes: Option<u64>,
}

/// Latency of one shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShapeFigures {
    /// `s?o?`-style shape name.
    pub shape: String,
    /// Latency and results.
    #[serde(flatten)]
    pub latency: Latency,
}

/// Why a benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Plugin loading or opening.
    #[error("{0}")]
    Plugin(#[from] kgdb_host::plugin::LoadError),
    /// The store.
    #[error("{0}")]
    Store(#[from] kgdb_host::store::StoreError),
    /// The load.
    #[error("{0}")]
    Load(#[from] rdf::LoadError),
    /// The data file's format.
    #[error("{0}")]
    Format(#[from] rdf::FormatError),
    /// The backend outside the store (flush, compact).
    #[error("{0}")]
    Backend(#[from] kgdb_host::plugin::BackendError),
    /// The work directory.
    #[error("{file}: {source}")]
    Io {
        /// The file or directory.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// One benchmark: a plugin, a data file, the constants, where to put the stores.
#[derive(Debug)]
pub struct StoreBench<'a> {
    /// Plugins, as `kgdb-host` finds them.
    pub registry: &'a PluginRegistry,
    /// The plugin: a name from `plugins.toml` or a path.
    pub plugin: &'a str,
    /// The RDF file.
    pub data: &'a Path,
    /// The look-up constants.
    pub constants: &'a [Quad],
    /// Results read per look-up, at most.
    pub limit: usize,
    /// Where the stores go (each removed after its measurements).
    pub work_dir: &'a Path,
    /// Whether to measure the transactional path too.
    pub transactional: bool,
}

impl StoreBench<'_> {
    /// Runs every measurement.
    ///
    /// # Errors
    /// Any failure of the plugin, the store or the file.
    pub fn run(&self) -> Result<StoreRun, BenchError> {
        let dir = self.fresh_dir("bulk")?;
        let (store, bulk, bulk_spent) = self.load(&dir, LoadPath::Auto)?;
        let quads = store.counts()?.quads;
        // Scans and look-ups run on the compacted store where the engine compacts (an LSM
        // tree's read cost depends on how many unmerged files the load left, and background
        // compactions racing the measurements make it noisy); Oxigraph's bulk loader leaves
        // its files compacted too. The compaction's time is reported on its own.
        let started = Instant::now();
        let compacted_bytes = self.compact(&store, &dir)?;
        let compact_seconds = compacted_bytes.map(|_| started.elapsed().as_secs_f64());
        tracing::info!(plugin = self.plugin, quads, "loaded; scanning");
        let full_scan_quads_per_second = Some(full_scan(&store)?);
        tracing::info!(plugin = self.plugin, "looking up");
        let lookups = self.lookups(&store)?;
        let engine = match EngineCounters::read(store.backend()) {
            Some(counters) => Some(EngineFigures {
                bulk: bulk_spent.unwrap_or_default(),
                transactional: None,
                stored_bytes: counters.stored_bytes,
                requests_per_lookup: self.requests_per_lookup(&store)?,
            }),
            None => None,
        };
        store.close()?;
        remove_dir(&dir)?;
        let (transactional, transactional_spent) = if self.transactional {
            let dir = self.fresh_dir("transactional")?;
            let (store, figures, spent) = self.load(&dir, LoadPath::Transactions)?;
            store.close()?;
            remove_dir(&dir)?;
            (Some(figures), spent)
        } else {
            (None, None)
        };
        let engine = engine.map(|engine| EngineFigures {
            transactional: transactional_spent,
            ..engine
        });
        Ok(StoreRun {
            store: format!("kgdb {}", self.plugin),
            data: file_name(self.data),
            quads,
            bulk,
            transactional,
            compacted_bytes,
            compact_seconds,
            full_scan_quads_per_second,
            lookups,
            constants: self.constants.len(),
            limit: self.limit,
            engine,
        })
    }

    /// A store holding the data file, bulk-loaded and compacted (where the engine compacts),
    /// as the look-ups measure it; the directory it lives in, to remove once done.
    ///
    /// # Errors
    /// Any failure of the plugin, the store or the file.
    pub fn loaded(&self) -> Result<(Store, PathBuf), BenchError> {
        let dir = self.fresh_dir("queries")?;
        let (store, _, _) = self.load(&dir, LoadPath::Auto)?;
        self.compact(&store, &dir)?;
        Ok((store, dir))
    }

    fn fresh_dir(&self, what: &str) -> Result<PathBuf, BenchError> {
        let name = Path::new(self.plugin)
            .file_name()
            .map_or_else(|| "plugin".into(), |n| n.to_string_lossy().into_owned());
        let dir = self.work_dir.join(format!("{name}-{what}"));
        remove_dir(&dir)?;
        Ok(dir)
    }

    fn open(&self, dir: &Path) -> Result<Store, BenchError> {
        let chosen = self.registry.choose(Some(self.plugin))?;
        let persistent = chosen
            .plugin()
            .details()
            .capabilities
            .has(Capabilities::PERSISTENT);
        let backend = chosen.open(persistent.then_some(dir), Access::ReadWrite)?;
        Ok(Store::open(backend)?)
    }

    /// Loads the data file into a fresh store in `dir` by `path`: the store, the figures, and
    /// the round trips the load took where the engine counts them.
    fn load(
        &self,
        dir: &Path,
        path: LoadPath,
    ) -> Result<(Store, LoadFigures, Option<Spent>), BenchError> {
        let store = self.open(dir)?;
        let counters_before = EngineCounters::read(store.backend());
        let format = rdf::format_for_path(self.data, None)?;
        let request = LoadRequest {
            sources: vec![Source::File(self.data.to_owned(), format)],
            // The constants name blank nodes by their labels in the file.
            keep_blank_node_labels: true,
            options: LoadOptions {
                path,
                ..LoadOptions::default()
            },
            progress: std::io::stderr().is_terminal(),
            ..LoadRequest::default()
        };
        reset_peak_rss();
        let started = Instant::now();
        let report = rdf::load(&store, &request)?;
        let capabilities = store.backend().capabilities();
        if capabilities.has(Capabilities::FLUSH) {
            store.backend().flush()?;
        }
        let seconds = started.elapsed().as_secs_f64();
        let counters_after = EngineCounters::read(store.backend());
        let figures = LoadFigures {
            seconds,
            quads_per_second: report.summary.read as f64 / seconds.max(1e-9),
            bytes_on_disk: capabilities
                .has(Capabilities::PERSISTENT)
                .then(|| stored_bytes(counters_after, dir)),
            peak_rss_bytes: peak_rss(),
        };
        let spent = counters_before
            .zip(counters_after)
            .map(|(before, after)| before.spent_until(after));
        tracing::info!(plugin = self.plugin, ?path, ?figures, ?spent, "loaded");
        Ok((store, figures, spent))
    }

    fn compact(&self, store: &Store, dir: &Path) -> Result<Option<u64>, BenchError> {
        let capabilities = store.backend().capabilities();
        if !capabilities.has(Capabilities::COMPACT) || !capabilities.has(Capabilities::PERSISTENT) {
            return Ok(None);
        }
        store.backend().compact(None)?;
        if capabilities.has(Capabilities::FLUSH) {
            store.backend().flush()?;
        }
        Ok(Some(stored_bytes(
            EngineCounters::read(store.backend()),
            dir,
        )))
    }

    /// Requests per look-up of each shape (an unmeasured pass over the constants, counting
    /// the engine's requests), in [`Shape::all`]'s order.
    fn requests_per_lookup(&self, store: &Store) -> Result<Vec<f64>, BenchError> {
        let mut figures = Vec::new();
        for shape in Shape::all() {
            let before = EngineCounters::read(store.backend()).unwrap_or_default();
            for quad in self.constants {
                let pattern = quad_pattern(shape.bind(quad));
                let snapshot = store.snapshot()?;
                for quad in snapshot.quads_for_pattern(&pattern)?.take(self.limit) {
                    std::hint::black_box(quad?);
                }
            }
            let after = EngineCounters::read(store.backend()).unwrap_or_default();
            figures.push(
                before.spent_until(after).requests as f64 / self.constants.len().max(1) as f64,
            );
        }
        Ok(figures)
    }

    /// One unmeasured pass over every shape and constant (warm caches), then the measured one.
    /// Each look-up takes its own snapshot, as a client's query would (and as Oxigraph's
    /// `Store::quads_for_pattern` does).
    fn lookups(&self, store: &Store) -> Result<Vec<ShapeFigures>, BenchError> {
        time_shapes(self.constants, |bound| {
            let pattern = quad_pattern(bound.clone());
            let snapshot = store.snapshot()?;
            let mut found = 0;
            for quad in snapshot.quads_for_pattern(&pattern)?.take(self.limit) {
                std::hint::black_box(quad?);
                found += 1;
            }
            Ok(found)
        })
    }
}

/// Times the 16 shapes over `constants` the one way every store is measured: one unmeasured
/// pass over everything (warm caches), then the measured one. `look_up` runs one look-up of a
/// bound pattern (reading at most the limit) and returns how many results it read; its whole
/// call is timed.
///
/// # Errors
/// The first error of `look_up`.
pub fn time_shapes<E>(
    constants: &[Quad],
    mut look_up: impl FnMut(&BoundPattern) -> Result<u64, E>,
) -> Result<Vec<ShapeFigures>, E> {
    let mut figures = Vec::new();
    for measured in [false, true] {
        for shape in Shape::all() {
            let mut nanos = Vec::with_capacity(constants.len());
            let mut results = 0;
            for quad in constants {
                let bound = shape.bind(quad);
                let started = Instant::now();
                results += look_up(&bound)?;
                nanos.push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
            }
            if measured {
                figures.push(ShapeFigures {
                    shape: shape.name(),
                    latency: Latency::of(nanos, results),
                });
            }
        }
    }
    Ok(figures)
}

/// The store's pattern for a bound shape.
fn quad_pattern(bound: BoundPattern) -> QuadPattern {
    QuadPattern {
        subject: bound.subject.map(Term::from),
        predicate: bound.predicate.map(Term::from),
        object: bound.object,
        graph: match bound.graph {
            None => GraphPattern::Any,
            Some(GraphName::DefaultGraph) => GraphPattern::Default,
            Some(GraphName::NamedNode(node)) => GraphPattern::Named(NamedOrBlankNode::from(node)),
            Some(GraphName::BlankNode(node)) => GraphPattern::Named(NamedOrBlankNode::from(node)),
        },
    }
}

fn full_scan(store: &Store) -> Result<f64, BenchError> {
    let snapshot = store.snapshot()?;
    let started = Instant::now();
    let mut quads = 0u64;
    for quad in snapshot.quads_for_pattern(&QuadPattern::default())? {
        std::hint::black_box(quad?);
        quads += 1;
    }
    Ok(quads as f64 / started.elapsed().as_secs_f64().max(1e-9))
}

/// The bytes a store takes: the engine's own figure where it keeps the data outside the data
/// directory, else the data directory's.
fn stored_bytes(counters: Option<EngineCounters>, dir: &Path) -> u64 {
    counters
        .and_then(|counters| counters.stored_bytes)
        .unwrap_or_else(|| bytes_on_disk(dir))
}

/// A file's name, for reports.
#[must_use]
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Removes a benchmark directory (nothing when it does not exist).
///
/// # Errors
/// The removal failed.
pub fn remove_dir(dir: &Path) -> Result<(), BenchError> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(BenchError::Io {
            file: dir.display().to_string(),
            source: error,
        }),
        _ => Ok(()),
    }
}

/// Resets the kernel's peak-RSS mark of this process (Linux: `/proc/self/clear_refs`).
pub fn reset_peak_rss() {
    // Not every kernel allows it; the peak then covers the process's whole life.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident set of this process since the last reset, in bytes (Linux).
#[must_use]
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

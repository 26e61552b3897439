//! `kgdb-bench-oxigraph`: the store benchmark's workload run through the `oxigraph` crate
//! (RocksDB storage), so BENCHMARKS.md compares look-up latencies without Python in the way.
//!
//! It bulk-loads the data file with Oxigraph's bulk loader (blank node labels kept, as
//! `kgdb-bench store` keeps them, so the workload's constants match), then measures a full scan
//! and the 16 pattern shapes over the workload's constants exactly as `kgdb-bench store` does:
//! one unmeasured pass, then one measured pass; each look-up is one `Store::quads_for_pattern`
//! call (which takes its own snapshot) reading at most `--limit` results. It writes the same
//! JSON as `kgdb-bench store`, for `kgdb-bench report`.
//!
//! With `--queries FILE.rq` it runs the query benchmark instead: the same bulk load, then every
//! named query timed as `kgdb-bench sparql` times it, written as the same JSON.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use kgdb_bench::report::OXIGRAPH_RS;
use kgdb_bench::sparql::{read_all, read_queries, time_query, Repetitions, SparqlRun};
use kgdb_bench::store::{
    bytes_on_disk, file_name, peak_rss, reset_peak_rss, time_shapes, LoadFigures, StoreRun,
};
use kgdb_bench::workload::read_constants;
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{GraphNameRef, NamedOrBlankNodeRef, Quad};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxigraph::store::Store;

/// Oxigraph side of the store benchmark.
#[derive(Debug, Parser)]
struct Cli {
    /// The RDF file (N-Quads, N-Triples, Turtle, TriG; `.gz` too)
    #[arg(long)]
    data: PathBuf,
    /// Constants from `kgdb-bench workload` (the look-up benchmark)
    #[arg(long, required_unless_present = "queries")]
    workload: Option<PathBuf>,
    /// Named queries (`bench/queries/*.rq`): run the query benchmark instead of the look-ups
    #[arg(long, conflicts_with = "workload")]
    queries: Option<PathBuf>,
    /// Measured runs per query (after one unmeasured run)
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Stop a query's runs (at 3 or more) once they took this many seconds
    #[arg(long, default_value_t = 30)]
    budget_seconds: u64,
    /// Where the store is built (removed afterwards)
    #[arg(long, default_value = "bench-work/oxigraph")]
    work_dir: PathBuf,
    /// Results read per look-up, at most
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Write the results as JSON here
    #[arg(long)]
    json: PathBuf,
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    if let Some(queries) = &cli.queries {
        return run_queries(cli, queries);
    }
    let workload = cli
        .workload
        .as_ref()
        .ok_or("--workload or --queries is needed")?;
    let constants = read_constants(workload).map_err(|e| e.to_string())?;
    reset_peak_rss();
    let started = Instant::now();
    let (store, quads) = bulk_loaded(cli)?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_bytes = peak_rss();
    eprintln!("oxigraph: loaded {quads} quads in {seconds:.2} s");
    let bulk = LoadFigures {
        seconds,
        quads_per_second: quads as f64 / seconds.max(1e-9),
        bytes_on_disk: Some(bytes_on_disk(&cli.work_dir)),
        peak_rss_bytes,
    };

    let started = Instant::now();
    let mut scanned = 0u64;
    for quad in store.iter() {
        std::hint::black_box(quad.map_err(|e| e.to_string())?);
        scanned += 1;
    }
    let full_scan = scanned as f64 / started.elapsed().as_secs_f64().max(1e-9);

    let lookups = time_shapes(&constants, |bound| {
        let mut found = 0;
        for quad in store
            .quads_for_pattern(
                bound.subject.as_ref().map(NamedOrBlankNodeRef::from),
                bound.predicate.as_ref().map(|p| p.as_ref()),
                bound.object.as_ref().map(|o| o.as_ref()),
                bound.graph.as_ref().map(GraphNameRef::from),
            )
            .take(cli.limit)
        {
            std::hint::black_box(quad.map_err(|e| e.to_string())?);
            found += 1;
        }
        Ok::<u64, String>(found)
    })?;
    let run = StoreRun {
        store: OXIGRAPH_RS.into(),
        data: file_name(&cli.data),
        quads,
        bulk,
        transactional: None,
        compacted_bytes: None,
        compact_seconds: None,
        full_scan_quads_per_second: Some(full_scan),
        lookups,
        constants: constants.len(),
        limit: cli.limit,
        engine: None,
    };
    drop(store);
    let _ = std::fs::remove_dir_all(&cli.work_dir);
    let text = serde_json::to_string_pretty(&run).map_err(|e| e.to_string())?;
    std::fs::write(&cli.json, text + "\n").map_err(|e| format!("{}: {e}", cli.json.display()))
}

/// A new store in the work directory holding the data file, bulk-loaded and flushed, and
/// how many quads it holds.
fn bulk_loaded(cli: &Cli) -> Result<(Store, u64), String> {
    let _ = std::fs::remove_dir_all(&cli.work_dir);
    let store =
        Store::open(&cli.work_dir).map_err(|e| format!("{}: {e}", cli.work_dir.display()))?;
    let mut loader = store.bulk_loader();
    loader
        .load_ok_quads::<String, Box<dyn std::error::Error>>(parse(&cli.data)?)
        .map_err(|e| format!("{}: {e}", cli.data.display()))?;
    loader.commit().map_err(|e| e.to_string())?;
    store.flush().map_err(|e| e.to_string())?;
    let quads = store.len().map_err(|e| e.to_string())? as u64;
    Ok((store, quads))
}

/// The query benchmark: the data bulk-loaded as for the look-ups, then every query of the file
/// timed as `kgdb-bench sparql` times it (parse, evaluate, read every result).
fn run_queries(cli: &Cli, queries: &Path) -> Result<(), String> {
    let queries = read_queries(queries)?;
    let (store, quads) = bulk_loaded(cli)?;
    eprintln!("oxigraph: loaded {quads} quads");
    let repetitions = Repetitions {
        runs: cli.runs,
        budget: Duration::from_secs(cli.budget_seconds),
    };
    let mut run = SparqlRun::new(OXIGRAPH_RS, &file_name(&cli.data), quads);
    for query in &queries {
        eprintln!("oxigraph: {}", query.name);
        run.queries.push(time_query(&query.name, repetitions, || {
            evaluate(&store, &query.text)
        })?);
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&cli.work_dir);
    let text = serde_json::to_string_pretty(&run).map_err(|e| e.to_string())?;
    std::fs::write(&cli.json, text + "\n").map_err(|e| format!("{}: {e}", cli.json.display()))
}

/// Parses and evaluates one query, reading every result.
fn evaluate(store: &Store, text: &str) -> Result<u64, String> {
    let results = SparqlEvaluator::new()
        .parse_query(text)
        .map_err(|e| e.to_string())?
        .on_store(store)
        .execute()
        .map_err(|e| e.to_string())?;
    match results {
        QueryResults::Boolean(value) => Ok(u64::from(value)),
        QueryResults::Solutions(solutions) => read_all(solutions).map_err(|e| e.to_string()),
        QueryResults::Graph(triples) => read_all(triples).map_err(|e| e.to_string()),
    }
}

/// The quads of an RDF file, blank node labels as written (Oxigraph's own file loading renames
/// them, and the workload's constants name them).
fn parse(file: &Path) -> Result<impl Iterator<Item = Result<Quad, String>>, String> {
    let name = file.display().to_string();
    let text = file.to_string_lossy();
    let stem = text.strip_suffix(".gz").unwrap_or(&text);
    let extension = Path::new(stem)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let format = RdfFormat::from_extension(extension)
        .ok_or_else(|| format!("{name}: unknown RDF format `.{extension}`"))?;
    let raw = BufReader::with_capacity(
        1 << 16,
        File::open(file).map_err(|e| format!("{name}: {e}"))?,
    );
    let reader: Box<dyn Read> = if text.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    Ok(RdfParser::from_format(format)
        .for_reader(reader)
        .map(move |quad| quad.map_err(|e| format!("{name}: {e}"))))
}

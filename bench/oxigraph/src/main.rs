//! `kgdb-bench-oxigraph`: the store benchmark's workload run through the `oxigraph` crate
//! (RocksDB storage), so BENCHMARKS.md compares look-up latencies without Python in the way.
//!
//! It bulk-loads the data file with Oxigraph's bulk loader (blank node labels kept, as
//! `kgdb-bench store` keeps them, so the workload's constants match), then measures a full scan
//! and the 16 pattern shapes over the workload's constants exactly as `kgdb-bench store` does:
//! one unmeasured pass, then one measured pass; each look-up is one `Store::quads_for_pattern`
//! call reading at most `--limit` results. The JSON it writes has the shape `kgdb-bench report`
//! reads.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{GraphNameRef, NamedOrBlankNodeRef, Quad};
use oxigraph::store::Store;
use serde::Serialize;

/// Oxigraph side of the store benchmark.
#[derive(Debug, Parser)]
struct Cli {
    /// The RDF file (N-Quads, N-Triples, Turtle, TriG; `.gz` too)
    #[arg(long)]
    data: PathBuf,
    /// Constants from `kgdb-bench workload`
    #[arg(long)]
    workload: PathBuf,
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

#[derive(Serialize)]
struct StoreRun {
    store: String,
    data: String,
    quads: u64,
    bulk: LoadFigures,
    transactional: Option<LoadFigures>,
    compacted_bytes: Option<u64>,
    full_scan_quads_per_second: Option<f64>,
    lookups: Vec<ShapeFigures>,
    constants: usize,
    limit: usize,
}

#[derive(Serialize)]
struct LoadFigures {
    seconds: f64,
    quads_per_second: f64,
    bytes_on_disk: Option<u64>,
    peak_rss_bytes: Option<u64>,
}

#[derive(Serialize)]
struct ShapeFigures {
    shape: String,
    p50_us: f64,
    p99_us: f64,
    mean_results: f64,
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
    let constants = read_quads(&cli.workload)?;
    let _ = std::fs::remove_dir_all(&cli.work_dir);
    let store = Store::open(&cli.work_dir).map_err(|e| format!("{}: {e}", cli.work_dir.display()))?;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let mut loader = store.bulk_loader();
    loader
        .load_quads(parse(&cli.data)?)
        .map_err(|e| format!("{}: {e}", cli.data.display()))?;
    loader.commit().map_err(|e| e.to_string())?;
    store.flush().map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_bytes = peak_rss();
    let quads = store.len().map_err(|e| e.to_string())? as u64;
    let bytes_on_disk = Some(bytes_on_disk(&cli.work_dir));
    eprintln!("oxigraph: loaded {quads} quads in {seconds:.2} s");

    let started = Instant::now();
    let mut scanned = 0u64;
    for quad in store.iter() {
        std::hint::black_box(quad.map_err(|e| e.to_string())?);
        scanned += 1;
    }
    let full_scan = scanned as f64 / started.elapsed().as_secs_f64().max(1e-9);

    let mut lookups = Vec::new();
    for measured in [false, true] {
        for shape in 0u8..16 {
            let mut nanos = Vec::with_capacity(constants.len());
            let mut results = 0u64;
            for quad in &constants {
                let subject = (shape & 8 != 0).then(|| NamedOrBlankNodeRef::from(&quad.subject));
                let predicate = (shape & 4 != 0).then(|| quad.predicate.as_ref());
                let object = (shape & 2 != 0).then(|| quad.object.as_ref());
                let graph = (shape & 1 != 0).then(|| GraphNameRef::from(&quad.graph_name));
                let started = Instant::now();
                let mut found = 0;
                for quad in store
                    .quads_for_pattern(subject, predicate, object, graph)
                    .take(cli.limit)
                {
                    std::hint::black_box(quad.map_err(|e| e.to_string())?);
                    found += 1;
                }
                nanos.push(started.elapsed().as_nanos() as u64);
                results += found;
            }
            if measured {
                lookups.push(shape_figures(shape, nanos, results));
            }
        }
    }
    let run = StoreRun {
        store: "oxigraph (Rust)".into(),
        data: cli
            .data
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        quads,
        bulk: LoadFigures {
            seconds,
            quads_per_second: quads as f64 / seconds.max(1e-9),
            bytes_on_disk,
            peak_rss_bytes,
        },
        transactional: None,
        compacted_bytes: None,
        full_scan_quads_per_second: Some(full_scan),
        lookups,
        constants: constants.len(),
        limit: cli.limit,
    };
    drop(store);
    let _ = std::fs::remove_dir_all(&cli.work_dir);
    let text = serde_json::to_string_pretty(&run).map_err(|e| e.to_string())?;
    std::fs::write(&cli.json, text + "\n").map_err(|e| format!("{}: {e}", cli.json.display()))
}

/// The quads of an RDF file, blank node labels as written.
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
    let raw = BufReader::with_capacity(1 << 16, File::open(file).map_err(|e| format!("{name}: {e}"))?);
    let reader: Box<dyn Read> = if text.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    Ok(RdfParser::from_format(format)
        .for_reader(reader)
        .map(move |quad| quad.map_err(|e| format!("{name}: {e}"))))
}

fn read_quads(file: &Path) -> Result<Vec<Quad>, String> {
    parse(file)?.collect()
}

fn shape_figures(shape: u8, mut nanos: Vec<u64>, results: u64) -> ShapeFigures {
    nanos.sort_unstable();
    let at = |q: f64| {
        let rank = (q * (nanos.len().saturating_sub(1)) as f64).round() as usize;
        nanos.get(rank).copied().unwrap_or(0) as f64 / 1000.0
    };
    let name = [(8, 's'), (4, 'p'), (2, 'o'), (1, 'g')]
        .iter()
        .map(|(bit, letter)| if shape & bit != 0 { *letter } else { '?' })
        .collect();
    ShapeFigures {
        shape: name,
        p50_us: at(0.5),
        p99_us: at(0.99),
        mean_results: results as f64 / nanos.len().max(1) as f64,
    }
}

fn bytes_on_disk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => bytes_on_disk(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

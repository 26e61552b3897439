//! `kgdb-bench`: the store benchmark (see BENCHMARKS.md).
//!
//! - `kgdb-bench workload --data FILE --output W.nq`: draw the look-up constants (seeded).
//! - `kgdb-bench store --plugin P --data FILE --workload W.nq --json OUT.json`: load (bulk and
//!   transactional), measure disk, peak RSS, a full scan and the 16 look-up shapes.
//! - `kgdb-bench sparql --plugin P --data FILE --queries Q.rq --json OUT.json`: time the named
//!   queries of a query file over the loaded store (median and p99 of repeated runs).
//! - `kgdb-bench serve-load --url URL/query --queries Q.rq --system NAME --data NAME`: drive a
//!   SPARQL endpoint with 1, 4 and 16 concurrent clients for a fixed time.
//! - `kgdb-bench report RESULT.json... --output TABLES.md`: markdown tables with ratios.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kgdb_bench::report::{self, BoundaryRow};
use kgdb_bench::serve_load::{self, ServeLoadRun};
use kgdb_bench::sparql::{self, Repetitions, SparqlRun};
use kgdb_bench::store::{file_name, remove_dir, StoreBench, StoreRun};
use kgdb_bench::workload;
use kgdb_host::plugin::PluginRegistry;

/// kgdb's store benchmark.
#[derive(Debug, Parser)]
#[command(name = "kgdb-bench", version)]
struct Cli {
    /// Log progress on stderr
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Draw look-up constants (quads, seeded, uniform) from a data file into an N-Quads file
    Workload {
        /// The RDF file (any format kgdb loads, .gz too)
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// Where to write the constants
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        /// Constants to draw
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Seed of the draw
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Benchmark one plugin on one data file
    Store {
        /// Plugin: a name from the manifest or a path
        #[arg(long)]
        plugin: String,
        /// The plugin manifest [default: $KGDB_CONFIG, else ./plugins.toml]
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The RDF file
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// Constants from `kgdb-bench workload`
        #[arg(long, value_name = "FILE")]
        workload: PathBuf,
        /// Where the stores are built (each removed after its measurements)
        #[arg(long, value_name = "DIR", default_value = "bench-work")]
        work_dir: PathBuf,
        /// Results read per look-up, at most
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Skip the transactional-path load
        #[arg(long)]
        no_transactional: bool,
        /// Write the results as JSON here (else to stdout)
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Time the named queries of a `.rq` file on one plugin over one data file
    Sparql {
        /// Plugin: a name from the manifest or a path
        #[arg(long)]
        plugin: String,
        /// The plugin manifest [default: $KGDB_CONFIG, else ./plugins.toml]
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The RDF file
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// The queries: each starts at a `#@ NAME` line (bench/queries/*.rq)
        #[arg(long, value_name = "FILE")]
        queries: PathBuf,
        /// Where the store is built (removed afterwards)
        #[arg(long, value_name = "DIR", default_value = "bench-work")]
        work_dir: PathBuf,
        /// Measured runs per query (after one unmeasured run)
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Stop a query's runs (at 3 or more) once they took this many seconds
        #[arg(long, default_value_t = 30)]
        budget_seconds: u64,
        /// Write the results as JSON here (else to stdout)
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Drive a running SPARQL endpoint with concurrent clients replaying the named queries of
    /// `.rq` files for a fixed time: queries per second, p50 and p99 latency, errors
    ServeLoad {
        /// The query endpoint, e.g. http://127.0.0.1:7878/query
        #[arg(long, value_name = "URL")]
        url: String,
        /// The queries (bench/queries/*.rq); repeat for more files
        #[arg(long, value_name = "FILE", required = true)]
        queries: Vec<PathBuf>,
        /// Numbers of concurrent clients, one measurement each
        #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
        clients: Vec<usize>,
        /// Seconds each measurement lasts
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// The system's name in the tables (`kgdb-host serve (lmdb)`, `oxigraph serve`)
        #[arg(long)]
        system: String,
        /// The data set's name in the tables
        #[arg(long)]
        data: String,
        /// The server's process id, for its peak resident memory at the end
        #[arg(long, value_name = "PID")]
        server_pid: Option<u32>,
        /// Write the results as JSON here (else to stdout)
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Markdown tables from result files, ratios against Oxigraph
    Report {
        /// Result files (kgdb-bench store, bench/oxigraph, pyoxigraph_bench.py, and the
        /// boundary-<plugin>.json files of `cargo bench -p kgdb-bench`)
        #[arg(required = true, value_name = "RESULT.json")]
        results: Vec<PathBuf>,
        /// Write the tables here (else to stdout)
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(if cli.verbose { "info" } else { "warn" })
        .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Workload {
            data,
            output,
            count,
            seed,
        } => {
            let quads = workload::draw_constants(&data, count, seed).map_err(|e| e.to_string())?;
            workload::write_constants(&output, &quads).map_err(|e| e.to_string())?;
            eprintln!(
                "{} constants from {} in {}",
                quads.len(),
                data.display(),
                output.display()
            );
            Ok(())
        }
        Command::Store {
            plugin,
            config,
            data,
            workload,
            work_dir,
            limit,
            no_transactional,
            json,
        } => {
            let constants = workload::read_constants(&workload).map_err(|e| e.to_string())?;
            std::fs::create_dir_all(&work_dir)
                .map_err(|e| format!("{}: {e}", work_dir.display()))?;
            let registry =
                PluginRegistry::discover(config.as_deref()).map_err(|e| e.to_string())?;
            let result = StoreBench {
                registry: &registry,
                plugin: &plugin,
                data: &data,
                constants: &constants,
                limit: limit.max(1),
                work_dir: &work_dir,
                transactional: !no_transactional,
            }
            .run()
            .map_err(|e| format!("{plugin} on {}: {e}", data.display()))?;
            let text = serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?;
            write_out(json.as_deref(), &text)
        }
        Command::Sparql {
            plugin,
            config,
            data,
            queries,
            work_dir,
            runs,
            budget_seconds,
            json,
        } => {
            let queries = sparql::read_queries(&queries)?;
            std::fs::create_dir_all(&work_dir)
                .map_err(|e| format!("{}: {e}", work_dir.display()))?;
            let registry =
                PluginRegistry::discover(config.as_deref()).map_err(|e| e.to_string())?;
            let bench = StoreBench {
                registry: &registry,
                plugin: &plugin,
                data: &data,
                constants: &[],
                limit: 1,
                work_dir: &work_dir,
                transactional: false,
            };
            let failed = |e: &dyn std::fmt::Display| format!("{plugin} on {}: {e}", data.display());
            let (store, dir) = bench.loaded().map_err(|e| failed(&e))?;
            let quads = store.counts().map_err(|e| failed(&e))?.quads;
            let mut run = SparqlRun::new(&format!("kgdb {plugin}"), &file_name(&data), quads);
            run.queries = sparql::run_on_kgdb(
                &store,
                &queries,
                Repetitions {
                    runs,
                    budget: Duration::from_secs(budget_seconds),
                },
            )
            .map_err(|e| failed(&e))?;
            store.close().map_err(|e| failed(&e))?;
            remove_dir(&dir).map_err(|e| failed(&e))?;
            let text = serde_json::to_string_pretty(&run).map_err(|e| e.to_string())?;
            write_out(json.as_deref(), &text)
        }
        Command::ServeLoad {
            url,
            queries,
            clients,
            seconds,
            system,
            data,
            server_pid,
            json,
        } => {
            let mut all = Vec::new();
            for file in &queries {
                all.extend(sparql::read_queries(file)?);
            }
            let mut run = ServeLoadRun {
                kind: "serve-load".into(),
                system,
                data,
                query_files: queries.iter().map(|file| file_name(file)).collect(),
                results: serve_load::count_results(&url, &all)?,
                levels: Vec::new(),
                peak_rss_kib: None,
            };
            for count in clients {
                let level =
                    serve_load::run_level(&url, &all, count.max(1), Duration::from_secs(seconds));
                eprintln!(
                    "{}: {} clients: {:.1} queries/s, p50 {:.1} ms, p99 {:.1} ms, {} errors{}",
                    run.system,
                    level.clients,
                    level.qps,
                    level.p50_ms,
                    level.p99_ms,
                    level.errors,
                    level
                        .first_error
                        .as_deref()
                        .map_or_else(String::new, |e| format!(" (first: {e})"))
                );
                run.levels.push(level);
            }
            run.peak_rss_kib = server_pid.and_then(serve_load::peak_rss_kib);
            let text = serde_json::to_string_pretty(&run).map_err(|e| e.to_string())?;
            write_out(json.as_deref(), &text)
        }
        Command::Report { results, output } => {
            let mut runs: Vec<StoreRun> = Vec::new();
            let mut load_runs: Vec<ServeLoadRun> = Vec::new();
            let mut query_runs: Vec<SparqlRun> = Vec::new();
            let mut boundary: Vec<BoundaryRow> = Vec::new();
            for file in &results {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                let not_a_result = |e: serde_json::Error| {
                    format!("{}: not a benchmark result: {e}", file.display())
                };
                let kind = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|value| {
                        value
                            .get("kind")
                            .and_then(|k| k.as_str())
                            .map(str::to_owned)
                    });
                if kind.as_deref() == Some("serve-load") {
                    load_runs.push(serde_json::from_str(&text).map_err(not_a_result)?);
                } else if text.trim_start().starts_with('[') {
                    boundary.extend(
                        serde_json::from_str::<Vec<BoundaryRow>>(&text).map_err(not_a_result)?,
                    );
                } else if let Ok(run) = serde_json::from_str::<SparqlRun>(&text) {
                    query_runs.push(run);
                } else {
                    runs.push(serde_json::from_str(&text).map_err(not_a_result)?);
                }
            }
            let mut text = if runs.is_empty() {
                String::new()
            } else {
                report::markdown(&runs)
            };
            if !query_runs.is_empty() {
                text.push('\n');
                text.push_str(&sparql::markdown(&query_runs));
            }
            if !load_runs.is_empty() {
                text.push('\n');
                text.push_str(&serve_load::markdown(&load_runs));
            }
            if !boundary.is_empty() {
                text.push('\n');
                text.push_str(&report::boundary_markdown(&boundary));
            }
            write_out(output.as_deref(), &text)
        }
    }
}

fn write_out(file: Option<&Path>, text: &str) -> Result<(), String> {
    match file {
        Some(file) => std::fs::write(file, format!("{text}\n"))
            .map_err(|e| format!("{}: {e}", file.display())),
        None => writeln!(std::io::stdout(), "{text}").map_err(|e| e.to_string()),
    }
}

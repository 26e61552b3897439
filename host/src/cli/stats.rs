//! `kgdb-host stats`: what the store holds (exact counts, the largest graphs, bytes on disk),
//! the backend's own statistics, and the operation stats of the last load.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::output::outln;
use super::report::operation_table;
use super::session::{Session, StoreUse};
use super::{column_width, Cli, Failure};
use crate::disk::bytes_on_disk;
use crate::plugin::{table_of_table_bytes, Capabilities};
use crate::rdf::{last_load, LastLoad};
use crate::units::{human_bytes, thousands};

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print JSON (stable field names, documented in README.md) instead of tables
    #[arg(long)]
    pub json: bool,
    /// How many of the largest named graphs to list
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
}

/// `stats --json`.
#[derive(Debug, Serialize)]
struct StatsReport {
    plugin: String,
    plugin_version: String,
    data_dir: Option<String>,
    bytes_on_disk: Option<u64>,
    quads: u64,
    default_graph_quads: u64,
    named_graphs: u64,
    terms: u64,
    top_graphs: Vec<GraphCount>,
    table_bytes: Vec<TableBytes>,
    native: Vec<NativeStat>,
    last_load: Option<LastLoad>,
}

#[derive(Debug, Serialize)]
struct GraphCount {
    graph: String,
    quads: u64,
}

#[derive(Debug, Serialize)]
struct TableBytes {
    table: String,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct NativeStat {
    name: String,
    value: u64,
    unit: String,
}

/// Runs `stats`.
pub(super) fn run(cli: &Cli, session: &Session, args: &StatsArgs) -> Result<ExitCode, Failure> {
    let opened = session.open_store(cli, StoreUse::Read)?;
    let store = opened.store;
    let capabilities = store.backend().capabilities();
    let persistent = capabilities.has(Capabilities::PERSISTENT);
    let snapshot = store.snapshot()?;
    let counts = snapshot.counts()?;
    let mut graphs = snapshot.named_graphs()?;
    drop(snapshot);
    let named_graphs = graphs.len() as u64;
    graphs.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.to_string().cmp(&b.0.to_string()))
    });
    let top_graphs = graphs
        .into_iter()
        .take(args.top)
        .map(|(graph, quads)| GraphCount {
            graph: graph.to_string(),
            quads,
        })
        .collect();
    let native = if capabilities.has(Capabilities::NATIVE_STATS) {
        store
            .backend()
            .stats()
            .map_err(|e| Failure(format!("the backend's statistics: {e}")))?
            .into_iter()
            .map(|s| NativeStat {
                name: s.name,
                value: s.value,
                unit: s.unit,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut table_bytes: Vec<TableBytes> = native
        .iter()
        .filter_map(|s: &NativeStat| {
            table_of_table_bytes(&s.name, &s.unit).map(|table| TableBytes {
                table: table.to_owned(),
                bytes: s.value,
            })
        })
        .collect();
    table_bytes.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.table.cmp(&b.table)));
    let last_load = last_load(&store)?;
    let details = opened.chosen.plugin().details();
    let report = StatsReport {
        plugin: details.name.clone(),
        plugin_version: details.version.clone(),
        data_dir: persistent.then(|| cli.data_dir.display().to_string()),
        bytes_on_disk: persistent.then(|| bytes_on_disk(&cli.data_dir)),
        quads: counts.quads,
        default_graph_quads: counts.default_graph_quads,
        named_graphs,
        terms: counts.terms,
        top_graphs,
        table_bytes,
        native,
        last_load,
    };
    store.close()?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure(format!("writing JSON: {e}")))?;
        outln!("{text}")?;
    } else {
        super::output::text(&human(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn human(report: &StatsReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "{label:<12} {value}");
    };
    line(
        "store",
        match &report.data_dir {
            Some(dir) => format!("{dir} ({} {})", report.plugin, report.plugin_version),
            None => format!("in memory ({} {})", report.plugin, report.plugin_version),
        },
    );
    line(
        "quads",
        format!(
            "{} ({} in the default graph, {} named graphs)",
            thousands(report.quads),
            thousands(report.default_graph_quads),
            thousands(report.named_graphs)
        ),
    );
    line("terms", thousands(report.terms));
    if let Some(bytes) = report.bytes_on_disk {
        let per_quad = if report.quads > 0 {
            format!(
                " ({:.0} bytes per quad)",
                bytes as f64 / report.quads as f64
            )
        } else {
            String::new()
        };
        line("on disk", format!("{}{per_quad}", human_bytes(bytes)));
    }
    if !report.top_graphs.is_empty() {
        let _ = writeln!(out, "largest graphs");
        let width = column_width(report.top_graphs.iter().map(|g| thousands(g.quads).len()));
        for graph in &report.top_graphs {
            let _ = writeln!(out, "  {:>width$}  {}", thousands(graph.quads), graph.graph);
        }
    }
    if !report.table_bytes.is_empty() {
        let total: u64 = report.table_bytes.iter().map(|t| t.bytes).sum();
        let _ = writeln!(out, "bytes per table ({} in all)", human_bytes(total));
        let width = column_width(report.table_bytes.iter().map(|t| t.table.len()));
        for table in &report.table_bytes {
            let share = table.bytes as f64 / total.max(1) as f64 * 100.0;
            let per_quad = if report.quads > 0 {
                format!(
                    "  {:>6.1} bytes per quad",
                    table.bytes as f64 / report.quads as f64
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {:<width$}  {:>10}  {share:>5.1}%{per_quad}",
                table.table,
                human_bytes(table.bytes)
            );
        }
    }
    if !report.native.is_empty() {
        let _ = writeln!(out, "backend statistics ({})", report.plugin);
        let width = column_width(report.native.iter().map(|s| s.name.len()));
        for stat in &report.native {
            let value = if stat.unit == "bytes" {
                human_bytes(stat.value)
            } else if stat.unit.is_empty() || stat.unit == "count" {
                thousands(stat.value)
            } else {
                format!("{} {}", thousands(stat.value), stat.unit)
            };
            let _ = writeln!(out, "  {:<width$}  {value}", stat.name);
        }
    }
    match &report.last_load {
        Some(load) => {
            let _ = writeln!(
                out,
                "last load    {} read, {} new, {} skipped in {:.2} s ({:.0} quads/s){}",
                thousands(load.read),
                thousands(load.inserted),
                thousands(load.skipped),
                load.seconds,
                load.quads_per_second,
                load.bytes_on_disk
                    .map(|b| format!("; {} on disk after it", human_bytes(b)))
                    .unwrap_or_default()
            );
            let _ = write!(out, "{}", operation_table(&report.plugin, &load.operations));
        }
        None => {
            let _ = writeln!(out, "last load    none recorded");
        }
    }
    out
}

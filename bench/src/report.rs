//! Markdown tables from store benchmark results (kgdb's plugins and Oxigraph side by side),
//! with ratios to Oxigraph: absolute times on a shared machine drift, ratios from one run
//! hold better.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::engine::Spent;
use crate::store::{LoadFigures, StoreRun};

/// The store name of the Python bulk-loader runs (`bench/oxigraph/pyoxigraph_bench.py`).
pub const PYOXIGRAPH: &str = "pyoxigraph";
/// The store name of the Rust look-up runs (`bench/oxigraph`, the `oxigraph` crate).
pub const OXIGRAPH_RS: &str = "oxigraph (Rust)";

/// One operation of the boundary micro-benchmark (`cargo bench -p kgdb-bench`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BoundaryRow {
    /// The plugin.
    pub plugin: String,
    /// The operation.
    pub operation: String,
    /// Median nanoseconds with the engine's rlib linked in.
    pub static_ns: f64,
    /// Median nanoseconds through the loaded cdylib.
    pub cdylib_ns: f64,
    /// `cdylib_ns / static_ns`.
    pub ratio: f64,
}

/// Renders the boundary micro-benchmark rows: one line per operation, a column pair per plugin.
#[must_use]
pub fn boundary_markdown(rows: &[BoundaryRow]) -> String {
    let mut plugins: Vec<&str> = Vec::new();
    let mut operations: Vec<&str> = Vec::new();
    for row in rows {
        if !plugins.contains(&row.plugin.as_str()) {
            plugins.push(&row.plugin);
        }
        if !operations.contains(&row.operation.as_str()) {
            operations.push(&row.operation);
        }
    }
    let mut out = String::from(
        "### The plugin boundary: median per operation, static rlib → loaded cdylib (ratio)\n\n| operation |",
    );
    for plugin in &plugins {
        let _ = write!(out, " {plugin} |");
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(plugins.len()));
    out.push('\n');
    for operation in &operations {
        let _ = write!(out, "| {operation} |");
        for plugin in &plugins {
            match rows
                .iter()
                .find(|row| row.plugin == *plugin && row.operation == *operation)
            {
                Some(row) => {
                    let _ = write!(
                        out,
                        " {} → {} ({:.2}×) |",
                        nanos(row.static_ns),
                        nanos(row.cdylib_ns),
                        row.ratio
                    );
                }
                None => out.push_str(" – |"),
            }
        }
        out.push('\n');
    }
    out
}

fn nanos(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} ms", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} µs", value / 1e3)
    } else {
        format!("{value:.0} ns")
    }
}

/// Renders the load table and one look-up table per data set.
#[must_use]
pub fn markdown(runs: &[StoreRun]) -> String {
    let mut by_data: BTreeMap<&str, Vec<&StoreRun>> = BTreeMap::new();
    for run in runs {
        by_data.entry(run.data.as_str()).or_default().push(run);
    }
    let mut out = String::new();
    out.push_str("### Loads\n\n");
    out.push_str(
        "| data | store | quads | bulk quads/s | × pyoxigraph | transactional quads/s | × pyoxigraph | bytes/quad | × pyoxigraph | after compaction (time) | peak RSS | full scan quads/s |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (data, runs) in &by_data {
        let reference = runs.iter().find(|run| run.store == PYOXIGRAPH);
        for run in runs {
            let per_quad = |bytes: Option<u64>| bytes.map(|b| b as f64 / run.quads.max(1) as f64);
            let bulk_ratio = reference.map(|r| run.bulk.quads_per_second / r.bulk.quads_per_second);
            let txn = run.transactional.map(|t| t.quads_per_second);
            let txn_ratio = reference
                .and_then(|r| r.transactional)
                .zip(txn)
                .map(|(r, t)| t / r.quads_per_second);
            let bytes = per_quad(run.bulk.bytes_on_disk);
            let bytes_ratio = reference
                .and_then(|r| per_quad(r.bulk.bytes_on_disk).map(|b| (r, b)))
                .zip(bytes)
                .map(|((_, r), b)| b / r);
            let _ = writeln!(
                out,
                "| {data} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                run.store,
                thousands(run.quads as f64),
                thousands(run.bulk.quads_per_second),
                ratio(bulk_ratio),
                txn.map_or_else(|| "–".into(), thousands),
                ratio(txn_ratio),
                bytes.map_or_else(|| "–".into(), |b| format!("{b:.0}")),
                ratio(bytes_ratio),
                per_quad(run.compacted_bytes).map_or_else(
                    || "–".into(),
                    |b| match run.compact_seconds {
                        Some(seconds) => format!("{b:.0} ({seconds:.1} s)"),
                        None => format!("{b:.0}"),
                    }
                ),
                peak(&run.bulk),
                run.full_scan_quads_per_second
                    .map_or_else(|| "–".into(), thousands),
            );
        }
    }
    for (data, runs) in &by_data {
        let reference = runs.iter().find(|run| run.store == OXIGRAPH_RS);
        let measured: Vec<&&StoreRun> = runs.iter().filter(|run| !run.lookups.is_empty()).collect();
        if measured.is_empty() {
            continue;
        }
        let limit = measured[0].limit;
        let constants = measured[0].constants;
        let _ = write!(
            out,
            "\n### Look-ups on {data}: median (p99) µs, {constants} constants per shape, at most {limit} results each\n\n| shape | mean results |"
        );
        for run in &measured {
            let _ = write!(out, " {} |", run.store);
            if reference.is_some() && run.store != OXIGRAPH_RS {
                out.push_str(" × Oxigraph |");
            }
        }
        out.push_str("\n|---|---:|");
        for run in &measured {
            out.push_str("---:|");
            if reference.is_some() && run.store != OXIGRAPH_RS {
                out.push_str("---:|");
            }
        }
        out.push('\n');
        for (index, shape) in measured[0].lookups.iter().enumerate() {
            let _ = write!(
                out,
                "| `{}` | {:.1} |",
                shape.shape, shape.latency.mean_results
            );
            let reference_p50 = reference
                .and_then(|r| r.lookups.get(index))
                .map(|s| s.latency.p50_us);
            for run in &measured {
                match run.lookups.get(index) {
                    Some(figures) => {
                        let _ = write!(
                            out,
                            " {} ({}) |",
                            micros(figures.latency.p50_us),
                            micros(figures.latency.p99_us)
                        );
                        if reference.is_some() && run.store != OXIGRAPH_RS {
                            let _ = write!(
                                out,
                                " {} |",
                                ratio(reference_p50.map(|r| figures.latency.p50_us / r.max(1e-3)))
                            );
                        }
                    }
                    None => out.push_str(" – |"),
                }
            }
            out.push('\n');
        }
    }
    out.push_str(&engine_markdown(runs));
    out
}

/// The round-trip table of the runs on engines that count their requests (empty if none do).
fn engine_markdown(runs: &[StoreRun]) -> String {
    let mut out = String::new();
    for run in runs {
        let Some(engine) = &run.engine else {
            continue;
        };
        let quads = run.quads.max(1) as f64;
        let _ = write!(
            out,
            "\n### Round trips to the engine: {} on {}\n\n",
            run.store, run.data
        );
        let per_txn = |spent: Spent| {
            if spent.write_txns == 0 {
                "–".to_owned()
            } else {
                format!(
                    "{} requests, {} write txns: {:.0} quads and {:.2} requests per write txn",
                    thousands(spent.requests as f64),
                    thousands(spent.write_txns as f64),
                    quads / spent.write_txns as f64,
                    spent.requests as f64 / spent.write_txns as f64
                )
            }
        };
        let _ = writeln!(out, "- bulk load: {}", per_txn(engine.bulk));
        if let Some(transactional) = engine.transactional {
            let _ = writeln!(out, "- transactional load: {}", per_txn(transactional));
        }
        if let Some(bytes) = engine.stored_bytes {
            let _ = writeln!(
                out,
                "- stored, after compaction: {} bytes per quad (one copy; the cluster keeps one per member)",
                format_args!("{:.0}", bytes as f64 / quads)
            );
        }
        if !engine.requests_per_lookup.is_empty() {
            out.push_str("\n| shape | requests per look-up |\n|---|---:|\n");
            for (shape, requests) in run.lookups.iter().zip(&engine.requests_per_lookup) {
                let _ = writeln!(out, "| `{}` | {requests:.2} |", shape.shape);
            }
        }
    }
    out
}

fn peak(load: &LoadFigures) -> String {
    load.peak_rss_bytes.map_or_else(
        || "–".into(),
        |b| format!("{:.0} MiB", b as f64 / (1 << 20) as f64),
    )
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.2}×"))
}

fn micros(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// `1234567.8` → `1,234,568`.
fn thousands(value: f64) -> String {
    kgdb_host::units::thousands(value.max(0.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ShapeFigures;
    use crate::workload::Latency;

    fn run(store: &str, quads_per_second: f64, p50: f64) -> StoreRun {
        StoreRun {
            store: store.into(),
            data: "d.nq".into(),
            quads: 1000,
            bulk: LoadFigures {
                seconds: 1.0,
                quads_per_second,
                bytes_on_disk: Some(100_000),
                peak_rss_bytes: Some(64 << 20),
            },
            transactional: None,
            compacted_bytes: None,
            compact_seconds: None,
            full_scan_quads_per_second: None,
            lookups: vec![ShapeFigures {
                shape: "s???".into(),
                latency: Latency {
                    p50_us: p50,
                    p99_us: p50 * 2.0,
                    mean_results: 3.0,
                },
            }],
            constants: 10,
            limit: 100,
            engine: None,
        }
    }

    #[test]
    fn ratios_are_against_oxigraph() {
        let mut python = run(PYOXIGRAPH, 100_000.0, 0.0);
        python.lookups.clear();
        let text = markdown(&[
            python,
            run(OXIGRAPH_RS, 90_000.0, 4.0),
            run("kgdb rocksdb", 250_000.0, 2.0),
        ]);
        assert!(
            text.contains("| d.nq | kgdb rocksdb | 1,000 | 250,000 | 2.50× |"),
            "{text}"
        );
        assert!(
            text.contains("| `s???` | 3.0 | 4.0 (8.0) | 2.0 (4.0) | 0.50× |"),
            "{text}"
        );
    }
}

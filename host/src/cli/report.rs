//! Human-readable operation stats (`--stats`): aligned tables with human units, on stderr so
//! they never mix with data on stdout.

use std::fmt::Write as _;

use crate::plugin::stats::OperationStats;

use super::column_width;
use crate::units::{human_bytes, thousands};

/// `812 ns`, `3.4 µs`, `12 ms`, `1.5 s`.
#[must_use]
pub fn human_nanos(nanos: u64) -> String {
    let value = nanos as f64;
    let (scaled, unit) = if nanos < 1_000 {
        return format!("{nanos} ns");
    } else if nanos < 1_000_000 {
        (value / 1e3, "µs")
    } else if nanos < 1_000_000_000 {
        (value / 1e6, "ms")
    } else {
        (value / 1e9, "s")
    };
    if scaled < 10.0 {
        format!("{scaled:.1} {unit}")
    } else {
        format!("{scaled:.0} {unit}")
    }
}

/// The operation stats of one backend as an aligned table.
#[must_use]
pub fn operation_table(plugin: &str, stats: &OperationStats) -> String {
    let mut out = String::new();
    let t = &stats.transactions;
    let open = if stats.elapsed_ms == 0 {
        "under 1 ms".to_owned()
    } else {
        human_nanos(stats.elapsed_ms.saturating_mul(1_000_000))
    };
    let _ = writeln!(
        out,
        "operation stats ({plugin}, open {open}): {} committed, {} rolled back, {} conflicts; {} rows scanned",
        t.committed,
        t.rolled_back,
        t.conflicts,
        stats.rows_scanned
    );
    let header = [
        "op",
        "calls",
        "errors",
        "bytes in",
        "bytes out",
        "mean",
        "p50",
        "p90",
        "p99",
        "max",
    ];
    let mut rows: Vec<[String; 10]> = vec![header.map(str::to_owned)];
    for op in &stats.operations {
        let errors: u64 = op.errors.iter().map(|e| e.count).sum();
        let l = &op.latency;
        rows.push([
            op.op.to_owned(),
            op.calls.to_string(),
            errors.to_string(),
            human_bytes(op.bytes_in),
            human_bytes(op.bytes_out),
            human_nanos(l.mean_ns),
            human_nanos(l.p50_ns),
            human_nanos(l.p90_ns),
            human_nanos(l.p99_ns),
            human_nanos(l.max_ns),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &rows {
        let mut line = String::from(" ");
        for (column, cell) in row.iter().enumerate() {
            let pad = widths[column] - cell.chars().count();
            if column == 0 {
                let _ = write!(line, " {cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(line, "  {}{cell}", " ".repeat(pad));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    for op in stats.operations.iter().filter(|op| !op.errors.is_empty()) {
        let list: Vec<String> = op
            .errors
            .iter()
            .map(|e| format!("{} {}", e.count, e.code))
            .collect();
        let _ = writeln!(out, "  {} errors: {}", op.op, list.join(", "));
    }
    if !stats.tables.is_empty() {
        let width = column_width(stats.tables.iter().map(|t| t.table.len()));
        let _ = writeln!(out, "  per table (calls, bytes in and out):");
        for table in &stats.tables {
            let calls: u64 = table.calls.iter().map(|c| c.count).sum();
            let _ = writeln!(
                out,
                "    {:<width$}  {:>11} calls  {:>10}",
                table.table,
                thousands(calls),
                human_bytes(table.bytes)
            );
        }
    }
    if !stats.counters.is_empty() {
        let list: Vec<String> = stats
            .counters
            .iter()
            .map(|c| format!("{} {}", c.name.replace('_', " "), thousands(c.value)))
            .collect();
        let _ = writeln!(out, "  store: {}", list.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_nanos(812), "812 ns");
        assert_eq!(human_nanos(3_400), "3.4 µs");
        assert_eq!(human_nanos(12_000_000), "12 ms");
        assert_eq!(human_nanos(1_500_000_000), "1.5 s");
    }
}

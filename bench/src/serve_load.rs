//! The server load benchmark (`kgdb-bench serve-load`): N concurrent clients replay the named
//! queries of `.rq` files against a SPARQL endpoint for a fixed time, each over its own
//! keep-alive connection, and the run records queries per second, p50 and p99 latency,
//! errors and the server's peak resident memory. The same client measures `kgdb-host serve`
//! and `oxigraph serve` ([`markdown`] puts them side by side with ratios).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::sparql::NamedQuery;

/// What every request accepts: SELECT and ASK results as JSON, graphs as N-Triples.
const ACCEPT: &str = "application/sparql-results+json, application/n-triples;q=0.9";

/// The system every other is compared with.
pub const OXIGRAPH_SERVE: &str = "oxigraph serve";

/// The figures of one number of clients.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LoadLevel {
    /// Concurrent clients.
    pub clients: usize,
    /// Wall time measured, seconds.
    pub seconds: f64,
    /// Queries answered with 2xx and read whole.
    pub queries: u64,
    /// Queries that failed (a status other than 2xx, or a broken connection).
    pub errors: u64,
    /// `queries / seconds`.
    pub qps: f64,
    /// Median latency of the answered queries, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile (nearest rank), milliseconds.
    pub p99_ms: f64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
}

/// One server's run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ServeLoadRun {
    /// Always `serve-load`.
    pub kind: String,
    /// `kgdb-host serve (lmdb)`, `oxigraph serve`.
    pub system: String,
    /// The data set's name.
    pub data: String,
    /// The query files' names.
    pub query_files: Vec<String>,
    /// Each query's number of results (solutions, triples, or 1/0 for ASK), from one warm-up
    /// run before the measurements: the same on every system, or the tables say so.
    pub results: Vec<(String, u64)>,
    /// One entry per number of clients.
    pub levels: Vec<LoadLevel>,
    /// The server's peak resident memory at the end (`VmHWM`), KiB.
    pub peak_rss_kib: Option<u64>,
}

/// What one client saw.
#[derive(Default)]
struct ClientTally {
    latencies_ns: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `clients` clients for `duration` against `endpoint` (a `/query` URL), each starting
/// at a different query and going round the list.
#[must_use]
pub fn run_level(
    endpoint: &str,
    queries: &[NamedQuery],
    clients: usize,
    duration: Duration,
) -> LoadLevel {
    let started = Instant::now();
    let deadline = started + duration;
    let tallies: Vec<ClientTally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                scope.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(120)))
                        .build()
                        .into();
                    let mut tally = ClientTally::default();
                    let mut next = client % queries.len();
                    while Instant::now() < deadline {
                        let query = &queries[next];
                        next = (next + 1) % queries.len();
                        let begun = Instant::now();
                        match ask(&agent, endpoint, &query.text) {
                            Ok(()) => tally.latencies_ns.push(
                                u64::try_from(begun.elapsed().as_nanos()).unwrap_or(u64::MAX),
                            ),
                            Err(error) => {
                                tally.errors += 1;
                                tally
                                    .first_error
                                    .get_or_insert_with(|| format!("{}: {error}", query.name));
                            }
                        }
                    }
                    tally
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_default())
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies: Vec<u64> = tallies
        .iter()
        .flat_map(|t| t.latencies_ns.iter().copied())
        .collect();
    latencies.sort_unstable();
    let rank = |fraction: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let index =
            ((fraction * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index] as f64 / 1e6
    };
    let queries_done = latencies.len() as u64;
    LoadLevel {
        clients,
        seconds,
        queries: queries_done,
        errors: tallies.iter().map(|t| t.errors).sum(),
        qps: queries_done as f64 / seconds,
        p50_ms: rank(0.5),
        p99_ms: rank(0.99),
        first_error: tallies.into_iter().find_map(|t| t.first_error),
    }
}

/// Asks each query once (unmeasured) and counts its results: solutions or the ASK answer
/// of a JSON result, lines of N-Triples.
///
/// # Errors
/// A query that fails or whose answer cannot be read.
pub fn count_results(endpoint: &str, queries: &[NamedQuery]) -> Result<Vec<(String, u64)>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    queries
        .iter()
        .map(|query| {
            let fail = |e: String| format!("{}: {e}", query.name);
            let mut response = agent
                .post(endpoint)
                .header("Content-Type", "application/sparql-query")
                .header("Accept", ACCEPT)
                .send(query.text.as_bytes())
                .map_err(|e| fail(e.to_string()))?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = response
                .body_mut()
                .with_config()
                .limit(u64::MAX)
                .read_to_string()
                .map_err(|e| fail(e.to_string()))?;
            if !(200..300).contains(&status) {
                return Err(fail(format!("status {status}: {body}")));
            }
            let count = if content_type.starts_with("application/n-triples") {
                body.lines().filter(|line| !line.trim().is_empty()).count() as u64
            } else {
                let value: serde_json::Value =
                    serde_json::from_str(&body).map_err(|e| fail(e.to_string()))?;
                match value.get("boolean").and_then(serde_json::Value::as_bool) {
                    Some(answer) => u64::from(answer),
                    None => value["results"]["bindings"]
                        .as_array()
                        .map_or(0, |rows| rows.len() as u64),
                }
            };
            Ok((query.name.clone(), count))
        })
        .collect()
}

/// One query, its answer read whole.
fn ask(agent: &ureq::Agent, endpoint: &str, text: &str) -> Result<(), String> {
    let mut response = agent
        .post(endpoint)
        .header("Content-Type", "application/sparql-query")
        .header("Accept", ACCEPT)
        .send(text.as_bytes())
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut sink = std::io::sink();
    std::io::copy(&mut reader, &mut sink).map_err(|e| e.to_string())?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("status {status}"))
    }
}

/// The peak resident memory of process `pid`, KiB (Linux `/proc/PID/status`).
#[must_use]
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Tables per data set: each system's queries per second, p50 and p99 per number of clients,
/// with the ratio of throughput to `oxigraph serve`'s.
#[must_use]
pub fn markdown(runs: &[ServeLoadRun]) -> String {
    let mut by_data: BTreeMap<&str, Vec<&ServeLoadRun>> = BTreeMap::new();
    for run in runs {
        by_data.entry(run.data.as_str()).or_default().push(run);
    }
    let mut out = String::new();
    for (data, mut runs) in by_data {
        runs.sort_by_key(|run| (run.system == OXIGRAPH_SERVE, run.system.clone()));
        let reference = runs
            .iter()
            .find(|run| run.system == OXIGRAPH_SERVE)
            .copied();
        let files = runs
            .first()
            .map(|r| r.query_files.join(", "))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "### Server load on {data} ({files}): queries/s, p50 / p99 ms, errors\n"
        );
        out.push_str("| system | clients | queries/s | × oxigraph serve | p50 ms | p99 ms | errors | peak RSS |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for run in &runs {
            for level in &run.levels {
                let ratio = reference
                    .filter(|r| r.system != run.system)
                    .and_then(|r| r.levels.iter().find(|l| l.clients == level.clients))
                    .filter(|l| l.qps > 0.0)
                    .map_or_else(|| "".to_owned(), |l| format!("{:.2}×", level.qps / l.qps));
                let rss = run
                    .peak_rss_kib
                    .map_or_else(|| "?".to_owned(), |kib| format!("{} MiB", kib / 1024));
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.1} | {ratio} | {:.1} | {:.1} | {} | {rss} |",
                    run.system, level.clients, level.qps, level.p50_ms, level.p99_ms, level.errors
                );
            }
        }
        let differences: Vec<String> = runs
            .first()
            .map(|first| {
                first
                    .results
                    .iter()
                    .filter_map(|(name, count)| {
                        let counts: Vec<String> = runs
                            .iter()
                            .map(|run| {
                                run.results
                                    .iter()
                                    .find(|(n, _)| n == name)
                                    .map_or_else(|| "?".to_owned(), |(_, c)| c.to_string())
                            })
                            .collect();
                        counts
                            .iter()
                            .any(|c| *c != count.to_string())
                            .then(|| format!("{name}: {}", counts.join(" / ")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if differences.is_empty() {
            let _ = writeln!(
                out,
                "\nEvery query's number of results is the same on every server ({} queries).",
                runs.first().map_or(0, |run| run.results.len())
            );
        } else {
            let _ = writeln!(out, "\n**Results differ**: {}.", differences.join("; "));
        }
        out.push('\n');
    }
    out
}

//! The query benchmark (`kgdb-bench sparql`): the named queries of a `.rq` file, each run
//! repeatedly over one loaded store, timed from parse to the last result read (every term of
//! every solution or triple decoded). kgdb's plugins and Oxigraph (`bench/oxigraph`) write the
//! same [`SparqlRun`], and [`markdown`] puts them side by side with ratios and a check that
//! every system found the same number of results.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::report::OXIGRAPH_RS;

/// One query of a query file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedQuery {
    /// Its name (the text after `#@ `).
    pub name: String,
    /// The SPARQL text.
    pub text: String,
}

/// The queries of a `.rq` file: each begins at a line `#@ NAME` and runs to the next one;
/// lines before the first are a comment.
///
/// # Errors
/// The file cannot be read, or holds no query.
pub fn read_queries(path: &Path) -> Result<Vec<NamedQuery>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut queries: Vec<NamedQuery> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("#@ ") {
            queries.push(NamedQuery {
                name: name.trim().to_owned(),
                text: String::new(),
            });
        } else if let Some(query) = queries.last_mut() {
            query.text.push_str(line);
            query.text.push('\n');
        }
    }
    if queries.is_empty() {
        return Err(format!(
            "{}: no query (each starts at a `#@ NAME` line)",
            path.display()
        ));
    }
    Ok(queries)
}

/// How often and how long each query is run.
#[derive(Debug, Clone, Copy)]
pub struct Repetitions {
    /// Measured runs wanted (after one unmeasured run).
    pub runs: usize,
    /// Fewer runs (at least 3) once a query's measured runs took this long.
    pub budget: Duration,
}

/// The figures of one query.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct QueryFigures {
    /// The query's name.
    pub name: String,
    /// Solutions, triples, or 1/0 for ASK.
    pub results: u64,
    /// Measured runs.
    pub runs: usize,
    /// Median time of a run, milliseconds.
    pub median_ms: f64,
    /// 99th percentile (nearest rank) of a run, milliseconds.
    pub p99_ms: f64,
}

/// One system's run of a query file over one data file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SparqlRun {
    /// Always `sparql` (tells these results from the store benchmark's).
    pub kind: String,
    /// `kgdb lmdb`, `kgdb rocksdb`, `oxigraph (Rust)`.
    pub system: String,
    /// The data file's name.
    pub data: String,
    /// Quads loaded.
    pub quads: u64,
    /// The queries, in the file's order.
    pub queries: Vec<QueryFigures>,
}

impl SparqlRun {
    /// A run's header.
    #[must_use]
    pub fn new(system: &str, data: &str, quads: u64) -> Self {
        Self {
            kind: "sparql".into(),
            system: system.into(),
            data: data.into(),
            quads,
            queries: Vec::new(),
        }
    }
}

/// Runs `query` once unmeasured, then as [`Repetitions`] says; `run` evaluates it and returns
/// how many results it read.
///
/// # Errors
/// The first error of `run`, or results that change from one run to the next.
pub fn time_query<E: std::fmt::Display>(
    name: &str,
    repetitions: Repetitions,
    mut run: impl FnMut() -> Result<u64, E>,
) -> Result<QueryFigures, String> {
    let results = run().map_err(|e| format!("{name}: {e}"))?;
    let mut nanos: Vec<u64> = Vec::with_capacity(repetitions.runs);
    let started = Instant::now();
    while nanos.len() < repetitions.runs.max(1)
        && (nanos.len() < 3 || started.elapsed() < repetitions.budget)
    {
        let begun = Instant::now();
        let again = run().map_err(|e| format!("{name}: {e}"))?;
        nanos.push(u64::try_from(begun.elapsed().as_nanos()).unwrap_or(u64::MAX));
        if again != results {
            return Err(format!("{name}: {results} results, then {again}"));
        }
    }
    nanos.sort_unstable();
    let rank = |fraction: f64| {
        let index = ((fraction * nanos.len() as f64).ceil() as usize).clamp(1, nanos.len()) - 1;
        nanos[index] as f64 / 1e6
    };
    Ok(QueryFigures {
        name: name.to_owned(),
        results,
        runs: nanos.len(),
        median_ms: rank(0.5),
        p99_ms: rank(0.99),
    })
}

fn milliseconds(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// One table per data file: a row per query with each system's median (p99) in milliseconds,
/// its ratio to Oxigraph's median, and whether the result counts agree; a last row with the
/// geometric mean of the ratios.
#[must_use]
pub fn markdown(runs: &[SparqlRun]) -> String {
    let mut by_data: BTreeMap<&str, Vec<&SparqlRun>> = BTreeMap::new();
    for run in runs {
        by_data.entry(run.data.as_str()).or_default().push(run);
    }
    let mut out = String::new();
    for (data, mut runs) in by_data {
        // Oxigraph last, the reference.
        runs.sort_by_key(|run| (run.system == OXIGRAPH_RS, run.system.clone()));
        let reference = runs.iter().find(|run| run.system == OXIGRAPH_RS).copied();
        let quads = runs.first().map_or(0, |run| run.quads);
        let _ = write!(
            out,
            "### SPARQL queries on {data} ({quads} quads): median (p99), milliseconds\n\n| query | results |"
        );
        for run in &runs {
            let _ = write!(out, " {} |", run.system);
            if reference.is_some() && run.system != OXIGRAPH_RS {
                out.push_str(" × Oxigraph |");
            }
        }
        out.push_str("\n|---|---:|");
        for run in &runs {
            out.push_str("---:|");
            if reference.is_some() && run.system != OXIGRAPH_RS {
                out.push_str("---:|");
            }
        }
        out.push('\n');
        let mut log_ratios: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let names: Vec<&str> = runs
            .first()
            .map(|run| run.queries.iter().map(|q| q.name.as_str()).collect())
            .unwrap_or_default();
        for name in names {
            let figures: Vec<Option<&QueryFigures>> = runs
                .iter()
                .map(|run| run.queries.iter().find(|q| q.name == name))
                .collect();
            let counts: Vec<u64> = figures.iter().flatten().map(|f| f.results).collect();
            let agree = counts.windows(2).all(|pair| pair[0] == pair[1]);
            let results = if agree {
                counts.first().map_or("?".into(), ToString::to_string)
            } else {
                format!(
                    "**differ: {}**",
                    counts
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" / ")
                )
            };
            let _ = write!(out, "| {name} | {results} |");
            let reference_median = reference
                .and_then(|run| run.queries.iter().find(|q| q.name == name))
                .map(|q| q.median_ms);
            for (run, figures) in runs.iter().zip(&figures) {
                match figures {
                    Some(f) => {
                        let _ = write!(
                            out,
                            " {} ({}) |",
                            milliseconds(f.median_ms),
                            milliseconds(f.p99_ms)
                        );
                    }
                    None => out.push_str(" – |"),
                }
                if reference.is_some() && run.system != OXIGRAPH_RS {
                    match (figures, reference_median) {
                        (Some(f), Some(r)) if r > 0.0 => {
                            let ratio = f.median_ms / r;
                            log_ratios.entry(&run.system).or_default().push(ratio.ln());
                            let _ = write!(out, " {ratio:.2} |");
                        }
                        _ => out.push_str(" – |"),
                    }
                }
            }
            out.push('\n');
        }
        if reference.is_some() {
            out.push_str("| geometric mean | |");
            for run in &runs {
                if run.system == OXIGRAPH_RS {
                    out.push_str(" |");
                    continue;
                }
                let logs = log_ratios
                    .get(run.system.as_str())
                    .cloned()
                    .unwrap_or_default();
                let mean = (logs.iter().sum::<f64>() / logs.len().max(1) as f64).exp();
                let _ = write!(out, " | **{mean:.2}** |");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Runs every query of `queries` on `store` (kgdb), timed from parse to the last result.
///
/// # Errors
/// A query that fails to parse or evaluate, or whose results change between runs.
pub fn run_on_kgdb(
    store: &kgdb_host::store::Store,
    queries: &[NamedQuery],
    repetitions: Repetitions,
) -> Result<Vec<QueryFigures>, String> {
    queries
        .iter()
        .map(|query| {
            tracing::info!(query = query.name, "running");
            time_query(&query.name, repetitions, || evaluate_on_kgdb(store, query))
        })
        .collect()
}

/// Parses and evaluates one query over a fresh snapshot, reading every result.
fn evaluate_on_kgdb(
    store: &kgdb_host::store::Store,
    query: &NamedQuery,
) -> Result<u64, kgdb_host::sparql::SparqlError> {
    use kgdb_host::sparql::{self, QueryOptions, QueryResults};
    let parsed = sparql::parse_query(&query.text, &query.name, None)?;
    let snapshot = store.snapshot()?;
    let (results, context) =
        sparql::evaluate(&snapshot, &parsed, &QueryOptions::default())?.into_parts();
    Ok(match results {
        QueryResults::Boolean(value) => u64::from(value),
        QueryResults::Solutions(solutions) => read_all(solutions).map_err(|e| context.error(e))?,
        QueryResults::Graph(triples) => read_all(triples).map_err(|e| context.error(e))?,
    })
}

/// Reads every result of `results` (kept from the optimiser), returning how many there were.
///
/// # Errors
/// The first failed result's error.
pub fn read_all<T, E>(results: impl Iterator<Item = Result<T, E>>) -> Result<u64, E> {
    let mut count = 0;
    for result in results {
        std::hint::black_box(result?);
        count += 1;
    }
    Ok(count)
}

//! `/metrics` in the Prometheus text format, and the middleware that counts and logs every
//! request (one `tracing` line at info: method, path, status, milliseconds).
//!
//! The figures are kept here as plain atomics and written by hand: the format is a few kinds
//! of lines, and the backend's operation stats are a set known only when they are read.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{method_not_allowed, ApiError};
use super::state::AppState;

/// Upper bounds of the query latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Request and query figures since the server started.
#[derive(Default)]
pub(super) struct Metrics {
    /// Requests answered, by endpoint and status.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Queries by latency bucket (the last one: past every bound).
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_micros: AtomicU64,
    queries: AtomicU64,
}

impl Metrics {
    /// Counts a query that took `elapsed` from its arrival to its last byte.
    pub fn observe_query(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    fn count_request(&self, endpoint: &'static str, status: StatusCode) {
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((endpoint, status.as_u16()))
            .or_default() += 1;
    }
}

/// The endpoint a path counts under: one of the server's, or `other` (so that hostile paths
/// add no series).
fn endpoint_label(path: &str) -> &'static str {
    match path {
        "/query" => "/query",
        "/update" => "/update",
        "/sparql" => "/sparql",
        "/store" => "/store",
        "/metrics" => "/metrics",
        "/health" => "/health",
        _ => "other",
    }
}

/// Counts and logs each request once its response starts.
pub(super) async fn observe(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let milliseconds = started.elapsed().as_secs_f64() * 1000.0;
    state.metrics.count_request(endpoint_label(&path), status);
    tracing::info!(target: "kgdb::serve", %method, path = %path, status = status.as_u16(), ms = (milliseconds * 10.0).round() / 10.0, "request");
    response
}

/// `/metrics`.
pub(super) async fn endpoint(State(state): State<Arc<AppState>>, method: Method) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed("/metrics", &method, "GET, HEAD").into_response();
    }
    let store = Arc::clone(&state.store);
    let counts = tokio::task::spawn_blocking(move || store.counts()).await;
    let counts = match counts {
        Ok(Ok(counts)) => counts,
        Ok(Err(error)) => return ApiError::from_store(error).into_response(),
        Err(error) => return ApiError::internal(error.to_string()).into_response(),
    };
    let mut text = String::with_capacity(8192);
    write_requests(&mut text, &state.metrics);
    write_latency(&mut text, &state.metrics);
    let gauges = [
        (
            "kgdb_queries_running",
            "Queries and store reads running.",
            state.reads.running(),
        ),
        (
            "kgdb_queries_queued",
            "Queries and store reads waiting for a worker.",
            state.reads.waiting(),
        ),
        (
            "kgdb_updates_running",
            "Writes running (at most one).",
            state.writes.running(),
        ),
        (
            "kgdb_updates_queued",
            "Writes waiting for the writer.",
            state.writes.waiting(),
        ),
    ];
    for (name, help, value) in gauges {
        gauge(&mut text, name, help, &[(String::new(), value as f64)]);
    }
    gauge(
        &mut text,
        "kgdb_store_quads",
        "Quads held, in every graph.",
        &[(String::new(), counts.quads as f64)],
    );
    gauge(
        &mut text,
        "kgdb_store_default_graph_quads",
        "Quads held in the default graph.",
        &[(String::new(), counts.default_graph_quads as f64)],
    );
    gauge(
        &mut text,
        "kgdb_store_terms",
        "Terms held by the dictionary.",
        &[(String::new(), counts.terms as f64)],
    );
    write_backend(&mut text, &state);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// A label value, escaped as the format says.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header_lines(text: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} {kind}");
}

/// A gauge's series: each with its labels (`{a="b"}` or empty) and value.
fn gauge(text: &mut String, name: &str, help: &str, series: &[(String, f64)]) {
    header_lines(text, name, help, "gauge");
    for (labels, value) in series {
        let _ = writeln!(text, "{name}{labels} {value}");
    }
}

fn write_requests(text: &mut String, metrics: &Metrics) {
    header_lines(
        text,
        "kgdb_http_requests_total",
        "HTTP requests answered, by endpoint and status.",
        "counter",
    );
    let requests = metrics
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for ((endpoint, status), count) in requests.iter() {
        let _ = writeln!(
            text,
            "kgdb_http_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {count}"
        );
    }
}

fn write_latency(text: &mut String, metrics: &Metrics) {
    let name = "kgdb_query_duration_seconds";
    header_lines(
        text,
        name,
        "Query latency, from arrival to the last byte of the response.",
        "histogram",
    );
    let mut cumulative = 0;
    for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&metrics.buckets) {
        cumulative += bucket.load(Ordering::Relaxed);
        let _ = writeln!(text, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += metrics.buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
    let _ = writeln!(text, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
    let seconds = metrics.latency_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(text, "{name}_sum {seconds}");
    let _ = writeln!(
        text,
        "{name}_count {}",
        metrics.queries.load(Ordering::Relaxed)
    );
}

/// The backend's operation stats from its collector, and the store's own counters.
fn write_backend(text: &mut String, state: &AppState) {
    let stats = state.store.backend().collector().snapshot();
    header_lines(
        text,
        "kgdb_backend_operations_total",
        "Calls of each backend operation.",
        "counter",
    );
    for op in &stats.operations {
        let _ = writeln!(
            text,
            "kgdb_backend_operations_total{{op=\"{}\"}} {}",
            label(&op.op),
            op.calls
        );
    }
    header_lines(
        text,
        "kgdb_backend_bytes_total",
        "Bytes into and out of the backend, by operation.",
        "counter",
    );
    for op in &stats.operations {
        let op_label = label(&op.op);
        let _ = writeln!(
            text,
            "kgdb_backend_bytes_total{{op=\"{op_label}\",direction=\"in\"}} {}",
            op.bytes_in
        );
        let _ = writeln!(
            text,
            "kgdb_backend_bytes_total{{op=\"{op_label}\",direction=\"out\"}} {}",
            op.bytes_out
        );
    }
    header_lines(
        text,
        "kgdb_backend_errors_total",
        "Backend operations that failed, by operation and error code.",
        "counter",
    );
    for op in &stats.operations {
        for error in &op.errors {
            let _ = writeln!(
                text,
                "kgdb_backend_errors_total{{op=\"{}\",code=\"{}\"}} {}",
                label(&op.op),
                label(&error.code),
                error.count
            );
        }
    }
    header_lines(
        text,
        "kgdb_backend_operation_latency_seconds",
        "Sampled latency of each backend operation.",
        "summary",
    );
    for op in &stats.operations {
        let op_label = label(&op.op);
        let latency = op.latency;
        for (quantile, nanos) in [
            ("0.5", latency.p50_ns),
            ("0.9", latency.p90_ns),
            ("0.99", latency.p99_ns),
        ] {
            let _ = writeln!(text, "kgdb_backend_operation_latency_seconds{{op=\"{op_label}\",quantile=\"{quantile}\"}} {}", nanos as f64 / 1e9);
        }
        let _ = writeln!(
            text,
            "kgdb_backend_operation_latency_seconds_sum{{op=\"{op_label}\"}} {}",
            (latency.mean_ns as f64 * latency.count as f64) / 1e9
        );
        let _ = writeln!(
            text,
            "kgdb_backend_operation_latency_seconds_count{{op=\"{op_label}\"}} {}",
            latency.count
        );
    }
    header_lines(
        text,
        "kgdb_backend_transactions_total",
        "Backend transactions, by outcome.",
        "counter",
    );
    for (outcome, count) in [
        ("committed", stats.transactions.committed),
        ("rolled_back", stats.transactions.rolled_back),
        ("conflict", stats.transactions.conflicts),
    ] {
        let _ = writeln!(
            text,
            "kgdb_backend_transactions_total{{outcome=\"{outcome}\"}} {count}"
        );
    }
    header_lines(
        text,
        "kgdb_backend_rows_scanned_total",
        "Rows read by backend scans.",
        "counter",
    );
    let _ = writeln!(
        text,
        "kgdb_backend_rows_scanned_total {}",
        stats.rows_scanned
    );
    header_lines(
        text,
        "kgdb_store_events_total",
        "The store's own counters since it was opened (quads in and out, term look-ups).",
        "counter",
    );
    for counter in &stats.counters {
        let _ = writeln!(
            text,
            "kgdb_store_events_total{{name=\"{}\"}} {}",
            label(&counter.name),
            counter.value
        );
    }
}

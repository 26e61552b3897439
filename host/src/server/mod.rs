//! `kgdb-host serve`: the store over HTTP, as a SPARQL 1.1 Protocol endpoint (`/query`,
//! `/update`, `/sparql`) and a SPARQL 1.1 Graph Store HTTP Protocol endpoint (`/store`), with
//! `/metrics` (Prometheus text format) and `/health`.
//!
//! Requests are read on a tokio runtime (axum, tower-http); a query or a store read runs on a
//! blocking thread of a bounded pool ([`ServerOptions::workers`]) over its own snapshot, and
//! its results stream to the client through a small bounded channel as they are written, so
//! memory stays flat whatever the result size and a client that goes away stops the query.
//! Writes (updates, Graph Store `PUT`, `POST`, `DELETE`) run one at a time, each in one store
//! transaction: a request changes everything it says or nothing. Requests past the pool and
//! its queue ([`ServerOptions::queue`]) get `503` with `Retry-After`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kgdb_host::server::{self, ServerError, ServerOptions};
//! use kgdb_host::store::Store;
//!
//! fn serve(store: Store) -> Result<(), ServerError> {
//!     let mut options = ServerOptions::default();
//!     options.read_only = true;
//!     server::run_until_signal(Arc::new(store), options, |address| {
//!         println!("listening on http://{address}");
//!     })
//! }
//! ```

mod admission;
mod error;
mod graph_store;
mod metrics;
mod negotiation;
mod params;
mod protocol;
mod service_description;
mod state;
mod streaming;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::any;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::store::Store;
use state::AppState;

/// How the server runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// The address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// Refuse every write (`403`).
    pub read_only: bool,
    /// The longest a query or update may take from its arrival (queueing included) to its
    /// last byte; `None`: no limit.
    pub timeout: Option<Duration>,
    /// The largest request body, in bytes (`413` past it).
    pub max_body: u64,
    /// Origins allowed by CORS (`*` for any); none: no CORS headers.
    pub cors: Vec<String>,
    /// A query's default graph is the union of the named graphs.
    pub union_default_graph: bool,
    /// Queries (and store reads) running at once.
    pub workers: usize,
    /// Requests that may wait for a worker (and, apart, for the writer) before `503`.
    pub queue: usize,
    /// How long running requests may go on after SIGINT or SIGTERM before they are cancelled.
    pub grace: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            read_only: false,
            timeout: Some(Duration::from_secs(30)),
            max_body: 128 << 20,
            cors: Vec::new(),
            union_default_graph: false,
            workers,
            queue: 128,
            grace: Duration::from_secs(10),
        }
    }
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// An option is out of range.
    #[error("{0}")]
    Options(String),
    /// The runtime or the listener failed.
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The server's routes over `state`, with CORS and panic catching.
fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/query", any(protocol::query_endpoint))
        .route("/update", any(protocol::update_endpoint))
        .route("/sparql", any(protocol::sparql_endpoint))
        .route("/store", any(graph_store::endpoint))
        .route("/metrics", any(metrics::endpoint))
        .route("/health", any(state::health))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            metrics::observe,
        ))
        .layer(CatchPanicLayer::custom(error::panicked));
    if !state.options.cors.is_empty() {
        router = router.layer(cors_layer(&state.options.cors));
    }
    router.with_state(state)
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    use axum::http::{header, HeaderValue, Method};
    let allow_origin = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers([header::CONTENT_TYPE, header::ACCEPT])
        .max_age(Duration::from_secs(3600))
}

fn check(options: &ServerOptions) -> Result<(), ServerError> {
    if options.workers == 0 {
        return Err(ServerError::Options("--workers must be at least 1".into()));
    }
    for origin in &options.cors {
        if origin != "*" && axum::http::HeaderValue::from_str(origin).is_err() {
            return Err(ServerError::Options(format!(
                "--cors {origin}: not an origin (give e.g. https://example.com, or *)"
            )));
        }
    }
    Ok(())
}

/// Serves `store` on `listener` until `shutdown` completes; then stops accepting, lets running
/// requests finish for [`ServerOptions::grace`], cancels what still runs, and returns. Call it
/// on a multi-threaded tokio runtime whose blocking threads have room for deep SPARQL requests
/// ([`crate::sparql::SPARQL_STACK_BYTES`]), as [`run_until_signal`] builds.
///
/// # Errors
/// [`ServerError`] when the options are out of range or serving fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    check(&options)?;
    let grace = options.grace;
    let state = Arc::new(AppState::new(store, options));
    let app = router(Arc::clone(&state));
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping.send(());
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        served = &mut server => return served.map_err(ServerError::Io),
        _ = stopped => {}
    }
    tracing::info!(
        grace_seconds = grace.as_secs_f64(),
        "stopping: no new connections; running requests may finish"
    );
    if let Ok(served) = tokio::time::timeout(grace, &mut server).await {
        return served.map_err(ServerError::Io);
    }
    let cancelled = state.cancel_all();
    tracing::warn!(
        cancelled,
        "the grace period is over: running requests are cancelled"
    );
    match tokio::time::timeout(Duration::from_secs(5), &mut server).await {
        Ok(served) => served.map_err(ServerError::Io),
        Err(_) => {
            tracing::warn!("connections still open after cancelling: closing them");
            Ok(())
        }
    }
}

/// Builds the runtime, binds [`ServerOptions::bind`], calls `listening` with the bound address,
/// and serves `store` until SIGINT or SIGTERM (see [`serve`]). When it returns, requests
/// still running have been waited for (a few seconds at most), so the caller can usually take
/// the store back from its `Arc` and close it.
///
/// # Errors
/// [`ServerError`].
pub fn run_until_signal(
    store: Arc<Store>,
    options: ServerOptions,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    check(&options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kgdb-serve")
        .thread_stack_size(crate::sparql::SPARQL_STACK_BYTES)
        .max_blocking_threads(options.workers.saturating_mul(2).saturating_add(8))
        .build()?;
    let bind = options.bind;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|source| ServerError::Bind {
                address: bind,
                source,
            })?;
        listening(listener.local_addr()?);
        serve(listener, store, options, shutdown_signal()).await
    });
    // Blocking work still running (a query between two checks of its cancellation, a commit)
    // ends on its own; wait for it a little so that the store can be closed.
    runtime.shutdown_timeout(Duration::from_secs(5));
    served
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; SIGINT still stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => tracing::info!("SIGINT received"),
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

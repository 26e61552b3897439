//! What every request shares: the store, the options, the pools, the metrics, and the
//! cancellation of what is running.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::admission::Admission;
use super::metrics::Metrics;
use super::params::BodyBudget;
use super::ServerOptions;
use crate::sparql::CancellationToken;
use crate::store::Store;

/// Request bodies held at once, in units of `--max-body`.
pub(super) const BODY_BUDGET_FACTOR: u64 = 4;
/// The least room for request bodies, whatever `--max-body` says.
const MIN_BODY_BUDGET: u64 = 64 << 20;

/// The server's shared state.
pub(super) struct AppState {
    /// The store, opened once for the server's life.
    pub store: Arc<Store>,
    /// The options.
    pub options: ServerOptions,
    /// Queries and store reads: `workers` at once, `queue` waiting.
    pub reads: Admission,
    /// Writes: one at a time, `queue` waiting.
    pub writes: Admission,
    /// Request and query figures.
    pub metrics: Metrics,
    /// Request bodies held at once: [`BODY_BUDGET_FACTOR`] × `max_body`.
    pub bodies: BodyBudget,
    running: Arc<Running>,
}

impl AppState {
    pub fn new(store: Arc<Store>, options: ServerOptions) -> Self {
        Self {
            reads: Admission::new(options.workers, options.queue),
            writes: Admission::new(1, options.queue),
            metrics: Metrics::default(),
            bodies: BodyBudget::new(
                options
                    .max_body
                    .saturating_mul(BODY_BUDGET_FACTOR)
                    .max(MIN_BODY_BUDGET),
            ),
            running: Arc::default(),
            store,
            options,
        }
    }

    /// A cancellation for a request that starts now, cancelled by [`AppState::cancel_all`]
    /// until the returned guard is dropped.
    pub fn register(&self) -> (CancellationToken, Registered) {
        let token = CancellationToken::new();
        let id = self.running.next.fetch_add(1, Ordering::Relaxed);
        self.running.lock().insert(id, token.clone());
        (
            token,
            Registered {
                running: Arc::clone(&self.running),
                id,
            },
        )
    }

    /// Cancels every running request; returns how many there were.
    pub fn cancel_all(&self) -> usize {
        let running = self.running.lock();
        for token in running.values() {
            token.cancel();
        }
        running.len()
    }
}

/// The cancellations of the requests running.
#[derive(Default)]
struct Running {
    next: AtomicU64,
    tokens: Mutex<HashMap<u64, CancellationToken>>,
}

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, CancellationToken>> {
        // A map of tokens: a panic while it was held left nothing half-done.
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request's place among the running ones; dropped when it ends.
pub(super) struct Registered {
    running: Arc<Running>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.running.lock().remove(&self.id);
    }
}

/// `/health`: `200 ok` when a snapshot of the store can be read, `503` with the reason
/// otherwise.
pub(super) async fn health(State(state): State<Arc<AppState>>) -> Response {
    let store = Arc::clone(&state.store);
    let checked =
        tokio::task::spawn_blocking(move || store.snapshot().and_then(|s| s.counts())).await;
    match checked {
        Ok(Ok(_)) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(error)) => super::error::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the store cannot be read: {error}"),
        )
        .into_response(),
        Err(error) => super::error::ApiError::internal(format!("the health check failed: {error}"))
            .into_response(),
    }
}

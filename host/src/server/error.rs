//! Errors a client can act on: a status and one plain-text line naming the problem.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::rdf::LoadError;
use crate::sparql::SparqlError;
use crate::store::StoreError;

/// An error answered to the client.
#[derive(Debug, Clone)]
pub(super) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds after which the client may try again (`503`).
    pub retry_after: Option<u32>,
    /// The methods the path takes (`405`).
    pub allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            allow: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// `503`: the server is busy or the request ran out of time; try again after `seconds`.
    pub fn unavailable(message: impl Into<String>, seconds: u32) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }

    /// `403` for a write on a read-only server.
    pub fn read_only() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "this server is read-only (started with --read-only): updates and Graph Store writes are refused",
        )
    }

    /// `503` for a full pool.
    pub fn busy(what: &str) -> Self {
        Self::unavailable(
            format!("the server is busy: every {what} slot is taken and the queue is full; try again shortly"),
            1,
        )
    }

    /// `503` for a request past its time limit.
    pub fn timed_out(timeout: std::time::Duration) -> Self {
        Self::unavailable(
            format!(
                "the request ran longer than the server's time limit ({timeout:?}, set by --timeout) and was cancelled"
            ),
            1,
        )
    }

    /// `413` for a body past `--max-body`.
    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than the server's limit ({}, set by --max-body)",
                crate::units::human_bytes(limit)
            ),
        )
    }

    /// The status and message of a SPARQL failure.
    pub fn from_sparql(error: SparqlError, timeout: Option<std::time::Duration>) -> Self {
        match error {
            SparqlError::Syntax { .. } | SparqlError::BaseIri { .. } => {
                Self::bad_request(error.to_string())
            }
            SparqlError::Update(_) | SparqlError::Evaluation(_) => {
                Self::bad_request(error.to_string())
            }
            // Cancelled: by the time limit, or (with none) by the server stopping.
            SparqlError::Timeout(_) => match timeout {
                Some(timeout) => Self::timed_out(timeout),
                None => Self::unavailable("the request was cancelled: the server is stopping", 1),
            },
            SparqlError::Store(error) => Self::from_store(error),
            other => Self::internal(other.to_string()),
        }
    }

    /// The status and message of a store failure: `503` for a retryable conflict or a
    /// timeout, `507` for a full disk, `500` otherwise.
    pub fn from_store(error: StoreError) -> Self {
        use kgdb_plugin_api::ErrorCode;
        match error.backend_code() {
            _ if error.is_retryable() => Self::unavailable(error.to_string(), 1),
            _ if matches!(error, StoreError::LoadUnfinished(_)) => {
                Self::unavailable(error.to_string(), 5)
            }
            Some(ErrorCode::FULL) => Self::new(StatusCode::INSUFFICIENT_STORAGE, error.to_string()),
            Some(ErrorCode::TIMED_OUT) => Self::unavailable(error.to_string(), 1),
            _ => Self::internal(error.to_string()),
        }
    }

    /// The status and message of a failed body: `400` for a body that is not RDF.
    pub fn from_load(error: LoadError) -> Self {
        match error {
            LoadError::Syntax { location, message } => {
                Self::bad_request(format!("{location}: {message}; nothing was changed"))
            }
            LoadError::BaseIri { .. } | LoadError::Read { .. } => {
                Self::bad_request(format!("{error}; nothing was changed"))
            }
            LoadError::Store(error) => Self::from_store(error),
            other => Self::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.message),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

/// `404` for a path the server does not have.
pub(super) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "{}: no such endpoint (the server has /query, /update, /sparql, /store, /metrics and /health)",
            uri.path()
        ),
    )
}

/// `405` naming the methods `path` takes.
pub(super) fn method_not_allowed(
    path: &str,
    method: &axum::http::Method,
    allowed: &'static str,
) -> ApiError {
    ApiError {
        allow: Some(allowed),
        ..ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{path} does not take {method}; it takes {allowed}"),
        )
    }
}

/// `500` for a handler that panicked: the server goes on.
pub(super) fn panicked(detail: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = detail
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| detail.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
    tracing::error!(panic = what, "a request handler panicked");
    ApiError::internal(format!(
        "the server failed on this request (a bug: {what}); it goes on serving others"
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use axum::Router;
    use tower_http::catch_panic::CatchPanicLayer;

    async fn ask(address: std::net::SocketAddr, path: &'static str) -> String {
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handler_that_panics_gets_500_and_the_server_goes_on() {
        async fn boom() -> &'static str {
            panic!("a bug in a handler")
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(CatchPanicLayer::custom(super::panicked));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let answer = ask(address, "/boom").await;
        assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
        assert!(answer.contains("text/plain"), "{answer}");
        assert!(answer.contains("a bug in a handler"), "{answer}");
        assert!(answer.contains("goes on serving others"), "{answer}");
        let answer = ask(address, "/fine").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

//! The SPARQL 1.1 Protocol: `/query`, `/update` and `/sparql` (both), by GET, POST of the
//! text, or POST of a form; the dataset parameters; a service description on a GET without
//! a query.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use oxrdfio::RdfFormat;

use super::admission::{Admission, Ticket};
use super::error::{method_not_allowed, ApiError};
use super::negotiation::{self, GRAPH_FORMATS, RESULTS};
use super::params::{self, Params};
use super::service_description;
use super::state::AppState;
use super::streaming::{response_channel, ResponseWriter};
use crate::sparql::results::{self, ResultsFormat};
use crate::sparql::{
    self, CancellationToken, QueryOptions, QueryResults, RequestDataset, SparqlError, UpdateOptions,
};

/// What an endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Query,
    Update,
    Both,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Self::Query => "/query",
            Self::Update => "/update",
            Self::Both => "/sparql",
        }
    }
}

/// What a request asks for.
enum Operation {
    Query {
        text: String,
        dataset: Option<RequestDataset>,
    },
    Update {
        text: String,
        using: Option<RequestDataset>,
    },
    Description,
}

/// `/query`.
pub(super) async fn query_endpoint(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Response {
    handle(state, Endpoint::Query, request).await
}

/// `/update`.
pub(super) async fn update_endpoint(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Response {
    handle(state, Endpoint::Update, request).await
}

/// `/sparql`.
pub(super) async fn sparql_endpoint(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Response {
    handle(state, Endpoint::Both, request).await
}

async fn handle(state: Arc<AppState>, endpoint: Endpoint, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    // The body's share of the server's body budget is held until the request is answered.
    let (operation, _body) =
        match read_operation(&state, endpoint, &method, &uri, &headers, body).await {
            Ok(read) => read,
            Err(error) => return error.into_response(),
        };
    let accept = params::accept(&headers);
    match operation {
        Operation::Query { text, dataset } => run_query(state, text, dataset, accept).await,
        Operation::Update { text, using } => run_update(state, text, using).await,
        Operation::Description => {
            service_description::respond(&state, endpoint.path(), &headers, accept.as_deref())
        }
    }
}

/// The language of a request's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    Query,
    Update,
}

/// The operation a request asks `endpoint` for, and the body it came in (if any).
async fn read_operation(
    state: &AppState,
    endpoint: Endpoint,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Operation, Option<params::HeldBody>), ApiError> {
    let mut params = Params::from_query(uri.query());
    let (language, text, held) = match *method {
        Method::GET | Method::HEAD => match text_of_get(&params, endpoint, method)? {
            Some(text) => (Language::Query, text, None),
            None => return Ok((Operation::Description, None)),
        },
        Method::POST => {
            let body =
                params::read_body(headers, body, state.options.max_body, &state.bodies).await?;
            let media_type = params::content_type(headers);
            let (language, text) =
                text_of_post(&mut params, media_type.as_deref(), &body.bytes, endpoint)?;
            (language, text, Some(body))
        }
        _ => {
            let allowed = match endpoint {
                Endpoint::Update => "POST",
                _ => "GET, HEAD, POST",
            };
            return Err(method_not_allowed(endpoint.path(), method, allowed));
        }
    };
    let operation = match (language, endpoint) {
        (Language::Query, Endpoint::Update) => {
            return Err(ApiError::bad_request(
                "/update takes updates only; send queries to /query or /sparql",
            ))
        }
        (Language::Update, Endpoint::Query) => {
            return Err(ApiError::bad_request(
                "/query takes queries only; send updates to /update or /sparql",
            ))
        }
        (Language::Query, _) => Operation::Query {
            text,
            dataset: params.dataset("default-graph-uri", "named-graph-uri")?,
        },
        (Language::Update, _) => Operation::Update {
            text,
            using: params.dataset("using-graph-uri", "using-named-graph-uri")?,
        },
    };
    Ok((operation, held))
}

/// The query of a GET (`None`: no query, the service description is asked for).
fn text_of_get(
    params: &Params,
    endpoint: Endpoint,
    method: &Method,
) -> Result<Option<String>, ApiError> {
    if params.has("update") {
        return Err(ApiError::bad_request(
            "an update is sent by POST (application/sparql-update, or a form with `update=`), never by GET",
        ));
    }
    match (params.single("query")?, endpoint) {
        (None, Endpoint::Update) => Err(method_not_allowed(endpoint.path(), method, "POST")),
        (query, _) => Ok(query.map(str::to_owned)),
    }
}

/// The query or update of a POST, by its content type; a form's parameters join `params`.
fn text_of_post(
    params: &mut Params,
    media_type: Option<&str>,
    bytes: &Bytes,
    endpoint: Endpoint,
) -> Result<(Language, String), ApiError> {
    match media_type {
        Some("application/sparql-query") => {
            Ok((Language::Query, params::utf8(bytes.clone(), "query")?))
        }
        Some("application/sparql-update") => {
            Ok((Language::Update, params::utf8(bytes.clone(), "update")?))
        }
        Some("application/x-www-form-urlencoded") => {
            let form = Params::parse(bytes);
            let query = form.single("query")?.map(str::to_owned);
            let update = form.single("update")?.map(str::to_owned);
            params.extend(form);
            match (query, update) {
                (Some(_), Some(_)) => Err(ApiError::bad_request(
                    "the form gives both `query` and `update`; give one",
                )),
                (Some(query), None) => Ok((Language::Query, query)),
                (None, Some(update)) => Ok((Language::Update, update)),
                (None, None) => Err(ApiError::bad_request(
                    "the form gives neither `query` nor `update`",
                )),
            }
        }
        other => {
            let accepted = match endpoint {
                Endpoint::Query => "application/sparql-query or application/x-www-form-urlencoded",
                Endpoint::Update => {
                    "application/sparql-update or application/x-www-form-urlencoded"
                }
                Endpoint::Both => "application/sparql-query, application/sparql-update or application/x-www-form-urlencoded",
            };
            let given = other.map_or_else(
                || "a body without Content-Type".to_owned(),
                |media_type| format!("`{media_type}`"),
            );
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "{} takes a POST body of {accepted}, not {given}",
                    endpoint.path()
                ),
            ))
        }
    }
}

/// When a request that arrives now must be done: `--timeout` from now.
fn deadline_of(state: &AppState) -> Option<tokio::time::Instant> {
    state
        .options
        .timeout
        .map(|timeout| tokio::time::Instant::now() + timeout)
}

/// Cancels `token` at `deadline`, unless dropped first (on a timer of the runtime: no thread
/// per request).
fn cancel_at(
    deadline: Option<tokio::time::Instant>,
    token: &CancellationToken,
) -> Option<CancelTimer> {
    deadline.map(|deadline| {
        let token = token.clone();
        CancelTimer(tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            token.cancel();
        }))
    })
}

/// A pending cancellation ([`cancel_at`]), called off when dropped.
struct CancelTimer(tokio::task::JoinHandle<()>);

impl Drop for CancelTimer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A place in `admission`, waiting at most until `deadline`.
pub(super) async fn admit(
    state: &AppState,
    admission: &Admission,
    what: &str,
    deadline: Option<tokio::time::Instant>,
) -> Result<Ticket, ApiError> {
    let entered = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, admission.enter())
            .await
            .map_err(|_| ApiError::timed_out(state.options.timeout.unwrap_or_default()))?,
        None => admission.enter().await,
    };
    entered.map_err(|_| ApiError::busy(what))
}

async fn run_query(
    state: Arc<AppState>,
    text: String,
    dataset: Option<RequestDataset>,
    accept: Option<String>,
) -> Response {
    let arrived = Instant::now();
    let deadline = deadline_of(&state);
    let ticket = match admit(&state, &state.reads, "query", deadline).await {
        Ok(ticket) => ticket,
        Err(error) => return error.into_response(),
    };
    let (writer, pending) = response_channel(deadline);
    let (token, registered) = state.register();
    let timer = cancel_at(deadline, &token);
    let worker_state = Arc::clone(&state);
    tokio::task::spawn_blocking(move || {
        let _running = (ticket, registered, timer);
        let request = QueryRequest {
            text: &text,
            dataset,
            accept: accept.as_deref(),
            token,
        };
        answer_query(&worker_state, &request, writer, arrived);
    });
    pending.response(deadline, state.options.timeout).await
}

/// A query and how to answer it.
struct QueryRequest<'a> {
    text: &'a str,
    dataset: Option<RequestDataset>,
    accept: Option<&'a str>,
    token: CancellationToken,
}

/// How a query's results are written.
enum Output {
    Results(ResultsFormat),
    Graph(RdfFormat),
}

/// Parses, evaluates and writes a query on this (blocking) thread.
/// The query's latency is counted before its last bytes leave, so that a client that has
/// read its answer finds it in `/metrics`.
fn answer_query(
    state: &AppState,
    request: &QueryRequest<'_>,
    mut writer: ResponseWriter,
    arrived: Instant,
) {
    let timeout = state.options.timeout;
    let outcome = (|| -> Result<(), ApiError> {
        let query = sparql::parse_query(request.text, "query", None)
            .map_err(|error| ApiError::from_sparql(error, timeout))?;
        let output = if matches!(
            query,
            sparql::Query::Construct { .. } | sparql::Query::Describe { .. }
        ) {
            let format = negotiation::choose_or_refuse(request.accept, &*GRAPH_FORMATS)?;
            writer.set_content_type(negotiation::rdf_media_type(format));
            Output::Graph(format)
        } else {
            let format = negotiation::choose_or_refuse(request.accept, &RESULTS)?;
            writer.set_content_type(negotiation::results_media_type(format));
            Output::Results(format)
        };
        let mut options = QueryOptions::default();
        options.union_default_graph = state.options.union_default_graph;
        options.dataset.clone_from(&request.dataset);
        options.cancellation = Some(request.token.clone());
        let snapshot = state.store.snapshot().map_err(ApiError::from_store)?;
        let (results, context) = sparql::evaluate(&snapshot, &query, &options)
            .map_err(|error| ApiError::from_sparql(error, timeout))?
            .into_parts();
        let written = match (results, output) {
            (QueryResults::Solutions(solutions), Output::Results(format)) => {
                let variables = solutions.variables().to_vec();
                results::write_solutions(&mut writer, format, &variables, solutions, &context, None)
                    .map(drop)
            }
            (QueryResults::Boolean(value), Output::Results(format)) => {
                results::write_boolean(&mut writer, format, value)
            }
            (QueryResults::Graph(triples), Output::Graph(format)) => {
                results::write_graph(&mut writer, format, triples, &context, None).map(drop)
            }
            _ => Err(SparqlError::Evaluation(
                "the query's results do not match its form".to_owned(),
            )),
        };
        match written {
            Err(SparqlError::Output(error)) => Err(ApiError::internal(error.to_string())),
            Err(error) => Err(ApiError::from_sparql(error, timeout)),
            Ok(()) => Ok(()),
        }
    })();
    state.metrics.observe_query(arrived.elapsed());
    match outcome {
        Ok(()) => {
            if let Err(error) = writer.finish() {
                tracing::debug!(%error, "the query's response was not completed");
            }
        }
        Err(error) if writer.started() => {
            tracing::warn!(error = %error.message, "a query failed after its response began: the response is cut short");
            writer.fail(error);
        }
        Err(error) => writer.fail(error),
    }
}

async fn run_update(state: Arc<AppState>, text: String, using: Option<RequestDataset>) -> Response {
    if state.options.read_only {
        return ApiError::read_only().into_response();
    }
    let deadline = deadline_of(&state);
    let ticket = match admit(&state, &state.writes, "write", deadline).await {
        Ok(ticket) => ticket,
        Err(error) => return error.into_response(),
    };
    let (token, registered) = state.register();
    // The update's WHERE evaluation stops at the deadline; a commit under way is waited for,
    // so the answer always says what happened.
    let timer = cancel_at(deadline, &token);
    let worker_state = Arc::clone(&state);
    let done = tokio::task::spawn_blocking(move || {
        let _running = (ticket, registered, timer);
        let timeout = worker_state.options.timeout;
        let update = sparql::parse_update(&text, "update", None)
            .map_err(|error| ApiError::from_sparql(error, timeout))?;
        let options = UpdateOptions {
            using,
            cancellation: Some(token),
            timeout,
            refuse_load: true,
        };
        let mut txn = worker_state
            .store
            .transaction()
            .map_err(ApiError::from_store)?;
        let summary = sparql::execute_update_with(&mut txn, &update, &options)
            .map_err(|error| ApiError::from_sparql(error, timeout))?;
        txn.commit().map_err(ApiError::from_store)?;
        Ok::<_, ApiError>(summary)
    })
    .await;
    match done {
        Ok(Ok(summary)) => {
            tracing::debug!(
                inserted = summary.inserted,
                removed = summary.removed,
                "update committed"
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(error)) => error.into_response(),
        Err(error) => ApiError::internal(format!(
            "the update failed on the server ({error}); nothing was changed"
        ))
        .into_response(),
    }
}

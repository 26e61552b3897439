//! The SPARQL 1.1 Graph Store HTTP Protocol at `/store?graph=IRI` and `/store?default`
//! (`/store` alone: the whole dataset): GET and HEAD read a graph, PUT replaces it, POST
//! merges into it, DELETE removes it. Each write is one store transaction.

use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use oxrdf::{GraphName, NamedNode, NamedOrBlankNode, Quad};
use oxrdfio::{RdfFormat, RdfSerializer};

use super::error::{method_not_allowed, ApiError};
use super::negotiation;
use super::params::{self, Params};
use super::protocol::admit;
use super::state::AppState;
use super::streaming::{response_channel, ResponseWriter};
use crate::rdf::{parse_document, LoadError};
use crate::store::{GraphPattern, QuadPattern};

/// Quads inserted per call while a body is stored.
const INSERT_BATCH: usize = 1024;

/// The graph a request names.
#[derive(Debug, Clone)]
enum Target {
    /// `?default`.
    Default,
    /// `?graph=IRI`.
    Named(NamedNode),
    /// Neither: the whole dataset.
    Dataset,
}

impl Target {
    fn of(params: &Params) -> Result<Self, ApiError> {
        let graph = params.single("graph")?;
        match (params.has("default"), graph) {
            (true, Some(_)) => Err(ApiError::bad_request(
                "give either `default` or `graph=IRI`, not both",
            )),
            (true, None) => Ok(Self::Default),
            (false, Some(iri)) => NamedNode::new(iri).map(Self::Named).map_err(|error| {
                ApiError::bad_request(format!("graph={iri}: not an absolute IRI ({error})"))
            }),
            (false, None) => Ok(Self::Dataset),
        }
    }

    fn pattern(&self) -> GraphPattern {
        match self {
            Self::Default => GraphPattern::Default,
            Self::Named(name) => GraphPattern::Named(name.clone().into()),
            Self::Dataset => GraphPattern::Any,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Default => "the default graph".to_owned(),
            Self::Named(name) => format!("graph {name}"),
            Self::Dataset => "the dataset".to_owned(),
        }
    }
}

/// `/store`.
pub(super) async fn endpoint(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let target = match Target::of(&Params::from_query(uri.query())) {
        Ok(target) => target,
        Err(error) => return error.into_response(),
    };
    let outcome = match method {
        Method::GET => return read(state, target, &headers, false).await,
        Method::HEAD => return read(state, target, &headers, true).await,
        Method::PUT => write(state, target, &headers, body, Mode::Replace).await,
        Method::POST => write(state, target, &headers, body, Mode::Merge).await,
        Method::DELETE => delete(state, target).await,
        _ => Err(method_not_allowed(
            "/store",
            &method,
            "GET, HEAD, PUT, POST, DELETE",
        )),
    };
    outcome.unwrap_or_else(IntoResponse::into_response)
}

/// GET and HEAD: the graph in the format the client accepts; `404` for a named graph the
/// store does not have.
async fn read(
    state: Arc<AppState>,
    target: Target,
    headers: &HeaderMap,
    head_only: bool,
) -> Response {
    let accept = params::accept(headers);
    let offers: &[(&str, RdfFormat)] = match target {
        Target::Dataset => &*negotiation::DATASET_FORMATS,
        _ => &*negotiation::GRAPH_FORMATS,
    };
    let format = match negotiation::choose_or_refuse(accept.as_deref(), offers) {
        Ok(format) => format,
        Err(error) => return error.into_response(),
    };
    let ticket = match admit(&state, &state.reads, "read", None).await {
        Ok(ticket) => ticket,
        Err(error) => return error.into_response(),
    };
    let (mut writer, pending) = response_channel(None);
    writer.set_content_type(negotiation::rdf_media_type(format));
    let (_, registered) = state.register();
    let worker_state = Arc::clone(&state);
    tokio::task::spawn_blocking(move || {
        let _running = (ticket, registered);
        let written = write_graph(&worker_state, &target, format, head_only, &mut writer);
        match written {
            Ok(()) => {
                if let Err(error) = writer.finish() {
                    tracing::debug!(%error, "a graph's response was not completed");
                }
            }
            Err(error) => writer.fail(error),
        }
    });
    pending.response(None, None).await
}

fn write_graph(
    state: &AppState,
    target: &Target,
    format: RdfFormat,
    head_only: bool,
    writer: &mut ResponseWriter,
) -> Result<(), ApiError> {
    let snapshot = state.store.snapshot().map_err(ApiError::from_store)?;
    if let Target::Named(name) = target {
        let exists = snapshot
            .graph_exists(&NamedOrBlankNode::from(name.clone()))
            .map_err(ApiError::from_store)?;
        if !exists {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("the store has no graph {name}"),
            ));
        }
    }
    if head_only {
        return Ok(());
    }
    let pattern = QuadPattern {
        graph: target.pattern(),
        ..QuadPattern::default()
    };
    let keep_graphs = matches!(target, Target::Dataset);
    let mut serializer = RdfSerializer::from_format(format).for_writer(writer);
    let cut = |error: std::io::Error| {
        ApiError::internal(format!("writing {}: {error}", target.describe()))
    };
    for quad in snapshot
        .quads_for_pattern(&pattern)
        .map_err(ApiError::from_store)?
    {
        let mut quad = quad.map_err(ApiError::from_store)?;
        if !keep_graphs {
            quad.graph_name = GraphName::DefaultGraph;
        }
        serializer.serialize_quad(&quad).map_err(cut)?;
    }
    serializer.finish().and_then(|out| out.flush()).map_err(cut)
}

/// What a write does to the graph's current content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// PUT: the body replaces it.
    Replace,
    /// POST: the body is added to it.
    Merge,
}

/// PUT and POST: the body, parsed by its `Content-Type`, in one transaction; `201` when the
/// graph did not exist, `204` otherwise.
async fn write(
    state: Arc<AppState>,
    target: Target,
    headers: &HeaderMap,
    body: Body,
    mode: Mode,
) -> Result<Response, ApiError> {
    if state.options.read_only {
        return Err(ApiError::read_only());
    }
    let content_type = params::content_type(headers).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body has no Content-Type: give its RDF format (text/turtle, application/n-triples, application/rdf+xml, application/n-quads, application/trig, application/ld+json)",
        )
    })?;
    let format = negotiation::body_format(&content_type).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("`{content_type}` is not an RDF format this server reads (text/turtle, application/n-triples, application/rdf+xml, application/n-quads, application/trig, application/ld+json)"),
        )
    })?;
    let body = params::read_body(headers, body, state.options.max_body, &state.bodies).await?;
    let ticket = admit(&state, &state.writes, "write", None).await?;
    let (_, registered) = state.register();
    let worker_state = Arc::clone(&state);
    let created = tokio::task::spawn_blocking(move || {
        let _running = (ticket, registered);
        store_body(&worker_state, &target, format, body.bytes.clone(), mode)
    })
    .await
    .map_err(|error| {
        ApiError::internal(format!(
            "the write failed on the server ({error}); nothing was changed"
        ))
    })??;
    Ok(if created {
        StatusCode::CREATED.into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

/// Stores `bytes` into `target` in one transaction; returns whether the graph was created.
fn store_body(
    state: &AppState,
    target: &Target,
    format: RdfFormat,
    bytes: Bytes,
    mode: Mode,
) -> Result<bool, ApiError> {
    let store = &state.store;
    let mut txn = store.transaction().map_err(ApiError::from_store)?;
    let named = match target {
        Target::Named(name) => Some(NamedOrBlankNode::from(name.clone())),
        _ => None,
    };
    let existed = match &named {
        Some(name) => txn.graph_exists(name).map_err(ApiError::from_store)?,
        None => true,
    };
    if mode == Mode::Replace {
        txn.clear(&target.pattern()).map_err(ApiError::from_store)?;
    }
    let destination = match target {
        Target::Named(name) => GraphName::from(name.clone()),
        _ => GraphName::DefaultGraph,
    };
    let base = match target {
        Target::Named(name) => Some(name.as_str()),
        _ => None,
    };
    let mut batch: Vec<Quad> = Vec::with_capacity(INSERT_BATCH);
    parse_document(
        std::io::Cursor::new(bytes),
        format,
        base,
        "the request body",
        store.term_limits(),
        |mut quad| {
            if !quad.graph_name.is_default_graph() && !matches!(target, Target::Dataset) {
                return Err(LoadError::Syntax {
                    location: "the request body".to_owned(),
                    message: format!(
                        "it holds a quad in graph {}, but {} holds triples only (send the dataset to /store without `graph` or `default`)",
                        quad.graph_name,
                        target.describe()
                    ),
                });
            }
            if quad.graph_name.is_default_graph() {
                quad.graph_name = destination.clone();
            }
            batch.push(quad);
            if batch.len() == INSERT_BATCH {
                txn.insert_all(&batch)?;
                batch.clear();
            }
            Ok(())
        },
    )
    .map_err(ApiError::from_load)?;
    txn.insert_all(&batch).map_err(ApiError::from_store)?;
    if let Some(name) = &named {
        // An empty body still makes the graph (a PUT of nothing, a POST of nothing).
        txn.create_graph(name).map_err(ApiError::from_store)?;
    }
    txn.commit().map_err(ApiError::from_store)?;
    Ok(!existed)
}

/// DELETE: removes a named graph (`404` if the store has none such) or empties the default
/// graph; the whole dataset is not deleted this way.
async fn delete(state: Arc<AppState>, target: Target) -> Result<Response, ApiError> {
    if state.options.read_only {
        return Err(ApiError::read_only());
    }
    if matches!(target, Target::Dataset) {
        return Err(ApiError {
            allow: Some("GET, HEAD, PUT, POST"),
            ..ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "DELETE /store needs `graph=IRI` or `default`; to empty everything send the update `CLEAR ALL` to /update",
            )
        });
    }
    let ticket = admit(&state, &state.writes, "write", None).await?;
    let worker_state = Arc::clone(&state);
    tokio::task::spawn_blocking(move || {
        let _running = ticket;
        let mut txn = worker_state
            .store
            .transaction()
            .map_err(ApiError::from_store)?;
        match &target {
            Target::Named(name) => {
                if txn
                    .drop_graph(&name.clone().into())
                    .map_err(ApiError::from_store)?
                    .is_none()
                {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        format!("the store has no graph {name}"),
                    ));
                }
            }
            _ => {
                txn.clear(&GraphPattern::Default)
                    .map_err(ApiError::from_store)?;
            }
        }
        txn.commit().map_err(ApiError::from_store)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
    .map_err(|error| {
        ApiError::internal(format!(
            "the delete failed on the server ({error}); nothing was changed"
        ))
    })?
}

//! The SPARQL 1.1 Service Description of an endpoint, answered to a GET without a query.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oxrdf::vocab::rdf;
use oxrdf::{BlankNode, Literal, NamedNode, Triple};
use oxrdfio::RdfSerializer;

use super::error::ApiError;
use super::negotiation;
use super::state::AppState;

const SD: &str = "http://www.w3.org/ns/sparql-service-description#";
const FORMATS: &str = "http://www.w3.org/ns/formats/";

fn sd(name: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{SD}{name}"))
}

/// The description of the endpoint at `path`, in the RDF format the client accepts.
pub(super) fn respond(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
    accept: Option<&str>,
) -> Response {
    let format = match negotiation::choose_or_refuse(accept, &*negotiation::GRAPH_FORMATS) {
        Ok(format) => format,
        Err(error) => return error.into_response(),
    };

    let endpoint = endpoint_iri(state, headers, path);
    let service = BlankNode::default();
    let dataset = BlankNode::default();
    let default_graph = BlankNode::default();
    let mut triples = vec![
        Triple::new(service.clone(), rdf::TYPE, sd("Service")),
        Triple::new(service.clone(), sd("endpoint"), endpoint),
    ];
    let languages: &[&str] = match (path, state.options.read_only) {
        ("/query", _) | (_, true) => &["SPARQL11Query"],
        ("/update", false) => &["SPARQL11Update"],
        _ => &["SPARQL11Query", "SPARQL11Update"],
    };
    for language in languages {
        triples.push(Triple::new(
            service.clone(),
            sd("supportedLanguage"),
            sd(language),
        ));
    }
    for name in [
        "SPARQL_Results_JSON",
        "SPARQL_Results_XML",
        "SPARQL_Results_CSV",
        "SPARQL_Results_TSV",
        "Turtle",
        "N-Triples",
        "RDF_XML",
        "N-Quads",
        "TriG",
        "JSON-LD",
    ] {
        triples.push(Triple::new(
            service.clone(),
            sd("resultFormat"),
            NamedNode::new_unchecked(format!("{FORMATS}{name}")),
        ));
    }
    if state.options.union_default_graph {
        triples.push(Triple::new(
            service.clone(),
            sd("feature"),
            sd("UnionDefaultGraph"),
        ));
    }
    triples.extend([
        Triple::new(service.clone(), sd("defaultDataset"), dataset.clone()),
        Triple::new(dataset.clone(), rdf::TYPE, sd("Dataset")),
        Triple::new(dataset, sd("defaultGraph"), default_graph.clone()),
        Triple::new(default_graph, rdf::TYPE, sd("Graph")),
        Triple::new(
            service,
            NamedNode::new_unchecked("http://www.w3.org/2000/01/rdf-schema#comment"),
            Literal::from(format!("kgdb {}", env!("CARGO_PKG_VERSION"))),
        ),
    ]);
    let mut serializer = RdfSerializer::from_format(format)
        .with_prefix("sd", SD)
        .unwrap_or_else(|_| RdfSerializer::from_format(format))
        .for_writer(Vec::new());
    for triple in &triples {
        if let Err(error) = serializer.serialize_triple(triple) {
            return ApiError::internal(format!("writing the service description: {error}"))
                .into_response();
        }
    }
    match serializer.finish() {
        Ok(body) => {
            let mut response = (StatusCode::OK, body).into_response();
            if let Ok(value) = HeaderValue::from_str(&negotiation::rdf_media_type(format)) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        Err(error) => {
            ApiError::internal(format!("writing the service description: {error}")).into_response()
        }
    }
}

/// The endpoint's IRI from the request's `Host` (the bound address when it is missing or not
/// usable in an IRI).
fn endpoint_iri(state: &AppState, headers: &HeaderMap, path: &str) -> NamedNode {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            host.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    let iri = match host {
        Some(host) => format!("http://{host}{path}"),
        None => format!("http://{}{path}", state.options.bind),
    };
    NamedNode::new(iri).unwrap_or_else(|_| {
        NamedNode::new_unchecked(format!("http://{}{path}", state.options.bind))
    })
}

//! Parsing and evaluating SPARQL queries over a snapshot.

use std::sync::mpsc;
use std::time::Duration;

use oxrdf::{GraphName, NamedNode, NamedOrBlankNode};
use spareval::{
    CancellationToken, QueryDatasetSpecification, QueryEvaluator, QueryExplanation, QueryResults,
};
use spargebra::{Query, SparqlParser};

use super::dataset::StoreDataset;
use super::error::SparqlError;
use crate::store::Snapshot;

/// How a query is parsed and evaluated.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct QueryOptions {
    /// The IRI relative IRIs of the query resolve against.
    pub base_iri: Option<String>,
    /// Cancel the evaluation after this long.
    pub timeout: Option<Duration>,
    /// The default graph is the union of the named graphs (as in Oxigraph and Jena's TDB)
    /// instead of the store's default graph.
    pub union_default_graph: bool,
    /// Keep the plan with per-operator statistics ([`Evaluation::explanation`]).
    pub explain: bool,
    /// The dataset given beside the query (the protocol's `default-graph-uri` and
    /// `named-graph-uri`): it replaces the query's `FROM` and `FROM NAMED`.
    pub dataset: Option<RequestDataset>,
    /// Stops the evaluation once cancelled, whoever cancels it (a server shutting down, a
    /// client gone); the error is [`SparqlError::Timeout`] with [`QueryOptions::timeout`].
    pub cancellation: Option<CancellationToken>,
}

/// A dataset given beside a query or update rather than in it, as the SPARQL 1.1 Protocol's
/// `default-graph-uri` / `named-graph-uri` (queries) and `using-graph-uri` /
/// `using-named-graph-uri` (updates) give it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestDataset {
    /// The graphs whose merge is the default graph (none: an empty default graph).
    pub default_graphs: Vec<NamedNode>,
    /// The named graphs available to `GRAPH` (none: no named graph).
    pub named_graphs: Vec<NamedNode>,
}

impl RequestDataset {
    /// Sets `specification` to this dataset.
    pub(super) fn apply(&self, specification: &mut QueryDatasetSpecification) {
        specification.set_default_graph(
            self.default_graphs
                .iter()
                .cloned()
                .map(GraphName::from)
                .collect(),
        );
        specification.set_available_named_graphs(
            self.named_graphs
                .iter()
                .cloned()
                .map(NamedOrBlankNode::from)
                .collect(),
        );
    }
}

impl std::fmt::Debug for QueryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryOptions")
            .field("base_iri", &self.base_iri)
            .field("timeout", &self.timeout)
            .field("union_default_graph", &self.union_default_graph)
            .field("explain", &self.explain)
            .field("dataset", &self.dataset)
            .field("cancellable", &self.cancellation.is_some())
            .finish()
    }
}

impl QueryOptions {
    /// Sets the base IRI.
    #[must_use]
    pub fn with_base_iri(mut self, iri: impl Into<String>) -> Self {
        self.base_iri = Some(iri.into());
        self
    }

    /// Sets the time limit.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Makes the default graph the union of the named graphs.
    #[must_use]
    pub fn with_union_default_graph(mut self) -> Self {
        self.union_default_graph = true;
        self
    }

    /// Keeps the plan and its statistics.
    #[must_use]
    pub fn with_explanation(mut self) -> Self {
        self.explain = true;
        self
    }
}

/// Parses a SPARQL 1.1 query (SPARQL 1.2 triple terms included); `source_name` names the text
/// in errors (a file name, `the query argument`).
///
/// # Errors
/// [`SparqlError::Syntax`] with line and column; [`SparqlError::BaseIri`].
pub fn parse_query(
    text: &str,
    source_name: &str,
    base_iri: Option<&str>,
) -> Result<Query, SparqlError> {
    super::nesting::check(text, source_name)?;
    parser(base_iri)?
        .parse_query(text)
        .map_err(|error| SparqlError::syntax(source_name, &error))
}

/// A parser resolving relative IRIs against `base_iri`.
pub(super) fn parser(base_iri: Option<&str>) -> Result<SparqlParser, SparqlError> {
    let parser = SparqlParser::new();
    match base_iri {
        None => Ok(parser),
        Some(iri) => parser
            .with_base_iri(iri)
            .map_err(|error| SparqlError::BaseIri {
                iri: iri.to_owned(),
                message: error.to_string(),
            }),
    }
}

/// A query being evaluated: its results stream from the snapshot as they are read.
pub struct Evaluation<'a> {
    results: QueryResults<'a>,
    context: EvaluationContext,
}

impl std::fmt::Debug for Evaluation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluation")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl<'a> Evaluation<'a> {
    /// The results, and what stays with them while they are read (the time limit, the plan).
    #[must_use]
    pub fn into_parts(self) -> (QueryResults<'a>, EvaluationContext) {
        (self.results, self.context)
    }
}

/// What goes with results being read: keep it until they are, or the time limit ends early.
pub struct EvaluationContext {
    explanation: Option<QueryExplanation>,
    timeout: Option<Duration>,
    _deadline: Option<Deadline>,
}

impl std::fmt::Debug for EvaluationContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluationContext")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl EvaluationContext {
    /// The plan with per-operator statistics, when asked for ([`QueryOptions::explain`]);
    /// complete once the results have been read.
    #[must_use]
    pub fn explanation(&self) -> Option<&QueryExplanation> {
        self.explanation.as_ref()
    }

    /// Maps an error met while reading the results: a cancellation is the timeout.
    #[must_use]
    pub fn error(&self, error: spareval::QueryEvaluationError) -> SparqlError {
        SparqlError::evaluation(error, self.timeout)
    }
}

/// Evaluates `query` on `snapshot`: the query's `FROM` / `FROM NAMED` select graphs of the
/// store; otherwise the default graph is the store's (or the union of the named graphs with
/// [`QueryOptions::union_default_graph`]) and every named graph is available.
///
/// # Errors
/// [`SparqlError::Evaluation`] for what the evaluator refuses up front; store failures.
pub fn evaluate<'a>(
    snapshot: &'a Snapshot<'a>,
    query: &Query,
    options: &QueryOptions,
) -> Result<Evaluation<'a>, SparqlError> {
    let mut evaluator = QueryEvaluator::new();
    if options.explain {
        evaluator = evaluator.compute_statistics();
    }
    let token = (options.timeout.is_some() || options.cancellation.is_some()).then(|| {
        let token = options.cancellation.clone().unwrap_or_default();
        evaluator = evaluator.clone().with_cancellation_token(token.clone());
        token
    });
    let deadline = options
        .timeout
        .zip(token)
        .map(|(timeout, token)| Deadline::start(token, timeout));
    let mut prepared = evaluator.prepare(query);
    if let Some(dataset) = &options.dataset {
        dataset.apply(prepared.dataset_mut());
    } else if options.union_default_graph && query.dataset().is_none() {
        prepared.dataset_mut().set_default_graph_as_union();
    }
    let dataset = StoreDataset::new(snapshot.id_view());
    let (results, explanation) = if options.explain {
        let (results, explanation) = prepared.explain(dataset);
        (results, Some(explanation))
    } else {
        (prepared.execute(dataset), None)
    };
    let results = results.map_err(|error| SparqlError::evaluation(error, options.timeout))?;
    Ok(Evaluation {
        results,
        context: EvaluationContext {
            explanation,
            timeout: options.timeout,
            _deadline: deadline,
        },
    })
}

/// Cancels an evaluation when its time is up, unless dropped first.
struct Deadline {
    _stop: mpsc::Sender<()>,
}

impl Deadline {
    fn start(token: CancellationToken, timeout: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(timeout) {
                token.cancel();
            }
        });
        Self { _stop: stop }
    }
}

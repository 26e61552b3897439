//! What can go wrong with a SPARQL request.

use crate::store::StoreError;

/// A failed SPARQL query or update.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SparqlError {
    /// The text is not SPARQL: `location` names where the text came from (a file name,
    /// `query`, `standard input`) and the line and column, as `file:line:column`.
    #[error("{location}: {message}")]
    Syntax {
        /// `source:line:column`, or the source alone when the parser gives no position.
        location: String,
        /// The parser's message.
        message: String,
    },
    /// The base IRI is not an absolute IRI.
    #[error("invalid base IRI `{iri}`: {message}")]
    BaseIri {
        /// The IRI given.
        iri: String,
        /// Why it is not one.
        message: String,
    },
    /// The evaluation ran past its time limit and was cancelled.
    #[error("the query ran longer than its time limit ({0:?}) and was cancelled")]
    Timeout(std::time::Duration),
    /// An update operation failed (a graph that does not exist, a file `LOAD` cannot read); the
    /// request changed nothing.
    #[error("{0}; nothing was changed")]
    Update(String),
    /// The evaluation failed (an unsupported feature such as `SERVICE`, a bad argument).
    #[error("evaluating the query: {0}")]
    Evaluation(String),
    /// Writing the results failed (a full device, a closed pipe: see
    /// [`std::io::ErrorKind::BrokenPipe`]).
    #[error("writing the results: {0}")]
    Output(#[source] std::io::Error),
    /// The store failed underneath.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SparqlError {
    /// Turns the parser's error into one naming `source_name` and the position: peg's
    /// `error at 3:14: expected …` becomes `NAME:3:14: expected …`.
    pub(super) fn syntax(source_name: &str, error: &spargebra::SparqlSyntaxError) -> Self {
        let text = error.to_string();
        match text
            .strip_prefix("error at ")
            .and_then(|rest| rest.split_once(": "))
        {
            Some((position, message)) => Self::Syntax {
                location: format!("{source_name}:{position}"),
                message: message.to_owned(),
            },
            None => Self::Syntax {
                location: source_name.to_owned(),
                message: text,
            },
        }
    }

    /// Maps an evaluation error: the store's own errors stay typed.
    pub(super) fn evaluation(
        error: spareval::QueryEvaluationError,
        timeout: Option<std::time::Duration>,
    ) -> Self {
        match error {
            spareval::QueryEvaluationError::Cancelled => Self::Timeout(timeout.unwrap_or_default()),
            spareval::QueryEvaluationError::Dataset(inner) => {
                match inner.downcast::<StoreError>() {
                    Ok(store) => Self::Store(*store),
                    Err(other) => Self::Evaluation(other.to_string()),
                }
            }
            other => Self::Evaluation(other.to_string()),
        }
    }
}

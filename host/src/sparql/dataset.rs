//! The store as a `spareval` dataset, at the level of term ids: a query reads one snapshot
//! from start to end, compares ids in joins, `DISTINCT` and `sameTerm`, and reads a term's
//! text only when a result is written or an expression needs its value.

use std::cell::RefCell;
use std::sync::Arc;

use oxrdf::Term;
use spareval::{InternalQuad, QueryableDataset};

use crate::store::encoding::TermId;
use crate::store::index::{GraphIds, IdPattern};
use crate::store::{IdView, StoreError, TermReader};

/// A term as the evaluator sees it: every term has exactly one form, so equality is term
/// equality.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DatasetTerm {
    /// A term of the store's dictionary, by id.
    Stored(TermId),
    /// A term the dictionary does not hold (a constant of the query, a computed value): no
    /// quad of the snapshot contains it.
    Unstored(Arc<Term>),
}

/// A view of the store (a snapshot's, or a write transaction's) as a `spareval` dataset.
pub struct StoreDataset<'a> {
    view: IdView<'a>,
    terms: RefCell<TermReader<'a>>,
}

impl std::fmt::Debug for StoreDataset<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreDataset")
    }
}

impl<'a> StoreDataset<'a> {
    /// The dataset of `view`: its default graph and its named graphs.
    #[must_use]
    pub fn new(view: IdView<'a>) -> Self {
        Self {
            view,
            terms: RefCell::new(view.term_reader()),
        }
    }
}

/// The id a bound pattern term stands for: `Err(())` for a term no quad can hold.
fn bound_id(term: Option<&DatasetTerm>) -> Result<Option<TermId>, ()> {
    match term {
        None => Ok(None),
        Some(DatasetTerm::Stored(id)) => Ok(Some(*id)),
        Some(DatasetTerm::Unstored(_)) => Err(()),
    }
}

fn internal_quad(quad: crate::store::index::EncodedQuad) -> InternalQuad<DatasetTerm> {
    InternalQuad {
        subject: DatasetTerm::Stored(quad.subject),
        predicate: DatasetTerm::Stored(quad.predicate),
        object: DatasetTerm::Stored(quad.object),
        graph_name: quad.graph.map(DatasetTerm::Stored),
    }
}

impl<'a> QueryableDataset<'a> for StoreDataset<'a> {
    type InternalTerm = DatasetTerm;
    type Error = StoreError;

    fn internal_quads_for_pattern(
        &self,
        subject: Option<&DatasetTerm>,
        predicate: Option<&DatasetTerm>,
        object: Option<&DatasetTerm>,
        graph_name: Option<Option<&DatasetTerm>>,
    ) -> impl Iterator<Item = Result<InternalQuad<DatasetTerm>, StoreError>> + use<'a> {
        let pattern = (|| {
            let graph = match graph_name {
                None => GraphIds::AnyNamed,
                Some(None) => GraphIds::Default,
                Some(Some(graph)) => GraphIds::Named(bound_id(Some(graph))?.ok_or(())?),
            };
            Ok::<_, ()>(IdPattern {
                subject: bound_id(subject)?,
                predicate: bound_id(predicate)?,
                object: bound_id(object)?,
                graph,
            })
        })();
        pattern
            .ok()
            .map(|pattern| self.view.encoded_quads(&pattern))
            .into_iter()
            .flatten()
            .map(|quad| quad.map(internal_quad))
    }

    fn internal_named_graphs(
        &self,
    ) -> impl Iterator<Item = Result<DatasetTerm, StoreError>> + use<'a> {
        let graphs: Vec<Result<DatasetTerm, StoreError>> = match self.view.named_graph_ids() {
            Ok(ids) => ids
                .into_iter()
                .map(|id| Ok(DatasetTerm::Stored(id)))
                .collect(),
            Err(error) => vec![Err(error)],
        };
        graphs.into_iter()
    }

    fn internalize_term(&self, term: Term) -> Result<DatasetTerm, StoreError> {
        Ok(match self.view.term_id(&term)? {
            Some(id) => DatasetTerm::Stored(id),
            None => DatasetTerm::Unstored(Arc::new(term)),
        })
    }

    fn externalize_term(&self, term: DatasetTerm) -> Result<Term, StoreError> {
        match term {
            DatasetTerm::Stored(id) => self.terms.borrow_mut().term(id),
            DatasetTerm::Unstored(term) => Ok(Arc::unwrap_or_clone(term)),
        }
    }
}

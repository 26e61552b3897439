//! Blank nodes of an input made its own: the same label in two loads is two nodes.

use oxrdf::{BlankNode, GraphName, NamedOrBlankNode, Quad, Term, Triple};

use crate::store::encoding::TermHasher;

/// Gives each input its own blank nodes without a table: a label maps to its keyed hash
/// under a random key drawn for the input.
pub(super) struct BlankNodeRenamer {
    hasher: TermHasher,
}

impl BlankNodeRenamer {
    pub(super) fn new() -> Self {
        Self {
            hasher: TermHasher::new(TermHasher::random_key()),
        }
    }

    /// `b` and 32 hex digits: a valid label in every syntax, RDF/XML's `rdf:nodeID` (an XML
    /// name, which cannot start with a digit) included.
    fn node(&self, node: &BlankNode) -> BlankNode {
        let id = u128::from_be_bytes(self.hasher.hash(node.as_str().as_bytes()));
        BlankNode::new_unchecked(format!("b{id:032x}"))
    }

    fn subject(&self, subject: NamedOrBlankNode) -> NamedOrBlankNode {
        match subject {
            NamedOrBlankNode::BlankNode(node) => self.node(&node).into(),
            other => other,
        }
    }

    fn term(&self, term: Term) -> Term {
        match term {
            Term::BlankNode(node) => self.node(&node).into(),
            Term::Triple(triple) => {
                let Triple {
                    subject,
                    predicate,
                    object,
                } = *triple;
                Term::Triple(Box::new(Triple::new(
                    self.subject(subject),
                    predicate,
                    self.term(object),
                )))
            }
            other => other,
        }
    }

    pub(super) fn quad(&self, quad: Quad) -> Quad {
        Quad::new(
            self.subject(quad.subject),
            quad.predicate,
            self.term(quad.object),
            match quad.graph_name {
                GraphName::BlankNode(node) => self.node(&node).into(),
                other => other,
            },
        )
    }
}

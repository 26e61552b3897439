//! Dumping a store (or one graph of it) in any RDF format, streaming.

use std::io::Write;

use oxrdf::GraphName;
use oxrdfio::{RdfFormat, RdfSerializer};

use crate::store::{GraphPattern, QuadPattern, Store, StoreError};

/// What to dump.
#[derive(Debug, Clone)]
pub struct DumpRequest {
    /// The output syntax.
    pub format: RdfFormat,
    /// The graphs to write.
    pub graph: GraphPattern,
}

/// Why a dump failed.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// A triple format was asked for a dataset with named graphs.
    #[error("{format} holds one graph, but the store has {named} named graph(s); pass --graph default|IRI, or dump as N-Quads or TriG")]
    NeedsGraph {
        /// The format's name.
        format: String,
        /// Named graphs in the store.
        named: usize,
    },
    /// Writing failed.
    #[error("write error: {0}")]
    Write(#[from] std::io::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes the requested graphs to `out`; returns the number of quads written.
///
/// # Errors
/// [`DumpError`].
pub fn dump(store: &Store, request: &DumpRequest, out: impl Write) -> Result<u64, DumpError> {
    let snapshot = store.snapshot()?;
    let mut graph = request.graph.clone();
    if !request.format.supports_datasets() && graph == GraphPattern::Any {
        let named = snapshot.named_graphs()?.len();
        if named > 0 {
            return Err(DumpError::NeedsGraph {
                format: request.format.name().to_owned(),
                named,
            });
        }
        graph = GraphPattern::Default;
    }
    let mut serializer = RdfSerializer::from_format(request.format).for_writer(out);
    let pattern = QuadPattern {
        graph: graph.clone(),
        ..QuadPattern::default()
    };
    let mut written = 0;
    for quad in snapshot.quads_for_pattern(&pattern)? {
        let mut quad = quad?;
        if !request.format.supports_datasets() {
            quad.graph_name = GraphName::DefaultGraph;
        }
        serializer.serialize_quad(&quad)?;
        written += 1;
    }
    serializer.finish()?.flush()?;
    Ok(written)
}

//! SPARQL 1.1 over the QuadStore, on any plugin: queries are evaluated by `spareval` (the
//! evaluator Oxigraph is built on) over a [`Snapshot`](crate::store::Snapshot) at the level of
//! term ids ([`StoreDataset`]); results are written in the W3C formats by `sparesults`;
//! updates run in one store transaction per request ([`execute_update`]).
//!
//! ```no_run
//! use kgdb_host::plugin::{OpenSettings, PluginLoader};
//! use kgdb_host::sparql::{self, QueryOptions, QueryResults};
//! use kgdb_host::store::Store;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let loader = PluginLoader::new();
//! let plugin = loader.load("target/debug/libkgdb_plugin_memory.so".as_ref(), None, "example")?;
//! let store = Store::open(plugin.open(&OpenSettings {
//!     data_dir: None,
//!     config: String::new(),
//!     read_only: false,
//!     create: true,
//! })?)?;
//! store.update(1, |txn| {
//!     let name = oxrdf::NamedNode::new_unchecked("http://example.com/name");
//!     let alice = oxrdf::NamedNode::new_unchecked("http://example.com/alice");
//!     txn.insert(&oxrdf::Quad::new(alice, name, oxrdf::Literal::from("Alice"), oxrdf::GraphName::DefaultGraph))?;
//!     Ok(())
//! })?;
//! let query = sparql::parse_query(
//!     "SELECT ?name WHERE { ?person <http://example.com/name> ?name }",
//!     "the example",
//!     None,
//! )?;
//! let snapshot = store.snapshot()?;
//! let (results, context) = sparql::evaluate(&snapshot, &query, &QueryOptions::default())?.into_parts();
//! if let QueryResults::Solutions(solutions) = results {
//!     for solution in solutions {
//!         let solution = solution.map_err(|error| context.error(error))?;
//!         println!("{}", solution.get("name").map_or(String::new(), ToString::to_string));
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod dataset;
mod error;
mod nesting;
mod query;
pub mod results;
mod update;

pub use dataset::{DatasetTerm, StoreDataset};
pub use error::SparqlError;
pub use nesting::{with_sparql_stack, MAX_BACKTRACKING_CALLS, MAX_NESTING, SPARQL_STACK_BYTES};
pub use query::{
    evaluate, parse_query, Evaluation, EvaluationContext, QueryOptions, RequestDataset,
};
pub use spareval::CancellationToken;
pub use spareval::{QueryResults, QuerySolution};
pub use spargebra::{Query, Update};
pub use update::{
    execute_update, execute_update_in, execute_update_with, parse_update, UpdateOptions,
    UpdateSummary,
};

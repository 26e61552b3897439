//! # kgdb-host
//!
//! The host of kgdb, an RDF knowledge-graph store whose storage backends are dynamically
//! loaded plugins (`cdylib` files implementing `kgdb-plugin-api`).
//!
//! - [`plugin`]: `plugins.toml`, resolving and loading plugin libraries with every check made
//!   at load time (format, ABI version and layout, sha256 pin, config), and the ABI adapter
//!   that turns the boundary's types into plain Rust ([`plugin::Backend`],
//!   [`plugin::BackendTxn`], [`plugin::Cursor`]).
//! - [`store`]: the QuadStore (term dictionary, nine index orderings, exact counts),
//!   its transactions and bulk loads, on any plugin.
//! - [`rdf`]: loading and dumping RDF files (N-Triples, N-Quads, Turtle, TriG, RDF/XML…).
//! - [`sparql`]: SPARQL 1.1 queries over a snapshot, evaluated at the level of term ids, and
//!   their results in the W3C formats.
//! - [`server`]: `kgdb-host serve`, the SPARQL 1.1 Protocol and Graph Store endpoint over HTTP.
//! - [`cli`]: the `kgdb-host` command line.
//! - [`units`] and [`disk`]: numbers for people and sizes on disk, shared by the command line
//!   and the benchmarks.

#![warn(missing_docs)]

pub mod cli;
pub mod disk;
pub use kgdb_loader as plugin;
pub mod rdf;
pub mod server;
pub mod sparql;
pub mod store;
pub mod units;

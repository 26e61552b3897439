//! kgdb's benchmark tools. [`synth`] generates seeded synthetic RDF data sets of any size, shaped
//! like LUBM and BSBM (organisations, people, publications, literals of varied lengths, one
//! named graph per organisation), so load and look-up costs can be measured at 1M and 10M quads.
//! [`store`] is the store benchmark (loads, disk, peak RSS, scans, the 16 look-up shapes of a
//! [`workload`]), [`sparql`] times queries, [`serve_load`] drives a SPARQL endpoint with
//! concurrent clients, [`engine`] reads what an engine reached over a network counts (round
//! trips), and [`report`] renders results next to Oxigraph's as markdown.

pub mod engine;
pub mod report;
pub mod serve_load;
pub mod sparql;
pub mod store;
pub mod synth;
pub mod workload;

//! `kgdb-host serve` end to end: the server is started as a process on an ephemeral loopback
//! port and driven by a real HTTP client (ureq), and by Python's rdflib.

mod backup;
mod graph_store;
mod lifecycle;
mod limits;
mod protocol;
mod rdflib;
mod support;

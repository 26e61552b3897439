//! kgdb's benchmark tools. [`synth`] generates seeded synthetic RDF data sets of any size, shaped
//! like LUBM and BSBM (organisations, people, publications, literals of varied lengths, one
//! named graph per organisation), so load and look-up costs can be measured at 1M and 10M quads.

pub mod synth;

//! RDF in and out of a [`Store`](crate::store::Store): formats, loading (atomic, streaming,
//! with progress) and dumping (streaming), all through `oxrdfio`.

mod blank_nodes;
mod dump;
mod format;
mod input;
mod lines;
mod load;
mod load_record;
mod xml_entities;

pub use dump::{dump, DumpError, DumpRequest};
pub use format::{format_by_name, format_for_path, FormatError, InputFormat};
pub use load::{load, LoadError, LoadReport, LoadRequest, Skipped, Source};
pub use load_record::{last_load, LastLoad, LAST_LOAD_NOTE};
pub use xml_entities::{EntityGuard, EntityLimit, MAX_ENTITY_BYTES, MAX_TEXT_BYTES};

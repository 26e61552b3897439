//! RDF in and out of a [`Store`](crate::store::Store): formats, loading (atomic, streaming,
//! with progress) and dumping (streaming), all through `oxrdfio`.

mod blank_nodes;
mod document;
mod dump;
mod format;
mod input;
mod lines;
mod load;
mod load_record;
mod pipeline;
mod progress;
mod target;
mod xml_entities;

pub use document::parse_document;
pub use dump::{dump, DumpError, DumpRequest};
pub use format::{format_by_name, format_for_path, FormatError, InputFormat};
pub use load::{load, LoadError, LoadReport, LoadRequest, Skipped, Source};
pub use load_record::{last_load, LastLoad, LAST_LOAD_NOTE};
pub use target::SORTED_LOAD_MIN_BYTES;
pub use xml_entities::{EntityGuard, EntityLimit, MAX_ENTITY_BYTES, MAX_TEXT_BYTES};

/// Opens an RDF file for parsing as every load does: buffered, decompressed when `.gz`, its
/// RDF/XML entities bounded.
///
/// # Errors
/// [`LoadError::Open`] when the file cannot be opened.
pub fn open_file(
    path: &std::path::Path,
    format: InputFormat,
) -> Result<Box<dyn std::io::Read + Send>, LoadError> {
    let source = Source::File(path.to_owned(), format);
    Ok(input::open(&source, &indicatif::ProgressBar::hidden())?.reader)
}

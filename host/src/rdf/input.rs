//! Opening an input: the file or standard input, buffered, counted for the progress bar,
//! decompressed, guarded (RDF/XML entities), and its lines counted for messages about
//! statements the parser gives no position for.

use std::fs::File;
use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indicatif::ProgressBar;
use oxrdfio::RdfFormat;

use super::load::{LoadError, Source};
use super::xml_entities::EntityGuard;

/// An opened input.
pub(super) struct Input {
    /// The bytes to parse.
    pub reader: Box<dyn Read + Send>,
    /// Line ends the parser has been handed so far.
    pub lines: LineCount,
}

/// Line ends read so far, shared between the reader and whoever reports an error.
#[derive(Debug, Clone, Default)]
pub(super) struct LineCount(Arc<AtomicU64>);

impl LineCount {
    /// The line the reader has reached (1-based): a statement the parser just returned lies
    /// on it or before it, since parsers read ahead.
    pub fn reached(&self) -> u64 {
        self.0.load(Ordering::Relaxed) + 1
    }
}

/// Counts the line ends passing through.
struct CountLines<R> {
    inner: R,
    lines: LineCount,
}

impl<R: Read> Read for CountLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        let ends = buf[..read].iter().filter(|byte| **byte == b'\n').count();
        self.lines.0.fetch_add(ends as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// Opens `source` for parsing.
///
/// # Errors
/// [`LoadError::Open`] when the file cannot be opened.
pub(super) fn open(source: &Source, progress: &ProgressBar) -> Result<Input, LoadError> {
    let raw: Box<dyn Read + Send> = match source {
        Source::Stdin(_) => Box::new(std::io::stdin()),
        Source::File(path, _) => {
            Box::new(File::open(path).map_err(|source_error| LoadError::Open {
                file: path.display().to_string(),
                source: source_error,
            })?)
        }
    };
    let format = source.format();
    let counted = progress.wrap_read(BufReader::with_capacity(1 << 16, raw));
    let decoded: Box<dyn Read + Send> = if format.gzip {
        Box::new(flate2::read::MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    let lines = LineCount::default();
    let counted_lines = CountLines {
        inner: decoded,
        lines: lines.clone(),
    };
    // RDF/XML documents may declare entities, which its parser expands unbounded.
    let reader: Box<dyn Read + Send> = if format.format == RdfFormat::RdfXml {
        Box::new(EntityGuard::new(counted_lines))
    } else {
        Box::new(counted_lines)
    };
    Ok(Input { reader, lines })
}

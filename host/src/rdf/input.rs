//! Opening an input: the file or standard input, buffered, counted for the progress bar,
//! decompressed, guarded (RDF/XML entities), and its lines counted for messages about
//! statements the parser gives no position for.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::sync::{Arc, Mutex};

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

/// How many bytes before the reader's position the line index keeps line ends for: a parser
/// that reports a byte offset (RDF/XML's) lags that little behind its reader.
const LINE_WINDOW_BYTES: u64 = 1 << 20;

/// Line ends read so far, shared between the reader and whoever reports an error.
#[derive(Debug, Clone, Default)]
pub(super) struct LineCount(Arc<Mutex<LineIndex>>);

/// The line ends of an input: counted since the start, with the offsets of the recent ones
/// when positions are wanted.
#[derive(Debug, Default)]
struct LineIndex {
    /// Whether offsets are kept ([`LineCount::with_positions`]).
    positions: bool,
    /// Bytes read.
    bytes: u64,
    /// Line ends before the window.
    ends_before: u64,
    /// Offsets of the line ends in the last [`LINE_WINDOW_BYTES`] read.
    recent_ends: VecDeque<u64>,
}

impl LineCount {
    /// A count that also keeps the offsets of recent line ends, for a parser that reports byte
    /// offsets ([`LineCount::position`]); the others only count.
    pub fn with_positions() -> Self {
        Self(Arc::new(Mutex::new(LineIndex {
            positions: true,
            ..LineIndex::default()
        })))
    }

    fn index(&self) -> std::sync::MutexGuard<'_, LineIndex> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The line the reader has reached (1-based): a statement the parser just returned lies
    /// on it or before it, since parsers read ahead.
    pub fn reached(&self) -> u64 {
        let index = self.index();
        index.ends_before + index.recent_ends.len() as u64 + 1
    }

    /// The 1-based line and column (in bytes) of byte `offset`, when it lies in the recent
    /// window the index keeps (never without [`LineCount::with_positions`]).
    pub fn position(&self, offset: u64) -> Option<(u64, u64)> {
        let index = self.index();
        if !index.positions || offset > index.bytes {
            return None;
        }
        let before = index.recent_ends.partition_point(|end| *end < offset);
        let line_start = match before {
            0 if index.ends_before == 0 => 0,
            // The line began before the window: its start is no longer known.
            0 => return None,
            _ => index.recent_ends[before - 1] + 1,
        };
        Some((
            index.ends_before + before as u64 + 1,
            offset - line_start + 1,
        ))
    }

    fn record(&self, read: &[u8]) {
        let mut index = self.index();
        if !index.positions {
            index.bytes += read.len() as u64;
            index.ends_before += read.iter().filter(|byte| **byte == b'\n').count() as u64;
            return;
        }
        let start = index.bytes;
        for (at, _) in read.iter().enumerate().filter(|(_, byte)| **byte == b'\n') {
            index.recent_ends.push_back(start + at as u64);
        }
        index.bytes += read.len() as u64;
        let window_start = index.bytes.saturating_sub(LINE_WINDOW_BYTES);
        while index
            .recent_ends
            .front()
            .is_some_and(|end| *end < window_start)
        {
            index.recent_ends.pop_front();
            index.ends_before += 1;
        }
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
        self.lines.record(&buf[..read]);
        Ok(read)
    }
}

/// Opens `source` for parsing.
///
/// # Errors
/// [`LoadError::Open`] when the file cannot be opened.
pub(super) fn open(source: &Source, progress: &ProgressBar) -> Result<Input, LoadError> {
    Ok(counted_input(
        open_decoded(source, progress)?,
        source.format().format,
    ))
}

/// Opens `source` for reading its plain text: buffered, counted for the progress bar and
/// decompressed, its lines not counted.
///
/// # Errors
/// [`LoadError::Open`] when the file cannot be opened.
pub(super) fn open_decoded(
    source: &Source,
    progress: &ProgressBar,
) -> Result<Box<dyn Read + Send>, LoadError> {
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
    Ok(if format.gzip {
        Box::new(flate2::read::MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    })
}

/// `decoded`, the plain text of a document in `format`, with its lines counted (and, for
/// RDF/XML, its entities bounded).
pub(super) fn counted_input(decoded: Box<dyn Read + Send>, format: RdfFormat) -> Input {
    // RDF/XML's parser reports byte offsets, which need the recent line ends to place.
    let lines = if format == RdfFormat::RdfXml {
        LineCount::with_positions()
    } else {
        LineCount::default()
    };
    let counted_lines = CountLines {
        inner: decoded,
        lines: lines.clone(),
    };
    // RDF/XML documents may declare entities, which its parser expands unbounded.
    let reader: Box<dyn Read + Send> = if format == RdfFormat::RdfXml {
        Box::new(EntityGuard::new(counted_lines))
    } else {
        Box::new(counted_lines)
    };
    Input { reader, lines }
}

#[cfg(test)]
mod tests {
    use super::{LineCount, LINE_WINDOW_BYTES};

    #[test]
    fn a_byte_offset_becomes_a_line_and_column() {
        let lines = LineCount::with_positions();
        lines.record(b"ab\ncde\n");
        lines.record(b"fg");
        assert_eq!(lines.position(0), Some((1, 1)));
        assert_eq!(
            lines.position(2),
            Some((1, 3)),
            "the line end is on its line"
        );
        assert_eq!(lines.position(3), Some((2, 1)));
        assert_eq!(lines.position(8), Some((3, 2)));
        assert_eq!(lines.position(9), Some((3, 3)), "the end of the input");
        assert_eq!(lines.position(10), None, "past what was read");
        assert_eq!(lines.reached(), 3);
    }

    #[test]
    fn an_offset_on_a_line_begun_before_the_window_has_no_position() {
        let lines = LineCount::with_positions();
        lines.record(b"x\n");
        let long = vec![b'y'; usize::try_from(LINE_WINDOW_BYTES).unwrap() + 10];
        lines.record(&long);
        lines.record(b"\nz");
        assert_eq!(lines.reached(), 3);
        // The second line's start (offset 2) left the window: no column can be told.
        assert_eq!(lines.position(100), None);
        // The third line's start is in it.
        let third = 2 + long.len() as u64 + 1;
        assert_eq!(lines.position(third), Some((3, 1)));
    }

    #[test]
    fn a_plain_count_counts_lines_and_keeps_no_offsets() {
        let lines = LineCount::default();
        lines.record(
            b"ab
cde
",
        );
        lines.record(b"fg");
        assert_eq!(lines.reached(), 3);
        assert_eq!(lines.position(3), None);
    }
}

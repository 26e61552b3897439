//! A lenient load of a line-based format (N-Triples, N-Quads): blocks of lines are parsed at
//! once; a block with an error is parsed again line by line, so exactly the bad lines are
//! skipped (a parser's own recovery can lose its place after, say, an unterminated string).
//! A line is read up to [`MAX_LINE_BYTES`]: a longer one is skipped without being held.

use std::io::{BufRead, BufReader, Read};

use oxrdf::Quad;
use oxrdfio::{RdfFormat, RdfSyntaxError};

use super::load::{
    check_quad, describe, parser_for, LoadError, LoadReport, LoadRequest, Sink, Skipped,
    SkippedInARow,
};
use crate::store::TermLimits;

/// Lines per block.
const BLOCK_LINES: usize = 4096;

/// The longest line read: 16 MiB, the parsers' own limit on what they hold at once.
pub(super) const MAX_LINE_BYTES: usize = 16 << 20;

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// The end of the input.
    End,
    /// A line, appended.
    Read,
    /// A line over [`MAX_LINE_BYTES`], read to its end and dropped.
    TooLong,
}

/// Appends the next line (with its `\n`) to `out`, unless it holds more than `max` bytes
/// before its `\n`.
fn read_line(reader: &mut impl BufRead, out: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
    let start = out.len();
    let read = reader
        .by_ref()
        .take(max as u64 + 1)
        .read_until(b'\n', out)?;
    if read == 0 {
        return Ok(Line::End);
    }
    if read <= max || out.last() == Some(&b'\n') {
        return Ok(Line::Read);
    }
    out.truncate(start);
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        if let Some(end) = buffer.iter().position(|byte| *byte == b'\n') {
            reader.consume(end + 1);
            break;
        }
        let length = buffer.len();
        reader.consume(length);
    }
    Ok(Line::TooLong)
}

/// Loads `reader` line by line, skipping (and reporting) bad lines.
pub(super) fn load_lines(
    sink: &mut Sink<'_, '_>,
    reader: Box<dyn Read + Send>,
    request: &LoadRequest,
    format: RdfFormat,
    limits: TermLimits,
    report: &mut LoadReport,
) -> Result<(), LoadError> {
    let mut reader = BufReader::new(reader);
    let mut block = Vec::new();
    let mut first_line = 0u64;
    let mut in_a_row = SkippedInARow::default();
    let file = sink.file.clone();
    loop {
        block.clear();
        let mut lines = 0;
        let mut too_long = Vec::new();
        while lines < BLOCK_LINES {
            let line = read_line(&mut reader, &mut block, MAX_LINE_BYTES).map_err(|source| {
                LoadError::Read {
                    file: file.clone(),
                    source,
                }
            })?;
            match line {
                Line::End => break,
                Line::Read => {}
                Line::TooLong => {
                    // An empty line stands in for it, so that line numbers stay right.
                    too_long.push(first_line + lines as u64 + 1);
                    block.push(b'\n');
                }
            }
            lines += 1;
        }
        if lines == 0 {
            return Ok(());
        }
        for line in too_long {
            let skipped = Skipped {
                location: format!("{file}:{line}"),
                message: format!("a line longer than {MAX_LINE_BYTES} bytes"),
            };
            in_a_row.skip(request, report, skipped, &file)?;
        }
        let parsed: Result<Vec<Quad>, RdfSyntaxError> =
            parser_for(request, format)?.for_slice(&block).collect();
        match parsed
            .ok()
            .filter(|quads| quads.iter().all(|quad| check_quad(limits, quad).is_ok()))
        {
            Some(quads) => {
                if !quads.is_empty() {
                    in_a_row.reset();
                }
                for quad in quads {
                    sink.add(quad)?;
                }
            }
            None => {
                for (index, line) in block.split_inclusive(|byte| *byte == b'\n').enumerate() {
                    let line_number = first_line + index as u64;
                    let parsed: Result<Vec<Quad>, RdfSyntaxError> =
                        parser_for(request, format)?.for_slice(line).collect();
                    let quads = match parsed {
                        Ok(quads) => quads,
                        Err(error) => {
                            let skipped = describe(&file, line_number, &error);
                            in_a_row.skip(request, report, skipped, &file)?;
                            continue;
                        }
                    };
                    if let Some(error) = quads.iter().find_map(|q| check_quad(limits, q).err()) {
                        let skipped = Skipped {
                            location: format!("{file}:{}", line_number + 1),
                            message: error.to_string(),
                        };
                        in_a_row.skip(request, report, skipped, &file)?;
                        continue;
                    }
                    if !quads.is_empty() {
                        in_a_row.reset();
                    }
                    for quad in quads {
                        sink.add(quad)?;
                    }
                }
            }
        }
        first_line += lines as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_over_the_limit_is_dropped_and_the_next_one_read() {
        let text = b"short\n0123456789abc\nnext\nlast".to_vec();
        let mut reader = BufReader::with_capacity(4, &text[..]);
        let mut out = Vec::new();
        assert_eq!(read_line(&mut reader, &mut out, 8).unwrap(), Line::Read);
        assert_eq!(read_line(&mut reader, &mut out, 8).unwrap(), Line::TooLong);
        assert_eq!(read_line(&mut reader, &mut out, 8).unwrap(), Line::Read);
        assert_eq!(read_line(&mut reader, &mut out, 8).unwrap(), Line::Read);
        assert_eq!(read_line(&mut reader, &mut out, 8).unwrap(), Line::End);
        assert_eq!(out, b"short\nnext\nlast");
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read() {
        let mut reader = BufReader::new(&b"12345678\nabc"[..]);
        let mut out = Vec::new();
        assert_eq!(read_line(&mut reader, &mut out, 8).unwrap(), Line::Read);
        assert_eq!(read_line(&mut reader, &mut out, 8).unwrap(), Line::Read);
        assert_eq!(out, b"12345678\nabc");
    }
}

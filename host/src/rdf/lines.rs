//! The line-based formats (N-Triples, N-Quads), cut into blocks of whole lines that parse on
//! their own: no statement spans a line end, so a block parses exactly as it would in place.
//!
//! [`BlockReader`] cuts the input; [`BlockParser`] parses a block at once and, when it holds
//! an error (or a term over the store's limits), again line by line, so exactly the bad lines
//! are reported (a parser's own recovery can lose its place after, say, an unterminated
//! string). A line is read up to [`MAX_LINE_BYTES`]: a longer one is skipped without being
//! held.

use std::io::Read;
use std::sync::Arc;

use oxrdf::Quad;
use oxrdfio::{RdfParser, RdfSyntaxError};

use super::blank_nodes::BlankNodeRenamer;
use super::load::{check_quad, syntax_message};
use crate::store::{TermLimits, MAX_TERM_TEXT_BYTES};

/// The longest line read: room for a statement of four terms each at the longest a store
/// takes ([`MAX_TERM_TEXT_BYTES`], written as N-Triples), with its spaces and graph.
pub(super) const MAX_LINE_BYTES: usize = 4 * MAX_TERM_TEXT_BYTES + (64 << 10);

/// Bytes read at a time while a block fills.
const READ_BYTES: usize = 64 << 10;

/// Whole lines of an input.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Block {
    /// The lines, each ending with `\n` but perhaps the input's last.
    pub text: Vec<u8>,
    /// Lines of `text` (0-based) that stand, empty, for lines over [`MAX_LINE_BYTES`].
    pub too_long: Vec<u64>,
}

/// Cuts an input into [`Block`]s of about `block_bytes`, each ending at a line end.
pub(super) struct BlockReader<R> {
    reader: R,
    /// What was read after the last block's end: the start of a line.
    carry: Vec<u8>,
    at_end: bool,
    block_bytes: usize,
    max_line_bytes: usize,
}

impl<R: Read> BlockReader<R> {
    /// A reader of blocks of about `block_bytes` (more when a line is longer) with lines of up
    /// to `max_line_bytes`.
    pub fn new(reader: R, block_bytes: usize, max_line_bytes: usize) -> Self {
        Self {
            reader,
            carry: Vec::new(),
            at_end: false,
            block_bytes: block_bytes.max(1),
            max_line_bytes,
        }
    }

    /// The next block, or `None` at the end of the input.
    ///
    /// # Errors
    /// What reading the input returns.
    pub fn next_block(&mut self) -> std::io::Result<Option<Block>> {
        let mut block = Block {
            text: std::mem::take(&mut self.carry),
            too_long: Vec::new(),
        };
        // Where the line being read began: everything before it is whole lines (the carry
        // holds no line end).
        let mut line_start = 0;
        loop {
            if block.text.len() >= self.block_bytes && line_start > 0 {
                self.carry = block.text.split_off(line_start);
                return Ok(Some(block));
            }
            if self.at_end {
                return Ok((!block.text.is_empty()).then_some(block));
            }
            let read_from = block.text.len();
            if !self.fill(&mut block.text)? {
                continue;
            }
            if let Some(end) = last_line_end(&block.text[read_from..]) {
                line_start = read_from + end + 1;
            } else if block.text.len() - line_start > self.max_line_bytes {
                block.text.truncate(line_start);
                self.skip_line(&mut block)?;
                line_start = last_line_end(&block.text).map_or(0, |end| end + 1);
            }
        }
    }

    /// Reads up to [`READ_BYTES`] more into `text`: `false` at the end of the input.
    fn fill(&mut self, text: &mut Vec<u8>) -> std::io::Result<bool> {
        let start = text.len();
        text.resize(start + READ_BYTES, 0);
        loop {
            match self.reader.read(&mut text[start..]) {
                Ok(read) => {
                    text.truncate(start + read);
                    if read == 0 {
                        self.at_end = true;
                    }
                    return Ok(read > 0);
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    text.truncate(start);
                    return Err(error);
                }
            }
        }
    }

    /// Drops the rest of a line over the limit (up to and with its `\n`), leaving an empty
    /// line in its place, marked too long, followed by what was read after it.
    fn skip_line(&mut self, block: &mut Block) -> std::io::Result<()> {
        block.too_long.push(line_count(&block.text));
        let line_start = block.text.len();
        loop {
            if !self.fill(&mut block.text)? {
                block.text.truncate(line_start);
                block.text.push(b'\n');
                return Ok(());
            }
            if let Some(end) = block.text[line_start..].iter().position(|b| *b == b'\n') {
                block.text.drain(line_start..line_start + end);
                return Ok(());
            }
            block.text.truncate(line_start);
        }
    }
}

/// Where the last line end of `text` is.
fn last_line_end(text: &[u8]) -> Option<usize> {
    text.iter().rposition(|byte| *byte == b'\n')
}

/// The line ends in `text`.
pub(super) fn line_count(text: &[u8]) -> u64 {
    text.iter().filter(|byte| **byte == b'\n').count() as u64
}

/// What parsing a block found, in the block's order.
#[derive(Debug)]
pub(super) enum BlockItem {
    /// Good statements.
    Quads(Vec<Quad>),
    /// A bad statement.
    Bad {
        /// Its line in the block (0-based).
        line: u64,
        /// Its column (1-based), when the parser tells.
        column: Option<u64>,
        /// What is wrong.
        message: String,
    },
}

/// Parses blocks of one input with the load's parser, its blank nodes renamed for the input.
#[derive(Clone)]
pub(super) struct BlockParser {
    /// The parser of the format, with the load's default graph.
    pub parser: RdfParser,
    /// The store's limits on terms.
    pub limits: TermLimits,
    /// The input's blank node renamer, if labels are not kept.
    pub renamer: Option<Arc<BlankNodeRenamer>>,
    /// Whether bad statements are skipped (else parsing stops at the first).
    pub lenient: bool,
}

impl BlockParser {
    /// Parses `block`: its good statements and, in order with them, its bad ones (only the
    /// first when not lenient).
    pub fn parse(&self, block: &Block) -> Vec<BlockItem> {
        if block.too_long.is_empty() {
            let parsed: Result<Vec<Quad>, RdfSyntaxError> =
                self.parser.clone().for_slice(&block.text).collect();
            match parsed {
                Ok(quads) if quads.iter().all(|q| check_quad(self.limits, q).is_ok()) => {
                    return vec![BlockItem::Quads(self.renamed(quads))]
                }
                // Not lenient, the first error of the whole block is the one to report, as
                // the streaming parser would (it may name the line after a cut statement).
                Err(error) if !self.lenient => {
                    let mut items = Vec::new();
                    let mut quads = Vec::new();
                    for result in self.parser.clone().for_slice(&block.text) {
                        match result {
                            Ok(quad) => quads.push(quad),
                            Err(_) => break,
                        }
                    }
                    if quads.iter().all(|q| check_quad(self.limits, q).is_ok()) {
                        items.push(BlockItem::Quads(self.renamed(quads)));
                        items.push(bad_item(0, &error));
                        return items;
                    }
                }
                _ => {}
            }
        }
        self.parse_lines(block)
    }

    /// Parses `block` line by line.
    fn parse_lines(&self, block: &Block) -> Vec<BlockItem> {
        let mut items = Vec::new();
        let mut quads = Vec::new();
        let mut too_long = block.too_long.iter().peekable();
        for (index, line) in block
            .text
            .split_inclusive(|byte| *byte == b'\n')
            .enumerate()
        {
            let index = index as u64;
            let bad = if too_long.next_if_eq(&&index).is_some() {
                Some(BlockItem::Bad {
                    line: index,
                    column: None,
                    message: format!("a line longer than {MAX_LINE_BYTES} bytes"),
                })
            } else {
                let parsed: Result<Vec<Quad>, RdfSyntaxError> =
                    self.parser.clone().for_slice(line).collect();
                match parsed {
                    Err(error) => Some(bad_item(index, &error)),
                    Ok(parsed) => {
                        match parsed.iter().find_map(|q| check_quad(self.limits, q).err()) {
                            Some(error) => Some(BlockItem::Bad {
                                line: index,
                                column: None,
                                message: error.to_string(),
                            }),
                            None => {
                                quads.extend(parsed);
                                None
                            }
                        }
                    }
                }
            };
            if let Some(bad) = bad {
                if !quads.is_empty() {
                    items.push(BlockItem::Quads(self.renamed(std::mem::take(&mut quads))));
                }
                items.push(bad);
                if !self.lenient {
                    return items;
                }
            }
        }
        if !quads.is_empty() {
            items.push(BlockItem::Quads(self.renamed(quads)));
        }
        items
    }

    fn renamed(&self, quads: Vec<Quad>) -> Vec<Quad> {
        match &self.renamer {
            Some(renamer) => quads.into_iter().map(|quad| renamer.quad(quad)).collect(),
            None => quads,
        }
    }
}

/// The bad statement of `error`, met parsing text that starts at line `first_line` of a block.
fn bad_item(first_line: u64, error: &RdfSyntaxError) -> BlockItem {
    let (line, column) = match error.location() {
        Some(range) => (first_line + range.start.line, Some(range.start.column + 1)),
        None => (first_line, None),
    };
    BlockItem::Bad {
        line,
        column,
        message: syntax_message(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(text: &[u8], block_bytes: usize, max_line: usize) -> Vec<Block> {
        // Reads of a few bytes at a time, to cut lines across reads.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut reader = BlockReader::new(Trickle(text), block_bytes, max_line);
        std::iter::from_fn(|| reader.next_block().unwrap()).collect()
    }

    fn texts(blocks: &[Block]) -> Vec<&str> {
        blocks
            .iter()
            .map(|block| std::str::from_utf8(&block.text).unwrap())
            .collect()
    }

    #[test]
    fn blocks_end_at_line_ends_and_keep_every_byte() {
        let text = b"aa\nbbbb\ncc\nd\n\neee\nf\ng\n";
        for block_bytes in 1..8 {
            let read = blocks(text, block_bytes, 100);
            assert!(read.len() > 1, "{block_bytes}");
            assert_eq!(read.concat_text(), text, "{block_bytes}");
            assert!(read.iter().all(|block| block.text.ends_with(b"\n")));
            assert!(read.iter().all(|block| block.too_long.is_empty()));
        }
        let read = blocks(b"aa\nlast", 2, 100);
        assert_eq!(texts(&read), ["aa\n", "last"]);
    }

    #[test]
    fn a_line_longer_than_a_block_stays_whole() {
        let read = blocks(b"x\n0123456789\ny\n", 2, 100);
        assert_eq!(read.concat_text(), b"x\n0123456789\ny\n");
        assert!(read
            .iter()
            .any(|block| block.text.starts_with(b"0123456789\n")));
    }

    trait ConcatText {
        fn concat_text(&self) -> Vec<u8>;
    }

    impl ConcatText for Vec<Block> {
        fn concat_text(&self) -> Vec<u8> {
            self.iter().flat_map(|block| block.text.clone()).collect()
        }
    }

    #[test]
    fn a_line_over_the_limit_becomes_an_empty_line_marked_too_long() {
        let read = blocks(b"short\n0123456789abc\nnext\nlast", 4, 8);
        let all: Vec<(String, Vec<u64>)> = read
            .iter()
            .map(|b| {
                (
                    String::from_utf8(b.text.clone()).unwrap(),
                    b.too_long.clone(),
                )
            })
            .collect();
        assert_eq!(
            all,
            [
                ("short\n".to_owned(), vec![]),
                ("\n".to_owned(), vec![0]),
                ("next\n".to_owned(), vec![]),
                ("last".to_owned(), vec![]),
            ]
        );
        // The last line, over the limit and without a line end.
        let read = blocks(b"ok\n0123456789abc", 4, 8);
        assert_eq!(texts(&read), ["ok\n", "\n"]);
        assert_eq!(read[1].too_long, [0]);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read() {
        let read = blocks(b"12345678\nabc", 100, 8);
        assert_eq!(texts(&read), ["12345678\nabc"]);
        assert!(read[0].too_long.is_empty());
    }

    #[test]
    fn an_empty_input_has_no_block() {
        assert!(blocks(b"", 4, 8).is_empty());
    }
}

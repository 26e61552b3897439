//! The parsing side of a load: every input parsed on threads of its own, ahead of the store's
//! writer, and handed to it in each input's order.
//!
//! Several inputs are read at once (as many as there are parser threads, at most). An
//! N-Triples or N-Quads input is cut by its reader thread into blocks of whole lines
//! ([`BlockReader`]), which a pool of parser threads parse side by side, so that one large
//! file keeps every core busy; an input in any other format is parsed by its reader thread as
//! it streams. The writer receives each input's statements in the input's order (blocks parsed
//! out of order wait for the ones before them), so a load of one input interns its terms in
//! the same order every time; inputs read at once interleave, batch by batch. Blank nodes stay
//! scoped to their input: its blocks share the input's renamer. Error locations count lines
//! from the start of the input, whichever block they are in.
//!
//! Memory stays bounded: a reader takes a [`Tokens`] token for each block or batch it hands
//! on, and the writer gives it back once it has taken the batch in, so only a fixed number of
//! batches are ever in flight, however large the inputs.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use indicatif::ProgressBar;
use oxrdf::Quad;
use oxrdfio::RdfFormat;

use super::blank_nodes::BlankNodeRenamer;
use super::input::{open, open_decoded};
use super::lines::{line_count, Block, BlockItem, BlockParser, BlockReader, MAX_LINE_BYTES};
use super::load::{
    check_quad, input_parser, parser_for, quads_of, read_error, LoadError, LoadRequest,
    ParseFailure, Skipped, Source,
};
use crate::store::TermLimits;

/// Bytes of an N-Triples or N-Quads input per block.
const BLOCK_BYTES: usize = 1 << 20;
/// Quads per batch of a streamed input.
const STREAMED_BATCH: usize = 1024;
/// Bad statements per batch of a streamed input, at most.
const STREAMED_BAD: usize = 64;

/// What the writer receives, input by input, in each input's order.
#[derive(Debug)]
pub(super) enum Event {
    /// Good statements, their blank nodes renamed when asked.
    Quads(Vec<Quad>),
    /// A bad statement, placed at `file:line:column` where the parser can tell.
    Skipped(Skipped),
    /// The input cannot be read on: nothing of it follows.
    Failed(LoadError),
}

/// How the pipeline runs.
#[derive(Debug, Clone, Copy)]
pub(super) struct PipelineOptions {
    /// Threads parsing blocks of line-based inputs, and inputs read at once, at most.
    pub parsers: usize,
    /// Bytes per block of a line-based input.
    pub block_bytes: usize,
}

impl PipelineOptions {
    /// `threads` parsers (0: one per core) and blocks of [`BLOCK_BYTES`].
    pub fn new(threads: usize) -> Self {
        let parsers = match threads {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            threads => threads,
        };
        Self {
            parsers,
            block_bytes: BLOCK_BYTES,
        }
    }
}

/// Part of an input, in its order.
struct Batch {
    source: usize,
    /// Its place among the input's batches, from 0.
    seq: u64,
    /// Lines it covers, for placing the bad statements of the batches after it.
    lines: u64,
    items: Vec<Item>,
    /// The input's last batch.
    last: bool,
}

/// What a batch holds.
enum Item {
    /// What parsing a block found (its bad lines counted from the block's first line).
    Block(BlockItem),
    /// A bad statement of a streamed input, placed already.
    Skipped(Skipped),
    /// Why the input cannot be read on.
    Failed(LoadError),
}

/// A block for the parser threads.
struct Work {
    source: usize,
    seq: u64,
    block: Block,
    parser: Arc<BlockParser>,
}

/// Parses every input of `request` and hands `consume` what each holds, in each input's order
/// (with the input's index in `request.sources`), until the inputs end or `consume` fails.
///
/// # Errors
/// The first error `consume` returns ([`Event::Failed`] hands it the inputs' own), after
/// every thread of the pipeline has stopped.
pub(super) fn parse_inputs(
    request: &LoadRequest,
    limits: TermLimits,
    progress: &ProgressBar,
    options: PipelineOptions,
    mut consume: impl FnMut(usize, Event) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let sources = &request.sources;
    let parsers = options.parsers.max(1);
    let readers = sources.len().clamp(1, parsers);
    let tokens = Tokens::new(2 * parsers + 2 * readers);
    let next_source = AtomicUsize::new(0);
    let needs_parsers = sources
        .iter()
        .any(|source| is_line_based(source.format().format));
    std::thread::scope(|scope| {
        let (results, batches) = channel::<Batch>();
        let (work, queue) = channel::<Work>();
        let queue = Arc::new(Mutex::new(queue));
        // Dropped on every way out: readers waiting for a token give up.
        let _stop = StopOnDrop(&tokens);
        for _ in 0..if needs_parsers { parsers } else { 0 } {
            let results = results.clone();
            let queue = Arc::clone(&queue);
            spawn(scope, "kgdb-load-parse", move || {
                parse_blocks(&queue, &results)
            })?;
        }
        for _ in 0..readers {
            let reader = Reader {
                request,
                limits,
                progress,
                options,
                tokens: &tokens,
                work: work.clone(),
                results: results.clone(),
            };
            let next_source = &next_source;
            spawn(scope, "kgdb-load-read", move || loop {
                let index = next_source.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(source) = sources.get(index) else {
                    return;
                };
                if !reader.read(index, source) {
                    return;
                }
            })?;
        }
        drop((results, work));
        let mut order = InputOrder::new(sources);
        for batch in batches {
            order.take(batch, &tokens, &mut consume)?;
        }
        order.check_ended()
    })
}

/// Starts a thread of the pipeline called `name`.
fn spawn<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    job: impl FnOnce() + Send + 'scope,
) -> Result<(), LoadError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, job)
        .map(drop)
        .map_err(|source| LoadError::Threads { source })
}

fn is_line_based(format: RdfFormat) -> bool {
    matches!(format, RdfFormat::NTriples | RdfFormat::NQuads)
}

/// A parser thread: parses blocks until no reader is left.
fn parse_blocks(queue: &Mutex<Receiver<Work>>, results: &Sender<Batch>) {
    loop {
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(Work {
            source,
            seq,
            block,
            parser,
        }) = next
        else {
            return;
        };
        let items = parser.parse(&block).into_iter().map(Item::Block).collect();
        let batch = Batch {
            source,
            seq,
            lines: line_count(&block.text),
            items,
            last: false,
        };
        if results.send(batch).is_err() {
            return;
        }
    }
}

/// A reader thread and what it shares with the others.
struct Reader<'a> {
    request: &'a LoadRequest,
    limits: TermLimits,
    progress: &'a ProgressBar,
    options: PipelineOptions,
    tokens: &'a Tokens,
    work: Sender<Work>,
    results: Sender<Batch>,
}

impl Reader<'_> {
    /// Reads input `index` to its end; `false` when the load stops.
    fn read(&self, index: usize, source: &Source) -> bool {
        let renamer = (!self.request.keep_blank_node_labels).then(BlankNodeRenamer::new);
        let format = source.format().format;
        let mut seq = 0;
        let read = if is_line_based(format) {
            self.cut(index, source, format, renamer, &mut seq)
        } else {
            self.stream(index, source, format, renamer, &mut seq)
        };
        read.unwrap_or_else(|error| self.fail(index, &mut seq, error))
    }

    /// Sends a batch of input `source`, once a token allows; `false` when the load stops.
    fn send(&self, source: usize, seq: &mut u64, items: Vec<Item>, last: bool) -> bool {
        let batch = Batch {
            source,
            seq: *seq,
            lines: 0,
            items,
            last,
        };
        *seq += 1;
        self.tokens.take() && self.results.send(batch).is_ok()
    }

    /// Sends why input `source` cannot be read on; `false`: the load stops.
    fn fail(&self, source: usize, seq: &mut u64, error: LoadError) -> bool {
        self.send(source, seq, vec![Item::Failed(error)], true);
        false
    }

    /// Cuts a line-based input into blocks for the parser threads: `false` when the load
    /// stops, an error when the input cannot be read on (`seq`: the batches sent).
    fn cut(
        &self,
        index: usize,
        source: &Source,
        format: RdfFormat,
        renamer: Option<BlankNodeRenamer>,
        seq: &mut u64,
    ) -> Result<bool, LoadError> {
        let parser = parser_for(self.request, format)?;
        let decoded = open_decoded(source, self.progress)?;
        let parser = Arc::new(BlockParser {
            parser,
            limits: self.limits,
            renamer: renamer.map(Arc::new),
            lenient: self.request.lenient,
        });
        let mut blocks = BlockReader::new(decoded, self.options.block_bytes, MAX_LINE_BYTES);
        loop {
            match blocks.next_block() {
                Ok(Some(block)) => {
                    let work = Work {
                        source: index,
                        seq: *seq,
                        block,
                        parser: Arc::clone(&parser),
                    };
                    *seq += 1;
                    if !self.tokens.take() || self.work.send(work).is_err() {
                        return Ok(false);
                    }
                }
                Ok(None) => return Ok(self.send(index, seq, Vec::new(), true)),
                Err(error) => return Err(read_error(&source.name(), error)),
            }
        }
    }

    /// Parses an input that cannot be cut, as it streams: `false` when the load stops, an
    /// error when the input cannot be opened (`seq`: the batches sent). A quad with a term
    /// over the store's limits is a bad statement like a syntax error.
    fn stream(
        &self,
        index: usize,
        source: &Source,
        format: RdfFormat,
        renamer: Option<BlankNodeRenamer>,
        seq: &mut u64,
    ) -> Result<bool, LoadError> {
        let file = source.name();
        let parser = input_parser(self.request, format)?;
        let input = open(source, self.progress)?;
        let mut items = Vec::new();
        let mut quads = Vec::with_capacity(STREAMED_BATCH);
        let mut read = 0u64;
        for result in quads_of(parser, input.reader, &file, &input.lines) {
            match result {
                Ok(quad) => {
                    read += 1;
                    if let Err(error) = check_quad(self.limits, &quad) {
                        // The parsers give no position for a good statement.
                        let location = format!(
                            "{file}, quad {read} (at or before line {})",
                            input.lines.reached()
                        );
                        let message = error.to_string();
                        flush_quads(&mut quads, &mut items);
                        items.push(Item::Skipped(Skipped { location, message }));
                    } else {
                        quads.push(match &renamer {
                            Some(renamer) => renamer.quad(quad),
                            None => quad,
                        });
                    }
                }
                Err(ParseFailure::Syntax(skipped)) => {
                    flush_quads(&mut quads, &mut items);
                    items.push(Item::Skipped(skipped));
                }
                Err(ParseFailure::Read(error)) => {
                    flush_quads(&mut quads, &mut items);
                    items.push(Item::Failed(read_error(&file, error)));
                    self.send(index, seq, items, true);
                    return Ok(false);
                }
            }
            if quads.len() >= STREAMED_BATCH || items.len() >= STREAMED_BAD {
                flush_quads(&mut quads, &mut items);
                if !self.send(index, seq, std::mem::take(&mut items), false) {
                    return Ok(false);
                }
            }
        }
        flush_quads(&mut quads, &mut items);
        Ok(self.send(index, seq, items, true))
    }
}

/// Moves the quads gathered so far into `items`, ahead of what follows them.
fn flush_quads(quads: &mut Vec<Quad>, items: &mut Vec<Item>) {
    if !quads.is_empty() {
        let full = std::mem::replace(quads, Vec::with_capacity(STREAMED_BATCH));
        items.push(Item::Block(BlockItem::Quads(full)));
    }
}

/// Puts each input's batches back in order and places their bad lines.
struct InputOrder<'s> {
    sources: &'s [Source],
    inputs: Vec<InputState>,
}

/// Where an input's batches have reached.
#[derive(Default)]
struct InputState {
    /// The batch to hand on next.
    next_seq: u64,
    /// Lines of the batches handed on.
    lines: u64,
    /// Batches that came before their turn.
    early: BTreeMap<u64, Batch>,
    ended: bool,
}

impl<'s> InputOrder<'s> {
    fn new(sources: &'s [Source]) -> Self {
        Self {
            sources,
            inputs: sources.iter().map(|_| InputState::default()).collect(),
        }
    }

    /// Takes `batch` in: hands it on, with every batch of its input it allows, if its turn
    /// has come; keeps it till then otherwise. Each batch handed on gives back its token.
    fn take(
        &mut self,
        batch: Batch,
        tokens: &Tokens,
        consume: &mut impl FnMut(usize, Event) -> Result<(), LoadError>,
    ) -> Result<(), LoadError> {
        let source = batch.source;
        let input = &mut self.inputs[source];
        input.early.insert(batch.seq, batch);
        while let Some(batch) = input.early.remove(&input.next_seq) {
            input.next_seq += 1;
            tokens.give_back();
            let file = self.sources[source].name();
            for item in batch.items {
                let event = match item {
                    Item::Block(BlockItem::Quads(quads)) => Event::Quads(quads),
                    Item::Block(BlockItem::Bad {
                        line,
                        column,
                        message,
                    }) => {
                        let line = input.lines + line + 1;
                        let location = match column {
                            Some(column) => format!("{file}:{line}:{column}"),
                            None => format!("{file}:{line}"),
                        };
                        Event::Skipped(Skipped { location, message })
                    }
                    Item::Skipped(skipped) => Event::Skipped(skipped),
                    Item::Failed(error) => Event::Failed(error),
                };
                consume(source, event)?;
            }
            input.lines += batch.lines;
            input.ended |= batch.last;
        }
        Ok(())
    }

    /// Fails if an input's batches stopped before its last (a thread of the pipeline died).
    fn check_ended(&self) -> Result<(), LoadError> {
        match self.inputs.iter().position(|input| !input.ended) {
            Some(index) => Err(LoadError::Read {
                file: self.sources[index].name(),
                source: std::io::Error::other("parsing stopped before the end of the input"),
            }),
            None => Ok(()),
        }
    }
}

/// Batches that may be in flight: a reader takes a token before it hands a batch on and waits
/// while none is left; the writer gives it back once it has taken the batch in.
struct Tokens {
    state: Mutex<TokenState>,
    changed: Condvar,
}

struct TokenState {
    free: usize,
    stopped: bool,
}

impl Tokens {
    fn new(count: usize) -> Self {
        Self {
            state: Mutex::new(TokenState {
                free: count.max(1),
                stopped: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TokenState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a token: `false` when the load has stopped.
    fn take(&self) -> bool {
        let mut state = self.lock();
        loop {
            if state.stopped {
                return false;
            }
            if state.free > 0 {
                state.free -= 1;
                return true;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn give_back(&self) {
        self.lock().free += 1;
        self.changed.notify_one();
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}

/// Stops the readers when the writer is done, whichever way.
struct StopOnDrop<'t>(&'t Tokens);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdf::format::InputFormat;
    use crate::store::MAX_TERM_TEXT_BYTES;

    const LIMITS: TermLimits = TermLimits {
        text_bytes: MAX_TERM_TEXT_BYTES,
        stored_bytes: usize::MAX,
    };

    /// A file of `lines` N-Triples statements, each with the blank node `_:b{i % 7}` as
    /// subject, and the bad lines given (1-based) replaced by text that is not RDF.
    fn write_nt(dir: &std::path::Path, name: &str, lines: usize, bad: &[usize]) -> Source {
        let mut text = String::new();
        for line in 1..=lines {
            if bad.contains(&line) {
                text.push_str("this is not rdf .\n");
            } else {
                text.push_str(&format!(
                    "_:b{} <http://e/p> \"{name} {line}\" .\n",
                    line % 7
                ));
            }
        }
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        Source::File(
            path,
            InputFormat {
                format: RdfFormat::NTriples,
                gzip: false,
            },
        )
    }

    fn request(sources: Vec<Source>, lenient: bool, keep_labels: bool) -> LoadRequest {
        LoadRequest {
            sources,
            lenient,
            keep_blank_node_labels: keep_labels,
            ..LoadRequest::default()
        }
    }

    /// What each input handed on, in order, with tiny blocks and three parser threads.
    fn run(request: &LoadRequest) -> (Vec<Vec<Quad>>, Vec<Skipped>, Result<(), LoadError>) {
        let options = PipelineOptions {
            parsers: 3,
            block_bytes: 64,
        };
        let mut quads = vec![Vec::new(); request.sources.len()];
        let mut skipped = Vec::new();
        let result = parse_inputs(
            request,
            LIMITS,
            &ProgressBar::hidden(),
            options,
            |source, event| {
                match event {
                    Event::Quads(more) => quads[source].extend(more),
                    Event::Skipped(bad) => skipped.push(bad),
                    Event::Failed(error) => return Err(error),
                }
                Ok(())
            },
        );
        (quads, skipped, result)
    }

    fn objects(quads: &[Quad]) -> Vec<String> {
        quads.iter().map(|quad| quad.object.to_string()).collect()
    }

    #[test]
    fn an_input_cut_into_blocks_arrives_in_its_order_with_its_blank_nodes_shared() {
        let dir = tempfile::tempdir().unwrap();
        let source = write_nt(dir.path(), "a.nt", 500, &[]);
        let (quads, skipped, result) = run(&request(vec![source.clone()], false, true));
        result.unwrap();
        assert!(skipped.is_empty());
        let expected: Vec<String> = (1..=500).map(|line| format!("\"a.nt {line}\"")).collect();
        assert_eq!(objects(&quads[0]), expected);
        assert_eq!(quads[0][8].subject.to_string(), "_:b2", "labels kept");
        // Renamed: one label is one node across the blocks of an input, and another in the
        // next load of it.
        let (renamed, _, result) = run(&request(vec![source.clone()], false, false));
        result.unwrap();
        assert_eq!(objects(&renamed[0]), expected);
        assert_eq!(renamed[0][1].subject, renamed[0][498].subject);
        assert_ne!(renamed[0][1].subject, renamed[0][2].subject);
        assert_ne!(renamed[0][1].subject.to_string(), "_:b1");
        let (again, _, _) = run(&request(vec![source], false, false));
        assert_ne!(again[0][1].subject, renamed[0][1].subject);
    }

    #[test]
    fn a_bad_line_deep_in_an_input_is_placed_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let source = write_nt(dir.path(), "a.nt", 400, &[347]);
        let (_, skipped, result) = run(&request(vec![source], false, true));
        result.unwrap();
        let locations: Vec<&str> = skipped.iter().map(|s| s.location.as_str()).collect();
        let file = dir.path().join("a.nt").display().to_string();
        assert_eq!(locations.len(), 1, "{locations:?}");
        assert!(
            locations[0].starts_with(&format!("{file}:347:")),
            "{locations:?}"
        );
    }

    #[test]
    fn a_lenient_input_hands_on_every_good_line_and_each_bad_one_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let bad = [1, 2, 90, 91, 250, 400];
        let source = write_nt(dir.path(), "a.nt", 400, &bad);
        let (quads, skipped, result) = run(&request(vec![source], true, true));
        result.unwrap();
        let expected: Vec<String> = (1..=400)
            .filter(|line| !bad.contains(line))
            .map(|line| format!("\"a.nt {line}\""))
            .collect();
        assert_eq!(objects(&quads[0]), expected);
        let file = dir.path().join("a.nt").display().to_string();
        let lines: Vec<String> = skipped
            .iter()
            .map(|s| {
                let rest = s.location.strip_prefix(&format!("{file}:")).unwrap();
                rest.split(':').next().unwrap().to_owned()
            })
            .collect();
        assert_eq!(lines, ["1", "2", "90", "91", "250", "400"]);
    }

    #[test]
    fn inputs_read_at_once_each_arrive_in_their_own_order() {
        let dir = tempfile::tempdir().unwrap();
        let sources = vec![
            write_nt(dir.path(), "a.nt", 300, &[]),
            write_nt(dir.path(), "b.nt", 200, &[]),
            write_nt(dir.path(), "c.nt", 1, &[]),
        ];
        let (quads, _, result) = run(&request(sources, false, false));
        result.unwrap();
        for (quads, (name, lines)) in quads
            .iter()
            .zip([("a.nt", 300), ("b.nt", 200), ("c.nt", 1)])
        {
            let expected: Vec<String> = (1..=lines)
                .map(|line| format!("\"{name} {line}\""))
                .collect();
            assert_eq!(objects(quads), expected);
        }
        // Each input has its own blank nodes.
        assert_ne!(quads[0][0].subject, quads[1][0].subject);
    }

    #[test]
    fn a_missing_input_fails_and_a_failing_writer_stops_the_readers() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Source::File(
            dir.path().join("missing.nt"),
            InputFormat {
                format: RdfFormat::NTriples,
                gzip: false,
            },
        );
        let large = write_nt(dir.path(), "large.nt", 20_000, &[]);
        let (_, _, result) = run(&request(vec![large.clone(), missing], false, false));
        assert!(
            matches!(&result, Err(LoadError::Open { file, .. }) if file.ends_with("missing.nt")),
            "{result:?}"
        );
        // A writer that fails on its first batch: the pipeline stops (the test ends) and
        // hands back that error.
        let mut batches = 0;
        let result = parse_inputs(
            &request(vec![large], false, false),
            LIMITS,
            &ProgressBar::hidden(),
            PipelineOptions {
                parsers: 2,
                block_bytes: 64,
            },
            |_, _| {
                batches += 1;
                Err(LoadError::TooManyErrors {
                    file: "writer".to_owned(),
                })
            },
        );
        assert!(matches!(result, Err(LoadError::TooManyErrors { .. })));
        assert_eq!(batches, 1);
    }

    #[test]
    fn a_streamed_format_goes_through_the_same_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.ttl");
        let text: String = (1..=3000)
            .map(|line| format!("<http://e/s> <http://e/p> {line} .\n"))
            .collect();
        std::fs::write(&path, text).unwrap();
        let source = Source::File(
            path,
            InputFormat {
                format: RdfFormat::Turtle,
                gzip: false,
            },
        );
        let nt = write_nt(dir.path(), "b.nt", 100, &[]);
        let (quads, _, result) = run(&request(vec![source, nt], false, false));
        result.unwrap();
        let numbers: Vec<String> = quads[0].iter().map(|q| q.object.to_string()).collect();
        let expected: Vec<String> = (1..=3000)
            .map(|n| format!("\"{n}\"^^<http://www.w3.org/2001/XMLSchema#integer>"))
            .collect();
        assert_eq!(numbers, expected);
        assert_eq!(quads[1].len(), 100);
    }
}

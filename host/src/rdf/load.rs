//! Loading RDF files into a store: one atomic [`BulkLoad`] over every file, streaming, with a
//! progress bar and file:line:column in every syntax error.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use oxrdf::{GraphName, GraphNameRef, NamedOrBlankNode, Quad};
use oxrdfio::{RdfFormat, RdfParseError, RdfParser, RdfSyntaxError};
use oxrdfxml::{RdfXmlParseError, RdfXmlParser};

use super::format::InputFormat;
use super::input::LineCount;
use super::load_record::{record, LastLoad};
use super::pipeline::{parse_inputs, Event, PipelineOptions};
use super::progress::{progress_bar, stage_reporter};
use super::target::LoadTarget;
use super::xml_entities::EntityLimit;
use crate::store::{LoadOptions, LoadSummary, Store, StoreError, TermLimits, TermTooLarge};

/// Skipped statements kept in a report (the count covers all of them).
const SKIPPED_KEPT: usize = 100;
/// Bad statements in a row after which a lenient load gives up on a file, in every format.
const MAX_ERRORS_IN_A_ROW: u64 = 10_000;

/// Where RDF comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input (`-`).
    Stdin(InputFormat),
    /// A file.
    File(PathBuf, InputFormat),
}

impl Source {
    /// The name used in messages.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Self::Stdin(_) => "<stdin>".to_owned(),
            Self::File(path, _) => path.display().to_string(),
        }
    }

    pub(super) fn format(&self) -> InputFormat {
        match self {
            Self::Stdin(format) | Self::File(_, format) => *format,
        }
    }
}

/// What to load and how.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// The inputs, loaded in order, all in one atomic load.
    pub sources: Vec<Source>,
    /// Put the inputs' default-graph triples into this graph.
    pub graph: Option<NamedOrBlankNode>,
    /// Base IRI for relative IRIs.
    pub base_iri: Option<String>,
    /// Skip bad statements (and report them) instead of failing the load.
    pub lenient: bool,
    /// Keep blank node labels as written instead of giving each input its own blank nodes.
    pub keep_blank_node_labels: bool,
    /// The load's path and chunking.
    pub options: LoadOptions,
    /// What a sorted load may hold in memory before it spills runs to disk (see
    /// [`SortedLoadOptions`](crate::store::SortedLoadOptions)); 1 GiB by default.
    pub memory_budget: u64,
    /// Threads that parse N-Triples and N-Quads blocks, and inputs read at once, at most
    /// (0: one per core).
    pub parse_threads: usize,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Where the backend keeps its files, if it does: the size on disk after the load is
    /// measured there and kept in the load's record.
    pub data_dir: Option<PathBuf>,
}

impl Default for LoadRequest {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            graph: None,
            base_iri: None,
            lenient: false,
            keep_blank_node_labels: false,
            options: LoadOptions::default(),
            memory_budget: crate::store::SortedLoadOptions::default().memory_budget,
            parse_threads: 0,
            progress: false,
            data_dir: None,
        }
    }
}

/// A statement a lenient load skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// `file:line:column` (1-based), or the file name when the parser gives no position.
    pub location: String,
    /// The parser's message.
    pub message: String,
}

/// What a load did.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Quads read and inserted.
    pub summary: LoadSummary,
    /// The first skipped statements.
    pub skipped: Vec<Skipped>,
    /// How many statements were skipped in all.
    pub skipped_count: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The record kept in the store ([`LAST_LOAD_NOTE`](super::LAST_LOAD_NOTE)); `None` if
    /// keeping it failed (the load itself committed: see `warnings`).
    pub record: Option<LastLoad>,
    /// What went wrong after the load committed (it is loaded all the same).
    pub warnings: Vec<String>,
}

/// Why a load failed; the store is then as it was before the load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// An input could not be opened.
    #[error("{file}: {source}")]
    Open {
        /// The input.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading or decompressing failed.
    #[error("{file}: read error: {source}")]
    Read {
        /// The input.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A statement is not valid RDF.
    #[error("{location}: {message}; nothing was loaded (use --lenient to skip bad statements)")]
    Syntax {
        /// `file:line:column` (1-based).
        location: String,
        /// The parser's message.
        message: String,
    },
    /// A lenient load met only errors for too long.
    #[error(
        "{file}: gave up after {MAX_ERRORS_IN_A_ROW} bad statements in a row; nothing was loaded"
    )]
    TooManyErrors {
        /// The input.
        file: String,
    },
    /// The base IRI is not an IRI.
    #[error("invalid base IRI `{iri}`: {message}")]
    BaseIri {
        /// The IRI given.
        iri: String,
        /// What is wrong with it.
        message: String,
    },
    /// The load's parser threads could not be started.
    #[error("could not start the load's parser threads: {source}; nothing was loaded")]
    Threads {
        /// The cause.
        source: std::io::Error,
    },
    /// The store failed.
    #[error("{}", store_failure(.0))]
    Store(#[from] StoreError),
    /// The load failed, and undoing what it had committed failed too.
    #[error("{}; {UNDO_FAILED} ({undo}): {UNDO_PENDING}", .cause.what_failed())]
    NotUndone {
        /// Why the load failed.
        cause: Box<LoadError>,
        /// Why the undo failed.
        undo: StoreError,
    },
}

const UNDO_FAILED: &str = "undoing what the load had committed failed too";
const UNDO_PENDING: &str = "that part stays visible, flagged as an unfinished load, until `kgdb-host recover` (or any writing command) undoes it once the cause is gone";

fn store_failure(error: &StoreError) -> String {
    match error {
        StoreError::LoadNotUndone { cause, undo } => {
            format!("{cause}; {UNDO_FAILED} ({undo}): {UNDO_PENDING}")
        }
        other => format!("{other}; nothing was loaded"),
    }
}

impl LoadError {
    /// What went wrong, without what it means for the store.
    fn what_failed(&self) -> String {
        match self {
            Self::Syntax { location, message } => format!("{location}: {message}"),
            Self::TooManyErrors { file } => {
                format!("{file}: gave up after {MAX_ERRORS_IN_A_ROW} bad statements in a row")
            }
            Self::Store(error) => error.to_string(),
            Self::NotUndone { cause, .. } => cause.what_failed(),
            other => other.to_string(),
        }
    }
}

/// Loads every source into `store`, atomically: on any error nothing is loaded.
///
/// # Errors
/// [`LoadError`].
pub fn load(store: &Store, request: &LoadRequest) -> Result<LoadReport, LoadError> {
    // Checked before anything is read: N-Triples and N-Quads never use a base IRI, so their
    // parsers would not look at it.
    if let Some(base) = &request.base_iri {
        oxrdf::NamedNode::new(base.as_str()).map_err(|error| LoadError::BaseIri {
            iri: base.clone(),
            message: error.to_string(),
        })?;
    }
    let started = Instant::now();
    let progress = progress_bar(request);
    let mut bulk = LoadTarget::begin(store, request)?;
    bulk.set_progress(stage_reporter(progress.clone()));
    let mut report = LoadReport::default();
    let parsed = parse_into(
        &mut bulk,
        request,
        store.term_limits(),
        &progress,
        started,
        &mut report,
    );
    if let Err(error) = parsed {
        progress.finish_and_clear();
        return Err(match bulk.rollback() {
            Ok(()) => error,
            Err(undo) => LoadError::NotUndone {
                cause: Box::new(error),
                undo,
            },
        });
    }
    progress.set_message("committing");
    report.summary = bulk.commit()?;
    progress.finish_and_clear();
    report.elapsed = started.elapsed();
    let recorded = record(
        store,
        report.summary,
        report.skipped_count,
        report.elapsed,
        request.data_dir.as_deref(),
    );
    match recorded {
        Ok(record) => report.record = Some(record),
        Err(error) => report.warnings.push(format!(
            "the load committed, but keeping its record failed: {error}"
        )),
    }
    Ok(report)
}

/// Parses every input of `request` into `bulk`, counting what a lenient load skips.
fn parse_into(
    bulk: &mut LoadTarget<'_>,
    request: &LoadRequest,
    limits: TermLimits,
    progress: &ProgressBar,
    started: Instant,
    report: &mut LoadReport,
) -> Result<(), LoadError> {
    let mut sink = Sink {
        bulk,
        progress,
        started,
        last_log: Instant::now(),
    };
    let mut in_a_row: Vec<SkippedInARow> = request
        .sources
        .iter()
        .map(|_| SkippedInARow::default())
        .collect();
    let mut current = None;
    let options = PipelineOptions::new(request.parse_threads);
    parse_inputs(request, limits, progress, options, |source, event| {
        let file = || request.sources[source].name();
        if current != Some(source) {
            current = Some(source);
            progress.set_prefix(file());
        }
        match event {
            Event::Quads(quads) => {
                if !quads.is_empty() {
                    in_a_row[source].reset();
                }
                quads
                    .into_iter()
                    .try_for_each(|quad| sink.add(quad, source))
            }
            Event::Skipped(skipped) => in_a_row[source].skip(request, report, skipped, &file()),
            Event::Failed(error) => Err(error),
        }
    })
}

/// Counts quads, reports progress and adds them to the load.
struct Sink<'b, 'a> {
    bulk: &'b mut LoadTarget<'a>,
    progress: &'b ProgressBar,
    started: Instant,
    last_log: Instant,
}

impl Sink<'_, '_> {
    /// Adds one quad of input `source`.
    fn add(&mut self, quad: Quad, source: usize) -> Result<(), LoadError> {
        self.bulk.add(quad)?;
        let read = self.bulk.read();
        if read.is_multiple_of(16_384) {
            let rate = read as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            self.progress
                .set_message(format!("parsing: {read} quads, {rate:.0} quads/s"));
            if self.last_log.elapsed() >= Duration::from_secs(10) {
                self.last_log = Instant::now();
                tracing::info!(quads = read, rate = rate as u64, input = source, "loading");
            }
        }
        Ok(())
    }
}

/// Bad statements skipped in a row in one input: a lenient load gives up after
/// [`MAX_ERRORS_IN_A_ROW`], whatever the format.
#[derive(Debug, Default)]
pub(super) struct SkippedInARow(u64);

impl SkippedInARow {
    /// Records a skipped statement; fails the load when not lenient, or when it is one too
    /// many in a row.
    pub fn skip(
        &mut self,
        request: &LoadRequest,
        report: &mut LoadReport,
        skipped: Skipped,
        file: &str,
    ) -> Result<(), LoadError> {
        if !request.lenient {
            return Err(LoadError::Syntax {
                location: skipped.location,
                message: skipped.message,
            });
        }
        tracing::debug!("skipped {}: {}", skipped.location, skipped.message);
        report.skipped_count += 1;
        if report.skipped.len() < SKIPPED_KEPT {
            report.skipped.push(skipped);
        }
        self.0 += 1;
        if self.0 >= MAX_ERRORS_IN_A_ROW {
            return Err(LoadError::TooManyErrors {
                file: file.to_owned(),
            });
        }
        Ok(())
    }

    /// A good statement ends the run.
    pub fn reset(&mut self) {
        self.0 = 0;
    }
}

/// Checks every term of `quad` against the store's limits.
pub(super) fn check_quad(limits: TermLimits, quad: &Quad) -> Result<(), TermTooLarge> {
    limits.check(quad.subject.as_ref().into())?;
    limits.check(quad.predicate.as_ref().into())?;
    limits.check(quad.object.as_ref())?;
    match quad.graph_name.as_ref() {
        GraphNameRef::NamedNode(node) => limits.check(node.into()),
        GraphNameRef::BlankNode(node) => limits.check(node.into()),
        GraphNameRef::DefaultGraph => Ok(()),
    }
}

/// A parser for `format` with the request's base IRI and target graph.
pub(super) fn parser_for(request: &LoadRequest, format: RdfFormat) -> Result<RdfParser, LoadError> {
    let mut parser = RdfParser::from_format(format);
    if let Some(base) = &request.base_iri {
        parser = parser
            .with_base_iri(base.as_str())
            .map_err(|error| base_iri_error(base, &error))?;
    }
    Ok(parser.with_default_graph(default_graph(request)))
}

/// The error of a base IRI that is not an IRI.
fn base_iri_error(base: &str, error: &impl std::fmt::Display) -> LoadError {
    LoadError::BaseIri {
        iri: base.to_owned(),
        message: error.to_string(),
    }
}

/// The parser of one input of `format`: RDF/XML through its own parser, any other format
/// through oxrdfio's.
pub(super) fn input_parser(
    request: &LoadRequest,
    format: RdfFormat,
) -> Result<InputParser, LoadError> {
    if format != RdfFormat::RdfXml {
        return Ok(InputParser::Any(parser_for(request, format)?));
    }
    let mut parser = RdfXmlParser::new();
    if let Some(base) = &request.base_iri {
        parser = parser
            .with_base_iri(base.as_str())
            .map_err(|error| base_iri_error(base, &error))?;
    }
    Ok(InputParser::RdfXml(parser, default_graph(request)))
}

/// The graph the request's default-graph triples go to.
fn default_graph(request: &LoadRequest) -> GraphName {
    match request.graph.clone() {
        Some(NamedOrBlankNode::NamedNode(node)) => GraphName::from(node),
        Some(NamedOrBlankNode::BlankNode(node)) => GraphName::from(node),
        None => GraphName::DefaultGraph,
    }
}

/// A read error, or the RDF/XML entity guard's refusal (a syntax error at its line, even in a
/// lenient load: the rest of the document cannot be read safely).
pub(super) fn read_error(file: &str, source: std::io::Error) -> LoadError {
    match source
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<EntityLimit>())
    {
        Some(limit) => LoadError::Syntax {
            location: format!("{file}:{}", limit.line),
            message: limit.message.clone(),
        },
        None => LoadError::Read {
            file: file.to_owned(),
            source,
        },
    }
}

/// The parser of one input.
pub(super) enum InputParser {
    /// Any format, through oxrdfio.
    Any(RdfParser),
    /// RDF/XML through its own parser, whose byte position places its errors (they carry no
    /// position), and the graph its triples go to.
    RdfXml(RdfXmlParser, GraphName),
}

/// Why the parser of an input stopped on a statement.
pub(super) enum ParseFailure {
    /// Not RDF: where and why.
    Syntax(Skipped),
    /// The input could not be read.
    Read(std::io::Error),
}

/// The quads of `reader`, each error placed at `file:line:column` where the parser can tell,
/// at the line the reader reached otherwise.
pub(super) fn quads_of<'a>(
    parser: InputParser,
    reader: Box<dyn Read + Send>,
    file: &'a str,
    lines: &'a LineCount,
) -> Box<dyn Iterator<Item = Result<Quad, ParseFailure>> + 'a> {
    match parser {
        InputParser::Any(parser) => Box::new(parser.for_reader(reader).map(move |result| {
            result.map_err(|error| match error {
                RdfParseError::Syntax(error) => {
                    let mut skipped = describe(file, &error);
                    if error.location().is_none() {
                        skipped.location =
                            format!("{file} (at or before line {})", lines.reached());
                    }
                    ParseFailure::Syntax(skipped)
                }
                RdfParseError::Io(error) => ParseFailure::Read(error),
            })
        })),
        InputParser::RdfXml(parser, graph) => {
            let mut triples = parser.for_reader(reader);
            Box::new(std::iter::from_fn(move || {
                Some(match triples.next()? {
                    Ok(triple) => Ok(triple.in_graph(graph.clone())),
                    Err(RdfXmlParseError::Syntax(error)) => {
                        let location = match lines.position(triples.buffer_position()) {
                            Some((line, column)) => format!("{file}:{line}:{column}"),
                            None => format!("{file} (at or before line {})", lines.reached()),
                        };
                        Err(ParseFailure::Syntax(Skipped {
                            location,
                            message: error.to_string(),
                        }))
                    }
                    Err(RdfXmlParseError::Io(error)) => Err(ParseFailure::Read(error)),
                })
            }))
        }
    }
}

/// `file:line:column` and the bare message of a syntax error.
pub(super) fn describe(file: &str, error: &RdfSyntaxError) -> Skipped {
    let location = match error.location() {
        Some(range) => format!("{file}:{}:{}", range.start.line + 1, range.start.column + 1),
        None => file.to_owned(),
    };
    Skipped {
        location,
        message: syntax_message(error),
    }
}

/// The message of a syntax error without the position oxrdfio puts in front of it.
pub(super) fn syntax_message(error: &RdfSyntaxError) -> String {
    let text = error.to_string();
    match text.strip_prefix("Parser error") {
        Some(rest) => rest
            .split_once(": ")
            .map_or(text.as_str(), |(_, message)| message)
            .to_owned(),
        None => text,
    }
}

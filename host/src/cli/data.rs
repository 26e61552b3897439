//! The data commands: `load`, `dump`, `quads`, `count`, `graphs`, `remove`, `clear`, `verify`,
//! `recover`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use clap::Args;
use oxrdf::{NamedNode, NamedOrBlankNode, Term};
use oxrdfio::{RdfFormat, RdfSerializer};

use super::output::outln;
use super::session::{Session, StoreUse};
use super::{Cli, Failure};
use crate::rdf::{self, DumpRequest, LoadRequest, Source};
use crate::store::{GraphPattern, LoadOptions, LoadPath, QuadPattern};
use crate::units::human_bytes;

const TERM_HELP: &str = "terms are written in N-Triples syntax: <http://example.com/x>, \"text\", \"text\"@en, \"5\"^^<http://www.w3.org/2001/XMLSchema#integer>, _:b0, <<( <s> <p> <o> )>>; ?name or * is unbound";

/// `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// RDF files (format from the extension, `.gz` allowed); `-` reads stdin (needs --format)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Format for every input: nt, nq, ttl, trig, rdf (RDF/XML), n3, jsonld or a media type
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Load the inputs' default-graph triples into this named graph (IRI)
    #[arg(long, value_name = "IRI")]
    pub graph: Option<String>,
    /// Base IRI for relative IRIs
    #[arg(long, value_name = "IRI")]
    pub base: Option<String>,
    /// Skip bad statements and report them, instead of loading nothing
    #[arg(long)]
    pub lenient: bool,
    /// Keep blank node labels as written (by default each input gets its own blank nodes, so
    /// `_:b0` in two files are two nodes)
    #[arg(long)]
    pub keep_blank_node_labels: bool,
    /// Quads per backend transaction (or batch, up to 16384): bounds the memory of a load;
    /// the load stays atomic
    #[arg(long, value_name = "N", default_value_t = LoadOptions::default().chunk_quads,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub chunk_quads: usize,
    /// How the load writes: `sorted` (sorted runs ingested by the backend), `transactions`
    /// (chunks, each a backend transaction), `batches` (atomic backend batches, no transaction
    /// bookkeeping), or `auto` (sorted for inputs of 8 MiB or more where the backend has
    /// `bulk-ingest`; else batches where the backend's transactions track conflicts, as
    /// RocksDB's do; else transactions)
    #[arg(long, value_name = "PATH", value_enum, default_value_t = LoadPathArg::Auto)]
    pub load_path: LoadPathArg,
    /// Memory a sorted load may hold (its runs and new terms) before it spills sorted runs to
    /// a temporary directory inside the data directory: 512MiB, 2GiB, …
    #[arg(long, value_name = "BYTES", default_value = "1GiB", value_parser = parse_memory_budget)]
    pub memory_budget: u64,
    /// Threads parsing N-Triples and N-Quads (cut into blocks of lines), and inputs read at
    /// once, at most [default: one per core]
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub parse_threads: usize,
}

/// Reads `--memory-budget`.
fn parse_memory_budget(text: &str) -> Result<u64, String> {
    let bytes = crate::units::parse_bytes(text)?;
    if bytes < crate::store::MIN_MEMORY_BUDGET {
        return Err(format!(
            "`{text}` is below the smallest budget a load takes ({})",
            human_bytes(crate::store::MIN_MEMORY_BUDGET)
        ));
    }
    Ok(bytes)
}

/// `load --load-path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadPathArg {
    /// Batches where the backend's transactions track conflicts, else transactions
    Auto,
    /// Chunks, each one backend transaction
    Transactions,
    /// Atomic backend batches outside transactions
    Batches,
    /// Sorted runs ingested by the backend (needs `bulk-ingest`)
    Sorted,
}

impl From<LoadPathArg> for LoadPath {
    fn from(arg: LoadPathArg) -> Self {
        match arg {
            LoadPathArg::Auto => Self::Auto,
            LoadPathArg::Transactions => Self::Transactions,
            LoadPathArg::Batches => Self::Batches,
            LoadPathArg::Sorted => Self::Sorted,
        }
    }
}

/// `dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Output format [default: from --output's extension, else nq]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Output file [default: stdout]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only this graph: an IRI, a blank node, or `default`
    #[arg(long, value_name = "GRAPH")]
    pub graph: Option<String>,
}

/// A quad pattern on the command line.
#[derive(Debug, Args)]
pub struct PatternArgs {
    /// Subject (?s or * for any)
    #[arg(value_name = "S", allow_hyphen_values = true)]
    pub subject: String,
    /// Predicate
    #[arg(value_name = "P", allow_hyphen_values = true)]
    pub predicate: String,
    /// Object
    #[arg(value_name = "O", allow_hyphen_values = true)]
    pub object: String,
    /// Graph: an IRI, a blank node, `default`, or ?g / * for any graph [default: any]
    #[arg(value_name = "G", allow_hyphen_values = true)]
    pub graph: Option<String>,
}

/// `quads`.
#[derive(Debug, Args)]
pub struct QuadsArgs {
    /// The pattern
    #[command(flatten)]
    pub pattern: PatternArgs,
    /// Print at most N quads
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Output format (nq or nt) [default: nq]
    #[arg(long, value_name = "FORMAT", default_value = "nq")]
    pub format: String,
}

/// `count`.
#[derive(Debug, Args)]
pub struct CountArgs {
    /// Count one graph: an IRI, a blank node, or `default` [default: every graph]
    #[arg(long, value_name = "GRAPH")]
    pub graph: Option<String>,
}

/// `clear`.
#[derive(Debug, Args)]
pub struct ClearArgs {
    /// Clear one graph: an IRI, a blank node, or `default` [default: the whole store]
    #[arg(long, value_name = "GRAPH")]
    pub graph: Option<String>,
}

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Differences to print at most
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_differences: usize,
}

fn parse_term(text: &str, what: &str) -> Result<Option<Term>, Failure> {
    if text == "*" || text.starts_with('?') {
        return Ok(None);
    }
    Term::from_str(text)
        .map(Some)
        .map_err(|error| Failure(format!("invalid {what} `{text}`: {error} ({TERM_HELP})")))
}

/// A graph argument: `default`, an IRI (with or without `<>`), a blank node, or unbound.
fn parse_graph(text: Option<&str>) -> Result<GraphPattern, Failure> {
    let Some(text) = text else {
        return Ok(GraphPattern::Any);
    };
    if text == "*" || text.starts_with('?') {
        return Ok(GraphPattern::Any);
    }
    if text.eq_ignore_ascii_case("default") {
        return Ok(GraphPattern::Default);
    }
    Ok(GraphPattern::Named(parse_graph_name(text)?))
}

fn parse_graph_name(text: &str) -> Result<NamedOrBlankNode, Failure> {
    let invalid = |message: String| {
        Failure(format!(
            "invalid graph `{text}`: {message} (a graph is an IRI such as <http://example.com/g>, a blank node, or `default`)"
        ))
    };
    if text.starts_with('"') {
        return Err(invalid("a literal cannot name a graph".into()));
    }
    if !text.starts_with('<') && !text.starts_with("_:") {
        return NamedNode::new(text)
            .map(Into::into)
            .map_err(|error| invalid(error.to_string()));
    }
    match Term::from_str(text).map_err(|error| invalid(error.to_string()))? {
        Term::NamedNode(node) => Ok(node.into()),
        Term::BlankNode(node) => Ok(node.into()),
        _ => Err(invalid("a literal cannot name a graph".into())),
    }
}

impl PatternArgs {
    /// The pattern the arguments describe: `?name` or `*` leaves a position unbound, anything
    /// else is a term in N-Triples syntax (the graph also takes `default` or a bare IRI).
    ///
    /// # Errors
    /// A [`Failure`] naming the position and the text when a term does not parse.
    pub fn to_pattern(&self) -> Result<QuadPattern, Failure> {
        Ok(QuadPattern {
            subject: parse_term(&self.subject, "subject")?,
            predicate: parse_term(&self.predicate, "predicate")?,
            object: parse_term(&self.object, "object")?,
            graph: parse_graph(self.graph.as_deref())?,
        })
    }
}

/// How the inputs of a load are named, for help texts.
pub(super) const LOAD_FORMAT_HELP: &str =
    "the format comes from each file's extension (nt, nq, ttl, trig, rdf, n3, jsonld; `.gz` allowed)";

/// The sources of a load: files (or `-` for standard input, which needs `format`), each
/// checked to exist and not be a directory.
pub(super) fn load_sources(
    files: &[PathBuf],
    format: Option<&str>,
) -> Result<Vec<Source>, Failure> {
    let mut sources = Vec::new();
    for file in files {
        if file.as_os_str() == "-" {
            let format =
                format.ok_or_else(|| Failure("reading stdin (`-`) needs --format".into()))?;
            sources.push(Source::Stdin(rdf::InputFormat {
                format: rdf::format_by_name(format)?,
                gzip: false,
            }));
        } else {
            // A pipe (`<(zcat …)`) or device is read like a file; a directory is not RDF.
            if !file.exists() {
                return Err(Failure(format!(
                    "{}: no such file; nothing was loaded",
                    file.display()
                )));
            }
            if file.is_dir() {
                return Err(Failure(format!(
                    "{}: is a directory, not an RDF file; nothing was loaded",
                    file.display()
                )));
            }
            sources.push(Source::File(
                file.clone(),
                rdf::format_for_path(file, format)?,
            ));
        }
    }
    Ok(sources)
}

pub(super) fn load(cli: &Cli, session: &Session, args: &LoadArgs) -> Result<ExitCode, Failure> {
    let sources = load_sources(&args.files, args.format.as_deref())?;
    let graph = args.graph.as_deref().map(parse_graph_name).transpose()?;
    let opened = session.open_store(cli, StoreUse::Create)?;
    let request = LoadRequest {
        sources,
        graph,
        base_iri: args.base.clone(),
        lenient: args.lenient,
        keep_blank_node_labels: args.keep_blank_node_labels,
        options: LoadOptions {
            chunk_quads: args.chunk_quads,
            path: args.load_path.into(),
        },
        memory_budget: args.memory_budget,
        parse_threads: args.parse_threads,
        progress: std::io::stderr().is_terminal(),
        data_dir: opened.persistent.then(|| cli.data_dir.clone()),
    };
    let store = opened.store;
    let report = rdf::load(&store, &request)?;
    for skipped in &report.skipped {
        eprintln!("warning: skipped {}: {}", skipped.location, skipped.message);
    }
    if report.skipped_count > report.skipped.len() as u64 {
        eprintln!(
            "warning: … and {} more skipped statements",
            report.skipped_count - report.skipped.len() as u64
        );
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let seconds = report.elapsed.as_secs_f64();
    let counts = store.counts()?;
    let on_disk = report
        .record
        .as_ref()
        .and_then(|record| record.bytes_on_disk);
    let printed = outln!(
        "loaded {} new quads ({} read, {} skipped) from {} input(s) in {seconds:.2} s ({:.0} quads/s); the store holds {} quads{}",
        report.summary.inserted,
        report.summary.read,
        report.skipped_count,
        args.files.len(),
        report.summary.read as f64 / seconds.max(1e-9),
        counts.quads,
        on_disk
            .map(|bytes| format!(", {} on disk", human_bytes(bytes)))
            .unwrap_or_default(),
    ).map_err(|Failure(message)| {
        Failure(format!(
            "{message} (the load itself committed: {} new quads)",
            report.summary.inserted
        ))
    });
    store.close()?;
    printed?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn dump(cli: &Cli, session: &Session, args: &DumpArgs) -> Result<ExitCode, Failure> {
    let format = match (&args.format, &args.output) {
        (Some(name), _) => rdf::format_by_name(name)?,
        (None, Some(path)) => rdf::format_for_path(path, None)?.format,
        (None, None) => RdfFormat::NQuads,
    };
    let request = DumpRequest {
        format,
        graph: parse_graph(args.graph.as_deref())?,
    };
    let store = session.open_store(cli, StoreUse::Read)?.store;
    let written = match &args.output {
        Some(path) => {
            let file = File::create(path)
                .map_err(|error| Failure(format!("{}: {error}", path.display())))?;
            let gzip = path.extension().is_some_and(|extension| extension == "gz");
            let written = if gzip {
                let encoder = flate2::write::GzEncoder::new(
                    BufWriter::new(file),
                    flate2::Compression::default(),
                );
                let mut encoder = encoder;
                let written = rdf::dump(&store, &request, &mut encoder)?;
                encoder
                    .finish()
                    .and_then(|mut inner| inner.flush())
                    .map_err(|error| Failure(format!("{}: {error}", path.display())))?;
                written
            } else {
                rdf::dump(&store, &request, BufWriter::new(file))?
            };
            eprintln!("wrote {written} quads to {}", path.display());
            written
        }
        None => match rdf::dump(&store, &request, BufWriter::new(std::io::stdout().lock())) {
            Err(rdf::DumpError::Write(error)) => {
                super::output::result(Err(error))?;
                0
            }
            other => other?,
        },
    };
    tracing::info!(quads = written, "dump finished");
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn quads(cli: &Cli, session: &Session, args: &QuadsArgs) -> Result<ExitCode, Failure> {
    let pattern = args.pattern.to_pattern()?;
    let format = rdf::format_by_name(&args.format)?;
    if !matches!(format, RdfFormat::NQuads | RdfFormat::NTriples) {
        return Err(Failure(format!(
            "--format {}: quads prints nq or nt (use dump for other formats)",
            args.format
        )));
    }
    let store = session.open_store(cli, StoreUse::Read)?.store;
    let snapshot = store.snapshot()?;
    let mut out =
        RdfSerializer::from_format(format).for_writer(BufWriter::new(std::io::stdout().lock()));
    let limit = args.limit.unwrap_or(u64::MAX);
    let mut printed = 0;
    let result = (|| -> Result<(), Failure> {
        for quad in snapshot.quads_for_pattern(&pattern)? {
            if printed >= limit {
                break;
            }
            let mut quad = quad?;
            if format == RdfFormat::NTriples {
                quad.graph_name = oxrdf::GraphName::DefaultGraph;
            }
            super::output::result(out.serialize_quad(&quad))?;
            printed += 1;
        }
        Ok(())
    })();
    result?;
    super::output::result(out.finish().and_then(|mut inner| inner.flush()))?;
    drop(snapshot);
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn count(cli: &Cli, session: &Session, args: &CountArgs) -> Result<ExitCode, Failure> {
    let graph = parse_graph(args.graph.as_deref())?;
    let store = session.open_store(cli, StoreUse::Read)?.store;
    let count = store.snapshot()?.graph_len(&graph)?;
    outln!("{count}")?;
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn graphs(cli: &Cli, session: &Session) -> Result<ExitCode, Failure> {
    let store = session.open_store(cli, StoreUse::Read)?.store;
    let mut graphs = store.snapshot()?.named_graphs()?;
    graphs.sort_by_cached_key(|(name, _)| name.to_string());
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (name, count) in graphs {
        super::output::result(writeln!(out, "{name}\t{count}"))?;
    }
    super::output::result(out.flush())?;
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn remove(
    cli: &Cli,
    session: &Session,
    args: &PatternArgs,
) -> Result<ExitCode, Failure> {
    let pattern = args.to_pattern()?;
    let store = session.open_store(cli, StoreUse::Change)?.store;
    let removed = store.update(3, |txn| txn.remove_pattern(&pattern))?;
    outln!("removed {removed} quads")?;
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn clear(cli: &Cli, session: &Session, args: &ClearArgs) -> Result<ExitCode, Failure> {
    let graph = parse_graph(args.graph.as_deref())?;
    let store = session.open_store(cli, StoreUse::Change)?.store;
    let removed = store.clear(&graph)?;
    outln!("removed {removed} quads")?;
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn recover(cli: &Cli, session: &Session) -> Result<ExitCode, Failure> {
    let store = session.open_store(cli, StoreUse::Change)?.store;
    if store.recovered_load() {
        outln!(
            "undid an interrupted load; the store holds {} quads",
            store.counts()?.quads
        )?;
    } else {
        outln!("nothing to recover: no load was interrupted")?;
    }
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn verify(cli: &Cli, session: &Session, args: &VerifyArgs) -> Result<ExitCode, Failure> {
    let store = session.open_store(cli, StoreUse::Read)?.store;
    let report = store.verify(args.max_differences)?;
    store.close()?;
    if report.is_ok() {
        outln!(
            "ok: {} index entries in 9 orderings and {} terms agree with each other and with the counters",
            report.index_entries, report.terms
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    for difference in &report.differences {
        outln!("{difference}")?;
    }
    Err(Failure(format!(
        "verify found {} difference(s){}",
        report.difference_count,
        if report.difference_count > report.differences.len() as u64 {
            format!(" (the first {} are shown)", report.differences.len())
        } else {
            String::new()
        }
    )))
}

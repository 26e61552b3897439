//! `query`: a SPARQL query over the store, results streamed to standard output.

use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use oxrdfio::RdfFormat;

use super::data::{load_sources, LOAD_FORMAT_HELP};
use super::session::{Session, StoreUse};
use super::{Cli, Failure};
use crate::rdf::{self, LoadRequest};
use crate::sparql::results::{self, ResultsFormat};
use crate::sparql::{self, QueryOptions, QueryResults, SparqlError};
use crate::store::LoadOptions;

/// `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The query text; `-` reads it from standard input
    #[arg(
        value_name = "QUERY",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub query: Option<String>,
    /// Read the query from FILE
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// SELECT and ASK results: json, xml, csv, tsv or table [default: table on a terminal,
    /// else json]; CONSTRUCT and DESCRIBE: an RDF format (ttl, nt, nq, trig, rdf, jsonld…)
    /// [default: ttl]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Cancel the query after this long (e.g. 30s, 500ms, 2m)
    #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Write at most N results (rows or triples)
    #[arg(long, value_name = "N")]
    pub limit_results: Option<u64>,
    /// Print the evaluation plan with per-operator statistics (JSON) on standard error
    #[arg(long)]
    pub explain: bool,
    /// Make the default graph the union of the named graphs
    #[arg(long)]
    pub union_default_graph: bool,
    /// Base IRI for relative IRIs in the query
    #[arg(long, value_name = "IRI")]
    pub base: Option<String>,
    /// Load this RDF file into the store first, then query; repeat for more files (one
    /// atomic load)
    #[arg(long, value_name = "FILE", help = format!("Load this RDF file into the store first, then query; repeat for more files (one atomic load); {LOAD_FORMAT_HELP}"))]
    pub data: Vec<PathBuf>,
}

/// The text of a query or update (`text`, `-` for standard input, or `file`) and the name
/// errors give it.
pub(super) fn request_text(
    text: Option<&str>,
    file: Option<&std::path::Path>,
    what: &str,
) -> Result<(String, String), Failure> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|error| Failure(format!("{}: {error}", file.display())))?;
        return Ok((text, file.display().to_string()));
    }
    match text {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| {
                    Failure(format!("reading the {what} from standard input: {error}"))
                })?;
            Ok((text, "standard input".to_owned()))
        }
        Some(text) => Ok((text.to_owned(), what.to_owned())),
        None => Err(Failure(format!("give the {what}, `-` or --file FILE"))),
    }
}

/// How the results are written, once the query's form is known.
enum Output {
    Results(ResultsFormat),
    Graph(RdfFormat),
}

fn output_format(args: &QueryArgs, query: &sparql::Query) -> Result<Output, Failure> {
    let graph = matches!(
        query,
        sparql::Query::Construct { .. } | sparql::Query::Describe { .. }
    );
    match (&args.format, graph) {
        (None, false) => Ok(Output::Results(if std::io::stdout().is_terminal() {
            ResultsFormat::Table
        } else {
            ResultsFormat::Json
        })),
        (None, true) => Ok(Output::Graph(RdfFormat::Turtle)),
        (Some(name), false) => ResultsFormat::from_name(name)
            .map(Output::Results)
            .ok_or_else(|| {
                Failure(format!(
                    "--format {name}: SELECT and ASK results are written as {}",
                    ResultsFormat::NAMES
                ))
            }),
        (Some(name), true) => rdf::format_by_name(name)
            .map(Output::Graph)
            .map_err(|error| {
                Failure(format!(
                    "--format {name}: {error} (CONSTRUCT and DESCRIBE write RDF)"
                ))
            }),
    }
}

/// How long past its time limit a query may run before the process ends it: the evaluator
/// checks its cancellation between steps, and some steps (a large in-memory join or sort)
/// take long.
const CANCELLATION_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Ends the process with the timeout's error line if the query is still running
/// [`CANCELLATION_GRACE`] after `timeout` (a query only reads, so nothing is left half-done).
fn watchdog(timeout: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(timeout.saturating_add(CANCELLATION_GRACE));
        // Not a flush of standard output: the main thread holds its lock.
        eprintln!("error: {}", SparqlError::Timeout(timeout));
        std::process::exit(1);
    });
}

pub(super) fn run(cli: &Cli, session: &Session, args: &QueryArgs) -> Result<ExitCode, Failure> {
    let (text, source_name) = request_text(args.query.as_deref(), args.file.as_deref(), "query")?;
    let query = sparql::parse_query(&text, &source_name, args.base.as_deref())?;
    let output = output_format(args, &query)?;
    let usage = if args.data.is_empty() {
        StoreUse::Read
    } else {
        StoreUse::Create
    };
    let opened = session.open_store(cli, usage)?;
    let store = opened.store;
    if !args.data.is_empty() {
        let request = LoadRequest {
            sources: load_sources(&args.data, None)?,
            graph: None,
            base_iri: None,
            lenient: false,
            keep_blank_node_labels: false,
            options: LoadOptions::default(),
            progress: std::io::stderr().is_terminal(),
            data_dir: opened.persistent.then(|| cli.data_dir.clone()),
            ..LoadRequest::default()
        };
        rdf::load(&store, &request)?;
    }
    let mut options = QueryOptions::default();
    options.base_iri.clone_from(&args.base);
    options.timeout = args.timeout;
    options.union_default_graph = args.union_default_graph;
    options.explain = args.explain;
    if let Some(timeout) = args.timeout {
        watchdog(timeout);
    }
    let snapshot = store.snapshot()?;
    let (results, context) = sparql::evaluate(&snapshot, &query, &options)?.into_parts();
    let out = BufWriter::new(std::io::stdout().lock());
    let written = match (results, output) {
        (QueryResults::Solutions(solutions), Output::Results(format)) => {
            let variables = solutions.variables().to_vec();
            results::write_solutions(
                out,
                format,
                &variables,
                solutions,
                &context,
                args.limit_results,
            )
        }
        (QueryResults::Boolean(value), Output::Results(format)) => {
            results::write_boolean(out, format, value).map(|()| 1)
        }
        (QueryResults::Graph(triples), Output::Graph(format)) => {
            results::write_graph(out, format, triples, &context, args.limit_results)
        }
        _ => Err(SparqlError::Evaluation(
            "the query's results do not match its form".to_owned(),
        )),
    };
    match written {
        // A closed pipe ends the command quietly; any other write error is its error line.
        Err(SparqlError::Output(error)) => super::output::result(Err(error))?,
        Err(error) => return Err(error.into()),
        Ok(_) => {}
    }
    if let Some(explanation) = context.explanation() {
        let mut err = std::io::stderr().lock();
        let _ = explanation
            .write_in_json(&mut err)
            .and_then(|()| writeln!(err));
    }
    drop(snapshot);
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

//! The W3C RDF syntax suites (N-Triples, N-Quads, Turtle, TriG, RDF/XML; RDF 1.1 and 1.2),
//! each test's file loaded through `kgdb_host::rdf::load`, the function `kgdb-host load` calls:
//! a positive test loads; an evaluation test's store afterwards is isomorphic to its expected
//! N-Triples or N-Quads; a negative test is refused with a `file:line:column` syntax error and
//! the store holds nothing afterwards.

use std::path::Path;

use kgdb_host::rdf::{self, LoadError, LoadRequest, Source};
use kgdb_host::store::Store;
use oxrdf::dataset::CanonicalizationAlgorithm;
use oxrdf::Dataset;
use oxrdfio::{RdfFormat, RdfParser};

use super::evaluation::store_quads;
use super::manifest::{published, Test};

/// What a test of the RDF suites asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// The file loads.
    Loads,
    /// The file loads, and the store then holds the result file's quads.
    Evaluates,
    /// The file is refused.
    Refused,
}

/// The expectation of a test type (`TestTurtleEval`, `TestNQuadsNegativeSyntax`…), or `None`
/// for a type of another suite.
pub fn expectation(kind: &str) -> Option<Expectation> {
    if !kind.starts_with("Test") {
        None
    } else if kind.ends_with("PositiveSyntax") {
        Some(Expectation::Loads)
    } else if kind.ends_with("NegativeSyntax") || kind.ends_with("NegativeEval") {
        Some(Expectation::Refused)
    } else if kind.ends_with("Eval") || kind.ends_with("PositiveC14N") {
        Some(Expectation::Evaluates)
    } else {
        None
    }
}

/// Every quad of the store, canonicalised (blank nodes named by the dataset's shape).
fn canonical_store(store: &Store) -> Result<Dataset, String> {
    let mut dataset = store_quads(store)?;
    dataset.canonicalize(CanonicalizationAlgorithm::Unstable);
    Ok(dataset)
}

/// The expected result file, parsed with its published IRI as base, canonicalised.
fn canonical_result(path: &Path, root: &Path) -> Result<Dataset, String> {
    let format = if path.extension().is_some_and(|e| e == "nq") {
        RdfFormat::NQuads
    } else {
        RdfFormat::NTriples
    };
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut dataset: Dataset = RdfParser::from_format(format)
        .with_base_iri(published(&format!("file://{}", path.display()), root))
        .map_err(|e| e.to_string())?
        .for_reader(std::io::BufReader::new(file))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    dataset.canonicalize(CanonicalizationAlgorithm::Unstable);
    Ok(dataset)
}

/// Whether `location` is `FILE:LINE:COLUMN` for `file`, with 1-based numbers.
fn names_line_and_column(location: &str, file: &str) -> bool {
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next().and_then(|c| c.parse::<u64>().ok());
    let line = parts.next().and_then(|l| l.parse::<u64>().ok());
    parts.next() == Some(file) && column.is_some_and(|c| c > 0) && line.is_some_and(|l| l > 0)
}

/// Runs one test of the RDF suites on a fresh store; `root` is the local copy of the suites.
pub fn run(
    test: &Test,
    expectation: Expectation,
    root: &Path,
    open: &dyn Fn() -> (Store, tempfile::TempDir),
) -> Result<(), String> {
    let path = test.action.as_ref().ok_or("the test names no file")?;
    let format = rdf::format_for_path(path, None).map_err(|e| e.to_string())?;
    let (store, _dir) = open();
    let request = LoadRequest {
        sources: vec![Source::File(path.clone(), format)],
        base_iri: Some(published(&format!("file://{}", path.display()), root)),
        ..LoadRequest::default()
    };
    let loaded = rdf::load(&store, &request);
    match (expectation, loaded) {
        (Expectation::Loads, Ok(_)) => Ok(()),
        (Expectation::Evaluates, Ok(_)) => {
            let result = test.result.as_ref().ok_or("the test names no result")?;
            let (actual, expected) = (canonical_store(&store)?, canonical_result(result, root)?);
            if actual == expected {
                Ok(())
            } else {
                Err(format!("expected {expected}\nbut the store holds {actual}"))
            }
        }
        (Expectation::Loads | Expectation::Evaluates, Err(error)) => {
            Err(format!("refused: {error}"))
        }
        (Expectation::Refused, Ok(report)) => Err(format!(
            "loaded {} quads from a file the test says is not valid",
            report.summary.inserted
        )),
        (Expectation::Refused, Err(LoadError::Syntax { location, message })) => {
            let held = canonical_store(&store)?.len();
            if held != 0 {
                Err(format!(
                    "refused ({message}) but the store holds {held} quads"
                ))
            } else if !names_line_and_column(&location, &path.display().to_string()) {
                Err(format!(
                    "refused, but `{location}` is not FILE:LINE:COLUMN ({message})"
                ))
            } else {
                Ok(())
            }
        }
        (Expectation::Refused, Err(error)) => {
            Err(format!("refused, but not as a syntax error: {error}"))
        }
    }
}

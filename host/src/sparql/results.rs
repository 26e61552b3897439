//! Writing query results: solutions and booleans in the W3C results formats (JSON, XML, CSV,
//! TSV, by `sparesults`) or as an aligned text table; graphs in any RDF format `oxrdfio`
//! writes. Everything streams: rows are written as they are read (a table measures its
//! columns on its first rows only).

use std::io::Write;

use oxrdf::Variable;
use oxrdfio::{RdfFormat, RdfSerializer};
use sparesults::{QueryResultsFormat, QueryResultsSerializer};
use spareval::{QuerySolution, QueryTripleIter};

use super::error::SparqlError;
use super::query::EvaluationContext;

/// Rows a table reads before it fixes its column widths.
const TABLE_MEASURED_ROWS: usize = 1000;

/// How solutions and booleans are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultsFormat {
    /// SPARQL 1.1 Query Results JSON.
    Json,
    /// SPARQL Query Results XML.
    Xml,
    /// SPARQL 1.1 Query Results CSV.
    Csv,
    /// SPARQL 1.1 Query Results TSV.
    Tsv,
    /// An aligned text table, for people.
    Table,
}

impl ResultsFormat {
    /// The names `--format` accepts.
    pub const NAMES: &'static str = "json, xml, csv, tsv, table";

    /// The format called `name` (case-insensitive), or `None`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "json" | "srj" => Self::Json,
            "xml" | "srx" => Self::Xml,
            "csv" => Self::Csv,
            "tsv" => Self::Tsv,
            "table" | "text" => Self::Table,
            _ => return None,
        })
    }

    fn w3c(self) -> Option<QueryResultsFormat> {
        Some(match self {
            Self::Json => QueryResultsFormat::Json,
            Self::Xml => QueryResultsFormat::Xml,
            Self::Csv => QueryResultsFormat::Csv,
            Self::Tsv => QueryResultsFormat::Tsv,
            Self::Table => return None,
        })
    }
}

/// Writes an `ASK` result.
///
/// # Errors
/// [`SparqlError::Output`] when writing fails.
pub fn write_boolean(
    out: impl Write,
    format: ResultsFormat,
    value: bool,
) -> Result<(), SparqlError> {
    match format.w3c() {
        Some(w3c) => {
            let mut out = QueryResultsSerializer::from_format(w3c)
                .serialize_boolean_to_writer(out, value)
                .map_err(SparqlError::Output)?;
            out.flush().map_err(SparqlError::Output)
        }
        None => {
            let mut out = out;
            writeln!(out, "{value}")
                .and_then(|()| out.flush())
                .map_err(SparqlError::Output)
        }
    }
}

/// Writes solutions as they come, at most `limit` of them; returns how many were written.
///
/// # Errors
/// [`SparqlError::Output`] when writing fails; the evaluation's own errors.
pub fn write_solutions(
    out: impl Write,
    format: ResultsFormat,
    variables: &[Variable],
    solutions: impl Iterator<Item = Result<QuerySolution, spareval::QueryEvaluationError>>,
    context: &EvaluationContext,
    limit: Option<u64>,
) -> Result<u64, SparqlError> {
    let limit = limit.unwrap_or(u64::MAX);
    let mut solutions = solutions
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|solution| solution.map_err(|error| context.error(error)));
    let Some(w3c) = format.w3c() else {
        return write_table(out, variables, &mut solutions);
    };
    let mut serializer = QueryResultsSerializer::from_format(w3c)
        .serialize_solutions_to_writer(out, variables.to_vec())
        .map_err(SparqlError::Output)?;
    let mut written = 0;
    for solution in solutions {
        serializer
            .serialize(&solution?)
            .map_err(SparqlError::Output)?;
        written += 1;
    }
    let mut out = serializer.finish().map_err(SparqlError::Output)?;
    out.flush().map_err(SparqlError::Output)?;
    Ok(written)
}

/// A cell of the table: the term in N-Triples form, but integers, decimals and booleans bare
/// where Turtle would write them so; empty when unbound.
fn cell(solution: &QuerySolution, variable: &Variable) -> String {
    match solution.get(variable) {
        None => String::new(),
        Some(oxrdf::Term::Literal(literal)) if is_bare_in_turtle(literal) => {
            literal.value().to_owned()
        }
        Some(term) => term.to_string(),
    }
}

/// Whether Turtle writes `literal` without quotes: an `xsd:integer` or `xsd:decimal` whose
/// text is a Turtle number, an `xsd:boolean` `true` or `false`.
fn is_bare_in_turtle(literal: &oxrdf::Literal) -> bool {
    use oxrdf::vocab::xsd;
    let value = literal.value();
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match literal.datatype() {
        d if d == xsd::INTEGER => all_digits(digits),
        d if d == xsd::DECIMAL => digits.split_once('.').is_some_and(|(whole, fraction)| {
            (whole.is_empty() || all_digits(whole)) && all_digits(fraction)
        }),
        d if d == xsd::BOOLEAN => matches!(value, "true" | "false"),
        _ => false,
    }
}

fn write_table(
    mut out: impl Write,
    variables: &[Variable],
    solutions: &mut impl Iterator<Item = Result<QuerySolution, SparqlError>>,
) -> Result<u64, SparqlError> {
    let mut first: Vec<Vec<String>> = Vec::new();
    for solution in solutions.by_ref().take(TABLE_MEASURED_ROWS) {
        let solution = solution?;
        first.push(variables.iter().map(|v| cell(&solution, v)).collect());
    }
    let header: Vec<String> = variables.iter().map(ToString::to_string).collect();
    let widths: Vec<usize> = (0..variables.len())
        .map(|column| {
            first
                .iter()
                .map(|row| row[column].chars().count())
                .chain([header[column].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule = |out: &mut dyn Write| -> std::io::Result<()> {
        let line: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
        writeln!(out, "+{}+", line.join("+"))
    };
    let row = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!(" {cell:<width$} "))
            .collect();
        writeln!(out, "|{}|", padded.join("|"))
    };
    let io = SparqlError::Output;
    rule(&mut out).map_err(io)?;
    row(&mut out, &header).map_err(io)?;
    rule(&mut out).map_err(io)?;
    let mut written = 0u64;
    for cells in first {
        row(&mut out, &cells).map_err(io)?;
        written += 1;
    }
    for solution in solutions {
        let solution = solution?;
        let cells: Vec<String> = variables.iter().map(|v| cell(&solution, v)).collect();
        row(&mut out, &cells).map_err(io)?;
        written += 1;
    }
    rule(&mut out).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(written)
}

/// Writes the triples of a `CONSTRUCT` or `DESCRIBE` in `format`, at most `limit` of them;
/// returns how many were written.
///
/// # Errors
/// [`SparqlError::Output`] when writing fails; the evaluation's own errors.
pub fn write_graph(
    out: impl Write,
    format: RdfFormat,
    triples: QueryTripleIter<'_>,
    context: &EvaluationContext,
    limit: Option<u64>,
) -> Result<u64, SparqlError> {
    let mut serializer = RdfSerializer::from_format(format).for_writer(out);
    let mut written = 0;
    for triple in triples.take(usize::try_from(limit.unwrap_or(u64::MAX)).unwrap_or(usize::MAX)) {
        let triple = triple.map_err(|error| context.error(error))?;
        serializer
            .serialize_triple(&triple)
            .map_err(SparqlError::Output)?;
        written += 1;
    }
    let mut out = serializer.finish().map_err(SparqlError::Output)?;
    out.flush().map_err(SparqlError::Output)?;
    Ok(written)
}

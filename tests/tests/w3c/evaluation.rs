//! Query evaluation tests: the test's data loaded into a fresh store on a plugin, its query
//! run through `kgdb_host::sparql::evaluate`, and the result compared with the expected one as
//! the suite intends: solutions unordered unless the query orders them, blank nodes mapped,
//! graphs compared by isomorphism. Both sides become RDF datasets (each solution a blank node
//! with one triple per bound variable, plus its position when order matters) compared after
//! canonicalisation, which finds the blank node mapping.

use std::path::{Path, PathBuf};

use kgdb_host::sparql::{self, QueryOptions, QueryResults};
use kgdb_host::store::Store;
use oxrdf::dataset::CanonicalizationAlgorithm;
use oxrdf::{BlankNode, Dataset, GraphName, Literal, NamedNode, Quad, Term, Variable};
use oxrdfio::{RdfFormat, RdfParser};
use sparesults::{QueryResultsFormat, QueryResultsParser, ReaderQueryResultsParserOutput};

const RS: &str = "http://www.w3.org/2001/sw/DataAccess/tests/result-set#";

/// Expected or actual results, in comparable form.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Boolean(bool),
    /// Solutions or a graph, as a canonical dataset.
    Dataset(Box<Dataset>),
}

/// One solution: its bound variables and their values.
type Row = Vec<(Variable, Term)>;

fn row(solution: &sparesults::QuerySolution) -> Row {
    solution
        .iter()
        .map(|(variable, value)| (variable.clone(), value.clone()))
        .collect()
}

pub fn file_iri(path: &Path) -> String {
    format!("file://{}", path.display())
}

pub fn parse_rdf(path: &Path) -> Result<Vec<Quad>, String> {
    let format = RdfFormat::from_extension(
        path.extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default(),
    )
    .ok_or_else(|| format!("{}: unknown RDF format", path.display()))?;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    RdfParser::from_format(format)
        .with_base_iri(file_iri(path))
        .map_err(|e| e.to_string())?
        .for_reader(std::io::BufReader::new(file))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A numeric or boolean literal in its canonical lexical form (`"1.0"^^xsd:decimal` and
/// `"1"^^xsd:decimal` are one value), so that results compare by value as the suite intends;
/// any other term as it is.
fn normalized(term: Term) -> Term {
    use oxrdf::vocab::xsd;
    use std::str::FromStr;
    let Term::Literal(literal) = &term else {
        return term;
    };
    let value = literal.value();
    let datatype = literal.datatype();
    fn canonical_form<T: FromStr + std::fmt::Display>(value: &str) -> Option<String> {
        T::from_str(value).ok().map(|v| v.to_string())
    }
    let canonical = if datatype == xsd::INTEGER {
        canonical_form::<oxsdatatypes::Integer>(value)
    } else if datatype == xsd::DECIMAL {
        canonical_form::<oxsdatatypes::Decimal>(value)
    } else if datatype == xsd::DOUBLE {
        canonical_form::<oxsdatatypes::Double>(value)
    } else if datatype == xsd::FLOAT {
        canonical_form::<oxsdatatypes::Float>(value)
    } else if datatype == xsd::BOOLEAN {
        canonical_form::<oxsdatatypes::Boolean>(value)
    } else {
        None
    };
    match canonical {
        Some(canonical) => Literal::new_typed_literal(canonical, datatype.into_owned()).into(),
        None => term,
    }
}

/// Solutions as a dataset: a blank node per solution, `<var:NAME>` triples to its values, and
/// `<var:#index>` when the order counts.
fn solutions_dataset(solutions: impl IntoIterator<Item = Row>, ordered: bool) -> Dataset {
    let mut dataset = Dataset::new();
    for (index, solution) in solutions.into_iter().enumerate() {
        let row = BlankNode::default();
        for (variable, value) in solution {
            dataset.insert(&Quad::new(
                row.clone(),
                NamedNode::new_unchecked(format!("var:{}", variable.as_str())),
                normalized(value),
                GraphName::DefaultGraph,
            ));
        }
        if ordered {
            dataset.insert(&Quad::new(
                row,
                NamedNode::new_unchecked("var:#index"),
                Literal::from(index as i64),
                GraphName::DefaultGraph,
            ));
        }
    }
    dataset
}

pub fn canonical(dataset: Dataset) -> Outcome {
    let mut dataset: Dataset = dataset
        .iter()
        .map(|quad| {
            let mut quad = quad.into_owned();
            quad.object = normalized(quad.object);
            quad
        })
        .collect();
    dataset.canonicalize(CanonicalizationAlgorithm::Unstable);
    Outcome::Dataset(Box::new(dataset))
}

/// Reads results in the result-set vocabulary (a Turtle file of `rs:ResultSet`).
fn result_set(quads: &[Quad], ordered: bool) -> Result<Outcome, String> {
    let graph: oxrdf::Graph = quads
        .iter()
        .map(|q| oxrdf::Triple::from(q.clone()))
        .collect();
    let rs = |name: &str| NamedNode::new_unchecked(format!("{RS}{name}"));
    let set = graph
        .subjects_for_predicate_object(
            &NamedNode::new_unchecked("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
            &rs("ResultSet"),
        )
        .next()
        .ok_or("no rs:ResultSet")?
        .into_owned();
    if let Some(Term::Literal(value)) = graph
        .object_for_subject_predicate(&set, &rs("boolean"))
        .map(|t| t.into_owned())
    {
        return Ok(Outcome::Boolean(value.value() == "true"));
    }
    let mut rows: Vec<(Option<i64>, Row)> = Vec::new();
    for solution in graph.objects_for_subject_predicate(&set, &rs("solution")) {
        let solution: oxrdf::NamedOrBlankNode = match solution {
            oxrdf::TermRef::BlankNode(b) => b.into_owned().into(),
            oxrdf::TermRef::NamedNode(n) => n.into_owned().into(),
            _ => return Err("a solution that is a literal".into()),
        };
        let index = graph
            .object_for_subject_predicate(&solution, &rs("index"))
            .and_then(|t| match t {
                oxrdf::TermRef::Literal(l) => l.value().parse().ok(),
                _ => None,
            });
        let mut values = Vec::new();
        for binding in graph.objects_for_subject_predicate(&solution, &rs("binding")) {
            let binding: oxrdf::NamedOrBlankNode = match binding {
                oxrdf::TermRef::BlankNode(b) => b.into_owned().into(),
                _ => return Err("a binding that is not a blank node".into()),
            };
            let variable = match graph.object_for_subject_predicate(&binding, &rs("variable")) {
                Some(oxrdf::TermRef::Literal(name)) => Variable::new_unchecked(name.value()),
                _ => return Err("a binding without rs:variable".into()),
            };
            let value = graph
                .object_for_subject_predicate(&binding, &rs("value"))
                .ok_or("a binding without rs:value")?
                .into_owned();
            values.push((variable, value));
        }
        rows.push((index, values));
    }
    let ordered = ordered && rows.iter().all(|(index, _)| index.is_some());
    rows.sort_by_key(|(index, _)| *index);
    Ok(canonical(solutions_dataset(
        rows.into_iter().map(|(_, values)| values),
        ordered,
    )))
}

/// The expected outcome in `path`.
fn expected(path: &Path, ordered: bool) -> Result<Outcome, String> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let results_format = match extension {
        "srx" => Some(QueryResultsFormat::Xml),
        "srj" => Some(QueryResultsFormat::Json),
        "tsv" => Some(QueryResultsFormat::Tsv),
        _ => None,
    };
    if let Some(format) = results_format {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return match QueryResultsParser::from_format(format)
            .for_reader(std::io::BufReader::new(file))
            .map_err(|e| format!("{}: {e}", path.display()))?
        {
            ReaderQueryResultsParserOutput::Boolean(value) => Ok(Outcome::Boolean(value)),
            ReaderQueryResultsParserOutput::Solutions(solutions) => {
                let rows = solutions
                    .map(|solution| solution.map(|s| row(&s)))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(canonical(solutions_dataset(rows, ordered)))
            }
        };
    }
    let quads = parse_rdf(path)?;
    let is_result_set = quads
        .iter()
        .any(|q| q.object.to_string() == format!("<{RS}ResultSet>"));
    if is_result_set {
        return result_set(&quads, ordered);
    }
    Ok(canonical(quads.into_iter().collect()))
}

/// The quads of a test's files: `data` in the default graph, each of `graph_data` in its named
/// graph.
pub fn dataset_quads(
    data: &[PathBuf],
    graph_data: &[(String, PathBuf)],
) -> Result<Vec<Quad>, String> {
    let mut quads = Vec::new();
    for path in data {
        quads.extend(parse_rdf(path)?.into_iter().map(|mut q| {
            q.graph_name = GraphName::DefaultGraph;
            q
        }));
    }
    for (name, path) in graph_data {
        let graph = GraphName::from(NamedNode::new_unchecked(name));
        quads.extend(parse_rdf(path)?.into_iter().map(|mut q| {
            q.graph_name = graph.clone();
            q
        }));
    }
    Ok(quads)
}

/// Every quad the store holds.
pub fn store_quads(store: &Store) -> Result<Dataset, String> {
    store
        .snapshot()
        .and_then(|snapshot| {
            snapshot
                .quads_for_pattern(&kgdb_host::store::QuadPattern::default())?
                .collect::<Result<Dataset, _>>()
        })
        .map_err(|e| format!("reading the store: {e}"))
}

/// A fresh store holding the test's data.
pub fn store_with_data(
    open: &dyn Fn() -> (Store, tempfile::TempDir),
    data: &[PathBuf],
    graph_data: &[(String, PathBuf)],
) -> Result<(Store, tempfile::TempDir), String> {
    let (store, dir) = open();
    let quads = dataset_quads(data, graph_data)?;
    store
        .update(1, |txn| txn.insert_all(&quads))
        .map_err(|e| format!("loading the test data: {e}"))?;
    Ok((store, dir))
}

/// Runs one query evaluation test.
pub fn run(
    test: &super::manifest::Test,
    open: &dyn Fn() -> (Store, tempfile::TempDir),
) -> Result<(), String> {
    let query_path = test.query.as_ref().ok_or("the test names no query")?;
    let result_path = test.result.as_ref().ok_or("the test names no result")?;
    let text = std::fs::read_to_string(query_path)
        .map_err(|e| format!("{}: {e}", query_path.display()))?;
    let query = sparql::parse_query(&text, "query", Some(&file_iri(query_path)))
        .map_err(|e| e.to_string())?;
    let ordered = text.to_ascii_uppercase().contains("ORDER BY");
    let (store, _dir) = store_with_data(open, &test.data, &test.graph_data)?;
    let snapshot = store.snapshot().map_err(|e| e.to_string())?;
    let (results, context) = sparql::evaluate(&snapshot, &query, &QueryOptions::default())
        .map_err(|e| e.to_string())?
        .into_parts();
    let actual = match results {
        QueryResults::Boolean(value) => Outcome::Boolean(value),
        QueryResults::Solutions(solutions) => {
            let rows = solutions
                .map(|solution| solution.map(|s| row(&s)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| context.error(e).to_string())?;
            canonical(solutions_dataset(rows, ordered))
        }
        QueryResults::Graph(triples) => canonical(
            triples
                .map(|t| t.map(|t| t.in_graph(GraphName::DefaultGraph)))
                .collect::<Result<Dataset, _>>()
                .map_err(|e| context.error(e).to_string())?,
        ),
    };
    let expected = expected(result_path, ordered)?;
    if actual == expected {
        Ok(())
    } else {
        Err(format!("expected {expected:?}\nbut got {actual:?}"))
    }
}

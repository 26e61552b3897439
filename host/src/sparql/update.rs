//! SPARQL 1.1 Update: every operation of a request in one store transaction, so a request
//! changes everything it says or nothing.

use std::collections::HashMap;
use std::path::PathBuf;

use oxrdf::{BlankNode, GraphName, NamedNode, NamedOrBlankNode, Quad, Term};
use oxrdfio::RdfParser;
use spareval::{CancellationToken, DeleteInsertQuad, QueryEvaluator};
use spargebra::algebra::GraphTarget;
use spargebra::{GraphUpdateOperation, Update};

use super::dataset::StoreDataset;
use super::error::SparqlError;
use super::query::RequestDataset;
use crate::store::{GraphPattern, Store, Transaction};

/// Quads inserted per call while loading a file.
const LOAD_BATCH: usize = 1024;

/// What a request changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpdateSummary {
    /// Quads the store did not hold before and holds now (counted per operation).
    pub inserted: u64,
    /// Quads the store held and no longer holds (counted per operation).
    pub removed: u64,
}

/// How an update runs beyond its text.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct UpdateOptions {
    /// The dataset of every `DELETE`/`INSERT … WHERE` (the protocol's `using-graph-uri` and
    /// `using-named-graph-uri`); an operation with its own `USING` or `WITH` is then refused.
    pub using: Option<RequestDataset>,
    /// Stops the evaluation of `WHERE` patterns once cancelled (the request then fails and
    /// changes nothing).
    pub cancellation: Option<CancellationToken>,
    /// The time limit the cancellation stands for, named in the error.
    pub timeout: Option<std::time::Duration>,
    /// Refuse `LOAD` (a server does: it would read files of the server's machine).
    pub refuse_load: bool,
}

impl std::fmt::Debug for UpdateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateOptions")
            .field("using", &self.using)
            .field("cancellable", &self.cancellation.is_some())
            .field("timeout", &self.timeout)
            .field("refuse_load", &self.refuse_load)
            .finish()
    }
}

/// Parses a SPARQL 1.1 update; `source_name` names the text in errors.
///
/// # Errors
/// [`SparqlError::Syntax`] with line and column; [`SparqlError::BaseIri`].
pub fn parse_update(
    text: &str,
    source_name: &str,
    base_iri: Option<&str>,
) -> Result<Update, SparqlError> {
    super::nesting::check(text, source_name)?;
    super::query::parser(base_iri)?
        .parse_update(text)
        .map_err(|error| SparqlError::syntax(source_name, &error))
}

/// Runs every operation of `update` in one transaction and commits it; on any error nothing
/// is changed.
///
/// A named graph exists from `CREATE GRAPH` or its first quad until `DROP GRAPH` (`CLEAR`
/// keeps it, empty), or until a `DELETE` takes its last quad: `CREATE` of an existing graph
/// and `CLEAR` or `DROP` of a missing one fail unless `SILENT`. `LOAD` reads `file:` IRIs
/// only.
///
/// # Errors
/// [`SparqlError::Update`] for an operation that fails without `SILENT`; evaluation and store
/// failures.
pub fn execute_update(store: &Store, update: &Update) -> Result<UpdateSummary, SparqlError> {
    let mut txn = store.transaction()?;
    let summary = execute_update_in(&mut txn, update)?;
    txn.commit()?;
    Ok(summary)
}

/// Runs every operation of `update` in `txn`, which the caller commits or drops (a dry run, or
/// an update made atomic with other writes). On an error, drop the transaction: operations
/// before the failing one are in it.
///
/// # Errors
/// As [`execute_update`].
pub fn execute_update_in(
    txn: &mut Transaction<'_>,
    update: &Update,
) -> Result<UpdateSummary, SparqlError> {
    execute_update_with(txn, update, &UpdateOptions::default())
}

/// [`execute_update_in`] with [`UpdateOptions`]: a dataset given beside the update, a
/// cancellation, `LOAD` refused.
///
/// # Errors
/// As [`execute_update`]; [`SparqlError::Update`] for an operation the options refuse;
/// [`SparqlError::Timeout`] once cancelled.
pub fn execute_update_with(
    txn: &mut Transaction<'_>,
    update: &Update,
    options: &UpdateOptions,
) -> Result<UpdateSummary, SparqlError> {
    check_options(update, options)?;
    let mut summary = UpdateSummary::default();
    for operation in &update.operations {
        apply(txn, operation, update, options, &mut summary)?;
    }
    Ok(summary)
}

/// Refuses, before anything runs, what `options` rule out.
fn check_options(update: &Update, options: &UpdateOptions) -> Result<(), SparqlError> {
    for operation in &update.operations {
        match operation {
            GraphUpdateOperation::Load { source, .. } if options.refuse_load => {
                return Err(SparqlError::Update(format!(
                    "LOAD {source}: LOAD is not allowed here (it would read files of the server's machine)"
                )));
            }
            GraphUpdateOperation::DeleteInsert { using: Some(_), .. }
                if options.using.is_some() =>
            {
                return Err(SparqlError::Update(
                    "the request gives a dataset (using-graph-uri or using-named-graph-uri) and the update has its own USING or WITH: give one or the other".to_owned(),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn apply(
    txn: &mut Transaction<'_>,
    operation: &GraphUpdateOperation,
    update: &Update,
    options: &UpdateOptions,
    summary: &mut UpdateSummary,
) -> Result<(), SparqlError> {
    match operation {
        GraphUpdateOperation::InsertData { data } => {
            let mut fresh = FreshBlankNodes::default();
            let quads: Vec<Quad> = data
                .iter()
                .map(|quad| {
                    Quad::new(
                        fresh.subject(&quad.subject),
                        quad.predicate.clone(),
                        fresh.term(&quad.object),
                        graph_name(&quad.graph_name),
                    )
                })
                .collect();
            summary.inserted += txn.insert_all(&quads)?;
        }
        GraphUpdateOperation::DeleteData { data } => {
            for quad in data {
                let quad = Quad::new(
                    quad.subject.clone(),
                    quad.predicate.clone(),
                    Term::from(quad.object.clone()),
                    graph_name(&quad.graph_name),
                );
                summary.removed += u64::from(txn.remove(&quad)?);
            }
        }
        GraphUpdateOperation::DeleteInsert {
            delete,
            insert,
            using,
            pattern,
        } => {
            let mut evaluator = QueryEvaluator::new();
            if let Some(token) = &options.cancellation {
                evaluator = evaluator.with_cancellation_token(token.clone());
            }
            let mut prepared = evaluator.prepare_delete_insert(
                delete.clone(),
                insert.clone(),
                update.base_iri.clone(),
                using.clone(),
                pattern,
            );
            if let Some(dataset) = &options.using {
                dataset.apply(prepared.dataset_mut());
            }
            let changes: Vec<DeleteInsertQuad> = {
                let dataset = StoreDataset::new(txn.id_view()?);
                prepared
                    .execute(dataset)
                    .and_then(Iterator::collect)
                    .map_err(|error| SparqlError::evaluation(error, options.timeout))?
            };
            let (mut deletes, mut inserts) = (Vec::new(), Vec::new());
            for change in changes {
                match change {
                    DeleteInsertQuad::Delete(quad) => deletes.push(quad),
                    DeleteInsertQuad::Insert(quad) => inserts.push(quad),
                }
            }
            for quad in &deletes {
                summary.removed += u64::from(txn.remove(quad)?);
            }
            summary.inserted += txn.insert_all(&inserts)?;
        }
        GraphUpdateOperation::Load {
            silent,
            source,
            destination,
        } => match load(txn, source, destination) {
            Ok(inserted) => summary.inserted += inserted,
            Err(_) if *silent => {}
            Err(error) => return Err(error),
        },
        GraphUpdateOperation::Clear { silent, graph } => {
            summary.removed += empty_graphs(txn, graph, *silent, Emptying::Clear)?;
        }
        GraphUpdateOperation::Drop { silent, graph } => {
            summary.removed += empty_graphs(txn, graph, *silent, Emptying::Drop)?;
        }
        GraphUpdateOperation::Create { silent, graph } => {
            if !txn.create_graph(&graph.clone().into())? && !silent {
                return Err(SparqlError::Update(format!(
                    "CREATE GRAPH {graph}: the graph already exists (use CREATE SILENT to ignore)"
                )));
            }
        }
    }
    Ok(())
}

/// The store's graph name of an update's quad.
fn graph_name(name: &spargebra::term::GraphName) -> GraphName {
    match name {
        spargebra::term::GraphName::NamedNode(node) => node.clone().into(),
        spargebra::term::GraphName::DefaultGraph => GraphName::DefaultGraph,
    }
}

/// Blank nodes of one `INSERT DATA`: each label gets a fresh node, the same within the
/// operation.
#[derive(Default)]
struct FreshBlankNodes(HashMap<BlankNode, BlankNode>);

impl FreshBlankNodes {
    fn node(&mut self, node: &BlankNode) -> BlankNode {
        self.0.entry(node.clone()).or_default().clone()
    }

    fn subject(&mut self, subject: &NamedOrBlankNode) -> NamedOrBlankNode {
        match subject {
            NamedOrBlankNode::BlankNode(node) => self.node(node).into(),
            other => other.clone(),
        }
    }

    fn term(&mut self, term: &Term) -> Term {
        match term {
            Term::BlankNode(node) => self.node(node).into(),
            Term::Triple(triple) => Term::Triple(Box::new(oxrdf::Triple::new(
                self.subject(&triple.subject),
                triple.predicate.clone(),
                self.term(&triple.object),
            ))),
            other => other.clone(),
        }
    }
}

/// The error of `CLEAR` or `DROP` of a named graph the store does not have.
fn no_such_graph(verb: &str, name: &NamedNode) -> SparqlError {
    SparqlError::Update(format!(
        "{verb} GRAPH {name}: the store has no such graph (use {verb} SILENT to ignore)"
    ))
}

/// What `CLEAR` and `DROP` do to a named graph: empty it, or remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Emptying {
    /// `CLEAR`: the graph goes on existing, empty.
    Clear,
    /// `DROP`: the graph is gone.
    Drop,
}

/// Empties `graph` (the default graph, one named graph, the named ones or all) as `how` says;
/// a named graph the store does not have is an error unless `silent`. Returns the quads
/// removed.
fn empty_graphs(
    txn: &mut Transaction<'_>,
    graph: &GraphTarget,
    silent: bool,
    how: Emptying,
) -> Result<u64, SparqlError> {
    let names = match graph {
        GraphTarget::NamedNode(name) => {
            if !txn.graph_exists(&name.clone().into())? {
                let verb = match how {
                    Emptying::Clear => "CLEAR",
                    Emptying::Drop => "DROP",
                };
                return if silent {
                    Ok(0)
                } else {
                    Err(no_such_graph(verb, name))
                };
            }
            vec![NamedOrBlankNode::from(name.clone())]
        }
        GraphTarget::DefaultGraph => return Ok(txn.clear(&GraphPattern::Default)?),
        GraphTarget::NamedGraphs | GraphTarget::AllGraphs => named_graphs(txn)?,
    };
    let mut removed = 0;
    if matches!(graph, GraphTarget::AllGraphs) {
        removed += txn.clear(&GraphPattern::Default)?;
    }
    for name in names {
        removed += match how {
            Emptying::Clear => {
                let cleared = txn.clear(&GraphPattern::Named(name.clone()))?;
                txn.create_graph(&name)?;
                cleared
            }
            Emptying::Drop => txn.drop_graph(&name)?.unwrap_or(0),
        };
    }
    Ok(removed)
}

/// The names of the store's named graphs, empty ones included.
fn named_graphs(txn: &mut Transaction<'_>) -> Result<Vec<NamedOrBlankNode>, SparqlError> {
    Ok(txn
        .named_graphs()?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// The local file a `file:` IRI names.
fn file_path(source: &NamedNode) -> Result<PathBuf, SparqlError> {
    let iri = source.as_str();
    let rest = iri
        .strip_prefix("file://")
        .or_else(|| iri.strip_prefix("file:"))
        .ok_or_else(|| {
            SparqlError::Update(format!(
                "LOAD {source}: only file: IRIs can be loaded (use LOAD SILENT to ignore)"
            ))
        })?;
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    let decoded = percent_decode(path).ok_or_else(|| {
        SparqlError::Update(format!("LOAD {source}: the IRI's path is not valid UTF-8"))
    })?;
    Ok(PathBuf::from(decoded))
}

/// Decodes `%XX` escapes.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Loads a file into the transaction: its default-graph triples into `destination`, its named
/// graphs as they are, its blank nodes fresh.
fn load(
    txn: &mut Transaction<'_>,
    source: &NamedNode,
    destination: &spargebra::term::GraphName,
) -> Result<u64, SparqlError> {
    let path = file_path(source)?;
    let fail = |message: String| SparqlError::Update(format!("LOAD {source}: {message}"));
    let input =
        crate::rdf::format_for_path(&path, None).map_err(|error| fail(error.to_string()))?;
    let reader = crate::rdf::open_file(&path, input).map_err(|error| fail(error.to_string()))?;
    let parser = RdfParser::from_format(input.format)
        .with_base_iri(source.as_str())
        .map_err(|error| fail(error.to_string()))?
        .rename_blank_nodes()
        .for_reader(reader);
    let destination = graph_name(destination);
    let mut batch = Vec::with_capacity(LOAD_BATCH);
    let mut inserted = 0;
    for quad in parser {
        let mut quad = quad.map_err(|error| fail(format!("{}: {error}", path.display())))?;
        if quad.graph_name.is_default_graph() {
            quad.graph_name = destination.clone();
        }
        batch.push(quad);
        if batch.len() == LOAD_BATCH {
            inserted += txn.insert_all(&batch)?;
            batch.clear();
        }
    }
    inserted += txn.insert_all(&batch)?;
    Ok(inserted)
}

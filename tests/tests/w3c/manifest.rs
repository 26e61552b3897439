//! Reading W3C test manifests (Turtle): the tests of a manifest and of the manifests it
//! includes, each with its type, action and result, its IRIs resolved to local files.

use std::path::{Path, PathBuf};

use oxrdf::{Graph, NamedNode, NamedNodeRef, NamedOrBlankNode, Term, TermRef};
use oxrdfio::{RdfFormat, RdfParser};

const MF: &str = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#";
const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const RDFT: &str = "http://www.w3.org/ns/rdftest#";
const QT: &str = "http://www.w3.org/2001/sw/DataAccess/tests/test-query#";
const UT: &str = "http://www.w3.org/2009/sparql/tests/test-update#";
const RDFS_LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";
/// Where the suites are published; the local copy has the same layout.
const PUBLISHED: &str = "https://w3c.github.io/rdf-tests/";

/// One test of a manifest.
#[derive(Debug, Clone)]
pub struct Test {
    /// The test's IRI.
    pub id: String,
    /// Its type, without the namespace (`PositiveSyntaxTest11`…).
    pub kind: String,
    /// The file it runs (a query or update), when its action is one file.
    pub action: Option<PathBuf>,
    /// An evaluation test's query (`qt:query` of its action).
    pub query: Option<PathBuf>,
    /// Files loaded into the default graph (`qt:data`).
    pub data: Vec<PathBuf>,
    /// Files loaded into named graphs, each named by its IRI (`qt:graphData`).
    pub graph_data: Vec<(String, PathBuf)>,
    /// The expected result file (`mf:result`).
    pub result: Option<PathBuf>,
    /// An update evaluation test's request (`ut:request` of its action).
    pub request: Option<PathBuf>,
    /// The store an update evaluation test expects afterwards (`ut:data` and `ut:graphData`
    /// of its result).
    pub expected_store: StoreFiles,
}

/// The files of a store's contents, as an update evaluation test gives them.
#[derive(Debug, Clone, Default)]
pub struct StoreFiles {
    /// Files of the default graph.
    pub data: Vec<PathBuf>,
    /// Files of named graphs, each with the graph's IRI.
    pub graph_data: Vec<(String, PathBuf)>,
}

/// The `ut:data` and `ut:graphData` files of `node` (an update test's action or result).
fn store_files(graph: &Graph, subject: &NamedOrBlankNode, root: &Path) -> StoreFiles {
    let objects = |subject: &NamedOrBlankNode, predicate: &str| -> Vec<Term> {
        graph
            .objects_for_subject_predicate(subject, &node(predicate))
            .map(TermRef::into_owned)
            .collect()
    };
    let data = objects(subject, &format!("{UT}data"))
        .into_iter()
        .filter_map(|term| match term {
            Term::NamedNode(iri) => local_path(iri.as_str(), root),
            _ => None,
        })
        .collect();
    let mut graph_data = Vec::new();
    for entry in objects(subject, &format!("{UT}graphData")) {
        let Term::BlankNode(entry) = entry else {
            continue;
        };
        let entry = NamedOrBlankNode::from(entry);
        let file = objects(&entry, &format!("{UT}graph")).into_iter().next();
        let label = objects(&entry, RDFS_LABEL).into_iter().next();
        if let (Some(Term::NamedNode(file)), Some(Term::Literal(label))) = (file, label) {
            if let Some(path) = local_path(file.as_str(), root) {
                graph_data.push((label.value().to_owned(), path));
            }
        }
    }
    StoreFiles { data, graph_data }
}

fn node(iri: &str) -> NamedNode {
    NamedNode::new_unchecked(iri)
}

/// The local file of a test IRI: `file:` IRIs as they are, the published prefix mapped to
/// `root`.
fn local_path(iri: &str, root: &Path) -> Option<PathBuf> {
    if let Some(rest) = iri.strip_prefix(PUBLISHED) {
        return Some(root.join(rest));
    }
    iri.strip_prefix("file://").map(PathBuf::from)
}

/// The published IRI of a local file IRI (`file://ROOT/…` → `https://w3c.github.io/rdf-tests/…`),
/// so that names and base IRIs are those of the suite, not of this machine.
pub fn published(iri: &str, root: &Path) -> String {
    let local = format!("file://{}/", root.display());
    match iri.strip_prefix(&local) {
        Some(rest) => format!("{PUBLISHED}{rest}"),
        None => iri.to_owned(),
    }
}

fn list<'g>(graph: &'g Graph, mut head: TermRef<'g>) -> Vec<Term> {
    let (first, rest) = (node(&format!("{RDF}first")), node(&format!("{RDF}rest")));
    let mut items = Vec::new();
    while let TermRef::BlankNode(blank) = head {
        let subject = NamedOrBlankNode::from(blank.into_owned());
        let Some(item) = graph.object_for_subject_predicate(&subject, &first) else {
            break;
        };
        items.push(item.into_owned());
        match graph.object_for_subject_predicate(&subject, &rest) {
            Some(next) => head = next,
            None => break,
        }
    }
    items
}

/// The tests of the manifest at `path` and of every manifest it includes, in order; tests the
/// W3C rejected are left out. `root` is the local copy of the published suites.
///
/// # Panics
/// When a manifest cannot be read or parsed.
pub fn tests(path: &Path, root: &Path) -> Vec<Test> {
    let base = format!("file://{}", path.display());
    let file =
        std::fs::File::open(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let graph: Graph = RdfParser::from_format(RdfFormat::Turtle)
        .with_base_iri(&base)
        .expect("a file IRI")
        .for_reader(std::io::BufReader::new(file))
        .map(|quad| quad.map(oxrdf::Triple::from))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    // The manifest is `<>` in most suites, a named node (`trs:manifest`) in RDF 1.2's.
    let manifest = graph
        .subjects_for_predicate_object(
            &node(&format!("{RDF}type")),
            &node(&format!("{MF}Manifest")),
        )
        .next()
        .map_or_else(
            || NamedOrBlankNode::from(node(&base)),
            oxrdf::NamedOrBlankNodeRef::into_owned,
        );
    let mut found = Vec::new();
    if let Some(includes) =
        graph.object_for_subject_predicate(&manifest, &node(&format!("{MF}include")))
    {
        for included in list(&graph, includes) {
            if let Term::NamedNode(iri) = included {
                let included_path = local_path(iri.as_str(), root)
                    .unwrap_or_else(|| panic!("{}: cannot map {iri}", path.display()));
                found.extend(tests(&included_path, root));
            }
        }
    }
    let rejected = node(&format!("{RDFT}Rejected"));
    if let Some(entries) =
        graph.object_for_subject_predicate(&manifest, &node(&format!("{MF}entries")))
    {
        for entry in list(&graph, entries) {
            let Term::NamedNode(id) = entry else { continue };
            let subject = NamedOrBlankNode::from(id.clone());
            let approval =
                graph.object_for_subject_predicate(&subject, &node(&format!("{RDFT}approval")));
            if approval == Some(TermRef::from(rejected.as_ref())) {
                continue;
            }
            let kind = graph
                .object_for_subject_predicate(&subject, &node(&format!("{RDF}type")))
                .and_then(|kind| match kind {
                    TermRef::NamedNode(kind) => Some(local_name(kind)),
                    _ => None,
                })
                .unwrap_or_default();
            let action_term =
                graph.object_for_subject_predicate(&subject, &node(&format!("{MF}action")));
            let action = action_term.and_then(|action| match action {
                TermRef::NamedNode(file) => local_path(file.as_str(), root),
                _ => None,
            });
            let (mut query, mut data, mut graph_data) = (None, Vec::new(), Vec::new());
            let mut request = None;
            if let Some(TermRef::BlankNode(blank)) = action_term {
                let action = NamedOrBlankNode::from(blank.into_owned());
                request = graph
                    .object_for_subject_predicate(&action, &node(&format!("{UT}request")))
                    .and_then(|request| match request {
                        TermRef::NamedNode(file) => local_path(file.as_str(), root),
                        _ => None,
                    });
                let files = |predicate: &str| -> Vec<String> {
                    graph
                        .objects_for_subject_predicate(&action, &node(&format!("{QT}{predicate}")))
                        .filter_map(|term| match term {
                            TermRef::NamedNode(iri) => Some(iri.as_str().to_owned()),
                            _ => None,
                        })
                        .collect()
                };
                query = files("query").first().and_then(|iri| local_path(iri, root));
                data = files("data")
                    .iter()
                    .filter_map(|iri| local_path(iri, root))
                    .collect();
                graph_data = files("graphData")
                    .into_iter()
                    .filter_map(|iri| Some((iri.clone(), local_path(&iri, root)?)))
                    .collect();
                if request.is_some() {
                    let files = store_files(&graph, &action, root);
                    data = files.data;
                    graph_data = files.graph_data;
                }
            }
            let result_term =
                graph.object_for_subject_predicate(&subject, &node(&format!("{MF}result")));
            let result = result_term.and_then(|result| match result {
                TermRef::NamedNode(file) => local_path(file.as_str(), root),
                _ => None,
            });
            let expected_store = match result_term {
                Some(TermRef::BlankNode(blank)) => {
                    store_files(&graph, &NamedOrBlankNode::from(blank.into_owned()), root)
                }
                _ => StoreFiles::default(),
            };
            found.push(Test {
                id: published(id.as_str(), root),
                kind,
                action,
                query,
                data,
                graph_data,
                result,
                request,
                expected_store,
            });
        }
    }
    found
}

fn local_name(iri: NamedNodeRef<'_>) -> String {
    let text = iri.as_str();
    text.rsplit(['#', '/']).next().unwrap_or(text).to_owned()
}

//! Helpers for the QuadStore tests: a store on a plugin loaded from its built library, a
//! naive model to compare it with, random quads, and dataset comparison up to blank-node
//! renaming (oxrdf's canonicalization).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use kgdb_host::rdf::{self, DumpRequest, InputFormat, LoadRequest, Source};
use kgdb_host::store::{GraphPattern, LoadOptions, QuadPattern, Store};
use oxrdf::dataset::CanonicalizationAlgorithm;
use oxrdf::{
    BlankNode, Dataset, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term, Triple,
};
use oxrdfio::RdfFormat;
use tempfile::TempDir;

/// A store on a scratch directory.
pub struct StoreFixture {
    /// The store (`None` only while reopening).
    store: Option<Store>,
    /// Scratch space; the data directory is `dir/data`.
    pub dir: TempDir,
    stem: String,
    config: String,
}

impl StoreFixture {
    /// Opens a fresh store on plugin library `stem`.
    #[must_use]
    pub fn open(stem: &str, config: &str) -> Self {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let backend = crate::open_backend(stem, &dir.path().join("data"), config);
        Self {
            store: Some(Store::open(backend).expect("the store opens")),
            dir,
            stem: stem.to_owned(),
            config: config.to_owned(),
        }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("an open store")
    }

    /// Closes and opens the same data directory again (a no-op for non-persistent plugins'
    /// data, which is gone).
    pub fn reopen(&mut self) {
        if let Some(store) = self.store.take() {
            store.close().expect("close");
        }
        let backend = crate::open_backend(&self.stem, &self.dir.path().join("data"), &self.config);
        self.store = Some(Store::open(backend).expect("the store reopens"));
    }
}

/// Every quad of a store, as a set.
#[must_use]
pub fn all_quads(store: &Store) -> HashSet<Quad> {
    store
        .snapshot()
        .unwrap()
        .quads_for_pattern(&QuadPattern::default())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Whether `quad` matches `pattern`, the naive way.
#[must_use]
pub fn matches(pattern: &QuadPattern, quad: &Quad) -> bool {
    let term_ok = |bound: &Option<Term>, term: Term| bound.as_ref().is_none_or(|b| *b == term);
    term_ok(&pattern.subject, quad.subject.clone().into())
        && term_ok(&pattern.predicate, quad.predicate.clone().into())
        && term_ok(&pattern.object, quad.object.clone())
        && match (&pattern.graph, &quad.graph_name) {
            (GraphPattern::Any, _) => true,
            (GraphPattern::Default, graph) => graph.is_default_graph(),
            (GraphPattern::Named(name), GraphName::NamedNode(node)) => {
                *name == NamedOrBlankNode::from(node.clone())
            }
            (GraphPattern::Named(name), GraphName::BlankNode(node)) => {
                *name == NamedOrBlankNode::from(node.clone())
            }
            (GraphPattern::Named(_), GraphName::DefaultGraph) => false,
        }
}

/// A canonical form of a dataset: equal for isomorphic datasets.
#[must_use]
pub fn canonical(quads: impl IntoIterator<Item = Quad>) -> Dataset {
    let mut dataset: Dataset = quads.into_iter().collect();
    dataset.canonicalize(CanonicalizationAlgorithm::Unstable);
    dataset
}

/// Parses an RDF file (gzip by extension) into quads, keeping blank node labels.
#[must_use]
pub fn parse_file(path: &Path) -> Vec<Quad> {
    let format = rdf::format_for_path(path, None).expect("a known format");
    let file = std::fs::File::open(path).expect("the file opens");
    let reader: Box<dyn std::io::Read> = if format.gzip {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    oxrdfio::RdfParser::from_format(format.format)
        .for_reader(reader)
        .collect::<Result<_, _>>()
        .expect("the file parses")
}

/// Loads files into a store with `options`.
///
/// # Errors
/// The load's error.
pub fn load_files(
    store: &Store,
    files: &[PathBuf],
    options: LoadOptions,
    lenient: bool,
) -> Result<rdf::LoadReport, rdf::LoadError> {
    let sources = files
        .iter()
        .map(|path| Source::File(path.clone(), rdf::format_for_path(path, None).unwrap()))
        .collect();
    rdf::load(
        store,
        &LoadRequest {
            sources,
            lenient,
            options,
            ..LoadRequest::default()
        },
    )
}

/// Dumps a whole store as N-Quads bytes.
#[must_use]
pub fn dump_nquads(store: &Store) -> Vec<u8> {
    let mut out = Vec::new();
    rdf::dump(
        store,
        &DumpRequest {
            format: RdfFormat::NQuads,
            graph: GraphPattern::Any,
        },
        &mut out,
    )
    .expect("dump");
    out
}

/// Loads N-Quads bytes through a file in `dir` (blank nodes renamed, as `load` does).
pub fn load_nquads_bytes(store: &Store, dir: &Path, bytes: &[u8]) {
    let path = dir.join("dump.nq");
    std::fs::write(&path, bytes).unwrap();
    rdf::load(
        store,
        &LoadRequest {
            sources: vec![Source::File(
                path,
                InputFormat {
                    format: RdfFormat::NQuads,
                    gzip: false,
                },
            )],
            ..LoadRequest::default()
        },
    )
    .expect("reload");
}

/// Environment variable naming the folder of the shared real data sets.
pub const SHARED_DATA_ENV: &str = "KGDB_SHARED_DATA";

/// One of the shared real data sets: in `$KGDB_SHARED_DATA`, else in `shared/data` beside the
/// workspace or beside any of its ancestors (the project keeps them in `../shared/data`; they
/// are never copied into the repository). `None`, with a note on stderr, when it is nowhere;
/// under `CI=true` a missing data set fails the test instead, so CI never passes a case that
/// checked nothing.
///
/// # Panics
/// Under `CI=true`, when the data set is nowhere.
#[must_use]
pub fn shared_data_set(name: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os(SHARED_DATA_ENV) {
        candidates.push(PathBuf::from(dir).join(name));
    }
    let root = crate::workspace_root();
    for ancestor in root.ancestors() {
        candidates.push(ancestor.join("shared/data").join(name));
    }
    let found = candidates.iter().find(|path| path.is_file()).cloned();
    if found.is_none() {
        let where_ = format!(
            "looked in ${SHARED_DATA_ENV} and shared/data beside {} and its ancestors",
            root.display()
        );
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "data set {name} not found ({where_}); CI must have ../shared beside the checkout"
        );
        eprintln!("note: data set {name} not found ({where_}); this case checks nothing here");
    }
    found
}

/// The small vocabulary random quads are drawn from: IRIs, blank nodes, every literal form
/// and triple terms.
#[must_use]
pub fn vocabulary() -> (
    Vec<NamedOrBlankNode>,
    Vec<NamedNode>,
    Vec<Term>,
    Vec<GraphName>,
) {
    let iri = |i: usize| NamedNode::new(format!("http://example.com/n{i}")).unwrap();
    let subjects: Vec<NamedOrBlankNode> = (0..4)
        .map(|i| iri(i).into())
        .chain((0..2).map(|i| BlankNode::new(format!("b{i}")).unwrap().into()))
        .collect();
    let predicates: Vec<NamedNode> = (10..13).map(iri).collect();
    let mut objects: Vec<Term> = subjects.iter().cloned().map(Term::from).collect();
    objects.extend([
        Literal::new_simple_literal("plain").into(),
        Literal::new_simple_literal("").into(),
        Literal::new_language_tagged_literal("chat", "fr")
            .unwrap()
            .into(),
        Literal::new_language_tagged_literal("chat", "en-GB")
            .unwrap()
            .into(),
        Literal::new_directional_language_tagged_literal("שלום", "he", oxrdf::BaseDirection::Rtl)
            .unwrap()
            .into(),
        Literal::new_typed_literal("01", oxrdf::vocab::xsd::INTEGER).into(),
        Literal::new_typed_literal("1", oxrdf::vocab::xsd::INTEGER).into(),
        Literal::new_typed_literal("x\u{0}y", NamedNode::new("http://e/dt").unwrap()).into(),
    ]);
    let inner = Triple::new(
        subjects[0].clone(),
        predicates[0].clone(),
        objects[7].clone(),
    );
    objects.push(Term::Triple(Box::new(inner.clone())));
    objects.push(Term::Triple(Box::new(Triple::new(
        subjects[4].clone(),
        predicates[1].clone(),
        Term::Triple(Box::new(inner)),
    ))));
    let graphs = vec![
        GraphName::DefaultGraph,
        iri(20).into(),
        iri(21).into(),
        BlankNode::new("g0").unwrap().into(),
    ];
    (subjects, predicates, objects, graphs)
}

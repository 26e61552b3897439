//! A seeded synthetic data set: universities, their departments, people and publications.
//!
//! Every university is one named graph; a shared vocabulary (classes, properties, research
//! keywords) is in the default graph. Shapes a store must handle well are all there: a few
//! very common predicates and classes, skewed (Zipf-like) popularity of keywords and of cited
//! publications, links across graphs (people know people of other universities, papers cite
//! papers from anywhere), plain, language-tagged and typed literals from a dozen bytes (ages,
//! years) to two kilobytes (abstracts).
//!
//! The same seed always gives the same quads, in the same order, on every platform (ChaCha8);
//! no quad repeats, so a store loaded with the first `n` quads holds exactly `n`.

use std::collections::VecDeque;

use oxrdf::vocab::{rdf, rdfs, xsd};
use oxrdf::{GraphName, Literal, NamedNode, Quad, Term};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The IRI every generated name starts with.
pub const BASE: &str = "http://kgdb.example/synth/";

/// Research keywords in the shared vocabulary.
const KEYWORDS: usize = 1_000;

const SYLLABLES: [&str; 48] = [
    "ka", "lo", "mi", "ren", "sa", "tor", "vel", "an", "bri", "cor", "da", "el", "fin", "gar",
    "hal", "is", "jun", "kel", "lin", "mor", "nor", "ob", "pra", "quin", "ros", "sil", "ta", "ul",
    "var", "wen", "xan", "yor", "zel", "ar", "be", "cha", "di", "en", "fo", "gu", "ha", "io", "ja",
    "ke", "lu", "ma", "ne", "or",
];

const LANGUAGES: [&str; 4] = ["en", "de", "fr", "es"];

/// A term of the synthetic vocabulary: `<BASE>vocab#name`.
fn vocab(name: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{BASE}vocab#{name}"))
}

fn node(path: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{BASE}{path}"))
}

/// The generator: an endless iterator of quads; take as many as wanted.
#[derive(Debug)]
pub struct Synth {
    rng: ChaCha8Rng,
    queue: VecDeque<Quad>,
    universities: u64,
    people: u64,
    publications: u64,
}

impl Synth {
    /// A generator seeded with `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        let mut synth = Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            queue: VecDeque::new(),
            universities: 0,
            people: 0,
            publications: 0,
        };
        synth.vocabulary();
        synth
    }

    fn emit(&mut self, subject: &NamedNode, predicate: NamedNode, object: Term, graph: &GraphName) {
        self.queue
            .push_back(Quad::new(subject.clone(), predicate, object, graph.clone()));
    }

    fn word(&mut self) -> String {
        let syllables = self.rng.gen_range(1..=3);
        (0..syllables)
            .map(|_| SYLLABLES[self.rng.gen_range(0..SYLLABLES.len())])
            .collect()
    }

    fn name(&mut self) -> String {
        let mut word = self.word();
        if let Some(first) = word.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        word
    }

    fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| self.word())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// An index in `0..n`, small ones far more likely (about Zipf-like for `skew` 2–3).
    fn skewed(&mut self, n: u64, skew: f64) -> u64 {
        let r: f64 = self.rng.gen();
        ((n as f64 * r.powf(skew)) as u64).min(n.saturating_sub(1))
    }

    /// `k` distinct skewed indexes in `0..n` (fewer when `n < k`).
    fn distinct(&mut self, n: u64, k: usize, skew: f64) -> Vec<u64> {
        let mut picked: Vec<u64> = Vec::with_capacity(k);
        let mut attempts = 0;
        while picked.len() < k.min(n as usize) && attempts < 8 * k {
            attempts += 1;
            let index = self.skewed(n, skew);
            if !picked.contains(&index) {
                picked.push(index);
            }
        }
        picked
    }

    fn keyword(index: u64) -> NamedNode {
        node(&format!("keyword/{index}"))
    }

    /// Classes, properties and keywords, in the default graph.
    fn vocabulary(&mut self) {
        let g = GraphName::DefaultGraph;
        let class = Term::from(rdfs::CLASS);
        for (name, parent) in [
            ("Organization", None),
            ("University", Some("Organization")),
            ("Department", Some("Organization")),
            ("Person", None),
            ("Professor", Some("Person")),
            ("Student", Some("Person")),
            ("Publication", None),
            ("Concept", None),
        ] {
            let subject = vocab(name);
            self.emit(&subject, rdf::TYPE.into(), class.clone(), &g);
            self.emit(
                &subject,
                rdfs::LABEL.into(),
                Literal::new_language_tagged_literal_unchecked(name, "en").into(),
                &g,
            );
            if let Some(parent) = parent {
                self.emit(
                    &subject,
                    rdfs::SUB_CLASS_OF.into(),
                    vocab(parent).into(),
                    &g,
                );
            }
        }
        for index in 0..KEYWORDS as u64 {
            let keyword = Self::keyword(index);
            self.emit(&keyword, rdf::TYPE.into(), vocab("Concept").into(), &g);
            let words = self.rng.gen_range(1..=3);
            let label = self.sentence(words);
            self.emit(
                &keyword,
                rdfs::LABEL.into(),
                Literal::new_language_tagged_literal_unchecked(label, "en").into(),
                &g,
            );
        }
    }

    /// One university: its graph, departments, people and publications.
    fn university(&mut self) {
        let u = self.universities;
        self.universities += 1;
        let g = GraphName::NamedNode(node(&format!("university/{u}/graph")));
        let university = node(&format!("university/{u}"));
        self.emit(
            &university,
            rdf::TYPE.into(),
            vocab("University").into(),
            &g,
        );
        for _ in 0..self.rng.gen_range(1..=3) {
            let language = LANGUAGES[self.rng.gen_range(0..LANGUAGES.len())];
            let name = format!("University of {}", self.name());
            // One name per language at most: a repeated language would repeat the quad.
            let quad_name = Literal::new_language_tagged_literal_unchecked(name, language);
            let quad = Quad::new(university.clone(), rdfs::LABEL, quad_name, g.clone());
            if !self.queue.contains(&quad) {
                self.queue.push_back(quad);
            }
        }
        let founded = self.rng.gen_range(1088..2020);
        self.emit(
            &university,
            vocab("founded"),
            Literal::new_typed_literal(founded.to_string(), xsd::INTEGER).into(),
            &g,
        );
        self.emit(
            &university,
            vocab("homepage"),
            NamedNode::new_unchecked(format!("https://www.univ{u}.example/")).into(),
            &g,
        );
        for d in 0..self.rng.gen_range(8..=20) {
            self.department(u, d, &university, &g);
        }
    }

    fn department(&mut self, u: u64, d: u64, university: &NamedNode, g: &GraphName) {
        let department = node(&format!("university/{u}/department/{d}"));
        self.emit(&department, rdf::TYPE.into(), vocab("Department").into(), g);
        self.emit(
            &department,
            vocab("subOrganizationOf"),
            university.clone().into(),
            g,
        );
        let name = format!("Department of {}", self.sentence(2));
        self.emit(
            &department,
            rdfs::LABEL.into(),
            Literal::new_simple_literal(name).into(),
            g,
        );
        let professors: Vec<NamedNode> = (0..self.rng.gen_range(5..=15))
            .map(|_| self.person(&department, "Professor", None, g))
            .collect();
        let students: Vec<NamedNode> = (0..self.rng.gen_range(20..=60))
            .map(|_| {
                let advisor = professors[self.rng.gen_range(0..professors.len())].clone();
                self.person(&department, "Student", Some(advisor), g)
            })
            .collect();
        for professor in &professors {
            for _ in 0..self.rng.gen_range(2..=10) {
                self.publication(professor, &students, g);
            }
        }
    }

    fn person(
        &mut self,
        department: &NamedNode,
        class: &str,
        advisor: Option<NamedNode>,
        g: &GraphName,
    ) -> NamedNode {
        let p = self.people;
        self.people += 1;
        let person = node(&format!("person/{p}"));
        self.emit(&person, rdf::TYPE.into(), vocab(class).into(), g);
        let name = format!("{} {}", self.name(), self.name());
        let email = format!("{}.{p}@mail.example", name.to_lowercase().replace(' ', "."));
        self.emit(
            &person,
            vocab("name"),
            Literal::new_simple_literal(name).into(),
            g,
        );
        self.emit(
            &person,
            vocab("email"),
            Literal::new_simple_literal(email).into(),
            g,
        );
        let age = self.rng.gen_range(18..80);
        self.emit(
            &person,
            vocab("age"),
            Literal::new_typed_literal(age.to_string(), xsd::INTEGER).into(),
            g,
        );
        let relation = if advisor.is_some() {
            "memberOf"
        } else {
            "worksFor"
        };
        self.emit(&person, vocab(relation), department.clone().into(), g);
        if let Some(advisor) = advisor {
            self.emit(&person, vocab("advisor"), advisor.into(), g);
        }
        let count = self.rng.gen_range(1..=4);
        for keyword in self.distinct(KEYWORDS as u64, count, 2.5) {
            self.emit(
                &person,
                vocab("researchInterest"),
                Self::keyword(keyword).into(),
                g,
            );
        }
        let count = self.rng.gen_range(0..=3);
        for other in self.distinct(p, count, 1.0) {
            self.emit(
                &person,
                vocab("knows"),
                node(&format!("person/{other}")).into(),
                g,
            );
        }
        person
    }

    fn publication(&mut self, professor: &NamedNode, students: &[NamedNode], g: &GraphName) {
        let n = self.publications;
        self.publications += 1;
        let publication = node(&format!("publication/{n}"));
        self.emit(
            &publication,
            rdf::TYPE.into(),
            vocab("Publication").into(),
            g,
        );
        let words = self.rng.gen_range(4..=15);
        let title = self.sentence(words);
        let title = if self.rng.gen_bool(0.5) {
            Literal::new_language_tagged_literal_unchecked(
                title,
                LANGUAGES[self.rng.gen_range(0..LANGUAGES.len())],
            )
        } else {
            Literal::new_simple_literal(title)
        };
        self.emit(&publication, vocab("title"), title.into(), g);
        // Mostly a few lines, now and then a page.
        let words = 8 + self.skewed(240, 2.0) as usize;
        let abstract_text = self.sentence(words);
        self.emit(
            &publication,
            vocab("abstract"),
            Literal::new_simple_literal(abstract_text).into(),
            g,
        );
        let year = self.rng.gen_range(1950..=2026);
        self.emit(
            &publication,
            vocab("year"),
            Literal::new_typed_literal(year.to_string(), xsd::INTEGER).into(),
            g,
        );
        self.emit(&publication, vocab("author"), professor.clone().into(), g);
        let count = self.rng.gen_range(0..=3);
        for student in self.distinct(students.len() as u64, count, 1.0) {
            self.emit(
                &publication,
                vocab("author"),
                students[student as usize].clone().into(),
                g,
            );
        }
        let count = self.rng.gen_range(0..=8);
        for cited in self.distinct(n, count, 2.0) {
            self.emit(
                &publication,
                vocab("cites"),
                node(&format!("publication/{cited}")).into(),
                g,
            );
        }
        let count = self.rng.gen_range(1..=5);
        for keyword in self.distinct(KEYWORDS as u64, count, 2.5) {
            self.emit(
                &publication,
                vocab("keyword"),
                Self::keyword(keyword).into(),
                g,
            );
        }
    }
}

impl Iterator for Synth {
    type Item = Quad;

    fn next(&mut self) -> Option<Quad> {
        while self.queue.is_empty() {
            self.university();
        }
        self.queue.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn a_seed_gives_the_same_quads_and_no_quad_twice() {
        let first: Vec<Quad> = Synth::new(7).take(60_000).collect();
        assert_eq!(first, Synth::new(7).take(60_000).collect::<Vec<_>>());
        assert_ne!(first, Synth::new(8).take(60_000).collect::<Vec<_>>());
        let distinct: HashSet<&Quad> = first.iter().collect();
        assert_eq!(distinct.len(), first.len(), "a quad repeats");
        let graphs: HashSet<&GraphName> = first.iter().map(|q| &q.graph_name).collect();
        assert!(graphs.len() >= 3, "{} graphs", graphs.len());
        assert!(graphs.contains(&GraphName::DefaultGraph));
    }

    #[test]
    fn literals_vary_in_kind_and_length() {
        let quads: Vec<Quad> = Synth::new(1).take(30_000).collect();
        let literals: Vec<&Literal> = quads
            .iter()
            .filter_map(|q| match &q.object {
                Term::Literal(literal) => Some(literal),
                _ => None,
            })
            .collect();
        let lengths: Vec<usize> = literals.iter().map(|l| l.value().len()).collect();
        assert!(lengths.iter().any(|n| *n <= 4), "short literals");
        assert!(lengths.iter().any(|n| *n >= 1_000), "long literals");
        assert!(literals.iter().any(|l| l.language().is_some()));
        assert!(literals.iter().any(|l| l.datatype() == xsd::INTEGER));
        assert!(literals.iter().any(|l| l.datatype() == xsd::STRING));
    }
}

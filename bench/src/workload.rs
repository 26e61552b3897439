//! The look-up workload: the 16 quad pattern shapes, each bound from the same constants, quads
//! drawn (seeded) from a data set. A workload is saved as an N-Quads file so that every store
//! measured (kgdb's plugins, Oxigraph) runs exactly the same look-ups.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use oxrdf::{GraphName, NamedOrBlankNode, Quad, Term};
use oxrdfio::{RdfFormat, RdfParser, RdfSerializer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One of the 16 quad pattern shapes: which of subject, predicate, object and graph are bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shape(u8);

impl Shape {
    /// The 16 shapes, from nothing bound (`????`) to everything bound (`spog`).
    pub fn all() -> impl Iterator<Item = Self> {
        (0..16).map(Self)
    }

    /// Whether the subject is bound.
    #[must_use]
    pub fn subject(self) -> bool {
        self.0 & 8 != 0
    }

    /// Whether the predicate is bound.
    #[must_use]
    pub fn predicate(self) -> bool {
        self.0 & 4 != 0
    }

    /// Whether the object is bound.
    #[must_use]
    pub fn object(self) -> bool {
        self.0 & 2 != 0
    }

    /// Whether the graph is bound.
    #[must_use]
    pub fn graph(self) -> bool {
        self.0 & 1 != 0
    }

    /// `s?o?`-style name: a letter for each bound position, `?` for the others.
    #[must_use]
    pub fn name(self) -> String {
        [
            (self.subject(), 's'),
            (self.predicate(), 'p'),
            (self.object(), 'o'),
            (self.graph(), 'g'),
        ]
        .iter()
        .map(|(bound, letter)| if *bound { *letter } else { '?' })
        .collect()
    }

    /// The pattern this shape makes of `quad`: its terms where bound, `None` elsewhere (a bound
    /// graph may be the default graph).
    #[must_use]
    pub fn bind(self, quad: &Quad) -> BoundPattern {
        BoundPattern {
            subject: self.subject().then(|| quad.subject.clone()),
            predicate: self.predicate().then(|| quad.predicate.clone()),
            object: self.object().then(|| quad.object.clone()),
            graph: self.graph().then(|| quad.graph_name.clone()),
        }
    }
}

/// A quad pattern with constants: `None` matches anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundPattern {
    /// The subject, when bound.
    pub subject: Option<NamedOrBlankNode>,
    /// The predicate, when bound.
    pub predicate: Option<oxrdf::NamedNode>,
    /// The object, when bound.
    pub object: Option<Term>,
    /// The graph (possibly the default graph), when bound.
    pub graph: Option<GraphName>,
}

/// Why a workload could not be drawn, read or written.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// A file could not be read or written.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not valid RDF.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// The data set holds no quad to draw constants from.
    #[error("{0}: no quads to draw look-up constants from")]
    Empty(String),
}

/// Draws `count` quads uniformly (reservoir sampling, seeded) from an RDF file of any format
/// kgdb loads (`.gz` too), in one streaming pass. Fewer when the file holds fewer.
///
/// # Errors
/// Unreadable or invalid files, or files without quads.
pub fn draw_constants(data: &Path, count: usize, seed: u64) -> Result<Vec<Quad>, WorkloadError> {
    let file = data.display().to_string();
    let format =
        kgdb_host::rdf::format_for_path(data, None).map_err(|error| WorkloadError::Syntax {
            file: file.clone(),
            message: error.to_string(),
        })?;
    let io = |source| WorkloadError::Io {
        file: file.clone(),
        source,
    };
    let raw = BufReader::with_capacity(1 << 16, File::open(data).map_err(io)?);
    let reader: Box<dyn Read> = if format.gzip {
        Box::new(flate2::read::MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sample: Vec<Quad> = Vec::with_capacity(count);
    for (seen, quad) in (1_u64..).zip(RdfParser::from_format(format.format).for_reader(reader)) {
        let quad = quad.map_err(|error| WorkloadError::Syntax {
            file: file.clone(),
            message: error.to_string(),
        })?;
        if sample.len() < count {
            sample.push(quad);
        } else {
            let slot = rng.gen_range(0..seen);
            if let Ok(slot) = usize::try_from(slot) {
                if slot < count {
                    sample[slot] = quad;
                }
            }
        }
    }
    if sample.is_empty() {
        return Err(WorkloadError::Empty(file));
    }
    Ok(sample)
}

/// Writes constants as N-Quads.
///
/// # Errors
/// I/O failures, with the file.
pub fn write_constants(file: &Path, quads: &[Quad]) -> Result<(), WorkloadError> {
    let io = |source| WorkloadError::Io {
        file: file.display().to_string(),
        source,
    };
    let mut serializer = RdfSerializer::from_format(RdfFormat::NQuads)
        .for_writer(BufWriter::new(File::create(file).map_err(io)?));
    for quad in quads {
        serializer.serialize_quad(quad).map_err(io)?;
    }
    serializer.finish().map_err(io)?.flush().map_err(io)
}

/// Reads constants written by [`write_constants`].
///
/// # Errors
/// Unreadable or invalid files.
pub fn read_constants(file: &Path) -> Result<Vec<Quad>, WorkloadError> {
    let name = file.display().to_string();
    let reader = BufReader::new(File::open(file).map_err(|source| WorkloadError::Io {
        file: name.clone(),
        source,
    })?);
    let quads = RdfParser::from_format(RdfFormat::NQuads)
        .for_reader(reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| WorkloadError::Syntax {
            file: name.clone(),
            message: error.to_string(),
        })?;
    if quads.is_empty() {
        return Err(WorkloadError::Empty(name));
    }
    Ok(quads)
}

/// Latency figures of one shape, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Mean results per look-up (each look-up reads at most the limit).
    pub mean_results: f64,
}

impl Latency {
    /// Summarises the per-look-up times (nanoseconds) and result counts of one shape.
    #[must_use]
    pub fn of(mut nanos: Vec<u64>, results: u64) -> Self {
        nanos.sort_unstable();
        let at = |q: f64| {
            if nanos.is_empty() {
                return 0.0;
            }
            let rank = (q * (nanos.len() - 1) as f64).round() as usize;
            nanos[rank.min(nanos.len() - 1)] as f64 / 1000.0
        };
        Self {
            p50_us: at(0.5),
            p99_us: at(0.99),
            mean_results: results as f64 / nanos.len().max(1) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_file(dir: &Path, quads: usize) -> std::path::PathBuf {
        let file = dir.join("data.nq");
        let text: String = (0..quads)
            .map(|i| {
                format!(
                    "<http://e/s{i}> <http://e/p{}> \"o{i}\" <http://e/g{}> .\n",
                    i % 3,
                    i % 2
                )
            })
            .collect();
        std::fs::write(&file, text).unwrap();
        file
    }

    #[test]
    fn a_draw_is_seeded_and_uniform_enough() {
        let dir = tempfile::tempdir().unwrap();
        let file = data_file(dir.path(), 2000);
        let first = draw_constants(&file, 100, 7).unwrap();
        assert_eq!(first, draw_constants(&file, 100, 7).unwrap());
        assert_ne!(first, draw_constants(&file, 100, 8).unwrap());
        assert_eq!(first.len(), 100);
        // Not just the file's head: reservoir sampling reaches the second half.
        let late = first
            .iter()
            .filter(|quad| {
                quad.subject.to_string()["<http://e/s".len()..]
                    .trim_end_matches('>')
                    .parse::<usize>()
                    .unwrap()
                    >= 1000
            })
            .count();
        assert!(
            (25..=75).contains(&late),
            "{late} of 100 from the second half"
        );
        let all = draw_constants(&file, 5000, 7).unwrap();
        assert_eq!(all.len(), 2000, "fewer quads than asked: every quad");
        let saved = dir.path().join("w.nq");
        write_constants(&saved, &first).unwrap();
        assert_eq!(read_constants(&saved).unwrap(), first);
    }

    #[test]
    fn an_empty_file_has_no_constants() {
        let dir = tempfile::tempdir().unwrap();
        let file = data_file(dir.path(), 0);
        assert!(matches!(
            draw_constants(&file, 10, 1),
            Err(WorkloadError::Empty(_))
        ));
    }

    #[test]
    fn shapes_bind_their_positions() {
        let names: Vec<String> = Shape::all().map(Shape::name).collect();
        assert_eq!(names.len(), 16);
        assert_eq!(names[0], "????");
        assert_eq!(names[5], "?p?g");
        assert_eq!(names[15], "spog");
        let dir = tempfile::tempdir().unwrap();
        let quad = draw_constants(&data_file(dir.path(), 1), 1, 1)
            .unwrap()
            .remove(0);
        let bound = Shape(0b1010).bind(&quad);
        assert_eq!(bound.subject, Some(quad.subject.clone()));
        assert_eq!(bound.predicate, None);
        assert_eq!(bound.object, Some(quad.object.clone()));
        assert_eq!(bound.graph, None);
    }
}

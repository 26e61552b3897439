//! Sorted runs of index keys: a load's quads as id tuples in memory, sorted per ordering on
//! several threads, spilled to files when the memory budget is reached, and merged back into
//! one ascending, duplicate-free stream of keys per ordering.
//!
//! Term ids sort like their encoded form ([`write_id`] is order-preserving and prefix-free), so
//! tuples are sorted as numbers and encoded only on the way out.
//!
//! A spill file holds one ordering's keys of one run, ascending, each as a length byte and the
//! key: a few megabytes per million quads and ordering.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::super::encoding::{write_id, TermId};
use super::super::error::StoreError;
use super::super::index::{EncodedQuad, Ordering};

/// A quad as ids: subject, predicate, object, graph (0: the default graph).
pub(super) type IdQuad = [u64; 4];

/// Bytes of a quad's tuple (a run holds one per quad; sorting an ordering makes a copy).
pub(super) const TUPLE_BYTES: u64 = size_of::<IdQuad>() as u64;

/// Bytes of a spill file's read or write buffer.
const FILE_BUFFER: usize = 256 * 1024;

/// The id tuple of an encoded quad.
pub(super) fn id_quad(quad: &EncodedQuad) -> IdQuad {
    [
        quad.subject.0,
        quad.predicate.0,
        quad.object.0,
        quad.graph.map_or(0, |graph| graph.0),
    ]
}

/// Whether an ordering holds the quad (default-graph orderings hold graph 0, the others the
/// rest).
fn holds(ordering: Ordering, quad: &IdQuad) -> bool {
    ordering.is_named() == (quad[3] != 0)
}

/// The tuple of `quad` in `ordering`'s key order (a default-graph key has three ids, the
/// fourth slot is 0).
fn permuted(ordering: Ordering, quad: &IdQuad) -> IdQuad {
    let mut out = [0; 4];
    for (slot, position) in out.iter_mut().zip(ordering.positions()) {
        *slot = quad[*position];
    }
    out
}

/// Appends the key of a permuted tuple.
pub(super) fn encode_key(ordering: Ordering, tuple: &IdQuad, out: &mut Vec<u8>) {
    let width = ordering.positions().len();
    for id in &tuple[..width] {
        write_id(out, TermId(*id));
    }
}

/// `quads` of one ordering, sorted and without duplicates.
pub(super) fn sorted_tuples(ordering: Ordering, quads: &[IdQuad]) -> Vec<IdQuad> {
    let mut tuples: Vec<IdQuad> = quads
        .iter()
        .filter(|quad| holds(ordering, quad))
        .map(|quad| permuted(ordering, quad))
        .collect();
    tuples.sort_unstable();
    tuples.dedup();
    tuples
}

/// Sorts `quads` for every ordering in `orderings` on up to `threads` threads at once, handing
/// each sorted ordering to `sink` (on the calling thread, in the order they finish).
pub(super) fn sort_each(
    quads: &[IdQuad],
    orderings: &[Ordering],
    threads: usize,
    mut sink: impl FnMut(Ordering, Vec<IdQuad>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for group in orderings.chunks(threads.max(1)) {
        let sorted: Vec<(Ordering, Vec<IdQuad>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = group
                .iter()
                .map(|ordering| {
                    let ordering = *ordering;
                    scope.spawn(move || (ordering, sorted_tuples(ordering, quads)))
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle
                        .join()
                        .map_err(|_| StoreError::corrupt("a sorting thread panicked"))
                })
                .collect::<Result<_, _>>()
        })?;
        for (ordering, tuples) in sorted {
            sink(ordering, tuples)?;
        }
    }
    Ok(())
}

/// An I/O failure of a spill file, naming it.
pub(super) fn spill_error(path: &Path, what: &str, error: &std::io::Error) -> StoreError {
    StoreError::InvalidInput(format!(
        "{what} the load's temporary file {}: {error}",
        path.display()
    ))
}

/// Writes one ordering's sorted tuples of a run to `path`.
pub(super) fn spill(path: &Path, ordering: Ordering, tuples: &[IdQuad]) -> Result<(), StoreError> {
    let file = File::create(path).map_err(|e| spill_error(path, "creating", &e))?;
    let mut out = BufWriter::with_capacity(FILE_BUFFER, file);
    let mut key = Vec::with_capacity(64);
    for tuple in tuples {
        key.clear();
        encode_key(ordering, tuple, &mut key);
        // Keys hold at most four 8-byte ids: the length always fits one byte.
        out.write_all(&[key.len() as u8])
            .and_then(|()| out.write_all(&key))
            .map_err(|e| spill_error(path, "writing", &e))?;
    }
    out.into_inner()
        .map_err(|e| spill_error(path, "writing", e.error()))?
        .sync_data()
        .map_err(|e| spill_error(path, "writing", &e))
}

/// Ascending keys from one source of a merge.
pub(super) trait KeySource {
    /// Reads the next key into `key` (cleared first); `false` at the end.
    fn next_key(&mut self, key: &mut Vec<u8>) -> Result<bool, StoreError>;
}

/// The keys of a spill file.
pub(super) struct SpillReader {
    path: PathBuf,
    input: BufReader<File>,
}

impl SpillReader {
    /// Opens a spill file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let file = File::open(path).map_err(|e| spill_error(path, "opening", &e))?;
        Ok(Self {
            path: path.to_owned(),
            input: BufReader::with_capacity(FILE_BUFFER, file),
        })
    }
}

impl KeySource for SpillReader {
    fn next_key(&mut self, key: &mut Vec<u8>) -> Result<bool, StoreError> {
        key.clear();
        let mut length = [0u8; 1];
        match self.input.read_exact(&mut length) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(error) => return Err(spill_error(&self.path, "reading", &error)),
        }
        key.resize(usize::from(length[0]), 0);
        self.input
            .read_exact(key)
            .map_err(|e| spill_error(&self.path, "reading", &e))?;
        Ok(true)
    }
}

/// The keys of sorted tuples in memory.
pub(super) struct TupleSource {
    ordering: Ordering,
    tuples: std::vec::IntoIter<IdQuad>,
}

impl TupleSource {
    /// The keys of `tuples` (sorted for `ordering`).
    pub fn new(ordering: Ordering, tuples: Vec<IdQuad>) -> Self {
        Self {
            ordering,
            tuples: tuples.into_iter(),
        }
    }
}

impl KeySource for TupleSource {
    fn next_key(&mut self, key: &mut Vec<u8>) -> Result<bool, StoreError> {
        key.clear();
        match self.tuples.next() {
            Some(tuple) => {
                encode_key(self.ordering, &tuple, key);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// The ascending union of several ascending sources, each key once. Each source's current
/// key lives in a buffer of its own, reused for every key it reads.
pub(super) struct Merge {
    sources: Vec<Box<dyn KeySource + Send>>,
    heap: BinaryHeap<Reverse<(Vec<u8>, usize)>>,
    /// The last key handed out (to drop duplicates).
    last: Vec<u8>,
    started: bool,
}

impl Merge {
    /// Merges `sources`.
    pub fn new(mut sources: Vec<Box<dyn KeySource + Send>>) -> Result<Self, StoreError> {
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (index, source) in sources.iter_mut().enumerate() {
            let mut key = Vec::new();
            if source.next_key(&mut key)? {
                heap.push(Reverse((key, index)));
            }
        }
        Ok(Self {
            sources,
            heap,
            last: Vec::new(),
            started: false,
        })
    }
}

impl KeySource for Merge {
    fn next_key(&mut self, key: &mut Vec<u8>) -> Result<bool, StoreError> {
        loop {
            let Some(Reverse((mut smallest, index))) = self.heap.pop() else {
                key.clear();
                return Ok(false);
            };
            let fresh = !self.started || self.last != smallest;
            if fresh {
                self.started = true;
                self.last.clear();
                self.last.extend_from_slice(&smallest);
                key.clear();
                key.extend_from_slice(&smallest);
            }
            // The popped buffer takes the source's next key.
            if self.sources[index].next_key(&mut smallest)? {
                self.heap.push(Reverse((smallest, index)));
            }
            if fresh {
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(mut source: impl KeySource) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut key = Vec::new();
        while source.next_key(&mut key).unwrap() {
            out.push(key.clone());
        }
        out
    }

    #[test]
    fn sorted_tuples_keep_their_graph_kind_and_drop_duplicates() {
        let quads = [[3, 2, 1, 0], [1, 2, 3, 0], [3, 2, 1, 0], [1, 1, 1, 7]];
        assert_eq!(
            sorted_tuples(Ordering::Pos, &quads),
            vec![[2, 1, 3, 0], [2, 3, 1, 0]]
        );
        assert_eq!(sorted_tuples(Ordering::Gosp, &quads), vec![[7, 1, 1, 1]]);
    }

    #[test]
    fn a_merge_of_spilled_and_memory_runs_is_ascending_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        let first: Vec<IdQuad> = (0..500u64).map(|i| [i * 3, 1, 1, 0]).collect();
        let second: Vec<IdQuad> = (0..500u64).map(|i| [i * 2, 1, 1, 0]).collect();
        let path = dir.path().join("run");
        spill(&path, Ordering::Spo, &sorted_tuples(Ordering::Spo, &first)).unwrap();
        let merge = Merge::new(vec![
            Box::new(SpillReader::open(&path).unwrap()),
            Box::new(TupleSource::new(
                Ordering::Spo,
                sorted_tuples(Ordering::Spo, &second),
            )),
        ])
        .unwrap();
        let merged = keys(merge);
        let mut expected: Vec<u64> = (0..500)
            .map(|i| i * 3)
            .chain((0..500).map(|i| i * 2))
            .collect();
        expected.sort_unstable();
        expected.dedup();
        let expected: Vec<Vec<u8>> = expected
            .into_iter()
            .map(|s| {
                let mut key = Vec::new();
                encode_key(Ordering::Spo, &[s, 1, 1, 0], &mut key);
                key
            })
            .collect();
        assert_eq!(merged, expected);
    }
}

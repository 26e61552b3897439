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

/// Bytes of a spill file's read or write buffer.
const FILE_BUFFER: usize = 256 * 1024;

/// A quad as ids: subject, predicate, object, graph (0: the default graph).
pub(super) type IdQuad = [u64; 4];

/// The ids of an encoded quad.
pub(super) fn id_quad(quad: &EncodedQuad) -> IdQuad {
    [
        quad.subject.0,
        quad.predicate.0,
        quad.object.0,
        quad.graph.map_or(0, |graph| graph.0),
    ]
}

/// A quad's ids as a run holds them, in some ordering's key order: sorting tuples sorts keys.
pub(super) trait Tuple: Copy + Ord + Send + Sync + 'static {
    /// The tuple of `ids` (each must fit the tuple's width).
    fn pack(ids: IdQuad) -> Self;
    /// The ids of the tuple.
    fn ids(self) -> IdQuad;
}

/// Four ids under 2³² packed big-endian into 128 bits: half the memory of [`IdQuad`], and
/// sorted as one number.
pub(super) type NarrowTuple = u128;

/// The largest id a [`NarrowTuple`] holds.
pub(super) const NARROW_MAX_ID: u64 = u32::MAX as u64;

impl Tuple for NarrowTuple {
    fn pack(ids: IdQuad) -> Self {
        ids.iter()
            .fold(0, |packed, id| (packed << 32) | u128::from(*id as u32))
    }

    fn ids(self) -> IdQuad {
        [
            (self >> 96) as u32 as u64,
            (self >> 64) as u32 as u64,
            (self >> 32) as u32 as u64,
            self as u32 as u64,
        ]
    }
}

impl Tuple for IdQuad {
    fn pack(ids: IdQuad) -> Self {
        ids
    }

    fn ids(self) -> IdQuad {
        self
    }
}

/// Tuples of a load: its current run (quads as they came), or one ordering's sorted copy of
/// it; narrow while every id fits 32 bits, else (from the first id that does not, in a store
/// of over 4 billion terms) wide.
#[derive(Debug)]
pub(super) enum Run {
    /// Every id fits 32 bits.
    Narrow(Vec<NarrowTuple>),
    /// Some id does not.
    Wide(Vec<IdQuad>),
}

impl Default for Run {
    fn default() -> Self {
        Self::Narrow(Vec::new())
    }
}

impl Run {
    /// Quads in the run.
    pub fn len(&self) -> usize {
        match self {
            Self::Narrow(tuples) => tuples.len(),
            Self::Wide(tuples) => tuples.len(),
        }
    }

    /// Whether the run holds no quad.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of one quad's tuple.
    pub fn tuple_bytes(&self) -> u64 {
        match self {
            Self::Narrow(_) => size_of::<NarrowTuple>() as u64,
            Self::Wide(_) => size_of::<IdQuad>() as u64,
        }
    }

    /// Bytes the run's allocation takes.
    pub fn allocated_bytes(&self) -> u64 {
        let capacity = match self {
            Self::Narrow(tuples) => tuples.capacity(),
            Self::Wide(tuples) => tuples.capacity(),
        };
        capacity as u64 * self.tuple_bytes()
    }

    /// Adds a quad.
    pub fn push(&mut self, ids: IdQuad) {
        if let Self::Narrow(tuples) = self {
            if ids.iter().all(|id| *id <= NARROW_MAX_ID) {
                grow(tuples);
                tuples.push(NarrowTuple::pack(ids));
                return;
            }
            let wide = tuples.iter().map(|tuple| tuple.ids()).collect();
            *self = Self::Wide(wide);
        }
        if let Self::Wide(tuples) = self {
            grow(tuples);
            tuples.push(ids);
        }
    }

    /// Puts the run's tuples of one ordering into `out`, sorted and without duplicates,
    /// reusing its allocation (one copy of the run serves all nine orderings).
    pub fn sort_into(&self, ordering: Ordering, out: &mut Run) {
        match (self, &mut *out) {
            (Self::Narrow(quads), Run::Narrow(tuples)) => {
                sort_into(ordering, quads, tuples);
            }
            (Self::Wide(quads), Run::Wide(tuples)) => sort_into(ordering, quads, tuples),
            (Self::Narrow(quads), _) => {
                *out = Run::Narrow(sorted_tuples(ordering, quads));
            }
            (Self::Wide(quads), _) => *out = Run::Wide(sorted_tuples(ordering, quads)),
        }
    }

    /// Sorts the run for every ordering in `orderings` (see [`sort_each`]).
    pub fn sort_each(
        &self,
        orderings: &[Ordering],
        threads: usize,
        mut sink: impl FnMut(Ordering, Run) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Self::Narrow(quads) => sort_each(quads, orderings, threads, |ordering, tuples| {
                sink(ordering, Run::Narrow(tuples))
            }),
            Self::Wide(quads) => sort_each(quads, orderings, threads, |ordering, tuples| {
                sink(ordering, Run::Wide(tuples))
            }),
        }
    }

    /// Writes the tuples (sorted for `ordering`) to a spill file.
    pub fn spill(&self, path: &Path, ordering: Ordering) -> Result<(), StoreError> {
        match self {
            Self::Narrow(tuples) => spill(path, ordering, tuples),
            Self::Wide(tuples) => spill(path, ordering, tuples),
        }
    }

    /// The keys of the tuples (sorted for `ordering`), ascending.
    pub fn source(&self, ordering: Ordering) -> Box<dyn KeySource + Send + '_> {
        match self {
            Self::Narrow(tuples) => Box::new(TupleSource::new(ordering, tuples)),
            Self::Wide(tuples) => Box::new(TupleSource::new(ordering, tuples)),
        }
    }
}

/// Makes room for one more tuple, growing a full run by a quarter (not the doubling of
/// `Vec::push`, whose unused half would count against the budget and make runs spill early).
fn grow<T>(tuples: &mut Vec<T>) {
    if tuples.len() == tuples.capacity() {
        tuples.reserve_exact(tuples.len() / 4 + (64 << 10));
    }
}

/// Whether an ordering holds the quad (default-graph orderings hold graph 0, the others the
/// rest).
fn holds(ordering: Ordering, quad: &IdQuad) -> bool {
    ordering.is_named() == (quad[3] != 0)
}

/// The ids of `quad` in `ordering`'s key order (a default-graph key has three ids, the
/// fourth slot is 0).
fn permuted(ordering: Ordering, quad: &IdQuad) -> IdQuad {
    let mut out = [0; 4];
    for (slot, position) in out.iter_mut().zip(ordering.positions()) {
        *slot = quad[*position];
    }
    out
}

/// Appends the key of permuted ids.
pub(super) fn encode_key(ordering: Ordering, tuple: &IdQuad, out: &mut Vec<u8>) {
    let width = ordering.positions().len();
    for id in &tuple[..width] {
        write_id(out, TermId(*id));
    }
}

/// `quads` of one ordering, permuted, sorted and without duplicates.
pub(super) fn sorted_tuples<T: Tuple>(ordering: Ordering, quads: &[T]) -> Vec<T> {
    let mut tuples = Vec::new();
    sort_into(ordering, quads, &mut tuples);
    tuples
}

/// [`sorted_tuples`] into `out`, whose allocation is reused.
fn sort_into<T: Tuple>(ordering: Ordering, quads: &[T], out: &mut Vec<T>) {
    out.clear();
    out.extend(
        quads
            .iter()
            .map(|quad| quad.ids())
            .filter(|ids| holds(ordering, ids))
            .map(|ids| T::pack(permuted(ordering, &ids))),
    );
    out.sort_unstable();
    out.dedup();
}

/// Sorts `quads` for every ordering in `orderings` on up to `threads` threads at once, handing
/// each sorted ordering to `sink` (on the calling thread, in the order they finish).
pub(super) fn sort_each<T: Tuple>(
    quads: &[T],
    orderings: &[Ordering],
    threads: usize,
    mut sink: impl FnMut(Ordering, Vec<T>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for group in orderings.chunks(threads.max(1)) {
        let sorted: Vec<(Ordering, Vec<T>)> = std::thread::scope(|scope| {
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
pub(super) fn spill<T: Tuple>(
    path: &Path,
    ordering: Ordering,
    tuples: &[T],
) -> Result<(), StoreError> {
    let file = File::create(path).map_err(|e| spill_error(path, "creating", &e))?;
    let mut out = BufWriter::with_capacity(FILE_BUFFER, file);
    let mut key = Vec::with_capacity(64);
    for tuple in tuples {
        key.clear();
        encode_key(ordering, &tuple.ids(), &mut key);
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
pub(super) struct TupleSource<'t, T> {
    ordering: Ordering,
    tuples: std::slice::Iter<'t, T>,
}

impl<'t, T: Tuple> TupleSource<'t, T> {
    /// The keys of `tuples` (sorted for `ordering`).
    pub fn new(ordering: Ordering, tuples: &'t [T]) -> Self {
        Self {
            ordering,
            tuples: tuples.iter(),
        }
    }
}

impl<T: Tuple> KeySource for TupleSource<'_, T> {
    fn next_key(&mut self, key: &mut Vec<u8>) -> Result<bool, StoreError> {
        key.clear();
        match self.tuples.next() {
            Some(tuple) => {
                encode_key(self.ordering, &tuple.ids(), key);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// The ascending union of several ascending sources, each key once. Each source's current
/// key lives in a buffer of its own, reused for every key it reads.
pub(super) struct Merge<'a> {
    sources: Vec<Box<dyn KeySource + Send + 'a>>,
    heap: BinaryHeap<Reverse<(Vec<u8>, usize)>>,
    /// The last key handed out (to drop duplicates).
    last: Vec<u8>,
    started: bool,
}

impl<'a> Merge<'a> {
    /// Merges `sources`.
    pub fn new(mut sources: Vec<Box<dyn KeySource + Send + 'a>>) -> Result<Self, StoreError> {
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

impl KeySource for Merge<'_> {
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
    fn a_run_turns_wide_at_the_first_id_over_32_bits_and_keeps_every_quad() {
        let mut run = Run::default();
        run.push([1, 2, 3, 0]);
        run.push([u64::from(u32::MAX), 2, 3, 4]);
        assert!(matches!(run, Run::Narrow(_)));
        assert_eq!(run.tuple_bytes(), 16);
        run.push([1 << 32, 2, 3, 0]);
        run.push([5, 6, 7, 8]);
        let Run::Wide(quads) = &run else {
            panic!("still narrow: {run:?}");
        };
        assert_eq!(
            quads,
            &vec![
                [1, 2, 3, 0],
                [u64::from(u32::MAX), 2, 3, 4],
                [1 << 32, 2, 3, 0],
                [5, 6, 7, 8]
            ]
        );
        assert_eq!(run.tuple_bytes(), 32);
    }

    proptest::proptest! {
        /// Narrow tuples sort, drop duplicates and encode exactly as wide ones.
        #[test]
        fn narrow_tuples_give_the_keys_of_wide_ones(
            quads in proptest::collection::vec(
                proptest::array::uniform4(proptest::prop_oneof![
                    0..4u64,
                    0..=u64::from(u32::MAX),
                    proptest::strategy::Just(u64::from(u32::MAX)),
                ]),
                0..200,
            )
        ) {
            let narrow: Vec<NarrowTuple> = quads.iter().map(|q| NarrowTuple::pack(*q)).collect();
            for ordering in Ordering::ALL {
                let wide_keys = keys(TupleSource::new(ordering, &sorted_tuples(ordering, &quads)));
                let narrow_keys =
                    keys(TupleSource::new(ordering, &sorted_tuples(ordering, &narrow)));
                proptest::prop_assert_eq!(narrow_keys, wide_keys);
            }
        }
    }

    #[test]
    fn a_merge_of_spilled_and_memory_runs_is_ascending_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        let first: Vec<IdQuad> = (0..500u64).map(|i| [i * 3, 1, 1, 0]).collect();
        let second: Vec<IdQuad> = (0..500u64).map(|i| [i * 2, 1, 1, 0]).collect();
        let path = dir.path().join("run");
        spill(&path, Ordering::Spo, &sorted_tuples(Ordering::Spo, &first)).unwrap();
        let second = sorted_tuples(Ordering::Spo, &second);
        let merge = Merge::new(vec![
            Box::new(SpillReader::open(&path).unwrap()),
            Box::new(TupleSource::new(Ordering::Spo, &second)),
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

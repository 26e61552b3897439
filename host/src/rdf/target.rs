//! Where a load's quads go: a [`BulkLoad`] (chunked transactions or atomic batches) or a
//! [`SortedLoad`] (sorted runs ingested by the backend), and how a load picks one.

use oxrdf::Quad;

use super::load::{LoadRequest, Source};
use crate::plugin::Capabilities;
use crate::store::{
    BulkLoad, LoadPath, LoadProgress, LoadSummary, SortedLoad, SortedLoadOptions, Store, StoreError,
};

/// Bytes of input (decompressed, estimated) from which `--load-path auto` takes the sorted
/// path where the backend has `bulk-ingest`: below it a load is a few transactions, cheaper
/// than a round of ingested runs.
pub const SORTED_LOAD_MIN_BYTES: u64 = 8 << 20;
/// How much larger than its file a gzipped input is, about (N-Quads compress about 6 to 10 times).
const GZIP_RATIO: u64 = 6;
/// Quads a sorted load buffers before interning them.
const SORTED_BATCH: usize = 4096;

/// Whether `request` goes through the sorted path on `store`.
pub(super) fn takes_sorted_path(store: &Store, request: &LoadRequest) -> bool {
    match request.options.path {
        LoadPath::Sorted => true,
        LoadPath::Auto => {
            store
                .backend()
                .capabilities()
                .has(Capabilities::BULK_INGEST)
                && estimated_bytes(&request.sources) >= SORTED_LOAD_MIN_BYTES
        }
        LoadPath::Transactions | LoadPath::Batches => false,
    }
}

/// The decompressed size of the inputs, about; standard input counts as nothing (its size is
/// not known: pass `--load-path sorted` for a large pipe).
fn estimated_bytes(sources: &[Source]) -> u64 {
    sources
        .iter()
        .map(|source| match source {
            Source::File(path, format) => {
                let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
                if format.gzip {
                    bytes.saturating_mul(GZIP_RATIO)
                } else {
                    bytes
                }
            }
            Source::Stdin(_) => 0,
        })
        .sum()
}

/// A load in progress.
pub(super) enum LoadTarget<'a> {
    /// Chunks or batches.
    Bulk(BulkLoad<'a>),
    /// Sorted runs, and the quads not yet handed to it.
    Sorted(SortedLoad<'a>, Vec<Quad>),
}

impl<'a> LoadTarget<'a> {
    /// Starts the load `request` asks for on `store`.
    pub fn begin(store: &'a Store, request: &LoadRequest) -> Result<Self, StoreError> {
        if takes_sorted_path(store, request) {
            let options = SortedLoadOptions {
                memory_budget: request.memory_budget,
                spill_dir: request.data_dir.clone(),
                ..SortedLoadOptions::default()
            };
            Ok(Self::Sorted(
                store.sorted_load(options)?,
                Vec::with_capacity(SORTED_BATCH),
            ))
        } else {
            Ok(Self::Bulk(store.bulk_load(request.options)?))
        }
    }

    /// Reports the stages of a sorted load to `progress` (a bulk load has one stage).
    pub fn set_progress(&mut self, progress: impl FnMut(LoadProgress) + 'a) {
        if let Self::Sorted(load, _) = self {
            load.set_progress(progress);
        }
    }

    /// Adds a quad.
    pub fn add(&mut self, quad: Quad) -> Result<(), StoreError> {
        match self {
            Self::Bulk(load) => load.add(quad),
            Self::Sorted(load, buffer) => {
                buffer.push(quad);
                if buffer.len() >= SORTED_BATCH {
                    load.add_all(buffer)?;
                    buffer.clear();
                }
                Ok(())
            }
        }
    }

    /// Quads read so far.
    pub fn read(&self) -> u64 {
        match self {
            Self::Bulk(load) => load.summary().read,
            Self::Sorted(load, buffer) => load.summary().read + buffer.len() as u64,
        }
    }

    /// Commits the load.
    pub fn commit(self) -> Result<LoadSummary, StoreError> {
        match self {
            Self::Bulk(load) => load.commit(),
            Self::Sorted(mut load, buffer) => {
                if !buffer.is_empty() {
                    load.add_all(&buffer)?;
                }
                load.commit()
            }
        }
    }

    /// Gives the load up, undoing what it wrote.
    pub fn rollback(self) -> Result<(), StoreError> {
        match self {
            Self::Bulk(load) => load.rollback(),
            Self::Sorted(load, _) => load.rollback(),
        }
    }
}

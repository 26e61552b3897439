//! A sorted load's new dictionary entries, held until the ingest: `dict.id2term` entries in id
//! order (ids are handed out ascending, so they need no sorting) and `dict.term2id` entries,
//! sorted by hash at the end. Both spill to files when the memory budget asks.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use kgdb_plugin_api::{BatchEntry, KvBatch, TableId, WriteBatch};

use super::super::error::StoreError;
use super::runs::{spill_error, KeySource};

/// A `term2id` entry as one sortable record: the 16-byte hash, then the id big-endian.
type HashRecord = [u8; 24];

/// Bytes of a spill file's buffer.
const FILE_BUFFER: usize = 256 * 1024;

/// Bytes of id2term entries per ingested run.
pub(super) const ID2TERM_CHUNK: usize = 16 << 20;

/// The load's new dictionary entries.
pub(super) struct NewTerms {
    id2term_table: TableId,
    term2id_table: TableId,
    /// id2term entries not yet spilled, ascending.
    id2term: KvBatch,
    /// Spilled id2term chunks, in id order.
    id2term_files: Vec<PathBuf>,
    /// term2id entries not yet spilled.
    term2id: Vec<HashRecord>,
    /// Spilled term2id chunks, each sorted.
    term2id_files: Vec<PathBuf>,
    /// Entries in all.
    pub count: u64,
}

impl NewTerms {
    /// Empty, for the store's two dictionary tables.
    pub fn new(id2term_table: TableId, term2id_table: TableId) -> Self {
        Self {
            id2term_table,
            term2id_table,
            id2term: KvBatch::new(),
            id2term_files: Vec::new(),
            term2id: Vec::new(),
            term2id_files: Vec::new(),
            count: 0,
        }
    }

    /// Takes the dictionary puts an interner wrote into `scratch` (clearing it).
    pub fn take_from(&mut self, scratch: &mut WriteBatch) -> Result<(), StoreError> {
        for entry in scratch.iter() {
            let entry = entry.map_err(|e| StoreError::corrupt(e.message.to_string()))?;
            let BatchEntry::Put { table, key, value } = entry else {
                return Err(StoreError::corrupt(
                    "the interner wrote something other than a dictionary entry",
                ));
            };
            if table == self.id2term_table {
                self.id2term
                    .push(key, value)
                    .map_err(|e| StoreError::InvalidInput(e.message.to_string()))?;
                self.count += 1;
            } else if table == self.term2id_table {
                let (id, rest) = super::super::encoding::read_id(value)?;
                if key.len() != 16 || !rest.is_empty() {
                    return Err(StoreError::corrupt(
                        "a term2id entry of an unexpected shape",
                    ));
                }
                let mut record = [0u8; 24];
                record[..16].copy_from_slice(key);
                record[16..].copy_from_slice(&id.0.to_be_bytes());
                self.term2id.push(record);
            } else {
                return Err(StoreError::corrupt(
                    "the interner wrote outside the dictionary",
                ));
            }
        }
        scratch.clear();
        Ok(())
    }

    /// Bytes held in memory.
    pub fn memory(&self) -> u64 {
        (self.id2term.byte_len() + self.id2term.len() * 16 + self.term2id.len() * 24) as u64
    }

    /// Writes what is held in memory to files in `dir` (file names from `sequence`).
    pub fn spill(&mut self, dir: &Path, sequence: &mut u64) -> Result<(), StoreError> {
        if !self.id2term.is_empty() {
            *sequence += 1;
            let path = dir.join(format!("id2term-{sequence}"));
            write_entries(&path, &self.id2term)?;
            self.id2term_files.push(path);
            self.id2term.clear();
        }
        if !self.term2id.is_empty() {
            *sequence += 1;
            let path = dir.join(format!("term2id-{sequence}"));
            self.term2id.sort_unstable();
            write_records(&path, &self.term2id)?;
            self.term2id_files.push(path);
            self.term2id = Vec::new();
        }
        Ok(())
    }

    /// Hands the id2term entries, ascending, to `sink` in batches of about [`ID2TERM_CHUNK`].
    pub fn each_id2term_batch(
        &mut self,
        mut sink: impl FnMut(TableId, KvBatch) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for path in std::mem::take(&mut self.id2term_files) {
            sink(self.id2term_table, read_entries(&path)?)?;
            let _ = std::fs::remove_file(&path);
        }
        let rest = std::mem::take(&mut self.id2term);
        let mut batch = KvBatch::new();
        for (key, value) in rest.iter() {
            batch
                .push(key, value)
                .map_err(|e| StoreError::InvalidInput(e.message.to_string()))?;
            if batch.byte_len() >= ID2TERM_CHUNK {
                sink(self.id2term_table, std::mem::take(&mut batch))?;
            }
        }
        if !batch.is_empty() {
            sink(self.id2term_table, batch)?;
        }
        Ok(())
    }

    /// The term2id entries as an ascending source of 24-byte records (hash, then id).
    pub fn term2id_source(&mut self) -> Result<Vec<Box<dyn KeySource + Send>>, StoreError> {
        let mut sources: Vec<Box<dyn KeySource + Send>> = Vec::new();
        for path in std::mem::take(&mut self.term2id_files) {
            sources.push(Box::new(RecordReader::open(&path)?));
        }
        let mut rest = std::mem::take(&mut self.term2id);
        rest.sort_unstable();
        sources.push(Box::new(rest.into_iter()));
        Ok(sources)
    }

    /// The term2id table.
    pub fn term2id_table(&self) -> TableId {
        self.term2id_table
    }
}

impl KeySource for std::vec::IntoIter<HashRecord> {
    fn next_key(&mut self, key: &mut Vec<u8>) -> Result<bool, StoreError> {
        key.clear();
        match self.next() {
            Some(record) => {
                key.extend_from_slice(&record);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Splits a term2id record into the table's key (the hash) and the id.
pub(super) fn split_record(record: &[u8]) -> Result<(&[u8], u64), StoreError> {
    if record.len() != 24 {
        return Err(StoreError::corrupt(
            "a spilled term2id record is not 24 bytes",
        ));
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&record[16..]);
    Ok((&record[..16], u64::from_be_bytes(id)))
}

fn write_records(path: &Path, records: &[HashRecord]) -> Result<(), StoreError> {
    let file = File::create(path).map_err(|e| spill_error(path, "creating", &e))?;
    let mut out = BufWriter::with_capacity(FILE_BUFFER, file);
    for record in records {
        out.write_all(record)
            .map_err(|e| spill_error(path, "writing", &e))?;
    }
    out.into_inner()
        .map_err(|e| spill_error(path, "writing", e.error()))?
        .sync_data()
        .map_err(|e| spill_error(path, "writing", &e))
}

/// The records of a spilled term2id chunk.
struct RecordReader {
    path: PathBuf,
    input: BufReader<File>,
}

impl RecordReader {
    fn open(path: &Path) -> Result<Self, StoreError> {
        let file = File::open(path).map_err(|e| spill_error(path, "opening", &e))?;
        Ok(Self {
            path: path.to_owned(),
            input: BufReader::with_capacity(FILE_BUFFER, file),
        })
    }
}

impl KeySource for RecordReader {
    fn next_key(&mut self, key: &mut Vec<u8>) -> Result<bool, StoreError> {
        key.clear();
        key.resize(24, 0);
        match self.input.read_exact(key) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                key.clear();
                Ok(false)
            }
            Err(error) => Err(spill_error(&self.path, "reading", &error)),
        }
    }
}

/// Writes id2term entries as (key length, value length, key, value) records.
fn write_entries(path: &Path, entries: &KvBatch) -> Result<(), StoreError> {
    let file = File::create(path).map_err(|e| spill_error(path, "creating", &e))?;
    let mut out = BufWriter::with_capacity(FILE_BUFFER, file);
    for (key, value) in entries.iter() {
        let lengths = [
            (key.len() as u32).to_le_bytes(),
            (value.len() as u32).to_le_bytes(),
        ];
        out.write_all(&lengths.concat())
            .and_then(|()| out.write_all(key))
            .and_then(|()| out.write_all(value))
            .map_err(|e| spill_error(path, "writing", &e))?;
    }
    out.into_inner()
        .map_err(|e| spill_error(path, "writing", e.error()))?
        .sync_data()
        .map_err(|e| spill_error(path, "writing", &e))
}

fn read_entries(path: &Path) -> Result<KvBatch, StoreError> {
    let file = File::open(path).map_err(|e| spill_error(path, "opening", &e))?;
    let mut input = BufReader::with_capacity(FILE_BUFFER, file);
    let mut entries = KvBatch::new();
    let mut lengths = [0u8; 8];
    let (mut key, mut value) = (Vec::new(), Vec::new());
    loop {
        match input.read_exact(&mut lengths) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(entries),
            Err(error) => return Err(spill_error(path, "reading", &error)),
        }
        let mut half = [0u8; 4];
        half.copy_from_slice(&lengths[..4]);
        key.resize(u32::from_le_bytes(half) as usize, 0);
        half.copy_from_slice(&lengths[4..]);
        value.resize(u32::from_le_bytes(half) as usize, 0);
        input
            .read_exact(&mut key)
            .and_then(|()| input.read_exact(&mut value))
            .map_err(|e| spill_error(path, "reading", &e))?;
        entries
            .push(&key, &value)
            .map_err(|e| StoreError::InvalidInput(e.message.to_string()))?;
    }
}

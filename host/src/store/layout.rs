//! What a store is made of on its backend: the tables, the names of the counters in
//! `store.meta`, the format marker, and opening them for reading or writing. Every submodule
//! of the store reads the backend through these names; nothing else knows them.

use kgdb_plugin_api::{ErrorCode, TableId, TxnOptions};

use super::encoding::{decode_count, TermHasher};
use super::error::{Context, StoreError};
use super::index::Ordering;
use crate::plugin::{Backend, BackendTxn};

/// The version of the store format this code reads and writes. It goes up whenever a store
/// written by this code could be misread by an older one (or the other way round); a store
/// of another version is refused by every open, naming both.
pub const FORMAT_VERSION: u32 = 1;

/// What every format marker starts with, before its version.
const FORMAT_NAME: &str = "kgdb-quadstore";

/// The format marker this code writes (`store.meta`'s `format`).
pub(super) const FORMAT: &str = "kgdb-quadstore 1";

/// The format marker of a copy (`backup`, `migrate`) that has not finished: no store.
pub(super) const COPY_UNFINISHED: &str = "kgdb-quadstore copy-unfinished";

/// Table name of the load journal.
pub(super) const JOURNAL_TABLE: &str = "load.journal";

/// Counter names in `store.meta`.
pub(super) mod meta {
    /// The format marker ([`super::FORMAT`]).
    pub const FORMAT: &[u8] = b"format";
    /// The key of the store's term hash (16 random bytes, chosen when the store is created).
    pub const HASH_KEY: &[u8] = b"hash-key";
    /// The next term id to hand out.
    pub const NEXT_ID: &[u8] = b"next-id";
    /// Quads in every graph.
    pub const QUADS: &[u8] = b"quads";
    /// Quads in the default graph.
    pub const DEFAULT_GRAPH_QUADS: &[u8] = b"default-graph-quads";
    /// Terms in the dictionary.
    pub const TERMS: &[u8] = b"terms";
    /// Present while a load is journaled: the first term id the load may have created.
    pub const LOAD_JOURNAL: &[u8] = b"load-journal";
    /// Present beside [`LOAD_JOURNAL`] when the counters do not include the load yet (a
    /// sorted load writes them in its last commit): its undo then leaves them alone.
    pub const LOAD_UNCOUNTED: &[u8] = b"load-uncounted";
    /// [`LOAD_UNCOUNTED`]'s value when the store held no quad as the load began: the load
    /// journals nothing, and its undo empties the orderings.
    pub const INTO_EMPTY: &[u8] = b"into-empty";
    /// Beside [`LOAD_JOURNAL`]: the id of the process that writes the load, in decimal, so
    /// that a reader can tell a running load from one whose process is gone.
    pub const LOAD_OWNER: &[u8] = b"load-owner";
    /// Goes up by one whenever term ids stop meaning what they meant (the dictionary was
    /// emptied, a load's terms were undone): caches of ids, in this process or another, are
    /// good only within one generation.
    pub const DICTIONARY_GENERATION: &[u8] = b"dictionary-generation";
}

/// The `store.meta` key of note `name` (a prefix no counter name has).
pub(super) fn note_key(name: &str) -> Vec<u8> {
    [b"note:".as_slice(), name.as_bytes()].concat()
}

/// Whether a table name is one the store uses.
fn is_store_table(name: &str) -> bool {
    name.starts_with("quads.")
        || name.starts_with("dict.")
        || name.starts_with("store.")
        || name == JOURNAL_TABLE
}

/// The tables of a store.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tables {
    orderings: [TableId; 9],
    /// `dict.id2term`: term id → encoded term.
    pub id2term: TableId,
    /// `dict.term2id`: term hash → term id.
    pub term2id: TableId,
    /// `store.meta`: counters, the format marker and notes.
    pub meta: TableId,
    /// `store.graphs`: named graph id → its quad count.
    pub graphs: TableId,
}

impl Tables {
    /// The table of one ordering.
    pub fn ordering(&self, ordering: Ordering) -> TableId {
        self.orderings[ordering.index()]
    }

    /// Every table with its name, `store.meta` last.
    pub fn named(&self) -> Vec<(String, TableId)> {
        let mut named: Vec<(String, TableId)> = Ordering::ALL
            .iter()
            .map(|ordering| (ordering.table_name(), self.ordering(*ordering)))
            .collect();
        named.extend([
            ("dict.id2term".to_owned(), self.id2term),
            ("dict.term2id".to_owned(), self.term2id),
            ("store.graphs".to_owned(), self.graphs),
            ("store.meta".to_owned(), self.meta),
        ]);
        named
    }

    /// Every table that holds quads or terms (what a whole `clear` empties).
    pub fn data_tables(&self) -> Vec<TableId> {
        let mut tables = self.orderings.to_vec();
        tables.extend([self.id2term, self.term2id, self.graphs]);
        tables
    }

    /// Opens the tables, creating them when `create` (a writing open). A reading open of a
    /// backend without them fails with [`StoreError::NoStore`].
    pub fn open(backend: &Backend, create: bool) -> Result<Self, StoreError> {
        let open = |name: &str| match backend.open_table(name, create) {
            Err(error) if !create && error.code == ErrorCode::NOT_FOUND => Err(no_store()),
            other => other.context(&format!("opening table `{name}`")),
        };
        let mut orderings = [TableId(0); 9];
        for (slot, ordering) in orderings.iter_mut().zip(Ordering::ALL) {
            *slot = open(&ordering.table_name())?;
        }
        Ok(Self {
            orderings,
            id2term: open("dict.id2term")?,
            term2id: open("dict.term2id")?,
            meta: open("store.meta")?,
            graphs: open("store.graphs")?,
        })
    }
}

fn no_store() -> StoreError {
    StoreError::NoStore("it holds no QuadStore yet (nothing has been stored in it)".into())
}

/// What an open learns from `store.meta`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Header {
    /// The key of the store's term hash.
    pub hash_key: [u8; 16],
    /// Whether a load journal is recorded: a load is running in another process, or was
    /// interrupted and waits for a writing open to undo it.
    pub load_pending: bool,
}

/// Reads the header in a read-only transaction; a backend holding the tables but no format
/// marker holds no store.
pub(super) fn read_header(backend: &Backend, tables: &Tables) -> Result<Header, StoreError> {
    let txn = backend
        .begin(TxnOptions::READ_ONLY)
        .context("starting a read transaction")?;
    let found = txn
        .get(tables.meta, meta::FORMAT)
        .context("reading the store format")?;
    match found {
        Some(found) => header_of(&txn, tables, &found),
        None => Err(no_store()),
    }
}

/// Checks the format marker, or writes it (with a new hash key) into a backend that holds no
/// store yet; the header after that.
pub(super) fn read_or_create_header(
    backend: &Backend,
    tables: &Tables,
) -> Result<Header, StoreError> {
    // Read first, so that opening an existing store writes nothing.
    let txn = backend
        .begin(TxnOptions::READ_ONLY)
        .context("starting a read transaction")?;
    if let Some(found) = txn
        .get(tables.meta, meta::FORMAT)
        .context("reading the store format")?
    {
        return header_of(&txn, tables, &found);
    }
    drop(txn);
    let mut others = backend.list_tables().context("listing tables")?;
    others.retain(|name| !is_store_table(name));
    if !others.is_empty() {
        return Err(StoreError::Incompatible(format!(
            "the data directory holds tables that are not a kgdb QuadStore's: {}",
            others.join(", ")
        )));
    }
    let mut txn = backend
        .begin(TxnOptions::READ_WRITE)
        .context("starting a transaction")?;
    if let Some(found) = txn
        .get(tables.meta, meta::FORMAT)
        .context("reading the store format")?
    {
        // Another writer of this process created it meanwhile.
        return header_of(&txn, tables, &found);
    }
    let hash_key = TermHasher::random_key();
    txn.put(tables.meta, meta::FORMAT, FORMAT.as_bytes())
        .context("writing the store format")?;
    txn.put(tables.meta, meta::HASH_KEY, &hash_key)
        .context("writing the store format")?;
    txn.commit().context("committing the store format")?;
    Ok(Header {
        hash_key,
        load_pending: false,
    })
}

/// The format version a marker names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    /// `kgdb-quadstore N`.
    Version(u32),
    /// [`COPY_UNFINISHED`].
    CopyUnfinished,
    /// Anything else.
    Foreign,
}

impl Marker {
    /// Reads a format marker.
    pub fn parse(marker: &[u8]) -> Self {
        if marker == COPY_UNFINISHED.as_bytes() {
            return Self::CopyUnfinished;
        }
        std::str::from_utf8(marker)
            .ok()
            .and_then(|text| text.strip_prefix(FORMAT_NAME))
            .and_then(|rest| rest.strip_prefix(' '))
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse().ok())
            .map_or(Self::Foreign, Self::Version)
    }
}

/// Why a store with format marker `marker` cannot be opened by this code, if it cannot.
pub(super) fn format_refusal(marker: &[u8]) -> Option<String> {
    let version = env!("CARGO_PKG_VERSION");
    match Marker::parse(marker) {
        Marker::Version(FORMAT_VERSION) => None,
        Marker::Version(newer) if newer > FORMAT_VERSION => Some(format!(
            "the store is in format {newer}, written by a newer kgdb; this kgdb ({version}) reads format {FORMAT_VERSION}: open it with a kgdb that reads format {newer} (a store is never rewritten to an older format)"
        )),
        Marker::Version(older) => Some(format!(
            "the store is in format {older}, older than any this kgdb ({version}) reads or upgrades (format {FORMAT_VERSION}): dump it with the kgdb that wrote it and load the dump"
        )),
        Marker::CopyUnfinished => Some(
            "the data directory holds a copy that did not finish (`kgdb-host backup` or `migrate` stopped before its last commit), not a store: remove the directory and copy again".to_owned(),
        ),
        Marker::Foreign => Some(format!(
            "the data directory's format marker is `{}`, not a kgdb QuadStore's (`{FORMAT}`)",
            String::from_utf8_lossy(&marker[..marker.len().min(64)])
        )),
    }
}

/// The store format a backend holds, in words, for `status`: its version and whether this
/// code reads it, "none" when the backend holds no store.
///
/// # Errors
/// Backend failures.
pub fn describe_format(backend: &Backend) -> Result<String, StoreError> {
    let meta = match backend.open_table("store.meta", false) {
        Err(error) if error.code == ErrorCode::NOT_FOUND => return Ok("none yet".to_owned()),
        other => other.context("opening table `store.meta`")?,
    };
    let txn = backend
        .begin(TxnOptions::READ_ONLY)
        .context("starting a read transaction")?;
    let Some(marker) = txn
        .get(meta, meta::FORMAT)
        .context("reading the store format")?
    else {
        return Ok("none yet".to_owned());
    };
    Ok(match (Marker::parse(&marker), format_refusal(&marker)) {
        (Marker::Version(version), None) => {
            format!("format {version} (the format this kgdb reads and writes)")
        }
        (_, Some(refusal)) => format!("not readable here: {refusal}"),
        (_, None) => "unknown".to_owned(),
    })
}

fn header_of(txn: &BackendTxn, tables: &Tables, format: &[u8]) -> Result<Header, StoreError> {
    if let Some(refusal) = format_refusal(format) {
        return Err(StoreError::Incompatible(refusal));
    }
    let key = txn
        .get(tables.meta, meta::HASH_KEY)
        .context("reading the store's hash key")?
        .unwrap_or_default();
    let hash_key = key.as_slice().try_into().map_err(|_| {
        StoreError::corrupt(format!(
            "the store's hash key holds {} bytes, not 16",
            key.len()
        ))
    })?;
    let load_pending = txn
        .get(tables.meta, meta::LOAD_JOURNAL)
        .context("reading the load journal marker")?
        .is_some();
    Ok(Header {
        hash_key,
        load_pending,
    })
}

/// The [`meta::LOAD_OWNER`] value of this process.
pub(super) fn load_owner() -> Vec<u8> {
    std::process::id().to_string().into_bytes()
}

/// Reads an optional counter (0 when absent).
pub(super) fn read_counter(
    txn: &BackendTxn,
    table: TableId,
    key: &[u8],
) -> Result<u64, StoreError> {
    match txn.get(table, key).context("reading a counter")? {
        Some(bytes) => decode_count(&bytes, &String::from_utf8_lossy(key)),
        None => Ok(0),
    }
}

//! # kgdb LMDB plugin
//!
//! A persistent backend on LMDB (through `heed`), loaded by `kgdb-host` as a `cdylib`.
//!
//! - **Tables** are LMDB named databases (`max_tables` of them).
//! - **One writer, readers never blocked**: write transactions are serialised
//!   (`SERIALIZED_WRITERS`): a second `begin` of a read-write transaction waits until the first
//!   ends. LMDB binds a write transaction to the thread that created it, so every write
//!   transaction runs on the backend's writer thread, and the `Txn` object the host holds sends it
//!   requests; that keeps transactions `Send` without any unsafe thread hopping. Read
//!   transactions are LMDB MVCC snapshots opened without thread-local storage, usable from any
//!   thread, and never wait for the writer.
//! - **A map that grows by itself**: the memory map starts at `map_size`. When a write hits
//!   `MDB_MAP_FULL`, the writer aborts the LMDB transaction, waits until no read transaction of
//!   this process is open (new ones wait meanwhile), doubles the map (up to `max_map_size`) and
//!   replays every write of the transaction from its redo log, so no write is lost. If readers
//!   stay open longer than `resize_wait`, the write fails with `FULL` and names the cause.
//! - **Durability**: every commit is synced to disk (LMDB's default), whatever the sync mode.
//! - **Keys** up to 1 KiB (LMDB built with `longer-keys`; the exact engine limit depends on the
//!   page size and is never below that), values up to 64 MiB.
//! - **Bulk ingest** (`ingest_sorted`): every run of a call in one write transaction, the map
//!   grown ahead from the runs' sizes, LMDB's append mode where a run sorts after the table's
//!   last key (dense pages), plain sorted puts otherwise.
//! - **Checkpoint** copies the environment, compacted, into a new directory.
//! - The data directory holds `kgdb-format.toml` (plugin name and format version) and
//!   `kgdb.lock`, which keeps a second writing process out with "in use by process N".
//!   Reading processes (opened read-only) take no lock: LMDB's own reader table lets any
//!   number of them read beside the one writer, each transaction a snapshot of the latest
//!   commit; when the writer grows the map, a reader adopts the new size at its next
//!   transaction.
//!
//! Files: `lib.rs` (the plugin), `config.rs`, `backend.rs` (open, tables, engine operations),
//! `txn.rs`, `cursor.rs`, `writer.rs` (the writer thread), `ingest.rs` (bulk ingest), `shared.rs` (the environment and
//! batches of rows), `gate.rs` (the reader gate), `error.rs`.

mod backend;
mod config;
mod cursor;
mod error;
mod gate;
mod ingest;
mod shared;
mod txn;
mod writer;

use kgdb_plugin_api::sdk::{OpenOptions, Plugin, PluginDescription};
use kgdb_plugin_api::{Capabilities, PluginError};

pub use backend::LmdbBackend;
pub use config::LmdbConfig;
pub use cursor::LmdbCursor;
pub use txn::LmdbTxn;

/// The plugin's name, also written into data directories.
pub const PLUGIN_NAME: &str = "lmdb";
/// The on-disk format version this plugin writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Largest key accepted (LMDB with `longer-keys` allows at least this on any page size).
pub const MAX_KEY_SIZE: u32 = 1024;
/// Largest value accepted.
pub const MAX_VALUE_SIZE: u32 = 64 * 1024 * 1024;

/// Everything an instance of this backend can do.
pub const CAPABILITIES: Capabilities = Capabilities::new(
    Capabilities::TRANSACTIONS
        | Capabilities::SNAPSHOT_READS
        | Capabilities::READ_YOUR_WRITES
        | Capabilities::SERIALIZED_WRITERS
        | Capabilities::PERSISTENT
        | Capabilities::DURABLE_SYNC
        | Capabilities::ATOMIC_BATCH
        | Capabilities::BULK_INGEST
        | Capabilities::ATOMIC_MULTI_INGEST
        | Capabilities::FLUSH
        | Capabilities::CHECKPOINT
        | Capabilities::NATIVE_STATS
        | Capabilities::REVERSE_SCAN
        | Capabilities::DELETE_RANGE
        | Capabilities::READ_ONLY_OPEN
        | Capabilities::SEND_TXN,
    MAX_KEY_SIZE,
    MAX_VALUE_SIZE,
);

/// The plugin type exported to the host.
pub struct LmdbPlugin;

impl Plugin for LmdbPlugin {
    type Backend = LmdbBackend;

    fn describe() -> PluginDescription {
        PluginDescription {
            name: PLUGIN_NAME,
            version: env!("CARGO_PKG_VERSION"),
            description: "LMDB: embedded, persistent, one writer, readers never blocked",
            capabilities: CAPABILITIES,
            config_keys: LmdbConfig::KEYS,
        }
    }

    fn full_config_for_tests() -> Option<&'static str> {
        Some("map_size = \"256 KiB\"\nmax_map_size = \"1 MiB\"")
    }

    fn validate_config(config: &str) -> Result<(), PluginError> {
        LmdbConfig::parse(config).map(drop)
    }

    fn open(options: OpenOptions) -> Result<LmdbBackend, PluginError> {
        LmdbBackend::open(&LmdbConfig::parse(&options.config)?, &options)
    }
}

kgdb_plugin_api::export_plugin!(LmdbPlugin);

//! # kgdb RocksDB plugin
//!
//! A persistent backend on RocksDB, loaded by `kgdb-host` as a `cdylib`.
//!
//! - **Tables** are column families (`t:NAME`), all with the same options: LZ4 or zstd
//!   compression, a bloom filter for point look-ups, one shared LRU block cache.
//! - **Transactions** are RocksDB optimistic transactions with a snapshot taken at `begin`:
//!   snapshot reads, read-your-writes, and write-write conflict detection at commit, first
//!   committer wins: the later commit fails with a retryable `CONFLICT` and applies nothing
//!   (`CONFLICT_DETECTION`).
//! - **Durability**: every commit goes through the write-ahead log, so it survives a process
//!   crash. `sync = true` (or `SyncMode::SYNC` for one commit) also fsyncs the log, which
//!   survives power loss.
//! - **Bulk ingest** writes each sorted run into an SST file and hands it to RocksDB with
//!   `ingest_external_file` (each run atomic on its own).
//! - **Checkpoint** makes a consistent copy (hard links where possible) that opens as a data
//!   directory; **flush**, **compact** and RocksDB's own properties as native stats.
//! - The data directory holds `kgdb-format.toml` (plugin name and format version) and
//!   `kgdb.lock`, which keeps a second writing process out with "in use by process N".
//! - **Read-only instances** (`read-only-open`) are RocksDB read-only instances: they take no
//!   lock, so any number of reading processes work beside the one writer; each sees the data as
//!   it was when it opened (what the writer commits later is not visible to it), and keeps
//!   every file open so the writer's compactions cannot take one away.
//!
//! Files: `lib.rs` (the plugin), `config.rs`, `backend.rs` (open, tables, batches, ingest,
//! engine operations), `engine.rs` (the open database), `txn.rs`, `cursor.rs`, `cell.rs` (a
//! transaction's state shared with its cursors), `error.rs`.

mod backend;
mod cell;
mod config;
mod cursor;
mod engine;
mod error;
mod txn;

use kgdb_plugin_api::sdk::{OpenOptions, Plugin, PluginDescription};
use kgdb_plugin_api::{Capabilities, PluginError};

pub use backend::RocksBackend;
pub use config::RocksConfig;
pub use cursor::RocksCursor;
pub use txn::RocksTxn;

/// The plugin's name, also written into data directories.
pub const PLUGIN_NAME: &str = "rocksdb";
/// The on-disk format version this plugin writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Largest key accepted.
pub const MAX_KEY_SIZE: u32 = 64 * 1024;
/// Largest value accepted.
pub const MAX_VALUE_SIZE: u32 = 64 * 1024 * 1024;

/// Everything an instance of this backend can do.
pub const CAPABILITIES: Capabilities = Capabilities::new(
    Capabilities::TRANSACTIONS
        | Capabilities::SNAPSHOT_READS
        | Capabilities::READ_YOUR_WRITES
        | Capabilities::CONFLICT_DETECTION
        | Capabilities::PERSISTENT
        | Capabilities::DURABLE_SYNC
        | Capabilities::ATOMIC_BATCH
        | Capabilities::BULK_INGEST
        | Capabilities::FLUSH
        | Capabilities::COMPACT
        | Capabilities::CHECKPOINT
        | Capabilities::NATIVE_STATS
        | Capabilities::REVERSE_SCAN
        | Capabilities::DELETE_RANGE
        | Capabilities::READ_ONLY_OPEN
        | Capabilities::SEND_TXN
        | Capabilities::CHECKSUMS,
    MAX_KEY_SIZE,
    MAX_VALUE_SIZE,
);

/// The plugin type exported to the host.
pub struct RocksPlugin;

impl Plugin for RocksPlugin {
    type Backend = RocksBackend;

    fn describe() -> PluginDescription {
        PluginDescription {
            name: PLUGIN_NAME,
            version: env!("CARGO_PKG_VERSION"),
            description: "RocksDB: persistent LSM tree, optimistic transactions, SST bulk ingest",
            capabilities: CAPABILITIES,
            config_keys: RocksConfig::KEYS,
        }
    }

    fn validate_config(config: &str) -> Result<(), PluginError> {
        config::parse(config).map(drop)
    }

    fn open(options: OpenOptions) -> Result<RocksBackend, PluginError> {
        RocksBackend::open(&config::parse(&options.config)?, &options)
    }
}

kgdb_plugin_api::export_plugin!(RocksPlugin);

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
//!   `kgdb.lock`, which keeps a second process out with "in use by process N".

mod config;
mod engine;

use kgdb_plugin_api::sdk::{OpenOptions, Plugin, PluginDescription};
use kgdb_plugin_api::{Capabilities, PluginError};

pub use config::RocksConfig;
pub use engine::{RocksBackend, RocksCursor, RocksTxn};

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
        | Capabilities::SEND_TXN,
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
            config_keys: config::CONFIG_KEYS,
        }
    }

    fn validate_config(config: &str) -> Result<(), PluginError> {
        config::parse(config).map(drop)
    }

    fn open(options: OpenOptions) -> Result<RocksBackend, PluginError> {
        let config = config::parse(&options.config)?;
        let Some(dir) = options.data_dir.clone() else {
            return Err(
                PluginError::invalid_argument("the rocksdb plugin needs a data directory")
                    .with_key("data_dir"),
            );
        };
        RocksBackend::open(&dir, &config, &options)
    }
}

kgdb_plugin_api::export_plugin!(RocksPlugin);

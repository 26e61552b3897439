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
//! - **Checkpoint** copies the environment, compacted, into a new directory.
//! - The data directory holds `kgdb-format.toml` (plugin name and format version) and
//!   `kgdb.lock`, which keeps a second process out with "in use by process N".

mod backend;
mod writer;

use std::time::Duration;

use kgdb_plugin_api::sdk::{self, ByteSize, ConfigKeyDoc, OpenOptions, Plugin, PluginDescription};
use kgdb_plugin_api::{Capabilities, PluginError};
use serde::Deserialize;

pub use backend::{LmdbBackend, LmdbCursor, LmdbTxn};

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

fn default_map_size() -> ByteSize {
    ByteSize::mib(256)
}

fn default_max_tables() -> u32 {
    64
}

fn default_max_readers() -> u32 {
    126
}

fn default_resize_wait() -> u64 {
    30
}

/// The `[plugin.config]` keys of the LMDB backend.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmdbConfig {
    /// Initial size of the memory map; it doubles whenever it fills up.
    #[serde(default = "default_map_size")]
    pub map_size: ByteSize,
    /// The map never grows past this; a write that needs more fails with `FULL`.
    #[serde(default)]
    pub max_map_size: Option<ByteSize>,
    /// How many tables (LMDB named databases) the environment can hold.
    #[serde(default = "default_max_tables")]
    pub max_tables: u32,
    /// How many read transactions may be open at once, over every process.
    #[serde(default = "default_max_readers")]
    pub max_readers: u32,
    /// Seconds a growing map waits for open read transactions to finish.
    #[serde(default = "default_resize_wait")]
    pub resize_wait_seconds: u64,
}

impl LmdbConfig {
    fn check(&self) -> Result<(), PluginError> {
        if self.map_size.as_u64() < 64 * 1024 {
            return Err(PluginError::invalid_config(
                "map_size",
                format!("{} is too small: use at least 64 KiB", self.map_size),
            ));
        }
        if let Some(max) = self.max_map_size {
            if max < self.map_size {
                return Err(PluginError::invalid_config(
                    "max_map_size",
                    format!("{max} is smaller than map_size ({})", self.map_size),
                ));
            }
        }
        if self.max_tables == 0 || self.max_tables > 32_000 {
            return Err(PluginError::invalid_config(
                "max_tables",
                "must be between 1 and 32000",
            ));
        }
        if self.max_readers == 0 {
            return Err(PluginError::invalid_config(
                "max_readers",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn resize_wait(&self) -> Duration {
        Duration::from_secs(self.resize_wait_seconds)
    }
}

const CONFIG_KEYS: &[ConfigKeyDoc] = &[
    ConfigKeyDoc {
        name: "map_size",
        kind: "byte size",
        default: "\"256 MiB\"",
        doc: "Initial size of the memory map (virtual; the file grows as data is written). \
              It doubles by itself whenever a write fills it.",
    },
    ConfigKeyDoc {
        name: "max_map_size",
        kind: "byte size",
        default: "",
        doc: "The map never grows past this; a write that needs more fails with `full`. \
              No bound when unset.",
    },
    ConfigKeyDoc {
        name: "max_tables",
        kind: "integer",
        default: "64",
        doc: "How many tables (LMDB named databases) the environment can hold.",
    },
    ConfigKeyDoc {
        name: "max_readers",
        kind: "integer",
        default: "126",
        doc: "How many read transactions may be open at once, over every process.",
    },
    ConfigKeyDoc {
        name: "resize_wait_seconds",
        kind: "integer",
        default: "30",
        doc: "How long growing the map waits for open read transactions of this process to \
              end before the write fails with `full`.",
    },
];

fn parse(config: &str) -> Result<LmdbConfig, PluginError> {
    let config: LmdbConfig = sdk::parse_config(config)?;
    config.check()?;
    Ok(config)
}

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
            config_keys: CONFIG_KEYS,
        }
    }

    fn full_config_for_tests() -> Option<&'static str> {
        Some("map_size = \"256 KiB\"\nmax_map_size = \"1 MiB\"")
    }

    fn validate_config(config: &str) -> Result<(), PluginError> {
        parse(config).map(drop)
    }

    fn open(options: OpenOptions) -> Result<LmdbBackend, PluginError> {
        let config = parse(&options.config)?;
        let Some(dir) = options.data_dir.clone() else {
            return Err(
                PluginError::invalid_argument("the lmdb plugin needs a data directory")
                    .with_key("data_dir"),
            );
        };
        LmdbBackend::open(&dir, &config, &options)
    }
}

kgdb_plugin_api::export_plugin!(LmdbPlugin);

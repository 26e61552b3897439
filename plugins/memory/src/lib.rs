//! # kgdb memory plugin
//!
//! Ordered in-memory tables with snapshot transactions, loaded by `kgdb-host` as a `cdylib`.
//!
//! - **Ordered tables**: each table is a persistent B-tree (`imbl::OrdMap`), so point reads
//!   cost O(log n), and range and prefix scans O(log n + k). Cloning a table is O(1), which is
//!   what makes snapshots cheap.
//! - **Transactions**: a transaction takes an O(1) snapshot of every table when it begins,
//!   writes into its own copy (read-your-writes), and commits atomically.
//! - **Concurrent writers**: allowed. Write-write conflicts are detected at commit, first
//!   committer wins: a transaction that wrote a key some other transaction committed after this
//!   one began fails with a retryable `CONFLICT` and changes nothing
//!   (`Capabilities::CONFLICT_DETECTION`).
//! - **Limits**: keys up to 64 KiB, values up to 64 MiB; an optional `memory_limit` makes
//!   commits that would pass it fail with `FULL`.
//!
//! Files: `lib.rs` (the plugin and its config), `backend.rs`, `txn.rs`, `cursor.rs`,
//! `state.rs` (tables, versions and commits).
//!
//! - Nothing is persistent: `flush`, `compact`, `checkpoint` and read-only opens answer
//!   `UNSUPPORTED`, and their capability bits are clear.

mod backend;
mod cursor;
mod state;
mod txn;

use kgdb_plugin_api::sdk::{self, ByteSize, OpenOptions, Plugin, PluginDescription};
use kgdb_plugin_api::{Capabilities, PluginError};

pub use backend::MemoryBackend;
pub use cursor::MemoryCursor;
pub use txn::MemoryTxn;

/// Largest key the memory backend accepts.
pub const MAX_KEY_SIZE: u32 = 64 * 1024;
/// Largest value the memory backend accepts.
pub const MAX_VALUE_SIZE: u32 = 64 * 1024 * 1024;

/// Everything an instance of this backend can do.
pub const CAPABILITIES: Capabilities = Capabilities::new(
    Capabilities::TRANSACTIONS
        | Capabilities::SNAPSHOT_READS
        | Capabilities::READ_YOUR_WRITES
        | Capabilities::CONFLICT_DETECTION
        | Capabilities::ATOMIC_BATCH
        | Capabilities::BULK_INGEST
        | Capabilities::ATOMIC_MULTI_INGEST
        | Capabilities::NATIVE_STATS
        | Capabilities::REVERSE_SCAN
        | Capabilities::DELETE_RANGE
        | Capabilities::SEND_TXN,
    MAX_KEY_SIZE,
    MAX_VALUE_SIZE,
);

kgdb_plugin_api::plugin_config! {
    /// The `[plugin.config]` keys of the memory backend.
    pub struct MemoryConfig {
        /// Upper bound on the bytes of keys and values held; a commit that would pass it
        /// fails with `full` and changes nothing. No bound when unset.
        #[config(kind = "byte size (\"512 MiB\" or an integer)", default = "")]
        pub memory_limit: Option<ByteSize>,
    }
}

/// The plugin type exported to the host.
pub struct MemoryPlugin;

impl Plugin for MemoryPlugin {
    type Backend = MemoryBackend;

    fn describe() -> PluginDescription {
        PluginDescription {
            name: "memory",
            version: env!("CARGO_PKG_VERSION"),
            description: "ordered in-memory tables with snapshot transactions (nothing persists)",
            capabilities: CAPABILITIES,
            config_keys: MemoryConfig::KEYS,
        }
    }

    fn full_config_for_tests() -> Option<&'static str> {
        Some("memory_limit = \"1 MiB\"")
    }

    fn validate_config(config: &str) -> Result<(), PluginError> {
        sdk::parse_config::<MemoryConfig>(config).map(drop)
    }

    fn open(options: OpenOptions) -> Result<MemoryBackend, PluginError> {
        let config: MemoryConfig = sdk::parse_config(&options.config)?;
        options.logger.info(
            "kgdb_plugin_memory",
            format_args!(
                "opening a memory backend (limit: {})",
                config
                    .memory_limit
                    .map_or_else(|| "none".to_owned(), |limit| limit.to_string())
            ),
        );
        Ok(MemoryBackend::new(
            config.memory_limit.map(|limit| limit.as_u64()),
        ))
    }
}

kgdb_plugin_api::export_plugin!(MemoryPlugin);

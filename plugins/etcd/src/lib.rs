//! # kgdb etcd plugin
//!
//! A store on an etcd v3 cluster (Raft-replicated, reached over the network), loaded by
//! `kgdb-host` as a `cdylib`. Any number of processes, on any machines, read one store; one
//! writes it.
//!
//! - **Keys**: every row, the table catalog, the writer lock and commit markers live under
//!   one namespace prefix (`keys.rs` has the layout). The data directory holds no data, only
//!   the namespace and the cluster's id (`identity.rs`); a new data directory gets a new
//!   namespace unless the config names one.
//! - **Transactions**: a snapshot at the revision one linearizable read returned at `begin`;
//!   every read at that revision (scans in pages); writes kept in the process and merged over
//!   the snapshot (read-your-writes); a commit of one etcd txn whose compares detect any change
//!   after the snapshot to what was read or written (`commit.rs`), so concurrent writers
//!   conflict (`CONFLICT`, retryable) instead of waiting.
//! - **Failover**: a request that cannot reach a member goes to the next (`cluster.rs`); a
//!   commit whose answer was lost is resolved through its marker, never applied twice.
//! - **Limits**: a commit must fit one etcd request (`max_request_bytes`, `max_txn_ops`, which
//!   must match the members' flags); a larger one fails with `FULL` before anything is sent.
//!   Bulk ingests are split into commits that fit.
//! - **Not offered**: reverse scans, checkpoints (back up with `kgdb-host backup`, or etcd's
//!   own snapshot), atomic multi-run ingest.
//!
//! Files: `lib.rs` (the plugin), `config.rs`, `identity.rs`, `keys.rs`, `cluster.rs`,
//! `lock.rs`, `shared.rs`, `backend.rs`, `txn.rs`, `writes.rs`, `cursor.rs`, `commit.rs`.

mod backend;
mod cluster;
mod commit;
mod config;
mod cursor;
mod identity;
mod keys;
mod lock;
mod paging;
mod shared;
mod txn;
mod writes;

use kgdb_plugin_api::sdk::{OpenOptions, Plugin, PluginDescription};
use kgdb_plugin_api::{Capabilities, PluginError};

pub use backend::EtcdBackend;
pub use config::EtcdConfig;
pub use cursor::EtcdCursor;
pub use txn::EtcdTxn;

/// The plugin's name, in its data directory's marker.
pub const PLUGIN_NAME: &str = "etcd";
/// The version of the key layout and the data directory's file.
pub const FORMAT_VERSION: u32 = 1;
/// Largest key accepted.
pub const MAX_KEY_SIZE: u32 = 64 * 1024;
/// Largest value accepted by any config (an instance's limit follows `max_request_bytes`).
pub const MAX_VALUE_SIZE: u32 = 8 * 1024 * 1024 - 64 * 1024;

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
        | Capabilities::NATIVE_STATS
        | Capabilities::DELETE_RANGE
        | Capabilities::READ_ONLY_OPEN
        | Capabilities::SEND_TXN,
    MAX_KEY_SIZE,
    MAX_VALUE_SIZE,
);

/// The plugin type exported to the host.
pub struct EtcdPlugin;

impl Plugin for EtcdPlugin {
    type Backend = EtcdBackend;

    fn describe() -> PluginDescription {
        PluginDescription {
            name: PLUGIN_NAME,
            version: env!("CARGO_PKG_VERSION"),
            description: "an etcd v3 cluster: Raft-replicated, MVCC snapshots, compare-and-swap commits, failover between members",
            capabilities: CAPABILITIES,
            config_keys: EtcdConfig::KEYS,
        }
    }

    fn validate_config(config: &str) -> Result<(), PluginError> {
        EtcdConfig::parse(config).map(drop)
    }

    fn open(options: OpenOptions) -> Result<EtcdBackend, PluginError> {
        let config = EtcdConfig::parse(&options.config)?;
        EtcdBackend::open(config, &options)
    }
}

kgdb_plugin_api::export_plugin!(EtcdPlugin);

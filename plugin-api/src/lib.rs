//! # kgdb plugin API 1.x
//!
//! The ABI between `kgdb-host` and its storage backends, which ship as dynamically loaded
//! libraries (`cdylib`), and the SDK a backend author implements.
//!
//! ## Layers
//! - [`abi`]: the `abi_stable` types that cross the boundary: the root module
//!   ([`abi::PluginModule`]: `info`, `validate_config`, `open`, `extension`) and the
//!   [`abi::Backend`], [`abi::Txn`] and [`abi::Cursor`] trait objects.
//! - Plain data shared by both sides: [`PluginError`] with its [`ErrorCode`], [`Capabilities`],
//!   [`TableId`], [`ScanSpec`], [`KvBatch`] (cursor batches: one arena plus offsets),
//!   [`WriteBatch`], [`SortedRun`], [`NativeStat`].
//! - [`sdk`]: plain Rust traits ([`sdk::Plugin`], [`sdk::StorageBackend`],
//!   [`sdk::StorageTxn`], [`sdk::StorageCursor`]) and the [`export_plugin!`] macro, which is the
//!   only place a plugin touches `abi_stable`. The macro wraps every entry point and method
//!   with `catch_unwind`: a panic becomes an `INTERNAL` error and poisons that instance, and the
//!   host lives on. The SDK also enforces the contract uniformly: `CLOSED` after `close`,
//!   `commit` or `rollback`; `UNSUPPORTED` when a capability bit is clear; `INVALID_ARGUMENT`
//!   for keys and values over the declared limits; `READ_ONLY` for writes in read-only
//!   transactions.
//!
//! ## Compatibility policy
//! - The interface version is this crate's version. The host accepts a plugin built against
//!   the same major version; abi_stable checks the layout of every type reachable from the root
//!   module when the library is loaded.
//! - **Every type reachable from [`abi::PluginModule`] is frozen within 1.x.** abi_stable refuses
//!   a plugin built against an older minor once such a type has grown, and third-party plugins
//!   lag behind the host, so 1.x releases never add fields or methods to them.
//! - Additions arrive as **extension interfaces**: separately named prefix-type modules that the
//!   host asks for with [`abi::PluginModule::extension`] and layout-checks before use. A plugin
//!   that predates an extension answers none, and the host carries on without it. The first
//!   is `kgdb.test-configs.v1` (1.1, [`abi::TestConfigsV1`]): the SDK offers it for a plugin
//!   whose [`sdk::Plugin::full_config_for_tests`] returns a config. Then `kgdb.cache-budget.v1`
//!   (1.3, [`abi::CacheBudgetV1`]): the capacity of an open instance's cache, which the SDK
//!   offers for every plugin and answers through [`sdk::StorageBackend::set_cache_capacity`].
//!   Then `kgdb.write-limits.v1` (1.4, [`abi::WriteLimitsV1`]): the most one commit of an open
//!   instance may carry ([`WriteLimits`]), which the SDK offers for every plugin and answers
//!   through [`sdk::StorageBackend::write_limits`] (none by default: no bound).
//! - abi_stable's version check compares only the major version (for 1.x), so a host built
//!   against 1.1 loads plugins built against 1.0, and the other way round.
//! - Error codes and capability bits are plain integers, so new ones can be added in a minor
//!   release; an older host shows them as `unknown-code-N` / `bit-N`.
//! - A new major version is a new interface: the host refuses it with a message naming both
//!   versions.
//!
//! ## Threading and lifetimes
//! A backend is `Send + Sync` and shared by many threads. A transaction is `Send` and used by one
//! thread at a time. Transactions and cursors own what they need (`'static`), but stop working
//! (`CLOSED`) once their transaction has ended or their backend was closed. Libraries are never
//! unloaded.

pub mod abi;
mod capabilities;
mod data;
mod error;
pub mod sdk;

pub use abi::{ConfigKey, Extension, LogLevel, LogSink, OpenRequest, PluginInfo};
pub use capabilities::Capabilities;
pub use data::{
    prefix_successor, table_of_table_bytes, BatchEntry, BatchOp, BoundKind, KvBatch, NativeStat,
    OpKind, ScanSpec, SortedRun, SyncMode, TableId, TxnOptions, WriteBatch, WriteLimits,
    WriteOptions, TABLE_BYTES_STAT,
};
pub use error::{ErrorCode, PluginError};

/// The version of this interface crate, which is the plugin ABI version.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The target triple this copy of the crate was compiled for.
pub const BUILD_TARGET: &str = env!("KGDB_PLUGIN_API_TARGET");

/// The name abi_stable knows the root module by; a library exporting another name is not a
/// kgdb plugin.
pub const ROOT_MODULE_NAME: &str = "kgdb_plugin";

#[doc(hidden)]
pub mod __private {
    //! Items the [`export_plugin!`](crate::export_plugin) macro expands to. Not public API.
    pub use abi_stable;
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
}

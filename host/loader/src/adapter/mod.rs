//! The ABI adapter: the only module of the host that names `abi_stable` types. It loads a
//! library, checks it, and turns the boundary's trait objects and `R*` types into plain Rust.
//! Every call through it is counted by the backend's collector ([`crate::stats`]).
//!
//! Nothing above this module knows abi_stable; nothing below it knows RDF.
//!
//! | file | what |
//! |---|---|
//! | `library.rs` | loading and checking a library, its root module, extension interfaces |
//! | `log_sink.rs` | plugin logs into the host's `tracing` |
//! | `meter.rs` | counting and timing each call |
//! | `backend.rs`, `txn.rs`, `cursor.rs` | the wrappers of the three trait objects |

mod backend;
mod cursor;
mod library;
mod log_sink;
mod meter;
mod txn;

use abi_stable::std_types::RResult;
use kgdb_plugin_api::PluginError;

pub use backend::{Backend, StatEntry};
pub use cursor::Cursor;
pub use library::{host_abi_version, ConfigKeyInfo, OpenSettings, PluginDetails};
pub(crate) use library::{load_module, Module};
pub use txn::BackendTxn;

use crate::error::BackendError;

/// Rows per batch that [`Cursor`]'s iterator asks for.
pub const DEFAULT_BATCH_ROWS: u32 = 512;
/// Bytes per batch that [`Cursor`]'s iterator asks for.
pub const DEFAULT_BATCH_BYTES: u64 = 1 << 20;

fn convert(error: PluginError) -> BackendError {
    BackendError {
        code: error.code,
        message: error.message.into_string(),
        retryable: error.retryable,
        key: error.key.into_string(),
    }
}

fn result<T>(value: RResult<T, PluginError>) -> Result<T, BackendError> {
    value.into_result().map_err(convert)
}

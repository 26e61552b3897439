//! RocksDB's errors as the ABI's codes.

use kgdb_plugin_api::{ErrorCode, PluginError};
use rocksdb::ErrorKind;

/// Maps a RocksDB error to a stable code, keeping RocksDB's message.
pub(crate) fn rocks_error(context: &str, error: &rocksdb::Error) -> PluginError {
    let text = error.to_string();
    let code = match error.kind() {
        ErrorKind::NotFound | ErrorKind::ColumnFamilyDropped => ErrorCode::NOT_FOUND,
        ErrorKind::Corruption => ErrorCode::CORRUPTION,
        ErrorKind::NotSupported => ErrorCode::UNSUPPORTED,
        ErrorKind::InvalidArgument => ErrorCode::INVALID_ARGUMENT,
        ErrorKind::Busy | ErrorKind::TryAgain => ErrorCode::CONFLICT,
        ErrorKind::TimedOut => ErrorCode::TIMED_OUT,
        ErrorKind::ShutdownInProgress => ErrorCode::CLOSED,
        ErrorKind::IOError if text.contains("No space left") => ErrorCode::FULL,
        ErrorKind::IOError if text.contains("lock") => ErrorCode::IN_USE,
        ErrorKind::IOError => ErrorCode::IO,
        _ => ErrorCode::INTERNAL,
    };
    let message = if code == ErrorCode::CONFLICT {
        format!("{context}: write-write conflict with a transaction that committed first (rocksdb: {text})")
    } else {
        format!("{context}: rocksdb: {text}")
    };
    PluginError::new(code, message)
}

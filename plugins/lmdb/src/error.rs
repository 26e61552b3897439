//! LMDB's errors as the ABI's codes.

use heed::MdbError;
use kgdb_plugin_api::{ErrorCode, PluginError};

/// Maps an LMDB error to a stable code, keeping LMDB's message.
pub(crate) fn lmdb_error(context: &str, error: heed::Error) -> PluginError {
    let code = match &error {
        heed::Error::Mdb(mdb) => match mdb {
            MdbError::MapFull
            | MdbError::DbsFull
            | MdbError::ReadersFull
            | MdbError::TxnFull
            | MdbError::PageFull => ErrorCode::FULL,
            MdbError::Corrupted
            | MdbError::PageNotFound
            | MdbError::VersionMismatch
            | MdbError::Invalid
            | MdbError::Panic => ErrorCode::CORRUPTION,
            MdbError::NotFound | MdbError::BadDbi => ErrorCode::NOT_FOUND,
            MdbError::BadValSize => ErrorCode::INVALID_ARGUMENT,
            MdbError::Incompatible => ErrorCode::INCOMPATIBLE,
            _ => ErrorCode::INTERNAL,
        },
        heed::Error::Io(io) => PluginError::from(std::io::Error::new(io.kind(), "")).code,
        heed::Error::EnvAlreadyOpened => ErrorCode::IN_USE,
        heed::Error::Encoding(_) | heed::Error::Decoding(_) => ErrorCode::INTERNAL,
    };
    let retryable = matches!(&error, heed::Error::Mdb(MdbError::ReadersFull));
    // The config key whose limit was reached, so that the host can point at it.
    let key = match &error {
        heed::Error::Mdb(MdbError::DbsFull) => "max_tables",
        heed::Error::Mdb(MdbError::ReadersFull) => "max_readers",
        heed::Error::Mdb(MdbError::MapFull) => "max_map_size",
        _ => "",
    };
    let error =
        PluginError::new(code, format!("{context}: lmdb: {error}")).with_retryable(retryable);
    if key.is_empty() {
        error
    } else {
        error.with_key(key)
    }
}

/// Whether LMDB says the memory map is full.
pub(crate) fn is_map_full(error: &heed::Error) -> bool {
    matches!(error, heed::Error::Mdb(MdbError::MapFull))
}

/// Whether LMDB says another process grew the map past this one's.
pub(crate) fn is_map_resized(error: &heed::Error) -> bool {
    matches!(error, heed::Error::Mdb(MdbError::MapResized))
}

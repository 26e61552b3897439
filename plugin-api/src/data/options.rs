//! Table ids and the options of transactions and writes.

use abi_stable::StableAbi;

/// A table handle returned by `Backend::open_table`, valid for that backend instance.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId(pub u32);

/// How hard a commit or batch pushes data to stable storage.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyncMode(pub u8);

impl SyncMode {
    /// The backend's configured default.
    pub const DEFAULT: Self = Self(0);
    /// Durable once the call returns (requires `DURABLE_SYNC`).
    pub const SYNC: Self = Self(1);
    /// May be lost on power failure (but not on a process crash, for persistent backends).
    pub const NO_SYNC: Self = Self(2);
}

/// Options of `Backend::begin`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnOptions {
    /// A read-only transaction: writes fail with `READ_ONLY`.
    pub read_only: bool,
    /// Durability of the commit.
    pub sync: SyncMode,
}

impl TxnOptions {
    /// A read-write transaction with the default sync mode.
    pub const READ_WRITE: Self = Self {
        read_only: false,
        sync: SyncMode::DEFAULT,
    };
    /// A read-only transaction.
    pub const READ_ONLY: Self = Self {
        read_only: true,
        sync: SyncMode::DEFAULT,
    };
}

/// Options of `Backend::write_batch` and `Backend::ingest_sorted`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// Durability of the write.
    pub sync: SyncMode,
}

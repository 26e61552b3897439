//! Plain data that crosses the boundary: table ids, options, scan ranges, row batches and
//! write batches. Rows travel in one byte arena plus offsets, never one allocation per row.
//!
//! Moving a type between these modules does not change the ABI: abi_stable's layout check
//! compares a type's name, package, version and shape, not the module it lives in.

mod kv_batch;
mod native_stat;
mod options;
mod scan;
#[cfg(test)]
mod tests;
mod write_batch;
mod write_limits;

pub use kv_batch::KvBatch;
pub use native_stat::{table_of_table_bytes, NativeStat, TABLE_BYTES_STAT};
pub use options::{SyncMode, TableId, TxnOptions, WriteOptions};
pub use scan::{prefix_successor, BoundKind, ScanSpec};
pub use write_batch::{BatchEntry, BatchOp, OpKind, SortedRun, WriteBatch};
pub use write_limits::WriteLimits;

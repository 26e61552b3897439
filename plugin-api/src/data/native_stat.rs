//! Engine-native statistics, and the convention for bytes per table.

use abi_stable::{std_types::RString, StableAbi};

/// One engine-native statistic, under the engine's own name.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct NativeStat {
    /// The engine's name for it (`rocksdb.estimate-num-keys`, `lmdb.map_size`, …).
    pub name: RString,
    /// The value.
    pub value: u64,
    /// Unit: `bytes`, `keys`, `pages`, `count`, … or empty.
    pub unit: RString,
}

/// The name stem of the statistic that tells how many bytes one table takes: a plugin that
/// knows reports `kgdb.table_bytes[<table>]` in bytes for each table (see
/// [`NativeStat::table_bytes`]), and the host's `stats` lists them as bytes per table.
pub const TABLE_BYTES_STAT: &str = "kgdb.table_bytes";

/// The table a statistic of this name and unit gives the bytes of (see
/// [`NativeStat::table_bytes`]), `None` for any other statistic.
#[must_use]
pub fn table_of_table_bytes<'a>(name: &'a str, unit: &str) -> Option<&'a str> {
    name.strip_prefix(TABLE_BYTES_STAT)?
        .strip_prefix('[')?
        .strip_suffix(']')
        .filter(|_| unit == "bytes")
}

impl NativeStat {
    /// The bytes table `table` takes in the engine: on disk for a persistent engine (with what
    /// is buffered to be written), in memory otherwise.
    #[must_use]
    pub fn table_bytes(table: &str, bytes: u64) -> Self {
        Self::new(format!("{TABLE_BYTES_STAT}[{table}]"), bytes, "bytes")
    }

    /// The table named by a [`NativeStat::table_bytes`] statistic, `None` for any other.
    #[must_use]
    pub fn table_of_table_bytes(&self) -> Option<&str> {
        table_of_table_bytes(&self.name, &self.unit)
    }

    /// A statistic with a unit.
    pub fn new(name: impl Into<String>, value: u64, unit: &str) -> Self {
        Self {
            name: RString::from(name.into()),
            value,
            unit: RString::from(unit),
        }
    }
}

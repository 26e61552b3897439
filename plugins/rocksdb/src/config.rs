//! The `[plugin.config]` keys of the RocksDB backend.

use kgdb_plugin_api::sdk::{self, ByteSize};
use kgdb_plugin_api::PluginError;
use serde::Deserialize;

/// Block compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// LZ4: fast, moderate ratio.
    Lz4,
    /// Zstandard: slower, better ratio.
    Zstd,
    /// No compression.
    None,
}

kgdb_plugin_api::plugin_config! {
    /// The `[plugin.config]` keys of the RocksDB backend.
    pub struct RocksConfig {
        /// LRU block cache shared by every table.
        #[config(kind = "byte size", default = "\"64 MiB\"")]
        pub block_cache_size: ByteSize,
        /// Memtable size per table before it is flushed to an SST file.
        #[config(kind = "byte size", default = "\"64 MiB\"")]
        pub write_buffer_size: ByteSize,
        /// Memory the memtables of all tables may hold together; when it is reached the
        /// largest is flushed (RocksDB's write buffer manager).
        #[config(kind = "byte size", default = "\"256 MiB\"")]
        pub memtable_budget: ByteSize,
        /// Block compression of SST files.
        #[config(kind = "\"lz4\" | \"zstd\" | \"none\"", default = "\"lz4\"")]
        pub compression: Compression,
        /// fsync the write-ahead log at every commit, so commits survive power loss (they
        /// always survive a process crash). One commit can ask for it with `SyncMode::SYNC`.
        #[config(kind = "bool", default = "false")]
        pub sync: bool,
        /// Most files RocksDB keeps open; -1 for no limit. A read-only instance keeps every
        /// file open whatever this says, so a writing process's compactions cannot take them
        /// away.
        #[config(kind = "integer", default = "512")]
        pub max_open_files: i32,
        /// Bloom filter bits per key for point look-ups; 0 disables the filter.
        #[config(kind = "number", default = "10")]
        pub bloom_bits_per_key: f64,
    }
}

/// Parses and checks a config table.
pub(crate) fn parse(text: &str) -> Result<RocksConfig, PluginError> {
    let config: RocksConfig = sdk::parse_config(text)?;
    if config.block_cache_size.as_u64() < 1024 * 1024 {
        return Err(PluginError::invalid_config(
            "block_cache_size",
            format!(
                "{} is too small: use at least 1 MiB",
                config.block_cache_size
            ),
        ));
    }
    if config.write_buffer_size.as_u64() < 64 * 1024 {
        return Err(PluginError::invalid_config(
            "write_buffer_size",
            format!(
                "{} is too small: use at least 64 KiB",
                config.write_buffer_size
            ),
        ));
    }
    if config.memtable_budget.as_u64() < 64 * 1024 {
        return Err(PluginError::invalid_config(
            "memtable_budget",
            format!(
                "{} is too small: use at least 64 KiB",
                config.memtable_budget
            ),
        ));
    }
    if config.max_open_files == 0 || config.max_open_files < -1 {
        return Err(PluginError::invalid_config(
            "max_open_files",
            "must be -1 (no limit) or a positive number",
        ));
    }
    if !(0.0..=64.0).contains(&config.bloom_bits_per_key) {
        return Err(PluginError::invalid_config(
            "bloom_bits_per_key",
            "must be between 0 and 64",
        ));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_defaults_are_the_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.block_cache_size, ByteSize::mib(64));
        assert_eq!(config.write_buffer_size, ByteSize::mib(64));
        assert_eq!(config.memtable_budget, ByteSize::mib(256));
        assert_eq!(config.compression, Compression::Lz4);
        assert!(!config.sync);
        assert_eq!(config.max_open_files, 512);
        assert!((config.bloom_bits_per_key - 10.0).abs() < f64::EPSILON);
        assert_eq!(RocksConfig::KEYS.len(), 7);
        assert_eq!(
            parse("compression = \"snappy\"").unwrap_err().key.as_str(),
            "compression"
        );
    }

    #[test]
    fn a_memtable_budget_below_64_kib_is_refused() {
        let error = parse("memtable_budget = \"1 KiB\"").unwrap_err();
        assert_eq!(error.key.as_str(), "memtable_budget");
        assert!(parse("memtable_budget = \"32 MiB\"").is_ok());
    }
}

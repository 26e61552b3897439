//! The `[plugin.config]` keys of the RocksDB backend.

use kgdb_plugin_api::sdk::{self, ByteSize, ConfigKeyDoc};
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

fn default_block_cache() -> ByteSize {
    ByteSize::mib(64)
}

fn default_write_buffer() -> ByteSize {
    ByteSize::mib(64)
}

fn default_compression() -> Compression {
    Compression::Lz4
}

fn default_max_open_files() -> i32 {
    512
}

fn default_bloom_bits() -> f64 {
    10.0
}

/// The `[plugin.config]` keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RocksConfig {
    /// Size of the LRU block cache shared by every table.
    #[serde(default = "default_block_cache")]
    pub block_cache_size: ByteSize,
    /// Size of each table's memtable before it is flushed.
    #[serde(default = "default_write_buffer")]
    pub write_buffer_size: ByteSize,
    /// Block compression.
    #[serde(default = "default_compression")]
    pub compression: Compression,
    /// fsync the write-ahead log at every commit (survives power loss).
    #[serde(default)]
    pub sync: bool,
    /// Most files RocksDB keeps open (-1: no limit).
    #[serde(default = "default_max_open_files")]
    pub max_open_files: i32,
    /// Bloom filter bits per key (0 disables the filter).
    #[serde(default = "default_bloom_bits")]
    pub bloom_bits_per_key: f64,
}

pub(crate) const CONFIG_KEYS: &[ConfigKeyDoc] = &[
    ConfigKeyDoc {
        name: "block_cache_size",
        kind: "byte size",
        default: "\"64 MiB\"",
        doc: "LRU block cache shared by every table.",
    },
    ConfigKeyDoc {
        name: "write_buffer_size",
        kind: "byte size",
        default: "\"64 MiB\"",
        doc: "Memtable size per table before it is flushed to an SST file.",
    },
    ConfigKeyDoc {
        name: "compression",
        kind: "\"lz4\" | \"zstd\" | \"none\"",
        default: "\"lz4\"",
        doc: "Block compression of SST files.",
    },
    ConfigKeyDoc {
        name: "sync",
        kind: "bool",
        default: "false",
        doc: "fsync the write-ahead log at every commit, so commits survive power loss (they \
              always survive a process crash). One commit can ask for it with SyncMode::SYNC.",
    },
    ConfigKeyDoc {
        name: "max_open_files",
        kind: "integer",
        default: "512",
        doc: "Most files RocksDB keeps open; -1 for no limit.",
    },
    ConfigKeyDoc {
        name: "bloom_bits_per_key",
        kind: "number",
        default: "10",
        doc: "Bloom filter bits per key for point look-ups; 0 disables the filter.",
    },
];

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

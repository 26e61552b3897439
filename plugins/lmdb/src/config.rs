//! The `[plugin.config]` keys of the LMDB backend, declared once (struct, defaults, docs).

use std::time::Duration;

use kgdb_plugin_api::sdk::{self, ByteSize};
use kgdb_plugin_api::PluginError;

kgdb_plugin_api::plugin_config! {
    /// The `[plugin.config]` keys of the LMDB backend.
    pub struct LmdbConfig {
        /// Initial size of the memory map (virtual; the file grows as data is written). It
        /// doubles by itself whenever a write fills it.
        #[config(kind = "byte size", default = "\"256 MiB\"")]
        pub map_size: ByteSize,
        /// The map never grows past this; a write that needs more fails with `full`. No bound
        /// when unset.
        #[config(kind = "byte size", default = "")]
        pub max_map_size: Option<ByteSize>,
        /// How many tables (LMDB named databases) the environment can hold.
        #[config(kind = "integer", default = "64")]
        pub max_tables: u32,
        /// How many read transactions may be open at once, over every process.
        #[config(kind = "integer", default = "126")]
        pub max_readers: u32,
        /// How long growing the map waits for open read transactions of this process to end
        /// before the write fails with `full` (and how long a writer waits for the writer
        /// thread).
        #[config(kind = "integer", default = "30")]
        pub resize_wait_seconds: u64,
    }
}

/// The largest map accepted: 64 TiB, half of what x86-64 and AArch64 processes can address.
const MAX_MAP_BYTES: u64 = 1 << 46;

impl LmdbConfig {
    /// The initial map size in bytes, rounded up to whole pages (LMDB takes nothing else).
    pub(crate) fn map_bytes(&self) -> u64 {
        self.map_size.as_u64().div_ceil(64 * 1024) * (64 * 1024)
    }

    /// Parses and checks a config table.
    pub(crate) fn parse(text: &str) -> Result<Self, PluginError> {
        let config: Self = sdk::parse_config(text)?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), PluginError> {
        if self.map_size.as_u64() < 64 * 1024 {
            return Err(PluginError::invalid_config(
                "map_size",
                format!("{} is too small: use at least 64 KiB", self.map_size),
            ));
        }
        for (key, size) in [
            ("map_size", Some(self.map_size)),
            ("max_map_size", self.max_map_size),
        ] {
            if let Some(size) = size.filter(|size| size.as_u64() > MAX_MAP_BYTES) {
                return Err(PluginError::invalid_config(
                    key,
                    format!(
                        "{size} is more than a process can map ({}); the map only has to be as large as the data",
                        ByteSize::b(MAX_MAP_BYTES)
                    ),
                ));
            }
        }
        if let Some(max) = self.max_map_size {
            if max < self.map_size {
                return Err(PluginError::invalid_config(
                    "max_map_size",
                    format!("{max} is smaller than map_size ({})", self.map_size),
                ));
            }
        }
        if self.max_tables == 0 || self.max_tables > 32_000 {
            return Err(PluginError::invalid_config(
                "max_tables",
                "must be between 1 and 32000",
            ));
        }
        if self.max_readers == 0 {
            return Err(PluginError::invalid_config(
                "max_readers",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// How long growing the map waits for readers.
    pub(crate) fn resize_wait(&self) -> Duration {
        Duration::from_secs(self.resize_wait_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_defaults_are_the_defaults() {
        let config = LmdbConfig::parse("").unwrap();
        assert_eq!(config.map_size, ByteSize::mib(256));
        assert_eq!(config.max_map_size, None);
        assert_eq!(config.max_tables, 64);
        assert_eq!(config.max_readers, 126);
        assert_eq!(config.resize_wait_seconds, 30);
        let names: Vec<&str> = LmdbConfig::KEYS.iter().map(|key| key.name).collect();
        assert_eq!(
            names,
            [
                "map_size",
                "max_map_size",
                "max_tables",
                "max_readers",
                "resize_wait_seconds"
            ]
        );
        let error = LmdbConfig::parse("map_size = \"1 KiB\"").unwrap_err();
        assert_eq!(error.key.as_str(), "map_size");
        for (text, key) in [
            ("map_size = \"99999999 TiB\"", "map_size"),
            ("max_map_size = \"100 TiB\"", "max_map_size"),
        ] {
            assert_eq!(
                LmdbConfig::parse(text).unwrap_err().key.as_str(),
                key,
                "{text}"
            );
        }
        let odd = LmdbConfig::parse("map_size = 100001").unwrap();
        assert_eq!(odd.map_bytes() % 65_536, 0);
        assert!(odd.map_bytes() >= 100_001);
    }
}

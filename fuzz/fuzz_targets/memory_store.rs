//! The store the fuzz targets that need one run on: a new store on the memory plugin, whose
//! library `KGDB_FUZZ_PLUGIN` names (`fuzz/run` sets it). Included by those targets with
//! `#[path]`; not a target itself.

use std::path::PathBuf;

use kgdb_host::plugin::{OpenSettings, PluginLoader};
use kgdb_host::store::Store;

/// A new, empty store on the memory plugin.
///
/// # Panics
/// When `KGDB_FUZZ_PLUGIN` is unset or the plugin cannot be loaded or opened.
pub fn memory_store() -> Store {
    let path = std::env::var_os("KGDB_FUZZ_PLUGIN")
        .map(PathBuf::from)
        .expect("KGDB_FUZZ_PLUGIN names the memory plugin's library (fuzz/run sets it)");
    let plugin = PluginLoader::new()
        .load(&path, None, "fuzz")
        .unwrap_or_else(|error| panic!("loading {}: {error}", path.display()));
    let backend = plugin
        .open(&OpenSettings {
            data_dir: None,
            config: String::new(),
            read_only: false,
            create: true,
        })
        .unwrap_or_else(|error| panic!("opening the memory plugin: {error}"));
    Store::open(backend).expect("a store on the memory plugin")
}

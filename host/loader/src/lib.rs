//! # kgdb-loader
//!
//! kgdb's plugins seen from the host: the manifest (`plugins.toml`), finding and loading
//! libraries, and the ABI adapter. The `kgdb-host` library re-exports this crate as
//! `kgdb_host::plugin`; the conformance suite uses it directly, so it runs against any plugin
//! file exactly as the host loads it.
//!
//! [`PluginRegistry`] is the entry point: it reads `plugins.toml`, resolves `--plugin` (a name,
//! a library file, or a plugin directory), loads the library once per process with every
//! check made at load time, validates the plugin's config against its manifest entry and opens
//! backend instances.

#![warn(missing_docs)]

mod adapter;
mod elf;
mod error;
mod loader;
pub mod manifest;
pub mod resolve;
pub mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use adapter::{
    host_abi_version, Backend, BackendTxn, ConfigKeyInfo, Cursor, OpenSettings, PluginDetails,
    StatEntry, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_ROWS,
};
pub use error::{BackendError, LoadError};
pub use kgdb_plugin_api::abi::{CACHE_BUDGET_V1, TEST_CONFIGS_V1, WRITE_LIMITS_V1};
pub use kgdb_plugin_api::{
    prefix_successor, table_of_table_bytes, BatchEntry, BoundKind, Capabilities, ErrorCode,
    KvBatch, ScanSpec, SortedRun, SyncMode, TableId, TxnOptions, WriteBatch, WriteLimits,
    WriteOptions, TABLE_BYTES_STAT,
};
pub use loader::{LoadedPlugin, PluginLoader};
pub use manifest::{Manifest, ManifestError, PluginEntry};
pub use resolve::{ResolveError, ResolvedPlugin, SearchPaths};

/// The manifest file looked for in the working directory when none is given.
pub const DEFAULT_MANIFEST: &str = "plugins.toml";
/// Environment variable naming the manifest file.
pub const MANIFEST_ENV: &str = "KGDB_CONFIG";

/// The manifest, the search paths and the loader of one host process.
#[derive(Debug)]
pub struct PluginRegistry {
    manifest: Option<Manifest>,
    search: SearchPaths,
    loader: PluginLoader,
}

/// How a backend instance is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads and writes; creates the data directory when missing.
    ReadWrite,
    /// Reads only: the plugin writes nothing, and a missing data directory is an error.
    ReadOnly,
}

/// A plugin chosen for a command: resolved, loaded and its config validated, once. Open any
/// number of backend instances from it.
#[derive(Debug, Clone)]
pub struct ChosenPlugin {
    resolved: ResolvedPlugin,
    plugin: Arc<LoadedPlugin>,
    /// A config that replaces the manifest entry's ([`ChosenPlugin::with_config`]).
    config: Option<String>,
}

impl ChosenPlugin {
    /// The loaded library.
    #[must_use]
    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }

    /// How it was found (manifest entry, library path, config).
    #[must_use]
    pub fn resolved(&self) -> &ResolvedPlugin {
        &self.resolved
    }

    /// The same plugin with `config` (TOML text of its config keys) in place of the manifest
    /// entry's, once the plugin has validated it.
    ///
    /// # Errors
    /// The plugin's refusal of the config, naming the key.
    pub fn with_config(self, config: String) -> Result<Self, BackendError> {
        self.plugin.validate_config(&config)?;
        Ok(Self {
            config: Some(config),
            ..self
        })
    }

    /// The config its instances are opened with.
    #[must_use]
    pub fn config_text(&self) -> String {
        self.config
            .clone()
            .unwrap_or_else(|| self.resolved.config_text())
    }

    /// Opens an instance on `data_dir` (`None` for a backend that keeps nothing on disk).
    ///
    /// # Errors
    /// The plugin's refusal to open, naming the plugin and the directory.
    pub fn open(&self, data_dir: Option<&Path>, access: Access) -> Result<Backend, LoadError> {
        let read_only = access == Access::ReadOnly;
        let settings = OpenSettings {
            data_dir: data_dir.map(Path::to_owned),
            config: self.config_text(),
            read_only,
            create: !read_only,
        };
        self.plugin
            .open(&settings)
            .map_err(|source| LoadError::Open {
                plugin: self.plugin.details().name.clone(),
                what: data_dir
                    .map_or_else(|| "an instance".to_owned(), |d| d.display().to_string()),
                source,
            })
    }
}

impl PluginRegistry {
    /// A registry over an already parsed manifest (or none).
    #[must_use]
    pub fn new(manifest: Option<Manifest>, search: SearchPaths) -> Self {
        Self {
            manifest,
            search,
            loader: PluginLoader::new(),
        }
    }

    /// Finds and reads the manifest: `config` if given (it must exist), else `$KGDB_CONFIG`,
    /// else `./plugins.toml` when there is one.
    ///
    /// # Errors
    /// A located [`ManifestError`].
    pub fn discover(config: Option<&Path>) -> Result<Self, LoadError> {
        let search = SearchPaths::from_env();
        let explicit = config
            .map(Path::to_owned)
            .or_else(|| std::env::var_os(MANIFEST_ENV).map(PathBuf::from));
        let manifest = match explicit {
            Some(file) => Some(Manifest::load(&file)?),
            None => {
                let file = PathBuf::from(DEFAULT_MANIFEST);
                if file.is_file() {
                    Some(Manifest::load(&file)?)
                } else {
                    None
                }
            }
        };
        Ok(Self::new(manifest, search))
    }

    /// The manifest, if one was found.
    #[must_use]
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Resolves `spec` (`--plugin`), or the manifest's default when `None`.
    ///
    /// # Errors
    /// Nothing chosen, or every place searched and what was wrong with each.
    pub fn resolve(&self, spec: Option<&str>) -> Result<ResolvedPlugin, LoadError> {
        let spec = match spec {
            Some(spec) => spec.to_owned(),
            None => match &self.manifest {
                Some(manifest) => manifest.default.clone().ok_or_else(|| {
                    LoadError::NoneChosen(format!(
                        "{} sets no `default` and no --plugin was given",
                        manifest.file.display()
                    ))
                })?,
                None => {
                    return Err(LoadError::NoneChosen(format!(
                        "no --plugin was given and there is no {DEFAULT_MANIFEST} here (or pass --config FILE, or set {MANIFEST_ENV})"
                    )))
                }
            },
        };
        Ok(resolve::resolve_spec(
            &spec,
            self.manifest.as_ref(),
            &self.search,
        )?)
    }

    /// Resolves a manifest entry.
    ///
    /// # Errors
    /// Every place searched and what was wrong with each.
    pub fn resolve_entry(&self, entry: &PluginEntry) -> Result<ResolvedPlugin, LoadError> {
        let manifest = self.manifest.as_ref().ok_or_else(|| {
            LoadError::NoneChosen("there is no plugin manifest to resolve entries from".into())
        })?;
        Ok(resolve::resolve_entry(manifest, entry, &self.search)?)
    }

    /// Loads a resolved plugin (once per library file per process), checking its pin.
    ///
    /// # Errors
    /// A one-line [`LoadError`].
    pub fn load(&self, resolved: &ResolvedPlugin) -> Result<Arc<LoadedPlugin>, LoadError> {
        let origin = match (&self.manifest, &resolved.entry) {
            (Some(manifest), Some(entry)) => format!("{}:{}", manifest.file.display(), entry.line),
            _ => "the manifest".to_owned(),
        };
        self.loader.load(&resolved.library, resolved.pin(), &origin)
    }

    /// Asks the plugin to validate its manifest config, locating any error in the manifest.
    ///
    /// # Errors
    /// A [`ManifestError`] at the key the plugin rejects.
    pub fn validate_config(
        &self,
        resolved: &ResolvedPlugin,
        plugin: &LoadedPlugin,
    ) -> Result<(), LoadError> {
        let config = resolved.config_text();
        plugin
            .validate_config(&config)
            .map_err(|error| match (&self.manifest, &resolved.entry) {
                (Some(manifest), Some(entry)) => {
                    LoadError::Manifest(manifest.config_error(entry, &error.key, &error.message))
                }
                _ => LoadError::Other {
                    path: plugin.path().to_owned(),
                    message: format!("the plugin rejects its (empty) config: {error}"),
                },
            })
    }

    /// Resolves, loads and validates the config of `spec` (or the default): everything but
    /// opening, done once.
    ///
    /// # Errors
    /// Any [`LoadError`].
    pub fn choose(&self, spec: Option<&str>) -> Result<ChosenPlugin, LoadError> {
        let resolved = self.resolve(spec)?;
        let plugin = self.load(&resolved)?;
        self.validate_config(&resolved, &plugin)?;
        Ok(ChosenPlugin {
            resolved,
            plugin,
            config: None,
        })
    }

    /// Chooses `spec` (or the default) and opens it on `data_dir`: [`PluginRegistry::choose`]
    /// then [`ChosenPlugin::open`].
    ///
    /// # Errors
    /// Any [`LoadError`], or the plugin's refusal to open.
    pub fn open(
        &self,
        spec: Option<&str>,
        data_dir: Option<&Path>,
        access: Access,
    ) -> Result<(Arc<LoadedPlugin>, Backend), LoadError> {
        let chosen = self.choose(spec)?;
        let backend = chosen.open(data_dir, access)?;
        Ok((chosen.plugin, backend))
    }
}

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
mod error;
mod loader;
pub mod manifest;
pub mod resolve;
pub mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use adapter::{
    host_abi_version, Backend, ConfigKeyInfo, Cursor, OpenSettings, PluginDetails, StatEntry,
    Transaction, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_ROWS,
};
pub use error::{BackendError, LoadError};
pub use kgdb_plugin_api::abi::TEST_CONFIGS_V1;
pub use kgdb_plugin_api::{
    prefix_successor, table_of_table_bytes, BatchEntry, BoundKind, Capabilities, ErrorCode,
    KvBatch, ScanSpec, SortedRun, SyncMode, TableId, TxnOptions, WriteBatch, WriteOptions,
    TABLE_BYTES_STAT,
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
    /// The operation stats of every backend [`PluginRegistry::open`] opened.
    opened: std::sync::Mutex<Vec<(String, Arc<stats::Collector>)>>,
}

impl PluginRegistry {
    /// A registry over an already parsed manifest (or none).
    #[must_use]
    pub fn new(manifest: Option<Manifest>, search: SearchPaths) -> Self {
        Self {
            manifest,
            search,
            loader: PluginLoader::new(),
            opened: std::sync::Mutex::default(),
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

    /// Resolves, loads, validates and opens `spec` (or the default) on `data_dir`.
    ///
    /// # Errors
    /// Any [`LoadError`], or the plugin's refusal to open.
    pub fn open(
        &self,
        spec: Option<&str>,
        data_dir: Option<&Path>,
        read_only: bool,
    ) -> Result<(Arc<LoadedPlugin>, Backend), LoadError> {
        let resolved = self.resolve(spec)?;
        let plugin = self.load(&resolved)?;
        self.validate_config(&resolved, &plugin)?;
        let settings = OpenSettings {
            data_dir: data_dir.map(Path::to_owned),
            config: resolved.config_text(),
            read_only,
            create: !read_only,
        };
        let backend = plugin.open(&settings).map_err(|source| LoadError::Open {
            plugin: plugin.details().name.clone(),
            what: data_dir.map_or_else(|| "an instance".to_owned(), |d| d.display().to_string()),
            source,
        })?;
        self.opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((
                plugin.details().name.clone(),
                Arc::clone(backend.collector()),
            ));
        Ok((plugin, backend))
    }

    /// The operation stats of every backend opened through this registry, with the plugin's
    /// name, in opening order.
    #[must_use]
    pub fn opened_backends(&self) -> Vec<(String, Arc<stats::Collector>)> {
        self.opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

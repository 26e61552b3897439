//! What the data directory holds: no data, only which cluster and which namespace the store
//! is (`etcd-store.toml`). A new data directory gets a new random namespace, unless the config
//! names one.

use std::io::Write;
use std::path::Path;

use kgdb_plugin_api::sdk::DataDir;
use kgdb_plugin_api::{ErrorCode, PluginError};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::check_namespace;

/// The file in the data directory that names the store.
pub(crate) const IDENTITY_FILE: &str = "etcd-store.toml";

/// The store a data directory names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Identity {
    /// The key prefix under which the store lives (`kgdb/NAMESPACE/`).
    pub(crate) namespace: String,
    /// The etcd cluster id the store was created on, once a member has answered.
    pub(crate) cluster_id: Option<u64>,
}

impl Identity {
    /// Reads the identity of an existing store, or makes one for a new data directory
    /// (`configured`: the config's namespace, if it names one).
    ///
    /// # Errors
    /// `CORRUPTION` for a missing or unreadable file of an existing store; `INVALID_CONFIG`
    /// when the config names another namespace than the store's; `IO`.
    pub(crate) fn load_or_create(
        data_dir: &DataDir,
        configured: Option<&str>,
    ) -> Result<Self, PluginError> {
        let path = data_dir.path().join(IDENTITY_FILE);
        if !path.exists() {
            // Only the claim that made the directory may name a store: a directory with kgdb's
            // marker and no store file lost it, and a new namespace would be an empty store in
            // place of the one the cluster holds.
            if !data_dir.is_new() {
                return Err(data_dir.missing_engine_file(IDENTITY_FILE, "missing"));
            }
            let namespace = configured.map_or_else(random_namespace, str::to_owned);
            let identity = Self {
                namespace,
                cluster_id: None,
            };
            if !data_dir.is_read_only() {
                identity.save(data_dir.path())?;
            }
            return Ok(identity);
        }
        let bytes = std::fs::read(&path).map_err(|error| {
            PluginError::new(
                ErrorCode::IO,
                format!("{}: cannot read: {error}", path.display()),
            )
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            PluginError::new(
                ErrorCode::CORRUPTION,
                format!("{}: not a kgdb etcd store file (not UTF-8)", path.display()),
            )
        })?;
        let identity: Self = toml::from_str(&text).map_err(|error| {
            PluginError::new(
                ErrorCode::CORRUPTION,
                format!(
                    "{}: not a kgdb etcd store file: {}",
                    path.display(),
                    error.message()
                ),
            )
        })?;
        check_namespace(&identity.namespace).map_err(|why| {
            PluginError::new(ErrorCode::CORRUPTION, format!("{}: {why}", path.display()))
        })?;
        if let Some(configured) = configured.filter(|c| *c != identity.namespace) {
            return Err(PluginError::invalid_config(
                "namespace",
                format!(
                    "`{configured}`, but the data directory {} holds namespace `{}`: leave `namespace` unset, or use another data directory",
                    data_dir.path().display(),
                    identity.namespace
                ),
            ));
        }
        Ok(identity)
    }

    /// Writes the file (to a temporary name, synced, then renamed into place).
    ///
    /// # Errors
    /// `IO` (or `FULL`) naming the file.
    pub(crate) fn save(&self, dir: &Path) -> Result<(), PluginError> {
        let path = dir.join(IDENTITY_FILE);
        let partial = dir.join(format!("{IDENTITY_FILE}.partial"));
        let text = toml::to_string(self)
            .map_err(|error| PluginError::internal(format!("writing {IDENTITY_FILE}: {error}")))?;
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&partial)?;
            file.write_all(
                b"# The etcd cluster and key namespace of this kgdb store (it holds no data).\n",
            )?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&partial, &path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|error| {
            let mut plugin_error = PluginError::from(error);
            plugin_error.message =
                format!("{}: cannot write: {}", path.display(), plugin_error.message).into();
            plugin_error
        })
    }
}

/// A new namespace: 16 random hex digits.
fn random_namespace() -> String {
    let value: u64 = rand::thread_rng().gen();
    format!("{value:016x}")
}

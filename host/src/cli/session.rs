//! What one command holds: the plugin registry, and the backends it opened (whose operation
//! stats `--stats` prints at the end). Opening a store resolves, loads and opens the plugin
//! once.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use super::{Cli, Failure};
use crate::plugin::stats::Collector;
use crate::plugin::{
    Access, Backend, BackendError, Capabilities, ChosenPlugin, LoadError, PluginRegistry,
};
use crate::store::{Store, StoreError};

/// Whether process `pid` has ended (known on Linux only; elsewhere it is taken to run).
fn process_is_gone(pid: u32) -> bool {
    cfg!(target_os = "linux") && !Path::new(&format!("/proc/{pid}")).exists()
}

/// How long a reading command waits for a load running in another process to end.
pub const LOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// What a command does with the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoreUse {
    /// Only reads: the store must exist, and nothing is written (the backend is opened
    /// read-only where the plugin can, so other processes may read and write beside it).
    Read,
    /// Writes, creating the store when missing; an interrupted load is undone first.
    Create,
    /// Writes to a store that must exist; an interrupted load is undone first.
    Change,
}

/// The registry and the backends opened by one command.
pub(super) struct Session {
    /// The manifest and loaded plugins.
    pub registry: PluginRegistry,
    opened: RefCell<Vec<(String, Arc<Collector>)>>,
}

/// A store opened for a command, with the plugin it came from.
pub(super) struct OpenedStore {
    /// The store.
    pub store: Store,
    /// The plugin.
    pub chosen: ChosenPlugin,
    /// Whether the plugin keeps its data on disk (in `--data-dir`).
    pub persistent: bool,
}

impl Session {
    /// A session over `registry`.
    pub fn new(registry: PluginRegistry) -> Self {
        Self {
            registry,
            opened: RefCell::new(Vec::new()),
        }
    }

    /// The operation stats of every backend this command opened, with the plugin's name.
    pub fn opened_backends(&self) -> Vec<(String, Arc<Collector>)> {
        self.opened.borrow().clone()
    }

    /// Opens `chosen` on `--data-dir` (when it keeps files) with `access`, keeping its
    /// collector for `--stats`.
    pub fn open_backend(
        &self,
        cli: &Cli,
        chosen: &ChosenPlugin,
        access: Access,
    ) -> Result<Backend, Failure> {
        let persistent = is_persistent(chosen);
        self.open_backend_at(chosen, persistent.then_some(cli.data_dir.as_path()), access)
    }

    /// Opens `chosen` on `data_dir` (`None` for a plugin that keeps nothing on disk) with
    /// `access`, keeping its collector for `--stats`.
    pub fn open_backend_at(
        &self,
        chosen: &ChosenPlugin,
        data_dir: Option<&Path>,
        access: Access,
    ) -> Result<Backend, Failure> {
        let backend = chosen
            .open(data_dir, access)
            .map_err(|error| match &error {
                LoadError::Open { source, .. } => self
                    .at_config_key(chosen, source, &error)
                    .map_or_else(|| Failure(error.to_string()), Failure),
                _ => Failure(error.to_string()),
            })?;
        self.opened.borrow_mut().push((
            chosen.plugin().details().name.clone(),
            Arc::clone(backend.collector()),
        ));
        Ok(backend)
    }

    /// Opens the store of the chosen plugin on `--data-dir` for `usage`; a reading command waits
    /// up to [`LOAD_WAIT`] for a load running in another process to end.
    pub fn open_store(&self, cli: &Cli, usage: StoreUse) -> Result<OpenedStore, Failure> {
        let chosen = self.registry.choose(cli.plugin.as_deref())?;
        let persistent = is_persistent(&chosen);
        let data_dir = &cli.data_dir;
        if persistent && usage != StoreUse::Create && !data_dir.exists() {
            return Err(Failure(format!(
                "{}: no such data directory (nothing has been loaded there yet; see `kgdb-host load`)",
                data_dir.display()
            )));
        }
        let capabilities = chosen.plugin().details().capabilities;
        // A backend that keeps nothing is empty at every open: reading it needs the tables
        // created, and there is nothing for another process to share.
        let read_only = usage == StoreUse::Read && persistent;
        let access = if read_only && capabilities.has(Capabilities::READ_ONLY_OPEN) {
            Access::ReadOnly
        } else {
            Access::ReadWrite
        };
        let open = || -> Result<Store, Failure> {
            let backend = self.open_backend(cli, &chosen, access)?;
            let opened = if read_only {
                Store::open_read_only(backend)
            } else {
                Store::open(backend)
            };
            opened.map_err(|error| {
                let at_key = match &error {
                    StoreError::Backend { source, .. } => {
                        self.at_config_key(&chosen, source, &error)
                    }
                    _ => None,
                };
                Failure(at_key.unwrap_or_else(|| located(persistent, data_dir, error)))
            })
        };
        let mut store = open()?;
        if persistent && !read_only {
            // This process writes the directory now: no sorted load of another one runs there.
            crate::store::remove_load_leftovers(data_dir);
        }
        // Readers see a load whole or not at all: a reading command that finds one unfinished
        // waits for it to end, opening the store again (a read-only instance of some engines
        // sees only what was committed when it opened), for at most LOAD_WAIT; one whose
        // process is gone fails at once.
        let started = std::time::Instant::now();
        while store.load_pending() {
            let owner = match store.unfinished_load() {
                Ok(None) => break,
                Ok(Some(owner)) => owner,
                Err(error) => return Err(Failure(located(persistent, data_dir, error))),
            };
            if let Some(pid) = owner.filter(|pid| process_is_gone(*pid)) {
                return Err(Failure(format!(
                    "{}: a load into this store was interrupted (its process {pid} is gone): `kgdb-host recover`, or any writing command, undoes it; readers see a load whole or not at all, so nothing is read until then",
                    data_dir.display()
                )));
            }
            if started.elapsed() >= LOAD_WAIT {
                eprintln!(
                    "warning: {}: a load into this store is still running{} after {} s; readers see a load whole or not at all, so reads wait for it",
                    data_dir.display(),
                    owner.map(|pid| format!(" (process {pid})")).unwrap_or_default(),
                    LOAD_WAIT.as_secs()
                );
                break;
            }
            drop(store);
            // The backend opened next takes this one's place in the operation stats.
            self.opened.borrow_mut().pop();
            std::thread::sleep(std::time::Duration::from_millis(200));
            store = open()?;
        }
        if usage != StoreUse::Read && !persistent {
            eprintln!(
                "note: the `{}` plugin keeps nothing on disk: what this command stores is gone when it ends",
                chosen.plugin().details().name
            );
        }
        Ok(OpenedStore {
            store,
            chosen,
            persistent,
        })
    }
}

impl Session {
    /// An error the plugin tied to one of its config keys, pointed at that key in the
    /// manifest (`plugins.toml:8:1: plugin[0].config.max_tables: …`); `None` when the error
    /// names no config key or the plugin was not chosen from the manifest.
    fn at_config_key(
        &self,
        chosen: &ChosenPlugin,
        source: &BackendError,
        error: &dyn std::fmt::Display,
    ) -> Option<String> {
        let top = source.key.split('.').next().filter(|key| !key.is_empty())?;
        let details = chosen.plugin().details();
        if !details.config_keys.iter().any(|key| key.name == top) {
            return None;
        }
        let entry = chosen.resolved().entry.as_ref()?;
        let manifest = self.registry.manifest()?;
        Some(
            manifest
                .config_key_error(entry, &source.key, &error.to_string())
                .to_string(),
        )
    }
}

/// Whether `chosen` keeps its data on disk.
pub(super) fn is_persistent(chosen: &ChosenPlugin) -> bool {
    chosen
        .plugin()
        .details()
        .capabilities
        .has(Capabilities::PERSISTENT)
}

fn located(persistent: bool, data_dir: &Path, error: impl std::fmt::Display) -> String {
    if persistent {
        format!("{}: {error}", data_dir.display())
    } else {
        error.to_string()
    }
}

//! Errors of the plugin layer: loading a library, and calls into a loaded backend.

use std::path::PathBuf;

use kgdb_plugin_api::ErrorCode;

use crate::manifest::ManifestError;
use crate::resolve::ResolveError;

/// Why a plugin could not be chosen, found or loaded. Every variant prints as one line naming
/// the file, what was expected and what was found.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `plugins.toml` is wrong.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// No plugin was named and the manifest has no default.
    #[error("no plugin chosen: {0}")]
    NoneChosen(String),
    /// The name or path did not lead to a library.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The file could not be opened or read.
    #[error("{}: cannot read the plugin library: {source}", path.display())]
    Io {
        /// The library path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a shared library at all.
    #[error("{}: not a shared library: expected {expected}, found {found}", path.display())]
    NotALibrary {
        /// The library path.
        path: PathBuf,
        /// The format this platform loads.
        expected: &'static str,
        /// What the file looks like instead.
        found: String,
    },
    /// The dynamic loader refused the file.
    #[error("{}: the dynamic loader could not load it: {message}", path.display())]
    Dlopen {
        /// The library path.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// A shared library, but not a kgdb plugin.
    #[error("{}: not a kgdb plugin: expected the exported root module `kgdb_plugin` (made by kgdb_plugin_api::export_plugin!), found {found}", path.display())]
    NotAPlugin {
        /// The library path.
        path: PathBuf,
        /// What it has instead.
        found: String,
    },
    /// A kgdb plugin built for another major ABI version.
    #[error("{}: built for kgdb plugin ABI {found}, but this host speaks ABI {expected} and loads plugins built against kgdb-plugin-api {major}.x only; rebuild the plugin against kgdb-plugin-api {major}.x", path.display())]
    AbiVersion {
        /// The library path.
        path: PathBuf,
        /// The host's ABI version.
        expected: String,
        /// The plugin's ABI version.
        found: String,
        /// The host's major version.
        major: u32,
    },
    /// Same major version, but the types differ (an older minor that lacks fields, or a
    /// tampered copy of the interface crate).
    #[error("{}: claims kgdb plugin ABI {found}, but its types do not match this host's ABI {expected}: {detail}", path.display())]
    AbiLayout {
        /// The library path.
        path: PathBuf,
        /// The host's ABI version.
        expected: String,
        /// The plugin's ABI version.
        found: String,
        /// The first difference the layout check reported.
        detail: String,
    },
    /// The file's sha256 differs from the pin in the manifest.
    #[error("{}: sha256 mismatch: {origin} pins {expected}, but the file has {found}; refusing to load it", path.display())]
    PinMismatch {
        /// The library path.
        path: PathBuf,
        /// Where the pin is written (`plugins.toml:12`).
        origin: String,
        /// The pinned hash.
        expected: String,
        /// The file's hash.
        found: String,
    },
    /// The plugin loaded but could not open an instance.
    #[error("plugin `{plugin}` could not open {what}: {source}")]
    Open {
        /// The plugin's name.
        plugin: String,
        /// What it was opening (the data directory).
        what: String,
        /// The plugin's error.
        source: BackendError,
    },
    /// Any other refusal, with the library path.
    #[error("{}: {message}", path.display())]
    Other {
        /// The library path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// An error returned by a backend call, converted from the ABI's `PluginError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}{}: {message}", if key.is_empty() { String::new() } else { format!(" ({key})") })]
pub struct BackendError {
    /// The stable error code.
    pub code: ErrorCode,
    /// The message, with the engine's own words.
    pub message: String,
    /// Whether retrying the same call may succeed.
    pub retryable: bool,
    /// The config key or argument at fault, or empty.
    pub key: String,
}

impl BackendError {
    /// An error made on the host side of the boundary.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retryable: false,
            key: String::new(),
        }
    }
}

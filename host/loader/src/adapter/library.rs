//! Loading a library's root module and checking it, and the calls on that module: what the
//! plugin says about itself, config validation, opening instances and extension interfaces.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use abi_stable::library::{lib_header_from_path, LibraryError};
use abi_stable::pointer_trait::ImmutableRef;
use abi_stable::std_types::{RStr, RString};
use abi_stable::type_layout::TypeLayout;
use abi_stable::StableAbi;
use kgdb_plugin_api::abi::{
    CacheBudgetV1Ref, PluginModuleRef, TestConfigsV1Ref, WriteLimitsV1Ref, CACHE_BUDGET_V1,
    TEST_CONFIGS_V1, WRITE_LIMITS_V1,
};
use kgdb_plugin_api::{Capabilities, OpenRequest};

use super::log_sink::log_sink;
use super::{result, Backend};
use crate::error::{BackendError, LoadError};
use crate::stats::Collector;

/// A documented config key of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKeyInfo {
    /// The key.
    pub name: String,
    /// Its type in words.
    pub kind: String,
    /// Its default as TOML text, or empty.
    pub default: String,
    /// What it does.
    pub doc: String,
}

/// What a plugin says about itself, in plain Rust types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDetails {
    /// Short unique name.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The `kgdb-plugin-api` version it was built against.
    pub api_version: String,
    /// Target triple it was built for.
    pub target: String,
    /// `debug` or `release`.
    pub profile: String,
    /// One line.
    pub description: String,
    /// What an instance can do at most.
    pub capabilities: Capabilities,
    /// Accepted config keys.
    pub config_keys: Vec<ConfigKeyInfo>,
}

/// The root module of a loaded library.
#[derive(Clone, Copy)]
pub(crate) struct Module {
    root: PluginModuleRef,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Module")
    }
}

/// The ABI version this host speaks.
#[must_use]
pub fn host_abi_version() -> &'static str {
    kgdb_plugin_api::API_VERSION
}

fn host_abi_major() -> u32 {
    host_abi_version()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// Loads the library at `load_path` (reported as `shown_path`) and checks that it is a kgdb
/// plugin of this host's ABI. The library is never unloaded.
pub(crate) fn load_module(load_path: &Path, shown_path: &Path) -> Result<Module, LoadError> {
    let path = shown_path.to_owned();
    let header =
        lib_header_from_path(load_path).map_err(|error| library_error(&path, load_path, error))?;
    let consts = header.root_mod_consts();
    let name = consts.name().as_str();
    let version = consts.version_strings();
    if name != kgdb_plugin_api::ROOT_MODULE_NAME {
        return Err(LoadError::NotAPlugin {
            path,
            found: format!(
                "an abi_stable library whose root module is `{name}` version {}",
                version.version
            ),
        });
    }
    let root = header
        .init_root_module::<PluginModuleRef>()
        .map_err(|error| library_error(&path, load_path, error))?;
    Ok(Module { root })
}

fn library_error(path: &Path, load_path: &Path, error: LibraryError) -> LoadError {
    let path = path.to_owned();
    let unalias =
        |text: String| text.replace(&*load_path.to_string_lossy(), &path.to_string_lossy());
    match error {
        LibraryError::OpenError { err, .. } => LoadError::Dlopen {
            path: path.clone(),
            message: unalias(err.to_string()),
        },
        LibraryError::GetSymbolError { .. } => LoadError::NotAPlugin {
            path,
            found: "a shared library without it".into(),
        },
        LibraryError::ParseVersionError(error) => LoadError::Other {
            path,
            message: format!("its plugin ABI version string is malformed: {error}"),
        },
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => LoadError::AbiVersion {
            path,
            expected: expected_version.to_string(),
            found: actual_version.to_string(),
            major: host_abi_major(),
        },
        LibraryError::RootModule { err, version, .. } => LoadError::Other {
            path,
            message: format!(
                "the plugin's root module (ABI {}) failed to initialise: {err}",
                version.version
            ),
        },
        LibraryError::AbiInstability(error) => {
            let full = error.to_string();
            tracing::debug!(library = %path.display(), "abi_stable layout check failed:\n{full}");
            let detail = full
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .unwrap_or("layouts differ")
                .to_owned();
            LoadError::AbiLayout {
                path,
                expected: host_abi_version().to_owned(),
                found: "1.x".into(),
                detail: format!("{detail} (run with -vv for the full report)"),
            }
        }
        LibraryError::InvalidAbiHeader(header) => LoadError::Other {
            path,
            message: format!(
                "built with an incompatible abi_stable (ABI header {header:?}); expected abi_stable 0.11"
            ),
        },
        LibraryError::InvalidCAbi { expected, found } => LoadError::Other {
            path,
            message: format!("its C ABI differs from the host's: expected {expected}, found {found}"),
        },
        LibraryError::Many(errors) => match errors.into_iter().next() {
            Some(first) => library_error(&path, load_path, first),
            None => LoadError::Other {
                path,
                message: "abi_stable refused the library without saying why".into(),
            },
        },
    }
}

/// How to open a backend instance.
#[derive(Debug, Clone, Default)]
pub struct OpenSettings {
    /// Where the instance keeps its data (`None` for backends that keep nothing on disk).
    pub data_dir: Option<PathBuf>,
    /// The `[plugin.config]` table as TOML text.
    pub config: String,
    /// Open without writing.
    pub read_only: bool,
    /// Create the data directory when missing.
    pub create: bool,
}

impl Module {
    pub(crate) fn details(self) -> PluginDetails {
        let info = (self.root.info())();
        PluginDetails {
            name: info.name.into_string(),
            version: info.version.into_string(),
            api_version: info.api_version.into_string(),
            target: info.target.into_string(),
            profile: info.profile.into_string(),
            description: info.description.into_string(),
            capabilities: info.capabilities,
            config_keys: info
                .config_keys
                .into_iter()
                .map(|key| ConfigKeyInfo {
                    name: key.name.into_string(),
                    kind: key.kind.into_string(),
                    default: key.default.into_string(),
                    doc: key.doc.into_string(),
                })
                .collect(),
        }
    }

    pub(crate) fn validate_config(self, config: &str) -> Result<(), BackendError> {
        result((self.root.validate_config())(RStr::from_str(config)))
    }

    pub(crate) fn open(self, settings: &OpenSettings) -> Result<Backend, BackendError> {
        let request = OpenRequest {
            data_dir: settings
                .data_dir
                .as_ref()
                .map(|dir| dir.to_string_lossy().into_owned())
                .unwrap_or_default()
                .into(),
            config: settings.config.clone().into(),
            read_only: settings.read_only,
            create: settings.create,
            log: log_sink(),
        };
        let inner = result((self.root.open())(request))?;
        let cache_budget = match self.extension_module(CACHE_BUDGET_V1, CacheBudgetV1Ref::LAYOUT) {
            Ok(module) => module.map(Self::cache_budget_module),
            Err(error) => {
                tracing::warn!("the plugin {error}: its cache is left as configured");
                None
            }
        };
        let write_limits = match self.extension_module(WRITE_LIMITS_V1, WriteLimitsV1Ref::LAYOUT) {
            Ok(Some(pointer)) => {
                let module = Self::write_limits_module(pointer);
                result((module.write_limits())(&inner))?.into_option()
            }
            Ok(None) => None,
            Err(error) => {
                // A host cannot split commits for limits it cannot read: refuse the instance
                // rather than let large commits fail.
                return Err(BackendError::new(
                    kgdb_plugin_api::ErrorCode::INCOMPATIBLE,
                    format!("the plugin {error}"),
                ));
            }
        };
        Ok(Backend::new(
            inner,
            Arc::new(Collector::new()),
            cache_budget,
            write_limits,
        ))
    }

    /// The module of extension `id`, once its id and layout (`expected`) were checked:
    /// `Ok(None)` when the plugin does not offer it (it predates it).
    ///
    /// # Errors
    /// The plugin answers with another id or a layout this host does not know.
    fn extension_module(
        self,
        id: &str,
        expected: &'static TypeLayout,
    ) -> Result<Option<*const ()>, String> {
        let Some(extension) = (self.root.extension())(RStr::from_str(id)).into_option() else {
            return Ok(None);
        };
        if extension.id.as_str() != id || extension.module.is_null() {
            return Err(format!(
                "answered {id} with extension {:?}",
                extension.id.as_str()
            ));
        }
        check_layout_compatibility(expected, extension.layout).map_err(|error| {
            let detail = error.to_string();
            format!(
                "its {id} layout differs from the host's: {}",
                detail
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or("")
            )
        })?;
        Ok(Some(extension.module))
    }

    /// Whether the plugin offers extension interface `id`.
    pub(crate) fn has_extension(self, id: &str) -> bool {
        (self.root.extension())(RStr::from_str(id)).is_some()
    }

    /// The `kgdb.test-configs.v1` extension's full-store config: `Ok(None)` when the plugin does
    /// not offer the extension (it predates it) or has no such config.
    ///
    /// # Errors
    /// The plugin offers the extension with a layout this host does not know.
    pub(crate) fn full_config_for_tests(self) -> Result<Option<String>, String> {
        let Some(pointer) = self.extension_module(TEST_CONFIGS_V1, TestConfigsV1Ref::LAYOUT)?
        else {
            return Ok(None);
        };
        let module = Self::test_configs_module(pointer);
        Ok((module.full_config())()
            .into_option()
            .map(RString::into_string))
    }

    /// The extension module behind `pointer`, once its id and layout were checked.
    #[expect(unsafe_code)]
    fn test_configs_module(pointer: *const ()) -> TestConfigsV1Ref {
        // SAFETY: `pointer` is the non-null `module` of an `Extension` answered for
        // `kgdb.test-configs.v1`, whose layout abi_stable just found compatible with
        // `TestConfigsV1Ref`; the SDK makes it from `TestConfigsV1Ref::to_raw_ptr` of a module in
        // static memory, and libraries are never unloaded, so it stays valid.
        let module = unsafe { TestConfigsV1Ref::from_raw_ptr(pointer.cast()) };
        module.unwrap_or_else(|| unreachable!("checked non-null above"))
    }

    /// The `kgdb.write-limits.v1` module behind `pointer`, once its id and layout were checked.
    #[expect(unsafe_code)]
    fn write_limits_module(pointer: *const ()) -> WriteLimitsV1Ref {
        // SAFETY: as for `test_configs_module`: `pointer` is the non-null `module` of an
        // `Extension` answered for `kgdb.write-limits.v1`, whose layout abi_stable found
        // compatible with `WriteLimitsV1Ref`; the SDK makes it from a module in static memory,
        // and libraries are never unloaded.
        let module = unsafe { WriteLimitsV1Ref::from_raw_ptr(pointer.cast()) };
        module.unwrap_or_else(|| unreachable!("checked non-null before"))
    }

    /// The `kgdb.cache-budget.v1` module behind `pointer`, once its id and layout were checked.
    #[expect(unsafe_code)]
    fn cache_budget_module(pointer: *const ()) -> CacheBudgetV1Ref {
        // SAFETY: as for `test_configs_module`: `pointer` is the non-null `module` of an
        // `Extension` answered for `kgdb.cache-budget.v1`, whose layout abi_stable found
        // compatible with `CacheBudgetV1Ref`; the SDK makes it from a module in static memory,
        // and libraries are never unloaded.
        let module = unsafe { CacheBudgetV1Ref::from_raw_ptr(pointer.cast()) };
        module.unwrap_or_else(|| unreachable!("checked non-null before"))
    }
}

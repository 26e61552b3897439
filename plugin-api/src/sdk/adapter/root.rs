//! The root module of a plugin (`info`, `validate_config`, `open`, `extension`) and its
//! extension interfaces.

use std::marker::PhantomData;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use abi_stable::{
    prefix_type::{PrefixTypeTrait, WithMetadata},
    sabi_trait::TD_CanDowncast,
    std_types::{ROption, RResult, RStr, RString, RVec},
    StableAbi,
};

use super::super::{OpenOptions, Plugin, StorageBackend};
use super::backend::BackendAdapter;
use super::*;
use crate::abi::{
    BackendBox, Backend_TO, CacheBudgetV1, CacheBudgetV1Ref, PluginModule, PluginModuleRef,
    TestConfigsV1, TestConfigsV1Ref, WriteLimitsV1, WriteLimitsV1Ref, CACHE_BUDGET_V1,
    TEST_CONFIGS_V1, WRITE_LIMITS_V1,
};
use crate::{Capabilities, ConfigKey, Extension, OpenRequest, PluginError, PluginInfo};

pub(super) fn info<P: Plugin>() -> PluginInfo {
    let description = P::describe();
    PluginInfo {
        name: description.name.into(),
        version: description.version.into(),
        api_version: crate::API_VERSION.into(),
        target: crate::BUILD_TARGET.into(),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
        description: description.description.into(),
        capabilities: description.capabilities,
        config_keys: description
            .config_keys
            .iter()
            .map(|key| ConfigKey {
                name: key.name.into(),
                kind: key.kind.into(),
                default: key.default.into(),
                doc: key.doc.trim().into(),
            })
            .collect(),
    }
}

extern "C" fn info_entry<P: Plugin>() -> PluginInfo {
    match panics::catch(info::<P>) {
        Ok(info) => info,
        Err(message) => PluginInfo {
            name: RString::from("unknown"),
            version: RString::new(),
            api_version: crate::API_VERSION.into(),
            target: crate::BUILD_TARGET.into(),
            profile: RString::new(),
            description: format!("describe() panicked: {message}").into(),
            capabilities: Capabilities::new(0, 0, 0),
            config_keys: RVec::new(),
        },
    }
}

extern "C" fn validate_config_entry<P: Plugin>(config: RStr<'_>) -> RResult<(), PluginError> {
    guard_entry("validate_config", || P::validate_config(config.as_str()))
}

extern "C" fn open_entry<P: Plugin>(request: OpenRequest) -> RResult<BackendBox, PluginError> {
    guard_entry("open", || {
        let declared = P::describe().capabilities;
        if request.read_only && !declared.has(Capabilities::READ_ONLY_OPEN) {
            return Err(PluginError::unsupported("opening read-only"));
        }
        P::validate_config(request.config.as_str())?;
        let options = OpenOptions {
            data_dir: (!request.data_dir.is_empty())
                .then(|| std::path::PathBuf::from(request.data_dir.as_str())),
            config: request.config.into_string(),
            read_only: request.read_only,
            create: request.create,
            logger: crate::sdk::Logger::new(request.log),
        };
        let backend = P::open(options)?;
        let mut capabilities = backend.capabilities();
        // An instance never claims more than the plugin declared.
        capabilities.flags &= declared.flags;
        capabilities.max_key_size = capabilities.max_key_size.min(declared.max_key_size);
        capabilities.max_value_size = capabilities.max_value_size.min(declared.max_value_size);
        let adapter = BackendAdapter {
            inner: Some(backend),
            instance: Arc::new(Instance {
                poison: OnceLock::new(),
                closed: AtomicBool::new(false),
                capabilities,
            }),
        };
        // Downcastable, so that an extension of this plugin can reach its own instance.
        Ok(Backend_TO::from_value(adapter, TD_CanDowncast))
    })
}

extern "C" fn extension_entry<P: Plugin>(id: RStr<'_>) -> ROption<Extension> {
    panics::catch(|| {
        if id.as_str() == TEST_CONFIGS_V1 {
            P::full_config_for_tests().map(|_| Extension {
                id: RStr::from_str(TEST_CONFIGS_V1),
                layout: <TestConfigsV1Ref as StableAbi>::LAYOUT,
                module: TestConfigs::<P>::MODULE.0.to_raw_ptr().cast(),
            })
        } else if id.as_str() == CACHE_BUDGET_V1 {
            Some(Extension {
                id: RStr::from_str(CACHE_BUDGET_V1),
                layout: <CacheBudgetV1Ref as StableAbi>::LAYOUT,
                module: CacheBudget::<P>::MODULE.0.to_raw_ptr().cast(),
            })
        } else if id.as_str() == WRITE_LIMITS_V1 {
            Some(Extension {
                id: RStr::from_str(WRITE_LIMITS_V1),
                layout: <WriteLimitsV1Ref as StableAbi>::LAYOUT,
                module: WriteLimitsModule::<P>::MODULE.0.to_raw_ptr().cast(),
            })
        } else {
            P::extension(id.as_str())
        }
    })
    .ok()
    .flatten()
    .into()
}

/// The `kgdb.test-configs.v1` module of plugin `P`, built at compile time (a `'static` that is
/// never freed, as the extension contract requires).
pub(super) struct TestConfigs<P>(PhantomData<P>);

impl<P: Plugin> TestConfigs<P> {
    const VALUE: &'static WithMetadata<TestConfigsV1> = &WithMetadata::new(TestConfigsV1 {
        full_config: full_config_entry::<P>,
    });
    const MODULE: TestConfigsV1Ref = TestConfigsV1Ref(Self::VALUE.static_as_prefix());
}

extern "C" fn full_config_entry<P: Plugin>() -> ROption<RString> {
    panics::catch(P::full_config_for_tests)
        .ok()
        .flatten()
        .map(RString::from)
        .into()
}

/// The root module of plugin `P`; called once by the loader the export macro generates.
#[must_use]
pub fn root_module<P: Plugin>() -> PluginModuleRef {
    PluginModule {
        info: info_entry::<P>,
        validate_config: validate_config_entry::<P>,
        open: open_entry::<P>,
        extension: extension_entry::<P>,
    }
    .leak_into_prefix()
}

/// The `kgdb.cache-budget.v1` module of plugin `P`, built at compile time (`'static`, never
/// freed).
pub(super) struct CacheBudget<P>(PhantomData<P>);

impl<P: Plugin> CacheBudget<P> {
    const VALUE: &'static WithMetadata<CacheBudgetV1> = &WithMetadata::new(CacheBudgetV1 {
        cache_capacity: cache_capacity_entry::<P>,
        set_cache_capacity: set_cache_capacity_entry::<P>,
    });
    const MODULE: CacheBudgetV1Ref = CacheBudgetV1Ref(Self::VALUE.static_as_prefix());
}

/// `backend` as an instance of plugin `P` (one its `open` made), or `INVALID_ARGUMENT`.
fn own_instance<P: Plugin>(
    backend: &BackendBox,
) -> Result<&BackendAdapter<P::Backend>, PluginError> {
    backend
        .obj
        .downcast_as::<BackendAdapter<P::Backend>>()
        .map_err(|_| PluginError::invalid_argument("the instance was not opened by this plugin"))
}

extern "C" fn cache_capacity_entry<P: Plugin>(backend: &BackendBox) -> RResult<u64, PluginError> {
    match own_instance::<P>(backend) {
        Ok(adapter) => adapter.run("cache_capacity", StorageBackend::cache_capacity),
        Err(error) => RResult::RErr(error),
    }
}

extern "C" fn set_cache_capacity_entry<P: Plugin>(
    backend: &BackendBox,
    bytes: u64,
) -> RResult<u64, PluginError> {
    match own_instance::<P>(backend) {
        Ok(adapter) => adapter.run("set_cache_capacity", |b| b.set_cache_capacity(bytes)),
        Err(error) => RResult::RErr(error),
    }
}

/// The `kgdb.write-limits.v1` module of plugin `P`, built at compile time (`'static`, never
/// freed).
pub(super) struct WriteLimitsModule<P>(PhantomData<P>);

impl<P: Plugin> WriteLimitsModule<P> {
    const VALUE: &'static WithMetadata<WriteLimitsV1> = &WithMetadata::new(WriteLimitsV1 {
        write_limits: write_limits_entry::<P>,
    });
    const MODULE: WriteLimitsV1Ref = WriteLimitsV1Ref(Self::VALUE.static_as_prefix());
}

extern "C" fn write_limits_entry<P: Plugin>(
    backend: &BackendBox,
) -> RResult<ROption<crate::WriteLimits>, PluginError> {
    match own_instance::<P>(backend) {
        Ok(adapter) => adapter.run("write_limits", |b| Ok(ROption::from(b.write_limits()))),
        Err(error) => RResult::RErr(error),
    }
}

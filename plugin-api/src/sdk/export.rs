//! The one macro a plugin calls.

/// Exports a type implementing [`sdk::Plugin`](crate::sdk::Plugin) as the root module of this
/// `cdylib`, so `kgdb-host` can load it. Call it once, at the crate root.
///
/// The expansion is the only code in a plugin that touches `abi_stable`: it declares the
/// library header abi_stable's loader looks for (the same item `#[export_root_module]` would
/// generate, spelled through this crate so a plugin needs no direct `abi_stable` dependency),
/// whose constructor builds the root module from the SDK glue that wraps every entry point and
/// method with `catch_unwind`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        // `allow`, not `expect`: this expands in a plugin crate whose lint levels are its own.
        #[allow(unsafe_code)]
        // The symbol abi_stable's loader looks up; a test in kgdb-plugin-api checks it against
        // `abi_stable::library::ROOT_MODULE_LOADER_NAME`.
        #[export_name = "_1as_0lib_1header_0root_bmodule_bloader"]
        pub static __KGDB_PLUGIN_LIB_HEADER: $crate::__private::LibHeader = {
            extern "C" fn __kgdb_plugin_root_module() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(|| {
                    $crate::sdk::__root_module::<$plugin>()
                })
            }
            // SAFETY: the constructor returns the `PluginModuleRef` it names here, erased by
            // abi_stable, exactly as `#[export_root_module]` requires.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::abi::PluginModuleRef>(
                    __kgdb_plugin_root_module,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn export_name_matches_abi_stable() {
        let source = include_str!("export.rs");
        let expected = format!(
            "#[export_name = \"{}\"]",
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
        assert!(
            source.contains(&expected),
            "export_plugin! must export {}",
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }
}

//! A plugin's `[plugin.config]` table: declared once with [`plugin_config!`](crate::plugin_config)
//! (the struct, its serde defaults and the documented key list all come from one
//! declaration), and parsed with errors that name the key.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::PluginError;

/// Declares a plugin's config struct once: each field with its doc comment, its type in words
/// and its default as TOML text (`""` for none, on an `Option` field). It generates the
/// struct (serde, `deny_unknown_fields`, missing keys take their defaults), its `Default`
/// (parsed from the same TOML text) and `KEYS`, the [`ConfigKeyDoc`](crate::sdk::ConfigKeyDoc)
/// list a plugin hands to [`PluginDescription::config_keys`](crate::sdk::PluginDescription).
///
/// ```ignore
/// kgdb_plugin_api::plugin_config! {
///     /// The `[plugin.config]` keys of my backend.
///     pub struct MyConfig {
///         /// Bytes of cache.
///         #[config(kind = "byte size", default = "\"64 MiB\"")]
///         pub cache_size: kgdb_plugin_api::sdk::ByteSize,
///         /// An optional limit; none when unset.
///         #[config(kind = "integer", default = "")]
///         pub limit: Option<u64>,
///     }
/// }
/// ```
#[macro_export]
macro_rules! plugin_config {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])+
                #[config(kind = $kind:literal, default = $default:literal)]
                $fvis:vis $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, $crate::sdk::serde::Deserialize)]
        #[serde(crate = "kgdb_plugin_api::sdk::serde", default, deny_unknown_fields)]
        $vis struct $name {
            $(
                $(#[doc = $doc])+
                $fvis $field: $ty,
            )*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                Self {
                    $(
                        $field: $crate::sdk::config_default::<$ty>(
                            stringify!($name),
                            stringify!($field),
                            $default,
                        ),
                    )*
                }
            }
        }

        impl $name {
            /// The documented config keys, for
            /// [`PluginDescription::config_keys`](kgdb_plugin_api::sdk::PluginDescription).
            pub const KEYS: &'static [$crate::sdk::ConfigKeyDoc] = &[
                $(
                    $crate::sdk::ConfigKeyDoc {
                        name: stringify!($field),
                        kind: $kind,
                        default: $default,
                        doc: concat!($($doc),+),
                    },
                )*
            ];
        }
    };
}

/// The default of config key `key` of `config`, from its declared TOML text (`""` for none:
/// only an `Option` key may have none). Used by [`plugin_config!`](crate::plugin_config).
///
/// # Panics
/// When the declared text does not parse as the key's type: a mistake in the plugin's
/// declaration, which its first test finds (`Config::default()`).
#[must_use]
pub fn config_default<T: DeserializeOwned>(config: &str, key: &str, text: &str) -> T {
    #[derive(Deserialize)]
    #[serde(bound = "T: DeserializeOwned")]
    struct Holder<T> {
        value: T,
    }
    let document = if text.is_empty() {
        String::new()
    } else {
        format!("value = {text}")
    };
    match toml::from_str::<Holder<T>>(&document) {
        Ok(holder) => holder.value,
        Err(error) => panic!(
            "{config}.{key}: the declared default `{text}` is not a valid value: {}",
            error.message()
        ),
    }
}

/// Parses the TOML text of a `[plugin.config]` table into `T`.
///
/// Use `#[serde(deny_unknown_fields)]` on `T` so an unknown key is an error. The error is
/// `INVALID_CONFIG`, with [`PluginError::key`] set to the dotted path of the key at fault, which
/// the host turns into a line of `plugins.toml`.
///
/// # Errors
/// `INVALID_CONFIG` for malformed TOML, an unknown key or a value of the wrong type.
pub fn parse_config<T: DeserializeOwned>(text: &str) -> Result<T, PluginError> {
    let deserializer = match toml::de::Deserializer::parse(text) {
        Ok(deserializer) => deserializer,
        Err(error) => return Err(PluginError::invalid_config("", error.message().to_owned())),
    };
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let mut path = error.path().to_string();
        let message = error.inner().message().to_owned();
        if path == "." {
            path.clear();
        }
        PluginError::invalid_config(path, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code)]
    struct Config {
        #[serde(default)]
        limit: Option<bytesize::ByteSize>,
        #[serde(default)]
        nested: Nested,
    }

    #[derive(serde::Deserialize, Debug, Default)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code)]
    struct Nested {
        #[serde(default)]
        flag: bool,
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let error = parse_config::<Config>("limit = 5\nbogus = 1\n").unwrap_err();
        assert_eq!(error.code, ErrorCode::INVALID_CONFIG);
        assert_eq!(error.key.as_str(), "bogus");
        assert!(error.message.contains("unknown field `bogus`"), "{error}");

        let error = parse_config::<Config>("[nested]\nflg = true\n").unwrap_err();
        assert_eq!(error.key.as_str(), "nested.flg");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let error = parse_config::<Config>("[nested]\nflag = 3\n").unwrap_err();
        assert_eq!(error.key.as_str(), "nested.flag");
    }

    #[test]
    fn declared_defaults_parse_from_their_text() {
        assert_eq!(
            config_default::<bytesize::ByteSize>("C", "size", "\"2 KiB\""),
            bytesize::ByteSize::kib(2)
        );
        assert_eq!(config_default::<u32>("C", "n", "64"), 64);
        assert_eq!(config_default::<Option<u32>>("C", "n", ""), None);
        assert!(std::panic::catch_unwind(|| config_default::<u32>("C", "n", "\"x\"")).is_err());
    }

    #[test]
    fn byte_sizes_accept_units_and_integers() {
        let config = parse_config::<Config>("limit = \"64 MiB\"").unwrap();
        assert_eq!(config.limit, Some(bytesize::ByteSize::mib(64)));
        let config = parse_config::<Config>("limit = 1024").unwrap();
        assert_eq!(config.limit, Some(bytesize::ByteSize::b(1024)));
    }
}

//! Parsing a `[plugin.config]` table with errors that name the key.

use serde::de::DeserializeOwned;

use crate::PluginError;

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
    #[allow(dead_code)]
    struct Config {
        #[serde(default)]
        limit: Option<bytesize::ByteSize>,
        #[serde(default)]
        nested: Nested,
    }

    #[derive(serde::Deserialize, Debug, Default)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
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
    fn byte_sizes_accept_units_and_integers() {
        let config = parse_config::<Config>("limit = \"64 MiB\"").unwrap();
        assert_eq!(config.limit, Some(bytesize::ByteSize::mib(64)));
        let config = parse_config::<Config>("limit = 1024").unwrap();
        assert_eq!(config.limit, Some(bytesize::ByteSize::b(1024)));
    }
}

//! `plugins.toml`: which plugins exist, where their libraries are, how to configure them.
//!
//! ```toml
//! manifest_version = 1
//! default = "memory"
//!
//! [[plugin]]
//! name = "memory"
//! path = "plugins/memory"          # a library file, or a plugin directory
//! # path = { linux-x86_64 = "lib/libkgdb_plugin_memory.so", macos-aarch64 = "…" }
//! # sha256 = "…"                   # optional pin of the library file
//! [plugin.config]
//! memory_limit = "1 GiB"
//! ```
//!
//! Every error names the file, the line and column, and the key path.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The manifest version this host reads.
pub const MANIFEST_VERSION: i64 = 1;

/// A problem with `plugins.toml`, located in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct ManifestError {
    /// The manifest file.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub location: Option<(usize, usize)>,
    /// What is wrong, starting with the key path when there is one.
    pub message: String,
}

/// Where a plugin's library is: one path, or one per platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginLocation {
    /// A library file or a plugin directory.
    Path(String),
    /// Keyed by platform, such as `linux-x86_64` or `macos-aarch64`.
    PerPlatform(BTreeMap<String, String>),
}

/// The platform key of this host in per-platform paths: `{os}-{arch}`.
#[must_use]
pub fn platform_key() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// One `[[plugin]]` entry.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The unique name used by `--plugin` and `default`.
    pub name: String,
    /// Where the library is.
    pub location: PluginLocation,
    /// Lower-case hex sha256 the library file must have.
    pub sha256: Option<String>,
    /// The `[plugin.config]` table, handed to the plugin as TOML text.
    pub config: toml::Table,
    /// Position of the entry in the `[[plugin]]` array.
    pub index: usize,
    /// 1-based line of the entry's `name`.
    pub line: usize,
}

impl PluginEntry {
    /// The config table as TOML text.
    #[must_use]
    pub fn config_text(&self) -> String {
        toml::to_string(&self.config).unwrap_or_default()
    }

    /// The path for this platform.
    ///
    /// # Errors
    /// When a per-platform table has no entry for this platform.
    pub fn path_for_this_platform(&self) -> Result<&str, String> {
        match &self.location {
            PluginLocation::Path(path) => Ok(path),
            PluginLocation::PerPlatform(paths) => {
                let key = platform_key();
                paths.get(&key).map(String::as_str).ok_or_else(|| {
                    format!(
                        "`path` has no entry for this platform `{key}` (it has: {})",
                        paths.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                })
            }
        }
    }
}

/// A parsed and checked `plugins.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file it was read from.
    pub file: PathBuf,
    /// The default plugin's name, if any.
    pub default: Option<String>,
    /// Every plugin, in file order.
    pub plugins: Vec<PluginEntry>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[expect(dead_code)]
    manifest_version: i64,
    #[serde(default)]
    default: Option<String>,
    #[serde(default, rename = "plugin")]
    plugins: Vec<RawPlugin>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    name: String,
    #[serde(default)]
    path: Option<RawPath>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    config: toml::Table,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPath {
    One(String),
    PerPlatform(BTreeMap<String, String>),
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySegment {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl fmt::Display for KeySegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(key) => f.write_str(key),
            Self::Index(index) => write!(f, "[{index}]"),
        }
    }
}

fn display_path(path: &[KeySegment]) -> String {
    let mut out = String::new();
    for segment in path {
        if matches!(segment, KeySegment::Key(_)) && !out.is_empty() {
            out.push('.');
        }
        out.push_str(&segment.to_string());
    }
    out
}

impl Manifest {
    /// Reads and checks a manifest file.
    ///
    /// # Errors
    /// A [`ManifestError`] naming the file, line and key.
    pub fn load(file: &Path) -> Result<Self, ManifestError> {
        let source = std::fs::read_to_string(file).map_err(|error| ManifestError {
            file: file.to_owned(),
            location: None,
            message: format!("cannot read the plugin manifest: {error}"),
        })?;
        Self::parse(file, source)
    }

    /// Parses manifest text that came from `file`.
    ///
    /// # Errors
    /// A [`ManifestError`] naming the file, line and key.
    pub fn parse(file: &Path, source: String) -> Result<Self, ManifestError> {
        let error_at = |span: Option<Range<usize>>, message: String| ManifestError {
            file: file.to_owned(),
            location: span.map(|span| line_col(&source, span.start)),
            message,
        };
        let document = DeTable::parse(&source)
            .map_err(|error| error_at(error.span(), error.message().trim().to_owned()))?;
        let document = document.get_ref();

        // The version comes first: a newer manifest may use keys this host cannot know.
        let version_key = [KeySegment::Key("manifest_version".into())];
        match lookup(document, &version_key) {
            None => {
                return Err(error_at(
                    Some(0..0),
                    format!("`manifest_version` is missing: add `manifest_version = {MANIFEST_VERSION}` at the top"),
                ))
            }
            Some(value) => match value.get_ref() {
                DeValue::Integer(number)
                    if number.as_str() == MANIFEST_VERSION.to_string() => {}
                DeValue::Integer(number) => {
                    return Err(error_at(
                        Some(value.span()),
                        format!(
                            "manifest_version: this file is manifest version {}, but this kgdb-host reads version {MANIFEST_VERSION} only; upgrade kgdb-host or rewrite the file for version {MANIFEST_VERSION}",
                            number.as_str()
                        ),
                    ))
                }
                _ => {
                    return Err(error_at(
                        Some(value.span()),
                        format!("manifest_version: expected the integer {MANIFEST_VERSION}"),
                    ))
                }
            },
        }

        let raw: RawManifest = toml::from_str(&source).map_err(|error| {
            let span = error.span();
            let path = span
                .clone()
                .map(|span| path_at(document, span.start))
                .unwrap_or_default();
            let key = display_path(&path);
            let message = error.message().trim().to_owned();
            error_at(
                span,
                if key.is_empty() {
                    message
                } else {
                    format!("{key}: {message}")
                },
            )
        })?;

        let mut plugins: Vec<PluginEntry> = Vec::with_capacity(raw.plugins.len());
        for (index, plugin) in raw.plugins.into_iter().enumerate() {
            let key = |k: &str| {
                [
                    KeySegment::Key("plugin".into()),
                    KeySegment::Index(index),
                    KeySegment::Key(k.into()),
                ]
            };
            let span_of = |k: &str| lookup(document, &key(k)).map(Spanned::span);
            let name_span = span_of("name");
            if plugin.name.trim().is_empty() {
                return Err(error_at(
                    name_span,
                    format!("plugin[{index}].name: a plugin name cannot be empty"),
                ));
            }
            if let Some(previous) = plugins.iter().find(|p| p.name == plugin.name) {
                return Err(error_at(
                    name_span,
                    format!(
                        "plugin[{index}].name: two plugins are named `{}` (the other is on line {}); names must be unique",
                        plugin.name, previous.line
                    ),
                ));
            }
            let location = match plugin.path {
                Some(RawPath::One(path)) => PluginLocation::Path(path),
                Some(RawPath::PerPlatform(paths)) => PluginLocation::PerPlatform(paths),
                None => {
                    return Err(error_at(
                        name_span,
                        format!(
                            "plugin[{index}]: plugin `{}` has no `path` (a library file or a plugin directory)",
                            plugin.name
                        ),
                    ))
                }
            };
            if let Some(pin) = &plugin.sha256 {
                if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(error_at(
                        span_of("sha256"),
                        format!(
                            "plugin[{index}].sha256: expected 64 hexadecimal digits, found `{pin}`"
                        ),
                    ));
                }
            }
            plugins.push(PluginEntry {
                name: plugin.name,
                location,
                sha256: plugin.sha256.map(|pin| pin.to_ascii_lowercase()),
                config: plugin.config,
                index,
                line: name_span.map_or(0, |span| line_col(&source, span.start).0),
            });
        }

        if let Some(default) = &raw.default {
            if !plugins.iter().any(|p| &p.name == default) {
                let span =
                    lookup(document, &[KeySegment::Key("default".into())]).map(Spanned::span);
                return Err(error_at(
                    span,
                    format!(
                        "default: no plugin is named `{default}` (plugins: {})",
                        names(&plugins)
                    ),
                ));
            }
        }

        Ok(Self {
            file: file.to_owned(),
            default: raw.default,
            plugins,
            source,
        })
    }

    /// The entry named `name`.
    #[must_use]
    pub fn plugin(&self, name: &str) -> Option<&PluginEntry> {
        self.plugins.iter().find(|p| p.name == name)
    }

    /// The names of every plugin, comma-separated.
    #[must_use]
    pub fn names(&self) -> String {
        names(&self.plugins)
    }

    /// Directory relative paths in the manifest are resolved against.
    #[must_use]
    pub fn base_dir(&self) -> PathBuf {
        match self.file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// A config value `entry`'s plugin rejects, located at `key_path` (a dotted path inside
    /// the entry's `config` table) or at the entry's `config` table or `name`.
    #[must_use]
    pub fn config_error(
        &self,
        entry: &PluginEntry,
        key_path: &str,
        message: &str,
    ) -> ManifestError {
        self.config_key_error(
            entry,
            key_path,
            &format!("plugin `{}` rejects its config: {message}", entry.name),
        )
    }

    /// Any error about config key `key_path` of `entry` (a value the plugin accepted but could
    /// not work with, say), located like [`Manifest::config_error`].
    #[must_use]
    pub fn config_key_error(
        &self,
        entry: &PluginEntry,
        key_path: &str,
        message: &str,
    ) -> ManifestError {
        let mut path = vec![
            KeySegment::Key("plugin".into()),
            KeySegment::Index(entry.index),
            KeySegment::Key("config".into()),
        ];
        path.extend(
            key_path
                .split('.')
                .filter(|s| !s.is_empty())
                .map(|s| KeySegment::Key(s.to_owned())),
        );
        let span = DeTable::parse(&self.source).ok().and_then(|doc| {
            let doc = doc.get_ref();
            (1..=path.len())
                .rev()
                .find_map(|len| key_span(doc, &path[..len]))
        });
        let key = if key_path.is_empty() {
            format!("plugin[{}].config", entry.index)
        } else {
            format!("plugin[{}].config.{key_path}", entry.index)
        };
        ManifestError {
            file: self.file.clone(),
            location: Some(span.map_or((entry.line, 1), |span| line_col(&self.source, span.start))),
            message: format!("{key}: {message}"),
        }
    }

    /// `file:line:column` of key `key` of `entry` (its `path`, say), or of the entry's `name`
    /// when the key is not written there.
    #[must_use]
    pub fn entry_key_location(&self, entry: &PluginEntry, key: &str) -> String {
        let path = [
            KeySegment::Key("plugin".into()),
            KeySegment::Index(entry.index),
            KeySegment::Key(key.to_owned()),
        ];
        let (line, column) = DeTable::parse(&self.source)
            .ok()
            .and_then(|doc| key_span(doc.get_ref(), &path))
            .map_or((entry.line, 1), |span| line_col(&self.source, span.start));
        format!("{}:{line}:{column}", self.file.display())
    }

    /// An error about `entry` as a whole, located at its `name`.
    #[must_use]
    pub fn entry_error(&self, entry: &PluginEntry, message: impl fmt::Display) -> ManifestError {
        ManifestError {
            file: self.file.clone(),
            location: Some((entry.line, 1)),
            message: format!("plugin `{}`: {message}", entry.name),
        }
    }
}

fn names(plugins: &[PluginEntry]) -> String {
    if plugins.is_empty() {
        return "none".to_owned();
    }
    plugins
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// 1-based line and column of a byte offset.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

fn lookup<'a, 'i>(table: &'a DeTable<'i>, path: &[KeySegment]) -> Option<&'a Spanned<DeValue<'i>>> {
    let (first, rest) = path.split_first()?;
    let KeySegment::Key(key) = first else {
        return None;
    };
    let value = table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v)?;
    lookup_value(value, rest)
}

fn lookup_value<'a, 'i>(
    value: &'a Spanned<DeValue<'i>>,
    path: &[KeySegment],
) -> Option<&'a Spanned<DeValue<'i>>> {
    let Some((first, rest)) = path.split_first() else {
        return Some(value);
    };
    match (value.get_ref(), first) {
        (DeValue::Table(table), KeySegment::Key(_)) => lookup(table, path),
        (DeValue::Array(array), KeySegment::Index(index)) => lookup_value(array.get(*index)?, rest),
        _ => None,
    }
}

/// The span of the last key of `path` (where a person looks for it), or of its value.
fn key_span(doc: &DeTable<'_>, path: &[KeySegment]) -> Option<Range<usize>> {
    let (last, parent) = path.split_last()?;
    let table = if parent.is_empty() {
        Some(doc)
    } else {
        match lookup(doc, parent)?.get_ref() {
            DeValue::Table(table) => Some(table),
            _ => None,
        }
    };
    if let (Some(table), KeySegment::Key(name)) = (table, last) {
        if let Some((key, _)) = table.iter().find(|(k, _)| k.get_ref() == name) {
            return Some(key.span());
        }
    }
    lookup(doc, path).map(Spanned::span)
}

/// The key path of the innermost key or value whose span holds `offset`.
fn path_at(table: &DeTable<'_>, offset: usize) -> Vec<KeySegment> {
    for (key, value) in table.iter() {
        let key_span = key.span();
        if key_span.contains(&offset) {
            return vec![KeySegment::Key(key.get_ref().to_string())];
        }
        let inner = path_in_value(value, offset);
        if !inner.is_empty() || value.span().contains(&offset) {
            let mut path = vec![KeySegment::Key(key.get_ref().to_string())];
            path.extend(inner);
            return path;
        }
    }
    Vec::new()
}

fn path_in_value(value: &Spanned<DeValue<'_>>, offset: usize) -> Vec<KeySegment> {
    match value.get_ref() {
        DeValue::Table(table) => path_at(table, offset),
        DeValue::Array(array) => {
            for (index, item) in array.iter().enumerate() {
                let inner = path_in_value(item, offset);
                if !inner.is_empty() || item.span().contains(&offset) {
                    let mut path = vec![KeySegment::Index(index)];
                    path.extend(inner);
                    return path;
                }
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(Path::new("plugins.toml"), text.to_owned())
    }

    #[test]
    fn a_full_manifest_parses() {
        let manifest = parse(
            "manifest_version = 1\ndefault = \"a\"\n\n[[plugin]]\nname = \"a\"\npath = \"x.so\"\n[plugin.config]\nk = 1\n\n[[plugin]]\nname = \"b\"\npath = { linux-x86_64 = \"b.so\" }\nsha256 = \"ABCDEFabcdef0123456789abcdef0123456789abcdef0123456789abcdef0123\"\n",
        )
        .unwrap();
        assert_eq!(manifest.default.as_deref(), Some("a"));
        assert_eq!(manifest.plugins.len(), 2);
        assert_eq!(manifest.plugins[0].line, 5);
        assert_eq!(manifest.plugins[0].config_text().trim(), "k = 1");
        assert_eq!(manifest.plugins[1].line, 11);
        assert!(manifest.plugins[1]
            .sha256
            .as_deref()
            .unwrap()
            .starts_with("abcdef"));
        assert!(matches!(
            manifest.plugins[1].location,
            PluginLocation::PerPlatform(_)
        ));
    }

    #[test]
    fn a_newer_manifest_version_is_refused_with_its_line() {
        let error = parse("# comment\nmanifest_version = 2\nnew_key = 1\n").unwrap_err();
        assert_eq!(error.location, Some((2, 20)));
        assert!(error.message.contains("manifest version 2"), "{error}");
        assert!(error.message.contains("reads version 1"), "{error}");
    }

    #[test]
    fn unknown_keys_name_their_path_and_line() {
        let error =
            parse("manifest_version = 1\n[[plugin]]\nname = \"a\"\npath = \"x\"\npaht = \"y\"\n")
                .unwrap_err();
        assert_eq!(error.location.map(|l| l.0), Some(5));
        assert!(error.message.starts_with("plugin[0].paht: "), "{error}");
    }

    #[test]
    fn duplicate_names_point_at_the_second() {
        let error = parse(
            "manifest_version = 1\n[[plugin]]\nname = \"a\"\npath = \"x\"\n[[plugin]]\nname = \"a\"\npath = \"y\"\n",
        )
        .unwrap_err();
        assert_eq!(error.location.map(|l| l.0), Some(6));
        assert!(error.message.contains("other is on line 3"), "{error}");
    }

    #[test]
    fn config_errors_point_at_the_key() {
        let manifest = parse(
            "manifest_version = 1\n[[plugin]]\nname = \"a\"\npath = \"x\"\n[plugin.config]\ngood = 1\nbad = 2\n",
        )
        .unwrap();
        let error = manifest.config_error(&manifest.plugins[0], "bad", "unknown field `bad`");
        assert_eq!(error.location, Some((7, 1)));
        assert!(error
            .to_string()
            .starts_with("plugins.toml:7:1: plugin[0].config.bad: "));
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let error = parse("manifest_version = 1\n[[plugin]\n").unwrap_err();
        assert_eq!(error.location.map(|l| l.0), Some(2));
    }

    #[test]
    fn bad_pins_and_unknown_defaults_are_refused() {
        let error = parse(
            "manifest_version = 1\n[[plugin]]\nname = \"a\"\npath = \"x\"\nsha256 = \"12\"\n",
        )
        .unwrap_err();
        assert!(error.message.contains("64 hexadecimal digits"), "{error}");
        let error = parse("manifest_version = 1\ndefault = \"zz\"\n").unwrap_err();
        assert_eq!(error.location.map(|l| l.0), Some(2));
    }
}

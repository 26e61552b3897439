//! From what the user wrote (`--plugin memory`, `--plugin plugins/memory`,
//! `--plugin ./libfoo.so`, or a manifest `path`) to one library file, with every place searched
//! reported when nothing fits.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::manifest::{Manifest, PluginEntry};

/// File name of a plugin library built from crate library `stem` on this platform.
#[must_use]
pub fn library_file_name(stem: &str) -> String {
    format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

fn is_library_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|name| name.ends_with(std::env::consts::DLL_SUFFIX))
}

/// Where to look for libraries built from a plugin's source directory.
#[derive(Debug, Clone, Default)]
pub struct SearchPaths {
    /// Directory of the running `kgdb-host` (plugins built in the same workspace sit beside it).
    pub exe_dir: Option<PathBuf>,
    /// `$CARGO_TARGET_DIR`, when set.
    pub cargo_target_dir: Option<PathBuf>,
    /// The working directory, for relative command-line paths.
    pub cwd: PathBuf,
}

impl SearchPaths {
    /// The search paths of this process.
    #[must_use]
    pub fn from_env() -> Self {
        Self {
            exe_dir: std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(Path::to_owned)),
            cargo_target_dir: std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }
}

/// One place looked at, and why it did not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The path looked at.
    pub path: PathBuf,
    /// What was wrong with it.
    pub problem: String,
}

/// Nothing fitted: every place searched, with its problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ResolveError {
    /// What the user asked for.
    pub spec: String,
    /// A one-line summary.
    pub summary: String,
    /// Every place searched.
    pub attempts: Vec<Attempt>,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin `{}`: {}", self.spec, self.summary)?;
        if !self.attempts.is_empty() {
            f.write_str(" (searched: ")?;
            for (index, attempt) in self.attempts.iter().enumerate() {
                if index > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{}: {}", attempt.path.display(), attempt.problem)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A plugin chosen and located, ready to load.
#[derive(Debug, Clone)]
pub struct ResolvedPlugin {
    /// The library file.
    pub library: PathBuf,
    /// The manifest entry, when the plugin was chosen by name.
    pub entry: Option<PluginEntry>,
}

impl ResolvedPlugin {
    /// The config handed to the plugin (empty without a manifest entry).
    #[must_use]
    pub fn config_text(&self) -> String {
        self.entry
            .as_ref()
            .map(PluginEntry::config_text)
            .unwrap_or_default()
    }

    /// The sha256 pin, if the manifest entry has one.
    #[must_use]
    pub fn pin(&self) -> Option<&str> {
        self.entry.as_ref().and_then(|e| e.sha256.as_deref())
    }
}

/// Resolves `--plugin SPEC`: a name in the manifest first, then a path to a library file or a
/// plugin directory (relative to the working directory).
///
/// # Errors
/// Every place searched, with what was wrong with each.
pub fn resolve_spec(
    spec: &str,
    manifest: Option<&Manifest>,
    search: &SearchPaths,
) -> Result<ResolvedPlugin, ResolveError> {
    if let Some(manifest) = manifest {
        if let Some(entry) = manifest.plugin(spec) {
            return resolve_entry(manifest, entry, search);
        }
    }
    let path = search.cwd.join(spec);
    if path.exists() {
        let library = resolve_location(spec, &path, search)?;
        return Ok(ResolvedPlugin {
            library,
            entry: None,
        });
    }
    let mut attempts = Vec::new();
    match manifest {
        Some(manifest) => attempts.push(Attempt {
            path: manifest.file.clone(),
            problem: format!("no plugin named `{spec}` (plugins: {})", manifest.names()),
        }),
        None => attempts.push(Attempt {
            path: PathBuf::from("plugins.toml"),
            problem: "no plugin manifest was found, so names cannot be looked up".into(),
        }),
    }
    attempts.push(Attempt {
        path,
        problem: "no such file or directory".into(),
    });
    Err(ResolveError {
        spec: spec.to_owned(),
        summary: "not a plugin name and not a path to a library or plugin directory".into(),
        attempts,
    })
}

/// Resolves a manifest entry's path (relative to the manifest's directory).
///
/// # Errors
/// Every place searched, with what was wrong with each.
pub fn resolve_entry(
    manifest: &Manifest,
    entry: &PluginEntry,
    search: &SearchPaths,
) -> Result<ResolvedPlugin, ResolveError> {
    let at_path = || manifest.entry_key_location(entry, "path");
    let raw = entry
        .path_for_this_platform()
        .map_err(|problem| ResolveError {
            spec: entry.name.clone(),
            summary: format!("{}: {problem}", at_path()),
            attempts: Vec::new(),
        })?;
    let path = manifest.base_dir().join(raw);
    let library = resolve_location(&entry.name, &path, search).map_err(|mut error| {
        error.summary = format!("{}: {}", at_path(), error.summary);
        error
    })?;
    Ok(ResolvedPlugin {
        library,
        entry: Some(entry.clone()),
    })
}

/// A library file as is; a directory as the library built from it or shipped in it.
fn resolve_location(
    spec: &str,
    path: &Path,
    search: &SearchPaths,
) -> Result<PathBuf, ResolveError> {
    if path.is_dir() {
        return resolve_directory(spec, path, search);
    }
    if path.exists() {
        return Ok(path.to_owned());
    }
    Err(ResolveError {
        spec: spec.to_owned(),
        summary: "the plugin path does not exist".into(),
        attempts: vec![Attempt {
            path: path.to_owned(),
            problem: "no such file or directory".into(),
        }],
    })
}

fn host_profile() -> (&'static str, &'static str) {
    if cfg!(debug_assertions) {
        ("debug", "release")
    } else {
        ("release", "debug")
    }
}

/// The library name a Cargo package builds, when `dir` holds a `cdylib` package.
fn cargo_library_stem(dir: &Path) -> Result<Option<String>, String> {
    let manifest = dir.join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(None);
    };
    let value: toml::Table = toml::from_str(&text)
        .map_err(|error| format!("{}: {}", manifest.display(), error.message().trim()))?;
    let lib = value.get("lib").and_then(toml::Value::as_table);
    let is_cdylib = lib
        .and_then(|lib| lib.get("crate-type"))
        .and_then(toml::Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
    let package = value
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str);
    let Some(package) = package else {
        return Err(format!("{} has no [package] name", manifest.display()));
    };
    if !is_cdylib {
        return Err(format!(
            "{}: package `{package}` does not build a cdylib, so it cannot be a plugin",
            manifest.display()
        ));
    }
    let stem = lib
        .and_then(|lib| lib.get("name"))
        .and_then(toml::Value::as_str)
        .map_or_else(|| package.replace('-', "_"), str::to_owned);
    Ok(Some(stem))
}

fn resolve_directory(
    spec: &str,
    dir: &Path,
    search: &SearchPaths,
) -> Result<PathBuf, ResolveError> {
    let fail = |summary: String, attempts: Vec<Attempt>| ResolveError {
        spec: spec.to_owned(),
        summary,
        attempts,
    };
    match cargo_library_stem(dir) {
        Err(problem) => Err(fail(problem, Vec::new())),
        Ok(Some(stem)) => {
            let file = library_file_name(&stem);
            let (own, other) = host_profile();
            let mut places: Vec<PathBuf> = vec![dir.to_owned()];
            places.extend(search.exe_dir.clone());
            if let Some(target) = &search.cargo_target_dir {
                places.push(target.join(own));
                places.push(target.join(other));
            }
            for ancestor in dir.ancestors() {
                let target = ancestor.join("target");
                if target.is_dir() {
                    places.push(target.join(own));
                    places.push(target.join(other));
                }
            }
            let mut attempts = Vec::new();
            for place in places {
                let candidate = place.join(&file);
                if attempts.iter().any(|a: &Attempt| a.path == candidate) {
                    continue;
                }
                if candidate.is_file() {
                    return Ok(candidate);
                }
                attempts.push(Attempt {
                    path: candidate,
                    problem: "not there".into(),
                });
            }
            Err(fail(
                format!(
                    "{} is the source of library `{file}`, which is not built yet (run `cargo build --release` in the workspace)",
                    dir.display()
                ),
                attempts,
            ))
        }
        Ok(None) => {
            let mut libraries: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|error| fail(format!("cannot read the directory: {error}"), Vec::new()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.is_file() && is_library_name(path))
                .collect();
            libraries.sort();
            match libraries.len() {
                1 => Ok(libraries.remove(0)),
                0 => Err(fail(
                    format!(
                        "the directory {} holds no plugin library (no Cargo.toml of a plugin crate and no *{} file)",
                        dir.display(),
                        std::env::consts::DLL_SUFFIX
                    ),
                    vec![Attempt {
                        path: dir.to_owned(),
                        problem: "no library in it".into(),
                    }],
                )),
                _ => Err(fail(
                    format!(
                        "the directory {} holds several libraries ({}); name one of them",
                        dir.display(),
                        libraries
                            .iter()
                            .filter_map(|p| p.file_name().and_then(|n| n.to_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Vec::new(),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(cwd: &Path) -> SearchPaths {
        SearchPaths {
            exe_dir: None,
            cargo_target_dir: None,
            cwd: cwd.to_owned(),
        }
    }

    #[test]
    fn a_crate_directory_resolves_to_its_built_library() {
        let dir = tempfile::tempdir().unwrap();
        let crate_dir = dir.path().join("plugins/foo");
        std::fs::create_dir_all(&crate_dir).unwrap();
        std::fs::write(
            crate_dir.join("Cargo.toml"),
            "[package]\nname = \"kgdb-plugin-foo\"\n[lib]\ncrate-type = [\"cdylib\"]\n",
        )
        .unwrap();
        let error = resolve_spec("plugins/foo", None, &search(dir.path())).unwrap_err();
        assert!(error.summary.contains("not built yet"), "{error}");

        let (own, _) = host_profile();
        let target = dir.path().join("target").join(own);
        std::fs::create_dir_all(&target).unwrap();
        let library = target.join(library_file_name("kgdb_plugin_foo"));
        std::fs::write(&library, b"").unwrap();
        let resolved = resolve_spec("plugins/foo", None, &search(dir.path())).unwrap();
        assert_eq!(resolved.library, library);
    }

    #[test]
    fn an_empty_directory_says_it_holds_no_library() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        let error = resolve_spec("empty", None, &search(dir.path())).unwrap_err();
        assert!(
            error.to_string().contains("holds no plugin library"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_name_lists_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let error = resolve_spec("nope", None, &search(dir.path())).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("no plugin manifest"), "{text}");
        assert!(text.contains("no such file or directory"), "{text}");
    }
}

//! Claiming a data directory: a format marker that names the plugin and its format version,
//! and a lock file that keeps a second process out with "in use by process N".
//!
//! Persistent plugins call [`DataDir::claim`] before opening their engine, and keep the
//! returned value alive as long as the engine is open.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{ErrorCode, PluginError};

/// Name of the marker file in a data directory.
pub const FORMAT_FILE: &str = "kgdb-format.toml";
/// Name of the lock file in a data directory.
pub const LOCK_FILE: &str = "kgdb.lock";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatMarker {
    plugin: String,
    format_version: u32,
}

/// A data directory claimed by this instance: locked (exclusively for writers, shared for
/// read-only opens) until dropped.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    /// Holds the `flock`; the lock is released when this file closes (also on a crash).
    _lock: File,
}

fn io_error(path: &Path, what: &str, error: &std::io::Error) -> PluginError {
    let mut plugin_error = PluginError::from(std::io::Error::new(error.kind(), error.to_string()));
    plugin_error.message = format!("{}: {what}: {error}", path.display()).into();
    plugin_error
}

impl DataDir {
    /// Claims `path` for `plugin` at `format_version`.
    ///
    /// - a missing directory is created when `create` is set (and not `read_only`), else
    ///   `NOT_FOUND`;
    /// - another holder of the lock gives `IN_USE` naming its process id;
    /// - a directory written by another plugin, or by a newer format version, gives
    ///   `INCOMPATIBLE`; a non-empty directory without a marker too (it is not kgdb's);
    /// - an unreadable marker gives `CORRUPTION`.
    ///
    /// # Errors
    /// As listed above, and `IO` for other file-system failures.
    pub fn claim(
        path: &Path,
        plugin: &str,
        format_version: u32,
        create: bool,
        read_only: bool,
    ) -> Result<Self, PluginError> {
        if !path.exists() {
            if !create || read_only {
                return Err(PluginError::not_found(format!(
                    "data directory {} does not exist",
                    path.display()
                )));
            }
            std::fs::create_dir_all(path)
                .map_err(|e| io_error(path, "cannot create the data directory", &e))?;
        } else if !path.is_dir() {
            return Err(PluginError::invalid_argument(format!(
                "{} is not a directory",
                path.display()
            ))
            .with_key("data_dir"));
        }
        let lock = Self::lock(path, read_only)?;
        let marker_path = path.join(FORMAT_FILE);
        match std::fs::read_to_string(&marker_path) {
            Ok(text) => {
                let marker: FormatMarker = toml::from_str(&text).map_err(|error| {
                    PluginError::new(
                        ErrorCode::CORRUPTION,
                        format!(
                            "{}: unreadable format marker: {}",
                            marker_path.display(),
                            error.message()
                        ),
                    )
                })?;
                if marker.plugin != plugin {
                    return Err(PluginError::new(
                        ErrorCode::INCOMPATIBLE,
                        format!(
                            "data directory {} belongs to plugin `{}` (format {}), not `{plugin}`; open it with `--plugin {}`",
                            path.display(),
                            marker.plugin,
                            marker.format_version,
                            marker.plugin
                        ),
                    ));
                }
                if marker.format_version > format_version {
                    return Err(PluginError::new(
                        ErrorCode::INCOMPATIBLE,
                        format!(
                            "data directory {} has format version {}, newer than the {format_version} this `{plugin}` plugin reads; upgrade the plugin",
                            path.display(),
                            marker.format_version
                        ),
                    ));
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let foreign: Vec<String> = std::fs::read_dir(path)
                    .map_err(|e| io_error(path, "cannot list the data directory", &e))?
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|name| name != LOCK_FILE)
                    .collect();
                if !foreign.is_empty() {
                    return Err(PluginError::new(
                        ErrorCode::INCOMPATIBLE,
                        format!(
                            "{} is not a kgdb data directory: it holds {} but no {FORMAT_FILE}; refusing to write into it",
                            path.display(),
                            foreign.join(", ")
                        ),
                    ));
                }
                if read_only {
                    return Err(PluginError::not_found(format!(
                        "data directory {} is empty",
                        path.display()
                    )));
                }
                write_marker(path, plugin, format_version)?;
            }
            Err(error) => return Err(io_error(&marker_path, "cannot read", &error)),
        }
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    fn lock(path: &Path, read_only: bool) -> Result<File, PluginError> {
        let lock_path = path.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .or_else(|error| {
                if read_only {
                    File::open(&lock_path)
                } else {
                    Err(error)
                }
            })
            .map_err(|e| io_error(&lock_path, "cannot open the lock file", &e))?;
        let attempt = if read_only {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match attempt {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_owned()
                } else {
                    format!("process {holder}")
                };
                return Err(PluginError::new(
                    ErrorCode::IN_USE,
                    format!(
                        "data directory {} is in use by {who} (lock file {})",
                        path.display(),
                        lock_path.display()
                    ),
                )
                .with_retryable(true));
            }
            Err(TryLockError::Error(error)) => {
                return Err(io_error(&lock_path, "cannot lock", &error));
            }
        }
        if !read_only {
            let pid = std::process::id().to_string();
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| file.write_all(pid.as_bytes()))
                .map_err(|e| io_error(&lock_path, "cannot write the lock file", &e))?;
        }
        Ok(file)
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the format marker for `plugin` into `dir` (a checkpoint target, say), so the
    /// copy opens like the original.
    ///
    /// # Errors
    /// `IO` when the file cannot be written.
    pub fn mark(dir: &Path, plugin: &str, format_version: u32) -> Result<(), PluginError> {
        write_marker(dir, plugin, format_version)
    }
}

fn write_marker(dir: &Path, plugin: &str, format_version: u32) -> Result<(), PluginError> {
    let text = toml::to_string(&FormatMarker {
        plugin: plugin.to_owned(),
        format_version,
    })
    .map_err(|e| PluginError::internal(format!("cannot encode the format marker: {e}")))?;
    let tmp = dir.join(format!("{FORMAT_FILE}.tmp"));
    let target = dir.join(FORMAT_FILE);
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        // Make the rename itself durable.
        File::open(dir)?.sync_all()
    };
    write().map_err(|e| io_error(&target, "cannot write the format marker", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "kgdb-data-dir-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn claims_lock_out_a_second_writer_and_name_the_process() {
        let root = scratch();
        let dir = root.join("data");
        let first = DataDir::claim(&dir, "alpha", 1, true, false).unwrap();
        let error = DataDir::claim(&dir, "alpha", 1, true, false).unwrap_err();
        assert_eq!(error.code, ErrorCode::IN_USE);
        assert!(
            error
                .message
                .contains(&format!("in use by process {}", std::process::id())),
            "{error}"
        );
        drop(first);
        let again = DataDir::claim(&dir, "alpha", 1, true, false).unwrap();
        drop(again);
        let error = DataDir::claim(&dir, "beta", 1, true, false).unwrap_err();
        assert_eq!(error.code, ErrorCode::INCOMPATIBLE);
        assert!(
            error.message.contains("belongs to plugin `alpha`"),
            "{error}"
        );
        let error = DataDir::claim(&dir, "alpha", 0, true, false).unwrap_err();
        assert_eq!(error.code, ErrorCode::INCOMPATIBLE);
        assert!(error.message.contains("newer"), "{error}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn foreign_and_missing_directories_are_refused() {
        let root = scratch();
        let error = DataDir::claim(&root.join("missing"), "alpha", 1, false, false).unwrap_err();
        assert_eq!(error.code, ErrorCode::NOT_FOUND);
        std::fs::write(root.join("something.txt"), "hello").unwrap();
        let error = DataDir::claim(&root, "alpha", 1, true, false).unwrap_err();
        assert_eq!(error.code, ErrorCode::INCOMPATIBLE);
        assert!(error.message.contains("something.txt"), "{error}");
        std::fs::write(root.join(FORMAT_FILE), "garbage = [").unwrap();
        let error = DataDir::claim(&root, "alpha", 1, true, false).unwrap_err();
        assert_eq!(error.code, ErrorCode::CORRUPTION);
        std::fs::remove_dir_all(&root).unwrap();
    }
}

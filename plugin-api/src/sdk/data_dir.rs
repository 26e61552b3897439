//! Claiming a data directory: a format marker that names the plugin and its format version,
//! and a lock file (`kgdb.lock`) that keeps a second writing process out with "in use by
//! process N".
//!
//! Persistent plugins call [`DataDir::open`] (or [`DataDir::claim`]) before opening their
//! engine, and keep the returned value alive as long as the engine is open. Whether reading
//! processes may work beside the writing one is the engine's to say ([`Sharing`]).

use std::fs::{File, OpenOptions as FileOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OpenOptions;
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

/// Whether the engine lets other processes read a data directory while one process writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Readers work beside the one writer (LMDB's multi-process MVCC, a RocksDB read-only
    /// instance): a read-only claim takes no lock and creates no file, so any number of
    /// reading processes and one writing process use the directory at once.
    ReadersBesideWriter,
    /// The engine cannot be read while another process writes it: a read-only claim takes a
    /// shared lock, so readers exclude a writer (and a writer excludes readers), each with
    /// `IN_USE` naming the other side.
    Exclusive,
}

/// How an instance claims its data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// Create the directory (and write the format marker) when missing or empty. Never done
    /// by a read-only claim.
    pub create: bool,
    /// Open without writing: no lock file is created or written, no marker written.
    pub read_only: bool,
    /// What the engine allows other processes.
    pub sharing: Sharing,
}

/// A data directory claimed by this instance until dropped: locked exclusively by a writer;
/// for a reader, locked shared or not at all, as its [`Sharing`] says.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    /// Holds the `flock`, if one was taken; the lock is released when this file closes (also
    /// on a crash).
    _lock: Option<File>,
    read_only: bool,
    /// Whether this claim wrote the marker (the directory held nothing of kgdb's).
    new: bool,
}

fn io_error(path: &Path, what: &str, error: &std::io::Error) -> PluginError {
    let mut plugin_error = PluginError::from(std::io::Error::new(error.kind(), error.to_string()));
    plugin_error.message = format!("{}: {what}: {error}", path.display()).into();
    plugin_error
}

impl DataDir {
    /// The open prologue of a persistent plugin: claims the data directory the host gave in
    /// `options` for `plugin` at `format_version`, as `options.create` and
    /// `options.read_only` ask.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` naming `data_dir` when the host gave none; as [`DataDir::claim`].
    pub fn open(
        options: &OpenOptions,
        plugin: &str,
        format_version: u32,
        sharing: Sharing,
    ) -> Result<Self, PluginError> {
        let Some(path) = options.data_dir.as_deref() else {
            return Err(PluginError::invalid_argument(format!(
                "the `{plugin}` plugin keeps its data on disk: it needs a data directory"
            ))
            .with_key("data_dir"));
        };
        Self::claim(
            path,
            plugin,
            format_version,
            Claim {
                create: options.create,
                read_only: options.read_only,
                sharing,
            },
        )
    }

    /// Claims `path` for `plugin` at `format_version`.
    ///
    /// - a missing directory is created when `claim.create` is set (and not `read_only`),
    ///   else `NOT_FOUND`;
    /// - another writer holding the lock gives `IN_USE` naming its process id (not
    ///   retryable: the other process has to end first); so does a writer meeting readers of
    ///   an [`Sharing::Exclusive`] engine, and such a reader meeting a writer;
    /// - a directory written by another plugin, or by a newer format version, gives
    ///   `INCOMPATIBLE`; a non-empty directory without a marker too (it is not kgdb's);
    /// - an empty directory (or one holding only the lock file) gets the marker when
    ///   `claim.create` is set; otherwise it is `NOT_FOUND`;
    /// - an unreadable marker gives `CORRUPTION`.
    ///
    /// # Errors
    /// As listed above, and `IO` for other file-system failures.
    pub fn claim(
        path: &Path,
        plugin: &str,
        format_version: u32,
        claim: Claim,
    ) -> Result<Self, PluginError> {
        let may_create = claim.create && !claim.read_only;
        if !path.exists() {
            if !may_create {
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
        let lock = match (claim.read_only, claim.sharing) {
            (false, _) => Some(Self::lock_for_writing(path)?),
            (true, Sharing::Exclusive) => Some(Self::lock_for_reading(path)?),
            (true, Sharing::ReadersBesideWriter) => None,
        };
        let marker_path = path.join(FORMAT_FILE);
        match std::fs::read_to_string(&marker_path) {
            Ok(text) => check_marker(path, &marker_path, &text, plugin, format_version)?,
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
                if !may_create {
                    return Err(PluginError::not_found(format!(
                        "data directory {} is empty (nothing has been stored in it)",
                        path.display()
                    )));
                }
                write_marker(path, plugin, format_version)?;
                return Ok(Self {
                    path: path.to_owned(),
                    _lock: lock,
                    read_only: claim.read_only,
                    new: true,
                });
            }
            Err(error) => return Err(io_error(&marker_path, "cannot read", &error)),
        }
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
            read_only: claim.read_only,
            new: false,
        })
    }

    /// Takes the lock file exclusively and writes this process's id into it.
    fn lock_for_writing(path: &Path) -> Result<File, PluginError> {
        let lock_path = path.join(LOCK_FILE);
        let mut file = FileOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| io_error(&lock_path, "cannot open the lock file", &e))?;
        // An instance of this process that just closed may still appear to hold the lock for
        // an instant: a child process being started meanwhile inherits the descriptor until it
        // execs. So a lock held by this very process is tried again for a moment.
        let deadline = std::time::Instant::now() + OWN_LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock)
                    if holder(&mut file) == Some(std::process::id())
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(in_use(path, &lock_path, &mut file, "in use by"));
                }
                Err(TryLockError::Error(error)) => {
                    return Err(io_error(&lock_path, "cannot lock", &error));
                }
            }
        }
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .map_err(|e| io_error(&lock_path, "cannot write the lock file", &e))?;
        Ok(file)
    }

    /// Takes the lock file shared, without creating or writing it (a directory without one
    /// has no writer).
    fn lock_for_reading(path: &Path) -> Result<File, PluginError> {
        let lock_path = path.join(LOCK_FILE);
        let mut file = match File::open(&lock_path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(PluginError::not_found(format!(
                    "data directory {} has never been written (no {LOCK_FILE})",
                    path.display()
                )));
            }
            Err(error) => return Err(io_error(&lock_path, "cannot open the lock file", &error)),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(file),
            Err(TryLockError::WouldBlock) => {
                Err(in_use(path, &lock_path, &mut file, "being written by"))
            }
            Err(TryLockError::Error(error)) => Err(io_error(&lock_path, "cannot lock", &error)),
        }
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the claim is read-only.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Whether this claim created the store: the directory held nothing of kgdb's and the
    /// marker was written now. An engine may create its files then, and only then.
    #[must_use]
    pub fn is_new(&self) -> bool {
        self.new
    }

    /// Whether the engine's files may be created: the claim is new, or the directory holds
    /// nothing but kgdb's own marker and lock (a first open that stopped before the engine
    /// created anything). Otherwise a store exists, and an engine file that is missing is
    /// damage (`CORRUPTION`), never a reason to start an empty store over the rest.
    ///
    /// # Errors
    /// `IO` when the directory cannot be listed.
    pub fn may_create_engine(&self) -> Result<bool, PluginError> {
        if self.new {
            return Ok(true);
        }
        let mut entries = std::fs::read_dir(&self.path)
            .map_err(|e| io_error(&self.path, "cannot list the data directory", &e))?;
        Ok(entries.all(|entry| {
            entry.is_ok_and(|entry| {
                let name = entry.file_name();
                name == FORMAT_FILE || name == LOCK_FILE
            })
        }))
    }

    /// `CORRUPTION` for an engine file of this existing store that is missing or empty.
    #[must_use]
    pub fn missing_engine_file(&self, file: &str, what: &str) -> PluginError {
        PluginError::new(
            ErrorCode::CORRUPTION,
            format!(
                "{}: {what}: the store's engine files are damaged (its {FORMAT_FILE} says a store exists); nothing was changed, restore the file from a backup",
                self.path.join(file).display()
            ),
        )
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

/// How long a lock held by this very process is tried again (see `lock_for_writing`).
const OWN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The process id the lock file holds, if it holds one.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// `IN_USE` naming the process whose id the lock file holds.
fn in_use(path: &Path, lock_path: &Path, file: &mut File, relation: &str) -> PluginError {
    let who = match holder(file) {
        Some(pid) => format!("process {pid}"),
        None => "another process".to_owned(),
    };
    PluginError::new(
        ErrorCode::IN_USE,
        format!(
            "data directory {} is {relation} {who} (lock file {})",
            path.display(),
            lock_path.display()
        ),
    )
}

fn check_marker(
    path: &Path,
    marker_path: &Path,
    text: &str,
    plugin: &str,
    format_version: u32,
) -> Result<(), PluginError> {
    let marker: FormatMarker = toml::from_str(text).map_err(|error| {
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
    Ok(())
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

    const WRITE: Claim = Claim {
        create: true,
        read_only: false,
        sharing: Sharing::ReadersBesideWriter,
    };
    const WRITE_NO_CREATE: Claim = Claim {
        create: false,
        ..WRITE
    };
    const READ: Claim = Claim {
        create: false,
        read_only: true,
        sharing: Sharing::ReadersBesideWriter,
    };

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
        let first = DataDir::claim(&dir, "alpha", 1, WRITE).unwrap();
        let error = DataDir::claim(&dir, "alpha", 1, WRITE).unwrap_err();
        assert_eq!(error.code, ErrorCode::IN_USE);
        assert!(
            error
                .message
                .contains(&format!("in use by process {}", std::process::id())),
            "{error}"
        );
        drop(first);
        let again = DataDir::claim(&dir, "alpha", 1, WRITE).unwrap();
        drop(again);
        let error = DataDir::claim(&dir, "beta", 1, WRITE).unwrap_err();
        assert_eq!(error.code, ErrorCode::INCOMPATIBLE);
        assert!(
            error.message.contains("belongs to plugin `alpha`"),
            "{error}"
        );
        let error = DataDir::claim(&dir, "alpha", 0, WRITE).unwrap_err();
        assert_eq!(error.code, ErrorCode::INCOMPATIBLE);
        assert!(error.message.contains("newer"), "{error}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn foreign_and_missing_directories_are_refused() {
        let root = scratch();
        let error = DataDir::claim(&root.join("missing"), "alpha", 1, WRITE_NO_CREATE).unwrap_err();
        assert_eq!(error.code, ErrorCode::NOT_FOUND);
        std::fs::write(root.join("something.txt"), "hello").unwrap();
        let error = DataDir::claim(&root, "alpha", 1, WRITE).unwrap_err();
        assert_eq!(error.code, ErrorCode::INCOMPATIBLE);
        assert!(error.message.contains("something.txt"), "{error}");
        std::fs::write(root.join(FORMAT_FILE), "garbage = [").unwrap();
        let error = DataDir::claim(&root, "alpha", 1, WRITE).unwrap_err();
        assert_eq!(error.code, ErrorCode::CORRUPTION);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn readers_work_beside_a_writer_unless_the_engine_is_exclusive() {
        let root = scratch();
        let dir = root.join("data");
        let writer = DataDir::claim(&dir, "alpha", 1, WRITE).unwrap();
        // Beside a writer: no lock, nothing written.
        let before = std::fs::read(dir.join(LOCK_FILE)).unwrap();
        let reader = DataDir::claim(&dir, "alpha", 1, READ).unwrap();
        let second = DataDir::claim(&dir, "alpha", 1, READ).unwrap();
        assert!(reader.is_read_only());
        assert_eq!(std::fs::read(dir.join(LOCK_FILE)).unwrap(), before);
        // A second writer is still refused, naming the first.
        let error = DataDir::claim(&dir, "alpha", 1, WRITE).unwrap_err();
        assert_eq!(error.code, ErrorCode::IN_USE);
        assert!(!error.retryable, "{error}");
        // An exclusive engine's reader waits for the writer to go, and keeps writers out.
        let exclusive = Claim {
            sharing: Sharing::Exclusive,
            ..READ
        };
        let error = DataDir::claim(&dir, "alpha", 1, exclusive).unwrap_err();
        assert_eq!(error.code, ErrorCode::IN_USE);
        assert!(
            error
                .message
                .contains(&format!("being written by process {}", std::process::id())),
            "{error}"
        );
        drop((writer, reader, second));
        let shared = DataDir::claim(&dir, "alpha", 1, exclusive).unwrap();
        let also = DataDir::claim(&dir, "alpha", 1, exclusive).unwrap();
        assert_eq!(
            DataDir::claim(&dir, "alpha", 1, WRITE).unwrap_err().code,
            ErrorCode::IN_USE
        );
        drop((shared, also));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn only_a_creating_claim_marks_an_empty_directory() {
        let root = scratch();
        let error = DataDir::claim(&root, "alpha", 1, READ).unwrap_err();
        assert_eq!(error.code, ErrorCode::NOT_FOUND);
        let error = DataDir::claim(&root, "alpha", 1, WRITE_NO_CREATE).unwrap_err();
        assert_eq!(error.code, ErrorCode::NOT_FOUND);
        assert!(!root.join(FORMAT_FILE).exists());
        drop(DataDir::claim(&root, "alpha", 1, WRITE).unwrap());
        assert!(root.join(FORMAT_FILE).exists());
        drop(DataDir::claim(&root, "alpha", 1, READ).unwrap());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn only_a_new_or_engine_less_directory_may_create_an_engine() {
        let root = scratch();
        let dir = root.join("data");
        let claim = DataDir::claim(&dir, "alpha", 1, WRITE).unwrap();
        assert!(claim.is_new() && claim.may_create_engine().unwrap());
        drop(claim);
        // A first open that stopped before the engine wrote anything.
        let claim = DataDir::claim(&dir, "alpha", 1, WRITE).unwrap();
        assert!(!claim.is_new() && claim.may_create_engine().unwrap());
        drop(claim);
        std::fs::write(dir.join("engine.file"), "data").unwrap();
        let claim = DataDir::claim(&dir, "alpha", 1, WRITE).unwrap();
        assert!(!claim.may_create_engine().unwrap());
        let error = claim.missing_engine_file("CURRENT", "missing");
        assert_eq!(error.code, ErrorCode::CORRUPTION);
        assert!(error.message.contains("CURRENT: missing"), "{error}");
        drop(claim);
        std::fs::remove_dir_all(&root).unwrap();
    }
}

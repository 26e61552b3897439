//! Loading library files: integrity pin, format sniffing, one load per canonical path.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use crate::adapter::{self, Backend, Module, OpenSettings, PluginDetails};
use crate::error::{BackendError, LoadError};

/// A plugin library loaded into this process. Libraries are never unloaded.
#[derive(Debug)]
pub struct LoadedPlugin {
    path: PathBuf,
    /// Computed at load time when a pin is checked, else on first use.
    sha256: OnceLock<String>,
    /// The open file the library was loaded from (hashed from it, never from the path).
    /// Never closed, even when this value goes (see `load`).
    file: &'static File,
    identity: FileIdentity,
    details: PluginDetails,
    module: Module,
}

/// What tells a library file from a replaced one without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileIdentity {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
}

impl FileIdentity {
    fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            #[cfg(unix)]
            inode: {
                use std::os::unix::fs::MetadataExt;
                (metadata.dev(), metadata.ino())
            },
        }
    }
}

/// The lower-case hex sha256 of everything `file` holds from its start.
fn sha256_of(mut file: &File) -> std::io::Result<String> {
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(0))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

impl LoadedPlugin {
    /// The canonical path of the library file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lower-case hex sha256 of the bytes that were loaded (read from the descriptor the
    /// library was loaded through; hashed on first use unless a pin was checked at load).
    #[must_use]
    pub fn sha256(&self) -> &str {
        self.sha256.get_or_init(|| {
            sha256_of(self.file).unwrap_or_else(|error| format!("(unreadable: {error})"))
        })
    }

    /// What the plugin says about itself.
    #[must_use]
    pub fn details(&self) -> &PluginDetails {
        &self.details
    }

    /// Checks a config table (TOML text) without opening anything.
    ///
    /// # Errors
    /// `INVALID_CONFIG` with the key path.
    pub fn validate_config(&self, config: &str) -> Result<(), BackendError> {
        self.module.validate_config(config)
    }

    /// Opens a backend instance.
    ///
    /// # Errors
    /// Whatever the plugin reports.
    pub fn open(&self, settings: &OpenSettings) -> Result<Backend, BackendError> {
        self.module.open(settings)
    }

    /// Whether the plugin offers the extension interface `id`.
    #[must_use]
    pub fn has_extension(&self, id: &str) -> bool {
        self.module.has_extension(id)
    }

    /// The config that makes an instance small enough to fill, from the plugin's
    /// `kgdb.test-configs.v1` extension (the conformance suite's full-store case). `None` when
    /// the plugin does not offer the extension, as one built before it existed does not.
    ///
    /// # Errors
    /// The plugin offers the extension with an incompatible layout.
    pub fn full_config_for_tests(&self) -> Result<Option<String>, LoadError> {
        self.module
            .full_config_for_tests()
            .map_err(|message| LoadError::Other {
                path: self.path.clone(),
                message,
            })
    }
}

/// Loads plugin libraries, each canonical path once per process.
#[derive(Debug, Default)]
pub struct PluginLoader {
    loaded: Mutex<HashMap<PathBuf, Arc<LoadedPlugin>>>,
}

/// What the first bytes of a file say it is.
fn sniff(header: &[u8]) -> Result<(), String> {
    const ELF: &[u8] = b"\x7fELF";
    const MACHO: [&[u8]; 5] = [
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ];
    let ok = if cfg!(target_os = "macos") {
        MACHO.iter().any(|magic| header.starts_with(magic))
    } else if cfg!(windows) {
        header.starts_with(b"MZ")
    } else {
        header.starts_with(ELF)
    };
    if ok {
        return Ok(());
    }
    if header.is_empty() {
        return Err("an empty file".into());
    }
    let text = header
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
        || std::str::from_utf8(header).is_ok();
    if text {
        let preview: String = String::from_utf8_lossy(header)
            .chars()
            .take(24)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        Err(format!("a text file (starting \"{}\")", preview.trim_end()))
    } else {
        Err(format!(
            "a file of another format (first bytes {})",
            header
                .iter()
                .take(4)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))
    }
}

fn expected_format() -> &'static str {
    if cfg!(target_os = "macos") {
        "a Mach-O dynamic library"
    } else if cfg!(windows) {
        "a PE DLL"
    } else {
        "an ELF shared object"
    }
}

impl PluginLoader {
    /// An empty loader.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads `path`, refusing it unless its sha256 equals `pin` (when given). `pin_origin` says
    /// where the pin is written, for the error message.
    ///
    /// The file is opened once: the hash is computed from that open file and, on Linux, the
    /// library is loaded through `/proc/self/fd/N` of the same descriptor, so nothing can swap
    /// the file between the check and the load.
    ///
    /// # Errors
    /// A one-line [`LoadError`] naming the file, what was expected and what was found.
    pub fn load(
        &self,
        path: &Path,
        pin: Option<&str>,
        pin_origin: &str,
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        let io = |source: std::io::Error| LoadError::Io {
            path: path.to_owned(),
            source,
        };
        // Checked before opening: opening a FIFO would wait for a writer.
        if !std::fs::metadata(path).map_err(io)?.is_file() {
            return Err(LoadError::NotALibrary {
                path: path.to_owned(),
                expected: expected_format(),
                found: "something that is not a regular file".into(),
            });
        }
        let file = File::open(path).map_err(io)?;
        let metadata = file.metadata().map_err(io)?;
        if !metadata.is_file() {
            return Err(LoadError::NotALibrary {
                path: path.to_owned(),
                expected: expected_format(),
                found: "something that is not a regular file".into(),
            });
        }
        let mut header = Vec::with_capacity(64);
        (&file).take(64).read_to_end(&mut header).map_err(io)?;
        // A library is hashed (a quarter of a second for a large one) only when a pin asks.
        let sha256 = match pin {
            Some(pin) => {
                let sha256 = sha256_of(&file).map_err(io)?;
                if !pin.eq_ignore_ascii_case(&sha256) {
                    return Err(LoadError::PinMismatch {
                        path: path.to_owned(),
                        origin: pin_origin.to_owned(),
                        expected: pin.to_ascii_lowercase(),
                        found: sha256,
                    });
                }
                Some(sha256)
            }
            None => None,
        };
        let identity = FileIdentity::of(&metadata);
        sniff(&header).map_err(|found| LoadError::NotALibrary {
            path: path.to_owned(),
            expected: expected_format(),
            found,
        })?;
        if header.starts_with(b"\x7fELF") {
            crate::elf::check_segments(&file, metadata.len()).map_err(|found| {
                LoadError::NotALibrary {
                    path: path.to_owned(),
                    expected: expected_format(),
                    found,
                }
            })?;
        }
        let canonical = std::fs::canonicalize(path).map_err(io)?;

        let mut loaded = self.loaded.lock().map_err(|_| LoadError::Other {
            path: path.to_owned(),
            message: "the plugin loader's lock is poisoned by an earlier panic".into(),
        })?;
        if let Some(plugin) = loaded.get(&canonical) {
            let same = match &sha256 {
                Some(sha256) => plugin.sha256() == sha256,
                None => plugin.identity == identity,
            };
            if same {
                return Ok(Arc::clone(plugin));
            }
            return Err(LoadError::Other {
                path: path.to_owned(),
                message: "the file changed since this process loaded it; a loaded library cannot be replaced, restart to use the new one".into(),
            });
        }

        let fd_path = fd_path(&file);
        let load_path = fd_path.as_deref().unwrap_or(&canonical);
        tracing::debug!(library = %canonical.display(), via = %load_path.display(), "loading plugin library");
        let module = adapter::load_module(load_path, path)?;
        // The descriptor stays open for the life of the process, even after every
        // `LoadedPlugin` of it and its loader are gone: on Linux the library is mapped under
        // the name `/proc/self/fd/N`, and glibc matches `dlopen` names before file identity, so
        // if N were closed and reused for another plugin, loading that one would return this
        // one. It is also what `sha256()` reads.
        let file: &'static File = Box::leak(Box::new(file));
        let details = module.details();
        let plugin = Arc::new(LoadedPlugin {
            path: canonical.clone(),
            sha256: sha256.map(OnceLock::from).unwrap_or_default(),
            file,
            identity,
            details,
            module,
        });
        loaded.insert(canonical, Arc::clone(&plugin));
        Ok(plugin)
    }
}

#[cfg(target_os = "linux")]
fn fd_path(file: &File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    path.exists().then_some(path)
}

#[cfg(not(target_os = "linux"))]
fn fd_path(_file: &File) -> Option<PathBuf> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_tells_text_from_libraries() {
        assert!(sniff(b"\x7fELF\x02\x01").is_ok() || !cfg!(target_os = "linux"));
        let found = sniff(b"hello, I am text\n").unwrap_err();
        assert!(found.starts_with("a text file"), "{found}");
        assert_eq!(sniff(b"").unwrap_err(), "an empty file");
        assert!(sniff(&[0x00, 0x01, 0x02, 0xff])
            .unwrap_err()
            .contains("000102ff"));
    }

    #[test]
    fn a_pin_mismatch_is_refused_before_loading() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libfake.so");
        std::fs::write(&file, b"not a library").unwrap();
        let error = PluginLoader::new()
            .load(&file, Some(&"0".repeat(64)), "plugins.toml:3")
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("sha256 mismatch"), "{text}");
        assert!(text.contains("plugins.toml:3 pins 0000"), "{text}");
    }
}

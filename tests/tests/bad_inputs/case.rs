//! One bad-input case and how it runs: a scratch directory with a copy of a pre-loaded store,
//! the case's files, one `kgdb-host` run, then the checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use kgdb_tests::{host_binary, plugin_library};

/// Where the command's standard output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// Captured.
    Captured,
    /// `/dev/full`: every write fails with "no space left on device".
    Full,
    /// A pipe whose reader is gone.
    Closed,
}

/// What the run must show.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Exit `code`, and exactly one `error:` line on stderr containing every fragment.
    Error { code: i32, fragments: Vec<String> },
    /// Exit `code` and nothing on stderr (a closed pipe ends a command quietly).
    Quiet { code: i32 },
}

/// A change made to the store's files before the run.
pub type Damage = fn(&Path);

/// One case.
pub struct Case {
    /// The module it comes from.
    pub kind: &'static str,
    /// Its name (unique).
    pub name: String,
    /// The plugin whose pre-loaded store the case starts from.
    pub backend: &'static str,
    /// Files written into the case's directory (relative path, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    /// The manifest (`plugins.toml`), when the case brings its own.
    pub manifest: Option<String>,
    /// The arguments.
    pub args: Vec<String>,
    /// Standard output.
    pub stdout: Stdout,
    /// The expected outcome.
    pub expect: Expect,
    /// Damage to the store before the run; then no file of it may change.
    pub damage: Option<Damage>,
    /// Run before the command in the case's directory (a FIFO, a symlink…).
    pub prepare: Option<fn(&Path)>,
}

impl Case {
    /// A case running `args`, expected to fail with exit code 1.
    pub fn new(kind: &'static str, name: &str, args: &[&str]) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            backend: "lmdb",
            files: Vec::new(),
            manifest: None,
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            stdout: Stdout::Captured,
            expect: Expect::Error {
                code: 1,
                fragments: Vec::new(),
            },
            damage: None,
            prepare: None,
        }
    }

    /// Adds a file.
    pub fn file(mut self, path: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.files.push((path.to_owned(), bytes.into()));
        self
    }

    /// Uses `text` as `plugins.toml`; `{lmdb}`, `{memory}`, `{rocksdb}` stand for the built
    /// libraries' paths (quoted TOML strings).
    pub fn manifest(mut self, text: &str) -> Self {
        self.manifest = Some(with_libraries(text));
        self
    }

    /// Expects one error line with these fragments and exit code `code`.
    pub fn error(mut self, code: i32, fragments: &[&str]) -> Self {
        self.expect = Expect::Error {
            code,
            fragments: fragments.iter().map(|f| with_libraries_raw(f)).collect(),
        };
        self
    }

    /// Expects a quiet end with `code`.
    pub fn quiet(mut self, code: i32) -> Self {
        self.expect = Expect::Quiet { code };
        self
    }

    /// Sends standard output to `stdout`.
    pub fn stdout(mut self, stdout: Stdout) -> Self {
        self.stdout = stdout;
        self
    }

    /// Starts from the pre-loaded store of `backend`.
    pub fn on(mut self, backend: &'static str) -> Self {
        self.backend = backend;
        self
    }

    /// Damages the store first.
    pub fn damage(mut self, damage: Damage) -> Self {
        self.damage = Some(damage);
        self
    }

    /// Prepares the directory first.
    pub fn prepare(mut self, prepare: fn(&Path)) -> Self {
        self.prepare = Some(prepare);
        self
    }

    /// Runs the case and checks it.
    pub fn run(self) -> Result<(), String> {
        let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = scratch.path();
        let baseline = baseline(self.backend);
        copy_dir(
            &baseline.dir.path().join("kgdb-data"),
            &dir.join("kgdb-data"),
        )?;
        std::fs::write(dir.join("std.toml"), standard_manifest(self.backend))
            .map_err(|e| e.to_string())?;
        std::fs::write(
            dir.join("plugins.toml"),
            self.manifest
                .clone()
                .unwrap_or_else(|| standard_manifest(self.backend)),
        )
        .map_err(|e| e.to_string())?;
        for (path, bytes) in &self.files {
            let path = dir.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::write(path, bytes).map_err(|e| e.to_string())?;
        }
        if let Some(damage) = self.damage {
            damage(&dir.join("kgdb-data"));
        }
        if let Some(prepare) = self.prepare {
            prepare(dir);
        }
        let files_before = self.damage.map(|_| file_hashes(&dir.join("kgdb-data")));
        let (code, stderr) = self.execute(dir)?;
        let context = || format!("{:?}\nexit {code:?}\nstderr:\n{stderr}", self.args);
        match &self.expect {
            Expect::Error {
                code: expected,
                fragments,
            } => {
                if code != Some(*expected) {
                    return Err(format!("expected exit {expected}: {}", context()));
                }
                let errors: Vec<&str> = stderr
                    .lines()
                    .filter(|line| line.starts_with("error:"))
                    .collect();
                if errors.len() != 1 {
                    return Err(format!("expected one error line: {}", context()));
                }
                for fragment in fragments {
                    if !errors[0].contains(fragment.as_str()) {
                        return Err(format!("the error line lacks {fragment:?}: {}", context()));
                    }
                }
                if stderr.contains("panicked") || stderr.contains(" WARN ") {
                    return Err(format!("a panic or a log line: {}", context()));
                }
            }
            Expect::Quiet { code: expected } => {
                if code != Some(*expected) || stderr.lines().any(|l| l.starts_with("error")) {
                    return Err(format!("expected a quiet exit {expected}: {}", context()));
                }
            }
        }
        match files_before {
            Some(before) => {
                if file_hashes(&dir.join("kgdb-data")) != before {
                    return Err(format!("the damaged store was written to: {}", context()));
                }
            }
            None => baseline.check_unchanged(dir)?,
        }
        Ok(())
    }

    fn execute(&self, dir: &Path) -> Result<(Option<i32>, String), String> {
        let mut command = host_command(dir);
        command.args(&self.args);
        command.stderr(Stdio::piped());
        match self.stdout {
            Stdout::Captured => {
                command.stdout(Stdio::piped());
            }
            Stdout::Full => {
                let full = std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .map_err(|e| format!("/dev/full: {e}"))?;
                command.stdout(full);
            }
            Stdout::Closed => {
                command.stdout(Stdio::piped());
            }
        }
        let mut child = command.spawn().map_err(|e| e.to_string())?;
        if self.stdout == Stdout::Closed {
            drop(child.stdout.take());
        }
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        Ok((
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }
}

fn host_command(dir: &Path) -> Command {
    let mut command = Command::new(host_binary());
    command
        .current_dir(dir)
        .env_remove("KGDB_CONFIG")
        .env_remove("KGDB_PLUGIN")
        .env_remove("KGDB_DATA_DIR")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0");
    command
}

/// `{lmdb}`, `{memory}`, `{rocksdb}` (and the fixtures') library paths as TOML strings.
fn with_libraries(text: &str) -> String {
    let mut text = text.to_owned();
    for (name, stem) in LIBRARIES {
        text = text.replace(
            &format!("{{{name}}}"),
            &format!("{:?}", plugin_library(stem).display().to_string()),
        );
    }
    text
}

/// The same, unquoted (for expected fragments).
fn with_libraries_raw(text: &str) -> String {
    let mut text = text.to_owned();
    for (name, stem) in LIBRARIES {
        text = text.replace(
            &format!("{{{name}}}"),
            &plugin_library(stem).display().to_string(),
        );
    }
    text
}

const LIBRARIES: [(&str, &str); 5] = [
    ("lmdb", "kgdb_plugin_lmdb"),
    ("memory", "kgdb_plugin_memory"),
    ("rocksdb", "kgdb_plugin_rocksdb"),
    ("not_a_plugin", "kgdb_fixture_not_a_plugin"),
    ("abi_v2", "kgdb_fixture_abi_v2_plugin"),
];

/// The manifest every case's checks use: the three shipped plugins, `default` the case's.
pub fn standard_manifest(default: &str) -> String {
    with_libraries(&format!(
        "manifest_version = 1\ndefault = \"{default}\"\n\n[[plugin]]\nname = \"lmdb\"\npath = {{lmdb}}\n\n[[plugin]]\nname = \"memory\"\npath = {{memory}}\n\n[[plugin]]\nname = \"rocksdb\"\npath = {{rocksdb}}\n"
    ))
}

/// The data every store is pre-loaded with: both graph kinds, blank nodes, every literal form.
pub const PRELOADED: &str = r#"<http://example.org/s1> <http://example.org/name> "Ada"@en .
<http://example.org/s1> <http://example.org/age> "36"^^<http://www.w3.org/2001/XMLSchema#integer> .
<http://example.org/s2> <http://example.org/knows> <http://example.org/s1> .
_:b1 <http://example.org/name> "anonymous" .
<http://example.org/s2> <http://example.org/name> "Bob" <http://example.org/g1> .
<http://example.org/s3> <http://example.org/note> "line\nbreak \"quoted\"" <http://example.org/g2> .
"#;

/// A pre-loaded store of one plugin, made once, with its count and dump.
pub struct Baseline {
    dir: tempfile::TempDir,
    count: String,
    dump: Vec<u8>,
}

fn baseline(backend: &str) -> &'static Baseline {
    static LMDB: OnceLock<Baseline> = OnceLock::new();
    static ROCKSDB: OnceLock<Baseline> = OnceLock::new();
    let cell = match backend {
        "rocksdb" => &ROCKSDB,
        _ => &LMDB,
    };
    cell.get_or_init(|| Baseline::make(backend))
}

impl Baseline {
    fn make(backend: &str) -> Self {
        let dir = tempfile::tempdir().expect("a scratch directory");
        std::fs::write(dir.path().join("std.toml"), standard_manifest(backend)).unwrap();
        std::fs::write(dir.path().join("preloaded.nq"), PRELOADED).unwrap();
        let loaded = host_command(dir.path())
            .args(["--config", "std.toml", "load", "preloaded.nq"])
            .output()
            .expect("kgdb-host runs");
        assert!(loaded.status.success(), "preloading: {loaded:?}");
        let count = run_ok(dir.path(), &["count"]);
        let dump = run_ok(dir.path(), &["dump", "--format", "nq"]).into_bytes();
        assert_eq!(count.trim(), "6", "the pre-loaded store");
        Self { dir, count, dump }
    }

    /// The store in `dir` holds what the baseline holds, and verifies.
    fn check_unchanged(&self, dir: &Path) -> Result<(), String> {
        let count = run(dir, &["count"])?;
        if count != self.count {
            return Err(format!(
                "the count changed: {} → {count}",
                self.count.trim()
            ));
        }
        run(dir, &["verify"])?;
        let dump = run(dir, &["dump", "--format", "nq"])?.into_bytes();
        if dump != self.dump {
            return Err(format!(
                "the dump changed:\n{}",
                String::from_utf8_lossy(&dump)
            ));
        }
        Ok(())
    }
}

fn run(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = host_command(dir)
        .arg("--config")
        .arg("std.toml")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "{args:?} after the case failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    run(dir, args).unwrap_or_else(|error| panic!("{error}"))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Every file under `dir` with its bytes' hash (the lock files excluded: opening takes them).
fn file_hashes(dir: &Path) -> BTreeMap<PathBuf, u64> {
    use std::hash::{Hash, Hasher};
    let mut hashes = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return hashes;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            hashes.extend(file_hashes(&path));
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        // RocksDB writes its info log (LOG, LOG.old.*) even when it opens read-only.
        if name == "kgdb.lock" || name == "lock.mdb" || name == "LOCK" || name.starts_with("LOG") {
            continue;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::fs::read(&path).unwrap_or_default().hash(&mut hasher);
        hashes.insert(path, hasher.finish());
    }
    hashes
}

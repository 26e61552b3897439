//! kgdb's test kit: helpers that find the built `kgdb-host` and plugin libraries, load plugins
//! through the real loader, and the conformance targets for the plugins kgdb ships (the cases
//! themselves are the `kgdb-conformance` crate).
//!
//! The tests need the workspace built first (`cargo build --workspace`): cargo does not build
//! `cdylib` plugins or other packages' binaries for a test run.

pub mod etcd_cluster;
pub mod etcd_host;
pub mod store_kit;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use kgdb_conformance::{CrashWriter, Fixture, Target};
use kgdb_host::plugin::{
    resolve::library_file_name, Backend, LoadedPlugin, OpenSettings, PluginLoader,
};

/// The workspace root (where `plugins.toml` is).
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The Cargo output directory of this build profile (`target/debug`), found from the running
/// executable's own path (`target/debug/deps/…` for tests, `target/debug/…` for this package's
/// binaries), so `CARGO_TARGET_DIR` anywhere works.
#[must_use]
pub fn artifact_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe.parent().expect("the test executable's directory");
    // Tests run from `target/debug/deps`; binaries of this package from `target/debug`.
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().unwrap_or(dir).to_owned()
    } else {
        dir.to_owned()
    }
}

fn built(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace` before the tests",
        path.display()
    );
    path
}

/// The built `kgdb-host` binary.
#[must_use]
pub fn host_binary() -> PathBuf {
    built(artifact_dir().join(format!("kgdb-host{}", std::env::consts::EXE_SUFFIX)))
}

/// The built library of crate library `stem` (`kgdb_plugin_memory`).
#[must_use]
pub fn plugin_library(stem: &str) -> PathBuf {
    built(artifact_dir().join(library_file_name(stem)))
}

/// Runs `kgdb-host` with `args` in `dir`, with no manifest or plugin taken from the
/// environment.
#[must_use]
pub fn run_host(dir: &Path, args: &[&str]) -> Output {
    Command::new(host_binary())
        .args(args)
        .current_dir(dir)
        .env_remove("KGDB_CONFIG")
        .env_remove("KGDB_PLUGIN")
        .env_remove("KGDB_DATA_DIR")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("kgdb-host runs")
}

/// Runs `kgdb-host` in `dir` on built plugin library `stem` with data directory `dir/data`.
#[must_use]
pub fn run_plugin(dir: &Path, stem: &str, args: &[&str]) -> Run {
    let library = plugin_library(stem);
    let mut all = vec![
        "--plugin",
        library.to_str().unwrap_or(""),
        "--data-dir",
        "data",
    ];
    all.extend_from_slice(args);
    Run::host(dir, &all)
}

/// A finished `kgdb-host` run, for assertions.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Runs `kgdb-host` with `args` in `dir`.
    #[must_use]
    pub fn host(dir: &Path, args: &[&str]) -> Self {
        let output = run_host(dir, args);
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts a non-zero exit with exactly one `error:` line on stderr containing every
    /// fragment, and returns that line.
    #[track_caller]
    pub fn expect_one_line_error(&self, fragments: &[&str]) -> String {
        assert_ne!(self.code, Some(0), "expected a failure: {self:#?}");
        assert!(self.code.is_some(), "killed by a signal: {self:#?}");
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|line| line.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "expected one error line: {self:#?}");
        let line = errors[0];
        for fragment in fragments {
            assert!(
                line.contains(fragment),
                "error line lacks {fragment:?}: {line}"
            );
        }
        line.to_owned()
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn expect_success(&self) -> &str {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        &self.stdout
    }
}

/// Loads a built plugin library through the host's real loader.
///
/// # Panics
/// When the library does not load.
#[must_use]
pub fn load_plugin(loader: &PluginLoader, stem: &str) -> Arc<LoadedPlugin> {
    let path = plugin_library(stem);
    loader
        .load(&path, None, "test")
        .unwrap_or_else(|error| panic!("loading {}: {error}", path.display()))
}

/// Opens a backend of plugin `stem` on a fresh directory, with `config`.
///
/// # Panics
/// When the plugin does not load or open.
#[must_use]
pub fn open_backend(stem: &str, data_dir: &Path, config: &str) -> Backend {
    let loader = PluginLoader::new();
    let plugin = load_plugin(&loader, stem);
    plugin
        .open(&OpenSettings {
            data_dir: Some(data_dir.to_owned()),
            config: config.to_owned(),
            read_only: false,
            create: true,
        })
        .unwrap_or_else(|error| panic!("opening {stem}: {error}"))
}

/// The crash writer: `kgdb-host conformance-writer`, the same one `kgdb-host conformance` uses.
#[must_use]
pub fn crash_writer() -> CrashWriter {
    CrashWriter {
        program: host_binary(),
        args: vec!["conformance-writer".to_owned()],
    }
}

/// The conformance target for built plugin library `stem` with `config`.
#[must_use]
pub fn target(stem: &str, config: &str) -> Target {
    Target {
        library: plugin_library(stem),
        config: config.to_owned(),
        full_config: None,
        crash_writer: Some(crash_writer()),
        loaded: None,
    }
}

/// A conformance fixture (plugin `stem` open with `config` on a fresh directory).
#[must_use]
pub fn fixture(stem: &str, config: &str) -> Fixture {
    Fixture::open(&target(stem, config))
}

/// The plugins kgdb ships, by name, with the configs their tests use. Memory and lmdb say how
/// to fill them through the `kgdb.test-configs.v1` extension; rocksdb has no size limit to
/// simulate a full store with.
#[must_use]
pub fn shipped_targets() -> Vec<(&'static str, Target)> {
    vec![
        ("memory", target("kgdb_plugin_memory", "")),
        ("lmdb", target("kgdb_plugin_lmdb", "map_size = \"8 MiB\"")),
        (
            "rocksdb",
            target(
                "kgdb_plugin_rocksdb",
                "block_cache_size = \"8 MiB\"\nwrite_buffer_size = \"4 MiB\"",
            ),
        ),
    ]
}

/// A small xorshift generator for the long-running tools: a run is repeatable from its seed.
#[derive(Debug, Clone)]
pub struct Xorshift(u64);

impl Xorshift {
    /// A generator from `seed` (any value; zero is made odd).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// A number below `n` (0 for `n` of 0 or 1).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

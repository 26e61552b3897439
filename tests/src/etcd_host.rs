//! `kgdb-host` processes on an etcd cluster: a manifest naming the etcd plugin with the
//! cluster's endpoints, commands run to their end, and `serve` processes asked over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::etcd_cluster::EtcdCluster;
use crate::{host_binary, plugin_library};

/// Writes `dir/NAME` (a manifest naming the etcd plugin, with every member of `cluster` as an
/// endpoint, member `first` listed first, so that its requests go there while it answers).
///
/// # Panics
/// When the file cannot be written.
pub fn manifest(dir: &Path, name: &str, cluster: &EtcdCluster, first: usize) -> PathBuf {
    let path = dir.join(name);
    let library = plugin_library("kgdb_plugin_etcd");
    let mut urls: Vec<String> = cluster
        .members
        .iter()
        .map(|member| format!("\"{}\"", member.client_url))
        .collect();
    let turn = first % urls.len().max(1);
    urls.rotate_left(turn);
    let config: String = cluster
        .plugin_config("")
        .lines()
        .map(|line| {
            if line.starts_with("endpoints =") {
                format!("endpoints = [{}]\n", urls.join(", "))
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(
        &path,
        format!(
            "manifest_version = 1\ndefault = \"etcd\"\n\n[[plugin]]\nname = \"etcd\"\npath = \"{}\"\n[plugin.config]\n{config}",
            library.display()
        ),
    )
    .unwrap();
    path
}

/// `kgdb-host --config MANIFEST --data-dir data ARGS`, run in `dir`.
#[must_use]
pub fn host(dir: &Path, manifest: &str, args: &[&str]) -> Command {
    host_on(dir, manifest, "data", args)
}

/// `kgdb-host --config MANIFEST --data-dir DATA ARGS`, run in `dir`.
#[must_use]
pub fn host_on(dir: &Path, manifest: &str, data: &str, args: &[&str]) -> Command {
    let mut command = Command::new(host_binary());
    command
        .args(["--config", manifest, "--data-dir", data])
        .args(args)
        .current_dir(dir)
        .env_remove("KGDB_CONFIG")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0");
    command
}

/// Runs `kgdb-host ARGS` with `dir/plugins.toml` to its end: its stdout.
///
/// # Panics
/// When it fails, with its stderr.
pub fn run(dir: &Path, args: &[&str]) -> String {
    let output = host(dir, "plugins.toml", args).output().unwrap();
    assert!(
        output.status.success(),
        "kgdb-host {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A `kgdb-host serve` process and its address; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Starts `serve` (`--read-only` when `read_only`) with manifest `manifest` and data
    /// directory `data` in `dir`, and waits for the address it prints.
    ///
    /// # Panics
    /// When it cannot start or prints no address.
    #[must_use]
    pub fn start(dir: &Path, manifest: &str, data: &str, read_only: bool) -> Self {
        let mut args = vec!["serve", "--bind", "127.0.0.1:0"];
        if read_only {
            args.push("--read-only");
        }
        let log = dir.join(format!("{data}.serve.log"));
        let mut child = host_on(dir, manifest, data, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| {
                let _ = child.wait();
                panic!(
                    "serve printed no address ({line:?}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_owned();
        Self { child, base }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into()
    }

    /// The rows of a SELECT `query` as CSV lines (header dropped), or `None` when the server
    /// did not answer with 200.
    #[must_use]
    pub fn select(&self, query: &str) -> Option<Vec<String>> {
        let mut response = Self::agent()
            .post(format!("{}/query", self.base))
            .header("Content-Type", "application/sparql-query")
            .header("Accept", "text/csv")
            .send(query)
            .ok()?;
        if response.status() != 200 {
            return None;
        }
        let body = response.body_mut().read_to_string().ok()?;
        Some(body.lines().skip(1).map(str::to_owned).collect())
    }

    /// The quads the server counts (all graphs), or `None` when it did not answer.
    #[must_use]
    pub fn count(&self) -> Option<u64> {
        self.select(
            "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }",
        )?
        .first()?
        .trim()
        .parse()
        .ok()
    }

    /// Sends a SPARQL update; the HTTP status and body.
    ///
    /// # Panics
    /// When the server cannot be reached.
    #[must_use]
    pub fn update(&self, update: &str) -> (u16, String) {
        let mut response = Self::agent()
            .post(format!("{}/update", self.base))
            .header("Content-Type", "application/sparql-update")
            .send(update)
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

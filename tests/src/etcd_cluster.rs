//! A real etcd cluster for tests: members started on free loopback ports with data
//! directories of their own, each ended by its PID (on drop too), each killable and
//! restartable with its data. The etcd binary comes from `KGDB_ETCD_BIN`, else from where
//! `.ci/install-etcd` unpacks Debian's etcd-server (`~/.cache/kgdb-etcd/usr/bin/etcd`), else
//! `etcd` on the PATH.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The largest request the test cluster takes (`--max-request-bytes`): 8 MiB, the most etcd
/// 3.4 is safe with.
pub const MAX_REQUEST_BYTES: u64 = 8 * 1024 * 1024;
/// The most operations of one txn (`--max-txn-ops`).
pub const MAX_TXN_OPS: u32 = 50_000;

/// The etcd server binary.
///
/// # Panics
/// When there is none, saying how to get one.
#[must_use]
pub fn etcd_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("KGDB_ETCD_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cached = home.join(".cache/kgdb-etcd/usr/bin/etcd");
    if cached.is_file() {
        return cached;
    }
    if let Some(found) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("etcd"))
        .find(|path| path.is_file())
    {
        return found;
    }
    // A fresh machine: unpack Debian's packages as CI does (once per process).
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let script = crate::workspace_root().join(".ci/install-etcd");
        let status = Command::new("bash").arg(&script).status();
        eprintln!("ran {}: {status:?}", script.display());
    });
    if cached.is_file() {
        return cached;
    }
    panic!(
        "no etcd server: run `.ci/install-etcd` (unpacks Debian's etcd-server 3.4 into ~/.cache/kgdb-etcd), or set KGDB_ETCD_BIN"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// One member.
#[derive(Debug)]
pub struct Member {
    /// Its name in the cluster.
    pub name: String,
    /// Its client URL.
    pub client_url: String,
    peer_url: String,
    data_dir: PathBuf,
    log: PathBuf,
    process: Option<Child>,
}

impl Member {
    /// Whether its process runs (it was not killed, or was restarted).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }
}

/// A cluster of members on loopback.
#[derive(Debug)]
pub struct EtcdCluster {
    /// The members, in the order they were made.
    pub members: Vec<Member>,
    binary: PathBuf,
    initial_cluster: String,
    _dir: tempfile::TempDir,
}

impl EtcdCluster {
    /// Starts `size` members and waits until the cluster has a leader and answers.
    ///
    /// # Panics
    /// When a member does not start within 60 s (its log is printed).
    #[must_use]
    pub fn start(size: usize) -> Self {
        let dir = tempfile::tempdir().expect("a directory for the cluster");
        let members: Vec<Member> = (0..size)
            .map(|index| Member {
                name: format!("m{index}"),
                client_url: format!("http://127.0.0.1:{}", free_port()),
                peer_url: format!("http://127.0.0.1:{}", free_port()),
                data_dir: dir.path().join(format!("m{index}")),
                log: dir.path().join(format!("m{index}.log")),
                process: None,
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|member| format!("{}={}", member.name, member.peer_url))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Self {
            members,
            binary: etcd_binary(),
            initial_cluster,
            _dir: dir,
        };
        for index in 0..size {
            cluster.spawn(index);
        }
        cluster.wait_healthy();
        cluster
    }

    fn spawn(&mut self, index: usize) {
        let member = &self.members[index];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log)
            .expect("the member's log file");
        let child = Command::new(&self.binary)
            .args(["--name", &member.name])
            .arg("--data-dir")
            .arg(&member.data_dir)
            .args(["--listen-client-urls", &member.client_url])
            .args(["--advertise-client-urls", &member.client_url])
            .args(["--listen-peer-urls", &member.peer_url])
            .args(["--initial-advertise-peer-urls", &member.peer_url])
            .args(["--initial-cluster", &self.initial_cluster])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", "kgdb-test"])
            .args(["--max-txn-ops", &MAX_TXN_OPS.to_string()])
            .args(["--max-request-bytes", &MAX_REQUEST_BYTES.to_string()])
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
            .args(["--logger", "zap", "--log-level", "error"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", self.binary.display()));
        self.members[index].process = Some(child);
    }

    /// Every member's client URL, as the plugin's `endpoints` takes them (TOML array).
    #[must_use]
    pub fn endpoints_toml(&self) -> String {
        let urls: Vec<String> = self
            .members
            .iter()
            .map(|member| format!("\"{}\"", member.client_url))
            .collect();
        format!("[{}]", urls.join(", "))
    }

    /// A plugin config for this cluster (its request limits included) plus `extra` lines.
    #[must_use]
    pub fn plugin_config(&self, extra: &str) -> String {
        format!(
            "endpoints = {}\nmax_request_bytes = {MAX_REQUEST_BYTES}\nmax_txn_ops = {MAX_TXN_OPS}\nrequest_timeout_ms = 3000\nlease_ttl_seconds = 5\n{extra}",
            self.endpoints_toml()
        )
    }

    fn health(url: &str) -> bool {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .get(format!("{url}/health"))
            .call()
            .ok()
            .and_then(|mut response| response.body_mut().read_to_string().ok())
            .is_some_and(|body| body.contains("\"true\""))
    }

    /// Waits until every running member reports itself healthy (a leader is known).
    ///
    /// # Panics
    /// After 60 s, with the members' logs.
    pub fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let running: Vec<&Member> = self
                .members
                .iter()
                .filter(|m| m.process.is_some())
                .collect();
            if running
                .iter()
                .all(|member| Self::health(&member.client_url))
            {
                return;
            }
            for member in &mut self.members {
                if let Some(process) = member.process.as_mut() {
                    if let Ok(Some(status)) = process.try_wait() {
                        panic!(
                            "etcd member {} exited ({status}):\n{}",
                            member.name,
                            std::fs::read_to_string(&member.log).unwrap_or_default()
                        );
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "the etcd cluster did not become healthy in 60 s:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every member's log.
    #[must_use]
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|member| {
                format!(
                    "--- {}:\n{}",
                    member.name,
                    std::fs::read_to_string(&member.log).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Kills member `index` with SIGKILL and waits for it to end.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut process) = self.members[index].process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Starts member `index` again on its data.
    pub fn restart(&mut self, index: usize) {
        assert!(
            self.members[index].process.is_none(),
            "member {index} is running"
        );
        self.spawn(index);
    }

    /// The index of the member that is leader now, asked of the members' status endpoints
    /// through `etcdctl`-free means: the member whose `/metrics` says it is leader.
    #[must_use]
    pub fn leader(&self) -> Option<usize> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        self.members.iter().position(|member| {
            member.process.is_some()
                && agent
                    .get(format!("{}/metrics", member.client_url))
                    .call()
                    .ok()
                    .and_then(|mut response| response.body_mut().read_to_string().ok())
                    .is_some_and(|body| body.lines().any(|line| line == "etcd_server_is_leader 1"))
        })
    }

    /// The keys put so far, as the leader counts them (`etcd_mvcc_put_total`); 0 when no
    /// leader answers.
    #[must_use]
    pub fn puts(&self) -> u64 {
        let Some(leader) = self.leader() else {
            return 0;
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        agent
            .get(format!("{}/metrics", self.members[leader].client_url))
            .call()
            .ok()
            .and_then(|mut response| response.body_mut().read_to_string().ok())
            .and_then(|body| {
                body.lines().find_map(|line| {
                    let value = line.strip_prefix("etcd_mvcc_put_total ")?;
                    value.trim().parse::<f64>().ok()
                })
            })
            .map_or(0, |puts| puts as u64)
    }

    /// The data directory of member `index`.
    #[must_use]
    pub fn data_dir(&self, index: usize) -> &Path {
        &self.members[index].data_dir
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for index in 0..self.members.len() {
            self.kill(index);
        }
    }
}

//! The `[plugin.config]` keys of the etcd backend, declared once (struct, defaults, docs).

use std::time::Duration;

use kgdb_plugin_api::sdk::{self, ByteSize};
use kgdb_plugin_api::PluginError;

kgdb_plugin_api::plugin_config! {
    /// The `[plugin.config]` keys of the etcd backend.
    pub struct EtcdConfig {
        /// The cluster's client URLs (`http://host:port`), every member or some of them. A
        /// request that cannot reach one member is sent to the next.
        #[config(kind = "list of URLs", default = "[\"http://127.0.0.1:2379\"]")]
        pub endpoints: Vec<String>,
        /// The key prefix the store lives under (`kgdb/NAMESPACE/`). Unset: the data directory
        /// names it, and a new data directory gets a new random namespace. Set it to share one
        /// store between processes on several machines, each with a data directory of its own.
        #[config(kind = "string ([A-Za-z0-9._-], 1 to 64)", default = "")]
        pub namespace: Option<String>,
        /// How long connecting to one member may take.
        #[config(kind = "integer (milliseconds)", default = "2000")]
        pub connect_timeout_ms: u64,
        /// How long one request to one member may take before the next member is tried.
        #[config(kind = "integer (milliseconds)", default = "10000")]
        pub request_timeout_ms: u64,
        /// How long a request keeps trying other members (a leader election takes about two
        /// seconds) before it fails with `timed-out`.
        #[config(kind = "integer (milliseconds)", default = "20000")]
        pub failover_timeout_ms: u64,
        /// The members' `--max-request-bytes`: a commit larger than this fails with `full`
        /// before anything is sent (etcd's default is 1.5 MiB; keep it at most 8 MiB on 3.4).
        #[config(kind = "byte size", default = "\"1536 KiB\"")]
        pub max_request_bytes: ByteSize,
        /// The members' `--max-txn-ops` (etcd's default is 128): the most compares, or writes,
        /// one commit may send.
        #[config(kind = "integer", default = "128")]
        pub max_txn_ops: u32,
        /// The lease of a writing instance's lock: if the process dies, another can write after
        /// this many seconds.
        #[config(kind = "integer (seconds)", default = "10")]
        pub lease_ttl_seconds: u64,
        /// Rows fetched per request by a scan.
        #[config(kind = "integer", default = "1000")]
        pub scan_page_rows: u32,
        /// Revisions of history `compact` keeps (etcd compacts a whole cluster: a snapshot
        /// older than these, of any process and any store on the cluster, then fails with a
        /// retryable `conflict`).
        #[config(kind = "integer", default = "10000")]
        pub compact_keep_revisions: u64,
    }
}

/// The request bytes a commit may use beyond its keys and values: the txn's framing and its
/// compares, lock and marker keys.
pub(crate) const REQUEST_OVERHEAD_BYTES: u64 = 64 * 1024;

impl EtcdConfig {
    /// Parses and checks a config table.
    pub(crate) fn parse(text: &str) -> Result<Self, PluginError> {
        let config: Self = sdk::parse_config(text)?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), PluginError> {
        if self.endpoints.is_empty() {
            return Err(PluginError::invalid_config(
                "endpoints",
                "the list is empty: name at least one member's client URL, like \"http://127.0.0.1:2379\"",
            ));
        }
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            let rest = endpoint
                .strip_prefix("http://")
                .filter(|rest| !rest.is_empty() && !rest.contains('/'));
            if rest.is_none() {
                return Err(PluginError::invalid_config(
                    format!("endpoints[{index}]"),
                    format!("`{endpoint}` is not a client URL of the form http://host:port (TLS is not supported)"),
                ));
            }
        }
        if let Some(namespace) = &self.namespace {
            check_namespace(namespace)
                .map_err(|why| PluginError::invalid_config("namespace", why))?;
        }
        let bytes = self.max_request_bytes.as_u64();
        if !(REQUEST_OVERHEAD_BYTES * 2..=64 * 1024 * 1024).contains(&bytes) {
            return Err(PluginError::invalid_config(
                "max_request_bytes",
                format!("{} is out of range: use 128 KiB to 64 MiB, as the members' --max-request-bytes", self.max_request_bytes),
            ));
        }
        if self.max_txn_ops < 64 {
            return Err(PluginError::invalid_config(
                "max_txn_ops",
                format!("{} is too small: a commit needs at least 64 (the members' --max-txn-ops; etcd's default is 128)", self.max_txn_ops),
            ));
        }
        // Each write of a commit costs about 64 bytes of framing and key prefix beside its key
        // and value: the operations must leave room for data in a request.
        if u64::from(self.max_txn_ops) * 64 > bytes / 2 {
            return Err(PluginError::invalid_config(
                "max_txn_ops",
                format!(
                    "{} writes of one commit would take more than half of max_request_bytes ({}) in framing alone: raise max_request_bytes or lower max_txn_ops",
                    self.max_txn_ops, self.max_request_bytes
                ),
            ));
        }
        for (key, value) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("failover_timeout_ms", self.failover_timeout_ms),
        ] {
            if value == 0 {
                return Err(PluginError::invalid_config(key, "must be at least 1"));
            }
        }
        if !(2..=3600).contains(&self.lease_ttl_seconds) {
            return Err(PluginError::invalid_config(
                "lease_ttl_seconds",
                format!("{} is out of range: use 2 to 3600", self.lease_ttl_seconds),
            ));
        }
        if self.scan_page_rows == 0 {
            return Err(PluginError::invalid_config(
                "scan_page_rows",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The time one request may take on one member.
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The time a request keeps trying other members.
    pub(crate) fn failover_timeout(&self) -> Duration {
        Duration::from_millis(self.failover_timeout_ms)
    }
}

/// Checks a namespace name: 1 to 64 of `[A-Za-z0-9._-]`.
pub(crate) fn check_namespace(namespace: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if namespace.is_empty() || namespace.len() > 64 || !namespace.chars().all(allowed) {
        return Err(format!(
            "`{namespace}` is not a namespace: use 1 to 64 letters, digits, `.`, `_` or `-`"
        ));
    }
    Ok(())
}

//! The connection to the cluster: one client per member, requests on the member that last
//! answered, and failover: a request that cannot reach a member (connection refused or lost,
//! no leader, a timeout) is sent to the next, with backoff, until `failover_timeout_ms`.
//!
//! The plugin's calls are blocking; each runs its request on the plugin's own tokio runtime.
//! A commit is never sent twice by this retry loop: [`Cluster::attempt`] makes one attempt
//! and reports an unknown outcome, which the commit resolves itself (see `commit.rs`).

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, KvClient};
use kgdb_plugin_api::{ErrorCode, PluginError};
use tokio::runtime::Runtime;

use crate::config::EtcdConfig;

/// The cluster, as this instance reaches it.
pub(crate) struct Cluster {
    runtime: Runtime,
    members: Vec<Member>,
    /// The member requests go to first.
    current: AtomicUsize,
    request_timeout: Duration,
    failover_timeout: Duration,
    connect_options: ConnectOptions,
    /// The largest response accepted; a larger one fails with `FULL` (key `response`), and
    /// callers split what they asked for.
    max_response_bytes: usize,
    /// Requests sent for the store's data (see [`Cluster::requests`]).
    requests: AtomicU64,
    /// Write transactions sent (see [`Cluster::write_txns`]).
    write_txns: AtomicU64,
}

struct Member {
    endpoint: String,
    client: Mutex<Option<Connection>>,
}

/// A connection to one member: the client, and its key-value client with a response size
/// limit that a page or a batch of reads is kept under.
#[derive(Clone)]
pub(crate) struct Connection {
    /// The member's client (leases, maintenance).
    pub(crate) client: Client,
    /// The key-value client.
    pub(crate) kv: KvClient,
}

/// The key of the `FULL` error of a response larger than the client takes: the caller asks
/// for less.
pub(crate) const RESPONSE_TOO_LARGE: &str = "response";

/// Whether `error` is a response too large to take.
pub(crate) fn is_response_too_large(error: &PluginError) -> bool {
    error.code == ErrorCode::FULL && error.key.as_str() == RESPONSE_TOO_LARGE
}

/// How one attempt of a request ended, when it did not succeed.
pub(crate) enum Failure {
    /// The member could not be reached, or did not answer in time: the request may or may not
    /// have been applied.
    Unreachable(String),
    /// The cluster answered with an error.
    Refused(PluginError),
}

impl Cluster {
    /// A cluster of the configured endpoints; connections are made on first use.
    pub(crate) fn new(config: &EtcdConfig) -> Result<Self, PluginError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kgdb-etcd")
            .enable_all()
            .build()
            .map_err(|error| {
                PluginError::new(
                    ErrorCode::IO,
                    format!("cannot start the etcd client's threads: {error}"),
                )
            })?;
        let connect_options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .with_timeout(config.request_timeout())
            .with_require_leader(true)
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(3));
        Ok(Self {
            runtime,
            members: config
                .endpoints
                .iter()
                .map(|endpoint| Member {
                    endpoint: endpoint.clone(),
                    client: Mutex::new(None),
                })
                .collect(),
            current: AtomicUsize::new(0),
            request_timeout: config.request_timeout(),
            failover_timeout: config.failover_timeout(),
            connect_options,
            max_response_bytes: usize::try_from(2 * config.max_request_bytes.as_u64() + (1 << 20))
                .unwrap_or(usize::MAX),
            requests: AtomicU64::new(0),
            write_txns: AtomicU64::new(0),
        })
    }

    /// Requests this instance has sent to the cluster for the store's data (reads, scans,
    /// commits, ingests, table changes, the writer lock), each attempt counted: the round
    /// trips the store's work cost. The lease's renewals and the statistics' own requests
    /// are not counted.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Write transactions (commits and ingested packs) this instance has sent, each
    /// attempt counted.
    pub(crate) fn write_txns(&self) -> u64 {
        self.write_txns.load(Ordering::Relaxed)
    }

    /// Counts one write transaction sent (its request is counted by [`Cluster::attempt`]).
    pub(crate) fn count_write_txn(&self) {
        self.write_txns.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs a future on the plugin's runtime (for what is not a request to one member).
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The configured endpoints, for messages.
    pub(crate) fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(|member| member.endpoint.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn client(&self, index: usize) -> Result<Connection, Failure> {
        let member = &self.members[index];
        let mut slot = member
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let connect = Client::connect(
            [member.endpoint.as_str()],
            Some(self.connect_options.clone()),
        );
        let client = self
            .runtime
            .block_on(async { tokio::time::timeout(self.request_timeout, connect).await })
            .map_err(|_| {
                Failure::Unreachable(format!("{}: connecting timed out", member.endpoint))
            })?
            .map_err(|error| classify(&member.endpoint, error))?;
        let connection = Connection {
            kv: client
                .kv_client()
                .max_decoding_message_size(self.max_response_bytes),
            client,
        };
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// One attempt of `request` on the current member (no retry): the caller decides what an
    /// unreachable member means. A failure moves later requests to the next member.
    pub(crate) fn attempt<T, F, Fut>(&self, request: &mut F) -> Result<T, Failure>
    where
        F: FnMut(Connection) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.attempt_uncounted(request)
    }

    fn attempt_uncounted<T, F, Fut>(&self, request: &mut F) -> Result<T, Failure>
    where
        F: FnMut(Connection) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let index = self.current.load(Ordering::Relaxed) % self.members.len();
        let result = self.client(index).and_then(|client| {
            let endpoint = &self.members[index].endpoint;
            match self.runtime.block_on(async {
                tokio::time::timeout(self.request_timeout, request(client)).await
            }) {
                Err(_) => Err(Failure::Unreachable(format!(
                    "{endpoint}: no answer within {} ms",
                    self.request_timeout.as_millis()
                ))),
                Ok(Err(error)) => Err(classify(endpoint, error)),
                Ok(Ok(value)) => Ok(value),
            }
        });
        if let Err(Failure::Unreachable(_)) = &result {
            // The next request tries the next member; a broken connection is made anew.
            *self.members[index]
                .client
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            let _ = self.current.compare_exchange(
                index,
                (index + 1) % self.members.len(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        result
    }

    /// Runs `request` until a member answers, trying the members in turn with backoff, for
    /// at most the failover timeout. Only for requests that may be applied twice (reads, and
    /// writes that are idempotent).
    ///
    /// # Errors
    /// The cluster's refusal; `TIMED_OUT` (retryable) naming the endpoints and the last
    /// failure when no member answered in time.
    pub(crate) fn run<T, F, Fut>(&self, what: &str, request: F) -> Result<T, PluginError>
    where
        F: FnMut(Connection) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        self.run_counted(what, request, true)
    }

    /// [`Cluster::run`] for a request that is not the store's work (a lease renewal, a
    /// statistic): it is left out of [`Cluster::requests`].
    pub(crate) fn run_uncounted<T, F, Fut>(&self, what: &str, request: F) -> Result<T, PluginError>
    where
        F: FnMut(Connection) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        self.run_counted(what, request, false)
    }

    fn run_counted<T, F, Fut>(
        &self,
        what: &str,
        mut request: F,
        counted: bool,
    ) -> Result<T, PluginError>
    where
        F: FnMut(Connection) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let deadline = Instant::now() + self.failover_timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            let attempted = if counted {
                self.attempt(&mut request)
            } else {
                self.attempt_uncounted(&mut request)
            };
            match attempted {
                Ok(value) => return Ok(value),
                Err(Failure::Refused(error)) => return Err(error),
                Err(Failure::Unreachable(why)) => {
                    if Instant::now() + pause > deadline {
                        return Err(self.unreachable(what, &why));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// The time a request keeps trying other members.
    pub(crate) fn failover_timeout(&self) -> Duration {
        self.failover_timeout
    }

    /// The `TIMED_OUT` error of a request no member answered.
    pub(crate) fn unreachable(&self, what: &str, why: &str) -> PluginError {
        PluginError::new(
            ErrorCode::TIMED_OUT,
            format!(
                "{what}: no etcd member answered within {} ms (endpoints {}; last: {why})",
                self.failover_timeout.as_millis(),
                self.endpoints()
            ),
        )
        .with_retryable(true)
    }
}

/// Whether a gRPC status without a code of its own tells of a member gone or a connection
/// lost (tonic reports a connection dropped mid-request as `Unknown: transport error`), not of
/// a refusal.
fn is_lost_connection(message: &str) -> bool {
    [
        "leader",
        "timed out",
        "transport error",
        "connection",
        "broken pipe",
        "h2 protocol error",
        "stream closed",
    ]
    .iter()
    .any(|sign| message.contains(sign))
}

/// Sorts a client error into "try another member" and "the cluster said no".
fn classify(endpoint: &str, error: etcd_client::Error) -> Failure {
    use tonic::Code;
    match error {
        etcd_client::Error::GRpcStatus(status) => {
            let message = status.message().to_owned();
            let refused = |code: ErrorCode| {
                Failure::Refused(PluginError::new(
                    code,
                    format!("etcd at {endpoint}: {message}"),
                ))
            };
            match status.code() {
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted => {
                    Failure::Unreachable(format!("{endpoint}: {message}"))
                }
                Code::Unknown | Code::Internal if is_lost_connection(&message) => {
                    Failure::Unreachable(format!("{endpoint}: {message}"))
                }
                Code::ResourceExhausted if message.contains("space exceeded") => refused(ErrorCode::FULL),
                Code::ResourceExhausted => Failure::Unreachable(format!("{endpoint}: {message}")),
                Code::InvalidArgument
                    if message.contains("too large") || message.contains("too many operations") =>
                {
                    refused(ErrorCode::FULL)
                }
                _ if message.contains("message length too large") => Failure::Refused(
                    PluginError::new(ErrorCode::FULL, format!("etcd at {endpoint}: {message}"))
                        .with_key(RESPONSE_TOO_LARGE),
                ),
                Code::OutOfRange if message.contains("compacted") => Failure::Refused(
                    PluginError::conflict(format!(
                        "etcd at {endpoint}: {message}: the transaction's snapshot was compacted away (`kgdb-host compact`, or the cluster's auto-compaction); begin a new one"
                    ))
                    .with_retryable(true),
                ),
                Code::OutOfRange if message.contains("future revision") => {
                    Failure::Unreachable(format!("{endpoint}: {message}"))
                }
                _ => refused(ErrorCode::IO),
            }
        }
        other => Failure::Unreachable(format!("{endpoint}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: tonic::Code, message: &str) -> etcd_client::Error {
        etcd_client::Error::GRpcStatus(tonic::Status::new(code, message))
    }

    #[test]
    fn lost_connections_try_another_member_and_refusals_do_not() {
        for lost in [
            status(tonic::Code::Unavailable, "connection refused"),
            status(tonic::Code::Unknown, "transport error"),
            status(tonic::Code::Unknown, "etcdserver: leader changed"),
            status(tonic::Code::Internal, "h2 protocol error: stream closed"),
        ] {
            assert!(
                matches!(classify("m", lost), Failure::Unreachable(_)),
                "not unreachable"
            );
        }
        match classify(
            "m",
            status(
                tonic::Code::InvalidArgument,
                "etcdserver: too many operations in txn request",
            ),
        ) {
            Failure::Refused(error) => assert_eq!(error.code, ErrorCode::FULL),
            Failure::Unreachable(why) => panic!("unreachable: {why}"),
        }
        match classify("m", status(tonic::Code::Unknown, "etcdserver: bad thing")) {
            Failure::Refused(error) => assert_eq!(error.code, ErrorCode::IO),
            Failure::Unreachable(why) => panic!("unreachable: {why}"),
        }
    }
}

//! The writer lock: one writing instance per namespace, over every process and machine. The
//! lock key is put under a lease that a thread of the writing instance keeps alive; when the
//! process dies the lease expires (`lease_ttl_seconds`) and the lock with it. Every commit
//! compares the lock's value with this instance's, so a writer whose lease expired (a long
//! pause, a partition) cannot write over the next one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp, TxnOpResponse};
use kgdb_plugin_api::{ErrorCode, PluginError};

use crate::cluster::Cluster;
use crate::keys::Keyspace;

/// The lock a writing instance holds.
pub(crate) struct WriterLock {
    /// The lease the lock and the commit markers live under.
    pub(crate) lease: i64,
    /// The lock's value: who holds it.
    pub(crate) holder: Vec<u8>,
    /// This instance's id, in its commit markers.
    pub(crate) instance: [u8; 16],
    /// The next commit's sequence number.
    pub(crate) sequence: AtomicU64,
    /// Markers of commits whose outcome is known, deleted by later commits.
    pub(crate) settled: Mutex<Vec<u64>>,
    /// Set when the lease could not be renewed in time: commits fail from then on.
    pub(crate) lost: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    renewer: Mutex<Option<JoinHandle<()>>>,
}

impl WriterLock {
    /// Takes the lock of `keys`' namespace, or says who holds it.
    ///
    /// # Errors
    /// `IN_USE` naming the holder; the cluster's errors.
    pub(crate) fn acquire(
        cluster: &Arc<Cluster>,
        keys: &Keyspace,
        ttl_seconds: u64,
    ) -> Result<Self, PluginError> {
        let ttl = i64::try_from(ttl_seconds).unwrap_or(i64::MAX);
        let lease = cluster.run("granting the writer lease", |mut client| async move {
            client.client.lease_grant(ttl, None).await
        })?;
        let lease = lease.id();
        let instance: [u8; 16] = rand::random();
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|_| "an unknown host".to_owned());
        let holder = format!(
            "process {} on {hostname} (instance {})",
            std::process::id(),
            instance
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
        .into_bytes();
        let lock_key = keys.lock();
        let put_lock_if = |what: &str, compare: Compare| {
            cluster.run(what, |mut client| {
                let txn = Txn::new()
                    .when([compare.clone()])
                    .and_then([TxnOp::put(
                        lock_key.clone(),
                        holder.clone(),
                        Some(PutOptions::new().with_lease(lease)),
                    )])
                    .or_else([TxnOp::get(lock_key.clone(), None)]);
                async move { client.kv.txn(txn).await }
            })
        };
        let taken = put_lock_if(
            "taking the writer lock",
            Compare::create_revision(lock_key.clone(), CompareOp::Equal, 0),
        )?;
        if !taken.succeeded() {
            let mut current = lock_value(&taken);
            // A holder that was a process of this host that no longer runs (killed before its
            // lease expired): take the lock over, if it is still that holder's.
            if let Some(stale) = current
                .clone()
                .filter(|value| is_dead_local_holder(value, &hostname))
            {
                let takeover = put_lock_if(
                    "taking over a dead process's lock",
                    Compare::value(lock_key.clone(), CompareOp::Equal, stale),
                )?;
                current = if takeover.succeeded() {
                    Some(holder.clone())
                } else {
                    lock_value(&takeover)
                };
            }
            // A retried request whose first try took the lock finds its own value.
            if current.as_deref() != Some(holder.as_slice()) {
                let _ = cluster.run("releasing the writer lease", |mut client| async move {
                    client.client.lease_revoke(lease).await
                });
                let who = current.map_or_else(
                    || "another process".to_owned(),
                    |value| String::from_utf8_lossy(&value).into_owned(),
                );
                return Err(PluginError::new(
                    ErrorCode::IN_USE,
                    format!(
                        "the store (key prefix `{}`) on etcd {} is open for writing by {who}; open it read-only, or wait for that process to end (its lock expires {ttl_seconds} s after it stops)",
                        String::from_utf8_lossy(&keys.all().0),
                        cluster.endpoints()
                    ),
                ));
            }
        }
        let lost = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let renewer = spawn_renewer(
            Arc::clone(cluster),
            lease,
            ttl_seconds,
            Arc::clone(&lost),
            Arc::clone(&stop),
        )?;
        Ok(Self {
            lease,
            holder,
            instance,
            sequence: AtomicU64::new(1),
            settled: Mutex::new(Vec::new()),
            lost,
            stop,
            renewer: Mutex::new(Some(renewer)),
        })
    }

    /// Records that commit `sequence`'s outcome is known: a later commit deletes its marker.
    pub(crate) fn settle(&self, sequence: u64) {
        self.settled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(sequence);
    }

    /// The compare every writing request carries: the lock is still this instance's.
    pub(crate) fn compare(&self, keys: &Keyspace) -> Compare {
        Compare::value(keys.lock(), CompareOp::Equal, self.holder.clone())
    }

    /// The error of a write refused because the lock is no longer this instance's.
    pub(crate) fn lost_error(&self) -> PluginError {
        PluginError::new(
            ErrorCode::IN_USE,
            "this instance no longer holds the store's writer lock (its lease expired: the process paused, or lost the cluster, for longer than lease_ttl_seconds); nothing was written: reopen the store",
        )
    }

    /// Stops renewing the lease (it then expires by itself).
    pub(crate) fn stop_renewing(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(renewer) = self
            .renewer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            renewer.thread().unpark();
        }
    }

    /// Stops renewing and releases the lease (the lock and the markers go with it).
    pub(crate) fn release(&self, cluster: &Cluster) -> Result<(), PluginError> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(renewer) = self
            .renewer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            renewer.thread().unpark();
            let _ = renewer.join();
        }
        let lease = self.lease;
        cluster
            .run("releasing the writer lease", |mut client| async move {
                client.client.lease_revoke(lease).await
            })
            .map(drop)
            .or_else(|error| {
                // A lease that already expired has released everything.
                if error.message.contains("requested lease not found") {
                    Ok(())
                } else {
                    Err(error)
                }
            })
    }
}

/// A thread that renews the lease every third of its time to live.
fn spawn_renewer(
    cluster: Arc<Cluster>,
    lease: i64,
    ttl_seconds: u64,
    lost: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, PluginError> {
    let period = Duration::from_millis(ttl_seconds * 1000 / 3);
    std::thread::Builder::new()
        .name("kgdb-etcd-lease".to_owned())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                std::thread::park_timeout(period);
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let renewed =
                    cluster.run_uncounted("renewing the writer lease", |mut client| async move {
                        let (mut keeper, mut stream) =
                            client.client.lease_keep_alive(lease).await?;
                        keeper.keep_alive().await?;
                        stream.message().await
                    });
                match renewed {
                    Ok(Some(response)) if response.ttl() > 0 => {}
                    // The lease is gone: every later commit fails on the lock compare.
                    Ok(_) => lost.store(true, Ordering::SeqCst),
                    Err(_) => {}
                }
            }
        })
        .map_err(|error| {
            PluginError::new(
                ErrorCode::IO,
                format!("cannot start the lease thread: {error}"),
            )
        })
}

/// The lock's value in the `else` answer of a txn that read it.
fn lock_value(response: &etcd_client::TxnResponse) -> Option<Vec<u8>> {
    response.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.value().to_vec()),
        _ => None,
    })
}

/// Whether a lock value names a process of this host that no longer runs.
fn is_dead_local_holder(value: &[u8], hostname: &str) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let Some(rest) = value.strip_prefix("process ") else {
        return false;
    };
    let Some((pid, rest)) = rest.split_once(" on ") else {
        return false;
    };
    let Some((host, _)) = rest.split_once(" (instance ") else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    host == hostname
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dead_process_of_this_host_is_taken_over() {
        // PIDs are below 2^22 on Linux: this one never runs.
        let dead = b"process 4294967 on here (instance 00)";
        assert!(is_dead_local_holder(dead, "here"));
        assert!(!is_dead_local_holder(dead, "elsewhere"));
        let alive = format!("process {} on here (instance 00)", std::process::id());
        assert!(!is_dead_local_holder(alive.as_bytes(), "here"));
        assert!(!is_dead_local_holder(b"something else", "here"));
    }
}

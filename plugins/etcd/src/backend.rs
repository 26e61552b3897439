//! The backend instance: opening (data directory, cluster, writer lock, catalog), tables,
//! transactions, writes outside transactions, and the cluster's maintenance.

use std::sync::{Arc, RwLock};

use kgdb_plugin_api::sdk::{DataDir, OpenOptions, Sharing, StorageBackend};
use kgdb_plugin_api::{
    Capabilities, ErrorCode, NativeStat, PluginError, SortedRun, TableId, TxnOptions, WriteBatch,
    WriteOptions,
};

use crate::cluster::Cluster;
use crate::commit::{commit, Limits};
use crate::config::EtcdConfig;
use crate::identity::Identity;
use crate::keys::Keyspace;
use crate::lock::WriterLock;
use crate::shared::{Catalog, Shared};
use crate::txn::EtcdTxn;
use crate::writes::Writes;
use crate::{CAPABILITIES, FORMAT_VERSION, PLUGIN_NAME};

/// An open etcd store.
pub struct EtcdBackend {
    shared: Arc<Shared>,
    capabilities: Capabilities,
}

impl EtcdBackend {
    /// Opens the store its data directory names on the configured cluster.
    ///
    /// # Errors
    /// `IN_USE` when another instance writes the namespace; `TIMED_OUT` when no member
    /// answers; `INCOMPATIBLE` when the data directory belongs to another cluster; as
    /// [`DataDir::open`].
    pub fn open(config: EtcdConfig, options: &OpenOptions) -> Result<Self, PluginError> {
        let data_dir = DataDir::open(
            options,
            PLUGIN_NAME,
            FORMAT_VERSION,
            Sharing::ReadersBesideWriter,
        )?;
        let mut identity = Identity::load_or_create(&data_dir, config.namespace.as_deref())?;
        let cluster = Arc::new(Cluster::new(&config)?);
        let keys = Keyspace::new(&identity.namespace);
        let lock_key = keys.lock();
        let status = cluster.run("reaching the cluster", |mut client| {
            let key = lock_key.clone();
            async move {
                client
                    .kv
                    .get(key, Some(etcd_client::GetOptions::new().with_count_only()))
                    .await
            }
        })?;
        let cluster_id = status.header().map(|header| header.cluster_id());
        match (identity.cluster_id, cluster_id) {
            (Some(stored), Some(answered)) if stored != answered => {
                return Err(PluginError::new(
                    ErrorCode::INCOMPATIBLE,
                    format!(
                        "{}: this store lives on etcd cluster {stored:016x}, but {} answers as cluster {answered:016x}: set `endpoints` to the store's cluster",
                        data_dir.path().display(),
                        cluster.endpoints()
                    ),
                ))
            }
            (None, Some(answered)) if !options.read_only => {
                identity.cluster_id = Some(answered);
                identity.save(data_dir.path())?;
            }
            _ => {}
        }
        let writer = if options.read_only {
            None
        } else {
            Some(WriterLock::acquire(
                &cluster,
                &keys,
                config.lease_ttl_seconds,
            )?)
        };
        options.logger.info(
            "kgdb_plugin_etcd",
            format_args!(
                "opened namespace `{}` on etcd {} ({})",
                identity.namespace,
                cluster.endpoints(),
                if writer.is_some() {
                    "writing"
                } else {
                    "read-only"
                }
            ),
        );
        // A commit of one largest value beside one largest key fits one request.
        let max_value = Limits::new(&config, &keys)
            .data
            .max_bytes
            .saturating_sub(2 * u64::from(CAPABILITIES.max_key_size))
            .min(u64::from(u32::MAX));
        let mut capabilities = Capabilities::new(
            CAPABILITIES.flags,
            CAPABILITIES.max_key_size,
            u32::try_from(max_value)
                .unwrap_or(u32::MAX)
                .min(CAPABILITIES.max_value_size),
        );
        if options.read_only {
            capabilities = capabilities.read_only();
        }
        let shared = Arc::new(Shared {
            cluster,
            keys,
            config,
            catalog: RwLock::new(Catalog::default()),
            writer,
            data_dir: std::sync::Mutex::new(Some(data_dir)),
        });
        if let Err(error) = shared.load_catalog() {
            release(&shared);
            return Err(error);
        }
        Ok(Self {
            shared,
            capabilities,
        })
    }

    /// The rows of `runs` in commits that each fit one etcd txn.
    fn ingest(&self, runs: &[SortedRun]) -> Result<(), PluginError> {
        let limits = Limits::of(&self.shared).data;
        let mut writes = Writes::default();
        let (mut ops, mut bytes) = (0u64, 0u64);
        for run in runs {
            let number = self.shared.table_number(run.table)?;
            for (key, value) in run.rows.iter() {
                let size = (key.len() + value.len()) as u64;
                if ops > 0 && !limits.fits(ops + 1, bytes + size) {
                    commit(&self.shared, None, &std::mem::take(&mut writes))?;
                    (ops, bytes) = (0, 0);
                }
                writes.table_mut(number).put(key, value);
                ops += 1;
                bytes += size;
            }
        }
        commit(&self.shared, None, &writes)
    }
}

/// Releases a writer's lock (errors are logged by the caller's close, or dropped on a failed open).
fn release(shared: &Shared) {
    if let Some(lock) = &shared.writer {
        let _ = lock.release(&shared.cluster);
    }
}

impl StorageBackend for EtcdBackend {
    type Txn = EtcdTxn;

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn open_table(&self, name: &str, create: bool) -> Result<TableId, PluginError> {
        self.shared.open_table(name, create).map(TableId)
    }

    fn drop_table(&self, name: &str) -> Result<bool, PluginError> {
        self.shared.drop_table(name)
    }

    fn list_tables(&self) -> Result<Vec<String>, PluginError> {
        self.shared.load_catalog()?;
        Ok(self
            .shared
            .catalog
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by_name
            .keys()
            .cloned()
            .collect())
    }

    fn begin(&self, options: TxnOptions) -> Result<EtcdTxn, PluginError> {
        if !options.read_only {
            let Some(lock) = &self.shared.writer else {
                return Err(self.shared.read_only_error());
            };
            if lock.lost.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(lock.lost_error());
            }
        }
        let revision = self.shared.current_revision()?;
        Ok(EtcdTxn::new(
            Arc::clone(&self.shared),
            revision,
            options.read_only,
        ))
    }

    fn write_batch(&self, batch: &WriteBatch, _options: WriteOptions) -> Result<(), PluginError> {
        let mut writes = Writes::default();
        for entry in batch.iter() {
            let entry = entry?;
            let number = self.shared.table_number(entry.table())?;
            writes.table_mut(number).apply(entry);
        }
        commit(&self.shared, None, &writes)
    }

    fn ingest_sorted(&self, runs: &[SortedRun], _options: WriteOptions) -> Result<(), PluginError> {
        if self.shared.writer.is_none() {
            return Err(self.shared.read_only_error());
        }
        self.ingest(runs)
    }

    fn flush(&self) -> Result<(), PluginError> {
        // Every commit is on a majority's disk when it returns: a linearizable read confirms
        // the cluster is there and has applied them.
        self.shared.current_revision().map(drop)
    }

    fn compact(&self, _table: Option<TableId>) -> Result<(), PluginError> {
        let shared = &self.shared;
        // History is compacted for the whole cluster: keep the last revisions, so that the
        // snapshots of transactions under way (here, in other processes, of other stores)
        // stay readable.
        let keep = i64::try_from(shared.config.compact_keep_revisions).unwrap_or(i64::MAX);
        let revision = shared.current_revision()?.saturating_sub(keep);
        if revision > 0 {
            shared
                .cluster
                .run(
                    "compacting the cluster's history",
                    |mut client| async move {
                        client
                            .kv
                            .compact(
                                revision,
                                Some(etcd_client::CompactionOptions::new().with_physical()),
                            )
                            .await
                            .map(drop)
                    },
                )
                .or_else(|error| {
                    // Compacted already at this revision, by another process or a retry.
                    if error.message.contains("compacted") {
                        Ok(())
                    } else {
                        Err(error)
                    }
                })?;
        }
        let members = shared.members()?;
        for member in members.members() {
            if let Some(url) = member.client_urls().first() {
                let url = url.clone();
                let defragmented = shared.cluster.block_on(async move {
                    let mut client = etcd_client::Client::connect([url.as_str()], None).await?;
                    client.defragment().await
                });
                if let Err(error) = defragmented {
                    return Err(PluginError::new(
                        ErrorCode::IO,
                        format!(
                            "defragmenting the member at {}: {error}",
                            member.client_urls().join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn stats(&self) -> Result<Vec<NativeStat>, PluginError> {
        let shared = &self.shared;
        let (requests, write_txns) = (shared.cluster.requests(), shared.cluster.write_txns());
        let status = shared
            .cluster
            .run_uncounted("reading the member's status", |mut client| async move {
                client.client.status().await
            })?;
        let members = shared.members()?;
        let (start, end) = shared.keys.all_data();
        let keys = shared
            .cluster
            .run_uncounted("counting the store's rows", |mut client| {
                let (start, end) = (start.clone(), end.clone());
                async move {
                    client
                        .kv
                        .get(
                            start,
                            Some(
                                etcd_client::GetOptions::new()
                                    .with_range(end)
                                    .with_count_only(),
                            ),
                        )
                        .await
                }
            })?;
        let revision = status.header().map_or(0, |header| header.revision());
        Ok(vec![
            NativeStat::new("etcd.members", members.members().len() as u64, "count"),
            NativeStat::new(
                "etcd.revision",
                u64::try_from(revision).unwrap_or(0),
                "count",
            ),
            NativeStat::new("etcd.raft_term", status.raft_term(), "count"),
            NativeStat::new("etcd.leader_id", status.leader(), "id"),
            NativeStat::new(
                "etcd.db_size",
                u64::try_from(status.db_size()).unwrap_or(0),
                "bytes",
            ),
            NativeStat::new(
                "etcd.rows",
                u64::try_from(keys.count()).unwrap_or(0),
                "keys",
            ),
            NativeStat::new("etcd.requests", requests, "requests"),
            NativeStat::new("etcd.write_txns", write_txns, "count"),
        ])
    }

    fn write_limits(&self) -> Option<kgdb_plugin_api::WriteLimits> {
        Some(Limits::of(&self.shared).data)
    }

    fn close(&self) -> Result<(), PluginError> {
        let released = match &self.shared.writer {
            Some(lock) => lock.release(&self.shared.cluster),
            None => Ok(()),
        };
        // The data directory is free for the next instance (of this process or another).
        drop(
            self.shared
                .data_dir
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
        released
    }
}

impl Drop for EtcdBackend {
    fn drop(&mut self) {
        // `close` was not called (a failed host, a test): the lease expires by itself; stop
        // renewing it so that it does.
        if let Some(lock) = &self.shared.writer {
            lock.stop_renewing();
        }
    }
}

//! What an instance and its transactions share: the cluster, the namespace's keys, the table
//! catalog as this instance knows it, the writer lock, and the reads every transaction makes.

use std::collections::BTreeMap;
use std::sync::RwLock;

use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp, TxnOpResponse};
use kgdb_plugin_api::sdk::{unknown_table, DataDir};
use kgdb_plugin_api::{ErrorCode, PluginError, TableId};

use crate::cluster::{is_response_too_large, Cluster};
use crate::config::EtcdConfig;
use crate::keys::{decode_number, Keyspace, FIRST_TABLE};
use crate::lock::WriterLock;

/// The tables this instance knows: name and number, both ways.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub(crate) by_name: BTreeMap<String, u32>,
    pub(crate) by_number: BTreeMap<u32, String>,
}

/// What an instance and its transactions share.
pub(crate) struct Shared {
    pub(crate) cluster: std::sync::Arc<Cluster>,
    pub(crate) keys: Keyspace,
    pub(crate) config: EtcdConfig,
    pub(crate) catalog: RwLock<Catalog>,
    /// The writer lock; `None` for a read-only instance.
    pub(crate) writer: Option<WriterLock>,
    /// The data directory's claim, held until `close`.
    pub(crate) data_dir: std::sync::Mutex<Option<DataDir>>,
}

/// Keys read in one txn at most (fewer when their values would make the answer too large).
const READ_CHUNK_KEYS: usize = 1024;

/// A value read (`None`: absent) and its mod revision (0 when absent).
pub(crate) type Versioned = (Option<Vec<u8>>, i64);

impl Shared {
    /// `READ_ONLY` for a write on a read-only instance.
    pub(crate) fn read_only_error(&self) -> PluginError {
        PluginError::new(ErrorCode::READ_ONLY, "the etcd store was opened read-only")
    }

    /// The table number of `table`, if this instance knows it.
    pub(crate) fn table_number(&self, table: TableId) -> Result<u32, PluginError> {
        let catalog = self
            .catalog
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if catalog.by_number.contains_key(&table.0) {
            Ok(table.0)
        } else {
            Err(unknown_table(table))
        }
    }

    /// The cluster's members.
    pub(crate) fn members(&self) -> Result<etcd_client::MemberListResponse, PluginError> {
        self.cluster
            .run_uncounted("listing the members", |mut client| async move {
                client.client.member_list().await
            })
    }

    /// The current revision, read linearizably (a snapshot's revision).
    pub(crate) fn current_revision(&self) -> Result<i64, PluginError> {
        let key = self.keys.lock();
        let response = self
            .cluster
            .run("reading the current revision", |mut client| {
                let key = key.clone();
                async move {
                    client
                        .kv
                        .get(key, Some(GetOptions::new().with_count_only()))
                        .await
                }
            })?;
        response
            .header()
            .map(|header| header.revision())
            .ok_or_else(|| PluginError::internal("etcd answered without a header"))
    }

    /// One key at `revision`: its value and mod revision (0 when absent).
    pub(crate) fn read_key(
        &self,
        key: &[u8],
        revision: i64,
    ) -> Result<(Option<Vec<u8>>, i64), PluginError> {
        let response = self.cluster.run("reading a key", |mut client| {
            let key = key.to_vec();
            async move {
                client
                    .kv
                    .get(key, Some(GetOptions::new().with_revision(revision)))
                    .await
            }
        })?;
        Ok(match response.kvs().first() {
            Some(kv) => (Some(kv.value().to_vec()), kv.mod_revision()),
            None => (None, 0),
        })
    }

    /// Many keys at `revision`, in one txn of reads per `max_txn_ops` keys.
    pub(crate) fn read_keys(
        &self,
        keys: &[Vec<u8>],
        revision: i64,
    ) -> Result<Vec<Versioned>, PluginError> {
        let mut found = Vec::with_capacity(keys.len());
        let chunk_keys = (self.config.max_txn_ops as usize).min(READ_CHUNK_KEYS);
        for chunk in keys.chunks(chunk_keys) {
            self.read_chunk(chunk, revision, &mut found)?;
        }
        if found.len() != keys.len() {
            return Err(PluginError::internal(
                "etcd answered fewer reads than were asked",
            ));
        }
        Ok(found)
    }

    /// Reads `keys` in one txn, or in halves when the answer would be too large to take.
    fn read_chunk(
        &self,
        keys: &[Vec<u8>],
        revision: i64,
        found: &mut Vec<Versioned>,
    ) -> Result<(), PluginError> {
        let txn = Txn::new().and_then(
            keys.iter()
                .map(|key| TxnOp::get(key.clone(), Some(GetOptions::new().with_revision(revision))))
                .collect::<Vec<_>>(),
        );
        let response = match self.cluster.run("reading keys", |mut client| {
            let txn = txn.clone();
            async move { client.kv.txn(txn).await }
        }) {
            Err(error) if is_response_too_large(&error) && keys.len() > 1 => {
                let (left, right) = keys.split_at(keys.len() / 2);
                self.read_chunk(left, revision, found)?;
                return self.read_chunk(right, revision, found);
            }
            other => other?,
        };
        for op in response.op_responses() {
            let TxnOpResponse::Get(get) = op else {
                return Err(PluginError::internal("etcd answered a read with a write"));
            };
            found.push(match get.kvs().first() {
                Some(kv) => (Some(kv.value().to_vec()), kv.mod_revision()),
                None => (None, 0),
            });
        }
        Ok(())
    }

    /// Reads the whole catalog into this instance.
    pub(crate) fn load_catalog(&self) -> Result<(), PluginError> {
        let (start, end) = self.keys.catalog_range();
        let response = self
            .cluster
            .run("reading the table catalog", |mut client| {
                let (start, end) = (start.clone(), end.clone());
                async move {
                    client
                        .kv
                        .get(start, Some(GetOptions::new().with_range(end)))
                        .await
                }
            })?;
        let mut catalog = self
            .catalog
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for kv in response.kvs() {
            let (name, number) = self.decode_catalog_entry(kv.key(), kv.value())?;
            catalog.by_number.insert(number, name.clone());
            catalog.by_name.insert(name, number);
        }
        Ok(())
    }

    fn decode_catalog_entry(&self, key: &[u8], value: &[u8]) -> Result<(String, u32), PluginError> {
        let corrupt = || {
            PluginError::new(
                ErrorCode::CORRUPTION,
                format!(
                    "etcd key `{}` is not a table catalog entry of kgdb's",
                    String::from_utf8_lossy(key)
                ),
            )
        };
        let name = self.keys.table_name(key).ok_or_else(corrupt)?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| corrupt())?;
        let number = decode_number(value).ok_or_else(corrupt)?;
        Ok((name, number))
    }

    /// The number of table `name`: known, read from the catalog, or (with `create`) given the
    /// next number in one txn that also checks the lock.
    pub(crate) fn open_table(&self, name: &str, create: bool) -> Result<u32, PluginError> {
        if let Some(&number) = self
            .catalog
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by_name
            .get(name)
        {
            return Ok(number);
        }
        let entry = self.keys.catalog(name);
        let next_key = self.keys.next_table();
        loop {
            let found = self.read_keys(&[entry.clone(), next_key.clone()], 0)?;
            if let Some(value) = &found[0].0 {
                let number = decode_number(value)
                    .ok_or_else(|| self.decode_catalog_entry(&entry, value).unwrap_err())?;
                return Ok(self.remember(name, number));
            }
            if !create {
                return Err(kgdb_plugin_api::sdk::no_table_named(name));
            }
            let Some(lock) = self.writer.as_ref() else {
                return Err(self.read_only_error());
            };
            let (next_value, next_revision) = &found[1];
            let number = match next_value {
                Some(value) => decode_number(value).ok_or_else(|| {
                    PluginError::new(
                        ErrorCode::CORRUPTION,
                        "the table counter of the etcd store is not a number",
                    )
                })?,
                None => FIRST_TABLE,
            };
            let after = number.checked_add(1).ok_or_else(|| {
                PluginError::new(
                    ErrorCode::FULL,
                    "every table number has been used (tables are never renumbered)",
                )
            })?;
            let txn = Txn::new()
                .when([
                    lock.compare(&self.keys),
                    Compare::create_revision(entry.clone(), CompareOp::Equal, 0),
                    Compare::mod_revision(next_key.clone(), CompareOp::Equal, *next_revision),
                ])
                .and_then([
                    TxnOp::put(entry.clone(), number.to_be_bytes().to_vec(), None),
                    TxnOp::put(next_key.clone(), after.to_be_bytes().to_vec(), None),
                ]);
            // Safe to retry: a first try that was applied makes the next read find the entry.
            let response = self.cluster.run("creating a table", |mut client| {
                let txn = txn.clone();
                async move { client.kv.txn(txn).await }
            })?;
            if response.succeeded() {
                return Ok(self.remember(name, number));
            }
            if lock.lost.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(lock.lost_error());
            }
            // Another instance created a table meanwhile (or this one did, unanswered): read again.
        }
    }

    fn remember(&self, name: &str, number: u32) -> u32 {
        let mut catalog = self
            .catalog
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        catalog.by_name.insert(name.to_owned(), number);
        catalog.by_number.insert(number, name.to_owned());
        number
    }

    /// Drops table `name`: its catalog entry and rows, in one txn; `false` if it did not exist.
    pub(crate) fn drop_table(&self, name: &str) -> Result<bool, PluginError> {
        let Some(lock) = self.writer.as_ref() else {
            return Err(self.read_only_error());
        };
        let entry = self.keys.catalog(name);
        let (value, revision) = self.read_key(&entry, 0)?;
        let Some(value) = value else {
            self.forget(name);
            return Ok(false);
        };
        let number = decode_number(&value)
            .ok_or_else(|| self.decode_catalog_entry(&entry, &value).unwrap_err())?;
        let (start, end) = self.keys.data_range(number);
        let txn = Txn::new()
            .when([
                lock.compare(&self.keys),
                Compare::mod_revision(entry.clone(), CompareOp::Equal, revision),
            ])
            .and_then([
                TxnOp::delete(entry.clone(), None),
                TxnOp::delete(
                    start,
                    Some(etcd_client::DeleteOptions::new().with_range(end)),
                ),
                TxnOp::put(self.keys.generation(number), Vec::new(), None),
            ]);
        let response = self.cluster.run("dropping a table", |mut client| {
            let txn = txn.clone();
            async move { client.kv.txn(txn).await }
        })?;
        if !response.succeeded() {
            // Dropped by a first try whose answer was lost, or by another instance: either way
            // it is gone, unless the lock is lost.
            if self.read_key(&entry, 0)?.0.is_some() {
                return Err(lock.lost_error());
            }
        }
        self.forget(name);
        Ok(true)
    }

    fn forget(&self, name: &str) {
        let mut catalog = self
            .catalog
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(number) = catalog.by_name.remove(name) {
            catalog.by_number.remove(&number);
        }
    }
}

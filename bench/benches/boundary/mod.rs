//! The plugin boundary's cost: the same engine measured through its loaded `cdylib` (the host's
//! adapter, as `kgdb-host` uses it, operation stats included) and linked statically (its
//! `rlib`, called through the SDK traits directly), in one process run. Each bench target
//! (`boundary_memory`, `boundary_lmdb`, `boundary_rocksdb`) links one engine's `rlib` only.
//!
//! Build the plugins first (`cargo build --release`): the `cdylib` side loads the library that
//! `plugins.toml` resolves to, as the host does.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion};
use kgdb_host::plugin::{
    Access, Backend, PluginRegistry, ScanSpec, TableId, TxnOptions, WriteBatch, WriteOptions,
};
use kgdb_plugin_api::sdk::{
    Logger, OpenOptions, Plugin, StorageBackend, StorageCursor, StorageTxn,
};
use kgdb_plugin_api::{KvBatch, SyncMode};

/// Rows in the table.
const ROWS: u64 = 100_000;
/// Rows per prefix (the prefix scan reads one prefix).
const PER_PREFIX: u64 = 1_000;
/// Puts in the atomic batch.
const BATCH_PUTS: u64 = 10_000;
/// Puts in the small transaction.
const SMALL_TXN_PUTS: u64 = 10;
/// Rows and bytes per cursor batch, as the QuadStore asks.
const SCAN_ROWS: u32 = 1024;
const SCAN_BYTES: u64 = 1 << 20;
/// The table.
const TABLE: &str = "bench";

/// Row `i`'s key: a 2-byte prefix (`i / 1000`) and the index.
fn key(i: u64) -> Vec<u8> {
    let prefix = u16::try_from(i / PER_PREFIX).unwrap_or(u16::MAX);
    let mut key = prefix.to_be_bytes().to_vec();
    key.extend_from_slice(&i.to_be_bytes());
    key
}

fn value(i: u64) -> Vec<u8> {
    [i.to_le_bytes(), (!i).to_le_bytes()].concat()
}

/// A key no row has (same length, prefix past the last).
fn missing_key(i: u64) -> Vec<u8> {
    let mut key = u16::MAX.to_be_bytes().to_vec();
    key.extend_from_slice(&i.to_be_bytes());
    key
}

/// Pseudo-random row indexes (a fixed LCG), so every run reads the same keys.
fn indexes(count: usize) -> Vec<u64> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % ROWS
        })
        .collect()
}

fn batch_of(range: std::ops::Range<u64>, table: TableId, salt: u64) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for i in range {
        batch.put(table, &key(i), &value(i ^ salt));
    }
    batch
}

/// The operations measured, for one way of reaching the engine.
trait Engine {
    type Read;
    fn reader(&self) -> Self::Read;
    fn get(&self, read: &Self::Read, key: &[u8]) -> bool;
    /// Rows read by a scan of `spec`.
    fn scan(&self, read: &Self::Read, spec: ScanSpec) -> usize;
    fn batch(&self, batch: &WriteBatch);
    fn small_commit(&self, batch: &WriteBatch);
}

/// The statically linked engine, through the SDK traits.
struct Static<B: StorageBackend> {
    backend: B,
    table: TableId,
}

impl<B: StorageBackend> Engine for Static<B> {
    type Read = B::Txn;

    fn reader(&self) -> B::Txn {
        self.backend.begin(TxnOptions::READ_ONLY).expect("begin")
    }

    fn get(&self, read: &B::Txn, key: &[u8]) -> bool {
        read.get(self.table, key).expect("get").is_some()
    }

    fn scan(&self, read: &B::Txn, spec: ScanSpec) -> usize {
        let mut cursor = read.scan(self.table, spec).expect("scan");
        let mut out = KvBatch::new();
        let mut rows = 0;
        loop {
            out.clear();
            cursor
                .next_batch(SCAN_ROWS, SCAN_BYTES, &mut out)
                .expect("next_batch");
            if out.is_empty() {
                return rows;
            }
            for row in out.iter() {
                black_box(row);
            }
            rows += out.len();
        }
    }

    fn batch(&self, batch: &WriteBatch) {
        self.backend
            .write_batch(
                batch,
                WriteOptions {
                    sync: SyncMode::NO_SYNC,
                },
            )
            .expect("write_batch");
    }

    fn small_commit(&self, batch: &WriteBatch) {
        let mut txn = self
            .backend
            .begin(TxnOptions {
                read_only: false,
                sync: SyncMode::NO_SYNC,
            })
            .expect("begin");
        txn.write_batch(batch).expect("write");
        txn.commit().expect("commit");
    }
}

/// The loaded `cdylib`, through the host's adapter.
struct Loaded {
    backend: Backend,
    table: TableId,
}

impl Engine for Loaded {
    type Read = kgdb_host::plugin::BackendTxn;

    fn reader(&self) -> Self::Read {
        self.backend.begin(TxnOptions::READ_ONLY).expect("begin")
    }

    fn get(&self, read: &Self::Read, key: &[u8]) -> bool {
        read.get(self.table, key).expect("get").is_some()
    }

    fn scan(&self, read: &Self::Read, spec: ScanSpec) -> usize {
        let mut cursor = read.scan(self.table, spec).expect("scan");
        let mut rows = 0;
        loop {
            let out = cursor
                .next_batch(SCAN_ROWS, SCAN_BYTES)
                .expect("next_batch");
            if out.is_empty() {
                return rows;
            }
            for row in out.iter() {
                black_box(row);
            }
            rows += out.len();
        }
    }

    fn batch(&self, batch: &WriteBatch) {
        self.backend
            .write_batch(
                batch,
                WriteOptions {
                    sync: SyncMode::NO_SYNC,
                },
            )
            .expect("write_batch");
    }

    fn small_commit(&self, batch: &WriteBatch) {
        let mut txn = self
            .backend
            .begin(TxnOptions {
                read_only: false,
                sync: SyncMode::NO_SYNC,
            })
            .expect("begin");
        txn.write_batch(batch).expect("write");
        txn.commit().expect("commit");
    }
}

/// Fills the table with `ROWS` rows.
fn fill(engine: &impl Engine, table: TableId) {
    for start in (0..ROWS).step_by(10_000) {
        engine.batch(&batch_of(start..(start + 10_000).min(ROWS), table, 0));
    }
}

/// The keys the benchmarks read: the same for both sides.
struct Keys {
    hits: Vec<Vec<u8>>,
    misses: Vec<Vec<u8>>,
    prefixes: Vec<Vec<u8>>,
}

impl Keys {
    fn new() -> Self {
        Self {
            hits: indexes(4096).into_iter().map(key).collect(),
            misses: indexes(4096).into_iter().map(missing_key).collect(),
            prefixes: indexes(256)
                .into_iter()
                .map(|i| key(i)[..2].to_vec())
                .collect(),
        }
    }
}

/// The read operations of one side, in one read transaction.
fn reads(c: &mut Criterion, id: &dyn Fn(&str) -> String, engine: &impl Engine, keys: &Keys) {
    let read = engine.reader();
    let mut next = 0usize;
    c.bench_function(&id("point_get_hit"), |b| {
        b.iter(|| {
            next = (next + 1) % keys.hits.len();
            assert!(engine.get(&read, &keys.hits[next]));
        });
    });
    c.bench_function(&id("point_get_miss"), |b| {
        b.iter(|| {
            next = (next + 1) % keys.misses.len();
            assert!(!engine.get(&read, &keys.misses[next]));
        });
    });
    c.bench_function(&id("prefix_scan_1k"), |b| {
        b.iter(|| {
            next = (next + 1) % keys.prefixes.len();
            let rows = engine.scan(&read, ScanSpec::prefix(&keys.prefixes[next]));
            assert_eq!(rows as u64, PER_PREFIX.min(ROWS));
        });
    });
    c.bench_function(&id("range_scan_100k"), |b| {
        b.iter(|| assert_eq!(engine.scan(&read, ScanSpec::all()) as u64, ROWS));
    });
}

/// The write operations of one side.
fn writes(c: &mut Criterion, id: &dyn Fn(&str) -> String, engine: &impl Engine, table: TableId) {
    let mut salt = 1;
    c.bench_function(&id("batch_10k_puts"), |b| {
        b.iter_batched(
            || {
                salt += 1;
                batch_of(0..BATCH_PUTS, table, salt)
            },
            |batch| engine.batch(&batch),
            BatchSize::LargeInput,
        );
    });
    c.bench_function(&id("small_txn_commit"), |b| {
        b.iter_batched(
            || {
                salt += 1;
                let start = (salt * SMALL_TXN_PUTS) % ROWS;
                batch_of(start..start + SMALL_TXN_PUTS, table, salt)
            },
            |batch| engine.small_commit(&batch),
            BatchSize::SmallInput,
        );
    });
}

/// Both sides, open and filled at the same time, measured in turns (static, then cdylib, for
/// each group of operations), so neither gets a warmer machine or an emptier heap.
fn measure(
    c: &mut Criterion,
    plugin: &str,
    statics: &impl Engine,
    loaded: &impl Engine,
    tables: (TableId, TableId),
) {
    fill(statics, tables.0);
    fill(loaded, tables.1);
    let keys = Keys::new();
    let id = |side: &'static str| move |operation: &str| format!("{plugin}/{operation}/{side}");
    reads(c, &id("static"), statics, &keys);
    reads(c, &id("cdylib"), loaded, &keys);
    writes(c, &id("static"), statics, tables.0);
    writes(c, &id("cdylib"), loaded, tables.1);
}

/// The operations, in report order.
const OPERATIONS: [&str; 6] = [
    "point_get_hit",
    "point_get_miss",
    "prefix_scan_1k",
    "range_scan_100k",
    "batch_10k_puts",
    "small_txn_commit",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

/// Measures plugin `name` (a `plugins.toml` name) both ways and prints the ratios.
pub fn run<P: Plugin>(name: &str) {
    let out_dir = std::env::var_os("KGDB_BENCH_CRITERION")
        .map_or_else(|| workspace_root().join("target/criterion"), PathBuf::from);
    let mut c = Criterion::default()
        .output_directory(&out_dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    let config = {
        let registry = PluginRegistry::discover(Some(&workspace_root().join("plugins.toml")))
            .expect("plugins.toml");
        let resolved = registry.resolve(Some(name)).expect("the plugin resolves");
        resolved.config_text()
    };
    let static_dir = tempfile::tempdir().expect("tempdir");
    let backend = P::open(OpenOptions {
        data_dir: Some(static_dir.path().to_owned()),
        config,
        read_only: false,
        create: true,
        logger: Logger::disabled(),
    })
    .expect("the engine opens");
    let static_table = backend.open_table(TABLE, true).expect("open_table");
    let statics = Static {
        backend,
        table: static_table,
    };
    let loaded_dir = tempfile::tempdir().expect("tempdir");
    let registry = PluginRegistry::discover(Some(&workspace_root().join("plugins.toml")))
        .expect("plugins.toml");
    let (plugin, backend) = registry
        .open(Some(name), Some(loaded_dir.path()), Access::ReadWrite)
        .expect("the plugin loads and opens (run `cargo build --release` first)");
    eprintln!("cdylib: {}", plugin.path().display());
    let loaded_table = backend.open_table(TABLE, true).expect("open_table");
    let loaded = Loaded {
        backend,
        table: loaded_table,
    };
    measure(
        &mut c,
        name,
        &statics,
        &loaded,
        (static_table, loaded_table),
    );
    c.final_summary();
    report(&out_dir, name);
}

/// Prints `cdylib / static` per operation from criterion's estimates, and writes them as JSON
/// beside them (`<out>/boundary-<plugin>.json`).
fn report(out_dir: &Path, plugin: &str) {
    let median = |operation: &str, side: &str| -> Option<f64> {
        let file = out_dir
            .join(format!("{plugin}_{operation}_{side}"))
            .join("new/estimates.json");
        let text = std::fs::read_to_string(file).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["median"]["point_estimate"].as_f64()
    };
    let mut rows = Vec::new();
    println!("\n{plugin}: median ns per operation, static rlib vs loaded cdylib");
    for operation in OPERATIONS {
        if let (Some(s), Some(d)) = (median(operation, "static"), median(operation, "cdylib")) {
            println!("  {operation:<18} {s:>14.1} {d:>14.1}   {:.3}x", d / s);
            rows.push(serde_json::json!({
                "plugin": plugin, "operation": operation,
                "static_ns": s, "cdylib_ns": d, "ratio": d / s,
            }));
        }
    }
    let file = out_dir.join(format!("boundary-{plugin}.json"));
    if let Err(error) = std::fs::write(
        &file,
        serde_json::to_string_pretty(&rows).unwrap_or_default(),
    ) {
        eprintln!("{}: {error}", file.display());
    }
}

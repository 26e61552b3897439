//! The soak: 8 reader threads and 2 writer threads on one store for a minute, with invariants
//! checked throughout and memory watched.
//!
//! ```text
//! cargo build --workspace
//! cargo run -p kgdb-tests --bin kgdb-soak -- lmdb 60      # or rocksdb; SECONDS defaults to 60
//! cargo run -p kgdb-tests --bin kgdb-soak -- rocksdb 600 'memtable_budget = "32 MiB"'   # a config
//! ```
//!
//! The writers move money between 100 accounts (each transfer one transaction that reads two
//! balances and rewrites them) and add and remove filler quads. Every reader, in one snapshot
//! at a time, checks that the balances add up to the bank's total and that the store's exact
//! count equals the quads it can read. At the end `verify` must be clean. At every tenth of the
//! run it samples resident memory, the backend's own memory statistics (RocksDB: memtables,
//! block cache, table readers) and what resident memory holds beyond them (`other`), which
//! stays flat unless something leaks.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kgdb_host::store::{GraphPattern, QuadPattern, Snapshot, Store, StoreError, Transaction};
use kgdb_tests::Xorshift;
use oxrdf::{Literal, NamedNode, NamedOrBlankNode, Quad, Term};

const ACCOUNTS: u64 = 100;
const OPENING_BALANCE: i64 = 1_000;
const READERS: usize = 8;
const WRITERS: usize = 2;
/// Filler quads each writer keeps.
const FILLER_LIVE: u64 = 200;
/// Filler names each writer cycles through (more than FILLER_LIVE, so that one is never added
/// while it is still there).
const FILLER_TERMS: u64 = 1_000;
/// The backends' statistics of memory they hold, sampled beside the resident memory (those a
/// backend does not report are left out).
const MEMORY_STATS: [(&str, &str); 3] = [
    ("rocksdb.size-all-mem-tables", "memtables"),
    ("rocksdb.block-cache-usage", "block cache"),
    ("rocksdb.estimate-table-readers-mem", "table readers"),
];

fn bank() -> NamedOrBlankNode {
    NamedNode::new_unchecked("http://soak.test/bank").into()
}

fn account(i: u64) -> NamedNode {
    NamedNode::new_unchecked(format!("http://soak.test/account/{i}"))
}

fn balance_predicate() -> NamedNode {
    NamedNode::new_unchecked("http://soak.test/balance")
}

fn balance_quad(i: u64, amount: i64) -> Quad {
    Quad::new(
        account(i),
        balance_predicate(),
        Literal::from(amount),
        bank(),
    )
}

fn balances_pattern(account: Option<u64>) -> QuadPattern {
    QuadPattern {
        subject: account.map(|i| Term::from(self::account(i))),
        predicate: Some(balance_predicate().into()),
        object: None,
        graph: GraphPattern::Named(bank()),
    }
}

fn amount(quad: &Quad) -> Result<i64, String> {
    match &quad.object {
        Term::Literal(literal) => i64::from_str(literal.value()).map_err(|e| e.to_string()),
        other => Err(format!("a balance that is not a literal: {other}")),
    }
}

fn balance_in(txn: &mut Transaction<'_>, i: u64) -> Result<i64, StoreError> {
    let quads: Vec<Quad> = txn
        .quads_for_pattern(&balances_pattern(Some(i)))?
        .collect::<Result<_, _>>()?;
    match quads.as_slice() {
        [quad] => amount(quad).map_err(StoreError::InvalidInput),
        other => Err(StoreError::InvalidInput(format!(
            "account {i} has {} balances",
            other.len()
        ))),
    }
}

/// One reader's check, in one snapshot.
fn check(snapshot: &Snapshot<'_>) -> Result<(), String> {
    let mut total = 0;
    let mut accounts = 0;
    for quad in snapshot
        .quads_for_pattern(&balances_pattern(None))
        .map_err(|e| e.to_string())?
    {
        total += amount(&quad.map_err(|e| e.to_string())?)?;
        accounts += 1;
    }
    if accounts != ACCOUNTS || total != ACCOUNTS as i64 * OPENING_BALANCE {
        return Err(format!(
            "{accounts} accounts holding {total}, in one snapshot"
        ));
    }
    let counted = snapshot.counts().map_err(|e| e.to_string())?.quads;
    let readable = snapshot
        .quads_for_pattern(&QuadPattern::default())
        .map_err(|e| e.to_string())?
        .count() as u64;
    if counted != readable {
        return Err(format!(
            "the count says {counted} quads, the snapshot reads {readable}"
        ));
    }
    Ok(())
}

/// Resident memory of this process in bytes (Linux).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Writer `id`'s filler quad number `n` (one of FILLER_TERMS).
fn filler_quad(id: u64, n: u64) -> Quad {
    let n = n % FILLER_TERMS;
    Quad::new(
        NamedNode::new_unchecked(format!("http://soak.test/w{id}/f{n}")),
        balance_predicate(),
        Literal::from(n as i64),
        oxrdf::GraphName::DefaultGraph,
    )
}

/// One sample: resident memory and the backend's memory statistics, in bytes.
fn memory_sample(store: &Store) -> Vec<(&'static str, u64)> {
    let stats = store.backend().stats().unwrap_or_default();
    let resident = resident_bytes();
    let mut sample = vec![("resident", resident)];
    for (name, label) in MEMORY_STATS {
        if let Some(stat) = stats.iter().find(|stat| stat.name == name) {
            sample.push((label, stat.value));
        }
    }
    if sample.len() > 1 {
        let engine: u64 = sample[1..].iter().map(|&(_, bytes)| bytes).sum();
        sample.push(("other", resident.saturating_sub(engine)));
    }
    sample
}

fn writer(store: &Store, id: u64, stop: &AtomicBool, transfers: &AtomicU64) -> Result<(), String> {
    let mut random = Xorshift::new(0x2545_F491_4F6C_DD1D ^ ((id + 1) * 0x9E37_79B9));
    let mut filler = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let from = random.below(ACCOUNTS);
        let to = (from + 1 + random.below(ACCOUNTS - 1)) % ACCOUNTS;
        let sum = random.below(50) as i64;
        store
            .update(20, |txn| {
                let (a, b) = (balance_in(txn, from)?, balance_in(txn, to)?);
                txn.remove(&balance_quad(from, a))?;
                txn.remove(&balance_quad(to, b))?;
                txn.insert(&balance_quad(from, a - sum))?;
                txn.insert(&balance_quad(to, b + sum))?;
                // Filler: quads come and go, so that counts move. Each writer keeps its last
                // FILLER_LIVE fillers and cycles through FILLER_TERMS names, so the working
                // set (and the term caches) stay the same size and memory that grows is a leak
                // or an engine buffer filling.
                filler += 1;
                txn.insert(&filler_quad(id, filler))?;
                if filler > FILLER_LIVE {
                    txn.remove(&filler_quad(id, filler - FILLER_LIVE))?;
                }
                Ok(())
            })
            .map_err(|e| format!("writer {id}: {e}"))?;
        transfers.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let plugin = args.next().unwrap_or_else(|| "lmdb".to_owned());
    let seconds: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(60);
    // The plugin's config, as TOML (e.g. `write_buffer_size = "4 MiB"`).
    let config = args.next().unwrap_or_default();
    let dir = tempfile::tempdir().expect("a scratch directory");
    let backend = kgdb_tests::open_backend(
        &format!("kgdb_plugin_{plugin}"),
        &dir.path().join("data"),
        &config,
    );
    let store = Store::open(backend).expect("the store opens");
    store
        .update(1, |txn| {
            for i in 0..ACCOUNTS {
                txn.insert(&balance_quad(i, OPENING_BALANCE))?;
            }
            Ok(())
        })
        .expect("opening the accounts");
    let stop = AtomicBool::new(false);
    let transfers = AtomicU64::new(0);
    let checks = AtomicU64::new(0);
    let started = Instant::now();
    let duration = Duration::from_secs(seconds);
    let mut samples: Vec<Vec<(&str, u64)>> = Vec::new();
    let outcome: Result<(), String> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for id in 0..WRITERS as u64 {
            let (store, stop, transfers) = (&store, &stop, &transfers);
            handles.push(scope.spawn(move || writer(store, id, stop, transfers)));
        }
        for _ in 0..READERS {
            let (store, stop, checks) = (&store, &stop, &checks);
            handles.push(scope.spawn(move || -> Result<(), String> {
                while !stop.load(Ordering::Relaxed) {
                    let snapshot = store.snapshot().map_err(|e| e.to_string())?;
                    check(&snapshot)?;
                    checks.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }));
        }
        // Resident memory at every tenth of the run.
        let mut next_sample = duration / 10;
        while started.elapsed() < duration && !handles.iter().any(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(100));
            if started.elapsed() >= next_sample {
                samples.push(memory_sample(&store));
                next_sample += duration / 10;
            }
        }
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().try_for_each(|handle| {
            handle
                .join()
                .unwrap_or_else(|_| Err("a thread panicked".into()))
        })
    });
    samples.push(memory_sample(&store));
    if let Err(error) = outcome {
        eprintln!("soak on {plugin} FAILED: {error}");
        return std::process::ExitCode::FAILURE;
    }
    let report = store.verify(10).expect("verify runs");
    if !report.is_ok() {
        eprintln!("soak on {plugin} FAILED: verify: {:?}", report.differences);
        return std::process::ExitCode::FAILURE;
    }
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "soak on {plugin}: {READERS} readers and {WRITERS} writers for {:.0} s: {} transfers committed, {} snapshot checks (sum and count) passed, verify clean ({} index entries, {} terms); memory at each tenth of the run (MiB):",
        started.elapsed().as_secs_f64(),
        transfers.load(Ordering::Relaxed),
        checks.load(Ordering::Relaxed),
        report.index_entries,
        report.terms,
    );
    for (column, (label, _)) in samples[0].iter().enumerate() {
        let figures: Vec<String> = samples
            .iter()
            .map(|sample| {
                sample
                    .get(column)
                    .map_or("-".into(), |&(_, b)| format!("{:.0}", mib(b)))
            })
            .collect();
        println!("  {label:<13} {}", figures.join(" "));
    }
    std::process::ExitCode::SUCCESS
}

//! The crash-durability check: a child process (the crash writer, [`writer_main`]) commits numbered
//! transactions with `SyncMode::SYNC`, the test kills it with SIGKILL at random moments, reopens
//! the data directory and checks that every acknowledged transaction is fully there and that no
//! transaction is there in part.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use kgdb_loader::{OpenSettings, PluginLoader, ScanSpec, SyncMode, TxnOptions};

use crate::CrashWriter;

/// The table the writer uses.
pub const TABLE: &str = "crash";
/// Keys written by each transaction.
pub const KEYS_PER_TXN: u32 = 10;

/// Key `index` of transaction `n`.
#[must_use]
pub fn crash_key(n: u64, index: u32) -> Vec<u8> {
    let mut key = n.to_be_bytes().to_vec();
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// Value of key `index` of transaction `n`: long enough to span pages and blocks.
#[must_use]
pub fn crash_value(n: u64, index: u32) -> Vec<u8> {
    (0..200u32)
        .map(|i| (n as u32).wrapping_mul(7).wrapping_add(index * 13 + i) as u8)
        .collect()
}

/// A small deterministic generator for kill delays (no dependency needed for this).
struct Delays(u64);

impl Delays {
    fn next_millis(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max
    }
}

/// What one round saw.
#[derive(Debug, Default)]
pub struct Round {
    /// Transactions the child acknowledged.
    pub acked: Vec<u64>,
}

fn run_child(
    writer: &CrashWriter,
    library: &Path,
    data_dir: &Path,
    first: u64,
    config: &str,
    delay: Duration,
) -> Round {
    let mut child = Command::new(&writer.program)
        .args(&writer.args)
        .arg(library)
        .arg(data_dir)
        .arg(first.to_string())
        .arg("1000000")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "the crash writer {} does not start: {error}",
                writer.program.display()
            )
        });
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // Wait until the child is ready (or gives up), then let it commit for `delay`.
    let started = Instant::now();
    loop {
        match received.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line == "ready" => break,
            Ok(_) => {}
            Err(_) => panic!(
                "the crash writer did not get ready in {:?}",
                started.elapsed()
            ),
        }
    }
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL the writer");
    let _ = child.wait();
    let _ = reader.join();
    let acked = received
        .try_iter()
        .filter_map(|line| line.strip_prefix("ack ").and_then(|n| n.parse().ok()))
        .collect();
    Round { acked }
}

/// Kills a writer `rounds` times and checks the store after each kill. Returns how many
/// transactions were acknowledged in all.
///
/// # Panics
/// When an acknowledged transaction is missing or a transaction is partly present.
pub fn kill_and_check(
    writer: &CrashWriter,
    library: &Path,
    config: &str,
    rounds: usize,
    seed: u64,
) -> usize {
    let scratch = tempfile::tempdir().expect("scratch");
    let data_dir = scratch.path().join("data");
    let mut delays = Delays(seed | 1);
    let mut next = 0u64;
    let mut all_acked = 0;
    for round in 0..rounds {
        let delay = Duration::from_millis(delays.next_millis(150));
        let outcome = run_child(writer, library, &data_dir, next, config, delay);
        all_acked += outcome.acked.len();

        let loader = PluginLoader::new();
        let plugin = loader
            .load(library, None, "crash test")
            .unwrap_or_else(|e| panic!("loading {}: {e}", library.display()));
        let backend = plugin
            .open(&OpenSettings {
                data_dir: Some(data_dir.clone()),
                config: config.to_owned(),
                read_only: false,
                create: true,
            })
            .unwrap_or_else(|e| panic!("round {round}: reopening after SIGKILL: {e}"));
        let table = backend.open_table(TABLE, true).unwrap();
        let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
        let mut present: BTreeMap<u64, u32> = BTreeMap::new();
        for row in txn.scan(table, ScanSpec::all()).unwrap() {
            let (key, value) = row.unwrap_or_else(|e| panic!("round {round}: scan: {e}"));
            assert_eq!(key.len(), 12, "round {round}: unexpected key {key:?}");
            let n = u64::from_be_bytes(key[..8].try_into().unwrap());
            let index = u32::from_be_bytes(key[8..].try_into().unwrap());
            assert_eq!(
                value,
                crash_value(n, index),
                "round {round}: value of {n}:{index} differs"
            );
            *present.entry(n).or_default() += 1;
        }
        for (n, keys) in &present {
            assert_eq!(
                *keys, KEYS_PER_TXN,
                "round {round}: transaction {n} is partly present ({keys} of {KEYS_PER_TXN} keys)"
            );
        }
        for n in &outcome.acked {
            assert!(
                present.contains_key(n),
                "round {round}: acknowledged transaction {n} is missing after SIGKILL"
            );
        }
        next = present.keys().next_back().map_or(0, |n| n + 1);
        drop(txn);
        backend.close().unwrap();
    }
    all_acked
}

/// The crash writer's body: `args` are `LIBRARY DATA_DIR FIRST COUNT [CONFIG]`. Loads the
/// plugin through the real loader, prints `ready`, then commits transactions `FIRST…` with
/// `SyncMode::SYNC`, printing `ack N` after each commit returns, until killed or done.
#[must_use]
pub fn writer_main(args: &[String]) -> ExitCode {
    if args.len() < 4 {
        eprintln!("usage: LIBRARY DATA_DIR FIRST COUNT [CONFIG]");
        return ExitCode::from(2);
    }
    let library = PathBuf::from(&args[0]);
    let data_dir = PathBuf::from(&args[1]);
    let (Ok(first), Ok(count)) = (args[2].parse::<u64>(), args[3].parse::<u64>()) else {
        eprintln!("FIRST and COUNT must be integers");
        return ExitCode::from(2);
    };
    let config = args.get(4).cloned().unwrap_or_default();
    let loader = PluginLoader::new();
    let result = (|| -> Result<(), String> {
        let plugin = loader
            .load(&library, None, "crash test")
            .map_err(|e| e.to_string())?;
        let backend = plugin
            .open(&OpenSettings {
                data_dir: Some(data_dir),
                config,
                read_only: false,
                create: true,
            })
            .map_err(|e| e.to_string())?;
        let table = backend.open_table(TABLE, true).map_err(|e| e.to_string())?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        let sync = TxnOptions {
            read_only: false,
            sync: SyncMode::SYNC,
        };
        for n in first..first + count {
            let mut txn = backend.begin(sync).map_err(|e| e.to_string())?;
            for index in 0..KEYS_PER_TXN {
                txn.put(table, &crash_key(n, index), &crash_value(n, index))
                    .map_err(|e| e.to_string())?;
            }
            txn.commit().map_err(|e| e.to_string())?;
            writeln!(out, "ack {n}").map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
        }
        backend.close().map_err(|e| e.to_string())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

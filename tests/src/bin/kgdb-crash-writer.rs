//! Child process of the crash-durability tests: loads a plugin through the real loader, then
//! commits numbered transactions with `SyncMode::SYNC` and prints `ack N` after each commit
//! returns, until it is killed or has committed `--count` transactions.
//!
//! Transaction N writes keys `N:0` … `N:9` (N as 8 big-endian bytes), each with a value derived
//! from N and the key's index, so a checker can tell a whole transaction from part of one.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use kgdb_host::plugin::{OpenSettings, PluginLoader, SyncMode, TxnOptions};
use kgdb_tests::crash::{crash_key, crash_value, KEYS_PER_TXN, TABLE};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: kgdb-crash-writer LIBRARY DATA_DIR FIRST COUNT [CONFIG]");
        return ExitCode::from(2);
    }
    let library = PathBuf::from(&args[1]);
    let data_dir = PathBuf::from(&args[2]);
    let (Ok(first), Ok(count)) = (args[3].parse::<u64>(), args[4].parse::<u64>()) else {
        eprintln!("FIRST and COUNT must be integers");
        return ExitCode::from(2);
    };
    let config = args.get(5).cloned().unwrap_or_default();
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

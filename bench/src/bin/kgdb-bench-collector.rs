//! What the operation stats collector costs: point gets and a full scan through a plugin, with
//! the collector on and off, interleaved in the same run, several rounds; the overhead is given
//! on the medians and on the fastest rounds (the least disturbed by other work on the machine).
//!
//! ```sh
//! cargo build --release --workspace
//! cargo run --release -p kgdb-bench --bin kgdb-bench-collector -- lmdb
//! ```
//!
//! The argument is a plugin as `--plugin` takes it: a name from `plugins.toml` (`memory`,
//! `lmdb`, `rocksdb`; the manifest is `./plugins.toml` or `$KGDB_CONFIG`), a library file or a
//! plugin directory; `--keys N`, `--gets N` and `--rounds N` change the sizes. Prints a table
//! and one summary line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use kgdb_host::plugin::stats::{Call, Collector, Op, Tally};
use kgdb_host::plugin::{
    Backend, OpenSettings, PluginLoader, PluginRegistry, ScanSpec, TableId, TxnOptions, WriteBatch,
};

struct Options {
    library: PathBuf,
    keys: usize,
    gets: usize,
    rounds: usize,
}

fn parse() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        library: PathBuf::new(),
        keys: 100_000,
        gets: 200_000,
        rounds: 7,
    };
    let number = |args: &mut dyn Iterator<Item = String>, name: &str| -> Result<usize, String> {
        args.next()
            .and_then(|v| v.replace('_', "").parse().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{name} needs a positive number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--keys" => options.keys = number(&mut args, "--keys")?,
            "--gets" => options.gets = number(&mut args, "--gets")?,
            "--rounds" => options.rounds = number(&mut args, "--rounds")?,
            spec => {
                let registry = PluginRegistry::discover(None).map_err(|e| e.to_string())?;
                options.library = registry
                    .resolve(Some(spec))
                    .map_err(|e| e.to_string())?
                    .library;
            }
        }
    }
    if options.library.as_os_str().is_empty() {
        return Err(
            "usage: kgdb-bench-collector PLUGIN [--keys N] [--gets N] [--rounds N] (PLUGIN: a name from plugins.toml, a library file or a plugin directory)"
                .into(),
        );
    }
    Ok(options)
}

fn key(i: usize) -> Vec<u8> {
    format!("key{i:010}").into_bytes()
}

fn fill(backend: &Backend, table: TableId, keys: usize) -> Result<(), String> {
    let mut txn = backend
        .begin(TxnOptions::READ_WRITE)
        .map_err(|e| e.to_string())?;
    let mut batch = WriteBatch::new();
    for i in 0..keys {
        batch.put(table, &key(i), &[(i % 251) as u8; 100]);
        if batch.len() == 10_000 {
            txn.write_batch(&batch).map_err(|e| e.to_string())?;
            batch.clear();
        }
    }
    txn.write_batch(&batch).map_err(|e| e.to_string())?;
    txn.commit().map_err(|e| e.to_string())
}

/// Nanoseconds per point get over `gets` random existing keys.
fn point_gets(backend: &Backend, table: TableId, keys: usize, gets: usize) -> Result<f64, String> {
    let txn = backend
        .begin(TxnOptions::READ_ONLY)
        .map_err(|e| e.to_string())?;
    let probes: Vec<Vec<u8>> = {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        (0..gets)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                key((state % keys as u64) as usize)
            })
            .collect()
    };
    let started = Instant::now();
    let mut found = 0usize;
    for probe in &probes {
        found += usize::from(txn.get(table, probe).map_err(|e| e.to_string())?.is_some());
    }
    let elapsed = started.elapsed();
    if found != gets {
        return Err(format!("{found} of {gets} keys found"));
    }
    Ok(elapsed.as_nanos() as f64 / gets as f64)
}

/// Nanoseconds per row of a full scan.
fn full_scan(backend: &Backend, table: TableId, keys: usize) -> Result<f64, String> {
    let txn = backend
        .begin(TxnOptions::READ_ONLY)
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut cursor = txn
        .scan(table, ScanSpec::all())
        .map_err(|e| e.to_string())?;
    let mut rows = 0;
    loop {
        let batch = cursor.next_batch(512, 1 << 20).map_err(|e| e.to_string())?;
        if batch.is_empty() {
            break;
        }
        rows += batch.len();
    }
    let elapsed = started.elapsed();
    if rows != keys {
        return Err(format!("scanned {rows} rows of {keys}"));
    }
    Ok(elapsed.as_nanos() as f64 / rows as f64)
}

/// Nanoseconds the collector itself spends on one recorded point get (start, finish, and the
/// share of a fold), with no backend behind it.
fn collector_alone(calls: usize) -> f64 {
    let collector = Collector::new();
    let tally = Tally::default();
    let started = Instant::now();
    for i in 0..calls {
        let timer = std::hint::black_box(collector.start_in(&tally, Op::Get));
        if let Some(timer) = timer {
            let call = Call {
                table: Some(3),
                bytes_in: 14,
                bytes_out: std::hint::black_box(100 + (i as u64 & 1)),
            };
            collector.finish_in(&tally, timer, call, None);
        }
    }
    collector.fold(&tally);
    started.elapsed().as_nanos() as f64 / calls as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn run(options: &Options) -> Result<(), String> {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let loader = PluginLoader::new();
    let plugin = loader
        .load(&options.library, None, "benchmark")
        .map_err(|e| e.to_string())?;
    let backend = plugin
        .open(&OpenSettings {
            data_dir: Some(scratch.path().join("data")),
            config: String::new(),
            read_only: false,
            create: true,
        })
        .map_err(|e| e.to_string())?;
    let table = backend
        .open_table("bench", true)
        .map_err(|e| e.to_string())?;
    fill(&backend, table, options.keys)?;
    // Warm caches and code paths once with each setting.
    for enabled in [true, false] {
        backend.collector().set_enabled(enabled);
        point_gets(&backend, table, options.keys, options.gets / 4)?;
        full_scan(&backend, table, options.keys)?;
    }
    let (mut gets_on, mut gets_off, mut scan_on, mut scan_off) = (vec![], vec![], vec![], vec![]);
    for round in 0..options.rounds {
        // Alternate which setting goes first, so drift does not favour one.
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for enabled in order {
            backend.collector().set_enabled(enabled);
            let gets = point_gets(&backend, table, options.keys, options.gets)?;
            let scan = full_scan(&backend, table, options.keys)?;
            if enabled {
                gets_on.push(gets);
                scan_on.push(scan);
            } else {
                gets_off.push(gets);
                scan_off.push(scan);
            }
        }
    }
    let details = plugin.details();
    println!(
        "collector overhead: {} {} ({} keys, {} gets per round, {} rounds)",
        details.name, details.profile, options.keys, options.gets, options.rounds
    );
    println!();
    println!("| workload | off, median | on, median | overhead | off, fastest | on, fastest | overhead |");
    println!("|---|---|---|---|---|---|---|");
    let mut summary = Vec::new();
    let mut off_get_median = f64::NAN;
    for (name, unit, on, off) in [
        ("point get", "ns/get", &mut gets_on, &mut gets_off),
        ("full scan", "ns/row", &mut scan_on, &mut scan_off),
    ] {
        let (on_median, off_median) = (median(on), median(off));
        let (on_min, off_min) = (on[0], off[0]);
        if name == "point get" {
            off_get_median = off_median;
        }
        let overhead = (on_median - off_median) / off_median * 100.0;
        let overhead_min = (on_min - off_min) / off_min * 100.0;
        println!(
            "| {name} | {off_median:.1} {unit} | {on_median:.1} {unit} | {overhead:+.1}% \
             | {off_min:.1} {unit} | {on_min:.1} {unit} | {overhead_min:+.1}% |"
        );
        summary.push(format!(
            "{name} {overhead:+.1}% (medians), {overhead_min:+.1}% (fastest)"
        ));
    }
    let alone = collector_alone(options.gets * 10);
    println!();
    println!(
        "the collector alone: {alone:.1} ns per recorded get ({:.1}% of a point get with it off)",
        alone / off_get_median * 100.0
    );
    println!();
    println!("overhead: {}", summary.join(", "));
    backend.close().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match parse().and_then(|options| run(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

//! The long kill test: SIGKILLs `kgdb-host` at random moments during synced commits, during
//! loads, and during the undo of a killed load, on a persistent plugin, and checks after each
//! kill that every acknowledged commit is whole and nothing partial is visible once the store
//! is next opened for writing.
//!
//! ```text
//! cargo build --workspace
//! cargo run -p kgdb-tests --bin kgdb-kill-test -- lmdb 200     # or rocksdb; KILLS defaults to 200
//! ```
//!
//! Each round, in turn: (1) tiny loads (one synced commit each) in a loop, one killed; (2) a
//! load of 30,000 new quads in chunks of 4,000, killed; (3) the same, then the `recover` that
//! undoes it, killed too. After each kill, `recover` must leave exactly the acknowledged
//! quads (a commit whose process was killed may have landed whole, or not at all), and every
//! tenth round `verify` must find the indexes, dictionary and counters in agreement.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use kgdb_tests::{host_binary, plugin_library, Xorshift};

struct Store {
    dir: PathBuf,
    library: PathBuf,
}

impl Store {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(host_binary());
        command
            .current_dir(&self.dir)
            .arg("--plugin")
            .arg(&self.library)
            .args(["--data-dir", "data"])
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Result<String, String> {
        let output = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(format!(
                "{args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Starts `args` and kills it after `delay`; whether it had finished (successfully) first.
    fn kill_after(&self, args: &[&str], delay: Duration) -> Result<bool, String> {
        let mut child = self.command(args).spawn().map_err(|e| e.to_string())?;
        let deadline = Instant::now() + delay;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status.success());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill();
        let status = child.wait().map_err(|e| e.to_string())?;
        Ok(status.success())
    }

    fn count(&self) -> Result<u64, String> {
        self.run(&["count"])?
            .trim()
            .parse()
            .map_err(|e| format!("count: {e}"))
    }
}

/// `quads` new quads for batch `batch`, as N-Triples.
fn batch_file(dir: &Path, batch: u64, quads: u64) -> PathBuf {
    let path = dir.join(format!("batch-{batch}.nt"));
    let mut text = String::with_capacity(quads as usize * 80);
    for i in 0..quads {
        text.push_str(&format!(
            "<http://kill.test/b{batch}/s{i}> <http://kill.test/p{}> \"{batch} {i}\" .\n",
            i % 13
        ));
    }
    std::fs::write(&path, text).expect("writing a batch file");
    path
}

struct Figures {
    kills: u64,
    commit_kills: u64,
    load_kills: u64,
    undo_kills: u64,
    landed: u64,
    verifies: u64,
}

fn round(
    store: &Store,
    random: &mut Xorshift,
    round: u64,
    expected: &mut u64,
    figures: &mut Figures,
) -> Result<(), String> {
    let scratch = store.dir.join("inputs");
    let batch = round * 10;
    match round % 3 {
        0 => {
            // Tiny synced commits, one after another, the last one killed at a random moment.
            let commits = 1 + random.below(4);
            for commit in 0..commits {
                let file = batch_file(&scratch, batch + commit, 1);
                let file = file.to_str().unwrap_or_default().to_owned();
                if commit + 1 < commits {
                    store.run(&["load", &file])?;
                    *expected += 1;
                } else {
                    let delay = Duration::from_micros(random.below(12_000));
                    let acknowledged = store.kill_after(&["load", &file], delay)?;
                    figures.commit_kills += u64::from(!acknowledged);
                    figures.kills += u64::from(!acknowledged);
                    store.run(&["recover"])?;
                    let count = store.count()?;
                    if acknowledged {
                        *expected += 1;
                    } else if count == *expected + 1 {
                        // Killed after its commit: it landed whole.
                        figures.landed += 1;
                        *expected += 1;
                    }
                }
            }
        }
        _ => {
            // A load of 30,000 quads in chunks, killed; in every other one the undo too.
            let file = batch_file(&scratch, batch, 30_000);
            let file = file.to_str().unwrap_or_default().to_owned();
            let delay = Duration::from_millis(20 + random.below(700));
            let acknowledged =
                store.kill_after(&["load", "--chunk-quads", "4000", &file], delay)?;
            if acknowledged {
                *expected += 30_000;
            } else {
                figures.kills += 1;
                figures.load_kills += 1;
                if round % 3 == 2 {
                    let delay = Duration::from_millis(5 + random.below(150));
                    if !store.kill_after(&["recover"], delay)? {
                        figures.kills += 1;
                        figures.undo_kills += 1;
                    }
                }
            }
            store.run(&["recover"])?;
            if !acknowledged && store.count()? == *expected + 30_000 {
                // Killed after its last commit (while cleaning up or reporting): whole.
                figures.landed += 1;
                *expected += 30_000;
            }
        }
    }
    let count = store.count()?;
    if count != *expected {
        return Err(format!(
            "round {round}: the store holds {count} quads after recovery, but {expected} were acknowledged"
        ));
    }
    if round % 10 == 9 {
        store.run(&["verify"])?;
        figures.verifies += 1;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let plugin = args.next().unwrap_or_else(|| "lmdb".to_owned());
    let wanted: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let seed: u64 = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let library = plugin_library(&format!("kgdb_plugin_{plugin}"));
    let dir = tempfile::tempdir().expect("a scratch directory");
    std::fs::create_dir_all(dir.path().join("inputs")).expect("a scratch directory");
    let store = Store {
        dir: dir.path().to_owned(),
        library,
    };
    let mut random = Xorshift::new(seed);
    let mut expected = 0;
    let mut figures = Figures {
        kills: 0,
        commit_kills: 0,
        load_kills: 0,
        undo_kills: 0,
        landed: 0,
        verifies: 0,
    };
    let started = Instant::now();
    let mut number = 0;
    while figures.kills < wanted {
        if let Err(error) = round(&store, &mut random, number, &mut expected, &mut figures) {
            eprintln!("kill test on {plugin} FAILED (seed {seed}): {error}");
            eprintln!("the store is kept in {}", dir.keep().display());
            return ExitCode::FAILURE;
        }
        number += 1;
        if number % 25 == 0 {
            eprintln!(
                "{plugin}: {number} rounds, {} kills, {expected} quads",
                figures.kills
            );
        }
    }
    if let Err(error) = store.run(&["verify"]) {
        eprintln!("kill test on {plugin} FAILED at the final verify: {error}");
        return ExitCode::FAILURE;
    }
    println!(
        "kill test on {plugin}: {} SIGKILLs in {number} rounds ({} during synced commits, {} during loads, {} during the undo of a killed load; {} killed after their last commit, found whole), {} quads acknowledged and found after every recovery, never a part of a load, {} verifies + 1 final clean, {:.0} s",
        figures.kills,
        figures.commit_kills,
        figures.load_kills,
        figures.undo_kills,
        figures.landed,
        expected,
        figures.verifies,
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

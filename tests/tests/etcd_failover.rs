//! The etcd plugin while members die: each test starts its own 3-member cluster on loopback
//! (every member ended by PID), kills members with SIGKILL during work and restarts them on
//! their data, then checks that nothing acknowledged was lost, nothing refused was applied,
//! nothing was applied in part, and that the members agree (`etcdctl endpoint hashkv`).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kgdb_host::plugin::{ErrorCode, TxnOptions};
use kgdb_tests::etcd_cluster::{etcd_binary, EtcdCluster};
use kgdb_tests::etcd_host::{host, manifest, run, Server};
use kgdb_tests::open_backend;
use kgdb_tests::store_kit::shared_data_set;

/// The key of commit `n`, and of its pair (a commit writes both, or neither).
fn keys_of(n: u64) -> (Vec<u8>, Vec<u8>) {
    (
        format!("commit/{n:08}").into_bytes(),
        format!("pair/{n:08}").into_bytes(),
    )
}

/// Waits until every member reports the same `hashkv` (they catch up after a restart).
fn assert_members_agree(cluster: &EtcdCluster) {
    let etcdctl = etcd_binary().with_file_name("etcdctl");
    let endpoints: Vec<&str> = cluster
        .members
        .iter()
        .map(|member| member.client_url.as_str())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = Command::new(&etcdctl)
            .args(["--endpoints", &endpoints.join(","), "endpoint", "hashkv"])
            .env("ETCDCTL_API", "3")
            .output()
            .expect("etcdctl runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let hashes: Vec<&str> = text
            .lines()
            .filter_map(|line| line.split(", ").nth(1))
            .collect();
        if output.status.success()
            && hashes.len() == endpoints.len()
            && hashes.iter().all(|hash| *hash == hashes[0])
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the members' hashkv differ or cannot be read: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The outcomes a writer saw.
#[derive(Default, Debug)]
struct Outcomes {
    /// Commits that returned `Ok`.
    acknowledged: Vec<u64>,
    /// Commits refused with a retryable error (conflict, or "nothing was written").
    refused: Vec<u64>,
    /// Commits whose outcome the plugin could not tell.
    unknown: Vec<u64>,
}

#[test]
fn acknowledged_commits_survive_killing_the_leader_then_a_follower() {
    let mut cluster = EtcdCluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(open_backend(
        "kgdb_plugin_etcd",
        &dir.path().join("data"),
        &cluster.plugin_config(""),
    ));
    let table = backend.open_table("t", true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let writer = {
        let (backend, stop, outcomes) = (
            Arc::clone(&backend),
            Arc::clone(&stop),
            Arc::clone(&outcomes),
        );
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let Ok(mut txn) = backend.begin(TxnOptions::READ_WRITE) else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let (key, pair) = keys_of(n);
                txn.put(table, &key, &n.to_be_bytes()).unwrap();
                txn.put(table, &pair, &n.to_be_bytes()).unwrap();
                let outcome = txn.commit();
                let mut seen = outcomes.lock().unwrap();
                match outcome {
                    Ok(()) => seen.acknowledged.push(n),
                    Err(error) if error.retryable => seen.refused.push(n),
                    Err(error) => {
                        assert_ne!(error.code, ErrorCode::INTERNAL, "{error}");
                        seen.unknown.push(n);
                    }
                }
                n += 1;
            }
        })
    };
    let acknowledged = |outcomes: &Mutex<Outcomes>| outcomes.lock().unwrap().acknowledged.len();
    let wait_for_progress = |outcomes: &Mutex<Outcomes>, what: &str| {
        let before = acknowledged(outcomes);
        let deadline = Instant::now() + Duration::from_secs(60);
        while acknowledged(outcomes) < before + 20 {
            assert!(Instant::now() < deadline, "no commits {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for_progress(&outcomes, "before the kills");
    let leader = cluster.leader().expect("a leader");
    cluster.kill(leader);
    wait_for_progress(&outcomes, "after the leader was killed");
    cluster.restart(leader);
    cluster.wait_healthy();
    let follower = (0..3)
        .find(|&index| Some(index) != cluster.leader())
        .unwrap();
    cluster.kill(follower);
    wait_for_progress(&outcomes, "after a follower was killed");
    cluster.restart(follower);
    cluster.wait_healthy();
    wait_for_progress(&outcomes, "after the restarts");
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();

    let outcomes = outcomes.lock().unwrap();
    let read = backend.begin(TxnOptions::READ_ONLY).unwrap();
    let present = |n: u64| {
        let (key, pair) = keys_of(n);
        let value = read.get(table, &key).unwrap();
        let paired = read.get(table, &pair).unwrap();
        assert_eq!(value, paired, "commit {n} was applied in part");
        if let Some(value) = &value {
            assert_eq!(value, &n.to_be_bytes(), "commit {n} holds another value");
        }
        value.is_some()
    };
    for &n in &outcomes.acknowledged {
        assert!(present(n), "acknowledged commit {n} is lost");
    }
    for &n in &outcomes.refused {
        assert!(!present(n), "commit {n} was refused, yet applied");
    }
    for &n in &outcomes.unknown {
        present(n);
    }
    drop(read);
    assert_members_agree(&cluster);
    eprintln!(
        "{} commits acknowledged, {} refused (nothing written), {} of unknown outcome",
        outcomes.acknowledged.len(),
        outcomes.refused.len(),
        outcomes.unknown.len()
    );
    backend.close().unwrap();
}

#[test]
fn brick_loads_while_the_leader_is_killed_and_readers_answer_throughout() {
    let brick = shared_data_set("brick.nq.gz").expect("brick.nq.gz (KGDB_SHARED_DATA)");
    let mut cluster = EtcdCluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    manifest(dir, "plugins.toml", &cluster, 0);
    // One quad first, so that the store exists for the readers.
    std::fs::write(
        dir.join("first.nq"),
        "<urn:kgdb:a> <urn:kgdb:b> <urn:kgdb:c> <urn:kgdb:g> .\n",
    )
    .unwrap();
    run(dir, &["load", "first.nq"]);
    let readers = Arc::new([
        Server::start(dir, "plugins.toml", "data", true),
        Server::start(dir, "plugins.toml", "data", true),
    ]);
    // The readers are asked on a thread of their own: a query may wait for the load.
    let seen_during = Arc::new(Mutex::new(Vec::new()));
    let asking = Arc::new(AtomicBool::new(true));
    let asker = {
        let (readers, seen_during, asking) = (
            Arc::clone(&readers),
            Arc::clone(&seen_during),
            Arc::clone(&asking),
        );
        std::thread::spawn(move || {
            while asking.load(Ordering::SeqCst) {
                for reader in readers.iter() {
                    if let Some(count) = reader.count() {
                        seen_during.lock().unwrap().push(count);
                    }
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    let brick = brick.to_str().unwrap().to_owned();
    let mut load = host(dir, "plugins.toml", &["load", &brick])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let puts_before = cluster.puts();
    let mut leader_killed = None;
    let status = loop {
        if let Some(status) = load.try_wait().unwrap() {
            break status;
        }
        // The leader dies once the load's rows are flowing into the cluster.
        // (or after 8 s, should the put counter not be readable).
        if leader_killed.is_none()
            && (cluster.puts() >= puts_before + 100_000
                || started.elapsed() > Duration::from_secs(8))
        {
            let leader = cluster.leader().expect("a leader");
            cluster.kill(leader);
            leader_killed = Some((leader, Instant::now()));
        }
        if let Some((leader, at)) = leader_killed {
            if at.elapsed() > Duration::from_secs(3) && !cluster.members[leader].is_running() {
                cluster.restart(leader);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the load did not end"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    if leader_killed.is_none() {
        let output = load.wait_with_output().unwrap();
        panic!(
            "the load ended ({status}) before the leader could be killed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    if let Some((leader, _)) = leader_killed {
        if !cluster.members[leader].is_running() {
            cluster.restart(leader);
        }
    }
    cluster.wait_healthy();
    let output = load.wait_with_output().unwrap();
    let expected = if status.success() { 348_064 } else { 1 };
    eprintln!(
        "load {} with the leader killed: {}{}",
        if status.success() {
            "completed"
        } else {
            "failed whole"
        },
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !status.success() {
        // A failed load is undone by the next writing command.
        run(dir, &["recover"]);
    }
    assert_eq!(run(dir, &["count"]).trim(), expected.to_string());
    assert!(run(dir, &["verify"]).starts_with("ok"));
    // Readers saw the store before the load or after it, never in between.
    asking.store(false, Ordering::SeqCst);
    asker.join().unwrap();
    let seen = seen_during.lock().unwrap().clone();
    assert!(
        seen.iter().all(|&count| count == 1 || count == expected),
        "readers saw counts {seen:?}"
    );
    for reader in readers.iter() {
        assert_eq!(reader.count(), Some(expected));
    }
    assert_members_agree(&cluster);
}

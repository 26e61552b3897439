//! Many readers, one writer, over one namespace on a 3-member etcd cluster: three
//! `kgdb-host serve --read-only` processes, each with a data directory of its own (as on
//! another machine: a copy of `etcd-store.toml`) and sending its requests to a different member,
//! answer queries while one writing `serve` commits updates; a second writing process is
//! refused. Every answer is one committed state, no reader goes back in time, and every reader
//! sees the writer's last commit as soon as it is acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kgdb_tests::etcd_cluster::EtcdCluster;
use kgdb_tests::etcd_host::{host_on, manifest, run, Server};

/// Quads each update adds to the default graph, and as many to graph `<urn:kgdb:g>`.
const PER_UPDATE: u64 = 5;
const UPDATES: u64 = 40;

/// One query reading both graphs: the two counts of one snapshot are equal.
const PAIRED_COUNTS: &str = "SELECT ?d ?n WHERE { \
    { SELECT (COUNT(*) AS ?d) WHERE { ?s <urn:kgdb:p> ?o } } \
    { SELECT (COUNT(*) AS ?n) WHERE { GRAPH <urn:kgdb:g> { ?s <urn:kgdb:q> ?o } } } }";

/// A reader's answers, in the order it gave them: the default graph's count, the named one's.
type Answers = Vec<(u64, u64)>;

fn paired_counts(server: &Server) -> Option<(u64, u64)> {
    let rows = server.select(PAIRED_COUNTS)?;
    let (default, named) = rows.first()?.split_once(',')?;
    Some((default.trim().parse().ok()?, named.trim().parse().ok()?))
}

fn update(n: u64) -> String {
    let mut data = String::from("INSERT DATA { ");
    for i in 0..PER_UPDATE {
        data.push_str(&format!("<urn:kgdb:s{n}-{i}> <urn:kgdb:p> \"{i}\" . "));
    }
    data.push_str("GRAPH <urn:kgdb:g> { ");
    for i in 0..PER_UPDATE {
        data.push_str(&format!("<urn:kgdb:s{n}-{i}> <urn:kgdb:q> \"{i}\" . "));
    }
    data.push_str("} }");
    data
}

#[test]
fn read_only_servers_on_every_member_see_whole_commits_beside_one_writer() {
    let cluster = EtcdCluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // Reader `i` (and the writer, 0) sends its requests to member `i` first.
    for member in 0..3 {
        manifest(dir, &format!("member-{member}.toml"), &cluster, member);
    }
    std::fs::copy(dir.join("member-0.toml"), dir.join("plugins.toml")).unwrap();
    std::fs::write(
        dir.join("seed.nq"),
        "<urn:kgdb:seed> <urn:kgdb:r> <urn:kgdb:o> .\n",
    )
    .unwrap();
    run(dir, &["load", "seed.nq"]);
    // A data directory holds only its markers (the namespace and the cluster's id): each
    // process gets a copy, as it would on a machine of its own.
    for name in ["reader-0", "reader-1", "reader-2", "second"] {
        std::fs::create_dir(dir.join(name)).unwrap();
        for entry in std::fs::read_dir(dir.join("data")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() != "kgdb.lock" {
                std::fs::copy(entry.path(), dir.join(name).join(entry.file_name())).unwrap();
            }
        }
    }

    let writer = Server::start(dir, "member-0.toml", "data", false);
    let readers: Arc<Vec<Server>> = Arc::new(
        (0..3)
            .map(|member| {
                Server::start(
                    dir,
                    &format!("member-{member}.toml"),
                    &format!("reader-{member}"),
                    true,
                )
            })
            .collect(),
    );
    // A second writing process is refused while the writer holds the store: by the leased
    // lock in the cluster, not by a local file.
    let second = host_on(dir, "member-1.toml", "second", &["load", "seed.nq"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "a second writer was let in");
    assert!(stderr.contains("open for writing"), "{stderr}");

    let asking = Arc::new(AtomicBool::new(true));
    let seen: Arc<Mutex<Vec<Answers>>> = Arc::new(Mutex::new(vec![Vec::new(); 3]));
    let askers: Vec<_> = (0..3)
        .map(|index| {
            let (readers, asking, seen) =
                (Arc::clone(&readers), Arc::clone(&asking), Arc::clone(&seen));
            std::thread::spawn(move || {
                while asking.load(Ordering::SeqCst) {
                    let answer = paired_counts(&readers[index])
                        .unwrap_or_else(|| panic!("reader {index} did not answer"));
                    seen.lock().unwrap()[index].push(answer);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    for n in 0..UPDATES {
        let (status, body) = writer.update(&update(n));
        assert_eq!(status, 204, "update {n}: {body}");
        // Acknowledged: every reader's next query sees it (a snapshot is a linearizable
        // revision, whichever member answers).
        if n % 10 == 9 {
            for (index, reader) in readers.iter().enumerate() {
                let (default, named) = paired_counts(reader).unwrap();
                assert!(
                    default >= (n + 1) * PER_UPDATE && named == default,
                    "reader {index} after update {n}: {default} and {named}"
                );
            }
        }
    }
    asking.store(false, Ordering::SeqCst);
    for asker in askers {
        asker.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    for (index, answers) in seen.iter().enumerate() {
        let mut states: Vec<u64> = answers.iter().map(|answer| answer.0).collect();
        states.dedup();
        eprintln!(
            "reader {index}: {} answers, {} distinct states",
            answers.len(),
            states.len()
        );
        assert!(answers.len() >= 3, "reader {index} answered {answers:?}");
        for &(default, named) in answers {
            assert_eq!(
                default, named,
                "reader {index} saw half a commit: {answers:?}"
            );
            assert_eq!(default % PER_UPDATE, 0, "reader {index}: {answers:?}");
        }
        assert!(
            answers.windows(2).all(|pair| pair[0].0 <= pair[1].0),
            "reader {index} went back in time: {answers:?}"
        );
    }
    let total = UPDATES * PER_UPDATE;
    for reader in readers.iter() {
        assert_eq!(paired_counts(reader), Some((total, total)));
        assert_eq!(reader.count(), Some(2 * total + 1));
    }
    drop(writer);
    assert_eq!(run(dir, &["count"]).trim(), (2 * total + 1).to_string());
}

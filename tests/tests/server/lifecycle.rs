//! Stopping: SIGTERM lets a running request finish within the grace period, cancels a long
//! one after it, and closes the store cleanly; SIGKILL during updates loses nothing
//! acknowledged and leaves no partial update.

use std::io::Read;
use std::time::{Duration, Instant};

use super::limits::start_request;
use super::support::{encode, host, triples, update, Server, LONG_QUERY};

#[test]
fn sigterm_during_a_long_query_cancels_it_after_the_grace_period_and_closes_the_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.nt"), triples(200)).unwrap();
    host(dir.path(), "kgdb_plugin_lmdb", &["load", "data.nt"]).expect_success();
    let mut server = Server::start(
        dir.path(),
        "kgdb_plugin_lmdb",
        &["--timeout", "0", "--grace", "1s"],
    );
    let mut long = start_request(&server, &format!("/query?query={}", encode(LONG_QUERY)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.metric("kgdb_queries_running") != Some(1.0) {
        assert!(Instant::now() < deadline, "the long query did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let signalled = Instant::now();
    server.terminate();
    let status = server
        .wait(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the server did not stop: {}", server.stderr()));
    let took = signalled.elapsed();
    assert!(status.success(), "{status:?}: {}", server.stderr());
    assert!(
        took >= Duration::from_millis(900),
        "it waited the grace period: {took:?}"
    );
    // The server's stderr is read by a thread of the test: let it reach the end.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.stderr().contains("stopped") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.stderr();
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(log.contains("running requests are cancelled"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(
        !log.contains("still running at exit"),
        "the store was closed: {log}"
    );
    // The client's response ends without a complete answer.
    let mut answer = String::new();
    let _ = long.read_to_string(&mut answer);
    assert!(!answer.contains("\"value\""), "{answer}");
    // The store opens and verifies.
    host(dir.path(), "kgdb_plugin_lmdb", &["verify"]).expect_success();
    let count = host(dir.path(), "kgdb_plugin_lmdb", &["count"]);
    assert_eq!(count.expect_success().trim(), "200");
}

#[test]
fn sigterm_lets_a_running_update_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), "kgdb_plugin_lmdb", &["--grace", "10s"]);
    let body = format!("INSERT DATA {{ {} }}", triples(20_000));
    let url = server.url("/update");
    let sender = std::thread::spawn(move || {
        super::support::post(&url, "application/sparql-update", &body, None).status
    });
    std::thread::sleep(Duration::from_millis(150));
    server.terminate();
    let status = sender.join().unwrap();
    assert!(server
        .wait(Duration::from_secs(30))
        .is_some_and(|s| s.success()));
    let count = host(dir.path(), "kgdb_plugin_lmdb", &["count"]);
    let count = count.expect_success().trim().to_owned();
    match status {
        204 => assert_eq!(count, "20000", "an acknowledged update is kept"),
        // The signal came before the request was read: it was refused whole.
        _ => assert_eq!(count, "0", "status {status}: no partial update"),
    }
    host(dir.path(), "kgdb_plugin_lmdb", &["verify"]).expect_success();
}

#[test]
fn sigkill_during_updates_keeps_every_acknowledged_one_and_no_partial_one() {
    const BATCH: u64 = 5_000;
    let dir = tempfile::tempdir().unwrap();
    let mut small = 0u64;
    let mut big = 0u64;
    for round in 0..4u64 {
        let server = Server::start(dir.path(), "kgdb_plugin_lmdb", &[]);
        // Acknowledged updates before the kill.
        for i in 0..3 {
            let text = format!(
                "INSERT DATA {{ <http://example.com/acked/{round}/{i}> <http://example.com/p> 1 }}"
            );
            update(&server, &text).expect(204);
            small += 1;
        }
        // A large update, killed at a different moment each round.
        let body: String = (0..BATCH)
            .map(|i| format!("<http://example.com/big/{round}/{i}> <http://example.com/p> {i} .\n"))
            .collect();
        let url = server.url("/update");
        let text = format!("INSERT DATA {{ {body} }}");
        let sender = std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            agent
                .post(&url)
                .header("Content-Type", "application/sparql-update")
                .send(text.as_bytes())
                .map(|response| response.status().as_u16())
                .ok()
        });
        std::thread::sleep(Duration::from_millis(40 * round));
        server.kill();
        let status = sender.join().unwrap();
        let count: u64 = host(dir.path(), "kgdb_plugin_lmdb", &["count"])
            .expect_success()
            .trim()
            .parse()
            .unwrap();
        assert!(
            count >= small,
            "round {round}: an acknowledged update was lost"
        );
        let big_now = (count - small) / BATCH;
        assert_eq!(
            count,
            small + big_now * BATCH,
            "round {round}: a partial update ({status:?})"
        );
        assert!(
            big_now == big || big_now == big + 1,
            "round {round}: {count}"
        );
        if status == Some(204) {
            assert_eq!(
                big_now,
                big + 1,
                "round {round}: an acknowledged update was lost"
            );
        }
        big = big_now;
        host(dir.path(), "kgdb_plugin_lmdb", &["verify"]).expect_success();
    }
}

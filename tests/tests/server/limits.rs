//! Limits and concurrency: read-only mode, body size, time limit, a full queue, a client
//! that goes away mid-stream, and readers beside a writer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::support::{
    delete, encode, get, host, json_number, post, put, query, triples, update, Server, LONG_QUERY,
};

/// A memory server holding `n` triples.
fn memory_server(n: usize, args: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "kgdb_plugin_memory", args);
    if n > 0 {
        put(
            &server.url("/store?default"),
            "application/n-triples",
            &triples(n),
        )
        .expect(204);
    }
    (dir, server)
}

/// Sends a GET of `path` and leaves the response unread; the connection closes when dropped.
pub fn start_request(server: &Server, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    stream
}

#[test]
fn a_read_only_server_answers_queries_and_refuses_every_write() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.nt"), triples(10)).unwrap();
    host(dir.path(), "kgdb_plugin_lmdb", &["load", "data.nt"]).expect_success();
    let server = Server::start(dir.path(), "kgdb_plugin_lmdb", &["--read-only"]);
    let count = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }";
    assert_eq!(
        json_number(query(&server, count, None).expect(200), "n"),
        10
    );
    update(&server, "CLEAR ALL").expect_error(403, &["read-only"]);
    put(&server.url("/store?default"), "text/turtle", "").expect_error(403, &["read-only"]);
    post(&server.url("/store?default"), "text/turtle", "", None).expect_error(403, &["read-only"]);
    delete(&server.url("/store?default")).expect_error(403, &["read-only"]);
    assert_eq!(
        json_number(query(&server, count, None).expect(200), "n"),
        10
    );
    let description = get(&server.url("/sparql"), None);
    assert!(!description.expect(200).body.contains("SPARQL11Update"));
}

#[test]
fn a_body_past_max_body_gets_413() {
    let (_dir, server) = memory_server(0, &["--max-body", "1KiB"]);
    let big = triples(100);
    assert!(big.len() > 1024);
    put(&server.url("/store?default"), "application/n-triples", &big)
        .expect_error(413, &["--max-body", "1 KiB"]);
    let update_text = format!("INSERT DATA {{ {big} }}");
    update(&server, &update_text).expect_error(413, &["--max-body"]);
    // A body without Content-Length (chunked) is cut at the limit too.
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    let mut request = String::from("PUT /store?default HTTP/1.1\r\nHost: x\r\nContent-Type: application/n-triples\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    for line in big.lines() {
        let chunk = format!("{line}\n");
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    put(
        &server.url("/store?default"),
        "application/n-triples",
        &triples(3),
    )
    .expect(204);
}

#[test]
fn a_query_past_the_time_limit_gets_503_and_the_server_goes_on() {
    let (_dir, server) = memory_server(200, &["--timeout", "1s"]);
    let started = Instant::now();
    let reply = query(&server, LONG_QUERY, None);
    reply.expect_error(503, &["time limit", "1s", "--timeout"]);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let count = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }";
    assert_eq!(
        json_number(query(&server, count, None).expect(200), "n"),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.metric("kgdb_queries_running") != Some(0.0) {
        assert!(Instant::now() < deadline, "the cancelled query still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
    // An update whose WHERE runs past the limit changes nothing.
    let slow_update = "INSERT { <http://example.com/x> <http://example.com/y> ?n } WHERE { SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } }";
    update(&server, slow_update).expect_error(503, &["time limit"]);
    assert_eq!(
        json_number(query(&server, count, None).expect(200), "n"),
        200
    );
}

#[test]
fn a_full_queue_gets_503_with_retry_after() {
    let (_dir, server) = memory_server(200, &["--workers", "1", "--queue", "0", "--timeout", "0"]);
    // The long query takes the only worker (it never ends: the server is killed at the end).
    let _long = start_request(&server, &format!("/query?query={}", encode(LONG_QUERY)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.metric("kgdb_queries_running") != Some(1.0) {
        assert!(Instant::now() < deadline, "the long query did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let reply = query(&server, "ASK {}", None);
    reply.expect_error(503, &["busy"]);
    assert_eq!(reply.header("retry-after"), Some("1"));
    // Writes have their own slot.
    update(&server, "INSERT DATA { <http://a> <http://b> 1 }").expect(204);
    get(&server.url("/health"), None).expect(200);
}

#[test]
fn a_client_that_goes_away_mid_stream_stops_its_query() {
    let (_dir, server) = memory_server(300, &["--timeout", "0"]);
    // 27 million rows: minutes to write in full.
    let text = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }";
    let mut stream = start_request(&server, &format!("/query?query={}", encode(text)));
    let mut received = vec![0u8; 256 << 10];
    let mut read = 0;
    while read < received.len() {
        let n = stream.read(&mut received[read..]).unwrap();
        assert!(n > 0, "the stream ended early");
        read += n;
    }
    let head = String::from_utf8_lossy(&received[..200]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("transfer-encoding: chunked"),
        "streamed: {head}"
    );
    assert_eq!(server.metric("kgdb_queries_running"), Some(1.0));
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.metric("kgdb_queries_running") != Some(0.0) {
        assert!(
            Instant::now() < deadline,
            "the query goes on without its client"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        server.metric("kgdb_query_duration_seconds_count"),
        Some(1.0)
    );
}

#[test]
fn each_reader_sees_one_consistent_snapshot_beside_a_writer() {
    let (_dir, server) = memory_server(0, &[]);
    let server = std::sync::Arc::new(server);
    const ROUNDS: usize = 60;
    let writer = {
        let server = std::sync::Arc::clone(&server);
        std::thread::spawn(move || {
            for i in 0..ROUNDS {
                // Two triples per update, in two predicates: a snapshot sees both or neither.
                update(
                    &server,
                    &format!("INSERT DATA {{ <http://example.com/s{i}> <http://example.com/left> {i} . <http://example.com/s{i}> <http://example.com/right> {i} }}"),
                )
                .expect(204);
            }
        })
    };
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let server = std::sync::Arc::clone(&server);
            std::thread::spawn(move || {
                let text = "SELECT ?left ?right WHERE { { SELECT (COUNT(*) AS ?left) { ?s <http://example.com/left> ?o } } { SELECT (COUNT(*) AS ?right) { ?s <http://example.com/right> ?o } } }";
                let mut seen = Vec::new();
                for _ in 0..40 {
                    let reply = query(&server, text, None);
                    let (left, right) = (json_number(&reply, "left"), json_number(&reply, "right"));
                    assert_eq!(left, right, "a reader saw half an update");
                    seen.push(left);
                }
                seen
            })
        })
        .collect();
    writer.join().unwrap();
    for reader in readers {
        let seen = reader.join().unwrap();
        assert!(
            seen.windows(2).all(|w| w[0] <= w[1]),
            "counts only grow: {seen:?}"
        );
    }
    let count = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }";
    assert_eq!(
        json_number(query(&server, count, None).expect(200), "n"),
        2 * ROUNDS as u64
    );
}

#[test]
fn a_response_cut_short_by_the_time_limit_never_looks_complete() {
    let (_dir, server) = memory_server(300, &["--timeout", "1s"]);
    // 27 million rows: the first leave at once, the time limit ends the query mid-stream.
    let text = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }";
    let mut stream = start_request(&server, &format!("/query?query={}", encode(text)));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(
        received.len() > 100_000,
        "rows were streamed before the limit"
    );
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "a chunked response cut short must not end with the last chunk"
    );
    assert!(
        !text.trim_end().ends_with("]}}"),
        "nor with the end of a JSON document"
    );
}

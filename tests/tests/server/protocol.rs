//! The SPARQL 1.1 Protocol: every way of sending a query or an update, content negotiation,
//! the dataset parameters, the service description, errors, /metrics and /health.

use oxrdfio::{RdfFormat, RdfParser};

use super::support::{encode, get, json_number, post, put, query, update, Reply, Server};

const DATA: &str = "\
<http://example.com/alice> <http://xmlns.com/foaf/0.1/name> \"Alice\" .
<http://example.com/alice> <http://xmlns.com/foaf/0.1/knows> <http://example.com/bob> .
<http://example.com/bob> <http://xmlns.com/foaf/0.1/name> \"Bob\" .
";

/// A memory server holding `DATA` in the default graph and one triple in each of two named
/// graphs.
fn server() -> (tempfile::TempDir, Server) {
    server_with(&[])
}

/// [`server`] started with `args`.
fn server_with(args: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "kgdb_plugin_memory", args);
    put(&server.url("/store?default"), "application/n-triples", DATA).expect(204);
    for graph in ["g1", "g2"] {
        put(
            &server.url(&format!("/store?graph=http://example.com/{graph}")),
            "text/turtle",
            &format!("<http://example.com/{graph}s> <http://example.com/in> \"{graph}\" ."),
        )
        .expect(201);
    }
    (dir, server)
}

const NAMES: &str =
    "SELECT ?name WHERE { ?p <http://xmlns.com/foaf/0.1/name> ?name } ORDER BY ?name";

fn names_in_json(reply: &Reply) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    value["results"]["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"]["value"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_query_comes_by_get_by_post_and_by_form_on_query_and_sparql() {
    let (_dir, server) = server();
    let by_get = query(&server, NAMES, None);
    by_get.expect(200);
    assert!(by_get
        .content_type
        .starts_with("application/sparql-results+json"));
    assert_eq!(names_in_json(&by_get), ["Alice", "Bob"]);
    for path in ["/query", "/sparql"] {
        let direct = post(&server.url(path), "application/sparql-query", NAMES, None);
        assert_eq!(
            names_in_json(direct.expect(200)),
            ["Alice", "Bob"],
            "{path}"
        );
        let form = post(
            &server.url(path),
            "application/x-www-form-urlencoded",
            &format!("query={}", encode(NAMES)),
            None,
        );
        assert_eq!(names_in_json(form.expect(200)), ["Alice", "Bob"], "{path}");
        let by_get = get(
            &server.url(&format!("{path}?query={}", encode(NAMES))),
            None,
        );
        assert_eq!(
            names_in_json(by_get.expect(200)),
            ["Alice", "Bob"],
            "{path}"
        );
    }
}

#[test]
fn results_are_negotiated_by_accept_with_q_values() {
    let (_dir, server) = server();
    let xml = query(&server, NAMES, Some("application/sparql-results+xml"));
    assert!(xml
        .expect(200)
        .content_type
        .starts_with("application/sparql-results+xml"));
    assert!(xml.body.contains("<literal>Alice</literal>"), "{xml:#?}");
    let csv = query(&server, NAMES, Some("text/csv"));
    assert!(csv.expect(200).content_type.starts_with("text/csv"));
    assert_eq!(csv.body.replace("\r\n", "\n"), "name\nAlice\nBob\n");
    let tsv = query(&server, NAMES, Some("text/tab-separated-values"));
    assert!(tsv
        .expect(200)
        .content_type
        .starts_with("text/tab-separated-values"));
    assert_eq!(tsv.body, "?name\n\"Alice\"\n\"Bob\"\n");
    let preferred = query(
        &server,
        NAMES,
        Some("text/csv;q=0.4, application/sparql-results+xml;q=0.9, */*;q=0.1"),
    );
    assert!(preferred
        .expect(200)
        .content_type
        .starts_with("application/sparql-results+xml"));
    let browser = query(
        &server,
        NAMES,
        Some("text/html,application/xhtml+xml,*/*;q=0.8"),
    );
    assert!(browser
        .expect(200)
        .content_type
        .starts_with("application/sparql-results+json"));
    let ask = query(
        &server,
        "ASK { ?s ?p \"Bob\" }",
        Some("application/sparql-results+json"),
    );
    let value: serde_json::Value = serde_json::from_str(&ask.expect(200).body).unwrap();
    assert_eq!(value["boolean"], true);
    query(&server, NAMES, Some("image/png")).expect_error(406, &["image/png", "text/csv"]);
}

#[test]
fn graphs_are_written_in_every_rdf_format() {
    let (_dir, server) = server();
    let construct = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }";
    let cases = [
        (None, RdfFormat::Turtle),
        (Some("text/turtle"), RdfFormat::Turtle),
        (Some("application/n-triples"), RdfFormat::NTriples),
        (Some("application/rdf+xml"), RdfFormat::RdfXml),
        (Some("application/n-quads"), RdfFormat::NQuads),
        (Some("application/trig"), RdfFormat::TriG),
        (
            Some("application/ld+json"),
            RdfFormat::from_media_type("application/ld+json").unwrap(),
        ),
    ];
    for (accept, format) in cases {
        let reply = query(&server, construct, accept);
        reply.expect(200);
        assert!(
            reply.content_type.starts_with(format.media_type()),
            "{accept:?}: {reply:#?}"
        );
        let parsed: Vec<_> = RdfParser::from_format(format)
            .for_slice(reply.body.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap_or_else(|error| panic!("{accept:?}: {error}: {}", reply.body));
        assert_eq!(parsed.len(), 3, "{accept:?}: {}", reply.body);
    }
    query(&server, construct, Some("text/csv")).expect_error(406, &["text/turtle"]);
}

#[test]
fn the_protocol_dataset_replaces_the_query_dataset() {
    let (_dir, server) = server();
    let count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }";
    assert_eq!(json_number(query(&server, count, None).expect(200), "n"), 3);
    let from_g1 = get(
        &server.url(&format!(
            "/query?query={}&default-graph-uri={}",
            encode(count),
            encode("http://example.com/g1")
        )),
        None,
    );
    assert_eq!(json_number(from_g1.expect(200), "n"), 1);
    let both = get(
        &server.url(&format!(
            "/query?query={}&default-graph-uri={}&default-graph-uri={}",
            encode(count),
            encode("http://example.com/g1"),
            encode("http://example.com/g2")
        )),
        None,
    );
    assert_eq!(json_number(both.expect(200), "n"), 2);
    let graphs = "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }";
    let named = post(
        &server.url("/query"),
        "application/x-www-form-urlencoded",
        &format!(
            "query={}&named-graph-uri={}",
            encode(graphs),
            encode("http://example.com/g2")
        ),
        None,
    );
    assert_eq!(json_number(named.expect(200), "n"), 1);
    get(
        &server.url(&format!(
            "/query?query={}&default-graph-uri=not%20an%20iri",
            encode(count)
        )),
        None,
    )
    .expect_error(400, &["default-graph-uri", "not an iri"]);
}

#[test]
fn updates_come_by_post_and_by_form_with_using_graphs() {
    let (_dir, server) = server();
    update(
        &server,
        "INSERT DATA { <http://example.com/carol> <http://xmlns.com/foaf/0.1/name> \"Carol\" }",
    )
    .expect(204);
    post(
        &server.url("/sparql"),
        "application/x-www-form-urlencoded",
        &format!(
            "update={}",
            encode(
                "INSERT DATA { <http://example.com/dan> <http://xmlns.com/foaf/0.1/name> \"Dan\" }"
            )
        ),
        None,
    )
    .expect(204);
    assert_eq!(
        names_in_json(query(&server, NAMES, None).expect(200)),
        ["Alice", "Bob", "Carol", "Dan"]
    );
    // using-graph-uri: the WHERE clause reads g1 only, the insert goes to the default graph.
    post(
        &server.url(&format!(
            "/update?using-graph-uri={}",
            encode("http://example.com/g1")
        )),
        "application/sparql-update",
        "INSERT { ?s <http://example.com/copied> ?o } WHERE { ?s <http://example.com/in> ?o }",
        None,
    )
    .expect(204);
    let copied = query(
        &server,
        "SELECT (COUNT(*) AS ?n) WHERE { ?s <http://example.com/copied> ?o }",
        None,
    );
    assert_eq!(
        json_number(copied.expect(200), "n"),
        1,
        "only g1's triple was copied"
    );
    post(
        &server.url(&format!(
            "/update?using-graph-uri={}",
            encode("http://example.com/g1")
        )),
        "application/sparql-update",
        "WITH <http://example.com/g2> INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
        None,
    )
    .expect_error(400, &["using-graph-uri", "USING or WITH"]);
    // An update is refused on GET and on /query; a query on /update.
    get(
        &server.url(&format!("/sparql?update={}", encode("CLEAR ALL"))),
        None,
    )
    .expect_error(400, &["POST"]);
    post(
        &server.url("/query"),
        "application/sparql-update",
        "CLEAR ALL",
        None,
    )
    .expect_error(400, &["/query takes queries only"]);
    post(
        &server.url("/update"),
        "application/x-www-form-urlencoded",
        &format!("query={}", encode(NAMES)),
        None,
    )
    .expect_error(400, &["/update takes updates only"]);
    update(&server, "LOAD <file:///etc/passwd>").expect_error(400, &["LOAD", "not allowed"]);
    update(&server, "CREATE GRAPH <http://example.com/g1>")
        .expect_error(400, &["already exists", "nothing was changed"]);
    assert_eq!(
        names_in_json(query(&server, NAMES, None).expect(200)),
        ["Alice", "Bob", "Carol", "Dan"],
        "failed updates changed nothing"
    );
}

#[test]
fn errors_name_the_problem_in_plain_text() {
    let (_dir, server) = server();
    query(&server, "SELECT ?x WHERE { ?x ?y }", None).expect_error(400, &["query:1:"]);
    update(&server, "INSERT DATA { <a> }").expect_error(400, &["update:1:"]);
    post(&server.url("/query"), "text/plain", "SELECT * {}", None)
        .expect_error(415, &["text/plain", "application/sparql-query"]);
    get(&server.url("/nowhere"), None).expect_error(404, &["/nowhere", "/query"]);
    let wrong_method = super::support::delete(&server.url("/query"));
    wrong_method.expect_error(405, &["DELETE"]);
    assert_eq!(wrong_method.header("allow"), Some("GET, HEAD, POST"));
    get(
        &server.url(&format!(
            "/query?query={}&query={}",
            encode(NAMES),
            encode(NAMES)
        )),
        None,
    )
    .expect_error(400, &["more than once"]);
    post(
        &server.url("/query"),
        "application/sparql-query",
        "SELECT * { ?s ?p \u{0} }",
        None,
    )
    .expect_error(400, &["query:1:"]);
}

#[test]
fn a_get_without_a_query_describes_the_service() {
    let (_dir, server) = server();
    for (path, languages) in [
        ("/sparql", &["SPARQL11Query", "SPARQL11Update"][..]),
        ("/query", &["SPARQL11Query"][..]),
    ] {
        let reply = get(&server.url(path), None);
        reply.expect(200);
        assert!(reply.content_type.starts_with("text/turtle"), "{reply:#?}");
        let triples: Vec<oxrdf::Triple> = RdfParser::from_format(RdfFormat::Turtle)
            .for_slice(reply.body.as_bytes())
            .map(|quad| quad.map(oxrdf::Triple::from))
            .collect::<Result<_, _>>()
            .unwrap();
        let endpoint = triples
            .iter()
            .find(|t| t.predicate.as_str().ends_with("#endpoint"))
            .expect("sd:endpoint");
        assert_eq!(
            endpoint.object.to_string(),
            format!("<{}>", server.url(path))
        );
        let mut supported: Vec<String> = triples
            .iter()
            .filter(|t| t.predicate.as_str().ends_with("#supportedLanguage"))
            .map(|t| t.object.to_string())
            .collect();
        supported.sort();
        let expected: Vec<String> = languages
            .iter()
            .map(|l| format!("<http://www.w3.org/ns/sparql-service-description#{l}>"))
            .collect();
        assert_eq!(supported, expected, "{path}");
    }
}

#[test]
fn metrics_count_requests_and_health_answers() {
    let (_dir, server) = server();
    query(&server, NAMES, None).expect(200);
    query(&server, "SELECT", None).expect(400);
    let health = get(&server.url("/health"), None);
    health.expect(200);
    assert_eq!(health.body, "ok\n");
    // A query counts as running until the server has dropped its streamed body, which may
    // come a moment after the client read the last byte: wait for the gauge to come back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let metrics = loop {
        let metrics = get(&server.url("/metrics"), None);
        metrics.expect(200);
        if metrics
            .body
            .lines()
            .any(|line| line == "kgdb_queries_running 0")
            || std::time::Instant::now() > deadline
        {
            break metrics;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(metrics
        .content_type
        .starts_with("text/plain; version=0.0.4"));
    let value = |series: &str| -> f64 {
        metrics
            .body
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{}", metrics.body))
    };
    assert_eq!(
        value("kgdb_http_requests_total{endpoint=\"/query\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        value("kgdb_http_requests_total{endpoint=\"/query\",status=\"400\"}"),
        1.0
    );
    assert_eq!(
        value("kgdb_http_requests_total{endpoint=\"/store\",status=\"201\"}"),
        2.0
    );
    assert_eq!(value("kgdb_query_duration_seconds_count"), 2.0);
    assert_eq!(
        value("kgdb_query_duration_seconds_bucket{le=\"+Inf\"}"),
        2.0
    );
    assert_eq!(value("kgdb_store_quads"), 5.0);
    assert_eq!(value("kgdb_queries_running"), 0.0);
    assert!(value("kgdb_backend_operations_total{op=\"begin\"}") > 0.0);
    assert!(value("kgdb_store_events_total{name=\"quads_inserted\"}") >= 5.0);
    // Every line is a comment or `series value`.
    for line in metrics.body.lines() {
        assert!(
            line.starts_with('#')
                || line
                    .rsplit_once(' ')
                    .is_some_and(|(_, v)| v.parse::<f64>().is_ok()),
            "{line}"
        );
    }
    // The server's stderr is read by a thread of the test: give it a moment.
    let logged = |log: &str| {
        log.lines().any(|line| {
            line.contains("INFO")
                && line.contains("method=GET")
                && line.contains("path=/query")
                && line.contains("status=400")
                && line.contains("ms=")
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !logged(&server.stderr()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = server.stderr();
    assert!(logged(&log), "one line per request: {log}");
}

#[test]
fn cors_answers_the_allowed_origins_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        "kgdb_plugin_memory",
        &["--cors", "https://app.example.com"],
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = server.url(&format!("/query?query={}", encode("ASK {}")));
    let allowed = agent
        .get(&url)
        .header("Origin", "https://app.example.com")
        .call()
        .unwrap();
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example.com")
    );
    let other = agent
        .get(&url)
        .header("Origin", "https://elsewhere.example.com")
        .call()
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let preflight = agent
        .options(&server.url("/update"))
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .call()
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 200);
    let methods = preflight
        .headers()
        .get("access-control-allow-methods")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    // Without --cors, no CORS header at all.
    let (_dir2, plain) = server_with(&[]);
    let answer = agent
        .get(&plain.url(&format!("/query?query={}", encode("ASK {}"))))
        .header("Origin", "https://app.example.com")
        .call()
        .unwrap();
    assert!(answer
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[test]
fn the_union_default_graph_option_reads_every_named_graph() {
    let (_dir, server) = server_with(&["--union-default-graph"]);
    let count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }";
    // The default graph's 3 triples are not in the union of the named graphs' 2.
    assert_eq!(json_number(query(&server, count, None).expect(200), "n"), 2);
    let description = get(&server.url("/sparql"), None);
    assert!(description.expect(200).body.contains("UnionDefaultGraph"));
}

//! The Graph Store HTTP Protocol: PUT, POST, GET, HEAD and DELETE on named graphs, the
//! default graph and the dataset; bodies by `Content-Type`; atomic writes.

use oxrdf::{Dataset, Graph};
use oxrdfio::{RdfFormat, RdfParser};

use super::support::{delete, get, head, json_number, post, put, query, Server};

const G: &str = "/store?graph=http://example.com/g";

fn graph(text: &str, format: RdfFormat) -> Graph {
    let mut graph = Graph::new();
    for quad in RdfParser::from_format(format).for_slice(text.as_bytes()) {
        graph.insert(&oxrdf::Triple::from(quad.unwrap()));
    }
    graph.canonicalize(oxrdf::graph::CanonicalizationAlgorithm::Unstable);
    graph
}

const BODY: &str =
    "@prefix ex: <http://example.com/> .\nex:a ex:p \"one\" , \"two\" ; ex:q [ ex:r 1 ] .\n";

#[test]
fn put_then_get_round_trips_a_graph_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "kgdb_plugin_memory", &[]);
    put(&server.url(G), "text/turtle", BODY).expect(201);
    let expected = graph(BODY, RdfFormat::Turtle);
    for (accept, format) in [
        ("text/turtle", RdfFormat::Turtle),
        ("application/n-triples", RdfFormat::NTriples),
        ("application/rdf+xml", RdfFormat::RdfXml),
        (
            "application/ld+json",
            RdfFormat::from_media_type("application/ld+json").unwrap(),
        ),
    ] {
        let reply = get(&server.url(G), Some(accept));
        reply.expect(200);
        assert!(reply.content_type.starts_with(accept), "{reply:#?}");
        assert_eq!(graph(&reply.body, format), expected, "{accept}");
    }
    // A second PUT replaces the graph: 204.
    put(
        &server.url(G),
        "application/n-triples",
        "<http://example.com/x> <http://example.com/y> <http://example.com/z> .\n",
    )
    .expect(204);
    let now = get(&server.url(G), Some("application/n-triples"));
    assert_eq!(
        now.expect(200).body,
        "<http://example.com/x> <http://example.com/y> <http://example.com/z> .\n"
    );
}

#[test]
fn post_merges_head_answers_without_a_body_and_delete_removes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "kgdb_plugin_memory", &[]);
    head(&server.url(G)).expect(404);
    post(
        &server.url(G),
        "application/n-triples",
        "<http://example.com/a> <http://example.com/p> \"1\" .\n",
        None,
    )
    .expect(201);
    post(
        &server.url(G),
        "text/turtle",
        "<http://example.com/a> <http://example.com/p> 2 .\n",
        None,
    )
    .expect(204);
    let count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <http://example.com/g> { ?s ?p ?o } }";
    assert_eq!(json_number(query(&server, count, None).expect(200), "n"), 2);
    let headed = head(&server.url(G));
    headed.expect(200);
    assert!(headed.content_type.starts_with("text/turtle"));
    assert!(headed.body.is_empty());
    // The default graph.
    put(
        &server.url("/store?default"),
        "application/n-triples",
        "<http://example.com/d> <http://example.com/p> \"3\" .\n",
    )
    .expect(204);
    assert_eq!(
        get(&server.url("/store?default"), Some("application/n-triples"))
            .expect(200)
            .body,
        "<http://example.com/d> <http://example.com/p> \"3\" .\n"
    );
    // The whole dataset, in TriG by default.
    let all = get(&server.url("/store"), None);
    assert!(all.expect(200).content_type.starts_with("application/trig"));
    let mut dataset = Dataset::new();
    for quad in RdfParser::from_format(RdfFormat::TriG).for_slice(all.body.as_bytes()) {
        dataset.insert(&quad.unwrap());
    }
    assert_eq!(dataset.len(), 3);
    get(&server.url("/store"), Some("text/turtle")).expect_error(406, &["application/trig"]);
    // DELETE: 204, then 404.
    delete(&server.url(G)).expect(204);
    delete(&server.url(G)).expect_error(404, &["no graph <http://example.com/g>"]);
    get(&server.url(G), None).expect_error(404, &["no graph"]);
    delete(&server.url("/store?default")).expect(204);
    assert_eq!(
        json_number(
            &query(&server, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", None),
            "n"
        ),
        0
    );
    delete(&server.url("/store")).expect_error(405, &["CLEAR ALL"]);
}

#[test]
fn a_put_of_an_empty_body_makes_an_empty_graph() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "kgdb_plugin_memory", &[]);
    put(&server.url(G), "text/turtle", "").expect(201);
    head(&server.url(G)).expect(200);
    let listed = query(
        &server,
        "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g {} }",
        None,
    );
    assert_eq!(json_number(listed.expect(200), "n"), 1);
}

#[test]
fn a_bad_body_is_refused_whole_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "kgdb_plugin_memory", &[]);
    put(&server.url(G), "text/turtle", BODY).expect(201);
    let before = get(&server.url(G), Some("application/n-triples")).body;
    // Valid statements first, a bad one on line 3: nothing of it is stored.
    let bad = "<http://example.com/n1> <http://example.com/p> \"1\" .\n<http://example.com/n2> <http://example.com/p> \"2\" .\n<http://example.com/n3> <http://example.com/p> .\n";
    for method in ["PUT", "POST"] {
        let reply = if method == "PUT" {
            put(&server.url(G), "application/n-triples", bad)
        } else {
            post(&server.url(G), "application/n-triples", bad, None)
        };
        reply.expect_error(400, &["the request body:3:", "nothing was changed"]);
        assert_eq!(
            get(&server.url(G), Some("application/n-triples")).body,
            before,
            "{method}"
        );
    }
    put(&server.url(G), "image/png", "x").expect_error(415, &["image/png", "text/turtle"]);
    super::support::reply_without_content_type(&server.url(G))
        .expect_error(415, &["no Content-Type"]);
    // A quad in another graph cannot go into one graph.
    put(
        &server.url(G),
        "application/n-quads",
        "<http://a> <http://b> <http://c> <http://other> .\n",
    )
    .expect_error(400, &["graph <http://other>", "triples only"]);
    put(&server.url("/store?graph=relative"), "text/turtle", BODY)
        .expect_error(400, &["graph=relative"]);
    put(
        &server.url("/store?graph=http://a&default"),
        "text/turtle",
        BODY,
    )
    .expect_error(400, &["not both"]);
    assert_eq!(
        get(&server.url(G), Some("application/n-triples")).body,
        before
    );
}

#[test]
fn relative_iris_of_a_body_resolve_against_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "kgdb_plugin_memory", &[]);
    put(&server.url(G), "text/turtle", "<a> <b> <c> .").expect(201);
    assert_eq!(
        get(&server.url(G), Some("application/n-triples")).body,
        "<http://example.com/a> <http://example.com/b> <http://example.com/c> .\n"
    );
}

//! RDF inputs: syntax errors in every format, broken compression, unknown formats, files that
//! are not files, terms over the store's limit, bad load options.

use crate::case::Case;

const GOOD_NT: &str = "<http://e/a> <http://e/p> \"ok\" .\n";

fn load(name: &str, file: &str, bytes: impl Into<Vec<u8>>, fragments: &[&str]) -> Case {
    Case::new("rdf", name, &["load", file])
        .file(file, bytes)
        .error(1, fragments)
}

/// One syntax error on line 2 of `ext`, loaded normally and leniently-but-wholly-bad.
fn syntax(ext: &str, what: &str, second_line: &str, location: &str) -> Vec<Case> {
    let file = format!("bad-{what}.{ext}");
    let text = format!("{}{second_line}\n", first_line(ext));
    vec![load(
        &format!("{ext}_{what}"),
        &file,
        text,
        &[&format!("{file}{location}"), "nothing was loaded"],
    )]
}

/// Where the parser finds each error: a missing dot only at the end of the input.
fn at(what: &str) -> &'static str {
    if what == "missing_dot" {
        ":3:1"
    } else {
        ":2:"
    }
}

fn first_line(ext: &str) -> &'static str {
    match ext {
        "nt" | "nq" => GOOD_NT,
        "ttl" | "n3" => "@prefix e: <http://e/> .\n",
        "trig" => "@prefix e: <http://e/> .\n",
        _ => "",
    }
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for ext in ["nt", "nq"] {
        for (what, line) in [
            ("unterminated_string", "<http://e/a> <http://e/p> \"open ."),
            ("unterminated_iri", "<http://e/a <http://e/p> \"x\" ."),
            ("missing_dot", "<http://e/a> <http://e/p> \"x\""),
            ("literal_subject", "\"s\" <http://e/p> \"x\" ."),
            ("relative_iri", "<a> <http://e/p> \"x\" ."),
            ("bad_escape", "<http://e/a> <http://e/p> \"\\q\" ."),
            ("bad_language_tag", "<http://e/a> <http://e/p> \"x\"@-bad ."),
            ("prefixed_name", "e:a e:p e:o ."),
            ("space_in_iri", "<http://e/a b> <http://e/p> \"x\" ."),
        ] {
            cases.extend(syntax(ext, what, line, at(what)));
        }
    }
    for ext in ["ttl", "trig", "n3"] {
        for (what, line) in [
            ("unknown_prefix", "x:a x:p x:o ."),
            ("unterminated_string", "e:a e:p \"open ."),
            ("missing_dot", "e:a e:p e:o"),
            ("bad_escape", "e:a e:p \"\\q\" ."),
            ("unbalanced_bracket", "e:a e:p [ e:q e:r ."),
        ] {
            cases.extend(syntax(ext, what, line, at(what)));
        }
    }
    cases.extend(syntax("trig", "unclosed_graph", "e:g { e:a e:p e:o .", ":"));
    let rdf = |body: &str| {
        format!("<?xml version=\"1.0\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns:e=\"http://e/\">\n{body}\n</rdf:RDF>\n")
    };
    for (what, body) in [
        (
            "unclosed_element",
            "<rdf:Description rdf:about=\"http://e/a\">",
        ),
        (
            "bad_iri",
            "<rdf:Description rdf:about=\"not an iri\"><e:p>x</e:p></rdf:Description>",
        ),
        (
            "undeclared_prefix",
            "<rdf:Description rdf:about=\"http://e/a\"><x:p>x</x:p></rdf:Description>",
        ),
        ("billion_laughs_entity", ""),
    ] {
        let text = if what == "billion_laughs_entity" {
            let mut text = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rdf:RDF [\n<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n");
            let mut previous = "a".to_owned();
            for level in 0..10 {
                let name = format!("l{level}");
                text.push_str(&format!(
                    "<!ENTITY {name} \"{}\">\n",
                    format!("&{previous};").repeat(10)
                ));
                previous = name;
            }
            text.push_str(&format!("]>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns:e=\"http://e/\"><rdf:Description rdf:about=\"http://e/a\"><e:p>&{previous};</e:p></rdf:Description></rdf:RDF>\n"));
            text
        } else {
            rdf(body)
        };
        let file = format!("bad-{what}.rdf");
        // The entity guard knows the line; the parser's own errors are placed by its byte
        // offset.
        let place = if what == "billion_laughs_entity" {
            format!("{file}:7:")
        } else {
            format!("{file}:")
        };
        cases.push(load(
            &format!("rdfxml_{what}"),
            &file,
            text,
            &[&place, "nothing was loaded"],
        ));
    }
    for (what, text) in [
        ("not_json", "{ this is not json"),
        (
            "bad_value",
            "{\"@id\": \"http://e/a\", \"http://e/p\": {\"@value\": {\"x\": 1}}}",
        ),
        ("id_a_number", "{\"@id\": 5}"),
        ("unclosed_array", "[1,2"),
        ("bad_context", "{\"@context\": 5, \"@id\": \"http://e/a\"}"),
    ] {
        let file = format!("bad-{what}.jsonld");
        cases.push(load(
            &format!("jsonld_{what}"),
            &file,
            text,
            &[&file, "nothing was loaded"],
        ));
    }
    let value = "v".repeat(8_000_001);
    for ext in ["nt", "ttl", "rdf"] {
        let text = match ext {
            "rdf" => rdf(&format!(
                "<rdf:Description rdf:about=\"http://e/a\"><e:p>{value}</e:p></rdf:Description>"
            )),
            "ttl" => format!("<http://e/a> <http://e/p> \"{value}\" .\n"),
            _ => format!("<http://e/a> <http://e/p> \"{value}\" .\n"),
        };
        let file = format!("huge.{ext}");
        cases.push(load(
            &format!("{ext}_term_over_the_limit"),
            &file,
            text,
            &[&file, "bytes a term may take"],
        ));
    }
    cases.extend([
        load(
            "invalid_utf8",
            "latin1.nt",
            b"<http://e/a> <http://e/p> \"caf\xe9\" .\n".to_vec(),
            &["latin1.nt:1", "nothing was loaded"],
        ),
        load(
            "binary_garbage_nt",
            "garbage.nt",
            vec![0u8, 159, 146, 150, 255, 0, 10],
            &["garbage.nt:1"],
        ),
        load(
            "truncated_gzip",
            "cut.nt.gz",
            truncated_gzip(),
            &["cut.nt.gz"],
        ),
        load("not_gzip", "plain.nt.gz", GOOD_NT, &["plain.nt.gz"]),
        load(
            "unknown_extension",
            "data.xyz",
            GOOD_NT,
            &["data.xyz", "--format"],
        ),
        Case::new(
            "rdf",
            "unknown_format_name",
            &["load", "--format", "yaml", "ok.nt"],
        )
        .file("ok.nt", GOOD_NT)
        .error(1, &["yaml"]),
        Case::new("rdf", "missing_file", &["load", "nothing-here.nt"])
            .error(1, &["nothing-here.nt"]),
        Case::new("rdf", "a_directory", &["load", "kgdb-data"])
            .error(1, &["kgdb-data", "is a directory"]),
        Case::new("rdf", "second_file_bad", &["load", "ok.nt", "bad.nt"])
            .file("ok.nt", GOOD_NT)
            .file("bad.nt", "<http://e/b> <http://e/p> \"open .\n")
            .error(1, &["bad.nt:1", "nothing was loaded"]),
        Case::new("rdf", "stdin_without_format", &["load", "-"]).error(1, &["--format"]),
        Case::new(
            "rdf",
            "base_not_an_iri",
            &["load", "--base", "not an iri", "ok.ttl"],
        )
        .file("ok.ttl", GOOD_NT)
        .error(1, &["invalid base IRI"]),
        Case::new(
            "rdf",
            "base_relative",
            &["load", "--base", "relative/path", "ok.nt"],
        )
        .file("ok.nt", GOOD_NT)
        .error(1, &["invalid base IRI"]),
        Case::new(
            "rdf",
            "graph_a_literal",
            &["load", "--graph", "\"lit\"", "ok.nt"],
        )
        .file("ok.nt", GOOD_NT)
        .error(1, &["graph"]),
        Case::new(
            "rdf",
            "graph_not_an_iri",
            &["load", "--graph", "not an iri", "ok.nt"],
        )
        .file("ok.nt", GOOD_NT)
        .error(1, &["graph"]),
        Case::new(
            "rdf",
            "chunk_quads_zero",
            &["load", "--chunk-quads", "0", "ok.nt"],
        )
        .file("ok.nt", GOOD_NT)
        .error(2, &["chunk"]),
        Case::new(
            "rdf",
            "chunk_quads_text",
            &["load", "--chunk-quads", "many", "ok.nt"],
        )
        .file("ok.nt", GOOD_NT)
        .error(2, &["chunk"]),
        Case::new(
            "rdf",
            "load_path_unknown",
            &["load", "--load-path", "teleport", "ok.nt"],
        )
        .file("ok.nt", GOOD_NT)
        .error(2, &["teleport"]),
        Case::new(
            "rdf",
            "lenient_gives_up",
            &["load", "--lenient", "all-bad.nt"],
        )
        .file("all-bad.nt", "not rdf at all .\n".repeat(10_001))
        .error(1, &["all-bad.nt", "gave up after 10000"]),
    ]);
    cases
}

fn truncated_gzip() -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(GOOD_NT.repeat(100).as_bytes()).unwrap();
    let bytes = encoder.finish().unwrap();
    bytes[..bytes.len() / 2].to_vec()
}

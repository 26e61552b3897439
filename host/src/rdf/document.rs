//! Parsing one RDF document the caller holds (a request body) statement by statement, with
//! the checks of a load: terms within the store's limits, RDF/XML entities bounded, blank nodes
//! fresh for the document, and errors placed at `name:line:column`.

use std::io::Read;

use oxrdf::Quad;
use oxrdfio::RdfFormat;

use super::blank_nodes::BlankNodeRenamer;
use super::input::counted_input;
use super::load::{check_quad, input_parser, quads_of, read_error, LoadError, ParseFailure};
use super::LoadRequest;
use crate::store::TermLimits;

/// Parses `reader`, a document in `format` called `name` in errors, and hands each quad to
/// `each` (its blank nodes fresh: two documents never share one); returns how many quads
/// it handed over. Relative IRIs resolve against `base_iri`.
///
/// # Errors
/// [`LoadError::Syntax`] at the first bad statement (a term over `limits` is one);
/// [`LoadError::Read`]; [`LoadError::BaseIri`]; whatever `each` returns.
pub fn parse_document(
    reader: impl Read + Send + 'static,
    format: RdfFormat,
    base_iri: Option<&str>,
    name: &str,
    limits: TermLimits,
    mut each: impl FnMut(Quad) -> Result<(), LoadError>,
) -> Result<u64, LoadError> {
    let request = LoadRequest {
        base_iri: base_iri.map(str::to_owned),
        ..LoadRequest::default()
    };
    let parser = input_parser(&request, format)?;
    let input = counted_input(Box::new(reader), format);
    let renamer = BlankNodeRenamer::new();
    let mut quads = 0u64;
    for result in quads_of(parser, input.reader, name, &input.lines) {
        let quad = match result {
            Ok(quad) => quad,
            Err(ParseFailure::Syntax(skipped)) => {
                return Err(LoadError::Syntax {
                    location: skipped.location,
                    message: skipped.message,
                })
            }
            Err(ParseFailure::Read(error)) => return Err(read_error(name, error)),
        };
        quads += 1;
        if let Err(error) = check_quad(limits, &quad) {
            return Err(LoadError::Syntax {
                location: format!(
                    "{name}, statement {quads} (at or before line {})",
                    input.lines.reached()
                ),
                message: error.to_string(),
            });
        }
        each(renamer.quad(quad))?;
    }
    Ok(quads)
}

#[cfg(test)]
mod tests {
    use super::parse_document;
    use crate::rdf::LoadError;
    use crate::store::{TermLimits, MAX_TERM_TEXT_BYTES};
    use oxrdfio::RdfFormat;

    const LIMITS: TermLimits = TermLimits {
        text_bytes: MAX_TERM_TEXT_BYTES,
        stored_bytes: usize::MAX,
    };

    fn parse(text: &'static str, format: RdfFormat) -> Result<Vec<oxrdf::Quad>, LoadError> {
        let mut quads = Vec::new();
        parse_document(
            text.as_bytes(),
            format,
            Some("http://example.com/"),
            "body",
            LIMITS,
            |quad| {
                quads.push(quad);
                Ok(())
            },
        )?;
        Ok(quads)
    }

    #[test]
    fn relative_iris_resolve_and_blank_nodes_are_fresh() {
        let first = parse("<a> <b> _:x .", RdfFormat::Turtle).unwrap();
        let second = parse("<a> <b> _:x .", RdfFormat::Turtle).unwrap();
        assert_eq!(first[0].subject.to_string(), "<http://example.com/a>");
        assert_ne!(
            first[0].object, second[0].object,
            "each document has its own blank nodes"
        );
    }

    #[test]
    fn a_syntax_error_names_line_and_column() {
        let error = parse("<a> <b> <c> .\n<a> <b> .", RdfFormat::Turtle).unwrap_err();
        match error {
            LoadError::Syntax { location, .. } => {
                assert!(location.starts_with("body:2:"), "{location}")
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn rdf_xml_entities_stay_bounded() {
        let mut bomb =
            String::from("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">");
        let mut previous = "a".to_owned();
        for level in 0..12 {
            let name = format!("e{level}");
            bomb.push_str(&format!(
                "<!ENTITY {name} \"{}\">",
                format!("&{previous};").repeat(10)
            ));
            previous = name;
        }
        bomb.push_str(&format!("]><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"http://a\"><rdf:value>&{previous};</rdf:value></rdf:Description></rdf:RDF>"));
        let text: &'static str = Box::leak(bomb.into_boxed_str());
        assert!(matches!(
            parse(text, RdfFormat::RdfXml),
            Err(LoadError::Syntax { .. })
        ));
    }
}

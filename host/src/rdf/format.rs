//! RDF formats by name, media type or file extension, with `.gz` compression.

use std::path::Path;

use oxrdfio::RdfFormat;

/// A format and whether the bytes are gzip-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputFormat {
    /// The RDF syntax.
    pub format: RdfFormat,
    /// Whether the file is gzip-compressed (`.gz`).
    pub gzip: bool,
}

/// A format that could not be determined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// `--format` names no format.
    #[error(
        "unknown RDF format `{0}` (use nt, nq, ttl, trig, rdf, n3 or jsonld, or a media type)"
    )]
    UnknownName(String),
    /// The file's extension names no format.
    #[error("{0}: cannot tell the RDF format from the file name; pass --format")]
    UnknownExtension(String),
}

/// The format called `name`: a short name (`nt`, `ntriples`, `turtle`…), a file extension or
/// a media type.
///
/// # Errors
/// [`FormatError::UnknownName`].
pub fn format_by_name(name: &str) -> Result<RdfFormat, FormatError> {
    let lower = name.trim().trim_start_matches('.').to_ascii_lowercase();
    let format = match lower.as_str() {
        "nt" | "ntriples" | "n-triples" => Some(RdfFormat::NTriples),
        "nq" | "nquads" | "n-quads" => Some(RdfFormat::NQuads),
        "ttl" | "turtle" => Some(RdfFormat::Turtle),
        "trig" => Some(RdfFormat::TriG),
        "rdf" | "rdfxml" | "rdf/xml" | "xml" | "owl" => Some(RdfFormat::RdfXml),
        "n3" => Some(RdfFormat::N3),
        "jsonld" | "json-ld" => RdfFormat::from_extension("jsonld"),
        media_type if media_type.contains('/') => RdfFormat::from_media_type(media_type),
        _ => None,
    };
    format.ok_or_else(|| FormatError::UnknownName(name.to_owned()))
}

/// The format of `path` from its extension, looking through a final `.gz`; `explicit` (from
/// `--format`) wins over the extension but `.gz` still means gzip.
///
/// # Errors
/// [`FormatError`] when neither tells the format.
pub fn format_for_path(path: &Path, explicit: Option<&str>) -> Result<InputFormat, FormatError> {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let (stem, gzip) = match name.strip_suffix(".gz") {
        Some(stem) => (stem.to_owned(), true),
        None => (name, false),
    };
    if let Some(explicit) = explicit {
        return Ok(InputFormat {
            format: format_by_name(explicit)?,
            gzip,
        });
    }
    let extension = Path::new(&stem)
        .extension()
        .map(|extension| extension.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = format_by_name(&extension)
        .map_err(|_| FormatError::UnknownExtension(path.display().to_string()))?;
    Ok(InputFormat { format, gzip })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_names_and_media_types() {
        let detect = |name: &str| format_for_path(Path::new(name), None).unwrap();
        assert_eq!(detect("a.nt").format, RdfFormat::NTriples);
        assert_eq!(
            detect("dir/a.NQ.gz"),
            InputFormat {
                format: RdfFormat::NQuads,
                gzip: true
            }
        );
        assert_eq!(detect("a.ttl").format, RdfFormat::Turtle);
        assert_eq!(detect("a.trig").format, RdfFormat::TriG);
        assert_eq!(detect("a.rdf").format, RdfFormat::RdfXml);
        assert_eq!(detect("a.owl").format, RdfFormat::RdfXml);
        assert_eq!(format_by_name("text/turtle").unwrap(), RdfFormat::Turtle);
        assert_eq!(format_by_name("N-Quads").unwrap(), RdfFormat::NQuads);
        assert!(format_for_path(Path::new("a.txt"), None).is_err());
        assert!(format_for_path(Path::new("a"), None).is_err());
        assert!(format_by_name("yaml").is_err());
        assert_eq!(
            format_for_path(Path::new("data.gz"), Some("nt")).unwrap(),
            InputFormat {
                format: RdfFormat::NTriples,
                gzip: true
            }
        );
    }
}

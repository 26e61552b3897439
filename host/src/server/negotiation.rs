//! Content negotiation: the client's `Accept` header, with its q-values, against the media
//! types the server can write, in the server's order of preference.

use std::sync::LazyLock;

use axum::http::StatusCode;
use oxrdfio::RdfFormat;

use super::error::ApiError;

use crate::sparql::results::ResultsFormat;

/// One media range of an `Accept` header.
#[derive(Debug, Clone, PartialEq)]
struct MediaRange {
    kind: String,
    subtype: String,
    quality: f32,
}

impl MediaRange {
    /// How specifically this range names `media_type` (2 exact, 1 `type/*`, 0 `*/*`), or
    /// `None` when it does not cover it.
    fn covers(&self, media_type: &str) -> Option<u8> {
        let (kind, subtype) = media_type.split_once('/')?;
        match (self.kind.as_str(), self.subtype.as_str()) {
            ("*", "*") => Some(0),
            (k, "*") if k.eq_ignore_ascii_case(kind) => Some(1),
            (k, s) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) => Some(2),
            _ => None,
        }
    }
}

/// The ranges of an `Accept` header; entries that are not `type/subtype` are skipped, a
/// q-value that is not a number in 0..=1 counts as 1.
fn parse_accept(header: &str) -> Vec<MediaRange> {
    header
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let (kind, subtype) = parts.next()?.trim().split_once('/')?;
            let (kind, subtype) = (kind.trim(), subtype.trim());
            if kind.is_empty() || subtype.is_empty() {
                return None;
            }
            let quality = parts
                .filter_map(|parameter| parameter.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, value)| value.trim().parse::<f32>().ok())
                .filter(|q| (0.0..=1.0).contains(q))
                .unwrap_or(1.0);
            Some(MediaRange {
                kind: kind.to_owned(),
                subtype: subtype.to_owned(),
                quality,
            })
        })
        .collect()
}

/// The offer the client prefers: the highest q-value of the most specific range covering
/// each offer, ties to the earlier offer; with no `Accept` header (or an empty one), the
/// first offer. `None` when the client accepts none of them.
pub(super) fn choose<'a, T>(
    accept: Option<&str>,
    offers: &'a [(&'static str, T)],
) -> Option<&'a T> {
    let ranges = match accept.map(str::trim) {
        None | Some("") => return offers.first().map(|(_, offer)| offer),
        Some(header) => parse_accept(header),
    };
    let mut best: Option<(f32, &T)> = None;
    for (media_type, offer) in offers {
        let quality = ranges
            .iter()
            .filter_map(|range| {
                range
                    .covers(media_type)
                    .map(|specificity| (specificity, range.quality))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map_or(0.0, |(_, quality)| quality);
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, offer));
        }
    }
    best.map(|(_, offer)| offer)
}

/// The media types of SELECT and ASK results, JSON first.
pub(super) const RESULTS: [(&str, ResultsFormat); 8] = [
    ("application/sparql-results+json", ResultsFormat::Json),
    ("application/json", ResultsFormat::Json),
    ("application/sparql-results+xml", ResultsFormat::Xml),
    ("text/csv", ResultsFormat::Csv),
    ("text/tab-separated-values", ResultsFormat::Tsv),
    ("application/xml", ResultsFormat::Xml),
    ("text/xml", ResultsFormat::Xml),
    ("text/plain", ResultsFormat::Tsv),
];

/// The media type a results format is sent as.
pub(super) fn results_media_type(format: ResultsFormat) -> &'static str {
    match format {
        ResultsFormat::Xml => "application/sparql-results+xml",
        ResultsFormat::Csv => "text/csv; charset=utf-8",
        ResultsFormat::Tsv => "text/tab-separated-values; charset=utf-8",
        _ => "application/sparql-results+json",
    }
}

/// The media types of graphs (CONSTRUCT, DESCRIBE, a Graph Store GET), Turtle first.
pub(super) static GRAPH_FORMATS: LazyLock<[(&str, RdfFormat); 8]> = LazyLock::new(|| {
    [
        ("text/turtle", RdfFormat::Turtle),
        ("application/n-triples", RdfFormat::NTriples),
        ("application/rdf+xml", RdfFormat::RdfXml),
        ("application/ld+json", jsonld()),
        ("application/n-quads", RdfFormat::NQuads),
        ("application/trig", RdfFormat::TriG),
        ("text/plain", RdfFormat::NTriples),
        ("application/x-turtle", RdfFormat::Turtle),
    ]
});

/// The media types of a whole dataset (a Graph Store GET without a graph), TriG first.
pub(super) static DATASET_FORMATS: LazyLock<[(&str, RdfFormat); 3]> = LazyLock::new(|| {
    [
        ("application/trig", RdfFormat::TriG),
        ("application/n-quads", RdfFormat::NQuads),
        ("application/ld+json", jsonld()),
    ]
});

fn jsonld() -> RdfFormat {
    RdfFormat::from_media_type("application/ld+json").unwrap_or(RdfFormat::NQuads)
}

/// The media type an RDF format is sent as.
pub(super) fn rdf_media_type(format: RdfFormat) -> String {
    match format {
        RdfFormat::Turtle | RdfFormat::NTriples | RdfFormat::NQuads | RdfFormat::TriG => {
            format!("{}; charset=utf-8", format.media_type())
        }
        other => other.media_type().to_owned(),
    }
}

/// The offer the client prefers ([`choose`]), or `406` naming what the server offers.
///
/// # Errors
/// `406` when the client accepts none of `offers`.
pub(super) fn choose_or_refuse<T: Copy>(
    accept: Option<&str>,
    offers: &[(&'static str, T)],
) -> Result<T, ApiError> {
    choose(accept, offers).copied().ok_or_else(|| {
        let offered: Vec<&str> = offers.iter().map(|(media_type, _)| *media_type).collect();
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "no acceptable format: the request accepts `{}`; this response can be {}",
                accept.unwrap_or_default(),
                offered.join(", ")
            ),
        )
    })
}

/// The RDF format of a request body, by its `Content-Type` (parameters ignored).
pub(super) fn body_format(content_type: &str) -> Option<RdfFormat> {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    match media_type.to_ascii_lowercase().as_str() {
        "text/plain" => Some(RdfFormat::NTriples),
        "application/x-turtle" => Some(RdfFormat::Turtle),
        "application/xml" | "text/xml" => Some(RdfFormat::RdfXml),
        other => RdfFormat::from_media_type(other),
    }
}

#[cfg(test)]
mod tests {
    use super::{body_format, choose, RESULTS};
    use crate::sparql::results::ResultsFormat;
    use oxrdfio::RdfFormat;

    #[test]
    fn q_values_and_specificity_decide() {
        assert_eq!(choose(None, &RESULTS), Some(&ResultsFormat::Json));
        assert_eq!(choose(Some("*/*"), &RESULTS), Some(&ResultsFormat::Json));
        assert_eq!(
            choose(Some("application/sparql-results+xml"), &RESULTS),
            Some(&ResultsFormat::Xml)
        );
        assert_eq!(
            choose(
                Some("text/csv;q=0.5, application/sparql-results+xml;q=0.9"),
                &RESULTS
            ),
            Some(&ResultsFormat::Xml)
        );
        assert_eq!(
            choose(Some("text/*;q=0.8, */*;q=0.1"), &RESULTS),
            Some(&ResultsFormat::Csv),
            "text/* covers csv better than */* covers json"
        );
        assert_eq!(
            choose(
                Some("application/*;q=0, text/tab-separated-values"),
                &RESULTS
            ),
            Some(&ResultsFormat::Tsv)
        );
        assert_eq!(choose(Some("image/png"), &RESULTS), None);
        assert_eq!(choose(Some("text/csv;q=0"), &RESULTS), None);
        assert_eq!(
            choose(Some("garbage, ;;, text/csv"), &RESULTS),
            Some(&ResultsFormat::Csv)
        );
    }

    #[test]
    fn bodies_are_read_by_content_type() {
        assert_eq!(
            body_format("text/turtle; charset=utf-8"),
            Some(RdfFormat::Turtle)
        );
        assert_eq!(
            body_format("application/n-triples"),
            Some(RdfFormat::NTriples)
        );
        assert_eq!(body_format("application/rdf+xml"), Some(RdfFormat::RdfXml));
        assert_eq!(body_format("application/trig"), Some(RdfFormat::TriG));
        assert_eq!(body_format("image/png"), None);
    }
}

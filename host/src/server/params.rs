//! Reading a request: URL and form parameters, the body within its limit, the content type.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use oxrdf::NamedNode;

use super::error::ApiError;
use crate::sparql::RequestDataset;

/// The parameters of a URL query string or an `application/x-www-form-urlencoded` body.
#[derive(Debug, Default)]
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters of a query string.
    pub fn from_query(query: Option<&str>) -> Self {
        Self::parse(query.unwrap_or_default().as_bytes())
    }

    /// The parameters of a form body.
    pub fn parse(bytes: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(bytes)
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    /// Adds `other`'s parameters after these.
    pub fn extend(&mut self, other: Self) {
        self.0.extend(other.0);
    }

    /// Whether `name` is given.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// The value of `name`, given at most once.
    ///
    /// # Errors
    /// `400` when it is given more than once.
    pub fn single<'a>(&'a self, name: &'a str) -> Result<Option<&'a str>, ApiError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::bad_request(format!(
                "the parameter `{name}` is given more than once; give it once"
            )));
        }
        Ok(first)
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of `name` as an IRI.
    ///
    /// # Errors
    /// `400` naming a value that is not an absolute IRI.
    pub fn iris(&self, name: &str) -> Result<Vec<NamedNode>, ApiError> {
        self.all(name)
            .map(|value| {
                NamedNode::new(value).map_err(|error| {
                    ApiError::bad_request(format!(
                        "the parameter `{name}`: `{value}` is not an absolute IRI ({error})"
                    ))
                })
            })
            .collect()
    }

    /// The dataset given by the parameters `default_name` and `named_name`, if either is.
    ///
    /// # Errors
    /// `400` for a value that is not an IRI.
    pub fn dataset(
        &self,
        default_name: &str,
        named_name: &str,
    ) -> Result<Option<RequestDataset>, ApiError> {
        if !self.has(default_name) && !self.has(named_name) {
            return Ok(None);
        }
        Ok(Some(RequestDataset {
            default_graphs: self.iris(default_name)?,
            named_graphs: self.iris(named_name)?,
        }))
    }
}

/// The media type of the request's body, lower-case, without parameters.
pub(super) fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// The request's `Accept` header, if readable.
pub(super) fn accept(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The whole body, at most `limit` bytes.
///
/// # Errors
/// `413` past the limit (told by `Content-Length` before anything is read, where given);
/// `400` when the body cannot be read.
pub(super) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::too_large(limit));
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit_usize)
        .await
        .map_err(|error| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(inner) = source {
                if inner.is::<http_body_util::LengthLimitError>() {
                    return ApiError::too_large(limit);
                }
                source = inner.source();
            }
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("reading the request body: {error}"),
            )
        })
}

/// `text` as UTF-8.
///
/// # Errors
/// `400` naming `what` when it is not.
pub(super) fn utf8(bytes: Bytes, what: &str) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec()).map_err(|error| {
        ApiError::bad_request(format!(
            "the {what} is not UTF-8 (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        ))
    })
}

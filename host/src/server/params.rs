//! Reading a request: URL and form parameters, the body within its limit, the content type.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use http_body_util::BodyExt;
use oxrdf::NamedNode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// The bytes of request bodies the server holds at once, in KiB: a body being read takes its
/// share as it arrives and gives it back when its request ends, so that many large uploads
/// at once get `503` instead of exhausting memory.
pub(super) struct BodyBudget {
    kib: Arc<Semaphore>,
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Self {
        let kib = usize::try_from(bytes / 1024)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS);
        Self {
            kib: Arc::new(Semaphore::new(kib)),
        }
    }
}

/// A request body read whole, and its share of the [`BodyBudget`], held until dropped.
pub(super) struct HeldBody {
    pub bytes: Bytes,
    _share: Option<OwnedSemaphorePermit>,
}

/// The whole body, at most `limit` bytes, counted against `budget` as it arrives.
///
/// # Errors
/// `413` past the limit (told by `Content-Length` before anything is read, where given);
/// `503` when the budget is spent; `400` when the body cannot be read.
pub(super) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    budget: &BodyBudget,
) -> Result<HeldBody, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::too_large(limit));
    }
    let mut body = body;
    let mut data: Vec<u8> = Vec::new();
    let mut share: Option<OwnedSemaphorePermit> = None;
    let mut held_kib = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("reading the request body: {error}"),
            )
        })?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        if (data.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::too_large(limit));
        }
        let wanted_kib = (data.len() + chunk.len()).div_ceil(1024);
        if wanted_kib > held_kib {
            let more = u32::try_from(wanted_kib - held_kib).unwrap_or(u32::MAX);
            let granted = Arc::clone(&budget.kib)
                .try_acquire_many_owned(more)
                .map_err(|_| {
                    ApiError::unavailable(
                        "the server holds as many request bodies as it takes at once; try again shortly",
                        1,
                    )
                })?;
            match &mut share {
                Some(share) => share.merge(granted),
                None => share = Some(granted),
            }
            held_kib = wanted_kib;
        }
        data.extend_from_slice(&chunk);
    }
    Ok(HeldBody {
        bytes: Bytes::from(data),
        _share: share,
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::HeaderMap;

    use super::{read_body, BodyBudget};

    #[tokio::test]
    async fn bodies_held_at_once_stay_within_the_budget() {
        let budget = BodyBudget::new(2048);
        let headers = HeaderMap::new();
        let body = || Body::from(vec![b'x'; 1500]);
        let first = read_body(&headers, body(), 4096, &budget).await.unwrap();
        assert_eq!(first.bytes.len(), 1500);
        let refused = read_body(&headers, body(), 4096, &budget)
            .await
            .err()
            .unwrap();
        assert_eq!(refused.status, 503);
        assert_eq!(refused.retry_after, Some(1));
        drop(first);
        assert!(read_body(&headers, body(), 4096, &budget).await.is_ok());
        let too_large = read_body(&headers, body(), 1000, &budget)
            .await
            .err()
            .unwrap();
        assert_eq!(too_large.status, 413);
    }
}

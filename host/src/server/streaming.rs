//! Streaming a response written on a blocking thread: the writer buffers a chunk, hands it to
//! the response body through a small bounded channel, and blocks while the client is slow, so
//! memory stays flat whatever the size of the result. Until the first chunk leaves, the
//! response has not started, and an error becomes a proper status; after that, an error cuts
//! the response short (the client sees an incomplete body, never a complete-looking one).

use std::io::{self, Write};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use super::error::ApiError;

/// Bytes per chunk sent to the client.
const CHUNK_BYTES: usize = 64 << 10;
/// Chunks waiting to be sent: with [`CHUNK_BYTES`], the most a response holds in memory.
const CHUNKS_AHEAD: usize = 4;
/// A partial chunk leaves after this long, so a slow query's first rows do not wait.
const CHUNK_MAX_DELAY: Duration = Duration::from_millis(200);
/// The error that ends a response whose writer stopped before its end.
const CUT_SHORT: &str =
    "the response was cut short: the request failed on the server after its first bytes";
/// Bytes written between two looks at the clock (reading it per write, for the many small
/// writes of a results serializer, took half the time of a large JSON answer).
const CLOCK_EVERY_BYTES: usize = 4 << 10;

/// How a response starts.
enum Start {
    /// With `200` and this content type; the body follows.
    Body(String),
    /// With this error, and no body.
    Failed(ApiError),
}

/// The writing end, moved to the blocking thread.
pub(super) struct ResponseWriter {
    buffer: Vec<u8>,
    chunks: mpsc::Sender<io::Result<Bytes>>,
    start: Option<oneshot::Sender<Start>>,
    content_type: String,
    runtime: Handle,
    deadline: Option<tokio::time::Instant>,
    last_sent: Instant,
    /// The buffer's length when the clock was last read.
    clock_read_at: usize,
}

/// The response end, awaited by the handler.
pub(super) struct PendingResponse {
    start: oneshot::Receiver<Start>,
    chunks: mpsc::Receiver<io::Result<Bytes>>,
}

/// A writer and its response; sending gives up at `deadline` (the client too slow).
pub(super) fn response_channel(
    deadline: Option<tokio::time::Instant>,
) -> (ResponseWriter, PendingResponse) {
    let (chunk_sender, chunk_receiver) = mpsc::channel(CHUNKS_AHEAD);
    let (start_sender, start_receiver) = oneshot::channel();
    (
        ResponseWriter {
            buffer: Vec::with_capacity(CHUNK_BYTES),
            chunks: chunk_sender,
            start: Some(start_sender),
            content_type: "application/octet-stream".to_owned(),
            runtime: Handle::current(),
            deadline,
            last_sent: Instant::now(),
            clock_read_at: 0,
        },
        PendingResponse {
            start: start_receiver,
            chunks: chunk_receiver,
        },
    )
}

fn client_gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the client closed the connection",
    )
}

impl ResponseWriter {
    /// The content type the response starts with.
    pub fn set_content_type(&mut self, content_type: impl Into<String>) {
        self.content_type = content_type.into();
    }

    /// Whether the response has started (an error can then only cut it short).
    pub fn started(&self) -> bool {
        self.start.is_none()
    }

    /// Starts the response if it has not started, then hands `chunk` to the body, waiting
    /// while the client is slow (until the deadline). An empty chunk is the end marker.
    fn send(&mut self, chunk: Bytes) -> io::Result<()> {
        if let Some(start) = self.start.take() {
            start
                .send(Start::Body(std::mem::take(&mut self.content_type)))
                .map_err(|_| client_gone())?;
        }
        self.last_sent = Instant::now();
        let deadline = self.deadline;
        let chunks = &self.chunks;
        self.runtime.block_on(async move {
            let late = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                sent = chunks.send(Ok(chunk)) => sent.map_err(|_| client_gone()),
                () = late => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client read the response too slowly for the server's time limit",
                )),
            }
        })
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        self.clock_read_at = 0;
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.send(chunk)
    }

    /// Sends what is left and the end marker: the response ends complete. A writer dropped
    /// without it (an error, a panic) cuts the response short instead.
    ///
    /// # Errors
    /// The client is gone or too slow.
    pub fn finish(mut self) -> io::Result<()> {
        if !self.buffer.is_empty() {
            self.send_buffer()?;
        }
        // Starts the response if nothing did (an empty body), then ends it.
        self.send(Bytes::new())
    }

    /// Ends the response with `error`: as the response if it has not started, else by cutting
    /// the body short (the writer goes without the end marker).
    pub fn fail(mut self, error: ApiError) {
        if let Some(start) = self.start.take() {
            let _ = start.send(Start::Failed(error));
        }
    }
}

impl Write for ResponseWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send_buffer()?;
        } else if self.buffer.len() - self.clock_read_at >= CLOCK_EVERY_BYTES {
            self.clock_read_at = self.buffer.len();
            if self.last_sent.elapsed() >= CHUNK_MAX_DELAY {
                self.send_buffer()?;
            }
        }
        Ok(bytes.len())
    }

    /// Serializers flush when they end: the chunk leaves with [`ResponseWriter::finish`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PendingResponse {
    /// The response once the writer starts it (or fails): `503` if it has not by `deadline`;
    /// `500` if the writer went away without a word (it panicked).
    pub async fn response(
        self,
        deadline: Option<tokio::time::Instant>,
        timeout: Option<Duration>,
    ) -> Response {
        let start = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, self.start).await {
                Ok(start) => start,
                Err(_) => return ApiError::timed_out(timeout.unwrap_or_default()).into_response(),
            },
            None => self.start.await,
        };
        match start {
            Ok(Start::Body(content_type)) => {
                // Chunks until the end marker; a channel closed before it is an error, so
                // that the client never takes a cut response for a complete one.
                let chunks = futures_util::stream::unfold(Some(self.chunks), |chunks| async move {
                    let mut chunks = chunks?;
                    match chunks.recv().await {
                        Some(Ok(chunk)) if chunk.is_empty() => None,
                        Some(chunk) => Some((chunk, Some(chunks))),
                        None => Some((Err(io::Error::other(CUT_SHORT)), None)),
                    }
                });
                let mut response = Response::new(Body::from_stream(chunks));
                *response.status_mut() = StatusCode::OK;
                if let Ok(value) = HeaderValue::from_str(&content_type) {
                    response.headers_mut().insert(header::CONTENT_TYPE, value);
                }
                response
            }
            Ok(Start::Failed(error)) => error.into_response(),
            Err(_) => {
                ApiError::internal("the request failed on the server before any result was written")
                    .into_response()
            }
        }
    }
}

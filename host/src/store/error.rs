//! Errors of the QuadStore.

use kgdb_plugin_api::ErrorCode;

use crate::plugin::BackendError;

/// An error of the QuadStore or of the backend beneath it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A backend call failed; `context` says what the store was doing.
    #[error("{context}: {source}")]
    Backend {
        /// What the store was doing.
        context: String,
        /// The backend's error.
        source: BackendError,
    },
    /// Stored bytes that no version of this store writes.
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
    /// The data directory holds another kind of data or a newer store format.
    #[error("{0}")]
    Incompatible(String),
    /// A caller's mistake (a bad pattern, a term the store cannot hold).
    #[error("{0}")]
    InvalidInput(String),
    /// A read-only open of a backend that holds no store.
    #[error("{0}")]
    NoStore(String),
    /// A write on a store opened read-only.
    #[error("{0}")]
    ReadOnly(String),
    /// A term over the store's [`TermLimits`](super::TermLimits).
    #[error(transparent)]
    TermTooLarge(#[from] super::TermTooLarge),
    /// A load into the store has not finished (it is being written, or it was interrupted and
    /// waits to be undone): readers see a load whole or not at all, and waiting for it timed
    /// out.
    #[error("{0}")]
    LoadUnfinished(String),
    /// A load failed, and undoing what it had committed failed too: that part stays, flagged
    /// as an unfinished load, until the next writing open of the store undoes it.
    #[error("{cause}; undoing what the load had committed failed too ({undo})")]
    LoadNotUndone {
        /// Why the load failed.
        cause: Box<StoreError>,
        /// Why the undo failed.
        undo: Box<StoreError>,
    },
}

impl StoreError {
    /// A [`StoreError::Corrupt`].
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::Corrupt(message.into())
    }

    /// This failure of a load, given how undoing what the load wrote went:
    /// [`StoreError::LoadNotUndone`] when the undo failed too.
    pub(crate) fn after_undo(self, undo: Result<(), StoreError>) -> Self {
        match undo {
            Ok(()) => self,
            Err(undo) => Self::LoadNotUndone {
                cause: Box::new(self),
                undo: Box::new(undo),
            },
        }
    }

    /// Whether retrying the whole transaction may succeed (a write-write conflict).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Backend { source, .. } if source.retryable)
    }

    /// The backend's error code, if a backend call failed.
    #[must_use]
    pub fn backend_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Backend { source, .. } => Some(source.code),
            _ => None,
        }
    }
}

/// Adds what the store was doing to a backend error.
pub(crate) trait Context<T> {
    /// Wraps the error with `context`.
    fn context(self, context: &str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, BackendError> {
    fn context(self, context: &str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Backend {
            context: context.to_owned(),
            source,
        })
    }
}

//! The error every ABI call can return.

use std::fmt;

use abi_stable::{std_types::RString, StableAbi};

/// A stable error code.
///
/// A plain `u32` rather than an enum so that a code added in a later 1.x release reaches an
/// older host as "unknown code N" instead of undefined behaviour. The values below are frozen.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// A key, table or file that should exist does not.
    pub const NOT_FOUND: Self = Self(1);
    /// An argument is out of range: a key over the size limit, an unsorted ingest run, …
    pub const INVALID_ARGUMENT: Self = Self(2);
    /// The backend configuration is malformed or names an unknown key.
    pub const INVALID_CONFIG: Self = Self(3);
    /// A write-write conflict with a concurrent transaction; retrying may succeed.
    pub const CONFLICT: Self = Self(4);
    /// An operating-system I/O error.
    pub const IO: Self = Self(5);
    /// Stored data is damaged or unreadable.
    pub const CORRUPTION: Self = Self(6);
    /// The disk, map or memory budget is full.
    pub const FULL: Self = Self(7);
    /// The backend does not implement this operation; its capability bit is clear.
    pub const UNSUPPORTED: Self = Self(8);
    /// The backend, transaction or cursor is already closed or finished.
    pub const CLOSED: Self = Self(9);
    /// A bug inside the plugin (including a caught panic); the instance may be poisoned.
    pub const INTERNAL: Self = Self(10);
    /// The data directory is locked by another process or instance.
    pub const IN_USE: Self = Self(11);
    /// A write was attempted through a read-only transaction or a read-only instance.
    pub const READ_ONLY: Self = Self(12);
    /// The data directory was written by another plugin or a newer format version.
    pub const INCOMPATIBLE: Self = Self(13);
    /// The operation did not finish in time (a lock wait, for example); retrying may succeed.
    pub const TIMED_OUT: Self = Self(14);

    /// Every code defined in this version of the ABI, in numeric order.
    pub const ALL: [Self; 14] = [
        Self::NOT_FOUND,
        Self::INVALID_ARGUMENT,
        Self::INVALID_CONFIG,
        Self::CONFLICT,
        Self::IO,
        Self::CORRUPTION,
        Self::FULL,
        Self::UNSUPPORTED,
        Self::CLOSED,
        Self::INTERNAL,
        Self::IN_USE,
        Self::READ_ONLY,
        Self::INCOMPATIBLE,
        Self::TIMED_OUT,
    ];

    /// The stable kebab-case name of the code, or `None` for a code this version does not know.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::NOT_FOUND => "not-found",
            Self::INVALID_ARGUMENT => "invalid-argument",
            Self::INVALID_CONFIG => "invalid-config",
            Self::CONFLICT => "conflict",
            Self::IO => "io",
            Self::CORRUPTION => "corruption",
            Self::FULL => "full",
            Self::UNSUPPORTED => "unsupported",
            Self::CLOSED => "closed",
            Self::INTERNAL => "internal",
            Self::IN_USE => "in-use",
            Self::READ_ONLY => "read-only",
            Self::INCOMPATIBLE => "incompatible",
            Self::TIMED_OUT => "timed-out",
            _ => return None,
        })
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown-code-{}", self.0),
        }
    }
}

/// The error returned across the boundary by every fallible call.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// A human-readable message, keeping the engine's own words where there are some.
    pub message: RString,
    /// Whether the same call may succeed if retried (conflicts, timeouts, busy locks).
    pub retryable: bool,
    /// For `INVALID_CONFIG` and `INVALID_ARGUMENT`: the dotted config key path or the name of
    /// the argument at fault (`cache.size`, `key`); empty otherwise.
    pub key: RString,
}

impl PluginError {
    /// An error with `code` and `message`, retryable only for conflicts and timeouts.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: RString::from(message.into()),
            retryable: matches!(code, ErrorCode::CONFLICT | ErrorCode::TIMED_OUT),
            key: RString::new(),
        }
    }

    /// Sets the key path or argument name this error is about.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = RString::from(key.into());
        self
    }

    /// Overrides whether the error is retryable.
    #[must_use]
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// `NOT_FOUND` with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NOT_FOUND, message)
    }

    /// `INVALID_ARGUMENT` with a message.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_ARGUMENT, message)
    }

    /// `INVALID_CONFIG` about config key `key`.
    pub fn invalid_config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_CONFIG, message).with_key(key)
    }

    /// `UNSUPPORTED` for `operation`.
    pub fn unsupported(operation: &str) -> Self {
        Self::new(
            ErrorCode::UNSUPPORTED,
            format!("{operation} is not supported by this backend"),
        )
    }

    /// `CLOSED` with a message.
    pub fn closed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::CLOSED, message)
    }

    /// `INTERNAL` with a message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INTERNAL, message)
    }

    /// A retryable `CONFLICT` with a message.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::CONFLICT, message)
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if !self.key.is_empty() {
            write!(f, " ({})", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PluginError {}

impl From<std::io::Error> for PluginError {
    fn from(error: std::io::Error) -> Self {
        let code = match error.kind() {
            std::io::ErrorKind::NotFound => ErrorCode::NOT_FOUND,
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => ErrorCode::FULL,
            std::io::ErrorKind::ReadOnlyFilesystem => ErrorCode::READ_ONLY,
            std::io::ErrorKind::InvalidData => ErrorCode::CORRUPTION,
            _ => ErrorCode::IO,
        };
        Self::new(code, error.to_string())
    }
}

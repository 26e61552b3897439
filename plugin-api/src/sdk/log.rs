//! Logging from inside a plugin into the host's `tracing`.

use std::fmt;

use abi_stable::std_types::RStr;

use crate::{LogLevel, LogSink};

/// Sends log records to the host. Cheap to clone; records above the host's level are dropped
/// before they are formatted.
#[derive(Clone, Copy)]
pub struct Logger {
    sink: Option<LogSink>,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("max_level", &self.sink.map(|sink| sink.max_level))
            .finish()
    }
}

impl Logger {
    pub(crate) fn new(sink: LogSink) -> Self {
        Self { sink: Some(sink) }
    }

    /// A logger that drops everything (for tests of a backend outside a host).
    #[must_use]
    pub fn disabled() -> Self {
        Self { sink: None }
    }

    /// Whether a record at `level` would reach the host.
    #[must_use]
    pub fn enabled(&self, level: LogLevel) -> bool {
        self.sink
            .is_some_and(|sink| level != LogLevel::OFF && level <= sink.max_level)
    }

    /// Sends one record.
    pub fn log(&self, level: LogLevel, target: &str, message: fmt::Arguments<'_>) {
        if let Some(sink) = self.sink.filter(|_| self.enabled(level)) {
            let text = message.to_string();
            (sink.log)(level, RStr::from_str(target), RStr::from_str(&text));
        }
    }

    /// An error record.
    pub fn error(&self, target: &str, message: fmt::Arguments<'_>) {
        self.log(LogLevel::ERROR, target, message);
    }

    /// A warning record.
    pub fn warn(&self, target: &str, message: fmt::Arguments<'_>) {
        self.log(LogLevel::WARN, target, message);
    }

    /// An informational record.
    pub fn info(&self, target: &str, message: fmt::Arguments<'_>) {
        self.log(LogLevel::INFO, target, message);
    }

    /// A debugging record.
    pub fn debug(&self, target: &str, message: fmt::Arguments<'_>) {
        self.log(LogLevel::DEBUG, target, message);
    }
}

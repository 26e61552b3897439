//! Plugin logs: the callback handed to a plugin at `open`, which turns its log records into
//! the host's `tracing` events tagged with the plugin's name.

use abi_stable::std_types::RStr;
use kgdb_plugin_api::{LogLevel, LogSink};

extern "C" fn log_to_tracing(level: LogLevel, target: RStr<'_>, message: RStr<'_>) {
    let (target, message) = (target.as_str(), message.as_str());
    match level {
        LogLevel::ERROR => tracing::error!(target: "kgdb::plugin", plugin = target, "{message}"),
        LogLevel::WARN => tracing::warn!(target: "kgdb::plugin", plugin = target, "{message}"),
        LogLevel::INFO => tracing::info!(target: "kgdb::plugin", plugin = target, "{message}"),
        LogLevel::DEBUG => tracing::debug!(target: "kgdb::plugin", plugin = target, "{message}"),
        _ => tracing::trace!(target: "kgdb::plugin", plugin = target, "{message}"),
    }
}

pub(super) fn log_sink() -> LogSink {
    use tracing::level_filters::LevelFilter;
    let max_level = match LevelFilter::current() {
        LevelFilter::OFF => LogLevel::OFF,
        LevelFilter::ERROR => LogLevel::ERROR,
        LevelFilter::WARN => LogLevel::WARN,
        LevelFilter::INFO => LogLevel::INFO,
        LevelFilter::DEBUG => LogLevel::DEBUG,
        _ => LogLevel::TRACE,
    };
    LogSink {
        log: log_to_tracing,
        max_level,
    }
}

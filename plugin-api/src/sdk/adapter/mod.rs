//! Generic glue from the SDK traits to the ABI trait objects. Everything here is monomorphised
//! inside the plugin by [`export_plugin!`](crate::export_plugin).
//!
//! Every call goes through [`guard`], which refuses calls on a poisoned, closed or finished
//! object and catches panics. The capability, size-limit and read-only checks live here too, so
//! every plugin answers them the same way.
//!
//! Files: `mod.rs` (the instance state and the guard), `panics.rs` (catching panics quietly),
//! `root.rs` (the root module and extensions), `backend.rs`, `txn.rs`, `cursor.rs` (the three
//! trait objects).

mod backend;
mod cursor;
mod panics;
mod root;
mod txn;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use abi_stable::std_types::RResult;

use crate::{BatchEntry, Capabilities, PluginError, WriteBatch};

pub use root::root_module;

/// State shared by one backend instance and every transaction and cursor it made.
pub(super) struct Instance {
    /// Set once, by the first panic: every later call is refused with this message.
    pub(super) poison: OnceLock<String>,
    pub(super) closed: AtomicBool,
    pub(super) capabilities: Capabilities,
}

impl Instance {
    pub(super) fn check(&self) -> Result<(), PluginError> {
        if let Some(reason) = self.poison.get() {
            return Err(PluginError::internal(format!(
                "this plugin instance is poisoned: {reason}"
            )));
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(PluginError::closed("the backend instance is closed"));
        }
        Ok(())
    }

    pub(super) fn require(&self, bit: u64, operation: &str) -> Result<(), PluginError> {
        if self.capabilities.has(bit) {
            Ok(())
        } else {
            Err(PluginError::unsupported(operation))
        }
    }

    pub(super) fn check_sync(&self, sync: crate::SyncMode) -> Result<(), PluginError> {
        if sync == crate::SyncMode::SYNC {
            self.require(Capabilities::DURABLE_SYNC, "a durable (sync) commit")?;
        }
        Ok(())
    }

    /// A key to write or delete: 1 to `max_key_size` bytes; a value: up to `max_value_size`.
    pub(super) fn check_sizes(&self, key: &[u8], value: Option<&[u8]>) -> Result<(), PluginError> {
        if key.is_empty() {
            return Err(PluginError::invalid_argument("a key cannot be empty").with_key("key"));
        }
        self.check_bound(key)?;
        if let Some(value) = value {
            let limit = self.capabilities.max_value_size;
            if value.len() > limit as usize {
                return Err(PluginError::invalid_argument(format!(
                    "value of {} bytes is over this backend's limit of {limit} bytes",
                    value.len()
                ))
                .with_key("value"));
            }
        }
        Ok(())
    }

    /// A range bound: up to `max_key_size` bytes (empty is allowed).
    pub(super) fn check_bound(&self, key: &[u8]) -> Result<(), PluginError> {
        let limit = self.capabilities.max_key_size;
        if key.len() > limit as usize {
            return Err(PluginError::invalid_argument(format!(
                "key of {} bytes is over this backend's limit of {limit} bytes",
                key.len()
            ))
            .with_key("key"));
        }
        Ok(())
    }

    pub(super) fn check_batch(&self, batch: &WriteBatch) -> Result<(), PluginError> {
        for entry in batch.iter() {
            match entry? {
                BatchEntry::Put { key, value, .. } => self.check_sizes(key, Some(value))?,
                BatchEntry::Delete { key, .. } => self.check_sizes(key, None)?,
                BatchEntry::DeleteRange { start, end, .. } => {
                    self.require(Capabilities::DELETE_RANGE, "delete_range")?;
                    self.check_bound(start)?;
                    self.check_bound(end)?;
                }
            }
        }
        Ok(())
    }
}

/// Runs `body` for `operation` unless `instance` is poisoned or closed, turning a panic into
/// an `INTERNAL` error that poisons the instance.
pub(super) fn guard<T>(
    instance: &Instance,
    operation: &str,
    body: impl FnOnce() -> Result<T, PluginError>,
) -> RResult<T, PluginError> {
    let outcome = instance.check().and_then(|()| match panics::catch(body) {
        Ok(result) => result,
        Err(message) => {
            let reason = format!("{operation} panicked: {message}");
            let _ = instance.poison.set(reason.clone());
            Err(PluginError::internal(format!(
                "{reason} (this instance is now poisoned)"
            )))
        }
    });
    outcome.into()
}

/// Like [`guard`] for the root-module entry points, which have no instance to poison.
pub(super) fn guard_entry<T>(
    operation: &str,
    body: impl FnOnce() -> Result<T, PluginError>,
) -> RResult<T, PluginError> {
    match panics::catch(body) {
        Ok(result) => result.into(),
        Err(message) => RResult::RErr(PluginError::internal(format!(
            "{operation} panicked: {message}"
        ))),
    }
}

/// Drops `value` without letting a panic escape (a destructor runs across the boundary too).
pub(super) fn drop_quietly<T>(instance: &Instance, what: &str, value: T) {
    if let Err(message) = panics::catch(move || drop(value)) {
        let _ = instance
            .poison
            .set(format!("dropping a {what} panicked: {message}"));
    }
}

//! One policy for a plugin's own locks. A lock is poisoned when a thread panicked while
//! holding it. The SDK has already turned that panic into an `INTERNAL` error and poisoned the
//! instance (every later call on it fails), so what the lock guards may be half-changed: a
//! poisoned lock is reported as `INTERNAL`, naming the lock, never unwrapped and never used
//! as if nothing happened.

use std::sync::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use crate::PluginError;

fn poisoned(what: &str) -> PluginError {
    PluginError::internal(format!(
        "the {what} lock is poisoned: a thread panicked while holding it"
    ))
}

/// Locks `mutex` (`what` names it in the error).
///
/// # Errors
/// `INTERNAL` when the lock is poisoned.
pub fn lock<'a, T>(mutex: &'a Mutex<T>, what: &str) -> Result<MutexGuard<'a, T>, PluginError> {
    mutex.lock().map_err(|_| poisoned(what))
}

/// Locks `lock` for reading.
///
/// # Errors
/// `INTERNAL` when the lock is poisoned.
pub fn read<'a, T>(lock: &'a RwLock<T>, what: &str) -> Result<RwLockReadGuard<'a, T>, PluginError> {
    lock.read().map_err(|_| poisoned(what))
}

/// Locks `lock` for writing.
///
/// # Errors
/// `INTERNAL` when the lock is poisoned.
pub fn write<'a, T>(
    lock: &'a RwLock<T>,
    what: &str,
) -> Result<RwLockWriteGuard<'a, T>, PluginError> {
    lock.write().map_err(|_| poisoned(what))
}

/// Waits on `condvar` with `guard` (of the lock `what`).
///
/// # Errors
/// `INTERNAL` when the lock is poisoned.
pub fn wait<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    what: &str,
) -> Result<MutexGuard<'a, T>, PluginError> {
    condvar.wait(guard).map_err(|_| poisoned(what))
}

/// Waits on `condvar` with `guard` (of the lock `what`) for at most `timeout`.
///
/// # Errors
/// `INTERNAL` when the lock is poisoned.
pub fn wait_timeout<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: Duration,
    what: &str,
) -> Result<MutexGuard<'a, T>, PluginError> {
    condvar
        .wait_timeout(guard, timeout)
        .map(|(guard, _)| guard)
        .map_err(|_| poisoned(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn a_poisoned_lock_is_an_internal_error_naming_it() {
        let mutex = std::sync::Arc::new(Mutex::new(1));
        let held = std::sync::Arc::clone(&mutex);
        let _ = std::thread::spawn(move || {
            let _guard = held.lock().unwrap();
            panic!("while holding the lock");
        })
        .join();
        let error = lock(&mutex, "table registry").unwrap_err();
        assert_eq!(error.code, ErrorCode::INTERNAL);
        assert!(error.message.contains("table registry lock is poisoned"));
        let fine = RwLock::new(2);
        assert_eq!(*read(&fine, "x").unwrap(), 2);
        *write(&fine, "x").unwrap() = 3;
        assert_eq!(*read(&fine, "x").unwrap(), 3);
    }
}

//! The reader gate: counts this process's open read transactions, so the memory map can be
//! resized when there are none (LMDB may only remap while no transaction of the process is
//! open), holding new readers back meanwhile.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use kgdb_plugin_api::sdk::locks;
use kgdb_plugin_api::{ErrorCode, PluginError};

const GATE: &str = "reader gate";

/// The gate of one environment.
#[derive(Default)]
pub(crate) struct ReaderGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    readers: usize,
    resizing: bool,
}

/// Held by every open read transaction; releases its slot when dropped.
pub(crate) struct ReaderToken {
    gate: Arc<ReaderGate>,
}

impl Drop for ReaderToken {
    fn drop(&mut self) {
        if let Ok(mut state) = locks::lock(&self.gate.state, GATE) {
            state.readers -= 1;
        }
        self.gate.changed.notify_all();
    }
}

/// Why a remap waits, and the error when it waits too long.
pub(crate) struct Remap {
    /// What the remap is for, as the error says it.
    pub why: &'static str,
    /// The error code when the wait runs out.
    pub code: ErrorCode,
}

impl ReaderGate {
    /// Registers a reader, waiting while the map is being resized.
    pub(crate) fn enter(self: &Arc<Self>) -> Result<ReaderToken, PluginError> {
        let mut state = locks::lock(&self.state, GATE)?;
        while state.resizing {
            state = locks::wait(&self.changed, state, GATE)?;
        }
        state.readers += 1;
        Ok(ReaderToken {
            gate: Arc::clone(self),
        })
    }

    /// Runs `resize` once no reader is open, holding new readers back meanwhile; after
    /// `wait`, gives up with `remap`'s error.
    pub(crate) fn exclusive<T>(
        &self,
        wait: Duration,
        remap: &Remap,
        resize: impl FnOnce() -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let mut state = locks::lock(&self.state, GATE)?;
        state.resizing = true;
        let deadline = Instant::now() + wait;
        while state.readers > 0 {
            let now = Instant::now();
            if now >= deadline {
                let open = state.readers;
                state.resizing = false;
                drop(state);
                self.changed.notify_all();
                return Err(PluginError::new(
                    remap.code,
                    format!(
                        "{} cannot proceed while {open} read transaction(s) of this process stay open (waited {} s, resize_wait_seconds); end them and retry",
                        remap.why,
                        wait.as_secs()
                    ),
                )
                .with_retryable(true));
            }
            state = locks::wait_timeout(&self.changed, state, deadline - now, GATE)?;
        }
        let result = resize();
        state.resizing = false;
        drop(state);
        self.changed.notify_all();
        result
    }
}

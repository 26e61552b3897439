//! Metering: where each call through the adapter is counted and timed.

use kgdb_plugin_api::TableId;

use crate::error::BackendError;
use crate::stats::{Call, Collector, Op, Tally, Timer};

/// Where a call is counted: the collector, through the caller's [`Tally`] when it has one (a
/// transaction does; the backend and cursors count straight into the collector).
#[derive(Clone, Copy)]
pub(super) struct Meter<'a> {
    collector: &'a Collector,
    tally: Option<&'a Tally>,
}

impl<'a> Meter<'a> {
    pub(super) fn direct(collector: &'a Collector) -> Self {
        Self {
            collector,
            tally: None,
        }
    }

    pub(super) fn through(collector: &'a Collector, tally: &'a Tally) -> Self {
        Self {
            collector,
            tally: Some(tally),
        }
    }

    /// Runs `call` as one `op`; `bytes_out` measures a successful result.
    pub(super) fn measure<T>(
        self,
        op: Op,
        table: Option<TableId>,
        bytes_in: usize,
        call: impl FnOnce() -> Result<T, BackendError>,
        bytes_out: impl FnOnce(&T) -> usize,
    ) -> Result<T, BackendError> {
        let timer = self.start(op);
        let outcome = call();
        self.note(table, bytes_in, timer, &outcome, bytes_out);
        outcome
    }

    /// Starts a call (see [`Meter::note`]).
    pub(super) fn start(self, op: Op) -> Option<Timer> {
        match self.tally {
            Some(tally) => self.collector.start_in(tally, op),
            None => self.collector.start(op),
        }
    }

    /// Records one call's outcome; `bytes_out` measures a successful result.
    pub(super) fn note<T>(
        self,
        table: Option<TableId>,
        bytes_in: usize,
        timer: Option<Timer>,
        outcome: &Result<T, BackendError>,
        bytes_out: impl FnOnce(&T) -> usize,
    ) {
        let Some(timer) = timer else {
            return;
        };
        let (out, error) = match outcome {
            Ok(value) => (bytes_out(value), None),
            Err(error) => (0, Some(error.code)),
        };
        let call = Call {
            table: table.map(|t| t.0),
            bytes_in: bytes_in as u64,
            bytes_out: out as u64,
        };
        match self.tally {
            Some(tally) => self.collector.finish_in(tally, timer, call, error),
            None => self.collector.finish(timer, call, error),
        }
    }
}

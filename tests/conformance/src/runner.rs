//! Running cases: each on a fresh fixture, a failed assertion caught and reported as the case's
//! failure, one report per case and a summary.

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Mutex, Once, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::{Case, Fixture, Target};

/// Cases marked `exclusive` measure process-wide memory: they take this lock for writing while
/// every other case holds it for reading, so they run alone even when a test harness runs
/// cases on several threads.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

/// Whether panic messages are being captured instead of printed (see [`quiet_panics`]).
static CAPTURE: Mutex<Option<Vec<String>>> = Mutex::new(None);
static HOOK: Once = Once::new();

/// Routes panic messages (with their location) into the capture buffer while one is set, so a
/// command-line run prints one line per case instead of panic noise; otherwise the previous
/// hook runs as usual.
fn quiet_panics() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let mut capture = CAPTURE.lock().unwrap_or_else(PoisonError::into_inner);
            match capture.as_mut() {
                Some(messages) => {
                    let location = info
                        .location()
                        .map(|l| format!(" (at {}:{})", l.file(), l.line()))
                        .unwrap_or_default();
                    messages.push(format!("{}{location}", payload_text(info.payload())));
                }
                None => {
                    drop(capture);
                    previous(info);
                }
            }
        }));
    });
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panicked".to_owned()
    }
}

/// How long one case may run before it counts as hung.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs one case against `target` on a fresh data directory, on a thread of its own: a case
/// that has not finished after [`CASE_TIMEOUT`] fails as hung (a deadlock in the plugin, say)
/// instead of hanging the run; its thread is left behind.
///
/// # Errors
/// The case's failure: the first failed assertion's message (and, for a case that panicked
/// on another thread too, that thread's message), or the hang.
pub fn run_case(target: &Target, case: &Case) -> Result<Vec<String>, String> {
    let _alone = case
        .exclusive
        .then(|| EXCLUSIVE.write().unwrap_or_else(PoisonError::into_inner));
    let _shared =
        (!case.exclusive).then(|| EXCLUSIVE.read().unwrap_or_else(PoisonError::into_inner));
    let (done, outcome) = mpsc::channel();
    let (target, case) = (target.clone(), *case);
    let spawned = thread::Builder::new()
        .name(case.full_name())
        .spawn(move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                let mut fixture = Fixture::open(&target);
                (case.run)(&mut fixture);
                fixture.take_notes()
            }));
            let _ = done.send(outcome.map_err(|payload| payload_text(payload.as_ref())));
        });
    if let Err(error) = spawned {
        return Err(format!("could not start the case's thread: {error}"));
    }
    match outcome.recv_timeout(CASE_TIMEOUT) {
        Ok(outcome) => outcome,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "the case did not finish within {} s: a deadlock or a hang (its thread is left running)",
            CASE_TIMEOUT.as_secs()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err("the case's thread ended without an outcome".to_owned())
        }
    }
}

/// The outcome of one case in a suite run.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// `category::name`.
    pub name: String,
    /// `Ok(notes)` when it passed (notes say what it could not check here), else the failure.
    pub outcome: Result<Vec<String>, String>,
    /// How long it took.
    pub elapsed: Duration,
}

impl fmt::Display for CaseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.elapsed.as_millis();
        match &self.outcome {
            Ok(notes) => {
                write!(f, "ok     {} ({millis} ms)", self.name)?;
                for note in notes {
                    write!(f, "\n       note: {note}")?;
                }
                Ok(())
            }
            Err(message) => {
                write!(f, "FAILED {} ({millis} ms)", self.name)?;
                for line in message.lines() {
                    write!(f, "\n       {line}")?;
                }
                Ok(())
            }
        }
    }
}

/// Counts of a suite run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)
    }
}

/// Runs every case whose full name contains `filter` (all when `None`), one after another,
/// calling `report` after each. Panic messages are captured into the reports instead of being
/// printed.
pub fn run_suite(
    target: &Target,
    filter: Option<&str>,
    mut report: impl FnMut(&CaseReport),
) -> Summary {
    quiet_panics();
    let mut summary = Summary::default();
    for case in crate::cases_matching(filter) {
        let name = case.full_name();
        *CAPTURE.lock().unwrap_or_else(PoisonError::into_inner) = Some(Vec::new());
        let started = Instant::now();
        let result = run_case(target, case);
        let captured = CAPTURE
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        let outcome = result.map_err(|message| {
            // The hook saw every panic of the case (including other threads'); the first one
            // is the cause, and carries its location.
            captured.into_iter().next().unwrap_or(message)
        });
        match outcome {
            Ok(_) => summary.passed += 1,
            Err(_) => summary.failed += 1,
        }
        report(&CaseReport {
            name,
            outcome,
            elapsed: started.elapsed(),
        });
    }
    summary
}

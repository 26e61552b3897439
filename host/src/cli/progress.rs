//! Progress of long store work drawn on a terminal: undoing a load that did not finish. The
//! store only emits `tracing` events (target `kgdb_host::store::undo`, with a `stage` field);
//! this layer turns them into a spinner line on stderr, shown at every verbosity.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The target of the undo's events.
pub(super) const UNDO_TARGET: &str = "kgdb_host::store::undo";

/// Draws the undo's progress (only installed when stderr is a terminal).
#[derive(Default)]
pub(super) struct UndoProgress {
    bar: Mutex<Option<ProgressBar>>,
}

/// The fields of one undo event.
#[derive(Default)]
struct UndoFields {
    stage: String,
    quads: u64,
    terms: u64,
}

impl Visit for UndoFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "quads" => self.quads = value,
            "terms" => self.terms = value,
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "stage" {
            value.clone_into(&mut self.stage);
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl<S: Subscriber> Layer<S> for UndoProgress {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        if event.metadata().target() != UNDO_TARGET {
            return;
        }
        let mut fields = UndoFields::default();
        event.record(&mut fields);
        let Ok(mut slot) = self.bar.lock() else {
            return;
        };
        if fields.stage == "done" {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
            return;
        }
        let bar = slot.get_or_insert_with(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        bar.set_message(match fields.stage.as_str() {
            "quads" => format!(
                "undoing a load that did not finish: {} quads removed",
                fields.quads
            ),
            "terms" => format!(
                "undoing a load that did not finish: {} quads and {} terms removed",
                fields.quads, fields.terms
            ),
            _ => "undoing a load that did not finish".to_owned(),
        });
    }
}

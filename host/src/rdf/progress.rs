//! A load's progress: the bar on a terminal (bytes of input read) and the stage messages of a
//! sorted load (parsing, sorting, ingesting, with keys per second), also logged.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::load::{LoadRequest, Source};
use crate::store::{LoadProgress, LoadStage};

/// The progress bar of `request`: bytes of its files read, drawn on stderr when asked.
pub(super) fn progress_bar(request: &LoadRequest) -> ProgressBar {
    let total: u64 = request
        .sources
        .iter()
        .map(|source| match source {
            Source::File(path, _) => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            Source::Stdin(_) => 0,
        })
        .sum();
    let target = if request.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    let style = if total > 0 {
        ProgressStyle::with_template(
            "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ({elapsed})",
        )
    } else {
        ProgressStyle::with_template("{spinner} {prefix} {bytes} {msg} ({elapsed})")
    };
    if let Ok(style) = style {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// What reports a sorted load's stages on `bar`: each new stage is logged, and the bar says
/// how many keys the stage has handled, how fast.
pub(super) fn stage_reporter(bar: ProgressBar) -> impl FnMut(LoadProgress) {
    let mut stage_started = (LoadStage::Parsing, Instant::now());
    move |report: LoadProgress| {
        if report.stage != stage_started.0 {
            stage_started = (report.stage, Instant::now());
            tracing::info!(stage = report.stage.name(), "load stage");
        }
        if report.stage != LoadStage::Parsing {
            let rate = report.done as f64 / stage_started.1.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{}: {} keys, {rate:.0} keys/s",
                report.stage.name(),
                report.done
            ));
        }
    }
}

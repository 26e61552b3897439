//! `kgdb-host backup` and `kgdb-host migrate`: a whole store copied, at one consistent point,
//! into a new data directory of the same plugin (`backup`) or of another (`migrate`).
//!
//! A copy is written under `DIR.partial` beside `DIR` and renamed to `DIR` only once it is
//! whole and (unless `--no-verify`) verified: an interrupted copy leaves `DIR` as it was and
//! `DIR.partial`, which every open refuses and which the next copy into `DIR` asks to remove.
//! The source is only read.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::output::outln;
use super::session::{is_persistent, Session, StoreUse};
use super::{Cli, Failure};
use crate::disk::bytes_on_disk;
use crate::plugin::{Access, Backend, Capabilities, ChosenPlugin};
use crate::store::{
    CopyOptions, CopyProgress, CopySummary, Counts, Store, StoreError, VerifyReport,
};
use crate::units::human_bytes;

/// `backup`'s arguments.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Directory to write the backup into: one that does not exist yet, or an empty one
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Do not verify the copy at the end (it is still opened and counted)
    #[arg(long)]
    pub no_verify: bool,
}

/// `migrate`'s arguments.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Plugin to copy the store into: a name from the manifest, a library file, or a plugin
    /// directory
    #[arg(long, value_name = "NAME|PATH")]
    pub to: String,
    /// Data directory of the copy (for a plugin that keeps data on disk): one that does not
    /// exist yet, or an empty one
    #[arg(long, value_name = "DIR")]
    pub to_data_dir: Option<PathBuf>,
    /// TOML file of the target plugin's config keys, as in its `[plugin.config]` table
    /// [default: its manifest entry's config]
    #[arg(long, value_name = "FILE")]
    pub to_config: Option<PathBuf>,
    /// Do not verify the copy at the end (it is still opened and counted)
    #[arg(long)]
    pub no_verify: bool,
}

pub(super) fn backup(cli: &Cli, session: &Session, args: &BackupArgs) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    let staged = StagedDir::prepare(&args.dir)?;
    let opened = session.open_store(cli, StoreUse::Read)?;
    let plugin = opened.chosen.plugin().details().name.clone();
    if !opened.persistent {
        return Err(Failure(format!(
            "nothing to back up: the `{plugin}` plugin keeps nothing on disk (every process starts empty); `kgdb-host migrate` copies a store into a plugin that keeps it"
        )));
    }
    let store = opened.store;
    let method = if store.backend().capabilities().has(Capabilities::CHECKPOINT) {
        checkpoint(store.backend(), &staged)?;
        "checkpoint (the plugin's consistent copy)"
    } else if let Some(writer) = writing_instance(cli, session, &opened.chosen) {
        // A read-only instance of some engines (RocksDB) cannot checkpoint; a writing one
        // can, when no other process writes.
        let done = checkpoint(&writer, &staged);
        writer.close()?;
        done?;
        "checkpoint (the plugin's consistent copy)"
    } else {
        let target =
            session.open_backend_at(&opened.chosen, Some(&staged.partial), Access::ReadWrite)?;
        copy_staged(&store, target, &staged)?;
        "copying every table at one snapshot"
    };
    store.close()?;
    let target =
        session.open_backend_at(&opened.chosen, Some(&staged.partial), Access::ReadWrite)?;
    let (counts, report) = check_copy(target, !args.no_verify, &staged)?;
    staged.finish()?;
    outln!(
        "backed up {} quads and {} terms into {} by {method} in {:.2} s: {} on disk{}",
        counts.quads,
        counts.terms,
        args.dir.display(),
        started.elapsed().as_secs_f64(),
        human_bytes(bytes_on_disk(&args.dir)),
        verified(report.as_ref())
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn migrate(
    cli: &Cli,
    session: &Session,
    args: &MigrateArgs,
) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    let mut chosen = session.registry.choose(Some(&args.to))?;
    if let Some(file) = &args.to_config {
        let text = std::fs::read_to_string(file)
            .map_err(|error| Failure(format!("{}: {error}", file.display())))?;
        chosen = chosen
            .with_config(text)
            .map_err(|error| Failure(format!("{}: {error}", file.display())))?;
    }
    let to = chosen.plugin().details().name.clone();
    let staged = match (is_persistent(&chosen), &args.to_data_dir) {
        (true, Some(dir)) => Some(StagedDir::prepare(dir)?),
        (true, None) => {
            return Err(Failure(format!(
                "the `{to}` plugin keeps its data on disk: name the copy's directory with --to-data-dir DIR"
            )))
        }
        (false, _) => {
            eprintln!(
                "note: the `{to}` plugin keeps nothing on disk: the copy is checked, then gone when this command ends"
            );
            None
        }
    };
    let opened = session.open_store(cli, StoreUse::Read)?;
    let from = opened.chosen.plugin().details().name.clone();
    let store = opened.store;
    let target = session.open_backend_at(
        &chosen,
        staged.as_ref().map(|staged| staged.partial.as_path()),
        Access::ReadWrite,
    )?;
    let (summary, counts, report) = match &staged {
        Some(staged) => {
            let summary = copy_staged(&store, target, staged)?;
            store.close()?;
            let target =
                session.open_backend_at(&chosen, Some(&staged.partial), Access::ReadWrite)?;
            let (counts, report) = check_copy(target, !args.no_verify, staged)?;
            (summary, counts, report)
        }
        None => {
            let summary = copy_with_progress(&store, &target)
                .map_err(|error| Failure(format!("copying the store: {error}")))?;
            store.close()?;
            let (counts, report) = check_open_copy(target, !args.no_verify)?;
            (summary, counts, report)
        }
    };
    if !summary.load_pending && (counts.quads != summary.quads || counts.terms != summary.terms) {
        let failure = Failure(format!(
            "the copy counts {} quads and {} terms, the source {} and {} at the snapshot copied",
            counts.quads, counts.terms, summary.quads, summary.terms
        ));
        return Err(match &staged {
            Some(staged) => staged.abandon(failure),
            None => failure,
        });
    }
    let place = match (&staged, &args.to_data_dir) {
        (Some(staged), Some(dir)) => {
            staged.finish()?;
            format!(
                " {} ({} on disk)",
                dir.display(),
                human_bytes(bytes_on_disk(dir))
            )
        }
        _ => String::new(),
    };
    let seconds = started.elapsed().as_secs_f64();
    outln!(
        "migrated {} quads and {} terms ({} rows, {}) from `{from}` to `{to}`{place} in {seconds:.2} s ({:.0} rows/s, {}){}",
        counts.quads,
        counts.terms,
        summary.rows,
        human_bytes(summary.bytes),
        summary.rows as f64 / seconds.max(1e-9),
        if summary.ingested {
            "as sorted runs"
        } else {
            "in transactions"
        },
        verified(report.as_ref())
    )?;
    Ok(ExitCode::SUCCESS)
}

/// A copy's directory, written under a sibling name until it is whole.
struct StagedDir {
    /// Where the copy ends up.
    dir: PathBuf,
    /// Where it is written: `DIR.partial`.
    partial: PathBuf,
}

impl StagedDir {
    /// Checks that `dir` is new or empty and that no earlier copy into it was left half-way.
    fn prepare(dir: &Path) -> Result<Self, Failure> {
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(|error| {
                Failure(format!(
                    "{}: {error} (a copy goes into a new or empty directory)",
                    dir.display()
                ))
            })?;
            if entries.next().is_some() {
                return Err(Failure(format!(
                    "{}: the directory is not empty; a copy goes into a new or empty directory",
                    dir.display()
                )));
            }
        }
        let mut name = dir
            .file_name()
            .ok_or_else(|| Failure(format!("{}: not a directory name", dir.display())))?
            .to_os_string();
        name.push(".partial");
        let partial = dir.with_file_name(name);
        if partial.exists() {
            return Err(Failure(format!(
                "{}: an earlier copy into {} did not finish and left this; remove it (`rm -r {}`) and copy again",
                partial.display(),
                dir.display(),
                partial.display()
            )));
        }
        if let Some(parent) = partial
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)
                .map_err(|error| Failure(format!("{}: {error}", parent.display())))?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            partial,
        })
    }

    /// Moves the whole copy into place.
    fn finish(&self) -> Result<(), Failure> {
        std::fs::rename(&self.partial, &self.dir).map_err(|error| {
            Failure(format!(
                "moving the finished copy {} to {}: {error} (the copy is whole: move it yourself)",
                self.partial.display(),
                self.dir.display()
            ))
        })
    }

    /// Removes what a failed copy wrote, or says how to.
    fn abandon(&self, failure: Failure) -> Failure {
        match std::fs::remove_dir_all(&self.partial) {
            Ok(()) => Failure(format!(
                "{} (nothing was left in {})",
                failure.0,
                self.dir.display()
            )),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => failure,
            Err(error) => Failure(format!(
                "{}; removing the unfinished copy {} failed too ({error}): remove it yourself",
                failure.0,
                self.partial.display()
            )),
        }
    }
}

/// A writing instance of the chosen plugin on `--data-dir`, when the plugin can checkpoint and
/// no other process writes there.
fn writing_instance(cli: &Cli, session: &Session, chosen: &ChosenPlugin) -> Option<Backend> {
    if !chosen
        .plugin()
        .details()
        .capabilities
        .has(Capabilities::CHECKPOINT)
    {
        return None;
    }
    match session.open_backend(cli, chosen, Access::ReadWrite) {
        Ok(backend) => Some(backend),
        Err(Failure(why)) => {
            tracing::info!("no checkpoint, copying the tables instead: {why}");
            None
        }
    }
}

/// The plugin's checkpoint into the staged directory.
fn checkpoint(backend: &Backend, staged: &StagedDir) -> Result<(), Failure> {
    backend
        .checkpoint(&staged.partial)
        .map_err(|error| staged.abandon(Failure(format!("checkpoint: {error}"))))
}

/// Copies `store` into `target`, which it closes; on failure, removes the staged copy.
fn copy_staged(store: &Store, target: Backend, staged: &StagedDir) -> Result<CopySummary, Failure> {
    let copied = copy_with_progress(store, &target);
    let closed = target.close();
    match (copied, closed) {
        (Ok(summary), Ok(())) => Ok(summary),
        (Err(error), _) => Err(staged.abandon(Failure(format!("copying the store: {error}")))),
        (Ok(_), Err(error)) => Err(staged.abandon(Failure(format!("closing the copy: {error}")))),
    }
}

/// Copies `store` into `target` with a progress bar on a terminal.
fn copy_with_progress(store: &Store, target: &Backend) -> Result<CopySummary, StoreError> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} copying {msg} {wide_bar} {human_pos}/{human_len} rows ({per_sec}, {eta})",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut progress = |copied: &CopyProgress| {
        bar.set_length(copied.expected_rows.max(copied.rows));
        bar.set_position(copied.rows);
        bar.set_message(copied.table.clone());
    };
    let copied = store.copy_into(target, &CopyOptions::default(), Some(&mut progress));
    bar.finish_and_clear();
    copied
}

/// Opens the staged copy as a store and counts (and verifies) it; on failure, removes it.
fn check_copy(
    target: Backend,
    verify: bool,
    staged: &StagedDir,
) -> Result<(Counts, Option<VerifyReport>), Failure> {
    check_open_copy(target, verify).map_err(|failure| staged.abandon(failure))
}

/// Opens a copy as a store (undoing a load it caught half-way) and counts (and verifies) it.
fn check_open_copy(
    target: Backend,
    verify: bool,
) -> Result<(Counts, Option<VerifyReport>), Failure> {
    let store =
        Store::open(target).map_err(|error| Failure(format!("opening the copy: {error}")))?;
    let counts = store.counts()?;
    let report = if verify {
        let spinner = if std::io::stderr().is_terminal() {
            ProgressBar::new_spinner().with_message("verifying the copy")
        } else {
            ProgressBar::hidden()
        };
        spinner.enable_steady_tick(std::time::Duration::from_millis(200));
        let report = store.verify(10);
        spinner.finish_and_clear();
        let report = report?;
        if !report.is_ok() {
            return Err(Failure(format!(
                "the copy does not verify ({} difference(s)): {}",
                report.difference_count,
                report.differences.join("; ")
            )));
        }
        Some(report)
    } else {
        None
    };
    store.close()?;
    Ok((counts, report))
}

/// The verify part of the closing line.
fn verified(report: Option<&VerifyReport>) -> String {
    match report {
        Some(report) => format!(
            "; verified: {} index entries in 9 orderings and {} terms agree",
            report.index_entries, report.terms
        ),
        None => "; not verified (--no-verify)".to_owned(),
    }
}

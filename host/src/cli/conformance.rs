//! `kgdb-host conformance`: the conformance suite (`kgdb-conformance`) on any plugin file.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use kgdb_conformance::{CrashWriter, Target};

use super::output::outln;
use super::{Cli, Failure};
use crate::plugin::PluginRegistry;

/// Arguments of `conformance`.
#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// Run only the cases whose name (`category::case`) contains TEXT
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// List the cases instead of running them
    #[arg(long)]
    pub list: bool,
    /// Plugin config (TOML) for every case [default: the manifest entry's config, else empty]
    #[arg(long, value_name = "TOML")]
    pub plugin_config: Option<String>,
    /// A config that makes the backend small enough to fill, for the full-store case
    /// (e.g. 'max_map_size = "1 MiB"'); without it that case says it was not simulated
    #[arg(long, value_name = "TOML")]
    pub full_config: Option<String>,
}

/// Arguments of the hidden `conformance-writer` (the suite's SIGKILL child process).
#[derive(Debug, Args)]
pub struct WriterArgs {
    /// LIBRARY DATA_DIR FIRST COUNT [CONFIG]
    #[arg(num_args = 4..=5, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Runs the crash writer child of the durability case.
#[must_use]
pub fn writer(args: &WriterArgs) -> ExitCode {
    kgdb_conformance::crash::writer_main(&args.args)
}

/// Runs the suite on `--plugin` (or the manifest's default).
pub fn run(
    cli: &Cli,
    registry: &PluginRegistry,
    args: &ConformanceArgs,
) -> Result<ExitCode, Failure> {
    if args.list {
        for case in kgdb_conformance::cases() {
            outln!("{}", case.full_name())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let selected = kgdb_conformance::cases_matching(args.filter.as_deref()).len();
    if selected == 0 {
        return Err(Failure(format!(
            "no conformance case matches --filter {:?} (see --list)",
            args.filter.as_deref().unwrap_or_default()
        )));
    }
    let resolved = registry.resolve(cli.plugin.as_deref())?;
    let plugin = registry.load(&resolved)?;
    let config = match &args.plugin_config {
        Some(config) => config.clone(),
        None => {
            registry.validate_config(&resolved, &plugin)?;
            resolved.config_text()
        }
    };
    let program = std::env::current_exe()
        .map_err(|e| Failure(format!("cannot find the kgdb-host executable: {e}")))?;
    let target = Target {
        library: resolved.library.clone(),
        config,
        full_config: args.full_config.clone(),
        crash_writer: Some(CrashWriter {
            program,
            args: vec!["conformance-writer".to_owned()],
        }),
        loaded: Some(Arc::clone(&plugin)),
    };
    let info = plugin.details();
    outln!(
        "conformance of {} {} ({}): {selected} cases",
        info.name,
        info.version,
        plugin.path().display()
    )?;
    let summary = kgdb_conformance::run_suite(&target, args.filter.as_deref(), |report| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{report}");
        let _ = out.flush();
    });
    outln!("{summary}")?;
    Ok(if summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

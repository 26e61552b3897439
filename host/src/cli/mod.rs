//! The `kgdb-host` command line.

mod compact;
mod conformance;
mod copy;
mod data;
mod output;
mod plugins;
mod progress;
mod query;
mod report;
mod serve;
mod session;
mod stats;
mod status;
mod update;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::LazyLock;

use clap::{ArgAction, Parser, Subcommand};

use crate::plugin::{host_abi_version, PluginRegistry};
pub use data::PatternArgs;
use session::Session;

static VERSION: LazyLock<String> = LazyLock::new(|| {
    let abi = host_abi_version();
    let major = abi.split('.').next().unwrap_or("?");
    format!(
        "{} (plugin ABI {abi}; loads plugins built against kgdb-plugin-api {major}.x)",
        env!("CARGO_PKG_VERSION")
    )
});

/// kgdb: an RDF knowledge-graph store with pluggable storage backends.
#[derive(Debug, Parser)]
#[command(name = "kgdb-host", version = VERSION.as_str(), propagate_version = true)]
pub struct Cli {
    /// Plugin manifest [default: $KGDB_CONFIG, else ./plugins.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Storage plugin: a name from the manifest, a library file, or a plugin directory
    /// such as plugins/memory [default: the manifest's `default`]
    #[arg(long, global = true, value_name = "NAME|PATH", env = "KGDB_PLUGIN")]
    pub plugin: Option<String>,
    /// Directory the chosen backend keeps its data in
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "kgdb-data",
        env = "KGDB_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// More log output on stderr: -v info, -vv debug, -vvv trace (RUST_LOG overrides)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// At the end, print the command's operation stats (calls, bytes, errors and latency per
    /// backend operation; transactions) on stderr
    #[arg(long, global = true)]
    pub stats: bool,
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect and check storage plugins
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// Open the chosen backend on --data-dir and show its capabilities, tables and statistics
    Status,
    /// Load RDF files into the store, atomically (an error loads nothing)
    Load(data::LoadArgs),
    /// Write the store (or one graph) as RDF, to stdout or a file
    Dump(data::DumpArgs),
    /// Print the quads matching a pattern, e.g. `quads '?s' '<http://schema.org/name>' '?o'`
    Quads(data::QuadsArgs),
    /// Print the number of quads (exact, kept by the store)
    Count(data::CountArgs),
    /// List the named graphs with their quad counts
    Graphs,
    /// Answer a SPARQL 1.1 query: `query 'SELECT * WHERE { ?s ?p ?o } LIMIT 10'`
    Query(query::QueryArgs),
    /// Apply a SPARQL 1.1 update in one transaction: `update 'INSERT DATA { <a> <b> <c> }'`
    Update(update::UpdateArgs),
    /// Serve the store over HTTP: SPARQL 1.1 Protocol (/query, /update, /sparql), Graph Store
    /// (/store), /metrics and /health, until SIGINT or SIGTERM
    Serve(serve::ServeArgs),
    /// Remove the quads matching a pattern
    Remove(PatternArgs),
    /// Remove every quad of one graph, or everything
    Clear(data::ClearArgs),
    /// Check that every index ordering, the dictionary and the counters agree
    Verify(data::VerifyArgs),
    /// Undo a load that was interrupted (a killed process), now; any writing command does it
    /// first anyway
    Recover,
    /// Copy the store, consistently while others read and write it, into a new directory of the
    /// same plugin (its checkpoint where it has one), then verify the copy
    Backup(copy::BackupArgs),
    /// Copy the whole store at one snapshot into an empty store on another plugin
    /// (`--to rocksdb --to-data-dir DIR`), then verify it; the source is only read
    Migrate(copy::MigrateArgs),
    /// Reclaim space through the plugin's own compaction (RocksDB) and print the bytes on disk
    /// before and after; on LMDB, which reuses the pages it frees, how many are free
    Compact,
    /// What the store holds (exact counts, largest graphs, bytes on disk), the backend's own
    /// statistics and the last load's operation stats; `--json` for machines
    Stats(stats::StatsArgs),
    /// Run the conformance suite on a plugin (any library file): one line per case, then
    /// `N passed, N failed`
    Conformance(conformance::ConformanceArgs),
    /// The conformance suite's crash-test child process (not for direct use)
    #[command(hide = true)]
    ConformanceWriter(conformance::WriterArgs),
}

impl Command {
    /// The subcommand's name, for the span every log line of a command carries.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Plugins(_) => "plugins",
            Self::Status => "status",
            Self::Load(_) => "load",
            Self::Dump(_) => "dump",
            Self::Quads(_) => "quads",
            Self::Count(_) => "count",
            Self::Graphs => "graphs",
            Self::Query(_) => "query",
            Self::Update(_) => "update",
            Self::Serve(_) => "serve",
            Self::Remove(_) => "remove",
            Self::Clear(_) => "clear",
            Self::Verify(_) => "verify",
            Self::Recover => "recover",
            Self::Backup(_) => "backup",
            Self::Migrate(_) => "migrate",
            Self::Compact => "compact",
            Self::Stats(_) => "stats",
            Self::Conformance(_) => "conformance",
            Self::ConformanceWriter(_) => "conformance-writer",
        }
    }
}

fn init_logging(verbose: u8, command: &Command) {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{EnvFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let level = match verbose {
        // A server logs one line per request.
        0 if matches!(command, Command::Serve(_)) => "info",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose >= 2)
        .with_filter(filter);
    // Long work in the store shows progress on a terminal whatever the verbosity.
    let progress = std::io::stderr().is_terminal().then(|| {
        progress::UndoProgress::default()
            .with_filter(Targets::new().with_target(progress::UNDO_TARGET, tracing::Level::INFO))
    });
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(progress)
        .try_init();
}

/// A failed command: its message is printed as one `error:` line.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::error::Error> From<E> for Failure {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

/// Runs the command line; the process exit code is the result.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    init_logging(cli.verbose, &cli.command);
    // Every command runs on a thread with room for deep SPARQL requests (see
    // `sparql::with_sparql_stack`); its span is entered there.
    let outcome = crate::sparql::with_sparql_stack(|| {
        let _command = tracing::info_span!("command", name = cli.command.name()).entered();
        run(&cli)
    });
    match outcome {
        Ok(code) => code,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version go out as clap writes them; a usage mistake is one `error:` line (clap's
/// first line, with the subcommand's usage as a hint) and exit code 2.
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = error.print();
        return if error.use_stderr() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let rendered = error.render().to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let usage_at = lines.iter().position(|line| line.starts_with("Usage: "));
    let what = lines[..usage_at.unwrap_or(lines.len())]
        .iter()
        .filter(|line| !line.starts_with("For more information"))
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let what = what.strip_prefix("error: ").unwrap_or(&what);
    let usage = usage_at
        .and_then(|at| lines[at].strip_prefix("Usage: "))
        .map(|usage| format!(" (usage: {usage}; see --help)"))
        .unwrap_or_else(|| " (see --help)".to_owned());
    eprintln!("error: {what}{usage}");
    ExitCode::from(2)
}

fn run(cli: &Cli) -> Result<ExitCode, Failure> {
    if let Command::ConformanceWriter(args) = &cli.command {
        return Ok(conformance::writer(args));
    }
    let session = Session::new(PluginRegistry::discover(cli.config.as_deref())?);
    let outcome = run_command(cli, &session);
    if cli.stats {
        for (plugin, collector) in session.opened_backends() {
            eprint!(
                "{}",
                report::operation_table(&plugin, &collector.snapshot())
            );
        }
    }
    outcome
}

fn run_command(cli: &Cli, session: &Session) -> Result<ExitCode, Failure> {
    let registry = &session.registry;
    match &cli.command {
        Command::Plugins(command) => plugins::run(cli, registry, command),
        Command::Status => status::run(cli, session),
        Command::Load(args) => data::load(cli, session, args),
        Command::Dump(args) => data::dump(cli, session, args),
        Command::Quads(args) => data::quads(cli, session, args),
        Command::Count(args) => data::count(cli, session, args),
        Command::Graphs => data::graphs(cli, session),
        Command::Query(args) => query::run(cli, session, args),
        Command::Update(args) => update::run(cli, session, args),
        Command::Serve(args) => serve::run(cli, session, args),
        Command::Remove(args) => data::remove(cli, session, args),
        Command::Clear(args) => data::clear(cli, session, args),
        Command::Verify(args) => data::verify(cli, session, args),
        Command::Recover => data::recover(cli, session),
        Command::Backup(args) => copy::backup(cli, session, args),
        Command::Migrate(args) => copy::migrate(cli, session, args),
        Command::Compact => compact::run(cli, session),
        Command::Stats(args) => stats::run(cli, session, args),
        Command::Conformance(args) => conformance::run(cli, registry, args),
        Command::ConformanceWriter(args) => Ok(conformance::writer(args)),
    }
}

/// The width of a column: its longest cell.
#[must_use]
pub fn column_width(cells: impl Iterator<Item = usize>) -> usize {
    cells.max().unwrap_or(0)
}

//! `serve`: the store over HTTP until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::session::{Session, StoreUse};
use super::{Cli, Failure};
use crate::server::{self, ServerOptions};

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port, printed at start)
    #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:7878")]
    pub bind: SocketAddr,
    /// Refuse updates and Graph Store writes (403); the store is opened read-only
    #[arg(long)]
    pub read_only: bool,
    /// Cancel a query or update running longer than this, from its arrival (503); 0: no limit
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::units::parse_duration)]
    pub timeout: Duration,
    /// Largest request body (413 past it)
    #[arg(long, value_name = "SIZE", default_value = "128MiB", value_parser = crate::units::parse_bytes)]
    pub max_body: u64,
    /// Allow cross-origin requests from these origins (`*`: any)
    #[arg(long, value_name = "ORIGIN", num_args = 1..)]
    pub cors: Vec<String>,
    /// Make a query's default graph the union of the named graphs
    #[arg(long)]
    pub union_default_graph: bool,
    /// Queries running at once [default: the number of cores]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Requests that may wait for a worker (and, apart, for the writer) before 503
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub queue: usize,
    /// After SIGINT or SIGTERM, how long running requests may finish before they are
    /// cancelled
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::units::parse_duration)]
    pub grace: Duration,
}

pub(super) fn run(cli: &Cli, session: &Session, args: &ServeArgs) -> Result<ExitCode, Failure> {
    let usage = if args.read_only {
        StoreUse::Read
    } else {
        StoreUse::Create
    };
    let opened = session.open_store(cli, usage)?;
    let plugin = opened.chosen.plugin().details().name.clone();
    let store = Arc::new(opened.store);
    let defaults = ServerOptions::default();
    let options = ServerOptions {
        bind: args.bind,
        read_only: args.read_only,
        timeout: (!args.timeout.is_zero()).then_some(args.timeout),
        max_body: args.max_body,
        cors: args.cors.clone(),
        union_default_graph: args.union_default_graph,
        workers: args.workers.unwrap_or(defaults.workers),
        queue: args.queue,
        grace: args.grace,
    };
    let data_dir = cli.data_dir.display().to_string();
    server::run_until_signal(Arc::clone(&store), options, |address| {
        // On stdout, one line, for scripts and tests that start the server on port 0.
        println!("kgdb-host serve: listening on http://{address} ({plugin} plugin, {data_dir})");
    })?;
    match Arc::try_unwrap(store) {
        Ok(store) => store.close()?,
        Err(_) => tracing::warn!(
            "a request was still running at exit; the store closes with the process (committed writes are kept)"
        ),
    }
    drop(opened.chosen);
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

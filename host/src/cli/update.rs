//! `update`: a SPARQL 1.1 update, in one transaction.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output::outln;
use super::query::request_text;
use super::session::{Session, StoreUse};
use super::{Cli, Failure};
use crate::sparql;

/// `update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The update text; `-` reads it from standard input
    #[arg(
        value_name = "UPDATE",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub update: Option<String>,
    /// Read the update from FILE
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Base IRI for relative IRIs in the update
    #[arg(long, value_name = "IRI")]
    pub base: Option<String>,
}

pub(super) fn run(cli: &Cli, session: &Session, args: &UpdateArgs) -> Result<ExitCode, Failure> {
    let (text, source_name) = request_text(args.update.as_deref(), args.file.as_deref(), "update")?;
    let update = sparql::parse_update(&text, &source_name, args.base.as_deref())?;
    let store = session.open_store(cli, StoreUse::Create)?.store;
    let summary = sparql::execute_update(&store, &update)?;
    let quads = store.counts()?.quads;
    outln!(
        "inserted {} quads, removed {} quads; the store holds {quads} quads",
        summary.inserted,
        summary.removed
    )?;
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

//! `kgdb-host status`.

use std::process::ExitCode;

use super::output::outln;
use super::session::Session;
use super::{plugins::capability_line, Cli, Failure};
use crate::plugin::{Access, Capabilities};
use crate::units::human_bytes;

pub(super) fn run(cli: &Cli, session: &Session) -> Result<ExitCode, Failure> {
    let chosen = session.registry.choose(cli.plugin.as_deref())?;
    let plugin = chosen.plugin();
    let details = plugin.details();
    let persistent = details.capabilities.has(Capabilities::PERSISTENT);
    if persistent && !cli.data_dir.exists() {
        return Err(Failure(format!(
            "{}: no such data directory (nothing has been stored there yet)",
            cli.data_dir.display()
        )));
    }
    let access = if details.capabilities.has(Capabilities::READ_ONLY_OPEN) {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    let backend = session.open_backend(cli, &chosen, access)?;
    outln!(
        "plugin:       {} {} ({})",
        details.name,
        details.version,
        plugin.path().display()
    )?;
    if persistent {
        outln!("data dir:     {}", cli.data_dir.display())?;
    } else {
        outln!("data dir:     none (this backend keeps nothing on disk)")?;
    }
    outln!("capabilities: {}", capability_line(backend.capabilities()))?;
    outln!("store:        {}", crate::store::describe_format(&backend)?)?;
    let tables = backend.list_tables()?;
    outln!(
        "tables:       {}",
        if tables.is_empty() {
            "none".to_owned()
        } else {
            tables.join(", ")
        }
    )?;
    if backend.capabilities().has(Capabilities::NATIVE_STATS) {
        for stat in backend.stats()? {
            let value = if stat.unit == "bytes" {
                human_bytes(stat.value)
            } else {
                stat.value.to_string()
            };
            outln!("  {:<32} {value}", stat.name)?;
        }
    }
    backend.close()?;
    Ok(ExitCode::SUCCESS)
}

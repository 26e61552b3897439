//! `kgdb-host compact`: space reclaimed through the plugin's own compaction, with the bytes on
//! disk before and after.

use std::process::ExitCode;

use super::output::outln;
use super::session::{Session, StoreUse};
use super::{Cli, Failure};
use crate::disk::bytes_on_disk;
use crate::plugin::Capabilities;
use crate::units::human_bytes;

pub(super) fn run(cli: &Cli, session: &Session) -> Result<ExitCode, Failure> {
    // A writing open: an interrupted load is undone first, so that it is not compacted in.
    let opened = session.open_store(cli, StoreUse::Change)?;
    let plugin = opened.chosen.plugin().details().name.clone();
    let store = opened.store;
    if !opened.persistent {
        store.close()?;
        outln!("nothing to compact: the `{plugin}` plugin keeps nothing on disk")?;
        return Ok(ExitCode::SUCCESS);
    }
    let backend = store.backend();
    let before = bytes_on_disk(&cli.data_dir);
    if !backend.capabilities().has(Capabilities::COMPACT) {
        let stats = backend.stats().unwrap_or_default();
        let stat = |name: &str| {
            stats
                .iter()
                .find(|stat| stat.name == format!("{plugin}.{name}"))
                .map(|stat| stat.value)
        };
        store.close()?;
        match (stat("free_pages"), stat("page_size")) {
            (Some(free), Some(page_size)) => outln!(
                "not needed: the `{plugin}` plugin reuses the pages it frees ({free} free pages, {}, of {} on disk, are written over by later writes before the file grows)",
                human_bytes(free.saturating_mul(page_size)),
                human_bytes(before)
            )?,
            _ => outln!(
                "not done: the `{plugin}` plugin has no compaction (no `compact` capability); {} on disk",
                human_bytes(before)
            )?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    backend.flush()?;
    backend.compact(None)?;
    store.close()?;
    let after = bytes_on_disk(&cli.data_dir);
    let change = if after <= before {
        format!("{} less", human_bytes(before - after))
    } else {
        format!("{} more", human_bytes(after - before))
    };
    outln!(
        "compacted: {} on disk before, {} after ({change})",
        human_bytes(before),
        human_bytes(after)
    )?;
    Ok(ExitCode::SUCCESS)
}

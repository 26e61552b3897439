//! `kgdb-host plugins list | info | check`.

use std::process::ExitCode;

use clap::Subcommand;

use super::output::outln;
use super::{Cli, Failure};
use crate::plugin::{
    Capabilities, LoadError, LoadedPlugin, OpenSettings, PluginEntry, PluginRegistry,
    ResolvedPlugin, TxnOptions,
};
use crate::units::human_bytes;

/// The `plugins` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every plugin in the manifest: where its library is, its versions, capabilities and pin
    List,
    /// Everything a plugin says about itself: versions, capabilities, config keys, extensions
    Info {
        /// A name from the manifest, a library file, or a plugin directory
        /// [default: --plugin, else the manifest's `default`]
        #[arg(value_name = "NAME|PATH")]
        plugin: Option<String>,
    },
    /// Load every plugin (or just --plugin), validate its config and open a scratch instance;
    /// exits non-zero if any fails
    Check,
}

/// Capabilities as one line: the set bits, then the size limits.
#[must_use]
pub fn capability_line(capabilities: Capabilities) -> String {
    let labels = capabilities.labels();
    format!(
        "{}; max key {}, max value {}",
        if labels.is_empty() {
            "none".to_owned()
        } else {
            labels.join(", ")
        },
        human_bytes(u64::from(capabilities.max_key_size)),
        human_bytes(u64::from(capabilities.max_value_size)),
    )
}

pub(super) fn run(
    cli: &Cli,
    registry: &PluginRegistry,
    command: &PluginsCommand,
) -> Result<ExitCode, Failure> {
    match command {
        PluginsCommand::List => list(registry),
        PluginsCommand::Info { plugin } => {
            info(registry, plugin.as_deref().or(cli.plugin.as_deref()))
        }
        PluginsCommand::Check => check(cli, registry),
    }
}

fn pin_status(entry: Option<&PluginEntry>, plugin: &LoadedPlugin) -> String {
    match entry.and_then(|e| e.sha256.as_deref()) {
        Some(_) => format!("pinned, sha256 {} matches", plugin.sha256()),
        None => format!("not pinned (sha256 {})", plugin.sha256()),
    }
}

fn print_summary(plugin: &LoadedPlugin) -> Result<(), Failure> {
    let details = plugin.details();
    outln!("  path:         {}", plugin.path().display())?;
    outln!(
        "  plugin:       {} {} (ABI {}, {}, {})",
        details.name,
        details.version,
        details.api_version,
        details.target,
        details.profile
    )?;
    outln!("  description:  {}", details.description)?;
    outln!("  capabilities: {}", capability_line(details.capabilities))?;
    Ok(())
}

fn list(registry: &PluginRegistry) -> Result<ExitCode, Failure> {
    let Some(manifest) = registry.manifest() else {
        return Err(Failure(
            "no plugin manifest: there is no plugins.toml here; pass --config FILE or set KGDB_CONFIG".into(),
        ));
    };
    outln!("manifest: {}", manifest.file.display())?;
    if manifest.plugins.is_empty() {
        outln!("no plugins are listed")?;
    }
    for entry in &manifest.plugins {
        let default = if manifest.default.as_deref() == Some(entry.name.as_str()) {
            " (default)"
        } else {
            ""
        };
        outln!("\n{}{default}", entry.name)?;
        match registry
            .resolve_entry(entry)
            .and_then(|resolved| registry.load(&resolved))
        {
            Ok(plugin) => {
                print_summary(&plugin)?;
                outln!("  pin:          {}", pin_status(Some(entry), &plugin))?;
            }
            Err(LoadError::PinMismatch {
                found, expected, ..
            }) => {
                outln!("  pin:          MISMATCH: pinned {expected}, file has {found}")?;
            }
            Err(error) => outln!("  unavailable:  {error}")?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn info(registry: &PluginRegistry, spec: Option<&str>) -> Result<ExitCode, Failure> {
    let resolved = registry.resolve(spec)?;
    let plugin = registry.load(&resolved)?;
    let details = plugin.details();
    outln!("{}", details.name)?;
    print_summary(&plugin)?;
    outln!("  sha256:       {}", plugin.sha256())?;
    outln!(
        "  pin:          {}",
        pin_status(resolved.entry.as_ref(), &plugin)
    )?;
    if let Some(entry) = &resolved.entry {
        let config = entry.config_text();
        let config = config.trim();
        outln!(
            "  config:       {}",
            if config.is_empty() {
                "(empty)".to_owned()
            } else {
                config.replace('\n', "; ")
            }
        )?;
    }
    // Extension interfaces added after 1.0; a plugin built before one answers none.
    let mut extensions = Vec::new();
    match plugin.full_config_for_tests() {
        Ok(Some(config)) => extensions.push(format!(
            "{} (full-store test config: {})",
            crate::plugin::TEST_CONFIGS_V1,
            config.replace('\n', "; ")
        )),
        Ok(None) => {}
        Err(error) => extensions.push(format!("unusable: {error}")),
    }
    if plugin.has_extension(crate::plugin::CACHE_BUDGET_V1) {
        extensions.push(format!(
            "{} (the instance's cache follows a load's --memory-budget, where it has one)",
            crate::plugin::CACHE_BUDGET_V1
        ));
    }
    let extensions = if extensions.is_empty() {
        "none".to_owned()
    } else {
        extensions.join("; ")
    };
    outln!("  extensions:   {extensions}")?;
    if details.config_keys.is_empty() {
        outln!("  config keys:  none")?;
    } else {
        outln!("  config keys:")?;
        for key in &details.config_keys {
            let default = if key.default.is_empty() {
                "no default".to_owned()
            } else {
                format!("default {}", key.default)
            };
            outln!("    {} ({}, {default})", key.name, key.kind)?;
            outln!("        {}", key.doc)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads, validates and exercises one plugin on a scratch directory.
fn check_one(registry: &PluginRegistry, resolved: &ResolvedPlugin) -> Result<String, Failure> {
    let plugin = registry.load(resolved)?;
    registry.validate_config(resolved, &plugin)?;
    let scratch = tempfile::Builder::new().prefix("kgdb-check-").tempdir()?;
    let settings = OpenSettings {
        data_dir: Some(scratch.path().join("data")),
        config: resolved.config_text(),
        read_only: false,
        create: true,
    };
    let name = &plugin.details().name;
    let step = |what: &str, error: crate::plugin::BackendError| {
        Failure(format!(
            "plugin `{name}` ({}): {what}: {error}",
            plugin.path().display()
        ))
    };
    let backend = plugin.open(&settings).map_err(|e| step("open", e))?;
    let capabilities = backend.capabilities();
    let mut exercised = "opened";
    if capabilities.has(Capabilities::TRANSACTIONS) {
        let table = backend
            .open_table("kgdb.check", true)
            .map_err(|e| step("open_table", e))?;
        let mut txn = backend
            .begin(TxnOptions::READ_WRITE)
            .map_err(|e| step("begin", e))?;
        txn.put(table, b"kgdb-check", b"ok")
            .map_err(|e| step("put", e))?;
        txn.commit().map_err(|e| step("commit", e))?;
        let txn = backend
            .begin(TxnOptions::READ_ONLY)
            .map_err(|e| step("begin", e))?;
        let value = txn.get(table, b"kgdb-check").map_err(|e| step("get", e))?;
        if value.as_deref() != Some(&b"ok"[..]) {
            return Err(Failure(format!(
                "plugin `{name}`: a committed write read back as {value:?} instead of \"ok\""
            )));
        }
        drop(txn);
        exercised = "opened, wrote, committed and read back";
    }
    backend.close().map_err(|e| step("close", e))?;
    Ok(format!(
        "{} {} ({}; {exercised})",
        name,
        plugin.details().version,
        plugin.path().display()
    ))
}

fn check(cli: &Cli, registry: &PluginRegistry) -> Result<ExitCode, Failure> {
    let targets: Vec<(String, Result<ResolvedPlugin, LoadError>)> = match (&cli.plugin, registry.manifest()) {
        (Some(spec), _) => vec![(spec.clone(), registry.resolve(Some(spec)))],
        (None, Some(manifest)) => manifest
            .plugins
            .iter()
            .map(|entry| (entry.name.clone(), registry.resolve_entry(entry)))
            .collect(),
        (None, None) => {
            return Err(Failure(
                "no plugin manifest: there is no plugins.toml here; pass --config FILE, set KGDB_CONFIG, or check one plugin with --plugin".into(),
            ))
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for (name, resolved) in targets {
        let outcome = resolved
            .map_err(Failure::from)
            .and_then(|resolved| check_one(registry, &resolved));
        match outcome {
            Ok(line) => {
                passed += 1;
                outln!("ok    {line}")?;
            }
            Err(Failure(message)) => {
                failed += 1;
                outln!("FAIL  {name}: {message}")?;
            }
        }
    }
    outln!("{passed} plugins ok, {failed} failed")?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

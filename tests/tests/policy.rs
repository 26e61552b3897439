//! Rules of the code base that a test can hold: plugins reach abi_stable only through the SDK
//! macro, and the host keeps abi_stable inside its adapter module.

use std::path::{Path, PathBuf};

use kgdb_tests::workspace_root;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "toml") {
            out.push(path);
        }
    }
}

fn files_mentioning(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    if dir.join("Cargo.toml").is_file() {
        files.push(dir.join("Cargo.toml"));
    }
    files
        .into_iter()
        .filter(|file| std::fs::read_to_string(file).unwrap().contains(needle))
        .collect()
}

#[test]
fn plugins_do_not_touch_abi_stable() {
    let plugins = workspace_root().join("plugins");
    for entry in std::fs::read_dir(&plugins).unwrap() {
        let dir = entry.unwrap().path();
        let offenders = files_mentioning(&dir, "abi_stable");
        assert!(
            offenders.is_empty(),
            "plugins use abi_stable only through kgdb_plugin_api::export_plugin!: {offenders:?}"
        );
    }
    let fixture = workspace_root().join("tests/fixtures/panic-plugin");
    assert!(files_mentioning(&fixture, "abi_stable").is_empty());
}

#[test]
fn the_host_names_abi_stable_only_in_its_adapter() {
    let host = workspace_root().join("host");
    let offenders: Vec<PathBuf> = files_mentioning(&host, "abi_stable")
        .into_iter()
        .filter(|file| {
            !file.ends_with("loader/src/adapter.rs") && !file.ends_with("loader/Cargo.toml")
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "abi_stable outside the loader's adapter: {offenders:?}"
    );
}

#[test]
fn plugin_logs_reach_the_host_tracing_output() {
    let run = kgdb_tests::Run::host(&workspace_root(), &["-vv", "--plugin", "memory", "status"]);
    run.expect_success();
    assert!(
        run.stderr.contains("opening a memory backend"),
        "the memory plugin's debug log is missing: {run:#?}"
    );
}

#[test]
fn a_plugin_without_an_extension_answers_none() {
    let loader = kgdb_host::plugin::PluginLoader::new();
    let memory = kgdb_tests::load_plugin(&loader, "kgdb_plugin_memory");
    assert!(!memory.has_extension("kgdb.example.v1"));
    assert!(!memory.has_extension(""));
}

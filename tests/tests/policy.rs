//! Rules of the code base that a test can hold: plugins reach abi_stable only through the SDK
//! macro, the host keeps abi_stable inside its adapter module, and extension interfaces follow
//! the compatibility policy.

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
            let adapter = host.join("loader/src/adapter");
            !file.starts_with(&adapter) && !file.ends_with("loader/Cargo.toml")
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "abi_stable outside the loader's adapter: {offenders:?}"
    );
    // The check looks where the adapter is: it names abi_stable there.
    assert!(
        !files_mentioning(&host.join("loader/src/adapter"), "abi_stable").is_empty(),
        "the adapter moved: point this test at it"
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

#[test]
fn an_extension_is_used_where_offered_and_absent_from_a_plugin_that_predates_it() {
    use kgdb_host::plugin::{CACHE_BUDGET_V1, TEST_CONFIGS_V1};
    let loader = kgdb_host::plugin::PluginLoader::new();
    let memory = kgdb_tests::load_plugin(&loader, "kgdb_plugin_memory");
    assert!(memory.has_extension(TEST_CONFIGS_V1));
    // Every plugin of this SDK offers the cache budget; memory has no cache, so it answers
    // none through it.
    assert!(memory.has_extension(CACHE_BUDGET_V1));
    assert_eq!(
        memory.full_config_for_tests().unwrap().as_deref(),
        Some("memory_limit = \"1 MiB\"")
    );
    let lmdb = kgdb_tests::load_plugin(&loader, "kgdb_plugin_lmdb");
    assert!(lmdb
        .full_config_for_tests()
        .unwrap()
        .is_some_and(|config| config.contains("max_map_size")));

    // The panic fixture overrides nothing, so it answers like a plugin built against 1.0,
    // before the extension existed: no extension, and the host carries on without it.
    let older = kgdb_tests::load_plugin(&loader, "kgdb_fixture_panic_plugin");
    assert!(!older.has_extension(TEST_CONFIGS_V1));
    assert_eq!(older.full_config_for_tests().unwrap(), None);
    let case = kgdb_conformance::cases()
        .into_iter()
        .find(|case| case.full_name() == "errors::full_store_refuses_the_write")
        .expect("the full-store case");
    let notes =
        kgdb_conformance::run_case(&kgdb_tests::target("kgdb_fixture_panic_plugin", ""), case)
            .expect("the case passes with a note");
    assert!(
        notes.iter().any(|n| n.contains("not simulated")),
        "{notes:?}"
    );
    // With the extension, the same case fills the store instead of noting it.
    let notes = kgdb_conformance::run_case(&kgdb_tests::target("kgdb_plugin_memory", ""), case)
        .expect("the memory plugin fills up with FULL");
    assert!(notes.is_empty(), "{notes:?}");

    let root = workspace_root();
    let info = kgdb_tests::Run::host(&root, &["plugins", "info", "memory"]);
    assert!(
        info.expect_success()
            .contains("extensions:   kgdb.test-configs.v1 (full-store test config: memory_limit"),
        "{info:#?}"
    );
    // The fixture offers no full-store config, only what the SDK offers every plugin.
    let fixture = kgdb_tests::plugin_library("kgdb_fixture_panic_plugin");
    let info = kgdb_tests::Run::host(&root, &["plugins", "info", fixture.to_str().unwrap()]);
    let out = info.expect_success();
    let extensions = out
        .lines()
        .find(|line| line.trim_start().starts_with("extensions:"))
        .unwrap_or_else(|| panic!("no extensions line: {info:#?}"));
    assert!(
        extensions.contains(CACHE_BUDGET_V1) && !extensions.contains(TEST_CONFIGS_V1),
        "{info:#?}"
    );
}

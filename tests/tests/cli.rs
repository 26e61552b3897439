//! `kgdb-host` end to end: the repository's manifest works, and every bad input gives one
//! clear error line and a non-zero exit.

use std::path::Path;

use kgdb_tests::{plugin_library, workspace_root, Run};
use tempfile::TempDir;

fn scratch() -> TempDir {
    tempfile::tempdir().expect("a scratch directory")
}

fn write_manifest(dir: &Path, text: &str) {
    std::fs::write(dir.join("plugins.toml"), text).unwrap();
}

fn memory_manifest(extra_entry_lines: &str) -> String {
    format!(
        "manifest_version = 1\ndefault = \"memory\"\n\n[[plugin]]\nname = \"memory\"\npath = {:?}\n{extra_entry_lines}",
        plugin_library("kgdb_plugin_memory")
    )
}

#[test]
fn version_names_host_and_abi() {
    let run = Run::host(&workspace_root(), &["--version"]);
    let out = run.expect_success();
    assert!(out.starts_with("kgdb-host 0.1.0"), "{out}");
    assert!(out.contains("plugin ABI 1.4.0"), "{out}");
}

#[test]
fn repository_manifest_lists_and_checks() {
    let root = workspace_root();
    let list = Run::host(&root, &["plugins", "list"]);
    let out = list.expect_success();
    assert!(out.contains("lmdb (default)"), "{out}");
    assert!(out.contains("\nrocksdb\n"), "{out}");
    assert!(out.contains("\nmemory\n"), "{out}");
    assert!(out.contains("libkgdb_plugin_memory"), "{out}");
    assert!(out.contains("serialized-writers"), "{out}");
    assert!(out.contains("conflict-detection"), "{out}");
    assert!(out.contains("not pinned (sha256 "), "{out}");

    let check = Run::host(&root, &["plugins", "check"]);
    let out = check.expect_success();
    assert!(out.contains("ok    lmdb 0.1.0"), "{out}");
    assert!(out.contains("ok    rocksdb 0.1.0"), "{out}");
    assert!(out.contains("ok    memory 0.1.0"), "{out}");
    assert!(out.contains("3 plugins ok, 0 failed"), "{out}");
}

#[test]
fn info_on_a_plugin_directory_shows_capabilities_and_config_keys() {
    let run = Run::host(&workspace_root(), &["plugins", "info", "plugins/memory"]);
    let out = run.expect_success();
    assert!(out.starts_with("memory\n"), "{out}");
    assert!(out.contains("ABI 1.4.0"), "{out}");
    assert!(out.contains("transactions, snapshot-reads"), "{out}");
    assert!(out.contains("max key 64 KiB, max value 64 MiB"), "{out}");
    assert!(out.contains("memory_limit"), "{out}");
}

#[test]
fn status_opens_the_chosen_backend() {
    let run = Run::host(&workspace_root(), &["--plugin", "memory", "status"]);
    let out = run.expect_success();
    assert!(out.contains("plugin:       memory"), "{out}");
    assert!(out.contains("memory.keys"), "{out}");
}

#[test]
fn status_of_a_missing_data_directory_is_an_error_not_a_new_store() {
    let dir = scratch();
    let root = workspace_root();
    let config = root.join("plugins.toml");
    let data = dir.path().join("nothing-here");
    Run::host(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "status",
        ],
    )
    .expect_one_line_error(&["nothing-here", "no such data directory"]);
    assert!(!data.exists(), "status must not create a data directory");
}

#[test]
fn a_missing_library_file() {
    let dir = scratch();
    Run::host(dir.path(), &["plugins", "info", "missing/libnothing.so"])
        .expect_one_line_error(&["missing/libnothing.so", "no such file or directory"]);
    write_manifest(
        dir.path(),
        "manifest_version = 1\ndefault = \"gone\"\n[[plugin]]\nname = \"gone\"\npath = \"lib/libgone.so\"\n",
    );
    Run::host(dir.path(), &["status"]).expect_one_line_error(&[
        "plugin `gone`",
        "lib/libgone.so",
        "no such file or directory",
    ]);
}

#[test]
fn a_directory_without_a_library() {
    let dir = scratch();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    Run::host(dir.path(), &["plugins", "info", "empty"])
        .expect_one_line_error(&["empty", "holds no plugin library"]);
}

#[test]
fn a_text_file_named_like_a_library() {
    let dir = scratch();
    std::fs::write(dir.path().join("libfake.so"), "this is not a library\n").unwrap();
    Run::host(dir.path(), &["plugins", "info", "libfake.so"]).expect_one_line_error(&[
        "libfake.so",
        "not a shared library",
        "expected an ELF shared object",
        "found a text file",
    ]);
}

#[test]
fn a_shared_library_that_is_not_a_plugin() {
    let library = plugin_library("kgdb_fixture_not_a_plugin");
    Run::host(
        &workspace_root(),
        &["plugins", "info", library.to_str().unwrap()],
    )
    .expect_one_line_error(&[
        "libkgdb_fixture_not_a_plugin",
        "not a kgdb plugin",
        "expected the exported root module",
        "found a shared library without it",
    ]);
}

#[test]
fn a_plugin_built_for_another_abi_major() {
    let library = plugin_library("kgdb_fixture_abi_v2_plugin");
    Run::host(
        &workspace_root(),
        &["plugins", "info", library.to_str().unwrap()],
    )
    .expect_one_line_error(&[
        "libkgdb_fixture_abi_v2_plugin",
        "built for kgdb plugin ABI 2.0.0",
        "this host speaks ABI 1.4.0",
    ]);
}

#[test]
fn a_sha256_pin_mismatch_and_a_matching_pin() {
    let dir = scratch();
    let wrong = "0".repeat(64);
    write_manifest(
        dir.path(),
        &memory_manifest(&format!("sha256 = \"{wrong}\"\n")),
    );
    Run::host(dir.path(), &["plugins", "info", "memory"]).expect_one_line_error(&[
        "libkgdb_plugin_memory",
        "sha256 mismatch",
        "plugins.toml:5 pins 0000",
        "refusing to load it",
    ]);
    let check = Run::host(dir.path(), &["plugins", "check"]);
    assert_eq!(check.code, Some(1), "{check:#?}");
    assert!(check.stdout.contains("FAIL  memory: "), "{check:#?}");

    let info = Run::host(&workspace_root(), &["plugins", "info", "plugins/memory"]);
    let actual = info
        .expect_success()
        .lines()
        .find_map(|line| line.trim().strip_prefix("sha256:"))
        .expect("a sha256 line")
        .trim()
        .to_owned();
    write_manifest(
        dir.path(),
        &memory_manifest(&format!("sha256 = \"{actual}\"\n")),
    );
    let list = Run::host(dir.path(), &["plugins", "list"]);
    assert!(
        list.expect_success().contains("pinned, sha256"),
        "{list:#?}"
    );
    Run::host(dir.path(), &["plugins", "check"]).expect_success();
}

#[test]
fn a_newer_manifest_version() {
    let dir = scratch();
    write_manifest(
        dir.path(),
        "manifest_version = 2\n[[driver]]\nname = \"x\"\n",
    );
    Run::host(dir.path(), &["plugins", "list"]).expect_one_line_error(&[
        "plugins.toml:1:20",
        "manifest version 2",
        "reads version 1 only",
    ]);
}

#[test]
fn an_unknown_key_in_a_plugin_config() {
    let dir = scratch();
    write_manifest(
        dir.path(),
        &memory_manifest("[plugin.config]\nmemory_limit = \"1 GiB\"\ncache_size = 5\n"),
    );
    Run::host(dir.path(), &["status"]).expect_one_line_error(&[
        "plugins.toml:9:1",
        "plugin[0].config.cache_size",
        "plugin `memory` rejects its config",
        "unknown field `cache_size`",
    ]);
    let check = Run::host(dir.path(), &["plugins", "check"]);
    assert_eq!(check.code, Some(1), "{check:#?}");
    assert!(
        check.stdout.contains("unknown field `cache_size`"),
        "{check:#?}"
    );
}

#[test]
fn an_unknown_key_in_the_manifest() {
    let dir = scratch();
    write_manifest(dir.path(), &memory_manifest("pathh = \"x\"\n"));
    Run::host(dir.path(), &["plugins", "list"]).expect_one_line_error(&[
        "plugins.toml:7:1",
        "plugin[0].pathh",
        "unknown field",
    ]);
}

#[test]
fn two_plugins_with_one_name() {
    let dir = scratch();
    let text = format!(
        "{}\n[[plugin]]\nname = \"memory\"\npath = \"elsewhere.so\"\n",
        memory_manifest("")
    );
    write_manifest(dir.path(), &text);
    Run::host(dir.path(), &["plugins", "list"]).expect_one_line_error(&[
        "plugins.toml:9:8",
        "two plugins are named `memory`",
        "the other is on line 5",
    ]);
}

#[test]
fn a_plugin_method_that_panics() {
    let library = plugin_library("kgdb_fixture_panic_plugin");
    let run = Run::host(
        &workspace_root(),
        &["--plugin", library.to_str().unwrap(), "plugins", "check"],
    );
    assert_eq!(run.code, Some(1), "{run:#?}");
    let line = run
        .stdout
        .lines()
        .find(|line| line.starts_with("FAIL"))
        .unwrap_or_else(|| panic!("a FAIL line: {run:#?}"));
    assert!(line.contains("put: internal: put panicked"), "{line}");
    assert!(line.contains("this instance is now poisoned"), "{line}");
    // Where it panicked is in the message; the plugin's own panic report is not printed.
    assert!(
        line.contains("(at tests/fixtures/panic-plugin/src/lib.rs:"),
        "{line}"
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.stdout.contains("0 plugins ok, 1 failed"), "{run:#?}");
}

#[test]
fn no_manifest_and_no_plugin() {
    let dir = scratch();
    Run::host(dir.path(), &["status"])
        .expect_one_line_error(&["no plugin chosen", "no --plugin was given"]);
}

#[test]
fn status_reads_a_persistent_store_without_writing() {
    let dir = scratch();
    let data = dir.path().join("store");
    {
        let loader = kgdb_host::plugin::PluginLoader::new();
        let backend = kgdb_tests::load_plugin(&loader, "kgdb_plugin_lmdb")
            .open(&kgdb_host::plugin::OpenSettings {
                data_dir: Some(data.clone()),
                create: true,
                ..Default::default()
            })
            .unwrap();
        let table = backend.open_table("quads", true).unwrap();
        let mut txn = backend
            .begin(kgdb_host::plugin::TxnOptions::READ_WRITE)
            .unwrap();
        txn.put(table, b"k", b"v").unwrap();
        txn.commit().unwrap();
        backend.close().unwrap();
    }
    let config = workspace_root().join("plugins.toml");
    let run = Run::host(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "status",
        ],
    );
    let out = run.expect_success();
    assert!(out.contains("plugin:       lmdb"), "{out}");
    assert!(out.contains("tables:       quads"), "{out}");
    assert!(out.contains("lmdb.entries[quads]"), "{out}");
}

#[test]
fn writing_to_the_memory_plugin_says_nothing_persists() {
    let dir = scratch();
    std::fs::write(
        dir.path().join("one.nt"),
        "<http://e/a> <http://e/b> <http://e/c> .\n",
    )
    .unwrap();
    let memory = plugin_library("kgdb_plugin_memory");
    let memory = memory.to_str().unwrap();
    let run = Run::host(dir.path(), &["--plugin", memory, "load", "one.nt"]);
    assert!(
        run.expect_success().contains("the store holds 1 quads"),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .contains("keeps nothing on disk: what this command stores is gone when it ends"),
        "{run:#?}"
    );
    assert!(!dir.path().join("kgdb-data").exists(), "{run:#?}");
    // Reading writes nothing, so it says nothing.
    let run = Run::host(dir.path(), &["--plugin", memory, "count"]);
    assert_eq!(run.expect_success(), "0\n");
    assert!(run.stderr.is_empty(), "{run:#?}");
}

/// A library cut short (a partial copy, a full disk while installing it) is refused before
/// the dynamic loader maps it, instead of the process dying with SIGBUS.
#[cfg(target_os = "linux")]
#[test]
fn a_truncated_library_is_refused_not_a_crash() {
    let dir = scratch();
    let bytes = std::fs::read(plugin_library("kgdb_plugin_memory")).unwrap();
    // Cuts inside the loadable segments (a plugin's code alone is larger than 300 KB; what
    // follows the segments, debug info, is never mapped and may go).
    for cut in [4096, 65_536, 300_000] {
        std::fs::write(dir.path().join("t.so"), &bytes[..cut]).unwrap();
        for args in [
            &["--plugin", "t.so", "count"][..],
            &["plugins", "info", "t.so"],
        ] {
            Run::host(dir.path(), args).expect_one_line_error(&["t.so", "truncated or damaged"]);
        }
    }
}

/// A usage mistake is one `error:` line with the command's usage and exit code 2; help and
/// the version still print in full, with exit code 0.
#[test]
fn usage_mistakes_are_one_line() {
    let dir = scratch();
    for (args, fragments) in [
        (
            &["count", "--bogus"][..],
            &["unexpected argument '--bogus'", "usage: kgdb-host count"][..],
        ),
        (
            &["quads", "<http://e/a>"],
            &["required arguments", "<P> <O>", "usage: kgdb-host quads"],
        ),
        (&["frobnicate"], &["unrecognized subcommand 'frobnicate'"]),
        (
            &["load", "--chunk-quads", "x", "f.nt"],
            &["invalid value 'x' for '--chunk-quads <N>'"],
        ),
    ] {
        let run = Run::host(dir.path(), args);
        let line = run.expect_one_line_error(fragments);
        assert_eq!(run.code, Some(2), "{args:?}: {line}");
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {run:#?}");
    }
    let help = Run::host(dir.path(), &["count", "--help"]);
    assert!(
        help.expect_success().contains("Usage: kgdb-host count"),
        "{help:#?}"
    );
    assert!(Run::host(dir.path(), &["--version"])
        .expect_success()
        .starts_with("kgdb-host "));
}

/// A map size no process can map is a config error at its line, not a failure at open.
#[test]
fn an_impossible_lmdb_map_size_names_its_line() {
    let dir = scratch();
    write_manifest(
        dir.path(),
        &format!(
            "manifest_version = 1\ndefault = \"lmdb\"\n\n[[plugin]]\nname = \"lmdb\"\npath = {:?}\n[plugin.config]\nmap_size = \"99999999 TiB\"\n",
            plugin_library("kgdb_plugin_lmdb")
        ),
    );
    Run::host(dir.path(), &["count"]).expect_one_line_error(&[
        "plugins.toml:8",
        "map_size",
        "more than a process can map",
    ]);
}

/// RDF/XML's parser gives no position with its errors: its byte offset (just past the tag at
/// fault) is turned into a line and column.
#[test]
fn an_rdfxml_syntax_error_names_a_line_and_column() {
    let dir = scratch();
    std::fs::write(
        dir.path().join("bad.rdf"),
        "<?xml version=\"1.0\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n<rdf:Description rdf:about=\"http://e/s\">\n<rdf:foo rdf:resource=\"not an iri\"/>\n</rdf:Description>\n</rdf:RDF>\n",
    )
    .unwrap();
    Run::host(
        dir.path(),
        &[
            "--plugin",
            plugin_library("kgdb_plugin_memory").to_str().unwrap(),
            "load",
            "bad.rdf",
        ],
    )
    .expect_one_line_error(&["bad.rdf:4:37: ", "not an iri"]);
}

/// A base IRI that is not an absolute IRI is refused whatever the input's format.
#[test]
fn a_bad_base_iri_is_refused_before_loading() {
    let dir = scratch();
    std::fs::write(
        dir.path().join("ok.nt"),
        "<http://e/a> <http://e/p> \"x\" .\n",
    )
    .unwrap();
    for base in ["not an iri", "relative/path"] {
        Run::host(
            dir.path(),
            &[
                "--plugin",
                plugin_library("kgdb_plugin_memory").to_str().unwrap(),
                "load",
                "--base",
                base,
                "ok.nt",
            ],
        )
        .expect_one_line_error(&["invalid base IRI", base]);
    }
}

/// Too few LMDB tables for the store is an error at the config key, and raising it is enough.
#[test]
fn too_few_lmdb_tables_names_the_config_line() {
    let dir = scratch();
    let manifest = |max_tables: u32| {
        format!(
            "manifest_version = 1\ndefault = \"lmdb\"\n\n[[plugin]]\nname = \"lmdb\"\npath = {:?}\n[plugin.config]\nmax_tables = {max_tables}\n",
            plugin_library("kgdb_plugin_lmdb")
        )
    };
    std::fs::write(
        dir.path().join("ok.nt"),
        "<http://e/a> <http://e/p> \"x\" .\n",
    )
    .unwrap();
    write_manifest(dir.path(), &manifest(2));
    Run::host(dir.path(), &["load", "ok.nt"]).expect_one_line_error(&[
        "plugins.toml:8:1: plugin[0].config.max_tables:",
        "raise max_tables",
    ]);
    write_manifest(dir.path(), &manifest(64));
    Run::host(dir.path(), &["load", "ok.nt"]).expect_success();
    assert_eq!(
        Run::host(dir.path(), &["count"]).expect_success().trim(),
        "1"
    );
}

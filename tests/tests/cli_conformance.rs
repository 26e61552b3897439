//! `kgdb-host conformance` from the command line: one line per case, the closing count, the
//! exit code, filters, and refusals.

use kgdb_tests::{plugin_library, workspace_root, Run};

#[test]
fn conformance_prints_one_line_per_case_and_the_count() {
    let run = Run::host(
        &workspace_root(),
        &["--plugin", "memory", "conformance", "--filter", "crud::"],
    );
    let stdout = run.expect_success();
    let expected = kgdb_conformance::cases()
        .iter()
        .filter(|c| c.full_name().starts_with("crud::"))
        .count();
    assert!(expected >= 20, "{expected} CRUD cases");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("conformance of memory "), "{stdout}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("ok     crud::"))
            .count(),
        expected,
        "{stdout}"
    );
    assert_eq!(
        lines.last(),
        Some(&format!("{expected} passed, 0 failed").as_str())
    );
}

#[test]
fn conformance_lists_every_case() {
    let run = Run::host(&workspace_root(), &["conformance", "--list"]);
    let stdout = run.expect_success();
    let names: Vec<String> = kgdb_conformance::cases()
        .iter()
        .map(|c| c.full_name())
        .collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), names);
}

#[test]
fn a_plugin_that_breaks_the_contract_fails_with_a_non_zero_exit() {
    let library = plugin_library("kgdb_fixture_panic_plugin");
    let run = Run::host(
        &workspace_root(),
        &[
            "--plugin",
            library.to_str().unwrap(),
            "conformance",
            "--filter",
            "crud::put_get_overwrite_delete",
        ],
    );
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(
        run.stdout.contains("FAILED crud::put_get_overwrite_delete"),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("internal"),
        "the failure says why: {run:#?}"
    );
    assert_eq!(run.stdout.lines().last(), Some("0 passed, 1 failed"));
}

#[test]
fn conformance_refuses_a_filter_without_cases_and_a_file_that_is_not_a_plugin() {
    Run::host(
        &workspace_root(),
        &[
            "--plugin",
            "memory",
            "conformance",
            "--filter",
            "no-such-case",
        ],
    )
    .expect_one_line_error(&["no conformance case matches", "no-such-case"]);
    let not_a_plugin = plugin_library("kgdb_fixture_not_a_plugin");
    Run::host(
        &workspace_root(),
        &["--plugin", not_a_plugin.to_str().unwrap(), "conformance"],
    )
    .expect_one_line_error(&["libkgdb_fixture_not_a_plugin"]);
}

#[test]
fn plugins_info_defaults_to_the_chosen_plugin() {
    let run = Run::host(
        &workspace_root(),
        &["--plugin", "memory", "plugins", "info"],
    );
    let stdout = run.expect_success();
    assert_eq!(stdout.lines().next(), Some("memory"), "{stdout}");
    let run = Run::host(&workspace_root(), &["plugins", "info"]);
    assert_eq!(
        run.expect_success().lines().next(),
        Some("lmdb"),
        "the manifest's default"
    );
}

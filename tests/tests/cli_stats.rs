//! `--stats`: the operation stats of a command, on stderr, never on stdout.

use kgdb_tests::{workspace_root, Run};

#[test]
fn stats_flag_reports_the_commands_backend_operations_on_stderr() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let example = workspace_root().join("examples/library.ttl");
    let common = [
        "--plugin",
        "lmdb",
        "--data-dir",
        data.to_str().unwrap(),
        "--stats",
    ];

    let load = Run::host(
        &workspace_root(),
        &[&common[..], &["load", example.to_str().unwrap()]].concat(),
    );
    load.expect_success();
    assert!(!load.stdout.contains("operation stats"), "{load:#?}");
    let header = load
        .stderr
        .lines()
        .find(|l| l.starts_with("operation stats (lmdb, open "))
        .unwrap_or_else(|| panic!("no stats header: {load:#?}"));
    let committed: u64 = header
        .split("): ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no committed count: {header}"));
    assert!(committed >= 1, "a load commits: {header}");
    for op in ["begin", "get_many", "commit"] {
        assert!(
            load.stderr
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{op} "))),
            "no {op} row: {load:#?}"
        );
    }

    let query = Run::host(
        &workspace_root(),
        &[
            &common[..],
            &["quads", "?s", "<http://schema.org/author>", "?o"],
        ]
        .concat(),
    );
    let stdout = query.expect_success();
    assert!(
        stdout.lines().all(|l| l.ends_with(" .")),
        "stats leaked into stdout: {stdout}"
    );
    let rows_scanned: u64 = query
        .stderr
        .lines()
        .find_map(|l| {
            l.split("; ")
                .nth(1)?
                .strip_suffix(" rows scanned")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no rows scanned figure: {query:#?}"));
    assert!(rows_scanned >= stdout.lines().count() as u64, "{query:#?}");
    assert!(
        query
            .stderr
            .lines()
            .any(|l| l.trim_start().starts_with("scan ")),
        "{query:#?}"
    );

    let quiet = Run::host(
        &workspace_root(),
        &[
            "--plugin",
            "lmdb",
            "--data-dir",
            data.to_str().unwrap(),
            "count",
        ],
    );
    assert_eq!(quiet.expect_success().trim(), "43");
    assert!(!quiet.stderr.contains("operation stats"), "{quiet:#?}");
}

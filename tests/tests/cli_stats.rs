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

#[test]
fn stats_agree_with_count_and_keep_the_last_loads_operations() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let example = workspace_root().join("examples/library.ttl");
    let dir = data.to_str().unwrap();
    let host = |args: &[&str]| {
        Run::host(
            &workspace_root(),
            &[&["--plugin", "lmdb", "--data-dir", dir][..], args].concat(),
        )
    };
    let load = host(&["load", example.to_str().unwrap()]);
    assert!(load.expect_success().contains(" on disk"), "{load:#?}");
    let count: u64 = host(&["count"]).expect_success().trim().parse().unwrap();

    let human = host(&["stats"]);
    let text = human.expect_success();
    assert!(
        text.lines()
            .any(|l| l.starts_with("quads") && l.contains(&format!(" {count} ("))),
        "{text}"
    );
    assert!(text.contains("backend statistics (lmdb)"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("last load    43 read, 43 new")),
        "{text}"
    );
    assert!(text.contains("operation stats (lmdb"), "{text}");

    let json = host(&["stats", "--json"]);
    let value: serde_json::Value = serde_json::from_str(json.expect_success()).unwrap();
    assert_eq!(value["quads"], count);
    assert_eq!(value["plugin"], "lmdb");
    assert!(value["bytes_on_disk"].as_u64().unwrap() > 0);
    assert!(value["terms"].as_u64().unwrap() > 0);
    assert!(!value["native"].as_array().unwrap().is_empty());
    // LMDB tells the pages of each table: every store table is listed, the dictionary holds
    // bytes, and together they fit in the files.
    let table_bytes = value["table_bytes"].as_array().unwrap();
    let bytes_of = |name: &str| {
        table_bytes
            .iter()
            .find(|t| t["table"] == name)
            .and_then(|t| t["bytes"].as_u64())
    };
    for table in [
        "quads.spo",
        "quads.gspo",
        "dict.id2term",
        "dict.term2id",
        "store.meta",
    ] {
        assert!(bytes_of(table).is_some(), "{table} in {table_bytes:?}");
    }
    assert!(bytes_of("dict.id2term").unwrap() > 0);
    let listed: u64 = table_bytes
        .iter()
        .map(|t| t["bytes"].as_u64().unwrap())
        .sum();
    assert!(listed <= value["bytes_on_disk"].as_u64().unwrap());
    assert!(text.contains("bytes per table ("), "{text}");
    let load = &value["last_load"];
    assert_eq!(load["inserted"], 43);
    let operations = load["operations"]["operations"].as_array().unwrap();
    let commit = operations
        .iter()
        .find(|op| op["op"] == "commit")
        .expect("the load's commits");
    assert!(commit["calls"].as_u64().unwrap() >= 1);
    for field in ["p50_ns", "p90_ns", "p99_ns", "max_ns"] {
        assert!(
            commit["latency"][field].as_u64().is_some(),
            "{field}: {commit}"
        );
    }
    assert!(
        load["operations"]["transactions"]["committed"]
            .as_u64()
            .unwrap()
            >= 1
    );
    // The QuadStore's counters: every quad new, every term a dictionary miss.
    let counter = |load: &serde_json::Value, name: &str| -> u64 {
        load["operations"]["counters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {load}"))["value"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(counter(load, "quads_inserted"), 43);
    assert_eq!(counter(load, "quads_removed"), 0);
    assert_eq!(
        Some(counter(load, "dictionary_misses")),
        value["terms"].as_u64()
    );
    let lookups = |load: &serde_json::Value| {
        [
            "dictionary_cache_hits",
            "dictionary_table_hits",
            "dictionary_misses",
        ]
        .map(|name| counter(load, name))
        .iter()
        .sum::<u64>()
    };
    // One look-up per term of a quad (these are triples: subject, predicate, object).
    assert_eq!(lookups(load), 3 * 43);

    // Loaded again, in a new process: nothing new, every term found in the dictionary table.
    host(&["load", example.to_str().unwrap()]).expect_success();
    let json = host(&["stats", "--json"]);
    let value: serde_json::Value = serde_json::from_str(json.expect_success()).unwrap();
    let load = &value["last_load"];
    assert_eq!(load["inserted"], 0);
    assert_eq!(counter(load, "quads_inserted"), 0);
    assert_eq!(counter(load, "dictionary_misses"), 0);
    assert_eq!(lookups(load), 3 * 43);
    assert!(counter(load, "dictionary_table_hits") >= value["terms"].as_u64().unwrap());
}

#[test]
fn log_lines_carry_the_command_and_transaction_spans() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let example = workspace_root().join("examples/library.ttl");
    let run = Run::host(
        &workspace_root(),
        &[
            "--plugin",
            "lmdb",
            "--data-dir",
            data.to_str().unwrap(),
            "-vv",
            "load",
            example.to_str().unwrap(),
        ],
    );
    run.expect_success();
    let commit = run
        .stderr
        .lines()
        .find(|l| l.contains("committed quads_delta=43"))
        .unwrap_or_else(|| panic!("no commit line: {run:#?}"));
    assert!(
        commit.contains("command{name=\"load\"}:transaction{id="),
        "{commit}"
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("command{name=\"load\"}")
                && l.contains("plugin=\"kgdb_plugin_lmdb\"")),
        "plugin log lines carry the command span and the plugin's name: {run:#?}"
    );
    assert!(
        !run.stdout.contains("DEBUG"),
        "logs stay off stdout: {run:#?}"
    );
    // Under -v alone the plugin's own line about opening the store arrives, tagged with its
    // name, on stderr; stdout holds only the count.
    let count = Run::host(
        &workspace_root(),
        &[
            "--plugin",
            "lmdb",
            "--data-dir",
            data.to_str().unwrap(),
            "-v",
            "count",
        ],
    );
    assert_eq!(count.expect_success().trim(), "43");
    assert!(
        count.stderr.lines().any(|l| l.contains(" INFO ")
            && l.contains("opened")
            && l.contains("plugin=\"kgdb_plugin_lmdb\"")),
        "{count:#?}"
    );
    assert!(!count.stderr.contains("DEBUG"), "{count:#?}");
}

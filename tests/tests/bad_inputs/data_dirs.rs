//! `--data-dir`: missing, not a directory, another plugin's or another program's data, a
//! marker from the future or in pieces.

use crate::case::Case;

fn case(name: &str, data_dir: &str, command: &[&str], fragments: &[&str]) -> Case {
    let mut args = vec!["--data-dir", data_dir];
    args.extend_from_slice(command);
    Case::new("data_dir", name, &args).error(1, fragments)
}

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "missing_for_count",
            "nothing-here",
            &["count"],
            &["nothing-here", "no such data directory"],
        ),
        case(
            "missing_for_quads",
            "nothing-here",
            &["quads", "?s", "?p", "?o"],
            &["nothing-here"],
        ),
        case(
            "missing_for_verify",
            "nothing-here",
            &["verify"],
            &["nothing-here"],
        ),
        case(
            "missing_for_remove",
            "nothing-here",
            &["remove", "?s", "?p", "?o"],
            &["nothing-here"],
        ),
        case(
            "missing_for_clear",
            "nothing-here",
            &["clear"],
            &["nothing-here"],
        ),
        case("a_regular_file", "std.toml", &["count"], &["std.toml"]),
        case(
            "a_file_for_load",
            "std.toml",
            &["load", "ok.nt"],
            &["std.toml"],
        )
        .file("ok.nt", "<http://e/a> <http://e/p> \"x\" .\n"),
        case("another_programs_files", "other", &["count"], &["other"])
            .file("other/notes.txt", "not a store\n"),
        case(
            "another_plugins_store",
            "kgdb-data",
            &["--plugin", "rocksdb", "count"],
            &["kgdb-data"],
        )
        .prepare(|_| {}),
        case("marker_from_the_future", "future", &["count"], &["future"])
            .file(
                "future/kgdb-format.toml",
                "plugin = \"lmdb\"\nformat_version = 999\n",
            )
            .file("future/data.mdb", ""),
        case(
            "marker_garbage",
            "garbled",
            &["count"],
            &["garbled", "kgdb-format.toml"],
        )
        .file("garbled/kgdb-format.toml", "\u{0}\u{1} not toml [[["),
        case(
            "marker_of_another_plugin",
            "elsewhere",
            &["count"],
            &["elsewhere"],
        )
        .file(
            "elsewhere/kgdb-format.toml",
            "plugin = \"rocksdb\"\nformat_version = 1\n",
        ),
        case(
            "marker_without_engine_files",
            "hollow",
            &["count"],
            &["hollow"],
        )
        .file(
            "hollow/kgdb-format.toml",
            "plugin = \"lmdb\"\nformat_version = 1\n",
        ),
        case(
            "marker_beside_foreign_files_load",
            "littered",
            &["load", "ok.nt"],
            &["littered", "data.mdb"],
        )
        .file(
            "littered/kgdb-format.toml",
            "plugin = \"lmdb\"\nformat_version = 1\n",
        )
        .file("littered/junk.bin", "not lmdb")
        .file("ok.nt", "<http://e/a> <http://e/p> \"x\" .\n"),
    ]
}

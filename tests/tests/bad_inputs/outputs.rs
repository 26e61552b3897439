//! Standard output full (`/dev/full`) or closed (a pipe whose reader left).

use crate::case::{Case, Stdout};

pub fn cases() -> Vec<Case> {
    let commands: [(&str, &[&str]); 9] = [
        ("count", &["count"]),
        ("quads", &["quads", "?s", "?p", "?o"]),
        ("dump", &["dump"]),
        ("graphs", &["graphs"]),
        ("status", &["status"]),
        ("verify", &["verify"]),
        ("stats", &["stats"]),
        ("plugins_list", &["plugins", "list"]),
        ("plugins_info", &["plugins", "info", "lmdb"]),
    ];
    let mut cases = Vec::new();
    for (name, args) in commands {
        cases.push(
            Case::new("output", &format!("{name}_to_a_full_device"), args)
                .stdout(Stdout::Full)
                .error(1, &["error:", "No space left on device"]),
        );
        cases.push(
            Case::new("output", &format!("{name}_to_a_closed_pipe"), args)
                .stdout(Stdout::Closed)
                .quiet(0),
        );
    }
    cases.push(
        Case::new("output", "load_to_a_full_device", &["load", "more.nt"])
            .file(
                "more.nt",
                "<http://example.org/s1> <http://example.org/name> \"Ada\"@en .\n",
            )
            .stdout(Stdout::Full)
            .error(1, &["No space left on device"]),
    );
    cases
}

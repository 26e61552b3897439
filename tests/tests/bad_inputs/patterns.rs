//! Patterns and options of the reading and removing commands.

use crate::case::Case;

fn case(name: &str, args: &[&str], code: i32, fragments: &[&str]) -> Case {
    Case::new("pattern", name, args).error(code, fragments)
}

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "unterminated_iri_subject",
            &["quads", "<http://e/a", "?p", "?o"],
            1,
            &["invalid subject", "<http://e/a"],
        ),
        case(
            "bad_literal_object",
            &["quads", "?s", "?p", "\"open"],
            1,
            &["invalid object"],
        ),
        case(
            "bad_predicate",
            &["quads", "?s", "not-a-term", "?o"],
            1,
            &["invalid predicate"],
        ),
        case(
            "bad_language_tag",
            &["quads", "?s", "?p", "\"x\"@-"],
            1,
            &["invalid object"],
        ),
        case(
            "bad_datatype",
            &["quads", "?s", "?p", "\"x\"^^<nope"],
            1,
            &["invalid object"],
        ),
        case(
            "literal_graph",
            &["quads", "?s", "?p", "?o", "\"g\""],
            1,
            &["invalid graph", "literal"],
        ),
        case(
            "graph_with_space",
            &["quads", "?s", "?p", "?o", "a b"],
            1,
            &["invalid graph"],
        ),
        case("too_few_terms", &["quads", "?s", "?p"], 2, &["quads"]),
        case(
            "too_many_terms",
            &["quads", "?s", "?p", "?o", "?g", "?x"],
            2,
            &["quads"],
        ),
        case(
            "limit_not_a_number",
            &["quads", "?s", "?p", "?o", "--limit", "ten"],
            2,
            &["--limit"],
        ),
        case(
            "limit_negative",
            &["quads", "?s", "?p", "?o", "--limit", "-1"],
            2,
            &["--limit"],
        ),
        case(
            "output_format_unknown",
            &["quads", "?s", "?p", "?o", "--format", "xml"],
            1,
            &["xml"],
        ),
        case(
            "remove_bad_subject",
            &["remove", "<oops", "?p", "?o"],
            1,
            &["invalid subject"],
        ),
        case(
            "remove_literal_graph",
            &["remove", "?s", "?p", "?o", "\"g\""],
            1,
            &["invalid graph"],
        ),
        case(
            "count_bad_graph",
            &["count", "--graph", "\"g\""],
            1,
            &["invalid graph"],
        ),
        case(
            "clear_bad_graph",
            &["clear", "--graph", "<oops"],
            1,
            &["invalid graph"],
        ),
        case(
            "dump_unknown_format",
            &["dump", "--format", "yaml"],
            1,
            &["yaml"],
        ),
        case(
            "dump_triples_with_named_graphs",
            &["dump", "--format", "nt"],
            1,
            &["named graph", "--graph"],
        ),
        case(
            "dump_bad_graph",
            &["dump", "--graph", "\"g\""],
            1,
            &["invalid graph"],
        ),
        case(
            "dump_to_a_directory",
            &["dump", "--output", "kgdb-data"],
            1,
            &["kgdb-data"],
        ),
        case(
            "dump_to_a_missing_directory",
            &["dump", "--output", "no/such/dir/out.nq"],
            1,
            &["no/such/dir/out.nq"],
        ),
        case(
            "verify_bad_number",
            &["verify", "--max-differences", "x"],
            2,
            &["--max-differences"],
        ),
        case("unknown_command", &["frobnicate"], 2, &["frobnicate"]),
        case("unknown_option", &["count", "--colour"], 2, &["--colour"]),
        case(
            "plugins_unknown_subcommand",
            &["plugins", "explode"],
            2,
            &["explode"],
        ),
        case(
            "plugins_info_unknown_plugin",
            &["plugins", "info", "nosuch"],
            1,
            &["nosuch"],
        ),
        case("stats_unknown_option", &["stats", "--yaml"], 2, &["--yaml"]),
    ]
}

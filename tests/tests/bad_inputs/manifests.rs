//! `plugins.toml`: syntax, types, keys, entries, pins and config values.

use crate::case::Case;

const HEAD: &str =
    "manifest_version = 1\ndefault = \"lmdb\"\n\n[[plugin]]\nname = \"lmdb\"\npath = {lmdb}\n";

fn case(name: &str, manifest: &str, fragments: &[&str]) -> Case {
    Case::new("manifest", name, &["count"])
        .manifest(manifest)
        .error(1, fragments)
}

/// The standard head with `extra` lines in the lmdb entry (line 7 on).
fn entry(name: &str, extra: &str, fragments: &[&str]) -> Case {
    case(name, &format!("{HEAD}{extra}"), fragments)
}

pub fn cases() -> Vec<Case> {
    vec![
        case("empty_file", "", &["plugins.toml", "manifest_version"]),
        case("binary_garbage", "\u{0}\u{1}\u{2}\u{ff}", &["plugins.toml:1"]),
        case("unclosed_table", "manifest_version = 1\n[[plugin]\n", &["plugins.toml:2"]),
        case("unterminated_string", "manifest_version = 1\ndefault = \"lmdb\n", &["plugins.toml:2"]),
        case("duplicate_key", "manifest_version = 1\nmanifest_version = 1\n", &["plugins.toml:2"]),
        case("version_as_string", "manifest_version = \"1\"\n", &["plugins.toml:1", "manifest_version"]),
        case("version_two", "manifest_version = 2\n", &["plugins.toml:1", "manifest_version"]),
        case("version_missing", "default = \"lmdb\"\n", &["plugins.toml", "manifest_version"]),
        case("default_as_number", "manifest_version = 1\ndefault = 3\n", &["plugins.toml:2", "default"]),
        case("default_names_no_plugin", "manifest_version = 1\ndefault = \"nope\"\n", &["plugins.toml:2", "nope"]),
        case("plugin_not_a_table", "manifest_version = 1\nplugin = 3\n", &["plugins.toml:2", "plugin"]),
        case("unknown_top_level_key", "manifest_version = 1\nplugins_dir = \"x\"\n", &["plugins.toml:2", "plugins_dir"]),
        case("entry_without_name", "manifest_version = 1\n[[plugin]]\npath = \"x.so\"\n", &["plugins.toml:2", "name"]),
        case("entry_without_path", "manifest_version = 1\n[[plugin]]\nname = \"x\"\n", &["plugins.toml:3", "path"]),
        case("entry_unknown_key", &format!("{HEAD}colour = \"red\"\n"), &["plugins.toml:7", "colour"]),
        case("entry_name_empty", "manifest_version = 1\n[[plugin]]\nname = \"\"\npath = \"x.so\"\n", &["plugins.toml:3", "name"]),
        case(
            "duplicate_names",
            &format!("{HEAD}\n[[plugin]]\nname = \"lmdb\"\npath = {{memory}}\n"),
            &["plugins.toml:9", "two plugins are named `lmdb`"],
        ),
        case(
            "path_missing_file",
            "manifest_version = 1\ndefault = \"x\"\n[[plugin]]\nname = \"x\"\npath = \"no/such/lib.so\"\n",
            &["plugins.toml:5:", "no/such/lib.so"],
        ),
        case(
            "path_is_a_text_file",
            "manifest_version = 1\ndefault = \"x\"\n[[plugin]]\nname = \"x\"\npath = \"std.toml\"\n",
            &["std.toml", "not a shared library"],
        ),
        case(
            "path_is_not_a_plugin",
            "manifest_version = 1\ndefault = \"x\"\n[[plugin]]\nname = \"x\"\npath = {not_a_plugin}\n",
            &["not a kgdb plugin"],
        ),
        case(
            "path_is_an_older_abi",
            "manifest_version = 1\ndefault = \"x\"\n[[plugin]]\nname = \"x\"\npath = {abi_v2}\n",
            &["ABI"],
        ),
        case(
            "path_table_without_this_platform",
            "manifest_version = 1\ndefault = \"x\"\n[[plugin]]\nname = \"x\"\npath = { plan9-mips = \"lib.so\" }\n",
            &["plugins.toml:5:", "plan9-mips"],
        ),
        entry("sha256_too_short", "sha256 = \"abc\"\n", &["plugins.toml:7", "sha256"]),
        entry("sha256_not_hex", &format!("sha256 = \"{}\"\n", "z".repeat(64)), &["plugins.toml:7", "sha256"]),
        entry("sha256_mismatch", &format!("sha256 = \"{}\"\n", "0".repeat(64)), &["sha256 mismatch"]),
        entry("config_not_a_table", "config = 3\n", &["plugins.toml:7", "config"]),
        entry("config_unknown_key", "[plugin.config]\ncache = 1\n", &["plugins.toml:8", "cache"]),
        entry("map_size_not_a_size", "[plugin.config]\nmap_size = \"lots\"\n", &["plugins.toml:8", "map_size"]),
        entry("map_size_too_small", "[plugin.config]\nmap_size = \"1 KiB\"\n", &["plugins.toml:8", "map_size"]),
        entry("map_size_impossible", "[plugin.config]\nmap_size = \"99999999 TiB\"\n", &["plugins.toml:8", "map_size"]),
        entry("map_size_negative", "[plugin.config]\nmap_size = -5\n", &["plugins.toml:8", "map_size"]),
        entry(
            "max_map_below_map_size",
            "[plugin.config]\nmap_size = \"1 GiB\"\nmax_map_size = \"1 MiB\"\n",
            &["plugins.toml:9", "max_map_size"],
        ),
        entry("max_tables_zero", "[plugin.config]\nmax_tables = 0\n", &["plugins.toml:8", "max_tables"]),
        entry("max_tables_huge", "[plugin.config]\nmax_tables = 99999\n", &["plugins.toml:8", "max_tables"]),
        entry("max_tables_too_few", "[plugin.config]\nmax_tables = 2\n", &["plugins.toml:8", "max_tables"]),
        entry("max_readers_zero", "[plugin.config]\nmax_readers = 0\n", &["plugins.toml:8", "max_readers"]),
        entry("max_readers_text", "[plugin.config]\nmax_readers = \"many\"\n", &["plugins.toml:8", "max_readers"]),
        case(
            "rocksdb_compression_unknown",
            "manifest_version = 1\ndefault = \"r\"\n[[plugin]]\nname = \"r\"\npath = {rocksdb}\n[plugin.config]\ncompression = \"zip\"\n",
            &["plugins.toml:7", "compression"],
        ),
        case(
            "rocksdb_write_buffer_tiny",
            "manifest_version = 1\ndefault = \"r\"\n[[plugin]]\nname = \"r\"\npath = {rocksdb}\n[plugin.config]\nwrite_buffer_size = 10\n",
            &["plugins.toml:7", "write_buffer_size"],
        ),
        case(
            "memory_limit_not_a_size",
            "manifest_version = 1\ndefault = \"m\"\n[[plugin]]\nname = \"m\"\npath = {memory}\n[plugin.config]\nmemory_limit = true\n",
            &["plugins.toml:7", "memory_limit"],
        ),
        Case::new("manifest", "config_file_missing", &["--config", "nowhere.toml", "count"])
            .error(1, &["nowhere.toml"]),
        Case::new("manifest", "config_is_a_directory", &["--config", "kgdb-data", "count"])
            .error(1, &["kgdb-data"]),
        Case::new("manifest", "config_without_a_value", &["count", "--config"]).error(2, &["--config"]),
    ]
}

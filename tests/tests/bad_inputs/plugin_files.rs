//! `--plugin`: names, paths and files that are not (whole) kgdb plugins.

use std::path::Path;

use kgdb_tests::plugin_library;

use crate::case::Case;

fn case(name: &str, plugin: &str, fragments: &[&str]) -> Case {
    Case::new("plugin_file", name, &["--plugin", plugin, "count"]).error(1, fragments)
}

fn truncated(dir: &Path, bytes: u64) {
    let library = std::fs::read(plugin_library("kgdb_plugin_memory")).unwrap();
    let length = usize::try_from(bytes).unwrap().min(library.len());
    std::fs::write(dir.join("cut.so"), &library[..length]).unwrap();
}

pub fn cases() -> Vec<Case> {
    vec![
        case("unknown_name", "nosuchplugin", &["nosuchplugin"]),
        case("missing_path", "./missing.so", &["missing.so"]),
        case("a_directory_without_a_library", "kgdb-data", &["kgdb-data"]),
        case("an_empty_file", "empty.so", &["empty.so"]).file("empty.so", ""),
        case(
            "a_text_file",
            "text.so",
            &["text.so", "not a shared library"],
        )
        .file("text.so", "hello\n"),
        case("an_elf_header_only", "cut.so", &["cut.so"]).prepare(|dir| truncated(dir, 64)),
        case("truncated_at_4_kib", "cut.so", &["cut.so"]).prepare(|dir| truncated(dir, 4096)),
        case("truncated_at_64_kib", "cut.so", &["cut.so"]).prepare(|dir| truncated(dir, 65536)),
        case("random_bytes", "random.so", &["random.so"]).file(
            "random.so",
            (0..20_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect::<Vec<u8>>(),
        ),
        case("a_fifo", "fifo.so", &["fifo.so"]).prepare(|dir| {
            let status = std::process::Command::new("mkfifo")
                .arg(dir.join("fifo.so"))
                .status()
                .unwrap();
            assert!(status.success());
        }),
        case("a_dangling_symlink", "link.so", &["link.so"]).prepare(|dir| {
            std::os::unix::fs::symlink(dir.join("nowhere.so"), dir.join("link.so")).unwrap();
        }),
        case("a_symlink_loop", "loop.so", &["loop.so"]).prepare(|dir| {
            std::os::unix::fs::symlink(dir.join("loop.so"), dir.join("loop.so")).unwrap();
        }),
        case(
            "not_a_kgdb_plugin",
            &plugin_library("kgdb_fixture_not_a_plugin")
                .display()
                .to_string(),
            &["not a kgdb plugin"],
        ),
        case(
            "an_older_abi",
            &plugin_library("kgdb_fixture_abi_v2_plugin")
                .display()
                .to_string(),
            &["ABI"],
        ),
        case(
            "a_plugin_directory_never_built",
            "plugins-template-copy",
            &["plugins-template-copy"],
        )
        .file(
            "plugins-template-copy/Cargo.toml",
            "[package]\nname = \"kgdb-plugin-nothing\"\n",
        ),
        Case::new("plugin_file", "an_empty_name", &["--plugin", "", "count"]).error(1, &["plugin"]),
    ]
}

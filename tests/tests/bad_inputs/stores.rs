//! Damaged stores: files missing, truncated, overwritten in part or with flipped bytes. The
//! outcome is an error naming the damage (`corruption`, or the file), and the store's files
//! are not written to.

use std::path::{Path, PathBuf};

use crate::case::{Case, Damage};

fn case(
    name: &str,
    backend: &'static str,
    command: &[&str],
    damage: Damage,
    fragments: &[&str],
) -> Case {
    Case::new("store", name, command)
        .on(backend)
        .damage(damage)
        .error(1, fragments)
}

fn truncate(path: &Path, length: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(length)
        .unwrap();
}

fn flip(path: &Path, from: u64, count: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let start = usize::try_from(from).unwrap().min(bytes.len());
    let end = usize::try_from(from + count).unwrap().min(bytes.len());
    for byte in &mut bytes[start..end] {
        *byte ^= 0xA5;
    }
    std::fs::write(path, bytes).unwrap();
}

/// The store's files whose names end with `suffix`, largest first.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort_by_key(|path| std::cmp::Reverse(std::fs::metadata(path).map_or(0, |m| m.len())));
    files
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let lmdb: [(&str, Damage); 7] = [
        ("data_mdb_missing", |d| {
            std::fs::remove_file(d.join("data.mdb")).unwrap()
        }),
        ("data_mdb_empty", |d| truncate(&d.join("data.mdb"), 0)),
        ("data_mdb_one_page", |d| truncate(&d.join("data.mdb"), 4096)),
        ("data_mdb_half", |d| {
            let length = std::fs::metadata(d.join("data.mdb")).unwrap().len();
            truncate(&d.join("data.mdb"), length / 2);
        }),
        ("meta_pages_flipped", |d| flip(&d.join("data.mdb"), 0, 8192)),
        ("marker_missing", |d| {
            std::fs::remove_file(d.join("kgdb-format.toml")).unwrap()
        }),
        ("marker_garbled", |d| {
            std::fs::write(d.join("kgdb-format.toml"), "[[[").unwrap()
        }),
    ];
    for (name, damage) in lmdb {
        for command in ["count", "verify"] {
            cases.push(case(
                &format!("lmdb_{name}_{command}"),
                "lmdb",
                &[command],
                damage,
                &["kgdb-data"],
            ));
        }
    }
    let rocksdb: [(&str, Damage); 6] = [
        ("current_missing", |d| {
            std::fs::remove_file(d.join("CURRENT")).unwrap()
        }),
        ("current_garbled", |d| {
            std::fs::write(d.join("CURRENT"), "MANIFEST-999999\n").unwrap()
        }),
        ("manifest_missing", |d| {
            for file in files(d, "") {
                if file
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("MANIFEST")
                {
                    std::fs::remove_file(file).unwrap();
                }
            }
        }),
        ("table_file_missing", |d| {
            std::fs::remove_file(&files(d, ".sst")[0]).unwrap()
        }),
        ("table_file_truncated", |d| {
            let file = &files(d, ".sst")[0];
            truncate(file, std::fs::metadata(file).unwrap().len() / 2);
        }),
        ("marker_missing", |d| {
            std::fs::remove_file(d.join("kgdb-format.toml")).unwrap()
        }),
    ];
    for (name, damage) in rocksdb {
        for command in ["count", "verify"] {
            cases.push(case(
                &format!("rocksdb_{name}_{command}"),
                "rocksdb",
                &[command],
                damage,
                &["kgdb-data"],
            ));
        }
    }
    cases
}

//! Damage short of overwriting whole files: a data file missing, cut short, or with bytes
//! flipped inside it. A missing or truncated file is `CORRUPTION` for every persistent
//! backend; flipped bytes are `CORRUPTION` (or go unread) for a backend that declares
//! `checksums`, and a documented limit of one that does not: it may answer with the damaged
//! bytes, but must not crash.

use std::path::{Path, PathBuf};

use kgdb_loader::{Backend, BackendError, Capabilities, ErrorCode, ScanSpec, TxnOptions};

use super::register;
use crate::fixture::{numbered, Fixture};

/// Key-value rows.
type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// Rows enough to span many pages or blocks: 3,000 rows of 200 bytes.
fn rows() -> Rows {
    (0..3_000)
        .map(|i| {
            let value: Vec<u8> = (0..200u32).map(|j| (i as u32 * 31 + j) as u8).collect();
            (numbered(i), value)
        })
        .collect()
}

/// Writes the rows, flushes where the backend can, closes it and returns its data directory
/// and the engine's data files, largest first (`None`, with a note, for a backend that keeps
/// no files).
fn written_and_closed(f: &mut Fixture) -> Option<(PathBuf, Vec<PathBuf>)> {
    if !f.has(Capabilities::PERSISTENT) {
        f.note("not `persistent`: no data files to damage");
        return None;
    }
    let t = f.table("t");
    f.write_rows(t, &rows());
    if f.has(Capabilities::FLUSH) {
        f.backend.flush().unwrap();
    }
    f.backend.close().unwrap();
    let dir = f.data_dir();
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.retain(|path| {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // kgdb's own marker and lock, and the engines' lock and log files, hold no data.
        !(name.starts_with("kgdb")
            || name.contains("LOCK")
            || name.starts_with("lock")
            || name.starts_with("LOG")
            || name.ends_with(".log")
            || std::fs::metadata(path).map_or(true, |meta| meta.len() == 0))
    });
    files.sort_by_key(|path| std::cmp::Reverse(std::fs::metadata(path).map_or(0, |m| m.len())));
    assert!(!files.is_empty(), "no data files in {}", dir.display());
    Some((dir, files))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Opens the damaged directory and reads every row of `t`.
fn read_back(f: &Fixture, dir: &Path) -> Result<Rows, BackendError> {
    let backend: Backend = f.open_other(dir)?;
    let t = backend.open_table("t", false)?;
    let txn = backend.begin(TxnOptions::READ_ONLY)?;
    let rows = txn
        .scan(t, ScanSpec::all())?
        .collect::<Result<Vec<_>, _>>()?;
    drop(txn);
    backend.close()?;
    Ok(rows)
}

fn expect_corruption(f: &Fixture, dir: &Path, what: &str) {
    match read_back(f, dir) {
        Err(error) => assert_eq!(
            error.code,
            ErrorCode::CORRUPTION,
            "{what}: expected `corruption`, got: {error}"
        ),
        Ok(rows) => panic!(
            "{what}: opened and read {} rows without an error",
            rows.len()
        ),
    }
}

/// The largest data file removed: `CORRUPTION`, never an empty store.
pub(crate) fn a_missing_data_file_is_corruption(f: &mut Fixture) {
    let Some((dir, files)) = written_and_closed(f) else {
        return;
    };
    std::fs::remove_file(&files[0]).unwrap();
    expect_corruption(f, &dir, &format!("{} removed", files[0].display()));
}

/// The largest data file cut to half its length: `CORRUPTION`.
pub(crate) fn a_truncated_data_file_is_corruption(f: &mut Fixture) {
    let Some((dir, files)) = written_and_closed(f) else {
        return;
    };
    let length = std::fs::metadata(&files[0]).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&files[0])
        .unwrap()
        .set_len(length / 2)
        .unwrap();
    expect_corruption(f, &dir, &format!("{} cut to half", files[0].display()));
}

/// 64 bytes flipped in the middle of the largest data file (inside the rows' pages or
/// blocks). With `checksums`: `CORRUPTION`, or every row exactly as written (the damage fell
/// where nothing is read). Without: any answer but a crash, the limit the plugin documents.
pub(crate) fn flipped_bytes_are_caught_by_checksums(f: &mut Fixture) {
    let Some((dir, files)) = written_and_closed(f) else {
        return;
    };
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let middle = bytes.len() / 2;
    let end = (middle + 64).min(bytes.len());
    for byte in &mut bytes[middle..end] {
        *byte ^= 0x5A;
    }
    std::fs::write(&files[0], bytes).unwrap();
    let outcome = read_back(f, &dir);
    if !f.has(Capabilities::CHECKSUMS) {
        f.note(format!(
            "no `checksums`: flipped bytes gave {} (a documented limit)",
            match &outcome {
                Ok(rows) if *rows == self::rows() => "the rows as written".to_owned(),
                Ok(_) => "other rows".to_owned(),
                Err(error) => format!("`{}`", error.code),
            }
        ));
        return;
    }
    match outcome {
        Err(error) => assert_eq!(
            error.code,
            ErrorCode::CORRUPTION,
            "flipped bytes: expected `corruption`, got: {error}"
        ),
        Ok(read) => assert!(
            read == rows(),
            "flipped bytes in {} were read back as data, without an error",
            files[0].display()
        ),
    }
}

register!(Errors:
    a_missing_data_file_is_corruption,
    a_truncated_data_file_is_corruption,
    flipped_bytes_are_caught_by_checksums,
);

use kgdb_loader::{
    BackendError, BoundKind, Capabilities, ErrorCode, ScanSpec, SyncMode, TableId, TxnOptions,
};

use super::register;
use crate::fixture::{binary_rows, expect_code, numbered, scan_all, Fixture};

/// After `close`, the backend and the transactions it made answer `CLOSED`.
pub(crate) fn closed_backend_refuses_calls(f: &mut Fixture) {
    let t = f.table("t");
    let txn = f.read();
    f.backend.close().unwrap();
    expect_code(f.backend.open_table("t", true), ErrorCode::CLOSED);
    expect_code(f.backend.begin(TxnOptions::READ_ONLY), ErrorCode::CLOSED);
    expect_code(txn.get(t, b"k"), ErrorCode::CLOSED);
    expect_code(f.backend.close(), ErrorCode::CLOSED);
}

/// A second instance on the same data directory is refused with `IN_USE` naming the process.
pub(crate) fn a_second_open_is_refused(f: &mut Fixture) {
    if !f.caps().has(Capabilities::PERSISTENT) {
        // Nothing on disk to share: a second instance is independent.
        let other = f.open_other(&f.data_dir()).unwrap();
        assert!(other.list_tables().unwrap().is_empty());
        return;
    }
    let error = expect_code(f.open_other(&f.data_dir()), ErrorCode::IN_USE);
    assert!(
        error
            .message
            .contains(&format!("in use by process {}", std::process::id())),
        "{error}"
    );
}

/// Every optional operation either works or answers `UNSUPPORTED`, as its bit says.
pub(crate) fn optional_operations_match_capability_bits(f: &mut Fixture) {
    let caps = f.caps();
    let check = |bit: u64, result: Result<(), BackendError>, what: &str| {
        if caps.has(bit) {
            result.unwrap_or_else(|e| panic!("{what} is declared but failed: {e}"));
        } else {
            expect_code(result, ErrorCode::UNSUPPORTED);
        }
    };
    check(Capabilities::FLUSH, f.backend.flush(), "flush");
    check(Capabilities::COMPACT, f.backend.compact(None), "compact");
    let target = f.dir.path().join("checkpoint");
    check(
        Capabilities::CHECKPOINT,
        f.backend.checkpoint(&target),
        "checkpoint",
    );
    check(
        Capabilities::NATIVE_STATS,
        f.backend.stats().map(drop),
        "stats",
    );
    let sync = TxnOptions {
        read_only: false,
        sync: SyncMode::SYNC,
    };
    check(
        Capabilities::DURABLE_SYNC,
        f.backend.begin(sync).map(drop),
        "sync commits",
    );
}

/// A table id the backend does not know (a dropped table's, or one never issued) answers
/// `NOT_FOUND` in gets, scans and writes.
pub(crate) fn unknown_table_id_is_not_found(f: &mut Fixture) {
    let gone = f.table("gone");
    assert!(f.backend.drop_table("gone").unwrap());
    for table in [gone, TableId(u32::MAX - 7)] {
        let read = f.read();
        expect_code(read.get(table, b"k"), ErrorCode::NOT_FOUND);
        expect_code(
            read.scan(table, ScanSpec::all()).map(drop),
            ErrorCode::NOT_FOUND,
        );
        drop(read);
        let mut txn = f.write();
        expect_code(txn.put(table, b"k", b"v"), ErrorCode::NOT_FOUND);
        expect_code(txn.delete(table, b"k"), ErrorCode::NOT_FOUND);
    }
}

/// Opening a missing table without `create` is `NOT_FOUND` and creates nothing; dropping a
/// missing table answers `false`.
pub(crate) fn missing_table_without_create(f: &mut Fixture) {
    let error = expect_code(f.backend.open_table("absent", false), ErrorCode::NOT_FOUND);
    assert!(!error.message.is_empty());
    assert!(f.backend.list_tables().unwrap().is_empty());
    assert!(!f.backend.drop_table("absent").unwrap());
}

/// A config key the plugin does not know is `INVALID_CONFIG` naming the key; nothing is
/// created on disk.
pub(crate) fn unknown_config_key_is_refused(f: &mut Fixture) {
    let dir = f.dir.path().join("unknown-key");
    let error = expect_code(
        f.open_with(&dir, "no_such_conformance_key = 1", false),
        ErrorCode::INVALID_CONFIG,
    );
    assert!(
        error.key.contains("no_such_conformance_key")
            || error.message.contains("no_such_conformance_key"),
        "the error does not name the key: {error:?}"
    );
    assert!(
        !dir.join("kgdb.lock").exists()
            && std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_none())
    );
}

/// A config that is not TOML is `INVALID_CONFIG`.
pub(crate) fn malformed_config_is_refused(f: &mut Fixture) {
    let dir = f.dir.path().join("malformed");
    for config in ["this is = = not toml", "[unterminated", "key = \"no end"] {
        expect_code(f.open_with(&dir, config, false), ErrorCode::INVALID_CONFIG);
    }
}

/// A data directory opened read-only serves reads and refuses writes with `READ_ONLY`, or the
/// open answers `UNSUPPORTED` without `read-only-open`. Where the process cannot write to a
/// directory without write permission (not root), opening one read-write fails with a clear
/// error instead of a crash.
pub(crate) fn read_only_data_directory(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"k", b"v")]);
    f.backend.close().unwrap();
    let data = f.data_dir();
    if !f.has(Capabilities::READ_ONLY_OPEN) {
        expect_code(
            f.open_with(&data, &f.target.config, true),
            ErrorCode::UNSUPPORTED,
        );
    } else if f.has(Capabilities::PERSISTENT) {
        let backend = f.open_with(&data, &f.target.config, true).unwrap();
        let t = backend.open_table("t", false).unwrap();
        let read = backend.begin(TxnOptions::READ_ONLY).unwrap();
        assert_eq!(read.get(t, b"k").unwrap().as_deref(), Some(&b"v"[..]));
        let refused = backend
            .begin(TxnOptions::READ_WRITE)
            .and_then(|mut txn| txn.put(t, b"k2", b"v"));
        expect_code(refused, ErrorCode::READ_ONLY);
        drop(read);
        backend.close().unwrap();
    }
    let locked = f.dir.path().join("no-write-permission");
    std::fs::create_dir(&locked).unwrap();
    set_mode(&locked, 0o555);
    let writable = std::fs::write(locked.join("probe"), b"").is_ok();
    if writable {
        f.note(
            "this process ignores directory permissions (root): the permission check did not run",
        );
    } else if f.has(Capabilities::PERSISTENT) {
        let error = f
            .open_with(&locked.join("data"), &f.target.config, false)
            .expect_err("a data directory that cannot be created must not open");
        assert!(
            [ErrorCode::IO, ErrorCode::READ_ONLY].contains(&error.code),
            "unexpected code: {error}"
        );
    }
    set_mode(&locked, 0o755);
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(path: &std::path::Path, mode: u32) {
    let mut permissions = std::fs::metadata(path).unwrap().permissions();
    permissions.set_readonly(mode & 0o200 == 0);
    std::fs::set_permissions(path, permissions).unwrap();
}

/// A backend opened with the target's "full" config (a small map or memory limit) refuses the
/// write that does not fit with `FULL`, keeps every earlier commit, and stays usable.
pub(crate) fn full_store_refuses_the_write(f: &mut Fixture) {
    let Some(config) = f.target.full_config.clone() else {
        f.note("no full config given (--full-config): a full store was not simulated");
        return;
    };
    let backend = f
        .open_with(&f.dir.path().join("small"), &config, false)
        .unwrap_or_else(|e| panic!("opening with the full config {config:?}: {e}"));
    let t = backend.open_table("t", true).unwrap();
    let value = vec![0x5au8; 16 * 1024];
    let mut committed = 0usize;
    let error = loop {
        assert!(
            committed < 64 * 1024,
            "1 GiB committed and the store is still not full with {config:?}"
        );
        let outcome = backend.begin(TxnOptions::READ_WRITE).and_then(|mut txn| {
            txn.put(t, &numbered(committed), &value)?;
            txn.commit()
        });
        match outcome {
            Ok(()) => committed += 1,
            Err(error) => break error,
        }
    };
    assert_eq!(error.code, ErrorCode::FULL, "unexpected error: {error}");
    assert!(!error.message.is_empty());
    let read = backend.begin(TxnOptions::READ_ONLY).unwrap();
    let rows = scan_all(&read, t, ScanSpec::all());
    assert_eq!(rows.len(), committed, "earlier commits were lost");
    assert!(rows.iter().all(|(_, v)| *v == value));
    drop(read);
    // Still usable: a delete makes room.
    if committed > 0 {
        let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
        txn.delete(t, &numbered(0)).unwrap();
        txn.commit().unwrap();
    }
    backend.close().unwrap();
}

/// Overwriting a closed backend's data files with garbage makes it report `CORRUPTION` (when
/// opening or reading), never crash or answer with wrong data.
pub(crate) fn corrupt_data_file_is_reported(f: &mut Fixture) {
    if !f.has(Capabilities::PERSISTENT) {
        f.note("not `persistent`: no data files to damage");
        return;
    }
    let t = f.table("t");
    f.write_rows(t, &binary_rows());
    f.backend.close().unwrap();
    let mut damaged = 0;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut files = Vec::new();
    collect_files(&f.data_dir(), &mut files);
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "kgdb.lock" || name == "kgdb-format.toml" {
            continue;
        }
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        let garbage: Vec<u8> = (0..len.max(4096))
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write(&path, garbage).unwrap();
        damaged += 1;
    }
    assert!(
        damaged > 0,
        "no data files found in {}",
        f.data_dir().display()
    );
    let outcome = f.open_other(&f.data_dir()).and_then(|backend| {
        let t = backend.open_table("t", false)?;
        let txn = backend.begin(TxnOptions::READ_ONLY)?;
        let rows = txn
            .scan(t, ScanSpec::all())?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    });
    let error = outcome.expect_err("garbage data files opened and read without an error");
    assert_eq!(
        error.code,
        ErrorCode::CORRUPTION,
        "unexpected error: {error}"
    );
}

fn collect_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A cursor of a transaction that was rolled back answers `CLOSED`.
pub(crate) fn cursor_of_a_rolled_back_transaction(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"1"), (b"b", b"2")]);
    let txn = f.write();
    let mut cursor = txn.scan(t, ScanSpec::all()).unwrap();
    assert_eq!(cursor.next_batch(1, u64::MAX).unwrap().len(), 1);
    txn.rollback().unwrap();
    expect_code(cursor.next_batch(10, u64::MAX), ErrorCode::CLOSED);
}

/// A scan with an unknown bound kind is refused with `INVALID_ARGUMENT`.
pub(crate) fn invalid_scan_bounds_are_refused(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"1")]);
    let mut spec = ScanSpec::all();
    spec.start_kind = BoundKind(9);
    expect_code(
        f.read().scan(t, spec).map(drop),
        ErrorCode::INVALID_ARGUMENT,
    );
    let mut spec = ScanSpec::all();
    spec.end_kind = BoundKind(200);
    expect_code(
        f.read().scan(t, spec).map(drop),
        ErrorCode::INVALID_ARGUMENT,
    );
}

/// Every error the kit provokes carries a known code, a message, and `retryable` only for
/// conflicts and time-outs.
pub(crate) fn errors_carry_a_known_code_and_a_message(f: &mut Fixture) {
    let t = f.table("t");
    let mut errors = vec![f.backend.open_table("absent", false).unwrap_err()];
    let mut txn = f.write();
    errors.push(txn.put(t, b"", b"v").unwrap_err());
    errors.push(
        txn.put(t, &vec![0; f.caps().max_key_size as usize + 1], b"v")
            .unwrap_err(),
    );
    drop(txn);
    errors.push(f.read().put(t, b"k", b"v").unwrap_err());
    f.backend.close().unwrap();
    errors.push(f.backend.begin(TxnOptions::READ_ONLY).unwrap_err());
    for error in &errors {
        assert!(
            ErrorCode::ALL.contains(&error.code),
            "unknown code: {error:?}"
        );
        assert!(!error.message.trim().is_empty(), "no message: {error:?}");
        assert!(
            error.to_string().contains(&error.message),
            "the display omits the message: {error}"
        );
        assert!(!error.retryable, "not a retryable error: {error:?}");
    }
    let codes: Vec<ErrorCode> = errors.iter().map(|e| e.code).collect();
    assert_eq!(
        codes,
        vec![
            ErrorCode::NOT_FOUND,
            ErrorCode::INVALID_ARGUMENT,
            ErrorCode::INVALID_ARGUMENT,
            ErrorCode::READ_ONLY,
            ErrorCode::CLOSED
        ]
    );
}

register!(Errors:
    closed_backend_refuses_calls,
    a_second_open_is_refused,
    optional_operations_match_capability_bits,
    unknown_table_id_is_not_found,
    missing_table_without_create,
    unknown_config_key_is_refused,
    malformed_config_is_refused,
    read_only_data_directory,
    full_store_refuses_the_write,
    corrupt_data_file_is_reported,
    cursor_of_a_rolled_back_transaction,
    invalid_scan_bounds_are_refused,
    errors_carry_a_known_code_and_a_message,
);

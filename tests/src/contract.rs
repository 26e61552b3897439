//! The backend contract: cases written once against the host's adapter (never against an
//! engine), run on every plugin loaded from its built library. Where a capability bit is clear
//! the case checks that the operation answers `UNSUPPORTED`, instead of skipping it.

use std::ops::Bound;
use std::sync::Arc;
use std::thread;

use kgdb_host::plugin::{
    Backend, BackendError, Capabilities, ErrorCode, KvBatch, ScanSpec, SortedRun, TableId,
    Transaction, TxnOptions, WriteBatch, WriteOptions,
};
use tempfile::TempDir;

/// One open backend on a scratch directory.
pub struct Fixture {
    /// The backend under test.
    pub backend: Arc<Backend>,
    /// Scratch space (removed at the end); the data directory is `dir/data`.
    pub dir: TempDir,
    stem: String,
    config: String,
}

impl Fixture {
    /// Opens plugin library `stem` with `config` on a fresh directory.
    #[must_use]
    pub fn open(stem: &str, config: &str) -> Self {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let backend = crate::open_backend(stem, &dir.path().join("data"), config);
        Self {
            backend: Arc::new(backend),
            dir,
            stem: stem.to_owned(),
            config: config.to_owned(),
        }
    }

    /// The data directory.
    #[must_use]
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Closes the backend and opens the same data directory again.
    pub fn reopen(&mut self) {
        self.backend.close().expect("close");
        self.backend = Arc::new(crate::open_backend(
            &self.stem,
            &self.data_dir(),
            &self.config,
        ));
    }

    /// Opens another instance of the same plugin on `dir`.
    ///
    /// # Errors
    /// Whatever the plugin reports.
    pub fn open_other(&self, dir: &std::path::Path) -> Result<Backend, BackendError> {
        let loader = kgdb_host::plugin::PluginLoader::new();
        crate::load_plugin(&loader, &self.stem).open(&kgdb_host::plugin::OpenSettings {
            data_dir: Some(dir.to_owned()),
            config: self.config.clone(),
            read_only: false,
            create: true,
        })
    }

    /// The instance's capabilities.
    #[must_use]
    pub fn caps(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// Creates (or opens) a table.
    #[must_use]
    pub fn table(&self, name: &str) -> TableId {
        self.backend.open_table(name, true).expect("open_table")
    }

    /// A read-write transaction.
    #[must_use]
    pub fn write(&self) -> Transaction {
        self.backend.begin(TxnOptions::READ_WRITE).expect("begin")
    }

    /// A read-only transaction.
    #[must_use]
    pub fn read(&self) -> Transaction {
        self.backend.begin(TxnOptions::READ_ONLY).expect("begin")
    }

    /// Commits `rows` into `table` in one transaction.
    pub fn put_all(&self, table: TableId, rows: &[(&[u8], &[u8])]) {
        let mut txn = self.write();
        for (key, value) in rows {
            txn.put(table, key, value).expect("put");
        }
        txn.commit().expect("commit");
    }

    /// The committed value of `key`.
    #[must_use]
    pub fn get(&self, table: TableId, key: &[u8]) -> Option<Vec<u8>> {
        self.read().get(table, key).expect("get")
    }
}

/// Every row of a scan, in the order returned.
#[must_use]
pub fn scan_all(txn: &Transaction, table: TableId, range: ScanSpec) -> Vec<(Vec<u8>, Vec<u8>)> {
    txn.scan(table, range)
        .expect("scan")
        .collect::<Result<Vec<_>, _>>()
        .expect("scan rows")
}

fn keys(rows: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    rows.iter().map(|(k, _)| k.clone()).collect()
}

/// Asserts `result` failed with `code`, and returns the error.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(
    result: Result<T, BackendError>,
    code: ErrorCode,
) -> BackendError {
    match result {
        Ok(value) => panic!("expected {code}, got Ok({value:?})"),
        Err(error) => {
            assert_eq!(error.code, code, "unexpected error: {error}");
            error
        }
    }
}

fn numbered(i: usize) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

/// Tables open by name, keep their id, list sorted, and drop with their data.
pub fn tables_open_list_and_drop(f: &Fixture) {
    expect_code(f.backend.open_table("absent", false), ErrorCode::NOT_FOUND);
    let b = f.table("b-table");
    let a = f.table("a-table");
    assert_ne!(a, b);
    assert_eq!(f.backend.open_table("b-table", false).unwrap(), b);
    assert_eq!(f.backend.list_tables().unwrap(), vec!["a-table", "b-table"]);
    f.put_all(a, &[(b"k", b"v")]);
    assert!(f.backend.drop_table("a-table").unwrap());
    assert!(!f.backend.drop_table("a-table").unwrap());
    assert_eq!(f.backend.list_tables().unwrap(), vec!["b-table"]);
    expect_code(f.read().get(a, b"k"), ErrorCode::NOT_FOUND);
    let again = f.table("a-table");
    assert_eq!(f.get(again, b"k"), None, "a re-created table starts empty");
}

/// Missing keys, insert, overwrite, delete, deleting a missing key.
pub fn put_get_overwrite_delete(f: &Fixture) {
    let t = f.table("t");
    assert_eq!(f.get(t, b"k"), None);
    f.put_all(t, &[(b"k", b"one")]);
    assert_eq!(f.get(t, b"k").as_deref(), Some(&b"one"[..]));
    f.put_all(t, &[(b"k", b"two")]);
    assert_eq!(f.get(t, b"k").as_deref(), Some(&b"two"[..]));
    let mut txn = f.write();
    txn.delete(t, b"k").unwrap();
    txn.delete(t, b"never-there").unwrap();
    txn.commit().unwrap();
    assert_eq!(f.get(t, b"k"), None);
}

/// Empty values, zero bytes, non-UTF-8 and Unicode keys and values round-trip exactly.
pub fn binary_and_unicode_round_trip(f: &Fixture) {
    let t = f.table("t");
    let rows: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"empty-value".to_vec(), Vec::new()),
        (b"\0".to_vec(), b"\0\0".to_vec()),
        (b"a\0b".to_vec(), b"x\0y".to_vec()),
        (vec![0xff, 0xfe, 0x80], vec![0xc3, 0x28]),
        (
            "ключ-🔑".as_bytes().to_vec(),
            "значение ✓".as_bytes().to_vec(),
        ),
    ];
    let mut txn = f.write();
    for (k, v) in &rows {
        txn.put(t, k, v).unwrap();
    }
    txn.commit().unwrap();
    let read = f.read();
    for (k, v) in &rows {
        assert_eq!(read.get(t, k).unwrap().as_ref(), Some(v), "key {k:?}");
    }
    let mut txn = f.write();
    let error = expect_code(txn.put(t, b"", b"v"), ErrorCode::INVALID_ARGUMENT);
    assert_eq!(error.key, "key");
    expect_code(txn.delete(t, b""), ErrorCode::INVALID_ARGUMENT);
    let mut sorted = rows.clone();
    sorted.sort();
    assert_eq!(scan_all(&read, t, ScanSpec::all()), sorted);
}

/// The declared maximum key and value sizes are accepted; one byte more is `INVALID_ARGUMENT`.
pub fn size_limits_are_exact(f: &Fixture) {
    let t = f.table("t");
    let caps = f.caps();
    let max_key = vec![b'k'; caps.max_key_size as usize];
    let mut txn = f.write();
    txn.put(t, &max_key, b"v").unwrap();
    let over = vec![b'k'; caps.max_key_size as usize + 1];
    let error = expect_code(txn.put(t, &over, b"v"), ErrorCode::INVALID_ARGUMENT);
    assert_eq!(error.key, "key");
    let max_value = vec![7u8; caps.max_value_size as usize];
    txn.put(t, b"big", &max_value).unwrap();
    let over_value = vec![7u8; caps.max_value_size as usize + 1];
    let error = expect_code(
        txn.put(t, b"bigger", &over_value),
        ErrorCode::INVALID_ARGUMENT,
    );
    assert_eq!(error.key, "value");
    txn.commit().unwrap();
    assert_eq!(f.get(t, &max_key).as_deref(), Some(&b"v"[..]));
    assert_eq!(f.get(t, b"big").map(|v| v.len()), Some(max_value.len()));
    assert_eq!(f.get(t, b"bigger"), None);
}

/// A key never written, and one written to another table or deleted, reads as `None`.
pub fn missing_keys_read_as_none(f: &Fixture) {
    let t = f.table("t");
    let other = f.table("other");
    assert_eq!(f.get(t, b"nothing-yet"), None, "empty table");
    f.put_all(other, &[(b"k", b"v")]);
    f.put_all(t, &[(b"j", b"v"), (b"l", b"v")]);
    assert_eq!(
        f.get(t, b"k"),
        None,
        "between two keys, and only in another table"
    );
    assert_eq!(f.get(t, b"a"), None, "before the first key");
    assert_eq!(f.get(t, b"z"), None, "after the last key");
}

/// Two puts of one key in one transaction: the last wins, before and after commit.
pub fn overwrite_within_a_transaction_keeps_the_last(f: &Fixture) {
    let t = f.table("t");
    let mut txn = f.write();
    txn.put(t, b"k", b"first").unwrap();
    txn.put(t, b"k", b"second").unwrap();
    assert_eq!(txn.get(t, b"k").unwrap().as_deref(), Some(&b"second"[..]));
    txn.commit().unwrap();
    assert_eq!(f.get(t, b"k").as_deref(), Some(&b"second"[..]));
    assert_eq!(scan_all(&f.read(), t, ScanSpec::all()).len(), 1);
}

/// Delete then put, and put then delete, in one transaction.
pub fn delete_and_put_in_one_transaction(f: &Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"old"), (b"b", b"old")]);
    let mut txn = f.write();
    txn.delete(t, b"a").unwrap();
    txn.put(t, b"a", b"new").unwrap();
    txn.put(t, b"b", b"new").unwrap();
    txn.delete(t, b"b").unwrap();
    txn.put(t, b"c", b"new").unwrap();
    txn.delete(t, b"c").unwrap();
    txn.commit().unwrap();
    assert_eq!(f.get(t, b"a").as_deref(), Some(&b"new"[..]));
    assert_eq!(f.get(t, b"b"), None);
    assert_eq!(f.get(t, b"c"), None);
}

/// An empty value is a value: `Some(empty)`, listed by scans, distinct from absence.
pub fn empty_values_are_not_absence(f: &Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"empty", b"")]);
    assert_eq!(f.get(t, b"empty"), Some(Vec::new()));
    assert_eq!(f.get(t, b"absent"), None);
    assert_eq!(
        scan_all(&f.read(), t, ScanSpec::all()),
        vec![(b"empty".to_vec(), Vec::new())]
    );
}

/// Keys that differ only by trailing zero bytes are distinct and sort shortest first.
pub fn trailing_zero_bytes_make_distinct_keys(f: &Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a\0\0", b"3"), (b"a", b"1"), (b"a\0", b"2")]);
    assert_eq!(f.get(t, b"a\0").as_deref(), Some(&b"2"[..]));
    assert_eq!(
        keys(&scan_all(&f.read(), t, ScanSpec::all())),
        vec![b"a".to_vec(), b"a\0".to_vec(), b"a\0\0".to_vec()]
    );
}

/// All 256 one-byte keys are stored and scanned in unsigned byte order.
pub fn every_one_byte_key(f: &Fixture) {
    let t = f.table("t");
    let mut txn = f.write();
    for byte in (0..=255u8).rev() {
        txn.put(t, &[byte], &[byte, byte]).unwrap();
    }
    txn.commit().unwrap();
    let rows = scan_all(&f.read(), t, ScanSpec::all());
    assert_eq!(rows.len(), 256);
    for (index, (key, value)) in rows.iter().enumerate() {
        assert_eq!(key, &vec![index as u8]);
        assert_eq!(value, &vec![index as u8; 2]);
    }
}

/// Values holding every byte value, and a 1 MiB value, come back byte for byte.
pub fn binary_and_large_values(f: &Fixture) {
    let t = f.table("t");
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let large: Vec<u8> = (0..(1 << 20))
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    f.put_all(t, &[(b"bytes", &all_bytes), (b"large", &large)]);
    assert_eq!(f.get(t, b"bytes"), Some(all_bytes));
    assert_eq!(f.get(t, b"large"), Some(large));
}

/// The same key in two tables holds two values; writing one table leaves the other alone.
pub fn tables_are_separate_keyspaces(f: &Fixture) {
    let left = f.table("left");
    let right = f.table("right");
    f.put_all(left, &[(b"k", b"L")]);
    f.put_all(right, &[(b"k", b"R")]);
    let mut txn = f.write();
    txn.delete(left, b"k").unwrap();
    txn.commit().unwrap();
    assert_eq!(f.get(left, b"k"), None);
    assert_eq!(f.get(right, b"k").as_deref(), Some(&b"R"[..]));
    assert_eq!(scan_all(&f.read(), right, ScanSpec::all()).len(), 1);
}

/// `get_many` with repeated and missing keys answers each position.
pub fn get_many_with_repeats_and_misses(f: &Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"1"), (b"b", b"2")]);
    let read = f.read();
    let found = read
        .get_many(t, &[&b"b"[..], b"missing", b"b", b"a", b"a"])
        .unwrap();
    let expected: Vec<Option<Vec<u8>>> = vec![
        Some(b"2".to_vec()),
        None,
        Some(b"2".to_vec()),
        Some(b"1".to_vec()),
        Some(b"1".to_vec()),
    ];
    assert_eq!(found, expected);
    assert_eq!(
        read.get_many(t, &[]).unwrap(),
        Vec::<Option<Vec<u8>>>::new()
    );
}

/// Keys are bytes: Unicode strings that look alike (NFC and NFD) are different keys.
pub fn unicode_keys_are_not_normalised(f: &Fixture) {
    let t = f.table("t");
    let composed = "caf\u{e9}";
    let decomposed = "cafe\u{301}";
    f.put_all(
        t,
        &[
            (composed.as_bytes(), b"nfc"),
            (decomposed.as_bytes(), b"nfd"),
        ],
    );
    assert_eq!(f.get(t, composed.as_bytes()).as_deref(), Some(&b"nfc"[..]));
    assert_eq!(
        f.get(t, decomposed.as_bytes()).as_deref(),
        Some(&b"nfd"[..])
    );
    assert_eq!(scan_all(&f.read(), t, ScanSpec::prefix(b"caf")).len(), 2);
}

/// Range bounds: inclusive and exclusive ends, empty and inverted ranges, reverse order.
pub fn range_scans_honour_bounds(f: &Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"1"), (b"b", b"2"), (b"c", b"3"), (b"d", b"4")]);
    let read = f.read();
    let scan = |start, end| keys(&scan_all(&read, t, ScanSpec::range(start, end)));
    let ks = |list: &[&[u8]]| list.iter().map(|k| k.to_vec()).collect::<Vec<_>>();
    assert_eq!(
        scan(Bound::Included(&b"b"[..]), Bound::Excluded(&b"d"[..])),
        ks(&[b"b", b"c"])
    );
    assert_eq!(
        scan(Bound::Excluded(&b"b"[..]), Bound::Included(&b"d"[..])),
        ks(&[b"c", b"d"])
    );
    assert_eq!(
        scan(Bound::Unbounded, Bound::Excluded(&b"b"[..])),
        ks(&[b"a"])
    );
    assert_eq!(
        scan(Bound::Included(&b"bb"[..]), Bound::Unbounded),
        ks(&[b"c", b"d"])
    );
    assert!(scan(Bound::Included(&b"b"[..]), Bound::Excluded(&b"b"[..])).is_empty());
    assert!(scan(Bound::Included(&b"d"[..]), Bound::Excluded(&b"a"[..])).is_empty());
    let reverse =
        ScanSpec::range(Bound::Included(&b"a"[..]), Bound::Excluded(&b"d"[..])).reversed();
    if f.caps().has(Capabilities::REVERSE_SCAN) {
        assert_eq!(keys(&scan_all(&read, t, reverse)), ks(&[b"c", b"b", b"a"]));
    } else {
        expect_code(read.scan(t, reverse), ErrorCode::UNSUPPORTED);
    }
}

/// Prefix scans, including the empty prefix, a prefix equal to a key and trailing 0xFF bytes.
pub fn prefix_scans(f: &Fixture) {
    let t = f.table("t");
    let rows: [&[u8]; 7] = [
        b"a",
        b"ab",
        b"ab\xff",
        b"ab\xff\x00",
        b"ac",
        b"b",
        b"\xff\xff",
    ];
    f.put_all(t, &rows.map(|k| (k, &b"v"[..])));
    let read = f.read();
    let prefix = |p: &[u8]| keys(&scan_all(&read, t, ScanSpec::prefix(p)));
    assert_eq!(prefix(b"").len(), rows.len());
    assert_eq!(
        prefix(b"ab"),
        vec![b"ab".to_vec(), b"ab\xff".to_vec(), b"ab\xff\x00".to_vec()]
    );
    assert_eq!(
        prefix(b"ab\xff"),
        vec![b"ab\xff".to_vec(), b"ab\xff\x00".to_vec()]
    );
    assert_eq!(prefix(b"\xff"), vec![b"\xff\xff".to_vec()]);
    assert!(prefix(b"z").is_empty());
}

/// Keys for the prefix cases: binary, 0xFF runs, zero bytes and Unicode.
fn prefix_fixture(f: &Fixture) -> TableId {
    let t = f.table("t");
    let rows: [&[u8]; 11] = [
        b"\x00",
        b"\x00\x00",
        b"\x00\x01",
        b"abc",
        b"abcd",
        b"abd",
        b"\xfe\xff",
        b"\xff",
        b"\xff\xff",
        b"\xff\xff\x00",
        "ключ-1".as_bytes(),
    ];
    f.put_all(t, &rows.map(|k| (k, &b"v"[..])));
    t
}

fn prefix_keys(f: &Fixture, t: TableId, prefix: &[u8]) -> Vec<Vec<u8>> {
    keys(&scan_all(&f.read(), t, ScanSpec::prefix(prefix)))
}

/// The empty prefix lists every key, in order.
pub fn prefix_empty_lists_everything(f: &Fixture) {
    let t = prefix_fixture(f);
    let all = prefix_keys(f, t, b"");
    assert_eq!(all.len(), 11);
    assert!(all.windows(2).all(|pair| pair[0] < pair[1]));
}

/// A prefix equal to a whole key lists that key and its extensions only.
pub fn prefix_equal_to_a_key(f: &Fixture) {
    let t = prefix_fixture(f);
    assert_eq!(
        prefix_keys(f, t, b"abc"),
        vec![b"abc".to_vec(), b"abcd".to_vec()]
    );
    assert_eq!(prefix_keys(f, t, b"abcd"), vec![b"abcd".to_vec()]);
}

/// A prefix that falls between keys, or is longer than every key, lists nothing.
pub fn prefix_without_matches(f: &Fixture) {
    let t = prefix_fixture(f);
    assert!(prefix_keys(f, t, b"abb").is_empty());
    assert!(prefix_keys(f, t, b"abcde").is_empty());
    assert!(prefix_keys(f, t, b"\x01").is_empty());
}

/// Prefixes made of 0xFF bytes: their range has no upper key, and nothing past them leaks in.
pub fn prefix_of_ff_bytes(f: &Fixture) {
    let t = prefix_fixture(f);
    assert_eq!(
        prefix_keys(f, t, b"\xff"),
        vec![
            b"\xff".to_vec(),
            b"\xff\xff".to_vec(),
            b"\xff\xff\x00".to_vec()
        ]
    );
    assert_eq!(
        prefix_keys(f, t, b"\xff\xff"),
        vec![b"\xff\xff".to_vec(), b"\xff\xff\x00".to_vec()]
    );
    assert_eq!(prefix_keys(f, t, b"\xfe"), vec![b"\xfe\xff".to_vec()]);
}

/// Prefixes of zero bytes.
pub fn prefix_of_zero_bytes(f: &Fixture) {
    let t = prefix_fixture(f);
    assert_eq!(
        prefix_keys(f, t, b"\x00"),
        vec![b"\x00".to_vec(), b"\x00\x00".to_vec(), b"\x00\x01".to_vec()]
    );
    assert_eq!(prefix_keys(f, t, b"\x00\x00"), vec![b"\x00\x00".to_vec()]);
}

/// A Unicode prefix, including one that ends inside a multi-byte character.
pub fn prefix_unicode(f: &Fixture) {
    let t = prefix_fixture(f);
    assert_eq!(
        prefix_keys(f, t, "ключ".as_bytes()),
        vec!["ключ-1".as_bytes().to_vec()]
    );
    let partial = &"ключ".as_bytes()[..3];
    assert_eq!(prefix_keys(f, t, partial).len(), 1);
}

/// A prefix scan inside a write transaction sees its own puts and deletes.
pub fn prefix_scan_reads_own_writes(f: &Fixture) {
    let t = prefix_fixture(f);
    let mut txn = f.write();
    txn.put(t, b"abcc", b"new").unwrap();
    txn.delete(t, b"abcd").unwrap();
    assert_eq!(
        keys(&scan_all(&txn, t, ScanSpec::prefix(b"abc"))),
        vec![b"abc".to_vec(), b"abcc".to_vec()]
    );
    drop(txn);
    assert_eq!(
        prefix_keys(f, t, b"abc"),
        vec![b"abc".to_vec(), b"abcd".to_vec()]
    );
}

/// A reversed prefix scan lists the same keys backwards, or is `UNSUPPORTED` without the bit.
pub fn prefix_scan_reversed(f: &Fixture) {
    let t = prefix_fixture(f);
    let read = f.read();
    let spec = ScanSpec::prefix(b"\xff").reversed();
    if f.caps().has(Capabilities::REVERSE_SCAN) {
        assert_eq!(
            keys(&scan_all(&read, t, spec)),
            vec![
                b"\xff\xff\x00".to_vec(),
                b"\xff\xff".to_vec(),
                b"\xff".to_vec()
            ]
        );
    } else {
        expect_code(read.scan(t, spec), ErrorCode::UNSUPPORTED);
    }
}

/// A prefix scan in batches of one row returns every matching row exactly once.
pub fn prefix_scan_in_single_row_batches(f: &Fixture) {
    let t = prefix_fixture(f);
    let read = f.read();
    let mut cursor = read.scan(t, ScanSpec::prefix(b"\xff")).unwrap();
    let mut seen = Vec::new();
    loop {
        let batch = cursor.next_batch(1, 1 << 20).unwrap();
        if batch.is_empty() {
            break;
        }
        assert_eq!(batch.len(), 1);
        seen.extend(batch.iter().map(|(key, _)| key.to_vec()));
    }
    assert_eq!(seen, prefix_keys(f, t, b"\xff"));
}

/// A prefix scan of an empty table, and of a table whose keys all sort before the prefix.
pub fn prefix_scan_of_empty_and_smaller_tables(f: &Fixture) {
    let empty = f.table("empty");
    assert!(prefix_keys(f, empty, b"").is_empty());
    assert!(prefix_keys(f, empty, b"a").is_empty());
    let small = f.table("small");
    f.put_all(small, &[(b"a", b"1"), (b"b", b"2")]);
    assert!(prefix_keys(f, small, b"c").is_empty());
}

/// Batches stop at exactly `max_rows` and before passing `max_bytes`, always make progress,
/// and refuse `max_rows = 0`.
pub fn batches_respect_their_limits(f: &Fixture) {
    let t = f.table("t");
    let rows: Vec<(Vec<u8>, Vec<u8>)> = (0..10).map(|i| (numbered(i), vec![b'v'; 10])).collect();
    let mut txn = f.write();
    for (k, v) in &rows {
        txn.put(t, k, v).unwrap();
    }
    txn.commit().unwrap();
    let read = f.read();
    let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
    assert_eq!(cursor.next_batch(4, u64::MAX).unwrap().len(), 4);
    assert_eq!(cursor.next_batch(4, u64::MAX).unwrap().len(), 4);
    assert_eq!(cursor.next_batch(4, u64::MAX).unwrap().len(), 2);
    assert!(cursor.next_batch(4, u64::MAX).unwrap().is_empty());
    // Each row is 11 + 10 = 21 bytes: 42 bytes hold exactly two rows, 41 only one.
    let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
    assert_eq!(cursor.next_batch(100, 42).unwrap().len(), 2);
    assert_eq!(cursor.next_batch(100, 41).unwrap().len(), 1);
    assert_eq!(
        cursor.next_batch(100, 1).unwrap().len(),
        1,
        "the first row always comes"
    );
    let batch: &KvBatch = cursor.next_batch(100, u64::MAX).unwrap();
    assert_eq!(batch.len(), 6);
    assert_eq!(batch.get(0).unwrap().0, &numbered(4)[..]);
    let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
    expect_code(cursor.next_batch(0, 100), ErrorCode::INVALID_ARGUMENT);
}

/// 100,000 keys scan back complete and in order, forward and (if supported) reverse.
pub fn large_scan_is_complete_and_ordered(f: &Fixture) {
    let t = f.table("t");
    let mut batch = WriteBatch::new();
    let mut txn = f.write();
    for i in 0..100_000 {
        batch.put(t, &numbered(i), &(i as u32).to_be_bytes());
        if batch.len() == 10_000 {
            txn.write_batch(&batch).unwrap();
            batch.clear();
        }
    }
    txn.commit().unwrap();
    let read = f.read();
    let mut count = 0;
    let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
    loop {
        let batch = cursor.next_batch(1000, 1 << 20).unwrap();
        if batch.is_empty() {
            break;
        }
        for (key, value) in batch.iter() {
            assert_eq!(key, &numbered(count)[..]);
            assert_eq!(value, &(count as u32).to_be_bytes()[..]);
            count += 1;
        }
    }
    assert_eq!(count, 100_000);
    if f.caps().has(Capabilities::REVERSE_SCAN) {
        let mut rows = read.scan(t, ScanSpec::all().reversed()).unwrap();
        let first = rows.next().unwrap().unwrap();
        assert_eq!(first.0, numbered(99_999));
        assert_eq!(rows.count() + 1, 100_000);
    }
}

/// A transaction reads the snapshot taken when it began.
pub fn snapshot_isolation(f: &Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"k", b"old")]);
    let reader = f.read();
    assert_eq!(reader.get(t, b"k").unwrap().as_deref(), Some(&b"old"[..]));
    let mut writer = f.write();
    writer.put(t, b"k", b"new").unwrap();
    writer.put(t, b"k2", b"added").unwrap();
    writer.commit().unwrap();
    assert_eq!(reader.get(t, b"k").unwrap().as_deref(), Some(&b"old"[..]));
    assert_eq!(reader.get(t, b"k2").unwrap(), None);
    assert_eq!(scan_all(&reader, t, ScanSpec::all()).len(), 1);
    assert_eq!(f.get(t, b"k").as_deref(), Some(&b"new"[..]));
}

/// A transaction sees its own writes and deletes, in gets and scans, before commit.
pub fn read_your_writes(f: &Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"1"), (b"b", b"2")]);
    let mut txn = f.write();
    txn.put(t, b"c", b"3").unwrap();
    txn.delete(t, b"a").unwrap();
    txn.put(t, b"b", b"22").unwrap();
    assert_eq!(txn.get(t, b"c").unwrap().as_deref(), Some(&b"3"[..]));
    assert_eq!(txn.get(t, b"a").unwrap(), None);
    let rows = scan_all(&txn, t, ScanSpec::all());
    assert_eq!(
        rows,
        vec![
            (b"b".to_vec(), b"22".to_vec()),
            (b"c".to_vec(), b"3".to_vec())
        ]
    );
    assert_eq!(f.get(t, b"c"), None, "uncommitted writes stay private");
    txn.commit().unwrap();
    assert_eq!(f.get(t, b"c").as_deref(), Some(&b"3"[..]));
}

/// Rollback and drop both discard every write.
pub fn rollback_and_drop_discard(f: &Fixture) {
    let t = f.table("t");
    let mut txn = f.write();
    txn.put(t, b"rolled", b"back").unwrap();
    txn.rollback().unwrap();
    let mut txn = f.write();
    txn.put(t, b"dropped", b"too").unwrap();
    drop(txn);
    let read = f.read();
    assert_eq!(read.get(t, b"rolled").unwrap(), None);
    assert_eq!(read.get(t, b"dropped").unwrap(), None);
}

/// Two writers of one key: with conflict detection the later commit fails with a retryable
/// `CONFLICT` and applies nothing; with serialised writers the second waits for the first.
pub fn write_write_conflicts_follow_the_declared_policy(f: &Fixture) {
    let t = f.table("t");
    let caps = f.caps();
    if caps.has(Capabilities::CONFLICT_DETECTION) {
        let mut first = f.write();
        let mut second = f.write();
        first.put(t, b"k", b"first").unwrap();
        second.put(t, b"k", b"second").unwrap();
        second.put(t, b"other", b"second").unwrap();
        first.commit().unwrap();
        let error = expect_code(second.commit(), ErrorCode::CONFLICT);
        assert!(error.retryable, "a conflict must be retryable: {error}");
        assert_eq!(f.get(t, b"k").as_deref(), Some(&b"first"[..]));
        assert_eq!(f.get(t, b"other"), None, "a failed commit applies nothing");
        // Disjoint writers both commit.
        let mut left = f.write();
        let mut right = f.write();
        left.put(t, b"left", b"1").unwrap();
        right.put(t, b"right", b"2").unwrap();
        left.commit().unwrap();
        right.commit().unwrap();
        assert!(f.get(t, b"left").is_some() && f.get(t, b"right").is_some());
    } else {
        assert!(
            caps.has(Capabilities::SERIALIZED_WRITERS),
            "a transactional backend must declare conflict-detection or serialized-writers"
        );
        let mut first = f.write();
        first.put(t, b"k", b"first").unwrap();
        let backend = Arc::clone(&f.backend);
        let waiter = thread::spawn(move || {
            let mut second = backend.begin(TxnOptions::READ_WRITE).unwrap();
            let seen = second.get(t, b"k").unwrap();
            second.put(t, b"k", b"second").unwrap();
            second.commit().unwrap();
            seen
        });
        thread::sleep(std::time::Duration::from_millis(50));
        first.commit().unwrap();
        let seen = waiter.join().unwrap();
        assert_eq!(
            seen.as_deref(),
            Some(&b"first"[..]),
            "the second writer starts after the first"
        );
        assert_eq!(f.get(t, b"k").as_deref(), Some(&b"second"[..]));
    }
}

/// A cursor outlives nothing: once its transaction ends it answers `CLOSED`; a read-only
/// transaction refuses writes with `READ_ONLY`.
pub fn finished_and_read_only_transactions(f: &Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"1")]);
    let txn = f.write();
    let mut cursor = txn.scan(t, ScanSpec::all()).unwrap();
    txn.commit().unwrap();
    expect_code(cursor.next_batch(10, 1024), ErrorCode::CLOSED);
    let mut read = f.read();
    expect_code(read.put(t, b"x", b"y"), ErrorCode::READ_ONLY);
    expect_code(read.delete(t, b"a"), ErrorCode::READ_ONLY);
    assert_eq!(read.get(t, b"a").unwrap().as_deref(), Some(&b"1"[..]));
}

/// A failed operation leaves the transaction usable, and its commit applies the rest.
pub fn commit_after_a_failed_operation(f: &Fixture) {
    let t = f.table("t");
    let mut txn = f.write();
    txn.put(t, b"good", b"1").unwrap();
    let too_long = vec![0u8; f.caps().max_key_size as usize + 1];
    expect_code(txn.put(t, &too_long, b"x"), ErrorCode::INVALID_ARGUMENT);
    txn.commit().unwrap();
    assert_eq!(f.get(t, b"good").as_deref(), Some(&b"1"[..]));
}

/// Write batches: last write wins, mixed puts and deletes, all or none when one op is invalid.
pub fn write_batches_are_atomic(f: &Fixture) {
    let t = f.table("t");
    let mut batch = WriteBatch::new();
    batch.put(t, b"a", b"1");
    batch.put(t, b"a", b"2");
    batch.put(t, b"b", b"1");
    batch.delete(t, b"b");
    batch.put(t, b"c", b"1");
    let options = WriteOptions {
        sync: kgdb_host::plugin::SyncMode::DEFAULT,
    };
    if !f.caps().has(Capabilities::ATOMIC_BATCH) {
        expect_code(
            f.backend.write_batch(&batch, options),
            ErrorCode::UNSUPPORTED,
        );
        return;
    }
    f.backend.write_batch(&WriteBatch::new(), options).unwrap();
    f.backend.write_batch(&batch, options).unwrap();
    assert_eq!(f.get(t, b"a").as_deref(), Some(&b"2"[..]));
    assert_eq!(f.get(t, b"b"), None);
    let mut bad = WriteBatch::new();
    bad.put(t, b"d", b"1");
    bad.put(t, &vec![0u8; f.caps().max_key_size as usize + 1], b"x");
    expect_code(
        f.backend.write_batch(&bad, options),
        ErrorCode::INVALID_ARGUMENT,
    );
    assert_eq!(
        f.get(t, b"d"),
        None,
        "nothing of a refused batch is applied"
    );
    // The same inside a transaction.
    let mut txn = f.write();
    expect_code(txn.write_batch(&bad), ErrorCode::INVALID_ARGUMENT);
    assert_eq!(txn.get(t, b"d").unwrap(), None);
    txn.write_batch(&batch).unwrap();
    txn.commit().unwrap();
}

/// Range deletes remove exactly `[start, end)`, or answer `UNSUPPORTED`.
pub fn delete_range_removes_exactly_the_range(f: &Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b""), (b"b", b""), (b"c", b""), (b"d", b"")]);
    let mut txn = f.write();
    if !f.caps().has(Capabilities::DELETE_RANGE) {
        expect_code(txn.delete_range(t, b"b", b"d"), ErrorCode::UNSUPPORTED);
        return;
    }
    txn.delete_range(t, b"b", b"d").unwrap();
    txn.commit().unwrap();
    let read = f.read();
    assert_eq!(
        keys(&scan_all(&read, t, ScanSpec::all())),
        vec![b"a".to_vec(), b"d".to_vec()]
    );
}

/// Sorted runs ingest; an unsorted run is refused whole.
pub fn ingest_sorted_runs(f: &Fixture) {
    let t = f.table("t");
    let u = f.table("u");
    let options = WriteOptions {
        sync: kgdb_host::plugin::SyncMode::DEFAULT,
    };
    let mut rows = KvBatch::new();
    for i in 0..1000 {
        rows.push(&numbered(i), b"v").unwrap();
    }
    let mut other = KvBatch::new();
    other.push(b"x", b"y").unwrap();
    let runs = [
        SortedRun { table: t, rows },
        SortedRun {
            table: u,
            rows: other,
        },
    ];
    if !f.caps().has(Capabilities::BULK_INGEST) {
        expect_code(
            f.backend.ingest_sorted(&runs, options),
            ErrorCode::UNSUPPORTED,
        );
        return;
    }
    f.backend.ingest_sorted(&runs, options).unwrap();
    let read = f.read();
    assert_eq!(scan_all(&read, t, ScanSpec::all()).len(), 1000);
    assert_eq!(read.get(u, b"x").unwrap().as_deref(), Some(&b"y"[..]));
    let mut unsorted = KvBatch::new();
    unsorted.push(b"n2", b"").unwrap();
    unsorted.push(b"n1", b"").unwrap();
    expect_code(
        f.backend.ingest_sorted(
            &[SortedRun {
                table: t,
                rows: unsorted,
            }],
            options,
        ),
        ErrorCode::INVALID_ARGUMENT,
    );
    assert_eq!(f.get(t, b"n2"), None);
}

/// Every optional operation either works or answers `UNSUPPORTED`, as its bit says.
pub fn optional_operations_match_capability_bits(f: &Fixture) {
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
        sync: kgdb_host::plugin::SyncMode::SYNC,
    };
    check(
        Capabilities::DURABLE_SYNC,
        f.backend.begin(sync).map(drop),
        "sync commits",
    );
}

/// `get_many` answers in the order asked, with gaps for missing keys.
pub fn get_many_keeps_order(f: &Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a", b"1"), (b"c", b"3")]);
    let values = f.read().get_many(t, &[b"c", b"b", b"a", b"c"]).unwrap();
    assert_eq!(
        values,
        vec![
            Some(b"3".to_vec()),
            None,
            Some(b"1".to_vec()),
            Some(b"3".to_vec())
        ]
    );
}

/// A scan keeps reading its snapshot while another transaction commits into the range.
pub fn scans_are_stable_under_concurrent_writes(f: &Fixture) {
    let t = f.table("t");
    let rows: Vec<(Vec<u8>, Vec<u8>)> =
        (0..200).map(|i| (numbered(i * 2), b"v".to_vec())).collect();
    let mut txn = f.write();
    for (k, v) in &rows {
        txn.put(t, k, v).unwrap();
    }
    txn.commit().unwrap();
    let read = f.read();
    let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
    let mut seen = cursor.next_batch(50, u64::MAX).unwrap().len();
    let backend = Arc::clone(&f.backend);
    thread::spawn(move || {
        let mut writer = backend.begin(TxnOptions::READ_WRITE).unwrap();
        for i in 0..200 {
            writer.put(t, &numbered(i * 2 + 1), b"new").unwrap();
        }
        writer.delete(t, &numbered(398)).unwrap();
        writer.commit().unwrap();
    })
    .join()
    .unwrap();
    loop {
        let batch = cursor.next_batch(50, u64::MAX).unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(batch.iter().all(|(_, v)| v == b"v"), "only snapshot rows");
        seen += batch.len();
    }
    assert_eq!(seen, 200);
}

/// Many threads read while one writes; every reader sees a consistent pair.
pub fn readers_with_a_writer_see_consistent_state(f: &Fixture) {
    let t = f.table("t");
    f.put_all(
        t,
        &[(b"x", &0u64.to_be_bytes()), (b"y", &0u64.to_be_bytes())],
    );
    fn read_u64(txn: &Transaction, t: TableId, key: &[u8]) -> u64 {
        u64::from_be_bytes(txn.get(t, key).unwrap().unwrap().try_into().unwrap())
    }
    let writer = {
        let backend = Arc::clone(&f.backend);
        thread::spawn(move || {
            for i in 1..=200u64 {
                let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
                txn.put(t, b"x", &i.to_be_bytes()).unwrap();
                txn.put(t, b"y", &i.to_be_bytes()).unwrap();
                txn.commit().unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let backend = Arc::clone(&f.backend);
            thread::spawn(move || {
                for _ in 0..200 {
                    let txn = backend.begin(TxnOptions::READ_ONLY).unwrap();
                    let x = read_u64(&txn, t, b"x");
                    let y = read_u64(&txn, t, b"y");
                    assert_eq!(x, y, "a snapshot never shows half a commit");
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(read_u64(&f.read(), t, b"x"), 200);
}

/// After `close`, the backend and the transactions it made answer `CLOSED`.
pub fn closed_backend_refuses_calls(f: &Fixture) {
    let t = f.table("t");
    let txn = f.read();
    f.backend.close().unwrap();
    expect_code(f.backend.open_table("t", true), ErrorCode::CLOSED);
    expect_code(f.backend.begin(TxnOptions::READ_ONLY), ErrorCode::CLOSED);
    expect_code(txn.get(t, b"k"), ErrorCode::CLOSED);
    expect_code(f.backend.close(), ErrorCode::CLOSED);
}

fn binary_rows() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut rows: Vec<(Vec<u8>, Vec<u8>)> = (0..300u32)
        .map(|i| {
            let key = [
                b"row".as_slice(),
                &i.to_be_bytes(),
                &[0, 0xff, (i % 251) as u8],
            ]
            .concat();
            let value: Vec<u8> = (0..(i % 97))
                .map(|j| (i.wrapping_mul(31) + j) as u8)
                .collect();
            (key, value)
        })
        .collect();
    rows.push((Vec::from("ключ ✓".as_bytes()), Vec::new()));
    rows.sort();
    rows
}

fn write_rows(f: &Fixture, t: TableId, rows: &[(Vec<u8>, Vec<u8>)]) {
    let mut txn = f.write();
    for (k, v) in rows {
        txn.put(t, k, v).unwrap();
    }
    txn.commit().unwrap();
}

/// Data survives close and reopen byte for byte (persistent backends); a backend that is not
/// persistent comes back empty, as it declares.
pub fn reopen_keeps_every_byte(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    write_rows(f, t, &rows);
    f.reopen();
    let persistent = f.caps().has(Capabilities::PERSISTENT);
    if !persistent {
        expect_code(f.backend.open_table("t", false), ErrorCode::NOT_FOUND);
        return;
    }
    assert_eq!(f.backend.list_tables().unwrap(), vec!["t"]);
    let t = f.backend.open_table("t", false).unwrap();
    assert_eq!(scan_all(&f.read(), t, ScanSpec::all()), rows);
}

/// A flushed backend dropped without `close` reopens with every row.
pub fn reopen_after_flush(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    write_rows(f, t, &rows);
    if !f.caps().has(Capabilities::FLUSH) {
        expect_code(f.backend.flush(), ErrorCode::UNSUPPORTED);
        return;
    }
    f.backend.flush().unwrap();
    f.reopen();
    if f.caps().has(Capabilities::PERSISTENT) {
        let t = f.backend.open_table("t", false).unwrap();
        assert_eq!(scan_all(&f.read(), t, ScanSpec::all()), rows);
    }
}

/// A checkpoint opens as a data directory holding what was committed before it, and nothing
/// committed after.
pub fn checkpoint_opens_as_a_copy(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    write_rows(f, t, &rows);
    let target = f.dir.path().join("checkpoint");
    if !f.caps().has(Capabilities::CHECKPOINT) {
        expect_code(f.backend.checkpoint(&target), ErrorCode::UNSUPPORTED);
        return;
    }
    f.backend.checkpoint(&target).unwrap();
    f.put_all(t, &[(b"after-checkpoint", b"x")]);
    let copy = f.open_other(&target).unwrap();
    let table = copy.open_table("t", false).unwrap();
    let read = copy.begin(TxnOptions::READ_ONLY).unwrap();
    assert_eq!(scan_all(&read, table, ScanSpec::all()), rows);
    assert_eq!(read.get(table, b"after-checkpoint").unwrap(), None);
    // Checkpointing into an existing directory is refused, never merged.
    assert!(f.backend.checkpoint(&target).is_err());
}

/// Compaction keeps every key.
pub fn compact_keeps_every_key(f: &mut Fixture) {
    let t = f.table("t");
    let rows = binary_rows();
    write_rows(f, t, &rows);
    let mut txn = f.write();
    for (k, _) in rows.iter().step_by(3) {
        txn.delete(t, k).unwrap();
    }
    txn.commit().unwrap();
    let expected: Vec<_> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, r)| r.clone())
        .collect();
    if !f.caps().has(Capabilities::COMPACT) {
        expect_code(f.backend.compact(None), ErrorCode::UNSUPPORTED);
        return;
    }
    f.backend.compact(Some(t)).unwrap();
    f.backend.compact(None).unwrap();
    assert_eq!(scan_all(&f.read(), t, ScanSpec::all()), expected);
}

/// A second instance on the same data directory is refused with `IN_USE` naming the process.
pub fn a_second_open_is_refused(f: &mut Fixture) {
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

/// Native statistics count what is stored, under the engine's own names.
pub fn stats_agree_with_the_data(f: &mut Fixture) {
    let t = f.table("t");
    write_rows(f, t, &binary_rows());
    if !f.caps().has(Capabilities::NATIVE_STATS) {
        expect_code(f.backend.stats(), ErrorCode::UNSUPPORTED);
        return;
    }
    if f.caps().has(Capabilities::FLUSH) {
        f.backend.flush().unwrap();
    }
    let stats = f.backend.stats().unwrap();
    assert!(!stats.is_empty());
    let keys = stats
        .iter()
        .find(|s| s.unit == "keys" && !s.name.contains('['))
        .unwrap_or_else(|| panic!("a key count among {stats:?}"));
    // RocksDB's count is an estimate; the others are exact.
    let expected = binary_rows().len() as u64;
    assert!(
        keys.value.abs_diff(expected) <= expected / 10,
        "{} = {}, stored {expected}",
        keys.name,
        keys.value
    );
}

/// Generates one `#[test]` per contract case for a plugin library.
#[macro_export]
macro_rules! contract_tests {
    ($stem:expr, $config:expr) => {
        $crate::contract_tests!(@cases $stem, $config,
            tables_open_list_and_drop,
            put_get_overwrite_delete,
            binary_and_unicode_round_trip,
            size_limits_are_exact,
            missing_keys_read_as_none,
            overwrite_within_a_transaction_keeps_the_last,
            delete_and_put_in_one_transaction,
            empty_values_are_not_absence,
            trailing_zero_bytes_make_distinct_keys,
            every_one_byte_key,
            binary_and_large_values,
            tables_are_separate_keyspaces,
            get_many_with_repeats_and_misses,
            unicode_keys_are_not_normalised,
            range_scans_honour_bounds,
            prefix_scans,
            prefix_empty_lists_everything,
            prefix_equal_to_a_key,
            prefix_without_matches,
            prefix_of_ff_bytes,
            prefix_of_zero_bytes,
            prefix_unicode,
            prefix_scan_reads_own_writes,
            prefix_scan_reversed,
            prefix_scan_in_single_row_batches,
            prefix_scan_of_empty_and_smaller_tables,
            batches_respect_their_limits,
            large_scan_is_complete_and_ordered,
            snapshot_isolation,
            read_your_writes,
            rollback_and_drop_discard,
            write_write_conflicts_follow_the_declared_policy,
            finished_and_read_only_transactions,
            commit_after_a_failed_operation,
            write_batches_are_atomic,
            delete_range_removes_exactly_the_range,
            ingest_sorted_runs,
            optional_operations_match_capability_bits,
            get_many_keeps_order,
            scans_are_stable_under_concurrent_writes,
            readers_with_a_writer_see_consistent_state,
            closed_backend_refuses_calls
        );
        $crate::contract_tests!(@mut_cases $stem, $config,
            reopen_keeps_every_byte,
            reopen_after_flush,
            checkpoint_opens_as_a_copy,
            compact_keeps_every_key,
            a_second_open_is_refused,
            stats_agree_with_the_data
        );
    };
    (@mut_cases $stem:expr, $config:expr, $($case:ident),*) => {
        $(
            #[test]
            fn $case() {
                let mut fixture = $crate::contract::Fixture::open($stem, $config);
                $crate::contract::$case(&mut fixture);
            }
        )*
    };
    (@cases $stem:expr, $config:expr, $($case:ident),*) => {
        $(
            #[test]
            fn $case() {
                let fixture = $crate::contract::Fixture::open($stem, $config);
                $crate::contract::$case(&fixture);
            }
        )*
    };
}

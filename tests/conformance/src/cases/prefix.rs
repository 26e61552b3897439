use kgdb_loader::{Capabilities, ErrorCode, ScanSpec, TableId};

use super::register;
use crate::fixture::{expect_code, keys, scan_all, Fixture};

/// Prefix scans, including the empty prefix, a prefix equal to a key and trailing 0xFF bytes.
pub(crate) fn prefix_scans(f: &mut Fixture) {
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
pub(crate) fn prefix_empty_lists_everything(f: &mut Fixture) {
    let t = prefix_fixture(f);
    let all = prefix_keys(f, t, b"");
    assert_eq!(all.len(), 11);
    assert!(all.windows(2).all(|pair| pair[0] < pair[1]));
}

/// A prefix equal to a whole key lists that key and its extensions only.
pub(crate) fn prefix_equal_to_a_key(f: &mut Fixture) {
    let t = prefix_fixture(f);
    assert_eq!(
        prefix_keys(f, t, b"abc"),
        vec![b"abc".to_vec(), b"abcd".to_vec()]
    );
    assert_eq!(prefix_keys(f, t, b"abcd"), vec![b"abcd".to_vec()]);
}

/// A prefix that falls between keys, or is longer than every key, lists nothing.
pub(crate) fn prefix_without_matches(f: &mut Fixture) {
    let t = prefix_fixture(f);
    assert!(prefix_keys(f, t, b"abb").is_empty());
    assert!(prefix_keys(f, t, b"abcde").is_empty());
    assert!(prefix_keys(f, t, b"\x01").is_empty());
}

/// Prefixes made of 0xFF bytes: their range has no upper key, and nothing past them leaks in.
pub(crate) fn prefix_of_ff_bytes(f: &mut Fixture) {
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
pub(crate) fn prefix_of_zero_bytes(f: &mut Fixture) {
    let t = prefix_fixture(f);
    assert_eq!(
        prefix_keys(f, t, b"\x00"),
        vec![b"\x00".to_vec(), b"\x00\x00".to_vec(), b"\x00\x01".to_vec()]
    );
    assert_eq!(prefix_keys(f, t, b"\x00\x00"), vec![b"\x00\x00".to_vec()]);
}

/// A Unicode prefix, including one that ends inside a multi-byte character.
pub(crate) fn prefix_unicode(f: &mut Fixture) {
    let t = prefix_fixture(f);
    assert_eq!(
        prefix_keys(f, t, "ключ".as_bytes()),
        vec!["ключ-1".as_bytes().to_vec()]
    );
    let partial = &"ключ".as_bytes()[..3];
    assert_eq!(prefix_keys(f, t, partial).len(), 1);
}

/// A prefix scan inside a write transaction sees its own puts and deletes.
pub(crate) fn prefix_scan_reads_own_writes(f: &mut Fixture) {
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
pub(crate) fn prefix_scan_reversed(f: &mut Fixture) {
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
pub(crate) fn prefix_scan_in_single_row_batches(f: &mut Fixture) {
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
pub(crate) fn prefix_scan_of_empty_and_smaller_tables(f: &mut Fixture) {
    let empty = f.table("empty");
    assert!(prefix_keys(f, empty, b"").is_empty());
    assert!(prefix_keys(f, empty, b"a").is_empty());
    let small = f.table("small");
    f.put_all(small, &[(b"a", b"1"), (b"b", b"2")]);
    assert!(prefix_keys(f, small, b"c").is_empty());
}

register!(Prefix:
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
);

use kgdb_loader::{ErrorCode, ScanSpec};

use super::register;
use crate::fixture::{expect_code, keys, numbered, owned, scan_all, Fixture};

/// Tables open by name, keep their id, list sorted, and drop with their data.
pub(crate) fn tables_open_list_and_drop(f: &mut Fixture) {
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
pub(crate) fn put_get_overwrite_delete(f: &mut Fixture) {
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
pub(crate) fn binary_and_unicode_round_trip(f: &mut Fixture) {
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
pub(crate) fn size_limits_are_exact(f: &mut Fixture) {
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
pub(crate) fn missing_keys_read_as_none(f: &mut Fixture) {
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
pub(crate) fn overwrite_within_a_transaction_keeps_the_last(f: &mut Fixture) {
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
pub(crate) fn delete_and_put_in_one_transaction(f: &mut Fixture) {
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
pub(crate) fn empty_values_are_not_absence(f: &mut Fixture) {
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
pub(crate) fn trailing_zero_bytes_make_distinct_keys(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"a\0\0", b"3"), (b"a", b"1"), (b"a\0", b"2")]);
    assert_eq!(f.get(t, b"a\0").as_deref(), Some(&b"2"[..]));
    assert_eq!(
        keys(&scan_all(&f.read(), t, ScanSpec::all())),
        vec![b"a".to_vec(), b"a\0".to_vec(), b"a\0\0".to_vec()]
    );
}

/// All 256 one-byte keys are stored and scanned in unsigned byte order.
pub(crate) fn every_one_byte_key(f: &mut Fixture) {
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
pub(crate) fn binary_and_large_values(f: &mut Fixture) {
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
pub(crate) fn tables_are_separate_keyspaces(f: &mut Fixture) {
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
pub(crate) fn get_many_with_repeats_and_misses(f: &mut Fixture) {
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
pub(crate) fn unicode_keys_are_not_normalised(f: &mut Fixture) {
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

/// `get_many` answers in the order asked, with gaps for missing keys.
pub(crate) fn get_many_keeps_order(f: &mut Fixture) {
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

/// Deleting a key twice, or a key never written, or in an empty table, succeeds and changes
/// nothing else.
pub(crate) fn delete_is_idempotent(f: &mut Fixture) {
    let t = f.table("t");
    let mut txn = f.write();
    txn.delete(t, b"never").unwrap();
    txn.commit().unwrap();
    f.put_all(t, &[(b"a", b"1"), (b"b", b"2")]);
    for _ in 0..2 {
        let mut txn = f.write();
        txn.delete(t, b"a").unwrap();
        txn.delete(t, b"a").unwrap();
        txn.commit().unwrap();
        assert_eq!(f.keys(t), owned(&[b"b"]));
    }
}

/// A value overwritten with shorter, longer, empty and long again values reads back exactly
/// each time (no stale tail bytes).
pub(crate) fn values_shrink_and_grow(f: &mut Fixture) {
    let t = f.table("t");
    let max = f.caps().max_value_size as usize;
    for len in [1000, 1, 100_000, 0, 70_000, 3] {
        let len = len.min(max);
        let value: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        f.put_all(t, &[(b"k", &value)]);
        assert_eq!(f.get(t, b"k"), Some(value), "value of {len} bytes");
    }
}

/// Keys that differ only in their last byte (0x00, 0x01, 0x7F, 0x80, 0xFF) are distinct and
/// ordered bytewise, not as signed bytes or text.
pub(crate) fn keys_differing_only_in_the_last_byte(f: &mut Fixture) {
    let t = f.table("t");
    let last = [0xffu8, 0x80, 0x7f, 0x01, 0x00];
    let mut txn = f.write();
    for (i, byte) in last.iter().enumerate() {
        txn.put(t, &[b'k', b'e', b'y', *byte], &[i as u8]).unwrap();
    }
    txn.commit().unwrap();
    let rows = f.rows(t);
    let got: Vec<u8> = rows.iter().map(|(k, _)| k[3]).collect();
    assert_eq!(got, vec![0x00, 0x01, 0x7f, 0x80, 0xff]);
    for (i, byte) in last.iter().enumerate() {
        assert_eq!(f.get(t, &[b'k', b'e', b'y', *byte]), Some(vec![i as u8]));
    }
}

/// Fifty tables, each holding the same keys with its own values, keep them apart; the list of
/// tables is sorted.
pub(crate) fn many_tables_keep_their_own_rows(f: &mut Fixture) {
    let names: Vec<String> = (0..50).rev().map(|i| format!("table-{i:02}")).collect();
    let tables: Vec<_> = names.iter().map(|name| f.table(name)).collect();
    let mut txn = f.write();
    for (i, t) in tables.iter().enumerate() {
        txn.put(*t, b"shared-key", names[i].as_bytes()).unwrap();
    }
    txn.commit().unwrap();
    for (i, t) in tables.iter().enumerate() {
        assert_eq!(
            f.get(*t, b"shared-key").as_deref(),
            Some(names[i].as_bytes())
        );
        assert_eq!(f.rows(*t).len(), 1);
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(f.backend.list_tables().unwrap(), sorted);
}

/// Table names with dots, dashes, digits and non-ASCII letters work and list back verbatim.
pub(crate) fn table_names_with_punctuation_and_unicode(f: &mut Fixture) {
    let names = ["quads.spo", "dict.id2term", "a-b_c", "0", "ключ", "表"];
    for name in names {
        let t = f.table(name);
        f.put_all(t, &[(name.as_bytes(), b"v")]);
    }
    let mut expected: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(f.backend.list_tables().unwrap(), expected);
    for name in names {
        let t = f.backend.open_table(name, false).unwrap();
        assert_eq!(f.keys(t), vec![name.as_bytes().to_vec()]);
    }
}

/// Ten thousand keys each read back by a point get, in an order unrelated to the key order,
/// with misses in between.
pub(crate) fn point_reads_of_ten_thousand_keys(f: &mut Fixture) {
    let t = f.table("t");
    let mut txn = f.write();
    for i in 0..10_000 {
        txn.put(t, &numbered(i * 2), &(i as u64).to_le_bytes())
            .unwrap();
    }
    txn.commit().unwrap();
    let read = f.read();
    let mut i = 17usize;
    for _ in 0..10_000 {
        i = (i * 7919 + 13) % 10_000;
        assert_eq!(
            read.get(t, &numbered(i * 2)).unwrap(),
            Some((i as u64).to_le_bytes().to_vec())
        );
        assert_eq!(read.get(t, &numbered(i * 2 + 1)).unwrap(), None);
    }
}

register!(Crud:
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
    get_many_keeps_order,
    delete_is_idempotent,
    values_shrink_and_grow,
    keys_differing_only_in_the_last_byte,
    many_tables_keep_their_own_rows,
    table_names_with_punctuation_and_unicode,
    point_reads_of_ten_thousand_keys,
);

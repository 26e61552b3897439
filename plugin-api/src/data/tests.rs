//! Unit tests of the boundary's plain data.

use std::ops::Bound;

use super::*;

#[test]
fn table_bytes_statistics_name_their_table() {
    let stat = NativeStat::table_bytes("quads.spo", 4096);
    assert_eq!(stat.name.as_str(), "kgdb.table_bytes[quads.spo]");
    assert_eq!(stat.table_of_table_bytes(), Some("quads.spo"));
    for other in [
        NativeStat::new("kgdb.table_bytes", 1, "bytes"),
        NativeStat::new("kgdb.table_bytes[x]", 1, "keys"),
        NativeStat::new("lmdb.entries[x]", 1, "bytes"),
    ] {
        assert_eq!(other.table_of_table_bytes(), None, "{other:?}");
    }
}

#[test]
fn kv_batch_round_trips_rows_including_empty_ones() {
    let mut batch = KvBatch::new();
    batch.push(b"a", b"1").unwrap();
    batch.push(b"", b"").unwrap();
    batch.push(b"key\0", b"\xff\xfe").unwrap();
    let rows: Vec<_> = batch.iter().collect();
    assert_eq!(
        rows,
        vec![
            (&b"a"[..], &b"1"[..]),
            (&b""[..], &b""[..]),
            (&b"key\0"[..], &b"\xff\xfe"[..])
        ]
    );
    assert_eq!(batch.byte_len(), 8);
    assert!(batch.check_sorted().is_err());
}

#[test]
fn write_batch_decodes_every_kind_in_order() {
    let mut batch = WriteBatch::new();
    batch.put(TableId(1), b"k", b"v");
    batch.delete(TableId(2), b"gone");
    batch.delete_range(TableId(1), b"a", b"c");
    let ops: Vec<_> = batch.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        ops,
        vec![
            BatchEntry::Put {
                table: TableId(1),
                key: b"k",
                value: b"v"
            },
            BatchEntry::Delete {
                table: TableId(2),
                key: b"gone"
            },
            BatchEntry::DeleteRange {
                table: TableId(1),
                start: b"a",
                end: b"c"
            },
        ]
    );
}

#[test]
fn prefix_ranges_handle_trailing_ff_bytes() {
    assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
    assert_eq!(prefix_successor(b"a\xff\xff"), Some(b"b".to_vec()));
    assert_eq!(prefix_successor(b"\xff\xff"), None);
    assert_eq!(prefix_successor(b""), None);
    let spec = ScanSpec::prefix(b"a\xff");
    assert!(spec.contains(b"a\xff"));
    assert!(spec.contains(b"a\xff\x00"));
    assert!(!spec.contains(b"b"));
    assert!(!spec.contains(b"a\xfe"));
}

#[test]
fn inverted_and_empty_ranges_are_empty() {
    let inverted = ScanSpec::range(Bound::Included(b"b"), Bound::Excluded(b"a"));
    assert!(inverted.is_empty());
    let empty = ScanSpec::range(Bound::Included(b"a"), Bound::Excluded(b"a"));
    assert!(empty.is_empty());
    let single = ScanSpec::range(Bound::Included(b"a"), Bound::Included(b"a"));
    assert!(!single.is_empty());
}

use std::ops::Bound;
use std::sync::Arc;
use std::thread;

use kgdb_loader::{Capabilities, ErrorCode, KvBatch, ScanSpec, TableId, TxnOptions};

use super::register;
use crate::fixture::{expect_code, keys, numbered, owned, scan_all, Fixture};

/// Range bounds: inclusive and exclusive ends, empty and inverted ranges, reverse order.
pub(crate) fn range_scans_honour_bounds(f: &mut Fixture) {
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

/// Batches stop at exactly `max_rows` and before passing `max_bytes`, always make progress,
/// and refuse `max_rows = 0`.
pub(crate) fn batches_respect_their_limits(f: &mut Fixture) {
    let t = f.table("t");
    let rows: Vec<(Vec<u8>, Vec<u8>)> = (0..10).map(|i| (numbered(i), vec![b'v'; 10])).collect();
    f.write_rows(t, &rows);
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

/// Commits keys `numbered(0..100_000)`, each valued with its number (4 bytes, big-endian), in
/// one transaction of ten 10,000-operation batches.
/// 100,000 rows in one transaction (in as few as the backend's write limits allow).
fn write_a_hundred_thousand(f: &Fixture, t: TableId) {
    let rows: Vec<(Vec<u8>, Vec<u8>)> = (0..100_000)
        .map(|i| (numbered(i), (i as u32).to_be_bytes().to_vec()))
        .collect();
    f.batch_within_limits(t, rows.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
}

/// 100,000 keys scan back complete and in order, forward and (if supported) reverse.
pub(crate) fn large_scan_is_complete_and_ordered(f: &mut Fixture) {
    let t = f.table("t");
    write_a_hundred_thousand(f, t);
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

/// Rows `a`…`e` (value = key) for the bound cases.
fn five_rows(f: &Fixture) -> TableId {
    let t = f.table("t");
    f.put_all(
        t,
        &[
            (b"a", b"a"),
            (b"b", b"b"),
            (b"c", b"c"),
            (b"d", b"d"),
            (b"e", b"e"),
        ],
    );
    t
}

fn range_keys(f: &Fixture, t: TableId, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Vec<Vec<u8>> {
    keys(&scan_all(&f.read(), t, ScanSpec::range(start, end)))
}

/// An included start bound includes a key equal to it; a start between keys begins at the next.
pub(crate) fn start_bound_included(f: &mut Fixture) {
    let t = five_rows(f);
    let from = |start: &[u8]| range_keys(f, t, Bound::Included(start), Bound::Unbounded);
    assert_eq!(from(b"c"), owned(&[b"c", b"d", b"e"]));
    assert_eq!(from(b"bz"), owned(&[b"c", b"d", b"e"]));
    assert_eq!(from(b""), owned(&[b"a", b"b", b"c", b"d", b"e"]));
    assert!(from(b"f").is_empty());
}

/// An excluded start bound skips a key equal to it, and only that key.
pub(crate) fn start_bound_excluded(f: &mut Fixture) {
    let t = five_rows(f);
    let after = |start: &[u8]| range_keys(f, t, Bound::Excluded(start), Bound::Unbounded);
    assert_eq!(after(b"c"), owned(&[b"d", b"e"]));
    assert_eq!(after(b"c\0"), owned(&[b"d", b"e"]));
    assert_eq!(after(b"e"), Vec::<Vec<u8>>::new());
}

/// An excluded end bound stops before a key equal to it.
pub(crate) fn end_bound_excluded(f: &mut Fixture) {
    let t = five_rows(f);
    let before = |end: &[u8]| range_keys(f, t, Bound::Unbounded, Bound::Excluded(end));
    assert_eq!(before(b"c"), owned(&[b"a", b"b"]));
    assert_eq!(before(b"c\0"), owned(&[b"a", b"b", b"c"]));
    assert!(before(b"a").is_empty());
}

/// An included end bound keeps a key equal to it, and not a longer key it prefixes.
pub(crate) fn end_bound_included(f: &mut Fixture) {
    let t = five_rows(f);
    f.put_all(t, &[(b"cc", b"cc")]);
    let through = |end: &[u8]| range_keys(f, t, Bound::Unbounded, Bound::Included(end));
    assert_eq!(through(b"c"), owned(&[b"a", b"b", b"c"]));
    assert_eq!(through(b"cc"), owned(&[b"a", b"b", b"c", b"cc"]));
    assert_eq!(through(b"zz").len(), 6);
}

/// Equal start and end: one key when both are included, none when either is excluded.
pub(crate) fn equal_bounds(f: &mut Fixture) {
    let t = five_rows(f);
    let c: &[u8] = b"c";
    assert_eq!(
        range_keys(f, t, Bound::Included(c), Bound::Included(c)),
        owned(&[b"c"])
    );
    assert!(range_keys(f, t, Bound::Included(c), Bound::Excluded(c)).is_empty());
    assert!(range_keys(f, t, Bound::Excluded(c), Bound::Included(c)).is_empty());
    assert!(range_keys(f, t, Bound::Excluded(c), Bound::Excluded(c)).is_empty());
}

/// A range whose start lies after its end is empty (not an error), forward and reverse.
pub(crate) fn inverted_range_is_empty(f: &mut Fixture) {
    let t = five_rows(f);
    let d: &[u8] = b"d";
    let b: &[u8] = b"b";
    assert!(range_keys(f, t, Bound::Included(d), Bound::Included(b)).is_empty());
    assert!(range_keys(f, t, Bound::Excluded(d), Bound::Excluded(b)).is_empty());
    let reverse = ScanSpec::range(Bound::Included(d), Bound::Included(b)).reversed();
    if f.has(Capabilities::REVERSE_SCAN) {
        assert!(scan_all(&f.read(), t, reverse).is_empty());
    } else {
        expect_code(f.read().scan(t, reverse), ErrorCode::UNSUPPORTED);
    }
}

/// Bounds that are not keys, or are prefixes of keys, cut between the right rows.
pub(crate) fn bounds_between_and_inside_keys(f: &mut Fixture) {
    let t = f.table("t");
    f.put_all(t, &[(b"b", b""), (b"ba", b""), (b"bb", b""), (b"c", b"")]);
    let ba: &[u8] = b"ba";
    let b: &[u8] = b"b";
    let bz: &[u8] = b"bz";
    assert_eq!(
        range_keys(f, t, Bound::Excluded(b), Bound::Excluded(bz)),
        owned(&[b"ba", b"bb"])
    );
    assert_eq!(
        range_keys(f, t, Bound::Included(ba), Bound::Included(bz)),
        owned(&[b"ba", b"bb"])
    );
    assert_eq!(
        range_keys(f, t, Bound::Included(b"a\xff"), Bound::Excluded(b"b\0")),
        owned(&[b"b"])
    );
}

/// A reversed scan returns the same rows in descending order, with the same bounds; or the
/// scan answers `UNSUPPORTED` when the plugin does not declare `reverse-scan`.
pub(crate) fn reverse_order(f: &mut Fixture) {
    let t = five_rows(f);
    let spec = ScanSpec::range(Bound::Excluded(&b"a"[..]), Bound::Included(&b"d"[..])).reversed();
    if !f.has(Capabilities::REVERSE_SCAN) {
        expect_code(f.read().scan(t, spec), ErrorCode::UNSUPPORTED);
        return;
    }
    assert_eq!(
        keys(&scan_all(&f.read(), t, spec)),
        owned(&[b"d", b"c", b"b"])
    );
    let all = keys(&scan_all(&f.read(), t, ScanSpec::all().reversed()));
    assert_eq!(all, owned(&[b"e", b"d", b"c", b"b", b"a"]));
}

/// A reversed scan read in batches of three continues where each batch ended.
pub(crate) fn reverse_scan_in_batches(f: &mut Fixture) {
    let t = f.table("t");
    let rows: Vec<_> = (0..100).map(|i| (numbered(i), vec![i as u8])).collect();
    f.write_rows(t, &rows);
    let spec = ScanSpec::range(
        Bound::Included(&numbered(10)[..]),
        Bound::Excluded(&numbered(90)[..]),
    )
    .reversed();
    let read = f.read();
    if !f.has(Capabilities::REVERSE_SCAN) {
        expect_code(read.scan(t, spec), ErrorCode::UNSUPPORTED);
        return;
    }
    let mut cursor = read.scan(t, spec).unwrap();
    let mut seen = Vec::new();
    loop {
        let batch = cursor.next_batch(3, u64::MAX).unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= 3);
        seen.extend(batch.iter().map(|(k, _)| k.to_vec()));
    }
    let expected: Vec<_> = (10..90).rev().map(numbered).collect();
    assert_eq!(seen, expected);
}

/// A batch limit equal to the number of rows returns them all in one batch, then an empty
/// batch; half of it returns two full batches.
pub(crate) fn batch_of_exactly_max_rows(f: &mut Fixture) {
    let t = f.table("t");
    let rows: Vec<_> = (0..100).map(|i| (numbered(i), b"value".to_vec())).collect();
    f.write_rows(t, &rows);
    let read = f.read();
    let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
    assert_eq!(cursor.next_batch(100, u64::MAX).unwrap().len(), 100);
    assert!(cursor.next_batch(100, u64::MAX).unwrap().is_empty());
    let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
    assert_eq!(cursor.next_batch(50, u64::MAX).unwrap().len(), 50);
    let second = cursor.next_batch(50, u64::MAX).unwrap();
    assert_eq!(second.len(), 50);
    assert_eq!(second.get(49).unwrap().0, &numbered(99)[..]);
    assert!(cursor.next_batch(50, u64::MAX).unwrap().is_empty());
}

/// A byte limit equal to the size of N rows (keys plus values) returns exactly N rows; one
/// byte less returns N - 1.
pub(crate) fn batch_of_exactly_max_bytes(f: &mut Fixture) {
    let t = f.table("t");
    // Each row: an 11-byte key and a 29-byte value = 40 bytes.
    let rows: Vec<_> = (0..50).map(|i| (numbered(i), vec![b'v'; 29])).collect();
    f.write_rows(t, &rows);
    let read = f.read();
    for n in [1u64, 7, 25] {
        let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
        let batch = cursor.next_batch(1000, n * 40).unwrap();
        assert_eq!(batch.len() as u64, n, "max_bytes = {}", n * 40);
        assert_eq!(batch.byte_len() as u64, n * 40);
        let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
        let fewer = cursor.next_batch(1000, n * 40 - 1).unwrap().len() as u64;
        assert_eq!(fewer, (n - 1).max(1), "max_bytes = {}", n * 40 - 1);
    }
}

/// A bounded range in the middle of 100,000 keys returns exactly its 50,000 rows, in order.
pub(crate) fn middle_of_a_hundred_thousand_keys(f: &mut Fixture) {
    let t = f.table("t");
    write_a_hundred_thousand(f, t);
    let read = f.read();
    let spec = ScanSpec::range(
        Bound::Included(&numbered(25_000)[..]),
        Bound::Excluded(&numbered(75_000)[..]),
    );
    let mut expected = 25_000;
    for row in read.scan(t, spec).unwrap() {
        let (key, value) = row.unwrap();
        assert_eq!(key, numbered(expected));
        assert_eq!(value, (expected as u32).to_be_bytes());
        expected += 1;
    }
    assert_eq!(expected, 75_000);
}

/// A range scan read slowly keeps returning its snapshot while another thread commits
/// inserts, updates and deletes inside the range at the same time.
pub(crate) fn consistent_while_another_transaction_writes(f: &mut Fixture) {
    let t = f.table("t");
    let rows: Vec<_> = (0..2_000)
        .map(|i| (numbered(i * 2), b"old".to_vec()))
        .collect();
    f.write_rows(t, &rows);
    let read = f.read();
    let spec = ScanSpec::range(
        Bound::Included(&numbered(500)[..]),
        Bound::Excluded(&numbered(3_500)[..]),
    );
    let mut cursor = read.scan(t, spec).unwrap();
    let backend = Arc::clone(&f.backend);
    let writer = thread::spawn(move || {
        for round in 0..20 {
            let mut txn = backend.begin(TxnOptions::READ_WRITE).unwrap();
            for i in (round * 100)..(round * 100 + 100) {
                txn.put(t, &numbered(i * 2 + 1), b"new").unwrap();
                txn.put(t, &numbered(i * 2), b"changed").unwrap();
            }
            txn.delete(t, &numbered(round * 150)).unwrap();
            txn.commit().unwrap();
        }
    });
    let mut seen = Vec::new();
    loop {
        let batch = cursor.next_batch(25, u64::MAX).unwrap();
        if batch.is_empty() {
            break;
        }
        for (key, value) in batch.iter() {
            assert_eq!(value, b"old", "a row committed after the scan began");
            seen.push(key.to_vec());
        }
        thread::yield_now();
    }
    writer.join().unwrap();
    let expected: Vec<_> = (250..1_750).map(|i| numbered(i * 2)).collect();
    assert_eq!(seen, expected);
}

/// Anonymous memory of the process (Linux `RssAnon`), in bytes.
fn anonymous_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Scanning a 192 MiB range in batches grows the process's anonymous memory by less than half
/// the range: cursors stream, they do not materialise the range (an engine's bounded block
/// cache fits in the allowance). Runs alone in the process; file-backed pages of a
/// memory-mapped engine are not anonymous memory and are not counted.
pub(crate) fn memory_does_not_grow_with_the_range(f: &mut Fixture) {
    const ROWS: usize = 98_304;
    const VALUE: usize = 2_048;
    let t = f.table("t");
    let values: Vec<Vec<u8>> = (0..251u8).map(|byte| vec![byte; VALUE]).collect();
    let keys: Vec<Vec<u8>> = (0..ROWS).map(numbered).collect();
    f.batch_within_limits(
        t,
        keys.iter()
            .enumerate()
            .map(|(i, key)| (key.as_slice(), values[i % 251].as_slice())),
    );
    drop(keys);
    let before = anonymous_memory();
    let read = f.read();
    let mut cursor = read.scan(t, ScanSpec::all()).unwrap();
    let (mut count, mut peak) = (0usize, before.unwrap_or(0));
    loop {
        let batch = cursor.next_batch(512, 1 << 20).unwrap();
        if batch.is_empty() {
            break;
        }
        count += batch.len();
        if count % 8_192 < 512 {
            peak = peak.max(anonymous_memory().unwrap_or(0));
        }
    }
    assert_eq!(count, ROWS);
    let Some(before) = before else {
        f.note("no /proc/self/status here: only the scan's completeness was checked");
        return;
    };
    let grown = peak.saturating_sub(before);
    assert!(
        grown < (ROWS * VALUE / 2) as u64,
        "anonymous memory grew by {} MiB while scanning {} MiB",
        grown >> 20,
        (ROWS * VALUE) >> 20
    );
}

register!(Range:
    range_scans_honour_bounds,
    batches_respect_their_limits,
    large_scan_is_complete_and_ordered,
    start_bound_included,
    start_bound_excluded,
    end_bound_excluded,
    end_bound_included,
    equal_bounds,
    inverted_range_is_empty,
    bounds_between_and_inside_keys,
    reverse_order,
    reverse_scan_in_batches,
    batch_of_exactly_max_rows,
    batch_of_exactly_max_bytes,
    middle_of_a_hundred_thousand_keys,
    consistent_while_another_transaction_writes,
    memory_does_not_grow_with_the_range (exclusive),
);

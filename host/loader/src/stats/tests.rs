//! Unit tests of the collector, its tally and histogram.

use super::histogram::{bucket_high, bucket_of, LINEAR, SUB};
use std::time::Duration;

use super::*;
use crate::ErrorCode;

#[test]
fn buckets_are_ordered_and_bound_their_values() {
    let mut previous = 0;
    for value in (0..5_000u64).chain((12..47).map(|e| (1u64 << e) + 12_345)) {
        let index = bucket_of(value);
        assert!(
            index >= previous || value < 5_000,
            "bucket order at {value}"
        );
        previous = index;
        assert!(bucket_high(index) >= value, "{value} above its bucket");
        if value >= LINEAR {
            // Relative error of the bucket bound: at most one sub-bucket (12.5%).
            assert!(bucket_high(index) - value <= value / SUB as u64, "{value}");
        }
    }
}

#[test]
fn percentiles_follow_the_recorded_values() {
    let histogram = Histogram::default();
    for nanos in 1..=1000u64 {
        histogram.record(nanos * 1000);
    }
    let summary = histogram.summary();
    assert_eq!(summary.count, 1000);
    assert_eq!(summary.max_ns, 1_000_000);
    assert_eq!(summary.mean_ns, 500_500);
    for (got, want) in [
        (summary.p50_ns, 500_000),
        (summary.p90_ns, 900_000),
        (summary.p99_ns, 990_000),
    ] {
        assert!(got >= want && got - want <= want / 8, "{got} vs {want}");
    }
    assert_eq!(Histogram::default().summary(), LatencySummary::default());
}

#[test]
fn calls_errors_tables_and_transactions_are_counted() {
    let collector = Collector::new();
    collector.name_table(3, "quads.spo");
    let call = Call {
        table: Some(3),
        bytes_in: 10,
        bytes_out: 20,
    };
    collector.record(Op::Get, call, Duration::from_micros(2), None);
    collector.record(
        Op::Get,
        call,
        Duration::from_micros(4),
        Some(ErrorCode::NOT_FOUND),
    );
    collector.record(Op::Commit, Call::default(), Duration::ZERO, None);
    collector.record(
        Op::Commit,
        Call::default(),
        Duration::ZERO,
        Some(ErrorCode::CONFLICT),
    );
    collector.record(Op::Rollback, Call::default(), Duration::ZERO, None);
    collector.rows(7);
    let stats = collector.snapshot();
    let get = &stats.operations[0];
    assert_eq!(
        (get.op.as_str(), get.calls, get.bytes_in, get.bytes_out),
        ("get", 2, 20, 40)
    );
    assert_eq!(
        get.errors,
        vec![ErrorCount {
            code: "not-found".into(),
            count: 1
        }]
    );
    assert_eq!(get.latency.max_ns, 4_000);
    assert_eq!(
        stats.transactions,
        TransactionFigures {
            committed: 1,
            rolled_back: 2,
            conflicts: 1
        }
    );
    assert_eq!(stats.rows_scanned, 7);
    assert_eq!(stats.tables.len(), 1);
    assert_eq!(stats.tables[0].table, "quads.spo");
    assert_eq!(
        stats.tables[0].calls,
        vec![OpCount {
            op: "get".into(),
            count: 2
        }]
    );
}

#[test]
fn a_tally_lands_in_the_collector_when_folded() {
    let collector = Collector::new();
    let tally = Tally::default();
    // Six tables through a tally that keeps four apart: the evicted ones are folded early.
    for round in 0..3u32 {
        for table in 0..6u32 {
            let timer = collector.start_in(&tally, Op::Get).expect("enabled");
            let call = Call {
                table: Some(table),
                bytes_in: 4,
                bytes_out: u64::from(round),
            };
            let error = (table == 5).then_some(ErrorCode::NOT_FOUND);
            collector.finish_in(&tally, timer, call, error);
        }
    }
    // Until the tally is folded its calls are not counted.
    let before = collector.snapshot();
    assert!(before.operations.iter().all(|op| op.op != "get"));
    let folded: u64 = before.tables.iter().map(|t| t.calls[0].count).sum();
    assert!(folded < 18, "tables still in the tally are not counted yet");
    collector.fold(&tally);
    let stats = collector.snapshot();
    let get = &stats.operations[0];
    assert_eq!((get.calls, get.bytes_in, get.bytes_out), (18, 72, 18));
    assert_eq!(get.latency.count, 18, "the first 64 calls are all timed");
    assert_eq!(get.errors[0].count, 3);
    assert_eq!(stats.tables.len(), 6);
    for table in &stats.tables {
        assert_eq!(table.calls[0].count, 3, "{}", table.table);
        assert_eq!(table.bytes, 12 + 3);
    }
    // A second fold adds nothing.
    collector.fold(&tally);
    assert_eq!(collector.snapshot().operations[0].calls, 18);
    // A tally folds itself every FOLD_EVERY calls.
    let busy = Tally::default();
    for _ in 0..FOLD_EVERY {
        let timer = collector.start_in(&busy, Op::Put).expect("enabled");
        collector.finish_in(&busy, timer, Call::default(), None);
    }
    let put = collector
        .snapshot()
        .operations
        .into_iter()
        .find(|op| op.op == "put");
    assert_eq!(put.map(|op| op.calls), Some(FOLD_EVERY));
}

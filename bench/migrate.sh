#!/usr/bin/env bash
# `kgdb-host migrate` against the text route it replaces (run by bench/run.sh, or alone): the
# synthetic 1M set is loaded into lmdb, then copied into rocksdb twice in the same run, by
# `migrate` (with its verify of the copy, as a user runs it, and with --no-verify) and by
# `dump | load`; then the same back from rocksdb into lmdb. Whole processes, wall time.
#
#   bench/migrate.sh        # about 2 minutes on 2 cores, after bench/run.sh built everything
#
# Settings: as bench/run.sh (KGDB_BENCH_OUT, KGDB_BENCH_RESUME).
# Writes $KGDB_BENCH_OUT/migrate-*.txt, one line each.
set -euo pipefail

source "$(dirname "$0")/common.sh"
work=$out/work/migrate
mkdir -p "$out/data" "$work"
set1m=$out/data/synth-1m.nq.gz
[[ -f $set1m ]] || "$bin/kgdb-synth" --quads 1M --seed 42 --output "$set1m"

# Prints the wall seconds of a shell command line.
seconds() {
    local started
    started=$(date +%s.%N)
    bash -c "$1" > /dev/null
    awk -v now="$(date +%s.%N)" -v then="$started" 'BEGIN { printf "%.2f", now - then }'
}

host=$bin/kgdb-host
for pair in "lmdb rocksdb" "rocksdb lmdb"; do
    read -r from to <<< "$pair"
    wanted "$out/migrate-$from-$to.txt" || continue
    step "synth-1m: $from to $to by migrate and by dump | load"
    rm -rf "$work"/*
    "$host" --plugin "$from" --data-dir "$work/source" load "$set1m" > /dev/null
    quads=$("$host" --plugin "$from" --data-dir "$work/source" count)
    migrate=$(seconds "'$host' --plugin $from --data-dir '$work/source' migrate --to $to --to-data-dir '$work/migrated'")
    unverified=$(seconds "'$host' --plugin $from --data-dir '$work/source' migrate --to $to --to-data-dir '$work/unverified' --no-verify")
    text=$(seconds "set -o pipefail; '$host' --plugin $from --data-dir '$work/source' dump --format nq | '$host' --plugin $to --data-dir '$work/reloaded' load --format nq -")
    for copy in migrated unverified reloaded; do
        counted=$("$host" --plugin "$to" --data-dir "$work/$copy" count)
        [[ $counted == "$quads" ]] || { echo "error: $copy holds $counted quads, the source $quads" >&2; exit 1; }
    done
    printf 'synth-1m (%s quads), %s to %s: migrate %s s (verified), %s s (--no-verify); dump | load %s s: migrate %.1fx (%.1fx without its verify) faster\n' \
        "$quads" "$from" "$to" "$migrate" "$unverified" "$text" \
        "$(awk -v a="$text" -v b="$migrate" 'BEGIN { print a / b }')" \
        "$(awk -v a="$text" -v b="$unverified" 'BEGIN { print a / b }')" > "$out/migrate-$from-$to.txt"
    cat "$out/migrate-$from-$to.txt" >&2
done
rm -rf "$work"

#!/usr/bin/env bash
# The bulk-load figures a table of `kgdb-bench report` leaves out (run by bench/run.sh, or
# alone): for lmdb and rocksdb, a fresh `kgdb-host load` of the 10M synthetic set with its peak
# *anonymous* memory (RssAnon, sampled every 100 ms: LMDB's memory-mapped data file is page
# cache, not counted), then an incremental load of a second 10M set (seed 43) into that store;
# pyoxigraph's `Store.bulk_load` does the same two loads, in the same run.
#
#   bench/load.sh           # about 10 minutes on 2 cores, after bench/run.sh built everything
#
# Settings: as bench/run.sh (KGDB_BENCH_OUT, KGDB_BENCH_VENV, KGDB_BENCH_SKIP="oxigraph").
# Writes $KGDB_BENCH_OUT/load-*.txt, one line each.
set -euo pipefail

source "$(dirname "$0")/common.sh"
work=$out/work/load
mkdir -p "$out/data" "$work"
first=$out/data/synth-10m.nq.gz
second=$out/data/synth-10m-seed43.nq.gz
[[ -f $first ]] || "$bin/kgdb-synth" --quads 10M --seed 42 --output "$first"
[[ -f $second ]] || "$bin/kgdb-synth" --quads 10M --seed 43 --output "$second"

# Runs a command; prints its wall seconds and peak RssAnon (KiB) to the file named by $1.
measure() {
    local into=$1
    shift
    local started peak=0 anon pid
    started=$(date +%s.%N)
    "$@" > "$work/stdout" &
    pid=$!
    while kill -0 "$pid" 2> /dev/null; do
        anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2> /dev/null || true)
        [[ -n $anon && $anon -gt $peak ]] && peak=$anon
        sleep 0.1
    done
    wait "$pid"
    echo "$(awk -v now="$(date +%s.%N)" -v then="$started" 'BEGIN { print now - then }') $peak" > "$into"
}

for plugin in lmdb rocksdb; do
    wanted "$out/load-$plugin.txt" || continue
    step "10M fresh, then 10M more, on $plugin"
    rm -rf "$work/$plugin"
    measure "$work/fresh" "$bin/kgdb-host" --plugin "$plugin" --data-dir "$work/$plugin" load "$first"
    measure "$work/more" "$bin/kgdb-host" --plugin "$plugin" --data-dir "$work/$plugin" load "$second"
    quads=$(grep -o 'the store holds [0-9]* quads' "$work/stdout" | grep -o '[0-9]*')
    read -r fresh_s fresh_kib < "$work/fresh"
    read -r more_s more_kib < "$work/more"
    printf 'kgdb %s: fresh 10M: %.0f quads/s, peak anonymous memory %d MiB; 10M more into it: %.0f quads/s, peak anonymous memory %d MiB; the store holds %s quads, %s bytes/quad\n' \
        "$plugin" "$(awk -v s="$fresh_s" 'BEGIN { print 10000000 / s }')" "$((fresh_kib / 1024))" \
        "$(awk -v s="$more_s" 'BEGIN { print 10000000 / s }')" "$((more_kib / 1024))" "$quads" \
        "$(( $(du -sb "$work/$plugin" | cut -f1) / quads ))" > "$out/load-$plugin.txt"
    cat "$out/load-$plugin.txt" >&2
    rm -rf "$work/$plugin"
done

if [[ " ${KGDB_BENCH_SKIP:-} " != *" oxigraph "* ]] && wanted "$out/load-pyoxigraph.txt"; then
    step "10M fresh, then 10M more, on pyoxigraph"
    rm -rf "$work/pyoxigraph"
    "$venv/bin/python" - "$first" "$second" "$work/pyoxigraph" > "$out/load-pyoxigraph.txt" << 'EOF'
import gzip, sys, time
import pyoxigraph

first, second, directory = sys.argv[1:4]
store = pyoxigraph.Store(directory)
rates = []
for data in (first, second):
    started = time.perf_counter()
    with gzip.open(data, "rb") as source:
        store.bulk_load(source, pyoxigraph.RdfFormat.N_QUADS)
    store.flush()
    rates.append(10_000_000 / (time.perf_counter() - started))
print(f"pyoxigraph: fresh 10M: {rates[0]:.0f} quads/s; 10M more into it: {rates[1]:.0f} quads/s; the store holds {len(store)} quads")
EOF
    cat "$out/load-pyoxigraph.txt" >&2
    rm -rf "$work/pyoxigraph"
fi

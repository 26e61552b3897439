#!/usr/bin/env bash
# The server benchmarks of BENCHMARKS.md ("Serving SPARQL over HTTP"):
#  1. load: 1, 4 and 16 concurrent clients replay the SPARQL benchmark queries
#     (bench/queries/) for a fixed time against `kgdb-host serve` on lmdb and rocksdb and, on
#     the same data in the same run, `oxigraph serve` (the `oxigraph` CLI 0.5.13 from PyPI):
#     queries per second, p50 and p99 latency, errors, the servers' peak RSS;
#  2. streaming: a SELECT of 5 million rows read by curl from `kgdb-host serve`, with the
#     server's peak RSS.
#
#   bench/serve.sh          # about 15 minutes on 2 cores once built
#
# Settings (environment): CARGO_TARGET_DIR, KGDB_SHARED_DATA, KGDB_BENCH_OUT, KGDB_BENCH_VENV,
# KGDB_BENCH_RESUME as bench/run.sh; KGDB_SERVE_SECONDS (per measurement, default 20),
# KGDB_SERVE_CLIENTS (default 1,4,16), KGDB_SERVE_PORT (default 17878; the next one is used
# too). Writes $KGDB_BENCH_OUT/*.serve-*.json and select-5m-serve-*.txt.
set -euo pipefail

source "$(dirname "$0")/common.sh"
seconds=${KGDB_SERVE_SECONDS:-20}
clients=${KGDB_SERVE_CLIENTS:-1,4,16}
port=${KGDB_SERVE_PORT:-17878}
work=$out/work/serve
mkdir -p "$out/data" "$work"

step "building kgdb (release)"
cargo build --release --workspace --quiet
if [[ ! -x $venv/bin/python ]]; then
    step "creating $venv"
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet 'pyoxigraph==0.5.13' 'oxigraph==0.5.13'
oxigraph=$venv/bin/oxigraph

server_pid=
stop_server() {
    if [[ -n $server_pid ]]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap stop_server EXIT

# Refuses to go on if something already answers on $port (it would be measured instead).
port_free() {
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        echo "error: something already listens on 127.0.0.1:$port; stop it or set KGDB_SERVE_PORT" >&2
        exit 1
    fi
}

# Waits until the server just started answers on $port (at most a minute).
wait_listening() {
    for _ in $(seq 600); do
        kill -0 "$server_pid" 2>/dev/null || { echo "error: the server exited" >&2; exit 1; }
        if curl -s -o /dev/null "http://127.0.0.1:$port/query?query=ASK%7B%7D"; then
            kill -0 "$server_pid" 2>/dev/null || { echo "error: the server exited" >&2; exit 1; }
            return 0
        fi
        sleep 0.1
    done
    echo "error: the server did not listen on $port" >&2
    exit 1
}

# Runs the load of $queries against the server just started as $1, into $result; stops it.
measure_load() {
    wait_listening
    "$bin/kgdb-bench" serve-load --url "http://127.0.0.1:$port/query" --queries "$queries" \
        --clients "$clients" --seconds "$seconds" --system "$1" \
        --data "$name" --server-pid "$server_pid" --json "$result"
    stop_server
}

synth=$out/data/synth-1m.nq.gz
[[ -f $synth ]] || "$bin/kgdb-synth" --quads 1M --seed 42 --output "$synth"

for pair in "brick:$data/brick.nq.gz:bench/queries/brick.rq" "synth-1m:$synth:bench/queries/synth.rq"; do
    IFS=: read -r name file queries <<< "$pair"
    for plugin in lmdb rocksdb; do
        result=$out/$name.serve-kgdb-$plugin.json
        wanted "$result" || continue
        step "$name: kgdb-host serve on $plugin"
        rm -rf "$work/$name-$plugin"
        "$bin/kgdb-host" --plugin "$plugin" --data-dir "$work/$name-$plugin" load "$file" > /dev/null
        port_free
        "$bin/kgdb-host" --plugin "$plugin" --data-dir "$work/$name-$plugin" serve \
            --bind "127.0.0.1:$port" --timeout 120s --queue 1024 > /dev/null 2> "$work/$name-$plugin.log" &
        server_pid=$!
        measure_load "kgdb-host serve ($plugin)"
        rm -rf "$work/$name-$plugin"
    done
    result=$out/$name.serve-oxigraph.json
    if wanted "$result"; then
        step "$name: oxigraph serve"
        rm -rf "$work/$name-oxigraph"
        "$oxigraph" load --location "$work/$name-oxigraph" --file "$file" > /dev/null 2>&1
        # As its loader advises before a read-heavy workload.
        "$oxigraph" optimize --location "$work/$name-oxigraph" > /dev/null 2>&1
        port_free
        "$oxigraph" serve --location "$work/$name-oxigraph" --bind "127.0.0.1:$port" \
            > /dev/null 2> "$work/$name-oxigraph.log" &
        server_pid=$!
        measure_load "oxigraph serve"
        rm -rf "$work/$name-oxigraph"
    fi
done

# A SELECT of 5 million rows streamed to curl: the server's peak RSS.
rss_data=$out/data/synth-5m.nq.gz
[[ -f $rss_data ]] || "$bin/kgdb-synth" --quads 5M --seed 42 --output "$rss_data"
for plugin in lmdb rocksdb; do
    result=$out/select-5m-serve-$plugin.txt
    wanted "$result" || continue
    step "5M-row SELECT through kgdb-host serve on $plugin"
    rm -rf "$work/rss-$plugin"
    "$bin/kgdb-host" --plugin "$plugin" --data-dir "$work/rss-$plugin" load "$rss_data" > /dev/null
    port_free
    "$bin/kgdb-host" --plugin "$plugin" --data-dir "$work/rss-$plugin" serve \
        --bind "127.0.0.1:$port" --timeout 0 > /dev/null 2> "$work/rss-$plugin.log" &
    server_pid=$!
    wait_listening
    # The heap (RssAnon) apart from the mapped store file (RssFile: LMDB's pages the scan
    # touched, the kernel's page cache), sampled while the rows stream.
    anon_log=$work/rss-$plugin.anon
    (while kill -0 "$server_pid" 2>/dev/null; do
        awk '/RssAnon/ { print $2 }' "/proc/$server_pid/status" 2>/dev/null || true
        sleep 0.2
    done > "$anon_log") &
    sampler=$!
    started=$(date +%s.%N)
    rows=$(curl -sS -H 'Accept: text/tab-separated-values' \
        --data-urlencode 'query=SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }' \
        "http://127.0.0.1:$port/query" | wc -l)
    took=$(awk -v start="$started" -v end="$(date +%s.%N)" "BEGIN { print end - start }")
    peak=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$server_pid/status")
    stop_server
    wait "$sampler" 2>/dev/null || true
    anon=$(sort -n "$anon_log" | tail -1 | awk '{ print int($1 / 1024) }')
    printf '%s: %s rows (with the header) in %.1f s through kgdb-host serve, server peak RSS %s MiB, of which heap (RssAnon, sampled) %s MiB\n' \
        "$plugin" "$rows" "$took" "$peak" "$anon" | tee "$result"
    rm -rf "$work/rss-$plugin"
done

#!/usr/bin/env bash
# Reproduces BENCHMARKS.md's tables: kgdb's memory, lmdb and rocksdb plugins next to Oxigraph
# (pyoxigraph's loaders, and the `oxigraph` crate for look-ups and SPARQL queries), on the
# shared data sets and the synthetic 1M and 10M sets, the SPARQL query benchmark
# (bench/queries/), the peak memory of a 5M-row SELECT, the plugin-boundary
# micro-benchmarks, `kgdb-host migrate` against `dump | load` (bench/migrate.sh), and the
# server benchmarks of bench/serve.sh (`kgdb-host serve` against
# `oxigraph serve` under 1, 4 and 16 clients).
#
#   bench/run.sh            # everything (about an hour on 2 cores, most of it the first build)
#
# Settings (environment):
#   CARGO_TARGET_DIR   build cache (default ~/.cache/kgdb-target)
#   KGDB_SHARED_DATA   the shared data sets (default ../shared/data beside the clone)
#   KGDB_BENCH_OUT     results and generated data (default ./bench-results)
#   KGDB_BENCH_SIZES   synthetic sizes (default "1M 10M"; 10M loads in bulk only)
#   KGDB_BENCH_VENV    the pyoxigraph virtual environment (default ~/.cache/kgdb-pyoxigraph-venv)
#   KGDB_BENCH_SKIP    space-separated steps to skip: boundary, oxigraph, load, migrate, serve
#   KGDB_BENCH_RESUME  1: keep the result files already in $KGDB_BENCH_OUT, run only the others
# Writes $KGDB_BENCH_OUT/tables.md (the tables of BENCHMARKS.md) and one JSON file per run.
set -euo pipefail

source "$(dirname "$0")/common.sh"
sizes=${KGDB_BENCH_SIZES:-1M 10M}
skip=" ${KGDB_BENCH_SKIP:-} "
work=$out/work
mkdir -p "$out/data" "$work"

skipped() { [[ $skip == *" $1 "* ]]; }

for file in zazuko-vocab.nq.gz brick.nq.gz; do
    [[ -f $data/$file ]] || { echo "error: $data/$file: no such file (set KGDB_SHARED_DATA)" >&2; exit 1; }
done

step "building kgdb (release)"
cargo build --release --workspace --quiet

if ! skipped oxigraph; then
    step "building the Oxigraph comparison crate (its own target dir: it compiles RocksDB once more)"
    CARGO_TARGET_DIR=${KGDB_OXIGRAPH_TARGET_DIR:-$HOME/.cache/kgdb-oxigraph-target} \
        cargo build --release --quiet --manifest-path bench/oxigraph/Cargo.toml
    oxigraph_bin=${KGDB_OXIGRAPH_TARGET_DIR:-$HOME/.cache/kgdb-oxigraph-target}/release/kgdb-bench-oxigraph
    if [[ ! -x $venv/bin/python ]]; then
        step "creating $venv with pyoxigraph"
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet 'pyoxigraph==0.5.13'
fi

sets=("$data/zazuko-vocab.nq.gz" "$data/brick.nq.gz")
for size in $sizes; do
    file=$out/data/synth-${size,,}.nq.gz
    if [[ ! -f $file ]]; then
        step "generating $size synthetic quads"
        "$bin/kgdb-synth" --quads "$size" --seed 42 --output "$file"
    fi
    sets+=("$file")
done

for file in "${sets[@]}"; do
    name=$(basename "$file" .nq.gz)
    workload=$out/$name.workload.nq
    step "$name: drawing 1000 look-up constants"
    wanted "$workload" && "$bin/kgdb-bench" workload --data "$file" --output "$workload" --count 1000 --seed 42
    plugins="memory lmdb rocksdb"
    extra=()
    if [[ $name == synth-10m ]]; then
        # The 10M set: bulk path only (the transactional path is measured on the smaller
        # sets). The memory plugin holds the whole store in the process: about 13 GiB here.
        extra=(--no-transactional)
    fi
    for plugin in $plugins; do
        wanted "$out/$name.kgdb-$plugin.json" || continue
        step "$name: kgdb $plugin"
        "$bin/kgdb-bench" store --plugin "$plugin" --data "$file" --workload "$workload" \
            --work-dir "$work" --json "$out/$name.kgdb-$plugin.json" "${extra[@]}"
    done
    if ! skipped oxigraph && wanted "$out/$name.pyoxigraph.json"; then
        step "$name: pyoxigraph loaders"
        py_extra=()
        [[ $name == synth-10m ]] && py_extra=(--no-transactional)
        "$venv/bin/python" bench/oxigraph/pyoxigraph_bench.py --data "$file" \
            --work-dir "$work/pyoxigraph" --json "$out/$name.pyoxigraph.json" "${py_extra[@]}"
    fi
    if ! skipped oxigraph && wanted "$out/$name.oxigraph-rs.json"; then
        step "$name: oxigraph crate look-ups"
        "$oxigraph_bin" --data "$file" --workload "$workload" --work-dir "$work/oxigraph" \
            --json "$out/$name.oxigraph-rs.json"
    fi
done

# The SPARQL query benchmark: the named queries of bench/queries/ over the first synthetic set
# and brick, on lmdb and rocksdb and, on the same data in the same run, Oxigraph.
first_size=${sizes%% *}
for pair in "synth-${first_size,,}:bench/queries/synth.rq" "brick:bench/queries/brick.rq"; do
    name=${pair%%:*}
    queries=$root/${pair#*:}
    if [[ $name == brick ]]; then file=$data/brick.nq.gz; else file=$out/data/$name.nq.gz; fi
    for plugin in lmdb rocksdb; do
        wanted "$out/$name.sparql-kgdb-$plugin.json" || continue
        step "$name: SPARQL queries on kgdb $plugin"
        "$bin/kgdb-bench" sparql --plugin "$plugin" --data "$file" --queries "$queries" \
            --work-dir "$work" --json "$out/$name.sparql-kgdb-$plugin.json"
    done
    if ! skipped oxigraph && wanted "$out/$name.sparql-oxigraph-rs.json"; then
        step "$name: SPARQL queries on the oxigraph crate"
        "$oxigraph_bin" --data "$file" --queries "$queries" --work-dir "$work/oxigraph" \
            --json "$out/$name.sparql-oxigraph-rs.json"
    fi
done

# Peak resident memory of `kgdb-host query` streaming a SELECT of 5 million rows to a pipe.
rss_data=$out/data/synth-5m.nq.gz
[[ -f $rss_data ]] || "$bin/kgdb-synth" --quads 5M --seed 42 --output "$rss_data"
for plugin in lmdb rocksdb; do
    wanted "$out/select-5m-$plugin.txt" || continue
    step "peak RSS of a 5M-row SELECT on $plugin"
    rm -rf "$work/rss-$plugin"
    "$bin/kgdb-host" --plugin "$plugin" --data-dir "$work/rss-$plugin" load "$rss_data" > /dev/null
    /usr/bin/time -f '%M' -o "$work/rss-$plugin.kib" "$bin/kgdb-host" --plugin "$plugin" \
        --data-dir "$work/rss-$plugin" query --format tsv \
        'SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }' | wc -l > "$work/rss-$plugin.rows"
    printf '%s: %s rows (with the header), peak RSS %s MiB\n' "$plugin" "$(cat "$work/rss-$plugin.rows")" \
        "$(( $(cat "$work/rss-$plugin.kib") / 1024 ))" > "$out/select-5m-$plugin.txt"
    rm -rf "$work/rss-$plugin"
done

if ! skipped boundary; then
    for plugin in memory lmdb rocksdb; do
        wanted "$out/boundary-$plugin.json" || continue
        step "plugin boundary: $plugin"
        KGDB_BENCH_CRITERION=$out/criterion cargo bench --quiet -p kgdb-bench --bench "boundary_$plugin"
        cp "$out/criterion/boundary-$plugin.json" "$out/"
    done
fi

if ! skipped load; then
    step "fresh and incremental 10M loads with their anonymous memory (bench/load.sh)"
    KGDB_BENCH_OUT=$out bash bench/load.sh
fi

if ! skipped migrate; then
    step "migrate against dump | load, 1M quads (bench/migrate.sh)"
    KGDB_BENCH_OUT=$out bash bench/migrate.sh
fi

if ! skipped serve; then
    step "serving SPARQL over HTTP (bench/serve.sh)"
    KGDB_BENCH_OUT=$out bash bench/serve.sh
fi

step "report"
{
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(lscpu | sed -n 's/^Model name: *//p'), $(uname -sr); $(date -u +%F)."
    echo
    "$bin/kgdb-bench" report "$out"/*.json
    echo
    echo "### A SELECT of 5 million rows streamed by \`kgdb-host query --format tsv\`"
    echo
    cat "$out"/select-5m-{lmdb,rocksdb}.txt 2>/dev/null | sed 's/^/- /'
    if compgen -G "$out/load-*.txt" > /dev/null; then
        echo
        echo "### Fresh and incremental loads of 10M quads (peak anonymous memory, \`--memory-budget\` 1 GiB)"
        echo
        cat "$out"/load-*.txt | sed 's/^/- /'
    fi
    if compgen -G "$out/migrate-*.txt" > /dev/null; then
        echo
        echo "### \`kgdb-host migrate\` against \`dump | load\` (bench/migrate.sh)"
        echo
        cat "$out"/migrate-*.txt | sed 's/^/- /'
    fi
    if compgen -G "$out/select-5m-serve-*.txt" > /dev/null; then
        echo
        echo "### A SELECT of 5 million rows streamed through \`kgdb-host serve\` to curl"
        echo
        cat "$out"/select-5m-serve-*.txt | sed 's/^/- /'
    fi
} > "$out/tables.md"
rm -rf "$work"
echo "wrote $out/tables.md" >&2

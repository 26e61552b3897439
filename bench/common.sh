# What bench/run.sh and bench/serve.sh share (sourced, not run): the checkout, the build cache,
# the data sets, where results go, the Oxigraph virtual environment, and two helpers.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/kgdb-target}
data=${KGDB_SHARED_DATA:-$root/../shared/data}
out=${KGDB_BENCH_OUT:-$root/bench-results}
venv=${KGDB_BENCH_VENV:-$HOME/.cache/kgdb-pyoxigraph-venv}
bin=$CARGO_TARGET_DIR/release

step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)" >&2; }
# Whether a result file is to be (re)made.
wanted() { [[ ${KGDB_BENCH_RESUME:-0} != 1 || ! -s $1 ]]; }

#!/usr/bin/env bash
# The etcd plugin on a 3-member etcd cluster on loopback against the lmdb plugin, on brick:
# bulk and transactional loads, the 16 look-up shapes (the same 1000 constants for both), the
# bytes each quad takes in the cluster, and the round trips to the cluster per loaded write
# transaction and per look-up of each shape (the plugin's `etcd.requests` statistic).
#
#   bench/etcd.sh           # about 10 minutes on 2 cores after the release build
#
# Settings (environment): as bench/run.sh (CARGO_TARGET_DIR, KGDB_SHARED_DATA, KGDB_BENCH_OUT,
# KGDB_BENCH_RESUME); KGDB_ETCD_DIR, where .ci/install-etcd unpacks etcd (default
# ~/.cache/kgdb-etcd). The members run with the limits the plugin's tests use (transactions of
# up to 50,000 operations, requests of up to 8 MiB, an 8 GiB quota) and are ended by PID on
# exit. Writes $KGDB_BENCH_OUT/etcd-tables.md.
set -euo pipefail

source "$(dirname "$0")/common.sh"
etcd_dir=${KGDB_ETCD_DIR:-$HOME/.cache/kgdb-etcd}
brick=$data/brick.nq.gz
[[ -f $brick ]] || { echo "error: $brick: no such file (set KGDB_SHARED_DATA)" >&2; exit 1; }
work=$out/work-etcd
mkdir -p "$work"

step "etcd binaries (.ci/install-etcd)"
KGDB_ETCD_DIR=$etcd_dir bash .ci/install-etcd
step "building kgdb (release)"
cargo build --release --workspace --quiet

# Three members on free loopback ports.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
clients=() peers=() cluster=""
for i in 0 1 2; do
    clients+=("http://127.0.0.1:$(port)")
    peers+=("http://127.0.0.1:$(port)")
    cluster+="${cluster:+,}m$i=${peers[$i]}"
done
step "starting a 3-member etcd cluster"
for i in 0 1 2; do
    "$etcd_dir/usr/bin/etcd" --name "m$i" --data-dir "$work/m$i" \
        --listen-client-urls "${clients[$i]}" --advertise-client-urls "${clients[$i]}" \
        --listen-peer-urls "${peers[$i]}" --initial-advertise-peer-urls "${peers[$i]}" \
        --initial-cluster "$cluster" --initial-cluster-state new \
        --initial-cluster-token kgdb-bench \
        --max-txn-ops 50000 --max-request-bytes 8388608 --quota-backend-bytes 8589934592 \
        --logger zap --log-level error > "$work/m$i.log" 2>&1 &
    pids+=($!)
done
endpoints=$(printf '"%s", ' "${clients[@]}")
endpoints="[${endpoints%, }]"
for _ in $(seq 1 100); do
    ETCDCTL_API=3 "$etcd_dir/usr/bin/etcdctl" --endpoints "${clients[0]}" endpoint health > /dev/null 2>&1 && break
    sleep 0.2
done

manifest=$work/plugins.toml
cat > "$manifest" <<TOML
manifest_version = 1
default = "etcd"

[[plugin]]
name = "etcd"
path = "$root/plugins/etcd"
[plugin.config]
endpoints = $endpoints
max_txn_ops = 50000
max_request_bytes = "8 MiB"

[[plugin]]
name = "lmdb"
path = "$root/plugins/lmdb"
[plugin.config]
map_size = "256 MiB"
TOML

workload=$out/brick.workload.nq
if [[ ! -s $workload ]]; then
    step "brick: drawing 1000 look-up constants"
    "$bin/kgdb-bench" workload --data "$brick" --output "$workload" --count 1000 --seed 42
fi
for plugin in lmdb etcd; do
    wanted "$out/brick.etcd-bench-$plugin.json" || continue
    step "brick: kgdb $plugin"
    "$bin/kgdb-bench" store --config "$manifest" --plugin "$plugin" --data "$brick" \
        --workload "$workload" --work-dir "$work/stores" --json "$out/brick.etcd-bench-$plugin.json"
done

step "report"
{
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(lscpu | sed -n 's/^Model name: *//p'), $(uname -sr); $(date -u +%F); etcd $("$etcd_dir/usr/bin/etcd" --version | sed -n 's/^etcd Version: //p'), 3 members on loopback."
    echo
    "$bin/kgdb-bench" report "$out"/brick.etcd-bench-{lmdb,etcd}.json
} > "$out/etcd-tables.md"
echo "wrote $out/etcd-tables.md" >&2

#!/usr/bin/env python3
"""Oxigraph's loaders on one RDF file, for BENCHMARKS.md (run by bench/run.sh).

Measures pyoxigraph's bulk loader (`Store.bulk_load`) and its transactional loader
(`Store.load`): wall time, quads/s, bytes on disk after the load, peak RSS. Each load runs in
its own child process so that each peak RSS is its own. Writes JSON in the shape
`kgdb-bench report` reads (store "pyoxigraph").

    python3 pyoxigraph_bench.py --data FILE --work-dir DIR --json OUT.json
"""

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import time


def format_of(path):
    import pyoxigraph

    name = path[:-3] if path.endswith(".gz") else path
    extension = name.rsplit(".", 1)[-1]
    found = pyoxigraph.RdfFormat.from_extension(extension)
    if found is None:
        raise SystemExit(f"error: {path}: unknown RDF format `.{extension}`")
    return found


def bytes_on_disk(directory):
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def one_load(data, directory, transactional):
    """Loads `data` into a fresh store in `directory`; prints the figures as JSON."""
    import pyoxigraph

    shutil.rmtree(directory, ignore_errors=True)
    store = pyoxigraph.Store(directory)
    opener = gzip.open if data.endswith(".gz") else open
    started = time.perf_counter()
    with opener(data, "rb") as source:
        if transactional:
            store.load(source, format_of(data))
        else:
            store.bulk_load(source, format_of(data))
    store.flush()
    seconds = time.perf_counter() - started
    quads = len(store)
    figures = {
        "seconds": seconds,
        "quads_per_second": quads / max(seconds, 1e-9),
        "bytes_on_disk": bytes_on_disk(directory),
        # ru_maxrss is in KiB on Linux.
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "quads": quads,
    }
    del store
    shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(figures))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the RDF file (.gz too)")
    parser.add_argument("--work-dir", default="bench-work/pyoxigraph", help="where the store goes")
    parser.add_argument("--json", required=True, help="where the results go")
    parser.add_argument("--no-transactional", action="store_true", help="skip Store.load")
    parser.add_argument("--child", choices=["bulk", "transactional"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.path.isfile(args.data):
        raise SystemExit(f"error: {args.data}: no such file")
    if args.child:
        one_load(args.data, args.work_dir, args.child == "transactional")
        return

    def child(kind):
        done = subprocess.run(
            [sys.executable, __file__, "--data", args.data, "--work-dir", args.work_dir,
             "--json", args.json, "--child", kind],
            check=False, capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"error: pyoxigraph {kind} load of {args.data}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    import pyoxigraph

    bulk = child("bulk")
    transactional = None if args.no_transactional else child("transactional")
    quads = bulk.pop("quads")
    if transactional is not None:
        transactional.pop("quads")
    result = {
        "store": "pyoxigraph",
        "version": pyoxigraph.__version__,
        "data": os.path.basename(args.data),
        "quads": quads,
        "bulk": bulk,
        "transactional": transactional,
        "compacted_bytes": None,
        "full_scan_quads_per_second": None,
        "lookups": [],
        "constants": 0,
        "limit": 0,
    }
    with open(args.json, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    print(
        f"pyoxigraph {pyoxigraph.__version__}: {quads} quads, bulk {bulk['quads_per_second']:.0f} quads/s"
        + ("" if transactional is None else f", transactional {transactional['quads_per_second']:.0f} quads/s"),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

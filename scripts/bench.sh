#!/usr/bin/env bash
# make bench: overhead figures of kafkalat (see scripts/bench.py; the
# replicated cluster with fetchers: scripts/bench_cluster.py).
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 scripts/bench.py "$@"
/usr/bin/python3 scripts/bench_broker.py
/usr/bin/python3 scripts/bench_causes.py
/usr/bin/python3 scripts/bench_cluster.py

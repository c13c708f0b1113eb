#!/usr/bin/env bash
# The socket probe's walk of a broker syscall, timed inside the program:
# kafkalat built with -DKLT_SELF_TIME (bpf/kafkalat.bpf.c, io_exit) adds the
# time from the connection lookup to the end of the walk, and the walks, to
# two .bss counters, read here with bpftool. Unlike bpf_stats it counts the
# broker's syscalls only (no other process's early returns), so it compares
# two variants of the walk on a busy machine; an interrupt or the hypervisor
# only adds to a run, so the minimum over runs is the figure to compare.
#
#   scripts/bench_walk.sh [PAIRS] [SECONDS] [-- EXTRA_BPF_DEFS]
# builds OUT/walk-a (this tree) and OUT/walk-b (this tree with
# EXTRA_BPF_DEFS, e.g. -DKLT_NO_WINDOW) and runs PAIRS alternating pairs of
# the reference broker at its highest rate (one 100 B message per request).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
pairs=${1:-4}
secs=${2:-4}
shift $(($# < 2 ? $# : 2))
[ "${1:-}" = "--" ] && shift
extra="$*"
for v in a b; do
	defs=-DKLT_SELF_TIME
	[ $v = b ] && defs="$defs $extra"
	make -s OUT="$OUT/walk-$v" BPF_DEFS="$defs" VMLINUX_H="$OUT/vmlinux.h" "$OUT/walk-$v/kafkalat"
done
tmp=$(mktemp -d /dev/shm/kafkalat-walk.XXXXXX)
bp= kp=
cleanup() {
	[ -n "$kp" ] && kill "$kp" 2>/dev/null && wait "$kp" 2>/dev/null
	[ -n "$bp" ] && kill "$bp" 2>/dev/null && wait "$bp" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# one run: prints "ns_per_syscall syscalls_per_request"
run() {
	local bin=$1 port i
	mkdir -p "$tmp/log"
	"$OUT/refbroker" --port 0 --log-dir "$tmp/log" --partitions 4 >"$tmp/b.out" 2>/dev/null &
	bp=$!
	for i in $(seq 200); do grep -q PORT= "$tmp/b.out" && break; sleep 0.05; done
	port=$(sed -n 's/PORT=//p' "$tmp/b.out")
	"$bin" -p "$bp" -P "$port" -j --no-causes >/dev/null 2>"$tmp/k.err" &
	kp=$!
	for i in $(seq 600); do grep -q Tracing "$tmp/k.err" && break; sleep 0.05; done
	"$OUT/kafkalat" load -b "127.0.0.1:$port" -t bench --partitions 4 --size 100 -d "$secs" \
		-X linger.ms=0 -X batch.num.messages=1 -X queue.buffering.max.messages=1000 \
		--json -q >"$tmp/load.out"
	/usr/bin/python3 - "$kp" "$tmp/load.out" <<'PY'
import json, os, re, subprocess, sys
kp, load = sys.argv[1], sys.argv[2]
reqs = json.load(open(load))["produce_requests"]
for fd in os.listdir(f"/proc/{kp}/fdinfo"):
    m = re.search(r"map_id:\s*(\d+)", open(f"/proc/{kp}/fdinfo/{fd}").read())
    if not m:
        continue
    show = json.loads(subprocess.run(["bpftool", "map", "show", "id", m.group(1), "-j"],
                                     capture_output=True, text=True).stdout)
    if not show.get("name", "").endswith(".bss"):
        continue
    vals = {}
    for e in json.loads(subprocess.run(["bpftool", "map", "dump", "id", m.group(1), "-j"],
                                       capture_output=True, text=True).stdout):
        for v in e.get("formatted", {}).get("value", {}).get(".bss", []):
            vals.update(v)
    if vals.get("self_runs"):
        print(vals["self_ns"] / vals["self_runs"], vals["self_runs"] / reqs)
PY
	kill "$kp"; wait "$kp" 2>/dev/null || true
	kill "$bp"; wait "$bp" 2>/dev/null || true
	kp= bp=
	rm -rf "$tmp/log"
}

declare -a A B
for i in $(seq "$pairs"); do
	A+=("$(run "$OUT/walk-a/kafkalat")")
	B+=("$(run "$OUT/walk-b/kafkalat")")
done
/usr/bin/python3 - "$extra" "${A[@]}" -- "${B[@]}" <<'PY'
import statistics, sys
extra = sys.argv[1]
args = sys.argv[2:]
cut = args.index("--")
for name, runs in (("this tree", args[:cut]), ("with " + (extra or "nothing"), args[cut + 1:])):
    ns = [float(r.split()[0]) for r in runs]
    per = statistics.median(float(r.split()[1]) for r in runs)
    print(f"{name:30s} walk per broker syscall: min {min(ns):6.0f} ns, median "
          f"{statistics.median(ns):6.0f} ns over {len(ns)} runs; {per:.2f} walked "
          f"syscalls per request -> min {min(ns) * per:6.0f} ns per request")
PY

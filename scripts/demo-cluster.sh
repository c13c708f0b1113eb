#!/usr/bin/env bash
# kafkalat cluster demo: three reference brokers (build/refbroker) replicating
# on 127.0.0.1 (scripts/cluster.sh), broker 2 a follower whose log is on the
# slow ext4 of the single-broker demo (scripts/slowdisk.sh: 100 MB/s, journal
# commit every 1 s) under background disk pressure, acks=all traffic from
# `kafkalat load --profile java` (several producers, a consumer), every
# broker traced by one kafkalat. The tail it reports waits for broker 2's
# appends, stuck in its journal. Cleans up everything it made on every exit
# path: the processes it started (by PID), the cluster and its slow disk
# (scripts/cluster.sh down). DEMO_SECONDS, DEMO_RATE, DEMO_PRODUCERS;
# DEMO_KEEP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/demolib.sh
source scripts/demolib.sh

BUILD=$(realpath -m "${OUT:-build}")
export OUT=$BUILD # cluster.sh starts the brokers from it
SECONDS_LOAD=${DEMO_SECONDS:-30}
RATE=${DEMO_RATE:-2000}
PRODUCERS=${DEMO_PRODUCERS:-8}
SLOW=2

if [[ $(id -u) -ne 0 ]]; then
	echo "demo-cluster: kafkalat loads BPF programs and the demo mounts a loop device: run it as root (sudo make demo-cluster)" >&2
	exit 1
fi

work=$(mktemp -d /tmp/kafkalat-demo-cluster.XXXXXX)
state=$work/cluster.state
tracer_pid= pressure_pid= load_pid=
cleanup() {
	trap - EXIT INT TERM
	stop "$load_pid" "$tracer_pid" "$pressure_pid"
	if [[ -f $state ]] && ! scripts/cluster.sh down --state "$state"; then
		echo "demo-cluster: the cluster is not all down: see $state (scripts/cluster.sh down --state $state)" >&2
		exit 1
	fi
	[[ -n ${DEMO_KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# three free ports of 127.0.0.1 (the brokers' --cluster list is fixed)
ports=$(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(",".join(str(s.getsockname()[1]) for s in ss))')

echo "== 3 brokers on 127.0.0.1 (replication factor 3), broker $SLOW's log on a slow ext4 (commit=1, 100 MB/s)"
scripts/cluster.sh up --state "$state" --ports "$ports" --dir "$work/cluster" \
	--slow-broker "$SLOW" --slow-opts commit=1 --slow-size 2048 --topic demo -- \
	--partitions 2 --segment-bytes $((64 << 20)) --replica-fetch-wait-ms 500
get() { sed -n "s/^$1=//p" "$state" | tail -n 1; }
pids=() boot=
for i in 0 1 2; do
	pids+=("$(get "PID_$i")")
	boot+="${boot:+,}127.0.0.1:$(get "PORT_$i")"
done
slowlog=$(get "LOG_$SLOW")
echo "   brokers: pid ${pids[0]}, ${pids[1]}, ${pids[2]}; topic demo: partition 0 led by broker 0, 1 by broker 1, both followed by broker $SLOW"

echo "== background pressure on broker $SLOW's disk: 256 MiB files written and fsynced, oldest deleted"
mkdir -p "$slowlog/../pressure"
"$BUILD/pressure" --dir "$slowlog/../pressure" --file-mb 256 --keep 3 >"$work/pressure.out" 2>&1 &
pressure_pid=$!

tport=()
for i in 0 1 2; do tport+=(-P "$(get "PORT_$i")"); done
echo "== kafkalat ${tport[*]} -d $((SECONDS_LOAD + 2)) 10"
"$BUILD/kafkalat" "${tport[@]}" -d $((SECONDS_LOAD + 2)) 10 \
	> >(tee "$work/kafkalat.out") 2> >(tee "$work/tracer.err" >&2) &
tracer_pid=$!
wait_tracing demo-cluster "$tracer_pid" "$work/tracer.err"

# one request in flight per producer: the requests behind a stalled one
# wait in the producer, not in the broker's socket, so that the band is the
# stalled requests themselves (docs/design.md, The cluster demo: with the
# Java producer's 5 in flight most of the >= p99 time was head-of-line)
echo "== kafkalat load --profile java: $RATE msg/s of 1 KiB, $PRODUCERS producers and a consumer, acks=all, $SECONDS_LOAD s"
"$BUILD/kafkalat" load -b "$boot" -t demo --partitions 2 --rate "$RATE" --size 1024 \
	--producers "$PRODUCERS" --consumers 1 --profile java --acks all \
	-X max.in.flight.requests.per.connection=1 -d "$SECONDS_LOAD" -q --json >"$work/load.json" &
load_pid=$!
wait "$load_pid" || true
load_pid=
wait "$tracer_pid" || true
tracer_pid=
stop "$pressure_pid"
pressure_pid=
wait # the tee of kafkalat's output
echo
echo "== the tail, in kafkalat's words (broker $SLOW, the follower on the slow ext4, is pid ${pids[$SLOW]})"
sed -n '/^Why the tail is slow/,/^$/p' "$work/kafkalat.out" | grep -v '^ *top \|^    \|^      \|^$' | head -n 4
if [[ -s $work/load.json ]]; then
	/usr/bin/python3 - "$work/load.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
lat, cons = s["latency_us"], s.get("consumers") or {}
print("   the producers saw p50 %.1f ms, p99 %.0f ms over %d messages; the consumer read %d of them"
      % (lat["p50"] / 1e3, lat["p99"] / 1e3, s["delivered"], cons.get("consumed", 0)))
PY
fi

#!/usr/bin/env bash
# kafkalat demo: profile a live broker under a producer load, then print the
# report. Until the reference broker lands, the broker is librdkafka's mock
# cluster (build/mockcluster), driven by `kafkalat load`.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${OUT:-build}
SECONDS_LOAD=${DEMO_SECONDS:-12}
RATE=${DEMO_RATE:-5000}

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: kafkalat loads BPF programs: run it as root (sudo make demo)" >&2
	exit 1
fi

work=$(mktemp -d /tmp/kafkalat-demo.XXXXXX)
broker_pid=
tracer_pid=
cleanup() {
	[[ -n $tracer_pid ]] && kill "$tracer_pid" 2>/dev/null || true
	[[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null || true
	[[ -n $tracer_pid ]] && wait "$tracer_pid" 2>/dev/null || true
	[[ -n $broker_pid ]] && wait "$broker_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== starting a broker (librdkafka mock cluster, topic 'demo', 6 partitions)"
"$BUILD/mockcluster" --topic demo --partitions 6 >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
for _ in $(seq 50); do
	grep -q '^BOOTSTRAP=' "$work/broker.out" 2>/dev/null && break
	sleep 0.1
done
bootstrap=$(sed -n 's/^BOOTSTRAP=//p' "$work/broker.out")
[[ -n $bootstrap ]] || { echo "demo: the mock cluster did not start" >&2; cat "$work/broker.err" >&2; exit 1; }
port=${bootstrap##*:}
echo "   broker pid $broker_pid listening on $bootstrap"

echo "== kafkalat -p $broker_pid -P $port --slower 20 -d $((SECONDS_LOAD + 2)) 4"
"$BUILD/kafkalat" -p "$broker_pid" -P "$port" --slower 20 -d $((SECONDS_LOAD + 2)) 4 &
tracer_pid=$!
sleep 1

echo "== kafkalat load: $RATE msg/s for $SECONDS_LOAD s, 6 partitions, acks=all, pipelined"
"$BUILD/kafkalat" load -b "$bootstrap" -t demo --partitions 6 --rate "$RATE" \
	-d "$SECONDS_LOAD" --acks all -X linger.ms=1 -X max.in.flight=5 -q >"$work/load.out"

wait "$tracer_pid"
tracer_pid=
echo
echo "== the client's view (librdkafka delivery latency, from kafkalat load)"
cat "$work/load.out"
cat <<'TXT'

What you saw: kafkalat framed every Kafka request the broker read from its
sockets and matched it with the response it wrote, in the kernel, without
touching the broker. The broker-side produce latency (first byte read to
last byte of the response written) is a part of the client's delivery
latency; the rest is the client's batching and the network. The summary
counts every request: none unmatched, no events lost.
TXT

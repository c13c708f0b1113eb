#!/usr/bin/env bash
# kafkalat demo: a Kafka-like broker (tests/broker, build/refbroker) on a slow
# ext4 (loop devices with a finite request queue, journal commit every 1 s,
# scripts/slowdisk.sh) under background disk pressure, driven by
# `kafkalat load`, profiled live by kafkalat. Cleans up everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/demolib.sh
source scripts/demolib.sh

BUILD=${OUT:-build}
SECONDS_LOAD=${DEMO_SECONDS:-30}
RATE=${DEMO_RATE:-2000}
FS=${DEMO_FS:-ext4}
FS_OPTS=${DEMO_FS_OPTS:-commit=1}

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: kafkalat loads BPF programs and the demo mounts a loop device: run it as root (sudo make demo)" >&2
	exit 1
fi

work=$(mktemp -d /tmp/kafkalat-demo.XXXXXX)
disk_state=$work/disk.state
broker_pid= tracer_pid= pressure_pid=
cleanup() {
	trap - EXIT INT TERM
	stop "$tracer_pid" "$pressure_pid" "$broker_pid"
	[[ -f $disk_state ]] && scripts/slowdisk.sh down --state "$disk_state" || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== a slow disk: $FS ($FS_OPTS) on stacked loop devices throttled to 100 MB/s"
scripts/slowdisk.sh up --fs "$FS" --opts "$FS_OPTS" --size 2048 --dir "$work/disk" \
	--state "$disk_state"
mkdir -p "$work/disk/log" "$work/disk/pressure"

echo "== the reference broker on it (8 handler threads, 4 partitions, Kafka's I/O)"
"$BUILD/refbroker" --port 0 --log-dir "$work/disk/log" --partitions 4 \
	--segment-bytes $((64 << 20)) >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
for _ in $(seq 50); do
	grep -q '^PORT=' "$work/broker.out" 2>/dev/null && break
	sleep 0.1
done
port=$(sed -n 's/^PORT=//p' "$work/broker.out")
[[ -n $port ]] || { echo "demo: the broker did not start" >&2; cat "$work/broker.err" >&2; exit 1; }
echo "   broker pid $broker_pid on 127.0.0.1:$port"

echo "== background pressure: 256 MiB files written and fsynced, oldest deleted"
"$BUILD/pressure" --dir "$work/disk/pressure" --file-mb 256 --keep 3 >"$work/pressure.out" 2>&1 &
pressure_pid=$!

echo "== kafkalat -p $broker_pid -P $port --slower 200 -d $((SECONDS_LOAD + 2)) 10"
"$BUILD/kafkalat" -p "$broker_pid" -P "$port" --slower 200 -d $((SECONDS_LOAD + 2)) \
	--requests "$work/requests.jsonl" 10 2> >(tee "$work/tracer.err" >&2) &
tracer_pid=$!
# the load starts once kafkalat traces (it says so on stderr), so that it
# sees the connection open and every request
wait_tracing demo "$tracer_pid" "$work/tracer.err"

echo "== kafkalat load: $RATE msg/s of 1 KiB for $SECONDS_LOAD s, acks=1"
"$BUILD/kafkalat" load -b "127.0.0.1:$port" -t demo --partitions 4 --rate "$RATE" \
	--size 1024 -d "$SECONDS_LOAD" -X linger.ms=0 -q --json >"$work/load.json" || true

wait "$tracer_pid" || true
tracer_pid=
stop "$pressure_pid"
pressure_pid=
echo
echo "== the client's wait, seen from the producer, from kafkalat and from the broker's clock"
if [[ -s $work/load.json && -s $work/requests.jsonl ]]; then
	/usr/bin/python3 scripts/client_view.py "$work/requests.jsonl" "$work/load.json"
else
	echo "(no figures: the load or kafkalat wrote nothing)"
fi
cat <<'TXT'

What you saw: kafkalat framed every Kafka request the broker read from its
sockets and matched it with the response it wrote, in the kernel, without
touching the broker, and timed each produce request as its client waits for
it: from its first byte arriving in the broker's socket to the last byte of
its response leaving. It split that time into the wire and the broker's
phases (recv, socket_wait, then the broker's read, queue, lock, append,
post_append, send, then send_queue) and the kernel's reasons for each wait,
from the broker threads' scheduler, futex and file events and their kernel
stacks. In its table, BROKER_P99 is the broker's own view, first read to
last write, as Kafka's request metrics time it.

The median is about 100 us. The tail is hundreds of milliseconds, and the
"Why the tail is slow" lines say what it is made of: on this ext4 (journal
commit every second) under background writes, the broker's write() of a
batch blocks in ext4_dirty_inode (updating the file's modification time),
which must join the running journal transaction and waits while jbd2 commits
it to the slow disk (do_get_write_access); the "journal commits overlapping"
line shows those commits. Most of the tail's time is not in that write,
though: like Kafka, the broker reads no more from a connection until it has
answered its request, so the requests behind a stalled one wait in the
socket buffer (socket_wait), where the broker's own clock never sees them.
kafkalat counts that wait as head-of-line and names its root cause: the
journal. The producer waits longer still: while the broker's receive window
is full, its requests wait in its own buffers, a wait kafkalat bounds
(flow-control) but cannot time. Run `scripts/fs-compare.sh` to see the same
load on ext4 with other options and on XFS.
TXT

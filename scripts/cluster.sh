#!/usr/bin/env bash
# cluster.sh: a 3-broker reference-broker cluster on 127.0.0.1 (replication
# factor 3, acks=all as Kafka), one process per broker.
#
#   cluster.sh up     [--state FILE] [--ports P0,P1,P2] [--dir DIR]
#                     [--log-dirs D0,D1,D2] [--slow-broker ID [--slow-fs ext4|xfs]
#                     [--slow-bps B/S] [--slow-opts OPTS] [--slow-size MB]] [--san]
#                     [--topic T]
#                     [-- BROKER-OPTION...]
#   cluster.sh down   [--state FILE]
#   cluster.sh status [--state FILE]
#
# up starts build/refbroker (build/refbroker-san with --san) as brokers 0, 1
# and 2 on the ports (default $CLUSTER_PORTS or 19092,19093,19094), each with
# its own --log-dir (under DIR, a fresh temp dir by default) and truth file
# DIR/truth-ID.jsonl; --slow-broker ID puts that broker's log dir on a slow
# disk made by scripts/slowdisk.sh (ext4 unless --slow-fs; 512 MB unless
# --slow-size). It then creates
# topic T (default cluster-check) with a Metadata request to broker 0 and
# waits until every broker accepts and every broker's fetchers have connected
# to the two others. Options after -- go to every broker (e.g. --partitions 3
# --replica-lag-time-ms 300).
#
# Everything started is recorded in the state file (default
# $CLUSTER_STATE or /tmp/kafkalat-cluster.state) as KEY=VALUE lines as it
# goes: PID_n, PORT_n, LOG_n, TRUTH_n, SLOWDISK_n, DIR, OWN_DIR. down stops
# exactly those PIDs (SIGTERM, then SIGKILL after 20 s; never by name),
# tears down the slow disk it made and removes the temp dir it created.
# Every exit path of up (a failure midway, SIGINT, SIGTERM) runs down.
# status prints each broker's PID, port and log dir, and each partition's
# leader and ISR as its leader reports it (Metadata).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# canonical: ours() compares it with /proc/PID/exe
OUT=$(realpath -m "${OUT:-$ROOT/build}")
N=3

err() {
	echo "cluster: $*" >&2
}

usage() {
	sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

record() { # KEY VALUE
	printf '%s=%s\n' "$1" "$2" >>"$state"
}

get_from() { # FILE KEY: the last value of KEY in a KEY=VALUE file
	local line val=
	while IFS= read -r line || [[ -n $line ]]; do
		[[ ${line%%=*} == "$2" ]] && val=${line#*=}
	done <"$1"
	printf '%s' "$val"
}

get() { # KEY: from the state file
	get_from "$state" "$1"
}

# A broker PID is ours if it still runs one of our binaries.
ours() { # PID
	local exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	[[ $exe == "$OUT/refbroker" || $exe == "$OUT/refbroker-san" ]]
}

down_state() {
	local i pid sd dir rc=0 waited
	[[ -f $state ]] || { err "no state file $state"; return 1; }
	for ((i = 0; i < N; i++)); do
		pid=$(get "PID_$i")
		[[ -n $pid ]] && ours "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	for ((i = 0; i < N; i++)); do
		pid=$(get "PID_$i")
		[[ -n $pid ]] || continue
		for ((waited = 0; waited < 200; waited++)); do
			ours "$pid" || break
			sleep 0.1
		done
		if ours "$pid"; then
			err "broker $i (pid $pid) ignored SIGTERM: killing it"
			kill -KILL "$pid" 2>/dev/null
			rc=1
		fi
	done
	for ((i = 0; i < N; i++)); do
		sd=$(get "SLOWDISK_$i")
		if [[ -n $sd && -s $sd ]]; then
			"$ROOT/scripts/slowdisk.sh" down --state "$sd" || { err "slow disk: see $sd"; rc=1; }
		fi
	done
	dir=$(get DIR)
	if [[ $(get OWN_DIR) == 1 && -n $dir && -d $dir && $rc -eq 0 ]]; then
		rm -rf -- "$dir"
	fi
	[[ $rc -eq 0 ]] && rm -f -- "$state"
	return $rc
}

# Metadata v1 for topic $3 (or all topics: empty) to 127.0.0.1:$1; mode $2:
# "create" only asks (auto-creates), "isr" prints the partitions led by broker $4.
metadata() { # PORT MODE TOPIC [LEADER]
	python3 - "$@" <<'PY'
import socket, struct, sys
port, mode, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
leader = int(sys.argv[4]) if len(sys.argv) > 4 else -1
if topic:
    t = topic.encode()
    topics = struct.pack(">ih", 1, len(t)) + t
else:
    topics = struct.pack(">i", -1)
body = struct.pack(">hhih", 3, 1, 1, -1) + topics
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(struct.pack(">i", len(body)) + body)
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("cluster: connection closed")
        b += c
    return b
buf = recv(struct.unpack(">i", recv(4))[0])
if mode != "isr":
    sys.exit(0)
off = 4
def take(fmt):
    global off
    v = struct.unpack_from(fmt, buf, off)
    off += struct.calcsize(fmt)
    return v[0] if len(v) == 1 else v
def string():
    global off
    n = take(">h")
    if n < 0:
        return None
    v = buf[off:off + n].decode()
    off += n
    return v
def ints():
    return [take(">i") for _ in range(take(">i"))]
for _ in range(take(">i")):
    take(">i"); string(); take(">i"); string()
take(">i")
for _ in range(take(">i")):
    take(">h"); name = string(); take(">b")
    for _ in range(take(">i")):
        take(">h"); idx = take(">i"); lead = take(">i"); reps = ints(); isr = ints()
        if lead == leader:
            print(f"  {name}-{idx}: leader {lead} replicas {reps} isr {isr}")
PY
}

# Every broker has connections to the two others' ports (its replica fetchers).
fetching() {
	local i j pid conns
	conns=$(ss -tnpH state established 2>/dev/null) || return 1
	for ((i = 0; i < N; i++)); do
		pid=$(get "PID_$i")
		for ((j = 0; j < N; j++)); do
			((i == j)) && continue
			grep -q "127.0.0.1:${ports[j]} .*pid=$pid," <<<"$conns" || return 1
		done
	done
}

wait_port_line() { # FILE: waits up to 20 s for the broker's PORT= line
	local k
	for ((k = 0; k < 200; k++)); do
		grep -q '^PORT=' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

up_exit() { # RC
	trap '' INT TERM HUP
	if [[ $1 -ne 0 && -f $state ]]; then
		err "up failed: stopping what it started"
		down_state || err "cleanup incomplete: see $state"
	fi
}

up_steps() {
	local i bin=refbroker logdir sd mnt k
	local -a extra=("$@")
	[[ -n $san ]] && bin=refbroker-san
	[[ -x $OUT/$bin ]] || { err "$OUT/$bin missing: run make"; return 1; }
	if [[ -z $dir ]]; then
		dir=$(mktemp -d /tmp/kafkalat-cluster.XXXXXX) || return 1
		record OWN_DIR 1
	fi
	record DIR "$dir"
	cluster=
	for ((i = 0; i < N; i++)); do
		cluster+="${cluster:+,}$i@127.0.0.1:${ports[i]}"
	done
	for ((i = 0; i < N; i++)); do
		[[ -z $sig ]] || return 1
		logdir=${logdirs[i]:-$dir/broker-$i}
		if [[ $slow == "$i" ]]; then
			sd=$dir/slowdisk-$i.state
			record "SLOWDISK_$i" "$sd"
			"$ROOT/scripts/slowdisk.sh" up --fs "$slow_fs" --bps "$slow_bps" --size "$slow_size" \
				${slow_opts:+--opts "$slow_opts"} --state "$sd" || return 1
			mnt=$(get_from "$sd" MOUNT)
			[[ -n $mnt ]] || { err "slow disk: no mount point in $sd"; return 1; }
			logdir=$mnt/broker-$i
		fi
		mkdir -p "$logdir" || return 1
		record "LOG_$i" "$logdir"
		record "TRUTH_$i" "$dir/truth-$i.jsonl"
		record "PORT_$i" "${ports[i]}"
		"$OUT/$bin" --broker-id "$i" --cluster "$cluster" --log-dir "$logdir" \
			--truth "$dir/truth-$i.jsonl" "${extra[@]}" \
			>"$dir/broker-$i.out" 2>"$dir/broker-$i.err" </dev/null &
		record "PID_$i" "$!"
	done
	for ((i = 0; i < N; i++)); do
		wait_port_line "$dir/broker-$i.out" ||
			{ err "broker $i did not start: $(tail -c 300 "$dir/broker-$i.err")"; return 1; }
	done
	metadata "${ports[0]}" create "$topic" || return 1
	for ((k = 0; k < 200; k++)); do
		[[ -z $sig ]] || return 1
		fetching && return 0
		sleep 0.1
	done
	err "the followers did not connect to their leaders within 20 s"
	return 1
}

up_main() {
	if [[ -e $state ]]; then
		err "$state exists (a cluster still up? run down first)"
		exit 1
	fi
	: >"$state" || { err "cannot write $state"; exit 1; }
	state=$(realpath "$state")
	sig=
	trap '' PIPE # a closed stdout must not kill up before it cleans up
	trap 'sig=130' INT
	trap 'sig=143' TERM
	trap 'sig=129' HUP
	trap 'up_exit $?' EXIT
	up_steps "${rest[@]}" || exit "${sig:-1}"
	[[ -z $sig ]] || exit "$sig"
	echo "cluster: up, bootstrap 127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}; state $state"
}

status_main() {
	local i pid alive
	[[ -f $state ]] || { err "no state file $state"; exit 1; }
	for ((i = 0; i < N; i++)); do
		pid=$(get "PID_$i")
		alive=stopped
		[[ -n $pid ]] && ours "$pid" && alive=running
		echo "broker $i: pid $pid ($alive) port $(get "PORT_$i") log $(get "LOG_$i")"
		if [[ $alive == running ]]; then
			metadata "$(get "PORT_$i")" isr "" "$i" || true
		fi
	done
}

cmd=${1-}
[[ $# -gt 0 ]] && shift
state=${CLUSTER_STATE:-/tmp/kafkalat-cluster.state}
IFS=, read -r -a ports <<<"${CLUSTER_PORTS:-19092,19093,19094}"
logdirs=()
dir=
slow=
slow_fs=ext4
slow_bps=104857600
slow_size=512
slow_opts=
san=
topic="cluster-check"
rest=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--state | --ports | --dir | --log-dirs | --slow-broker | --slow-fs | --slow-bps | --slow-opts | --slow-size | --topic)
		[[ $# -ge 2 ]] || { err "$1 needs a value"; exit 2; }
		case $1 in
		--state) state=$2 ;;
		--ports) IFS=, read -r -a ports <<<"$2" ;;
		--dir) dir=$2 ;;
		--log-dirs) IFS=, read -r -a logdirs <<<"$2" ;;
		--slow-broker) slow=$2 ;;
		--slow-fs) slow_fs=$2 ;;
		--slow-bps) slow_bps=$2 ;;
		--slow-opts) slow_opts=$2 ;;
		--slow-size) slow_size=$2 ;;
		--topic) topic=$2 ;;
		esac
		shift 2
		;;
	--san) san=1; shift ;;
	--) shift; rest=("$@"); break ;;
	-h | --help) usage; exit 0 ;;
	*) err "unknown argument '$1'"; usage >&2; exit 2 ;;
	esac
done
if [[ ${#ports[@]} -ne $N ]]; then
	err "--ports wants $N ports"
	exit 2
fi
for p in "${ports[@]}"; do
	[[ $p =~ ^[0-9]+$ && $p -ge 1 && $p -le 65535 ]] || { err "bad port '$p'"; exit 2; }
done
if [[ -n $slow && ! $slow =~ ^[0-2]$ ]]; then
	err "--slow-broker wants 0, 1 or 2"
	exit 2
fi
case $cmd in
up) up_main ;;
down) down_state ;;
status) status_main ;;
*) usage >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A CI perf gate with kafkalat: record a fixed produce load against a test
# broker, compare it with a stored baseline, and exit with the verdict.
#
#   scripts/ci-gate.sh -b HOST:PORT -P PORT --baseline DIR [options]
#
#   -b HOST:PORT       the broker to load (kafkalat load's bootstrap)
#   -P PORT            its listener port, as kafkalat traces it (or -p PID)
#   -p PID             the broker's pid, when the port is not enough
#   --baseline DIR     the stored baseline recordings (DIR/*.data)
#   --out DIR          where this run's recordings go (default: a new
#                      directory under ${TMPDIR:-/tmp}, printed)
#   --runs N           recordings to make (default 4: with a baseline of 4
#                      or more, compare works on runs; with fewer, on each
#                      recording's intervals)
#   --seconds S        each recording's load (default 30)
#   --rate R           messages per second (default 2000), --size B (100),
#                      --topic T (ci-gate), --partitions N (4), --acks A (1)
#   --gate M=+X%       passed to kafkalat compare (repeatable)
#   --update           store this run as the new baseline instead of comparing
#   KAFKALAT=path      the kafkalat binary (default: kafkalat on PATH, else
#                      build/kafkalat next to this script)
#
# Exit status: kafkalat compare's: 0 pass or improved, 1 regression,
# 2 error, 3 inconclusive (too few samples or requests, different setups);
# 2 also when this script cannot run (bad options, a failed recording).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${KAFKALAT:-}" ]; then
	if command -v kafkalat >/dev/null; then
		KAFKALAT=kafkalat
	else
		KAFKALAT=$here/../build/kafkalat
	fi
fi

die() {
	echo "ci-gate: $*" >&2
	exit 2
}

bootstrap='' port='' pid='' baseline='' out='' runs=4 seconds=30 rate=2000 size=100
topic=ci-gate partitions=4 acks=1 update=0
gates=()
while [ $# -gt 0 ]; do
	case $1 in
	-b) bootstrap=${2:?}; shift ;;
	-P) port=${2:?}; shift ;;
	-p) pid=${2:?}; shift ;;
	--baseline) baseline=${2:?}; shift ;;
	--out) out=${2:?}; shift ;;
	--runs) runs=${2:?}; shift ;;
	--seconds) seconds=${2:?}; shift ;;
	--rate) rate=${2:?}; shift ;;
	--size) size=${2:?}; shift ;;
	--topic) topic=${2:?}; shift ;;
	--partitions) partitions=${2:?}; shift ;;
	--acks) acks=${2:?}; shift ;;
	--gate) gates+=(--gate "${2:?}"); shift ;;
	--update) update=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
[ -n "$bootstrap" ] || die "-b HOST:PORT is required"
[ -n "$port$pid" ] || die "-P PORT or -p PID is required"
[ -n "$baseline" ] || die "--baseline DIR is required"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer, not '$runs'"
if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/ci-gate.XXXXXX")
	echo "ci-gate: recordings in $out" >&2
fi
mkdir -p "$out"

target=()
[ -n "$port" ] && target+=(-P "$port")
[ -n "$pid" ] && target+=(-p "$pid")
# one record per second: a 30 s run gives 30 interval samples
for i in $(seq 1 "$runs"); do
	file=$out/run-$i.data
	rm -f "$file" "$file.old"
	if ! "$KAFKALAT" record "${target[@]}" -I 1 -o "$file" --label gate=ci -- \
		"$KAFKALAT" load -b "$bootstrap" -t "$topic" --partitions "$partitions" \
		--rate "$rate" --size "$size" --acks "$acks" -d "$seconds" -q >/dev/null; then
		die "recording $i failed"
	fi
done

if [ "$update" = 1 ]; then
	mkdir -p "$baseline"
	rm -f "$baseline"/*.data
	cp "$out"/run-*.data "$baseline"/
	echo "ci-gate: baseline updated: $runs recordings in $baseline" >&2
	exit 0
fi
shopt -s nullglob
base=("$baseline"/*.data)
[ ${#base[@]} -gt 0 ] || die "no baseline recordings in $baseline (make them with --update)"
set +e
"$KAFKALAT" compare "${gates[@]}" "${base[@]}" -- "$out"/run-*.data
rc=$?
set -e
case $rc in
0) echo "ci-gate: pass" >&2 ;;
1) echo "ci-gate: REGRESSION" >&2 ;;
3) echo "ci-gate: inconclusive" >&2 ;;
*) echo "ci-gate: error (compare exit $rc)" >&2 ;;
esac
exit "$rc"

#!/usr/bin/env bash
# Real-BPF integration tests (`make integration`): every tests/integration/test_*.py
# (or only those named: run.sh librdkafka ipv6), each under a time limit, then
# "N passed, M failed". Needs root; build/kafkalat and build/mockcluster built
# (OUT=dir for another build directory). KEEP_TMP=1 keeps a failed test's files.
# A run that cannot run fails, unless SKIP_INTEGRATION=1 says to skip it.
set -euo pipefail

# Debian's interpreter: it has kafka-python (python3-kafka); a pyenv python3
# earlier on PATH does not.
PYTHON=/usr/bin/python3
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/../../build}

if [ "${SKIP_INTEGRATION:-0}" = 1 ]; then
	echo "integration: skipped (SKIP_INTEGRATION=1)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "integration: cannot run: the tests load BPF programs and need root" \
		"(SKIP_INTEGRATION=1 skips them)" >&2
	exit 1
fi
for bin in "$out/kafkalat" "$out/mockcluster"; do
	[ -x "$bin" ] || { echo "run.sh: $bin missing: run make first" >&2; exit 1; }
done
for tool in kcat setpriv timeout tshark; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool missing (scripts/deps.sh)" >&2; exit 1; }
done
"$PYTHON" -c 'import kafka' 2>/dev/null ||
	{ echo "run.sh: $PYTHON lacks kafka-python (apt-get install python3-kafka)" >&2; exit 1; }
export OUT=$out

tests=()
if [ $# -gt 0 ]; then
	for name in "$@"; do
		name=${name#test_}
		tests+=("$here/test_${name%.py}.py")
	done
else
	tests=("$here"/test_*.py)
fi

# A test runs in the background so that an interrupted run.sh can stop it
# (by its PID; the test then kills what it started).
child=
stop_child() {
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	exit 130
}
trap stop_child INT TERM

passed=0
failed=()
start=$SECONDS
for t in "${tests[@]}"; do
	name=$(basename "$t" .py)
	echo "== $name"
	rc=0
	# a test needing longer says so in a "# timeout: SECONDS" line
	limit=$(sed -n 's/^# timeout: \([0-9][0-9]*\)$/\1/p' "$t" | head -n 1)
	limit=${limit:-$TEST_TIMEOUT}
	(cd "$here" && exec timeout -k 10 "$limit" "$PYTHON" "$t") &
	child=$!
	wait "$child" || rc=$?
	child=
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		[ "$rc" -eq 124 ] && echo "FAIL $name: timed out after ${limit} s"
		failed+=("$name")
	fi
done

summary="$passed passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ] || summary+=" (${failed[*]})"
echo "integration: $summary in $((SECONDS - start)) s"
[ "${#failed[@]}" -eq 0 ]

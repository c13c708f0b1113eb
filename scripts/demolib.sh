# demolib.sh: what the demos share (source it; bash).

# stop PID...: SIGTERM to each PID (empty ones skipped), then reap them
stop() {
	local p
	for p in "$@"; do [[ -n $p ]] && kill "$p" 2>/dev/null || true; done
	for p in "$@"; do [[ -n $p ]] && wait "$p" 2>/dev/null || true; done
}

# wait_tracing NAME PID ERRFILE: waits (10 s at most) until the kafkalat of
# PID says Tracing on its stderr (ERRFILE), so that the load that follows is
# seen from its connections' start; exits 1 if that kafkalat ended first
wait_tracing() {
	local _
	for _ in $(seq 100); do
		grep -q '^Tracing' "$3" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || { echo "$1: kafkalat did not start" >&2; exit 1; }
		sleep 0.1
	done
}

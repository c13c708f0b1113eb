#!/usr/bin/env bash
# `make fuzz`: runs every libFuzzer target in $OUT/fuzz for FUZZ_SECONDS
# (default 600), FUZZ_JOBS targets at a time (default 1), from the seeds
# (tests/fuzz/corpus/NAME) and the corpus of the long runs before it
# (tests/fuzz/merged/NAME), then
#  - merges the inputs that reach new features into that tracked corpus,
#    tests/fuzz/merged/NAME (libFuzzer -set_cover_merge=1: what is there
#    stays, and a near-smallest set of new inputs covering the new features
#    joins it: half the files of -merge=1 on fuzz_json). `make fuzz-smoke`
#    replays the seeds only: mutating the merged inputs is slower (on
#    fuzz_correlate 88 s instead of 13 s for its 20,000 runs);
#  - copies each finding (crash, leak, timeout, out-of-memory) into that
#    corpus as finding-KIND-SHA1, so `make fuzz-smoke` replays it and fails
#    until it is fixed;
#  - writes one row per target into FUZZ_RESULTS (tests/fuzz/RESULTS.tsv):
#    seconds, executions, executions/s, edges and features covered, corpus
#    size (seeds and merged), findings, date and commit. Rows of targets
#    not run stay.
# The search writes its inputs to $OUT/fuzz/long-NAME, apart from the
# corpus-NAME that fuzz-smoke fills, so that fuzz-smoke stays as fast after
# a long run. FUZZ_TARGETS (names, blank-separated) runs a subset. Logs go to
# $OUT/fuzz/NAME.long.log and NAME.merge.log. Exits 1 on a finding.
set -euo pipefail

out=${OUT:-build}
seconds=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-1}
results=${FUZZ_RESULTS:-tests/fuzz/RESULTS.tsv}
rows=
# an input slower than this is a finding (a hang), not a long search step
timeout_s=60

header=$'target\tseconds\truns\texec_per_s\tcov\tft\tcorpus_files\tcorpus_kib\tfindings\tpeak_rss_mb\tdate\tcommit'

# stat::NAME's value from libFuzzer's -print_final_stats lines
final_stat() { awk -v k="stat::$1:" '$1 == k { v = $2 } END { print v + 0 }' "$2"; }

# "cov: N ft: M" of the last status line, as "N<tab>M"
last_coverage() {
	awk '{ for (i = 1; i < NF; i++) { if ($i == "cov:") c = $(i + 1); if ($i == "ft:") f = $(i + 1) } }
	     END { printf "%d\t%d\n", c, f }' "$1"
}

run_one() {
	local n=$1 f=$out/fuzz/$1 work=$out/fuzz/long-$1 art=$out/fuzz/artifacts-$1
	local seeds=tests/fuzz/corpus/$1 merged=tests/fuzz/merged/$1
	local log=$out/fuzz/$1.long.log t0 t1 a findings=0
	rm -rf -- "$art"
	mkdir -p -- "$work" "$art" "$seeds" "$merged"
	t0=$(date +%s)
	# a finding stops the search early: the row shows how long it ran
	"$f" -max_total_time="$seconds" -timeout=$timeout_s -print_final_stats=1 \
		-artifact_prefix="$art/" "$work" "$merged" "$seeds" >"$log" 2>&1 || true
	t1=$(date +%s)
	"$f" -set_cover_merge=1 -timeout=$timeout_s "$merged" "$work" >"$out/fuzz/$n.merge.log" 2>&1 ||
		echo "fuzz: $n: merge failed, see $out/fuzz/$n.merge.log" >&2
	for a in "$art"/*; do
		[[ -f $a ]] || continue
		findings=$((findings + 1))
		cp -- "$a" "$seeds/finding-${a##*/}"
		echo "fuzz: $n: finding $seeds/finding-${a##*/} (see $log)" >&2
	done
	printf '%s\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n' "$n" $((t1 - t0)) \
		"$(final_stat number_of_executed_units "$log")" \
		"$(final_stat average_exec_per_sec "$log")" "$(last_coverage "$log")" \
		"$(find "$seeds" "$merged" -type f | wc -l)" \
		"$(du -sck --apparent-size -- "$seeds" "$merged" | tail -1 | cut -f1)" \
		"$findings" "$(final_stat peak_rss_mb "$log")" "$(date -u +%F)" \
		"$FUZZ_COMMIT" >"$out/fuzz/$n.result"
	awk -F'\t' '{ printf "fuzz: %s: %d s, %d runs, %d findings\n", $1, $2, $3, $9 }' \
		"$out/fuzz/$n.result" >&2
}

main() {
	local targets n
	if [[ ${1:-} == one ]]; then
		run_one "$2"
		return
	fi
	[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: FUZZ_SECONDS='$seconds': not a number > 0" >&2; return 2; }
	[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: FUZZ_JOBS='$jobs': not a number > 0" >&2; return 2; }
	targets=${FUZZ_TARGETS:-$(cd "$out/fuzz" && ls fuzz_* | grep -v '\.' | tr '\n' ' ')}
	for n in $targets; do
		[[ -x $out/fuzz/$n ]] || { echo "fuzz: no target $out/fuzz/$n" >&2; return 2; }
		rm -f -- "$out/fuzz/$n.result"
	done
	# the commit the targets were built from, taken before the long run
	FUZZ_COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
	export OUT=$out FUZZ_SECONDS=$seconds FUZZ_COMMIT
	printf '%s\n' $targets | xargs -P "$jobs" -I{} "$0" one {}
	rows=$(mktemp)
	trap 'rm -f -- "$rows" "$rows.new"' EXIT
	[[ -f $results ]] && tail -n +2 "$results" >"$rows"
	for n in $targets; do
		[[ -f $out/fuzz/$n.result ]] || { echo "fuzz: $n: no result" >&2; return 1; }
		awk -F'\t' -v n="$n" '$1 != n' "$rows" >"$rows.new" && mv -- "$rows.new" "$rows"
		cat -- "$out/fuzz/$n.result" >>"$rows"
	done
	{ echo "$header"; sort "$rows"; } >"$results"
	column -t -s $'\t' "$results"
	if awk -F'\t' 'NR > 1 && $9 > 0 { found = 1 } END { exit !found }' "$results"; then
		echo "fuzz: findings: see tests/fuzz/corpus/*/finding-*" >&2
		return 1
	fi
}

main "$@"

#!/usr/bin/env bash
# kafkalat's nightly job (contrib/systemd/kafkalat-nightly.service runs it,
# installed as $(PREFIX)/libexec/kafkalat/nightly): records the broker for
# KAFKALAT_SECONDS into KAFKALAT_DIR/kafkalat-YYYY-MM-DD.data, writes the HTML
# report beside it and the Prometheus metrics for node_exporter's textfile
# collector, then deletes its own recordings and reports older than
# KAFKALAT_KEEP_DAYS. Settings come from the environment (the unit reads
# /etc/default/kafkalat):
#   KAFKALAT            the kafkalat binary (default: as installed)
#   KAFKALAT_DIR        where recordings and reports go (default: systemd's
#                       STATE_DIRECTORY, else /var/lib/kafkalat)
#   KAFKALAT_SECONDS    how long to record (default 3600)
#   KAFKALAT_KEEP_DAYS  days of recordings and reports kept (default 14)
#   KAFKALAT_RECORD_ARGS  more `kafkalat record` options, split on blanks
#                       (e.g. "-P 9093 --label cluster=eu1")
#   TEXTFILE_DIR        node_exporter's textfile directory
#                       (default /var/lib/prometheus/node-exporter)
# Logs go to stderr (the journal). Exits 1 when the recording or a report
# failed (a failed recording still gets its HTML report from what it wrote,
# but no metrics), 2 on a bad setting.
set -uo pipefail

prog=kafkalat-nightly
# `make install` puts the installed binary's path here
KAFKALAT=${KAFKALAT:-kafkalat}
dir=${KAFKALAT_DIR:-${STATE_DIRECTORY:-/var/lib/kafkalat}}
seconds=${KAFKALAT_SECONDS:-3600}
keep=${KAFKALAT_KEEP_DAYS:-14}
textfile_dir=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}

log() { echo "$prog: $*" >&2; }

settings_ok() {
	local bad=0
	[[ $seconds =~ ^[1-9][0-9]*$ ]] || { log "KAFKALAT_SECONDS='$seconds': not a number of seconds > 0"; bad=1; }
	[[ $keep =~ ^[1-9][0-9]*$ ]] || { log "KAFKALAT_KEEP_DAYS='$keep': not a number of days > 0"; bad=1; }
	[[ $dir == /* ]] || { log "KAFKALAT_DIR='$dir': not an absolute path"; bad=1; }
	[[ $textfile_dir == /* ]] || { log "TEXTFILE_DIR='$textfile_dir': not an absolute path"; bad=1; }
	return $bad
}

# Deletes the recordings (and the .old ones record renamed) and HTML reports
# this job named kafkalat-YYYY-MM-DD.* in its directory, dated before the
# cutoff. By name: nothing else in the directory is touched.
prune() {
	local cutoff f day
	cutoff=$(date -d "-$keep days" +%F) || return 1
	for f in "$dir"/kafkalat-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].{data,data.old,html}; do
		[[ -f $f ]] || continue
		day=${f##*/kafkalat-}
		day=${day:0:10}
		if [[ $day < $cutoff ]]; then
			rm -f -- "$f" && log "deleted $f (older than $keep days)"
		fi
	done
}

main() {
	local day data html rc=0 record_args=()
	settings_ok || return 2
	read -r -a record_args <<<"${KAFKALAT_RECORD_ARGS:-}"
	day=$(date +%F)
	data=$dir/kafkalat-$day.data
	html=$dir/kafkalat-$day.html

	# the recordings and reports name hosts, topics and clients: owner only
	umask 077
	mkdir -p -- "$dir" || return 1
	log "recording ${seconds} s into $data"
	if ! "$KAFKALAT" record -d "$seconds" -o "$data" "${record_args[@]}"; then
		log "kafkalat record failed"
		rc=1
	fi
	if [[ ! -s $data ]]; then
		log "no recording in $data: no reports"
		prune
		return 1
	fi
	if "$KAFKALAT" report --format html -o "$html" "$data"; then
		log "wrote $html"
	else
		log "kafkalat report --format html failed"
		rc=1
	fi
	# A failed recording gets its HTML report, to see what went wrong, but
	# no metrics: dashboards would take a partial run for the night's.
	# node_exporter (another user) reads them; report renames them into
	# place whole.
	if ((rc == 0)); then
		umask 022
		if mkdir -p -- "$textfile_dir" &&
			"$KAFKALAT" report --format prom -o "$textfile_dir/kafkalat.prom" "$data"; then
			log "wrote $textfile_dir/kafkalat.prom"
		else
			log "kafkalat report --format prom failed"
			rc=1
		fi
		umask 077
	fi
	prune || rc=1
	return $rc
}

main "$@"

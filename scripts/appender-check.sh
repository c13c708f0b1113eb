#!/usr/bin/env bash
# appender-check.sh: how long do small append write()s take on the slow disk
# (scripts/slowdisk.sh) while build/pressure rolls big files behind them?
# The Kafka shape without a broker: THREADS appenders, each to its own file
# (a partition's segment), RATE write()s/s in total of BYTES each, for
# SECONDS, against a background of --file-mb MiB files written and fsynced.
#
#   scripts/appender-check.sh [--seconds S] [--file-mb N] [--threads N]
#                             [--rate N] [--bytes N] [CONFIG...]
#
# CONFIG is FS[:MOUNTOPTS] (default: ext4 ext4:commit=1 xfs). One line per
# CONFIG: write() latency p50/p99/p99.9/max in ms, how many took >=10 ms and
# >=100 ms, and the pressure generator's summary. Needs root; `make` first.
# The appender is a small C program compiled into a temporary directory.
#
# Measured here (2 vCPUs, kernel 6.18, 100 MiB/s, 4 x 2000/s x 1 KiB):
#   --file-mb 256: ext4 commit=1 p99.9 74-89 ms, max 0.78-0.87 s (30-40 s runs);
#                  ext4 defaults p99.9 < 0.1 ms, 3-4 writes >= 100 ms, max
#                  0.10-0.50 s (40-60 s); XFS max 0.9-1.4 ms.
#   --file-mb 64:  no p99.9 tail on either fs (<= 0.3 ms); a few writes of
#                  0.1-0.3 s on ext4 in 40 s (and one of 0.11 s on XFS).
# The stalled writers sit in do_get_write_access <- ext4_dirty_inode <-
# file_update_time: the inode buffer is being written by a jbd2 commit that
# waits behind the pressure's writeback on the throttled device.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${OUT:-$here/../build}
seconds=20 file_mb=64 threads=4 rate=2000 bytes=1024
configs=()

die() {
	echo "appender-check: $*" >&2
	exit 1
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--seconds | --file-mb | --threads | --rate | --bytes)
		[[ $# -ge 2 && $2 =~ ^[1-9][0-9]{0,6}$ ]] || die "$1 needs a positive integer"
		case $1 in
		--seconds) seconds=$2 ;;
		--file-mb) file_mb=$2 ;;
		--threads) threads=$2 ;;
		--rate) rate=$2 ;;
		--bytes) bytes=$2 ;;
		esac
		shift 2
		;;
	-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) configs+=("$1"); shift ;;
	esac
done
[[ ${#configs[@]} -gt 0 ]] || configs=(ext4 ext4:commit=1 xfs)
[[ $threads -le 64 && $bytes -le 65536 ]] || die "--threads <= 64, --bytes <= 65536"
[[ $(id -u) -eq 0 ]] || die "needs root (loop devices, mount, blkio)"
[[ -x $build/pressure ]] || die "$build/pressure missing: run make first"

tmp=$(mktemp -d /tmp/kafkalat-appender.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/appender.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long nthreads, rate, size, secs;
static const char *dir;
static double t0, *lat[64];
static long cnt[64];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void sleep_until(double t)
{
	struct timespec ts = {.tv_sec = (time_t)t};
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Appends at a fixed schedule; a stalled thread catches up back to back, as
 * requests queued behind a slow append would. */
static void *appender(void *arg)
{
	long id = (long)arg, max = rate * secs / nthreads + 1;
	double period = (double)nthreads / (double)rate;
	char name[4096], buf[65536];

	memset(buf, 'a' + (int)id, sizeof(buf));
	snprintf(name, sizeof(name), "%s/appender-%ld.log", dir, id);
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	lat[id] = calloc((size_t)max, sizeof(double));
	if (fd < 0 || !lat[id]) {
		perror(name);
		exit(1);
	}
	for (long i = 0; i < max; i++) {
		double due = t0 + ((double)i + (double)id / (double)nthreads) * period;
		if (due >= t0 + (double)secs)
			break;
		sleep_until(due);
		double t = now();
		if (write(fd, buf, (size_t)size) != size) {
			perror("write");
			exit(1);
		}
		lat[id][cnt[id]++] = (now() - t) * 1e3;
	}
	close(fd);
	unlink(name);
	return NULL;
}

static long arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v <= 0) {
		fprintf(stderr, "appender: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	long n = 0, k = 0, over10 = 0, over100 = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: appender DIR THREADS RATE BYTES SECONDS\n");
		return 2;
	}
	dir = argv[1];
	nthreads = arg(argv[2]), rate = arg(argv[3]), size = arg(argv[4]), secs = arg(argv[5]);
	t0 = now() + 0.01;
	for (long i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, appender, (void *)i);
	for (long i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		n += cnt[i];
	}
	double *all = malloc((size_t)n * sizeof(double));
	if (!all || !n)
		return 1;
	for (long i = 0; i < nthreads; i++)
		for (long j = 0; j < cnt[i]; j++)
			all[k++] = lat[i][j];
	qsort(all, (size_t)n, sizeof(double), cmp);
	for (long i = 0; i < n; i++)
		over10 += all[i] >= 10, over100 += all[i] >= 100;
	printf("writes=%ld p50=%.3f p99=%.3f p99.9=%.2f max=%.1f ms >=10ms:%ld >=100ms:%ld\n", n,
	       all[n / 2], all[n * 99 / 100], all[n * 999 / 1000], all[n - 1], over10, over100);
	return 0;
}
C
cc -O2 -std=c11 -Wall -Wextra -Werror -o "$tmp/appender" "$tmp/appender.c" -lpthread ||
	die "cannot compile the appender"

# Runs inside `slowdisk.sh run`: pressure in the background, the appenders in
# front, one line out.
cat >"$tmp/inner.sh" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
pressure=$1 appender=$2 file_mb=$3 threads=$4 rate=$5 bytes=$6 seconds=$7 out=$8
"$pressure" --dir "$SLOWDISK_DIR" --file-mb "$file_mb" >"$out" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" || true' EXIT
sleep 1
"$appender" "$SLOWDISK_DIR" "$threads" "$rate" "$bytes" "$seconds"
kill "$pid"
wait "$pid" || true
trap - EXIT
sed 's/^pressure: //' "$out"
SH
chmod +x "$tmp/inner.sh"

echo "# $threads appenders, $rate write()s/s of $bytes B, $seconds s; pressure: ${file_mb} MiB files"
for c in "${configs[@]}"; do
	fs=${c%%:*} opts=
	[[ $c == *:* ]] && opts=${c#*:}
	out=$("$here/slowdisk.sh" run --fs "$fs" ${opts:+--opts "$opts"} -- \
		"$tmp/inner.sh" "$build/pressure" "$tmp/appender" "$file_mb" "$threads" "$rate" \
		"$bytes" "$seconds" "$tmp/pressure.out") || die "$c: run failed"
	printf '%-22s %s | pressure %s\n' "$c" "$(head -n 1 <<<"$out")" "$(tail -n 1 <<<"$out")"
done

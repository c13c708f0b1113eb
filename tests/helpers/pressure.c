// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pressure: background disk pressure like a Kafka broker's own housekeeping.
 * Writes files of --file-mb MiB with 1 MiB buffered write()s, fsyncs each
 * file (a segment roll), and deletes the oldest beyond --keep (log cleaning).
 * Self-contained (the Makefile links helpers with librdkafka and pthread only).
 *
 *   pressure --dir DIR [--file-mb N] [--keep N] [--rate-mbps N] [-d SECONDS]
 *
 * Runs until -d SECONDS have passed, or SIGTERM/SIGINT; then removes the files
 * it wrote and prints one summary line on stdout:
 *   pressure: files=N mb=N max_fsync_ms=F max_write_ms=F seconds=F
 * Exit status 0, 1 on an I/O error (one line on stderr), 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIB	      (1024 * 1024)
#define MAX_FILE_MB   65536
#define MAX_KEEP      10000
#define MAX_RATE_MBPS 1000000
#define MAX_SECONDS   (7 * 24 * 3600)
#define EXIT_USAGE    2
#define NAME_FMT      "%s/pressure-%06llu.dat"

struct pr_opts {
	const char *dir;
	int file_mb;
	int keep;
	int rate_mbps;
	int seconds;
};

struct pr_stats {
	unsigned long long files; /* files completed (written and fsynced) */
	unsigned long long mb;	  /* MiB written */
	double max_fsync_ms;
	double max_write_ms;
	double t0;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pressure --dir DIR [--file-mb N] [--keep N] [--rate-mbps N] [-d SECONDS]\n"
		"\n"
		"Write files of N MiB in DIR (1 MiB buffered writes, one fsync per file),\n"
		"deleting the oldest beyond --keep, until SIGTERM/SIGINT or -d SECONDS.\n"
		"\n"
		"  -D, --dir DIR        directory to write in (must exist)\n"
		"  -s, --file-mb N      size of each file in MiB (default 64)\n"
		"  -k, --keep N         files kept before the oldest is deleted (default 4)\n"
		"  -r, --rate-mbps N    MiB/s to write at, 0 = as fast as possible (default 0)\n"
		"  -d, --duration S     stop after S seconds (default: until a signal)\n"
		"  -h, --help           this text\n"
		"\n"
		"At exit removes its files and prints one line:\n"
		"  pressure: files=N mb=N max_fsync_ms=F max_write_ms=F seconds=F\n");
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

static bool parse_opt(int c, const char *arg, struct pr_opts *o)
{
	switch (c) {
	case 'D':
		o->dir = arg;
		return true;
	case 's':
		return parse_int(arg, 1, MAX_FILE_MB, &o->file_mb);
	case 'k':
		return parse_int(arg, 0, MAX_KEEP, &o->keep);
	case 'r':
		return parse_int(arg, 0, MAX_RATE_MBPS, &o->rate_mbps);
	case 'd':
		return parse_int(arg, 1, MAX_SECONDS, &o->seconds);
	default:
		return false;
	}
}

/* Returns -1 to continue, or the exit code to leave with. */
static int parse_args(int argc, char **argv, struct pr_opts *o)
{
	static const struct option longopts[] = {
	    {"dir", required_argument, NULL, 'D'},
	    {"file-mb", required_argument, NULL, 's'},
	    {"keep", required_argument, NULL, 'k'},
	    {"rate-mbps", required_argument, NULL, 'r'},
	    {"duration", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct pr_opts){.file_mb = 64, .keep = 4};
	while ((c = getopt_long(argc, argv, "D:s:k:r:d:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == '?' || !parse_opt(c, optarg, o)) {
			if (c != '?')
				fprintf(stderr, "pressure: bad value for -%c: '%s'\n", c, optarg);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || !o->dir) {
		fprintf(stderr, "pressure: %s\n",
			o->dir ? "unexpected argument" : "--dir DIR is required");
		usage(stderr);
		return EXIT_USAGE;
	}
	return -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = {.tv_sec = (time_t)t};

	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	/* EINTR (a signal) just ends the wait early: the caller checks stop */
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static bool time_is_up(const struct pr_opts *o, const struct pr_stats *st)
{
	return stop || (o->seconds && now_s() - st->t0 >= o->seconds);
}

/* Paces to --rate-mbps: the next MiB may start at t0 + mb / rate. */
static void pace(const struct pr_opts *o, const struct pr_stats *st)
{
	if (o->rate_mbps > 0)
		sleep_until(st->t0 + (double)st->mb / o->rate_mbps);
}

static void file_name(char *buf, size_t len, const char *dir, unsigned long long seq)
{
	snprintf(buf, len, NAME_FMT, dir, seq);
}

static void remove_file(const char *dir, unsigned long long seq)
{
	char name[PATH_MAX];

	file_name(name, sizeof(name), dir, seq);
	if (unlink(name) && errno != ENOENT)
		fprintf(stderr, "pressure: unlink %s: %s\n", name, strerror(errno));
}

/* Writes one MiB (a short write is continued); returns false on an error. */
static bool write_mib(int fd, const char *buf, struct pr_stats *st)
{
	size_t done = 0;
	double t = now_s();

	while (done < MIB) {
		ssize_t n = write(fd, buf + done, MIB - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	t = (now_s() - t) * 1e3;
	if (t > st->max_write_ms)
		st->max_write_ms = t;
	st->mb++;
	return true;
}

static bool sync_file(int fd, struct pr_stats *st)
{
	double t = now_s();

	if (fsync(fd))
		return false;
	t = (now_s() - t) * 1e3;
	if (t > st->max_fsync_ms)
		st->max_fsync_ms = t;
	return true;
}

/* Writes file number seq; a stop mid-file leaves it unsynced. Returns false on
 * an I/O error (reported). */
static bool write_file(const struct pr_opts *o, unsigned long long seq, const char *buf,
		       struct pr_stats *st)
{
	char name[PATH_MAX];
	bool ok = true;

	file_name(name, sizeof(name), o->dir, seq);
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "pressure: open %s: %s\n", name, strerror(errno));
		return false;
	}
	for (int i = 0; ok && i < o->file_mb && !time_is_up(o, st); i++) {
		pace(o, st);
		ok = write_mib(fd, buf, st);
	}
	if (ok && !time_is_up(o, st)) {
		ok = sync_file(fd, st);
		st->files += ok;
	}
	if (!ok)
		fprintf(stderr, "pressure: write/fsync %s: %s\n", name, strerror(errno));
	close(fd);
	return ok;
}

static int run(const struct pr_opts *o, const char *buf)
{
	struct pr_stats st = {.t0 = now_s()};
	unsigned long long seq = 0;
	bool ok = true;

	while (ok && !time_is_up(o, &st)) {
		ok = write_file(o, seq, buf, &st);
		seq++;
		if (seq > (unsigned long long)o->keep)
			remove_file(o->dir, seq - (unsigned long long)o->keep - 1); /* oldest */
	}
	unsigned long long keep = (unsigned long long)o->keep;
	for (unsigned long long i = seq > keep ? seq - keep : 0; i < seq; i++)
		remove_file(o->dir, i);
	printf("pressure: files=%llu mb=%llu max_fsync_ms=%.1f max_write_ms=%.1f seconds=%.1f\n",
	       st.files, st.mb, st.max_fsync_ms, st.max_write_ms, now_s() - st.t0);
	fflush(stdout);
	return ok ? 0 : 1;
}

static void install_handlers(void)
{
	/* SA_RESETHAND: a second signal kills */
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

int main(int argc, char **argv)
{
	struct pr_opts o;
	int rc = parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;
	char *buf = malloc(MIB);
	if (!buf) {
		fprintf(stderr, "pressure: out of memory\n");
		return 1;
	}
	/* not all zeros, so that nothing along the way can skip the data */
	for (size_t i = 0; i < MIB; i++)
		buf[i] = (char)(i * 131 + 7);
	install_handlers();
	rc = run(&o, buf);
	free(buf);
	return rc;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kafkalat record: the live tracer writing a recording. What is particular
 * to recording lives here: the meta record, the file's creation and the
 * command run alongside (record.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kafkalat/exitcode.h"
#include "kafkalat/hist.h"
#include "kafkalat/live.h"
#include "kafkalat/mountinfo.h"
#include "kafkalat/record.h"
#include "kafkalat/target.h"

#define META_MAX     128
#define LOG_DIRS_MAX 16

struct meta {
	struct rec_kv kv[META_MAX];
	char *owned[META_MAX]; /* the strings to free */
	uint32_t n;
};

static void meta_add(struct meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void meta_add(struct meta *m, const char *key, const char *fmt, ...)
{
	char *k = strdup(key), *v = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&v, fmt, ap) < 0)
		v = NULL;
	va_end(ap);
	if (!k || !v || m->n >= META_MAX) {
		free(k);
		free(v);
		return;
	}
	m->kv[m->n] = (struct rec_kv){.key = k, .value = v};
	m->n++;
}

static void meta_free(struct meta *m)
{
	for (uint32_t i = 0; i < m->n; i++) {
		free(m->kv[i].key);
		free(m->kv[i].value);
	}
}

/* argv joined by spaces, an argument with a space or a quote in quotes. */
static char *join_args(char *const *argv, int argc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (int i = 0; i < argc && argv[i]; i++) {
		bool quote = strpbrk(argv[i], " \t'\"") || !*argv[i];

		fprintf(f, "%s%s%s%s", i ? " " : "", quote ? "'" : "", argv[i], quote ? "'" : "");
	}
	fclose(f);
	return buf;
}

static int argv_len(char *const *argv)
{
	int n = 0;

	while (argv && argv[n])
		n++;
	return n;
}

/* The log dirs the broker has segments open in, from /proc/PID/fd. */
static int find_log_dirs(int pid, char dirs[LOG_DIRS_MAX][256])
{
	char path[64], link[4096], dir[256];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < LOG_DIRS_MAX) {
		ssize_t len;
		bool seen = false;

		snprintf(path, sizeof(path), "/proc/%d/fd/%.20s", pid, e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (mountinfo_log_dir(link, dir, sizeof(dir)))
			continue;
		for (int i = 0; i < n; i++)
			seen |= !strcmp(dirs[i], dir);
		if (!seen)
			snprintf(dirs[n++], 256, "%s", dir);
	}
	closedir(d);
	return n;
}

static char *read_text(const char *path, size_t max, size_t *len)
{
	char *buf = malloc(max);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	*len = 0;
	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (*len < max && (n = read(fd, buf + *len, max - *len)) > 0)
		*len += (size_t)n;
	close(fd);
	return buf;
}

static void meta_log_dirs(struct meta *m, int pid)
{
	char dirs[LOG_DIRS_MAX][256], path[64], key[48];
	int n = find_log_dirs(pid, dirs);
	size_t len;
	char *mi;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	mi = read_text(path, 1 << 20, &len);
	for (int i = 0; i < n; i++) {
		struct mount_desc md;

		snprintf(key, sizeof(key), "logdir.%d", i);
		meta_add(m, key, "%s", dirs[i]);
		if (!mi || mountinfo_find(mi, len, dirs[i], &md))
			continue;
		snprintf(key, sizeof(key), "logdir.%d.fs", i);
		meta_add(m, key, "%s", md.fstype);
		snprintf(key, sizeof(key), "logdir.%d.source", i);
		meta_add(m, key, "%s", md.source);
		snprintf(key, sizeof(key), "logdir.%d.options", i);
		meta_add(m, key, "%s", md.options);
	}
	free(mi);
}

/* The setup a comparison must hold equal, when the command is kafkalat load. */
static void meta_load_setup(struct meta *m, char *const *cmd)
{
	for (int i = 0; cmd && cmd[i] && cmd[i + 1]; i++) {
		if (!strcmp(cmd[i], "--acks"))
			meta_add(m, "acks", "%s", cmd[i + 1]);
		else if (!strcmp(cmd[i], "--partitions"))
			meta_add(m, "partitions", "%s", cmd[i + 1]);
		else if (!strcmp(cmd[i], "--profile"))
			meta_add(m, "profile", "%s", cmd[i + 1]);
	}
}

static void meta_build(struct meta *m, const struct cli_opts *o, int pid, bool causes)
{
	const struct record_opts *r = o->record;
	struct utsname u;
	char comm[32] = "?", when[32], *s;
	time_t now = time(NULL);
	struct tm tm;

	meta_add(m, "kafkalat.version", "%s", KAFKALAT_VERSION);
	if (!uname(&u)) {
		meta_add(m, "host", "%s", u.nodename);
		meta_add(m, "kernel", "%s", u.release);
		meta_add(m, "kernel.version", "%s", u.version);
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	meta_add(m, "start", "%s", when);
	target_comm("/proc", pid, comm, sizeof(comm));
	meta_add(m, "broker.pid", "%d", pid);
	meta_add(m, "broker.comm", "%s", comm);
	s = NULL;
	for (int i = 0; i < o->nports; i++) {
		char *prev = s;

		if (asprintf(&s, "%s%s%u", prev ? prev : "", prev ? "," : "", o->ports[i]) < 0)
			s = NULL;
		free(prev);
	}
	meta_add(m, "broker.ports", "%s", s ? s : "");
	free(s);
	meta_log_dirs(m, pid);
	for (int i = 0; i < r->nlabels; i++) {
		const char *eq = strchr(r->labels[i], '=');
		char key[80];

		snprintf(key, sizeof(key), "label.%.*s", (int)(eq - r->labels[i]), r->labels[i]);
		meta_add(m, key, "%s", eq + 1);
	}
	if ((s = join_args(r->argv, r->argc))) {
		meta_add(m, "cmdline", "kafkalat %s", s);
		free(s);
	}
	if (r->cmd && (s = join_args(r->cmd, argv_len(r->cmd)))) {
		meta_add(m, "command", "%s", s);
		free(s);
	}
	meta_load_setup(m, r->cmd);
	meta_add(m, "causes", "%s", causes ? "yes" : "no");
	meta_add(m, "interval_s", "%g", o->interval_s);
	meta_add(m, "slowest", "%u", r->slowest);
	meta_add(m, "hist.unit", "ns");
	meta_add(m, "hist.sub_buckets", "%u", HIST_SUB_BUCKETS);
	meta_add(m, "hist.significant_digits", "3");
	meta_add(m, "hist.lowest_ns", "%u", REC_LOWEST_NS);
}

int record_open(struct rec_writer **w, const struct cli_opts *o, int pid, bool causes,
		rec_stack_text_fn stack_text, void *stack_ctx)
{
	const char *path = o->record->path;
	struct recfile_writer *f;
	struct meta m = {.n = 0};
	int err = recfile_create(&f, path, true);

	if (err) {
		fprintf(stderr, "kafkalat record: creating %s: %s\n", path, strerror(-err));
		return -1;
	}
	err = rec_writer_new(w, f, o->record->slowest, stack_text, stack_ctx);
	if (err) {
		recfile_close(f);
		fprintf(stderr, "kafkalat record: out of memory\n");
		return -1;
	}
	meta_build(&m, o, pid, causes);
	err = rec_writer_meta(*w, m.kv, m.n);
	meta_free(&m);
	if (err) {
		fprintf(stderr, "kafkalat record: writing %s: %s\n", path, strerror(-err));
		return -1;
	}
	return 0;
}

pid_t record_spawn(char *const *cmd)
{
	pid_t child = fork();

	if (child < 0) {
		fprintf(stderr, "kafkalat record: starting %s: %s\n", cmd[0], strerror(errno));
		return -1;
	}
	if (child == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execvp(cmd[0], cmd);
		fprintf(stderr, "kafkalat record: running %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	setpgid(child, child);
	return child;
}

bool record_child_done(pid_t child, int *status)
{
	return waitpid(child, status, WNOHANG) == child;
}

int record_child_stop(pid_t child)
{
	int status = 0;

	kill(-child, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (record_child_done(child, &status))
			return status;
		usleep(10000);
	}
	kill(-child, SIGKILL);
	waitpid(child, &status, 0);
	return status;
}

int record_main(int argc, char **argv)
{
	struct record_opts r;
	struct cli_opts o;
	char err[256];

	switch (cli_record_parse(argc, argv, &o, &r, err, sizeof(err))) {
	case CLI_EXIT:
		return 0;
	case CLI_ERROR:
		fprintf(stderr, "kafkalat record: %s\n", err);
		return KLT_EXIT_USAGE;
	default:
		return live_run(&o);
	}
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The live tracer: find the broker, attach, poll both ring buffers into the
 * request pipeline (pipeline.h) at a pace the broker can live with, and tell
 * it the run's clock and what only the kernel side knows.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <malloc.h>
#include <linux/capability.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kafkalat/caps.h"
#include "kafkalat/exitcode.h"
#include "kafkalat/fmt.h"
#include "kafkalat/ksyms.h"
#include "kafkalat/live.h"
#include "kafkalat/lives.h"
#include "kafkalat/outputs.h"
#include "kafkalat/pace.h"
#include "kafkalat/pipeline.h"
#include "kafkalat/probe.h"
#include "kafkalat/probe_causes.h"
#include "kafkalat/record.h"
#include "kafkalat/segment.h"
#include "kafkalat/target.h"

/* What one poll reads is one burst of work, which the reader breaks into
 * slices for the broker's sake (pace.h). Polling more often costs CPU (each
 * wake-up is an interrupt), less often makes longer bursts that delay the
 * broker's and its clients' threads: of the periods measured, POLL_MS gave
 * the lowest client p99 (docs/design.md, "Pacing: giving way to the
 * broker"). The work that does not grow with the records runs every
 * CHORES_MS. */
#define POLL_MS	  30
#define CHORES_MS 100
/* Freed memory goes back to the kernel this often: the attribution's
 * timelines shrink after a burst (timeline.h), but glibc keeps the pages of
 * a free chunk inside the heap until trimmed, and RSS would stay at the
 * largest burst of the run. A trim every TRIM_S costs about 2 ms
 * (docs/soak.md). */
#define TRIM_S 10

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
	/* a second Ctrl-C kills at once */
	signal(sig, SIG_DFL);
}

/* A reader gone from stdout (`kafkalat -j | head -1`) ends the run through
 * EPIPE rather than SIGPIPE: killed, kafkalat would take seconds to exit
 * while the kernel drops its links one at a time (docs/design.md, "Bad
 * states"). A handler, not SIG_IGN, so that a command kafkalat record
 * starts gets the default back at exec. */
static void on_sigpipe(int sig)
{
	(void)sig;
}

/* The signals that end a run. Until the first program is attached they end
 * kafkalat at once (the verifier gives up on a pending signal and the
 * kernel frees what it holds); from then on they are blocked, so that no
 * attach fails half-way, and a pending one ends the run between two steps
 * (the links are dropped side by side: loader_detach()). */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
}

static const char *stop_message(int sig)
{
	return sig == SIGINT ? "kafkalat: interrupted (SIGINT) before tracing began\n"
			     : "kafkalat: terminated (SIGTERM) before tracing began\n";
}

static void on_signal_loading(int sig)
{
	const char *msg = stop_message(sig);
	ssize_t n = write(STDERR_FILENO, msg, strlen(msg));

	(void)n; /* stderr gone: the status still says it */
	_exit(KLT_EXIT_SIGNAL_BASE + sig);
}

/* The stop signal waiting, or 0. */
static int pending_stop(void)
{
	sigset_t p;

	if (sigpending(&p))
		return 0;
	return sigismember(&p, SIGINT) ? SIGINT : sigismember(&p, SIGTERM) ? SIGTERM : 0;
}

struct live {
	const struct cli_opts *o;
	int pids[KLT_MAX_BROKERS]; /* the brokers traced */
	int npids;
	struct probe *probe;
	struct pipeline *pipe;
	struct outputs out; /* --requests, --folded, --dump-events */
	uint64_t lost_seen;
	/* the causes: NULL with --no-causes or when they could not be loaded */
	struct causes *causes;
	bool futex_from_offcpu; /* file syscalls on their own tracepoints */
	struct ksyms *ksyms;
	uint64_t cause_lost_seen;
	int epfd; /* both rings' early wake-ups */
	struct pace pace;
	int nice_now;
	unsigned records_unchecked; /* since the last look at the clock */
	/* a reader that falls behind never finds a ring empty: a read stops
	 * after CHORES_MS so that the intervals and chores still run */
	uint64_t burst_start;
	bool burst_cut;
	char why[160];	      /* why the run ended, when no module says */
	char no_tracefs[160]; /* why tracefs is unavailable, or "" */
	int exit;	      /* what a failed step calls for (exitcode.h) */
	bool stdout_gone;     /* its reader closed stdout */
	int stats_fd;	      /* --bpf-stats: the kernel counts while it is open */
	bool bpf_counted;     /* BPF run times were counted from the start */
	struct cost_mark {
		double cpu_s;
		struct probe_runs runs;
	} cost0; /* at the start of tracing */
	/* kafkalat record: the recording, and the command run alongside (0 none) */
	struct rec_writer *rec;
	pid_t child;
	int child_status;
	/* each broker of the run, by its slot in pids */
	struct followed {
		/* it exited (pids names the dead process); with --follow, no
		 * process listens on its ports yet */
		bool gone;
		/* the run's ports its next process is looked for on: those it
		 * listened on, and those no broker of the run listened on */
		bool ports[KLT_MAX_PORTS];
		int find_err; /* the last way finding its next process failed, said once */
	} brokers[KLT_MAX_BROKERS];
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A calm reader gives the CPU to a thread waiting for it every
 * PACE_SLICE_NS of work (pace.h): the clock is read every few records. */
#define RECORDS_PER_CLOCK_READ 16
#define ATTRIBUTIONS_PER_PIECE 16

static void maybe_yield(struct live *lv)
{
	if (pace_should_yield(&lv->pace, now_ns(CLOCK_MONOTONIC)))
		sched_yield();
}

/* 0, or -EAGAIN when the read has run for CHORES_MS: libbpf then stops
 * it, the record consumed (loader_poll). */
static int count_record(struct live *lv)
{
	uint64_t now;

	if (++lv->records_unchecked < RECORDS_PER_CLOCK_READ)
		return 0;
	lv->records_unchecked = 0;
	now = now_ns(CLOCK_MONOTONIC);
	if (pace_should_yield(&lv->pace, now))
		sched_yield();
	if (now - lv->burst_start < CHORES_MS * 1000000ull)
		return 0;
	lv->burst_cut = true;
	return -EAGAIN;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct live *lv = ctx;

	pipeline_socket_record(lv->pipe, data, len);
	return count_record(lv);
}

/* The file's path as the broker sees it, if fd still names the file the
 * kernel described (same inode): 0, or -1. */
static int fd_path(int pid, int32_t fd, uint64_t ino, char *path, size_t len)
{
	char link[64];
	struct stat st;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", pid, fd);
	n = readlink(link, path, len - 1);
	if (n <= 0 || (size_t)n >= len - 1 || stat(link, &st) || (uint64_t)st.st_ino != ino)
		return -1;
	path[n] = '\0';
	return 0;
}

/*
 * Produce v13 names topics by id only. A segment's partition directory
 * holds the id (partition.metadata): read it, through the broker's own root
 * (it may run in a container), when a segment is first named. Best effort:
 * a segment closed meanwhile is tried again at the next one.
 */
static void learn_topic_id(struct live *lv, const struct klc_file_name_event *e)
{
	char path[PATH_MAX], meta[PATH_MAX + 64], text[256];
	uint8_t id[16];
	struct segment seg;
	ssize_t n;
	int fd, i;

	/* the record names no process: the broker whose fd is that file */
	for (i = 0; i < lv->npids; i++)
		if (!fd_path(lv->pids[i], e->fd, e->ino, path, sizeof(path)))
			break;
	if (i == lv->npids || segment_parse(path, &seg) || seg.kind != SEGMENT_LOG)
		return;
	*strrchr(path, '/') = '\0';
	snprintf(meta, sizeof(meta), "/proc/%d/root%s/partition.metadata", lv->pids[i], path);
	fd = open(meta, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n > 0 && !segment_parse_topic_id(text, (size_t)n, id))
		pipeline_topic_id(lv->pipe, id, seg.topic);
}

static int on_cause_record(void *ctx, void *data, size_t len)
{
	struct live *lv = ctx;
	uint32_t type;

	pipeline_cause_record(lv->pipe, data, len);
	if (len == sizeof(struct klc_file_name_event) &&
	    (memcpy(&type, data, sizeof(type)), type == KLC_EV_FILE_NAME))
		learn_topic_id(lv, data);
	return count_record(lv);
}

/* The frames of a kernel stack as function names, for the classifier. */
static int stack_frames(void *ctx, int32_t stack_id, const char **frames, int max)
{
	struct live *lv = ctx;
	uint64_t ips[KLC_MAX_STACK];
	int n;

	n = causes_stack(lv->causes, stack_id, ips, max < KLC_MAX_STACK ? max : KLC_MAX_STACK);
	for (int i = 0; i < n; i++) {
		const struct ksym *s = lv->ksyms ? ksyms__map_addr(lv->ksyms, ips[i]) : NULL;

		frames[i] = s ? s->name : "[unknown]";
	}
	return n;
}

static int try_causes(struct live *lv, unsigned int groups)
{
	struct causes_opts co = {.npids = lv->npids,
				 .groups = groups,
				 .verbose = lv->o->verbose,
				 .ringbuf_bytes = lv->o->ringbuf_bytes / 2,
				 .follow = lv->o->follow};
	int err;

	memcpy(co.pids, lv->pids, sizeof(co.pids));
	causes_destroy(lv->causes);
	lv->causes = NULL;
	err = causes_open(&lv->causes, &co);
	if (!err)
		err = causes_load(lv->causes);
	if (!err)
		err = causes_attach(lv->causes, on_cause_record, lv);
	return err;
}

/* The causes are worth having but not at the price of the latencies: if
 * they cannot be loaded, say why once and trace the sockets alone. File
 * syscalls go on their own tracepoints (futex waits then come from the
 * scheduler), else on the raw syscall tracepoints; without the journal and
 * writeback tracepoints if those are missing. */
static int start_causes(struct live *lv)
{
	const unsigned int core = KLC_G_SCHED | KLC_G_BLOCK;
	const unsigned int extra = KLC_G_JOURNAL | KLC_G_WRITEBACK;
	const unsigned int tries[] = {
	    core | extra | KLC_G_FILE_TP,
	    core | extra | KLC_G_FILE | KLC_G_FUTEX,
	    core | KLC_G_FILE | KLC_G_FUTEX,
	};
	size_t i;

	if (lv->o->no_causes)
		return 0;
	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if (try_causes(lv, tries[i]) == 0)
			break;
		if (lv->o->verbose)
			fprintf(stderr, "kafkalat: causes with groups 0x%x: %s\n", tries[i],
				causes_error(lv->causes));
	}
	if (i == sizeof(tries) / sizeof(tries[0])) {
		fprintf(stderr, "kafkalat: kernel causes not traced (%s): latencies only\n",
			causes_error(lv->causes));
		causes_destroy(lv->causes);
		lv->causes = NULL;
		return 0;
	}
	if (!(tries[i] & KLC_G_JOURNAL))
		fprintf(stderr, "kafkalat: journal and writeback tracepoints unavailable: their "
				"events are not traced\n");
	lv->futex_from_offcpu = (tries[i] & KLC_G_FILE_TP) != 0;
	lv->ksyms = ksyms__load(NULL);
	if (!lv->ksyms)
		fprintf(stderr,
			"kafkalat: cannot read kernel symbols (%s): off-CPU waits will "
			"be classified as other\n",
			strerror(errno));
	return 0;
}

/* Another process's fds are readable with CAP_SYS_PTRACE, or when it runs
 * as kafkalat's user with no more capabilities than kafkalat. */
static void denied(struct live *lv, const char *what)
{
	uint64_t eff;

	lv->exit = KLT_EXIT_PRIVILEGE;
	if (!caps_effective(&eff) && !caps_has(eff, CAP_SYS_PTRACE))
		fprintf(stderr, "kafkalat: cannot read %s: missing CAP_SYS_PTRACE (run as root)\n",
			what);
	else
		fprintf(stderr, "kafkalat: cannot read %s: %s\n", what, strerror(EACCES));
}

static int find_listeners(struct live *lv)
{
	const struct cli_opts *o = lv->o;
	int err = target_find_listeners("/proc", o->ports, o->nports, lv->pids, KLT_MAX_BROKERS,
					&lv->npids);

	lv->exit = KLT_EXIT_NO_TARGET;
	if (err == -ENOENT)
		fprintf(stderr,
			"kafkalat: no process listens on port %u%s (use -P PORT or -p PID)\n",
			o->ports[0], o->nports > 1 ? " or the other ports given" : "");
	else if (err == -E2BIG)
		fprintf(stderr,
			"kafkalat: more than %d processes listen on the ports given; choose "
			"with -p PID\n",
			KLT_MAX_BROKERS);
	else if (err == -EACCES)
		denied(lv, "other processes' fds to find the broker");
	else if (err)
		fprintf(stderr, "kafkalat: finding the broker failed: %s\n", strerror(-err));
	return err;
}

/* The first of the ports pid listens on (the first port if it listens on
 * none of them any more). */
static uint16_t first_port(const struct cli_opts *o, int pid)
{
	bool listening[KLT_MAX_PORTS] = {false};

	if (target_listening_ports("/proc", pid, o->ports, o->nports, listening) > 0)
		for (int i = 0; i < o->nports; i++)
			if (listening[i])
				return o->ports[i];
	return o->ports[0];
}

/* Why pid is not the broker of the ports: another process has them, pid
 * listens on other ports, or on none (sleep, a shell: no broker at all). */
static void not_listening(const struct cli_opts *o, int pid)
{
	char comm[32] = "?", other[32] = "?", list[64] = "";
	int owners[KLT_MAX_BROKERS], owner, n, np = 0;
	uint16_t own[6];
	size_t off = 0;

	target_comm("/proc", pid, comm, sizeof(comm));
	if (!target_find_listeners("/proc", o->ports, o->nports, owners, KLT_MAX_BROKERS, &np)) {
		owner = owners[0];
		target_comm("/proc", owner, other, sizeof(other));
		fprintf(stderr,
			"kafkalat: port %u belongs to pid %d (%s), not to pid %d (%s): use -p "
			"%d, or -P with a port pid %d listens on\n",
			first_port(o, owner), owner, other, pid, comm, owner, pid);
		return;
	}
	n = target_own_listen_ports("/proc", pid, own, 6);
	if (n == 0) {
		fprintf(stderr,
			"kafkalat: pid %d (%s) listens on no TCP port: not a Kafka broker\n", pid,
			comm);
		return;
	}
	for (int i = 0; i < n && i < 6; i++)
		off +=
		    (size_t)snprintf(list + off, sizeof(list) - off, "%s%u", i ? ", " : "", own[i]);
	fprintf(stderr,
		"kafkalat: pid %d (%s) does not listen on port %u%s; it listens on %s%s "
		"(use -P PORT)\n",
		pid, comm, o->ports[0], o->nports > 1 ? " or the other ports given" : "",
		n > 0 ? list : "?", n > 6 ? ", ..." : "");
}

/* A broker given by -p exists and listens on one of the ports. */
static int check_pid(struct live *lv, int pid)
{
	const struct cli_opts *o = lv->o;
	bool listening[KLT_MAX_PORTS] = {false};
	int err = target_check_pid("/proc", pid);

	lv->exit = KLT_EXIT_NO_TARGET;
	if (!err)
		err = target_listening_ports("/proc", pid, o->ports, o->nports, listening);
	if (err == -ESRCH) {
		fprintf(stderr, "kafkalat: no process with pid %d\n", pid);
		return err;
	}
	if (err == 0) {
		not_listening(o, pid);
		return -ENOENT;
	}
	if (err == -EACCES || err == -EPERM) {
		char what[48];

		snprintf(what, sizeof(what), "the sockets of pid %d", pid);
		denied(lv, what);
	} else if (err < 0) {
		fprintf(stderr, "kafkalat: reading the sockets of pid %d failed: %s\n", pid,
			strerror(-err));
	}
	return err < 0 ? err : 0;
}

/* The brokers: those given by -p, else every listener of the ports. */
static int find_targets(struct live *lv)
{
	const struct cli_opts *o = lv->o;
	int err;

	if (!o->npids)
		return find_listeners(lv);
	for (int i = 0; i < o->npids; i++)
		if ((err = check_pid(lv, o->pids[i])))
			return err;
	memcpy(lv->pids, o->pids, sizeof(lv->pids));
	lv->npids = o->npids;
	return 0;
}

static int probe_failed(struct live *lv)
{
	fprintf(stderr, "kafkalat: %s\n", probe_error(lv->probe));
	lv->exit = probe_exit(lv->probe);
	return -1;
}

/* The syscall tracepoints are found through tracefs; systemd mounts it,
 * minimal systems may not. Mounting it at its usual place is what any
 * tracer's user would do by hand. Without it the raw syscall tracepoints
 * serve (tp_btf needs no tracefs): the run goes on, at a higher cost. */
static void ensure_tracefs(struct live *lv)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		fprintf(stderr, "kafkalat: mounted tracefs at /sys/kernel/tracing\n");
	else
		snprintf(lv->no_tracefs, sizeof(lv->no_tracefs),
			 "tracefs not mounted at /sys/kernel/tracing and cannot mount it: %s",
			 strerror(errno));
}

static int load_probe(struct live *lv)
{
	const struct cli_opts *o = lv->o;
	struct probe_opts po = {.npids = lv->npids,
				.nports = o->nports,
				.verbose = o->verbose,
				.ringbuf_bytes = o->ringbuf_bytes,
				.follow = o->follow};

	memcpy(po.pids, lv->pids, sizeof(po.pids));
	memcpy(po.ports, o->ports, sizeof(po.ports));
	ensure_tracefs(lv);
	if (probe_open(&lv->probe, &po) || probe_load(lv->probe))
		return probe_failed(lv);
	return 0;
}

static int attach_probe(struct live *lv)
{
	if (probe_attach(lv->probe, on_record, lv))
		return probe_failed(lv);
	if (!probe_syscall_fallback(lv->probe))
		return 0;
	if (lv->no_tracefs[0])
		fprintf(stderr,
			"kafkalat: %s: socket syscalls on the raw sys_enter/sys_exit tracepoints, "
			"which cost more per syscall\n",
			lv->no_tracefs);
	else
		fprintf(stderr,
			"kafkalat: socket syscalls on the raw sys_enter/sys_exit tracepoints, "
			"which cost more per syscall (%s)\n",
			probe_syscall_fallback(lv->probe));
	return 0;
}

/* What was printed reaches the reader now, and whether the reader is still
 * there (a pipe without one polls POLLERR, written to or not): once gone,
 * gone. */
static bool stdout_gone(struct live *lv)
{
	struct pollfd pfd = {.fd = STDOUT_FILENO};

	fflush(stdout);
	if (!lv->stdout_gone && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR))
		lv->stdout_gone = true;
	return lv->stdout_gone;
}

/* The loss records in the stream tell the pipeline where each loss fell;
 * stderr says it as it happens. */
static void check_cause_lost(struct live *lv, struct klc_stats *st)
{
	if (!lv->causes || causes_stats(lv->causes, st))
		return;
	if (st->ringbuf_drops > lv->cause_lost_seen) {
		fprintf(stderr,
			"kafkalat: %llu cause events lost (ring buffer full): requests around "
			"them are not attributed\n",
			(unsigned long long)(st->ringbuf_drops - lv->cause_lost_seen));
		lv->cause_lost_seen = st->ringbuf_drops;
	}
}

/* Both rings read up to now: the held requests whose causes are all in go. */
static int drain_causes(struct live *lv, uint64_t now)
{
	int n;

	if (!lv->causes)
		return 0;
	n = causes_poll(lv->causes, 0);
	if (n < 0)
		return n;
	while (pipeline_advance(lv->pipe, now, ATTRIBUTIONS_PER_PIECE))
		maybe_yield(lv);
	return 0;
}

/* Lost records leave the requests around them out: say so once per loss. */
static void check_lost(struct live *lv, struct klt_stats *st)
{
	if (probe_stats(lv->probe, st))
		return;
	if (st->ringbuf_drops > lv->lost_seen) {
		uint64_t n = st->ringbuf_drops - lv->lost_seen;

		fprintf(stderr,
			"kafkalat: %llu events lost (ring buffer full; try --ringbuf-mb): requests "
			"around them are left out\n",
			(unsigned long long)n);
		lv->lost_seen = st->ringbuf_drops;
	}
}

/* The recording's interval ends now: NULL, or why the run must end. */
static const char *record_interval(struct live *lv, uint64_t now)
{
	int err = pipeline_record_interval(lv->pipe, now);

	if (!err)
		return NULL;
	snprintf(lv->why, sizeof(lv->why), "writing %s failed: %s", lv->o->record->path,
		 strerror(-err));
	return lv->why;
}

static void print_interval(struct live *lv, uint64_t now, double secs)
{
	char when[16];
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	pipeline_interval(lv->pipe, now, secs, when);
}

/* Gone, or dead and waiting for its parent to reap it (a zombie still
 * answers kill(pid, 0)). */
static bool broker_gone(int pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (kill(pid, 0) && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* the state follows the comm, which may itself contain ") " */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* No traced broker is left (the attach ends before tracing began). */
static bool brokers_gone(const struct live *lv)
{
	for (int i = 0; i < lv->npids; i++)
		if (!broker_gone(lv->pids[i]))
			return false;
	return true;
}

/* ---- each broker's exit and, with --follow, its next process ---- */

/* Each broker's ports (struct followed), from what it listens on at the
 * start of tracing. */
static void claim_ports(struct live *lv)
{
	const struct cli_opts *o = lv->o;
	bool owned[KLT_MAX_PORTS] = {false};

	for (int i = 0; i < lv->npids; i++) {
		bool *mine = lv->brokers[i].ports;

		if (target_listening_ports("/proc", lv->pids[i], o->ports, o->nports, mine) < 0)
			memset(mine, 0, sizeof(lv->brokers[i].ports));
		for (int k = 0; k < o->nports; k++)
			owned[k] |= mine[k];
	}
	for (int i = 0; i < lv->npids; i++)
		for (int k = 0; k < o->nports; k++)
			lv->brokers[i].ports[k] |= !owned[k];
}

/* The ports of broker slot, into ports[]: how many. */
static int slot_ports(const struct live *lv, int slot, uint16_t *ports)
{
	int n = 0;

	for (int k = 0; k < lv->o->nports; k++)
		if (lv->brokers[slot].ports[k])
			ports[n++] = lv->o->ports[k];
	return n;
}

/* Broker slot is process pid from now on, in both objects (-1: none):
 * the programs keep running, the other brokers stay traced, maps, stack
 * ids and connection ids go on (docs/design.md, "Following a restarted
 * broker"). */
static void follow_slot(struct live *lv, int slot, int pid)
{
	probe_follow(lv->probe, slot, pid);
	if (lv->causes)
		causes_follow(lv->causes, slot, pid);
}

/* What the rings hold now, read to its end, however long it takes: a
 * process that exited made all its records before. */
static void read_rings(struct live *lv)
{
	do {
		lv->burst_start = now_ns(CLOCK_MONOTONIC);
		lv->burst_cut = false;
	} while (probe_poll(lv->probe, 0) >= 0 && lv->burst_cut);
	do {
		lv->burst_start = now_ns(CLOCK_MONOTONIC);
		lv->burst_cut = false;
	} while (drain_causes(lv, now_ns(CLOCK_MONOTONIC)) >= 0 && lv->burst_cut);
	lv->burst_cut = false;
}

/*
 * Broker slot's process exited, its records read: its connections end, so
 * that a request it left waiting is counted unanswered (closed) and never
 * matched to another process's responses; what the kernel side kept of it
 * goes. With --follow its life ends and its ports are watched.
 */
static void broker_exited(struct live *lv, int slot, int left)
{
	const struct cli_opts *o = lv->o;
	uint16_t ports[KLT_MAX_PORTS];
	char list[64];
	int pid = lv->pids[slot], n;

	/* the clock read again: a starved reader may have slept since its poll */
	pipeline_broker_exited(lv->pipe, now_ns(CLOCK_MONOTONIC), slot, pid, left > 0);
	probe_forget(lv->probe, pid);
	if (lv->causes)
		causes_forget(lv->causes, pid);
	if (!o->follow) {
		if (left)
			fprintf(stderr, "kafkalat: broker %d exited; tracing the other%s\n", pid,
				left > 1 ? "s" : "");
		return;
	}
	n = slot_ports(lv, slot, ports);
	fmt_ports(ports, n, list, sizeof(list));
	fprintf(stderr, "kafkalat: broker %d exited; waiting for a new process on port%s %s\n", pid,
		n > 1 ? "s" : "", list);
	lv->brokers[slot].find_err = 0;
}

/* pid is traced as another broker than slot. */
static bool traced_elsewhere(const struct live *lv, int slot, int pid)
{
	for (int i = 0; i < lv->npids; i++)
		if (i != slot && !lv->brokers[i].gone && lv->pids[i] == pid)
			return true;
	return false;
}

/* Broker slot gone: a process listening on its ports that no other broker
 * is is its next life. */
static void find_next_broker(struct live *lv, int slot)
{
	int pids[KLT_MAX_BROKERS], n = 0, err, k;
	uint16_t ports[KLT_MAX_PORTS];
	char comm[32] = "?";

	err = target_find_listeners("/proc", ports, slot_ports(lv, slot, ports), pids,
				    KLT_MAX_BROKERS, &n);
	for (k = 0; !err && k < n && traced_elsewhere(lv, slot, pids[k]); k++)
		;
	if (err || k == n) {
		if (err && err != -ENOENT && err != lv->brokers[slot].find_err)
			fprintf(stderr, "kafkalat: looking for the next broker: %s\n",
				err == -E2BIG ? "more than 8 processes listen on the ports"
					      : strerror(-err));
		lv->brokers[slot].find_err = err;
		return;
	}
	follow_slot(lv, slot, pids[k]);
	lv->pids[slot] = pids[k];
	lv->brokers[slot].gone = false;
	if (pipeline_broker_attached(lv->pipe, now_ns(CLOCK_MONOTONIC), slot, pids[k]))
		fprintf(stderr,
			"kafkalat: more than %u lives of the brokers: this one's requests "
			"are not counted apart\n",
			LIVES_MAX);
	target_comm("/proc", pids[k], comm, sizeof(comm));
	fprintf(stderr, "kafkalat: following new broker %d (%s)\n", pids[k], comm);
}

/* Each broker's exit ends its connections, and with --follow a life of
 * it; without, the run ends with the last one: NULL, or why it ends. */
static const char *check_brokers(struct live *lv)
{
	bool exited[KLT_MAX_BROKERS] = {false}, any = false;
	int left = 0;

	for (int i = 0; i < lv->npids; i++) {
		if (!lv->brokers[i].gone && broker_gone(lv->pids[i])) {
			exited[i] = any = lv->brokers[i].gone = true;
			/* nothing of a pid the system may give again */
			if (lv->o->follow)
				follow_slot(lv, i, -1);
		}
		left += !lv->brokers[i].gone;
	}
	if (any)
		read_rings(lv);
	for (int i = 0; i < lv->npids; i++)
		if (exited[i])
			broker_exited(lv, i, left);
	if (!lv->o->follow)
		return left ? NULL : lv->npids > 1 ? "the brokers exited" : "the broker exited";
	/* a process may be listening already */
	for (int i = 0; i < lv->npids; i++)
		if (lv->brokers[i].gone)
			find_next_broker(lv, i);
	return NULL;
}

/* One wait over both rings: the kernel side wakes the reader early when
 * either ring passes a quarter full, and that must end the wait too. */
static int open_ring_waiter(struct live *lv)
{
	struct epoll_event ev = {.events = EPOLLIN};

	lv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (lv->epfd < 0 || epoll_ctl(lv->epfd, EPOLL_CTL_ADD, probe_epoll_fd(lv->probe), &ev) ||
	    (lv->causes && epoll_ctl(lv->epfd, EPOLL_CTL_ADD, causes_epoll_fd(lv->causes), &ev))) {
		fprintf(stderr, "kafkalat: waiting on the ring buffers: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Up to POLL_MS: 1 if a ring woke us (it is filling up), 0 if not. */
static int wait_rings(struct live *lv)
{
	struct epoll_event ev[2];
	int n = epoll_wait(lv->epfd, ev, 2, POLL_MS);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n > 0;
}

/* Giving way is only safe if kafkalat can take its priority back. */
static bool can_return_to(int nice)
{
	struct rlimit rl;
	uint64_t eff;

	if (!caps_effective(&eff) && caps_has(eff, CAP_SYS_NICE))
		return true;
	return !getrlimit(RLIMIT_NICE, &rl) &&
	       (rl.rlim_cur == RLIM_INFINITY || 20 - (long)rl.rlim_cur <= nice);
}

static void set_nice(struct live *lv, int nice)
{
	if (nice == lv->nice_now)
		return;
	/* PRIO_PROCESS with 0 is this thread on Linux: only the reader moves */
	if (setpriority(PRIO_PROCESS, 0, nice)) {
		fprintf(stderr, "kafkalat: setting niceness %d failed (%s): staying at %d\n", nice,
			strerror(errno), lv->nice_now);
		pace_init(&lv->pace, lv->nice_now, lv->nice_now);
		return;
	}
	lv->nice_now = nice;
}

static void start_pacing(struct live *lv)
{
	int base;

	errno = 0;
	base = getpriority(PRIO_PROCESS, 0);
	lv->nice_now = base;
	pace_init(&lv->pace, base, errno ? base : lv->o->calm_nice);
	if (lv->pace.calm_nice != base && !can_return_to(base)) {
		fprintf(stderr,
			"kafkalat: staying at niceness %d: without CAP_SYS_NICE it could not "
			"return to it when its rings fill\n",
			base);
		pace_init(&lv->pace, base, base);
	}
	set_nice(lv, lv->pace.cur_nice);
}

/* Poll until the end of the run; returns why it ended (for stderr). */
static const char *poll_loop(struct live *lv, uint64_t t_start, struct klt_stats *st)
{
	const struct cli_opts *o = lv->o;
	uint64_t next = t_start + (uint64_t)(o->interval_s * 1e9), next_chores = t_start;
	uint64_t next_trim = t_start + TRIM_S * 1000000000ull;
	struct klc_stats cst;
	long printed = 0;

	for (;;) {
		const char *why;
		uint64_t now;
		/* a read cut short left records: read on at once, as if woken */
		int woke = lv->burst_cut ? 1 : wait_rings(lv), n;

		lv->burst_start = now_ns(CLOCK_MONOTONIC);
		lv->burst_cut = false;
		pace_burst_begin(&lv->pace, lv->burst_start);
		if (woke < 0) {
			snprintf(lv->why, sizeof(lv->why), "waiting on the ring buffers failed: %s",
				 strerror(-woke));
			return lv->why;
		}
		n = probe_poll(lv->probe, 0);
		if (n < 0)
			return probe_error(lv->probe);
		now = now_ns(CLOCK_MONOTONIC);
		if (drain_causes(lv, now) < 0)
			return causes_error(lv->causes);
		set_nice(lv, pace_after_poll(&lv->pace, woke));
		/* the per-poll work stays proportional to the records; the rest
		 * (two map reads, a /proc read, a flush) runs every CHORES_MS */
		if (now >= next_chores) {
			next_chores = now + CHORES_MS * 1000000ull;
			check_lost(lv, st);
			check_cause_lost(lv, &cst);
			pipeline_flush(lv->pipe);
			if (stdout_gone(lv))
				return NULL;
			if ((why = check_brokers(lv)))
				return why;
			if (lv->child > 0 && record_child_done(lv->child, &lv->child_status)) {
				lv->child = 0;
				return "the command exited";
			}
		}
		if (now >= next_trim) {
			next_trim = now + TRIM_S * 1000000000ull;
			malloc_trim(0);
		}
		if (o->record && o->interval_s > 0 && now >= next) {
			if ((why = record_interval(lv, now)))
				return why;
			next += (uint64_t)(o->interval_s * 1e9);
		} else if (o->interval_s > 0 && now >= next) {
			/* its nominal end: a late reader's catch-up tables each
			 * cover their own second, and say their share of a gap */
			print_interval(lv, next, o->interval_s);
			next += (uint64_t)(o->interval_s * 1e9);
			if (o->count && ++printed >= o->count)
				return NULL;
		}
		if (stop_requested)
			return NULL;
		if (o->duration_s > 0 && now - t_start >= (uint64_t)(o->duration_s * 1e9))
			return NULL;
		if (pipeline_error(lv->pipe))
			return "out of memory";
	}
}

/* ---- kafkalat's own cost ---- */

static bool kernel_bpf_stats_on(void)
{
	char c = '0';
	int fd = open("/proc/sys/kernel/bpf_stats_enabled", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '0';
		close(fd);
	}
	return c == '1';
}

/* --bpf-stats: the kernel counts every BPF program's run time while the
 * fd is open (and someone else may have turned it on: then it counts too). */
static int start_bpf_stats(struct live *lv)
{
	if (lv->o->bpf_stats) {
		lv->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (lv->stats_fd < 0) {
			int err = errno;

			fprintf(stderr,
				"kafkalat: --bpf-stats: cannot turn on the kernel's BPF run-time "
				"statistics: %s%s\n",
				strerror(err), err == EPERM ? " (it needs CAP_SYS_ADMIN)" : "");
			lv->exit = err == EPERM ? KLT_EXIT_PRIVILEGE : KLT_EXIT_FAILURE;
			return -1;
		}
	}
	lv->bpf_counted = lv->stats_fd >= 0 || kernel_bpf_stats_on();
	return 0;
}

static void cost_mark(const struct live *lv, struct cost_mark *m)
{
	struct probe_runs causes;

	m->cpu_s = (double)now_ns(CLOCK_PROCESS_CPUTIME_ID) / 1e9;
	probe_runs(lv->probe, &m->runs);
	causes_runs(lv->causes, &causes);
	m->runs.run_ns += causes.run_ns;
	m->runs.runs += causes.runs;
}

static struct report_cost cost_since_start(const struct live *lv)
{
	struct cost_mark now;

	cost_mark(lv, &now);
	return (struct report_cost){
	    .measured = true,
	    .cpu_s = now.cpu_s - lv->cost0.cpu_s,
	    /* counted throughout: on at the start and still on now */
	    .bpf_counted = lv->bpf_counted && (lv->stats_fd >= 0 || kernel_bpf_stats_on()),
	    .bpf_ns = now.runs.run_ns - lv->cost0.runs.run_ns,
	    .bpf_runs = now.runs.runs - lv->cost0.runs.runs,
	};
}

/* Each broker as the summary shows it: comm and the run's ports it listens on. */
static void describe_brokers(const struct live *lv, struct report_run *run)
{
	const struct cli_opts *o = lv->o;

	run->nbrokers = lv->npids;
	for (int i = 0; i < lv->npids; i++) {
		struct report_broker *b = &run->brokers[i];
		bool listening[KLT_MAX_PORTS] = {false};

		b->pid = lv->pids[i];
		if (target_comm("/proc", b->pid, b->comm, sizeof(b->comm)))
			snprintf(b->comm, sizeof(b->comm), "?");
		if (target_listening_ports("/proc", b->pid, o->ports, o->nports, listening) < 0)
			continue;
		for (int k = 0; k < o->nports; k++)
			if (listening[k])
				b->ports[b->nports++] = o->ports[k];
	}
}

static void finish(struct live *lv, double secs, struct klt_stats *st)
{
	struct report_run run = {.pid = lv->pids[0], .nports = lv->o->nports, .duration_s = secs};
	struct evdump_stats lost = {0};
	struct klc_stats cst = {0};

	/* what the kernel side wrote before we stopped is part of the run; a
	 * broker still overloading it is read for at most a second more */
	for (int i = 0; i < 1000 / CHORES_MS; i++) {
		lv->burst_start = now_ns(CLOCK_MONOTONIC);
		lv->burst_cut = false;
		if (probe_poll(lv->probe, 0) <= 0 && !lv->burst_cut)
			break;
	}
	check_lost(lv, st);
	drain_causes(lv, now_ns(CLOCK_MONOTONIC));
	check_cause_lost(lv, &cst);
	lost.socket_lost = st->ringbuf_drops;
	lost.conn_table_full = st->conn_table_full;
	lost.resync_skipped = st->resync_skipped;
	lost.cause_lost = cst.ringbuf_drops;
	lost.stack_errors = cst.stack_errors;
	pipeline_kernel_lost(lv->pipe, st, &cst);
	pipeline_end(lv->pipe, &lost);
	/* the requests attributed at the end belong to the last interval */
	if (lv->rec && record_interval(lv, now_ns(CLOCK_MONOTONIC)))
		fprintf(stderr, "kafkalat record: %s\n", lv->why);
	run.cost = cost_since_start(lv);
	memcpy(run.ports, lv->o->ports, sizeof(run.ports));
	describe_brokers(lv, &run);
	memcpy(run.comm, run.brokers[0].comm, sizeof(run.comm));
	run.kernel = *st;
	pipeline_summary(lv->pipe, &run);
}

static void live_stack_text(void *ctx, int32_t stack_id, char *buf, size_t len)
{
	const struct live *lv = ctx;

	pipeline_stack_text(lv->pipe, stack_id, buf, len);
}

/* The recording is closed (its last write synced) and the run told: 0, or
 * -1 when writing it or the command failed. */
static int record_close(struct live *lv, bool ok)
{
	const char *path = lv->o->record->path;
	int err = rec_writer_close(lv->rec), st = lv->child_status;
	struct stat sb;

	lv->rec = NULL;
	if (err) {
		fprintf(stderr,
			"kafkalat record: writing %s failed: %s (what was written before "
			"stays readable)\n",
			path, strerror(-err));
		return -1;
	}
	/* the command's own end: -1 while it had not ended by itself */
	if (lv->o->record->cmd && lv->child_status != -1 &&
	    (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
		fprintf(stderr, "kafkalat record: the command %s\n",
			WIFEXITED(st) ? "failed" : "was killed");
		ok = false;
	}
	if (ok && !stat(path, &sb))
		fprintf(stderr, "kafkalat record: wrote %s (%.3f MB)\n", path,
			(double)sb.st_size / 1e6);
	return ok ? 0 : -1;
}

/* What is traced, on stderr: one broker by pid and comm, several by pid. */
static void announce(const struct live *lv)
{
	const struct cli_opts *o = lv->o;
	unsigned open_conns = 0, n;
	char who[256] = "", comm[32] = "?";
	size_t off = 0;

	for (int i = 0; i < lv->npids; i++) {
		if (target_count_connections("/proc", lv->pids[i], o->ports, o->nports, &n) == 0)
			open_conns += n;
		if (i == 0 && lv->npids == 1) {
			target_comm("/proc", lv->pids[0], comm, sizeof(comm));
			snprintf(who, sizeof(who), "pid %d (%s)", lv->pids[0], comm);
		} else if (off < sizeof(who)) {
			off += (size_t)snprintf(who + off, sizeof(who) - off, "%s%d",
						i ? "," : "pids ", lv->pids[i]);
		}
	}
	fprintf(stderr,
		"Tracing Kafka requests of %s on port %u%s%s, %u connections already "
		"open... %s\n",
		who, o->ports[0], o->nports > 1 ? " and more" : "",
		lv->causes ? " with kernel causes" : "", open_conns,
		o->duration_s > 0 ? "" : "Hit Ctrl-C to end.");
}

/* A follower's fetch connection: which traced broker holds its far end. */
static int peer_of(void *ctx, const struct corr_request *r, uint32_t *tgid)
{
	const struct live *lv = ctx;
	int pid = 0, err;

	err = target_peer_pid("/proc", lv->pids, lv->npids, r->remote_port, r->local_port, &pid);
	if (!err)
		*tgid = (uint32_t)pid;
	return err;
}

/* The pipeline is the causes' consumer: it is made once they are loaded
 * (or not), before the first poll. */
static int start_pipeline(struct live *lv)
{
	const struct cli_opts *o = lv->o;
	struct pipeline_config cfg = {.out = o->record ? NULL : stdout,
				      .rec = lv->rec,
				      .json = o->json,
				      .slower_ms = o->slower_ms,
				      .causes = lv->causes != NULL,
				      .futex_from_offcpu = lv->futex_from_offcpu,
				      .stack_fn = stack_frames,
				      .stack_ctx = lv,
				      .peer_fn = peer_of,
				      .peer_ctx = lv,
				      .follow = o->follow};

	memcpy(cfg.file, lv->out.file, sizeof(cfg.file));
	lv->pipe = pipeline_new(&cfg);
	if (!lv->pipe) {
		fprintf(stderr, "kafkalat: out of memory\n");
		return -ENOMEM;
	}
	if (pipeline_file_error(lv->pipe, PIPELINE_DUMP)) {
		fprintf(stderr, "kafkalat: writing %s failed: %s\n", o->dump_path,
			strerror(-pipeline_file_error(lv->pipe, PIPELINE_DUMP)));
		return -EIO;
	}
	return 0;
}

/* Without CAP_BPF and CAP_PERFMON nothing can be traced: say which are
 * missing before anything is loaded. An unreadable set is left to bpf(2). */
static int check_caps(struct live *lv)
{
	char missing[64];
	uint64_t eff;
	int n;

	if (caps_effective(&eff))
		return 0;
	n = caps_missing(eff, CAPS_FOR_BPF, missing, sizeof(missing));
	if (!n)
		return 0;
	fprintf(stderr,
		"kafkalat: missing %s %s: run as root, or with CAP_BPF and CAP_PERFMON (or "
		"CAP_SYS_ADMIN)\n",
		n > 1 ? "capabilities" : "capability", missing);
	lv->exit = KLT_EXIT_PRIVILEGE;
	return -1;
}

static int open_outputs(struct live *lv)
{
	return outputs_open(&lv->out);
}

static int open_record(struct live *lv)
{
	const struct cli_opts *o = lv->o;

	if (!o->record)
		return 0;
	return record_open(&lv->rec, o, lv->pids[0], lv->causes != NULL, live_stack_text, lv);
}

/* Between two steps of the attach: a stop signal or the brokers' exit ends
 * the run before it began. */
static int still_wanted(struct live *lv)
{
	int sig = pending_stop();

	if (sig) {
		fputs(stop_message(sig), stderr);
		lv->exit = KLT_EXIT_SIGNAL_BASE + sig;
		return -1;
	}
	if (lv->npids && brokers_gone(lv)) {
		if (lv->npids > 1)
			fprintf(stderr, "kafkalat: the brokers exited before tracing began\n");
		else
			fprintf(stderr,
				"kafkalat: the broker (pid %d) exited before tracing began\n",
				lv->pids[0]);
		lv->exit = KLT_EXIT_NO_TARGET;
		return -1;
	}
	return 0;
}

/* From the capabilities to the rings' waiter, in order; each step says
 * why it failed and sets lv->exit when that is not a plain failure. */
static int setup(struct live *lv)
{
	static int (*const steps[])(struct live *) = {
	    check_caps,	  find_targets, open_outputs,	load_probe,	  attach_probe,
	    start_causes, open_record,	start_pipeline, open_ring_waiter, start_bpf_stats,
	};
	sigset_t stops;

	stop_signals(&stops);
	signal(SIGINT, on_signal_loading);
	signal(SIGTERM, on_signal_loading);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (steps[i] == attach_probe) {
			sigprocmask(SIG_BLOCK, &stops, NULL);
			signal(SIGINT, on_signal);
			signal(SIGTERM, on_signal);
		}
		lv->exit = KLT_EXIT_FAILURE;
		if (steps[i](lv) || still_wanted(lv))
			return -1;
	}
	return 0;
}

/* Traces from the announcement to the summary: the exit status. */
static int trace(struct live *lv)
{
	const struct cli_opts *o = lv->o;
	struct klt_stats st = {0};
	const char *why;
	uint64_t t_start;
	int rc;

	cost_mark(lv, &lv->cost0);
	t_start = now_ns(CLOCK_MONOTONIC);
	pipeline_clock(lv->pipe, (int64_t)now_ns(CLOCK_REALTIME) - (int64_t)t_start);
	announce(lv);
	pipeline_record_begin(lv->pipe, t_start);
	claim_ports(lv);
	for (int i = 0; o->follow && i < lv->npids; i++)
		if (pipeline_broker_attached(lv->pipe, t_start, i, lv->pids[i]))
			return KLT_EXIT_FAILURE;
	if (o->record && o->record->cmd && (lv->child = record_spawn(o->record->cmd)) < 0)
		return KLT_EXIT_FAILURE;
	start_pacing(lv);
	why = poll_loop(lv, t_start, &st);
	set_nice(lv, lv->pace.base_nice); /* the summary and the teardown at full speed */
	if (why)
		fprintf(stderr, "kafkalat: stopping: %s\n", why);
	finish(lv, (double)(now_ns(CLOCK_MONOTONIC) - t_start) / 1e9, &st);
	rc = pipeline_error(lv->pipe) ? KLT_EXIT_FAILURE : KLT_EXIT_OK;
	if (o->record && why && strncmp(why, "the ", 4))
		rc = KLT_EXIT_FAILURE; /* a failure, not an end */
	/* quietly, with the status of a reader's usual end */
	if (rc == KLT_EXIT_OK && stdout_gone(lv))
		rc = KLT_EXIT_SIGNAL_BASE + SIGPIPE;
	return rc;
}

int live_run(const struct cli_opts *o)
{
	struct live lv = {.o = o,
			  .out = {.prog = "kafkalat",
				  .path = {[PIPELINE_REQUESTS] = o->requests_path,
					   [PIPELINE_FOLDED] = o->folded_path,
					   [PIPELINE_DUMP] = o->dump_path}},
			  .epfd = -1,
			  .stats_fd = -1,
			  .child_status = -1};
	sigset_t stops;
	int rc;

	stop_signals(&stops);
	signal(SIGPIPE, on_sigpipe);
	if (setup(&lv)) {
		/* a signal still pending dies with the process, unhandled */
		rc = lv.exit;
	} else {
		sigprocmask(SIG_UNBLOCK, &stops, NULL);
		rc = trace(&lv);
	}
	if (lv.child > 0) /* the run ended first: stopping it is no failure */
		record_child_stop(lv.child);
	if (o->record && record_close(&lv, rc == 0) != 0 && rc == KLT_EXIT_OK)
		rc = KLT_EXIT_FAILURE;
	if (lv.epfd >= 0)
		close(lv.epfd);
	if (lv.stats_fd >= 0)
		close(lv.stats_fd);
	if (outputs_close(&lv.out, lv.pipe) && rc == KLT_EXIT_OK)
		rc = KLT_EXIT_FAILURE;
	causes_destroy(lv.causes);
	pipeline_free(lv.pipe);
	ksyms__free(lv.ksyms);
	probe_destroy(lv.probe);
	return rc;
}

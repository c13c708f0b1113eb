// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkalat/cause.h"
#include "kafkalat/causes_dump.h"
#include "kafkalat/json.h"
#include "kafkalat/ksyms.h"
#include "kafkalat/probe_causes.h"

#define DUMP_POLL_MS 100 /* this debug command's own period, not the live tracer's */
#define MAX_PROGS    32
#define NTYPES	     (KLC_EV_MAX - KLC_EV_FILE)

static volatile sig_atomic_t dump_stop;

struct dump {
	struct causes *c;
	struct ksyms *ks; /* NULL: stacks as addresses */
	struct json j;
	uint64_t counts[NTYPES];
	uint64_t short_records;
};

static const char *const sys_names[KLC_SYS_KIND_MAX] = {
    "none",	"write", "pwrite64",  "writev", "pwritev",
    "pwritev2", "fsync", "fdatasync", "futex",	"close",
};

static const struct {
	const char *name;
	unsigned int bit;
} group_names[] = {
    {"file", KLC_G_FILE},   {"futex", KLC_G_FUTEX},	{"sched", KLC_G_SCHED},
    {"block", KLC_G_BLOCK}, {"journal", KLC_G_JOURNAL}, {"writeback", KLC_G_WRITEBACK},
    {"all", KLC_G_ALL},
};

static void on_signal(int sig)
{
	(void)sig;
	dump_stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void kdev(struct json *j, const char *key, uint32_t dev)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%u:%u", dev >> 20, dev & 0xfffff);
	json_kstr(j, key, buf);
}

/* A wait the kernel side recognised by its syscall (KLC_STACK_ID_STACKLESS):
 * the frames a walk would have shown, innermost first, marked as such. */
static bool print_stackless(struct dump *d, int stack_id)
{
	const struct cause_stackless *sl = cause_stackless(stack_id);

	if (!sl)
		return false;
	json_key(&d->j, "stackless");
	json_bool(&d->j, true);
	json_key(&d->j, "stack");
	json_arr_begin(&d->j);
	json_str(&d->j, sl->frames[0]);
	json_str(&d->j, sl->frames[1]);
	json_arr_end(&d->j);
	return true;
}

static void print_stack(struct dump *d, int stack_id)
{
	uint64_t ips[KLC_MAX_STACK];
	int n;
	char buf[KSYMS_MAX_NAME + 64];

	if (print_stackless(d, stack_id))
		return;
	n = causes_stack(d->c, stack_id, ips, KLC_MAX_STACK);

	if (n < 0) {
		json_key(&d->j, "stack");
		json_null(&d->j);
		return;
	}
	json_key(&d->j, "stack");
	json_arr_begin(&d->j);
	for (int i = 0; i < n; i++) {
		const struct ksym *s = d->ks ? ksyms__map_addr(d->ks, ips[i]) : NULL;

		if (s)
			snprintf(buf, sizeof(buf), "%s+0x%llx", s->name,
				 (unsigned long long)(ips[i] - s->addr));
		else
			snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)ips[i]);
		json_str(&d->j, buf);
	}
	json_arr_end(&d->j);
}

static void print_file(struct json *j, const struct klc_file_event *e)
{
	json_kstr(j, "kind", e->kind < KLC_SYS_KIND_MAX ? sys_names[e->kind] : "?");
	json_kuint(j, "tid", e->tid);
	json_kint(j, "fd", e->fd);
	json_kuint(j, "t_start_ns", e->t_start_ns);
	json_kuint(j, "t_end_ns", e->t_end_ns);
	json_kuint(j, "dur_ns", e->t_end_ns - e->t_start_ns);
	json_kint(j, "ret", e->ret);
	json_kint(j, "offset", e->offset);
	json_kuint(j, "ino", e->ino);
	kdev(j, "dev", e->dev);
}

static void print_futex(struct json *j, const struct klc_futex_event *e)
{
	json_kuint(j, "tid", e->tid);
	json_kuint(j, "uaddr", e->uaddr);
	json_kuint(j, "op", e->op);
	json_kuint(j, "t_start_ns", e->t_start_ns);
	json_kuint(j, "t_end_ns", e->t_end_ns);
	json_kuint(j, "dur_ns", e->t_end_ns - e->t_start_ns);
	json_kint(j, "ret", e->ret);
}

static void print_offcpu(struct dump *d, const struct klc_offcpu_event *e)
{
	struct json *j = &d->j;

	json_kuint(j, "tid", e->tid);
	json_kuint(j, "t_off_ns", e->t_off_ns);
	json_kuint(j, "t_on_ns", e->t_on_ns);
	json_kuint(j, "dur_ns", e->t_on_ns - e->t_off_ns);
	json_key(j, "blocked");
	json_bool(j, e->blocked);
	json_kuint(j, "prev_state", e->prev_state);
	json_kuint(j, "cpu", e->cpu);
	json_kuint(j, "t_wakeup_ns", e->t_wakeup_ns);
	/* time runnable but not running: from the wake-up, or the whole
	 * interval when preempted; unknown for a sleep whose waking we missed */
	json_key(j, "runq_ns");
	if (e->t_wakeup_ns && e->t_wakeup_ns <= e->t_on_ns)
		json_uint(j, e->t_on_ns - e->t_wakeup_ns);
	else if (!e->blocked)
		json_uint(j, e->t_on_ns - e->t_off_ns);
	else
		json_null(j);
	json_kuint(j, "waker_tid", e->waker_tid);
	json_kuint(j, "waker_tgid", e->waker_tgid);
	json_key(j, "waker_comm");
	json_strn(j, e->waker_comm, strnlen(e->waker_comm, sizeof(e->waker_comm)));
	json_kint(j, "stack_id", e->stack_id);
	if (e->stack_id != -1)
		print_stack(d, e->stack_id);
}

static void print_block(struct json *j, const struct klc_block_event *e)
{
	kdev(j, "dev", e->dev);
	kdev(j, "part_dev", e->part_dev);
	json_kuint(j, "sector", e->sector);
	json_kuint(j, "bytes", e->bytes);
	json_kuint(j, "op", e->cmd_flags & 0xff);
	json_kuint(j, "cmd_flags", e->cmd_flags);
	json_kint(j, "error", e->error);
	json_kuint(j, "t_issue_ns", e->t_issue_ns);
	json_kuint(j, "t_complete_ns", e->t_complete_ns);
	json_kuint(j, "latency_ns", e->t_complete_ns - e->t_issue_ns);
	json_kuint(j, "issue_tid", e->issue_tid);
	json_kuint(j, "issue_tgid", e->issue_tgid);
}

static void print_commit(struct json *j, const struct klc_jbd2_commit_event *e)
{
	kdev(j, "dev", e->dev);
	json_kuint(j, "transaction", e->tid);
	json_kuint(j, "t_start_ns", e->t_start_ns);
	json_kuint(j, "t_end_ns", e->t_end_ns);
	json_kuint(j, "commit_tid", e->commit_tid);
}

static void print_run(struct json *j, const struct klc_jbd2_run_event *e)
{
	kdev(j, "dev", e->dev);
	json_kuint(j, "transaction", e->tid);
	json_kuint(j, "ts_ns", e->ts_ns);
	json_kuint(j, "wait_jiffies", e->wait);
	json_kuint(j, "request_delay_jiffies", e->request_delay);
	json_kuint(j, "running_jiffies", e->running);
	json_kuint(j, "locked_jiffies", e->locked);
	json_kuint(j, "flushing_jiffies", e->flushing);
	json_kuint(j, "logging_jiffies", e->logging);
	json_kuint(j, "handle_count", e->handle_count);
	json_kuint(j, "blocks", e->blocks);
	json_kuint(j, "blocks_logged", e->blocks_logged);
}

static void print_handle(struct json *j, const struct klc_jbd2_handle_event *e)
{
	kdev(j, "dev", e->dev);
	json_kuint(j, "transaction", e->tid);
	json_kuint(j, "tid", e->thread);
	json_kuint(j, "ts_ns", e->ts_ns);
	json_kuint(j, "handle_type", e->handle_type);
	json_kuint(j, "line_no", e->line_no);
	json_kint(j, "interval_jiffies", e->interval);
	json_kint(j, "sync", e->sync);
	json_kint(j, "requested_blocks", e->requested_blocks);
	json_kint(j, "dirtied_blocks", e->dirtied_blocks);
}

static void print_throttle(struct json *j, const struct klc_dirty_throttle_event *e)
{
	json_kuint(j, "tid", e->tid);
	json_kuint(j, "ts_ns", e->ts_ns);
	json_kint(j, "pause_jiffies", e->pause);
	json_kuint(j, "period_jiffies", e->period);
	json_kuint(j, "paused_jiffies", e->paused);
	json_kuint(j, "dirty_ratelimit", e->dirty_ratelimit);
	json_kuint(j, "task_ratelimit", e->task_ratelimit);
	json_kuint(j, "dirtied", e->dirtied);
}

static void print_folio(struct json *j, const struct klc_folio_wait_event *e)
{
	json_kuint(j, "tid", e->tid);
	json_kuint(j, "ts_ns", e->ts_ns);
	json_kuint(j, "ino", e->ino);
	kdev(j, "dev", e->dev);
	json_kuint(j, "index", e->index);
}

/* The kernel cut and terminated the names; copy them bounded anyway. */
static void print_lost(struct json *j, const struct klc_lost_event *e)
{
	json_kuint(j, "t_first_ns", e->t_first_ns);
	json_kuint(j, "ts_ns", e->ts_ns);
	json_key(j, "counts");
	json_obj_begin(j);
	for (int k = 0; k < NTYPES; k++)
		if (e->counts[k])
			json_kuint(j, cause_event_name(KLC_EV_FILE + k), e->counts[k]);
	json_obj_end(j);
}

static void print_file_name(struct json *j, const struct klc_file_name_event *e)
{
	char name[KLC_NAME_LEN + 1], parent[KLC_PARENT_LEN + 1];

	memcpy(name, e->name, KLC_NAME_LEN);
	name[KLC_NAME_LEN] = '\0';
	memcpy(parent, e->parent, KLC_PARENT_LEN);
	parent[KLC_PARENT_LEN] = '\0';
	json_kint(j, "fd", e->fd);
	json_kuint(j, "ino", e->ino);
	kdev(j, "dev", e->dev);
	json_kstr(j, "parent", parent);
	json_kstr(j, "name", name);
}

static void print_thread(struct json *j, const struct klc_thread_event *e)
{
	json_kuint(j, "tid", e->tid);
	json_kuint(j, "tgid", e->tgid);
}

static void print_batch(struct json *j, const struct klc_batch_event *e)
{
	json_kuint(j, "tid", e->tid);
	json_kuint(j, "t_start_ns", e->t_start_ns);
	json_kint(j, "fd", e->fd);
	json_kint(j, "base_offset", e->base_offset);
	json_kint(j, "last_offset", e->last_offset);
	json_kuint(j, "batches", e->batches);
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct dump *d = ctx;
	uint32_t type, k;

	if (len < sizeof(type)) {
		d->short_records++;
		return 0;
	}
	memcpy(&type, data, sizeof(type));
	k = type - KLC_EV_FILE;
	if (!klc_event_size(type) || len < klc_event_size(type)) {
		d->short_records++;
		return 0;
	}
	d->counts[k]++;
	json_obj_begin(&d->j);
	json_kstr(&d->j, "type", cause_event_name(KLC_EV_FILE + k));
	switch (type) {
	case KLC_EV_FILE:
		print_file(&d->j, data);
		break;
	case KLC_EV_THREAD:
		print_thread(&d->j, data);
		break;
	case KLC_EV_BATCH:
		print_batch(&d->j, data);
		break;
	case KLC_EV_FUTEX:
		print_futex(&d->j, data);
		break;
	case KLC_EV_OFFCPU:
		print_offcpu(d, data);
		break;
	case KLC_EV_BLOCK:
		print_block(&d->j, data);
		break;
	case KLC_EV_JBD2_COMMIT:
		print_commit(&d->j, data);
		break;
	case KLC_EV_JBD2_RUN:
		print_run(&d->j, data);
		break;
	case KLC_EV_JBD2_HANDLE:
		print_handle(&d->j, data);
		break;
	case KLC_EV_DIRTY_THROTTLE:
		print_throttle(&d->j, data);
		break;
	case KLC_EV_FOLIO_WAIT:
		print_folio(&d->j, data);
		break;
	case KLC_EV_LOST:
		print_lost(&d->j, data);
		break;
	default:
		print_file_name(&d->j, data);
		break;
	}
	json_obj_end(&d->j);
	fputc('\n', d->j.out);
	return 0;
}

static int print_summary(struct dump *d, double secs)
{
	struct loader_prog_stats ps[MAX_PROGS];
	struct klc_stats st;
	int err = causes_stats(d->c, &st), n;

	if (err)
		return err;
	n = causes_prog_stats(d->c, ps, MAX_PROGS);
	json_obj_begin(&d->j);
	json_kstr(&d->j, "type", "summary");
	json_kuint(&d->j, "abi", KLC_ABI_VERSION);
	json_kdouble(&d->j, "seconds", secs);
	json_key(&d->j, "events");
	json_obj_begin(&d->j);
	for (int k = 0; k < NTYPES; k++)
		json_kuint(&d->j, cause_event_name(KLC_EV_FILE + k), d->counts[k]);
	json_obj_end(&d->j);
	json_kuint(&d->j, "lost_events", st.ringbuf_drops);
	json_key(&d->j, "lost_by_type");
	json_obj_begin(&d->j);
	for (int k = 0; k < NTYPES; k++)
		json_kuint(&d->j, cause_event_name(KLC_EV_FILE + k), st.drops[k]);
	json_obj_end(&d->j);
	json_kuint(&d->j, "bad_records", d->short_records);
	json_kuint(&d->j, "fd_lookups", st.fd_lookups);
	json_kuint(&d->j, "stack_errors", st.stack_errors);
	json_kuint(&d->j, "state_full", st.state_full);
	json_kuint(&d->j, "block_unmatched", st.block_unmatched);
	json_key(&d->j, "progs");
	json_arr_begin(&d->j);
	for (int i = 0; i < n; i++) {
		json_obj_begin(&d->j);
		json_kstr(&d->j, "name", ps[i].name);
		json_kuint(&d->j, "run_cnt", ps[i].run_cnt);
		json_kuint(&d->j, "run_time_ns", ps[i].run_time_ns);
		json_kuint(&d->j, "verified_insns", ps[i].verified_insns);
		json_obj_end(&d->j);
	}
	json_arr_end(&d->j);
	json_obj_end(&d->j);
	fputc('\n', d->j.out);
	return 0;
}

static int parse_groups(const char *s, unsigned int *out)
{
	char buf[128], *save = NULL, *tok;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	*out = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(group_names) / sizeof(group_names[0]); i++)
			if (!strcmp(tok, group_names[i].name))
				break;
		if (i == sizeof(group_names) / sizeof(group_names[0]))
			return -EINVAL;
		*out |= group_names[i].bit;
	}
	return *out ? 0 : -EINVAL;
}

static const char usage[] =
    "usage: kafkalat causes-dump -p PID [-p PID]... [-d SECONDS] [-g GROUPS] [--min-offcpu-us N]\n"
    "                            [--min-futex-us N] [-v]\n"
    "  prints every kernel-cause event of process PID as a JSON line, then a summary\n"
    "  GROUPS: comma list of file,futex,sched,block,journal,writeback (default all)\n";

static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int run(struct causes_opts *o, double secs)
{
	struct dump d = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	uint64_t t0, deadline;
	int err;

	json_init(&d.j, stdout);
	d.ks = ksyms__load(NULL); /* NULL: addresses only */
	err = causes_open(&d.c, o);
	if (!err)
		err = causes_load(d.c);
	if (!err)
		err = causes_attach(d.c, on_record, &d);
	if (err) {
		fprintf(stderr, "kafkalat causes-dump: %s\n", causes_error(d.c));
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "Tracing kernel causes of pid %d%s%s\n", o->pids[0],
		o->npids > 1 ? " and more" : "",
		d.ks ? "" : " (no kernel symbols: stacks as addresses)");
	t0 = mono_ns();
	deadline = secs > 0 ? t0 + (uint64_t)(secs * 1e9) : UINT64_MAX;
	while (!dump_stop && mono_ns() < deadline) {
		err = causes_poll(d.c, DUMP_POLL_MS);
		if (err < 0) {
			fprintf(stderr, "kafkalat causes-dump: %s\n", causes_error(d.c));
			goto out;
		}
	}
	err = causes_poll(d.c, 0); /* what is left in the ring */
	if (err >= 0)
		err = print_summary(&d, (double)(mono_ns() - t0) / 1e9);
	if (err < 0)
		fprintf(stderr, "kafkalat causes-dump: %s\n", causes_error(d.c));
	else
		err = 0;
out:
	fflush(stdout);
	causes_destroy(d.c);
	ksyms__free(d.ks);
	return err ? 1 : 0;
}

int causes_dump_main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"pid", required_argument, NULL, 'p'},
	    {"duration", required_argument, NULL, 'd'},
	    {"groups", required_argument, NULL, 'g'},
	    {"min-offcpu-us", required_argument, NULL, 'O'},
	    {"min-futex-us", required_argument, NULL, 'F'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct causes_opts o = {0};
	long long v;
	double secs = 0;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:d:g:vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_num(optarg, 1, 0x7fffffff, &v) || o.npids >= KLT_MAX_BROKERS)
				goto bad;
			o.pids[o.npids++] = (int)v;
			break;
		case 'd':
			if (parse_num(optarg, 1, 86400, &v))
				goto bad;
			secs = (double)v;
			break;
		case 'g':
			if (parse_groups(optarg, &o.groups))
				goto bad;
			break;
		case 'O':
		case 'F':
			if (parse_num(optarg, 0, 1000000000, &v))
				goto bad;
			*(opt == 'O' ? &o.min_offcpu_ns : &o.min_futex_ns) = (uint64_t)v * 1000;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			goto bad_usage;
		}
	}
	if (optind != argc || !o.npids)
		goto bad_usage;
	return run(&o, secs);
bad:
	fprintf(stderr, "kafkalat causes-dump: bad value for -%c: %s\n", opt, optarg);
	return 2;
bad_usage:
	fputs(usage, stderr);
	return 2;
}

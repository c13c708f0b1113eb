// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The tail composition in the reports: bands, tops, journal overlap, and a
 * request's attribution in --requests and --slower lines (docs/json.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/json.h"
#include "kafkalat/replication.h"
#include "kafkalat/fmt.h"
#include "kafkalat/report_tail.h"

static const char *const cause_words[ATTRIB_CAUSES] = {
    [CAUSE_CPU] = "running on a CPU",
    [CAUSE_RUNQ] = "runnable, waiting for a CPU",
    [CAUSE_JOURNAL] = "waiting for the filesystem journal (jbd2) to commit",
    [CAUSE_WRITEBACK] = "waiting for pages under writeback to reach the disk",
    [CAUSE_DIRTY_THROTTLE] = "throttled for dirtying pages faster than the disk writes them",
    [CAUSE_BLKIO] = "waiting for block I/O",
    [CAUSE_INODE_LOCK] = "waiting for the file's inode lock",
    [CAUSE_FUTEX] = "waiting for a lock or condition held by another thread (futex)",
    [CAUSE_PAGEFAULT] = "blocked in a page fault",
    [CAUSE_RECLAIM] = "reclaiming memory",
    [CAUSE_NET] = "waiting on a socket",
    [CAUSE_OTHER] = "blocked in the kernel elsewhere",
    [ATTRIB_CAUSE_QUEUED] = "queued, waiting for another broker thread to pick it up",
    [ATTRIB_CAUSE_HOL] = "waiting in the socket behind an earlier request on its connection",
    [ATTRIB_CAUSE_THROTTLE_MUTE] = "waiting in the socket while a quota throttle muted it",
    [ATTRIB_CAUSE_NET_THREAD] = "waiting in the socket while the network thread was busy",
    [ATTRIB_CAUSE_UNKNOWN] = "on the wire or in the socket, for no reason kafkalat saw",
    [ATTRIB_CAUSE_REPLICA_FETCH] =
	"waiting for a follower's next fetch (its round trip, not its append)",
};

/* What a head-of-line wait waited behind, in words ("stalled in ..."). */
static const char *root_words(unsigned int cause)
{
	switch (cause) {
	case CAUSE_CPU:
		return "running on a CPU";
	case CAUSE_RUNQ:
		return "waiting for a CPU";
	case CAUSE_JOURNAL:
		return "the journal";
	case CAUSE_WRITEBACK:
		return "writeback";
	case CAUSE_DIRTY_THROTTLE:
		return "dirty-page throttling";
	case CAUSE_BLKIO:
		return "block I/O";
	case ATTRIB_CAUSE_QUEUED:
		return "the request queue";
	case ATTRIB_CAUSE_UNKNOWN:
		return "something kafkalat did not see";
	case ATTRIB_CAUSE_REPLICA_FETCH:
		return "a follower's fetch";
	default:
		return attrib_cause_name(cause);
	}
}

const char *report_cause_words(unsigned int cause)
{
	return cause < ATTRIB_CAUSES ? cause_words[cause] : "?";
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static int cmp_time(const void *x, const void *y)
{
	const struct band_top *a = x, *b = y;

	if (a->total_ns != b->total_ns)
		return a->total_ns > b->total_ns ? -1 : 1;
	return a->requests > b->requests ? -1 : a->requests < b->requests;
}

/* Stacks rank by the time behind them: one 900 ms journal wait explains more
 * of the tail than thirty 3 ms futex waits. */
static size_t top_stacks_by_time(const struct bands *b, struct band_top *out, bool *cut)
{
	const size_t max = 1 << 16; /* more distinct stacks than requests kept */
	struct band_top *all = calloc(max, sizeof(*all));
	size_t n;

	if (!all)
		return bands_top(b, BAND_TOP_STACK, out, REPORT_TOPS, cut);
	n = bands_top(b, BAND_TOP_STACK, all, max, cut);
	qsort(all, n, sizeof(*all), cmp_time);
	n = n < REPORT_TOPS ? n : REPORT_TOPS;
	memcpy(out, all, n * sizeof(*out));
	free(all);
	return n;
}

void report_tail_fill_bands(struct report_tail *out, const struct bands *b,
			    bands_stack_text_fn stack_text, void *ctx)
{
	memset(out, 0, sizeof(*out));
	bands_summary(b, out->bands);
	for (unsigned k = 0; k < BAND_TOPS; k++) {
		bool cut = false;

		if (k == BAND_TOP_STACK)
			out->ntop[k] = top_stacks_by_time(b, out->top[k], &cut);
		else
			out->ntop[k] =
			    bands_top(b, (enum band_top_kind)k, out->top[k], REPORT_TOPS, &cut);
		out->top_truncated |= cut;
	}
	bands_time(b, BAND_GE_P99, &out->time[0]);
	bands_time(b, BAND_GE_P999, &out->time[1]);
	for (size_t i = 0; i < out->ntop[BAND_TOP_STACK]; i++)
		stack_text(ctx, out->top[BAND_TOP_STACK][i].stack_id, out->top_stack[i],
			   sizeof(out->top_stack[i]));
	out->no_wire = bands_no_wire(b);
}

static void explain_text(void *ctx, int32_t stack_id, char *buf, size_t len)
{
	explain_stack_text(ctx, stack_id, ";", buf, len);
}

void report_tail_fill(struct report_tail *out, const struct explain *t)
{
	const struct bands *b = explain_bands(t);

	report_tail_fill_bands(out, b, explain_text, (void *)t);
	history_journal(explain_history(t), b, &out->journal);
	out->attrib = *explain_attrib_stats(t);
	out->stats = *explain_stats(t);
}

static uint64_t attributed(const struct report_tail *rt)
{
	return rt->attrib.unmatched[ATTRIB_MATCHED];
}

static uint64_t unattributed(const struct report_tail *rt)
{
	uint64_t n = 0;

	for (unsigned u = 1; u < ATTRIB_UNM_MAX; u++)
		n += rt->attrib.unmatched[u];
	return n;
}

/* ---- text ---- */

static const char *const band_labels[BANDS] = {"< p50", "p50-p99", ">= p99", ">= p999"};

/* The table's columns: every phase, but replication and response_queue
 * only when a band has some (acks=all with its releases found). */
static bool phase_column(const struct report_tail *rt, int p)
{
	if (p != ATTRIB_REPLICATION && p != ATTRIB_RESPONSE_QUEUE)
		return true;
	for (unsigned b = 0; b < BANDS; b++)
		if (rt->bands[b].phase_pct[p] > 0)
			return true;
	return false;
}

static void band_line(FILE *out, const struct report_tail *rt, unsigned band,
		      const struct band_summary *s)
{
	char lo[16], hi[16], range[40];

	fmt_ns(s->lo_ns, lo, sizeof(lo));
	fmt_ns(s->hi_ns, hi, sizeof(hi));
	snprintf(range, sizeof(range), "%s-%s", lo, hi);
	fprintf(out, "  %-8s %9" PRIu64 "  %-17s", band_labels[band], s->requests,
		s->requests ? range : "-");
	for (int p = 0; p < ATTRIB_PHASES; p++)
		if (phase_column(rt, p))
			fprintf(out, " %6.1f%%", s->phase_pct[p]);
	fputc('\n', out);
}

/* The causes of a band, largest first, those of at least 1%. */
static void cause_line(FILE *out, unsigned band, const struct band_summary *s)
{
	bool used[ATTRIB_CAUSES] = {false};
	int shown = 0;

	fprintf(out, "  %-8s ", band_labels[band]);
	for (;;) {
		int best = -1;

		for (int c = 0; c < ATTRIB_CAUSES; c++)
			if (!used[c] && s->cause_pct[c] >= 1.0 &&
			    (best < 0 || s->cause_pct[c] > s->cause_pct[best]))
				best = c;
		if (best < 0)
			break;
		used[best] = true;
		fprintf(out, "%s%s %.1f%%", shown++ ? ", " : "", attrib_cause_name((unsigned)best),
			s->cause_pct[best]);
	}
	fprintf(out, "%s\n", shown ? "" : "-");
}

/* "name 45%, name 30%" over the entries of at least 1%, largest first;
 * returns the largest's index (n if none). */
static unsigned list_pcts(FILE *out, const double *v, unsigned n, const char *(*name)(unsigned))
{
	bool used[ATTRIB_CAUSES] = {false};
	unsigned first = n;

	for (int shown = 0;; shown++) {
		unsigned best = n;

		for (unsigned i = 0; i < n; i++)
			if (!used[i] && v[i] >= 1.0 && (best == n || v[i] > v[best]))
				best = i;
		if (best == n)
			break;
		used[best] = true;
		if (first == n)
			first = best;
		fprintf(out, "%s%s %.0f%%", shown ? ", " : "", name(best), v[best]);
	}
	return first;
}

/* The bound beside the band, never in its time. */
static void flow_line(FILE *out, const struct band_time *bt)
{
	char total[16], mx[16];

	if (!bt->flow_requests)
		return;
	fmt_ns(bt->flow_total_ns, total, sizeof(total));
	fmt_ns(bt->flow_max_ns, mx, sizeof(mx));
	fprintf(out,
		"  %-8s flow control: %" PRIu64 " of them arrived after a full receive window: "
		"up to %s more each, %s in all, not in the latency\n",
		"", bt->flow_requests, mx, total);
}

static void time_lines(FILE *out, const struct report_tail *rt)
{
	static const char *const label[2] = {">= p99", ">= p999"};
	char total[16];

	if (!rt->time[0].requests)
		return;
	fprintf(out, "  by time (each phase's and cause's share of the band's summed latency):\n");
	for (int i = 0; i < 2; i++) {
		const struct band_time *bt = &rt->time[i];

		if (!bt->requests)
			continue;
		fmt_ns(bt->total_ns, total, sizeof(total));
		fprintf(out, "  %-8s %" PRIu64 " request%s%s, %s: ", label[i], bt->requests,
			bt->requests == 1 ? "" : "s", bt->complete ? "" : " (the slowest kept)",
			total);
		list_pcts(out, bt->phase_pct, ATTRIB_PHASES, attrib_phase_name);
		fputs("; ", out);
		list_pcts(out, bt->cause_pct, ATTRIB_CAUSES, attrib_cause_name);
		fputc('\n', out);
		if (bt->cause_pct[ATTRIB_CAUSE_HOL] >= 1.0) {
			fprintf(
			    out,
			    "  %-8s root causes (head-of-line waits shared out as the causes of "
			    "the requests waited behind): ",
			    "");
			list_pcts(out, bt->root_pct, ATTRIB_CAUSES, attrib_cause_name);
			fputc('\n', out);
		}
		flow_line(out, bt);
	}
}

static unsigned largest(const double *v, unsigned n, unsigned skip)
{
	unsigned best = n;

	for (unsigned i = 0; i < n; i++)
		if (i != skip && (best == n || v[i] > v[best]))
			best = i;
	return best;
}

/* "a;b;c" as "a <- b <- c", at most max frames. */
static void print_stack(FILE *out, const char *stack, int max)
{
	int n = 0;

	for (const char *p = stack; *p && n < max; n++) {
		const char *e = strchr(p, ';');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		fprintf(out, "%s%.*s", n ? " <- " : "", (int)l, p);
		if (!e)
			return;
		p = e + 1;
	}
	if (n == max)
		fputs(" <- ...", out);
}

/* A head-of-line wait in words: what the requests waited behind. Returns
 * the root cause behind most of that wait. */
static unsigned hol_sentence(FILE *out, const struct band_time *bt)
{
	unsigned root = largest(bt->hol_pct, ATTRIB_CAUSES, ATTRIB_CAUSE_HOL);

	fprintf(out,
		"  %.0f%% of the >= p99 time: waiting in the socket behind requests stalled in %s; "
		"with those waits shared out as their causes, %s is %.0f%% of it.\n",
		bt->cause_pct[ATTRIB_CAUSE_HOL], root_words(root), attrib_cause_name(root),
		bt->root_pct[root]);
	return root;
}

/* The top stack of a cause, if one was recorded. */
static void where_text(FILE *out, const struct report_tail *rt, unsigned cause)
{
	const char *name = attrib_cause_name(cause);

	for (size_t i = 0; i < rt->ntop[BAND_TOP_STACK]; i++) {
		const struct band_top *tp = &rt->top[BAND_TOP_STACK][i];

		if (strncmp(tp->key, name, strlen(name)) || !rt->top_stack[i][0])
			continue;
		fprintf(out, "  Where in the kernel (%s): ", tp->key);
		print_stack(out, rt->top_stack[i], 16);
		fputc('\n', out);
		return;
	}
}

/* Whom replication waited for, when it is a large part of the time: the
 * follower whose fetches released most of it, and what its appends (of the
 * batches and those before them on its fetcher) were stuck in. */
static void release_sentence(FILE *out, const struct band_time *bt)
{
	unsigned c = largest(bt->release_append_pct, ATTRIB_CAUSES, ATTRIB_CAUSES);
	double append = 0;

	if (bt->release_replica < 0 || bt->release_pct < 10.0)
		return;
	for (int k = 0; k < ATTRIB_CAUSES; k++)
		append += bt->release_append_pct[k];
	fprintf(out, "  %.0f%% of their time was replication waiting for replica %d",
		bt->release_pct, bt->release_replica);
	if (bt->release_tgid)
		fprintf(out, " (pid %u)", bt->release_tgid);
	if (c < ATTRIB_CAUSES && bt->release_append_pct[c] >= 1.0)
		fprintf(out, ", %.0f%% in its appends (%s %.0f%%: %s)", append,
			attrib_cause_name(c), bt->release_append_pct[c], report_cause_words(c));
	else
		fputs(", all of it its fetch round trip (no append of theirs seen on it)", out);
	fputs(".\n", out);
}

/* The answer in words: what the >= p99 requests' time went to (by time), the
 * cause behind most of it (behind the requests they waited for, when that
 * is a head-of-line wait), and the stack that shows it. */
void report_tail_story(FILE *out, const struct report_tail *rt)
{
	const struct band_time *bt = &rt->time[0];
	unsigned phase, cause, next, root;
	char lo[16], hi[16], total[16];

	if (!bt->requests)
		return;
	phase = largest(bt->phase_pct, ATTRIB_PHASES, ATTRIB_PHASES);
	cause = largest(bt->cause_pct, ATTRIB_CAUSES, ATTRIB_CAUSES);
	fmt_ns(rt->bands[BAND_GE_P99].lo_ns, lo, sizeof(lo));
	fmt_ns(rt->bands[BAND_GE_P99].hi_ns, hi, sizeof(hi));
	fmt_ns(bt->total_ns, total, sizeof(total));
	fprintf(out,
		"\nWhy the tail is slow: the slowest produce requests (>= p99: %" PRIu64
		" request%s of %s to %s, %s in all) spent %.0f%% of their time in the %s phase.\n"
		"  The largest cause is %s, %.0f%% of their time: %s.\n",
		bt->requests, bt->requests == 1 ? "" : "s", lo, hi, total, bt->phase_pct[phase],
		attrib_phase_name(phase), attrib_cause_name(cause), bt->cause_pct[cause],
		report_cause_words(cause));
	release_sentence(out, bt);
	root = cause == ATTRIB_CAUSE_HOL ? hol_sentence(out, bt) : cause;
	next = largest(bt->cause_pct, ATTRIB_CAUSES, cause);
	if (next < ATTRIB_CAUSES && bt->cause_pct[next] >= 10.0)
		fprintf(out, "  Next: %s, %.0f%%: %s.\n", attrib_cause_name(next),
			bt->cause_pct[next], report_cause_words(next));
	where_text(out, rt, root);
}

static void tops_text(FILE *out, const struct report_tail *rt)
{
	static const char *const what[BAND_TOPS] = {"partitions", "clients", "stacks"};
	char total[16];

	if (rt->ntop[BAND_TOP_STACK])
		fprintf(out, "  top kernel stacks behind >= p99 (cause:frame, requests, time):\n");
	for (size_t i = 0; i < rt->ntop[BAND_TOP_STACK]; i++) {
		const struct band_top *tp = &rt->top[BAND_TOP_STACK][i];

		fmt_ns(tp->total_ns, total, sizeof(total));
		fprintf(out, "    %s  %" PRIu64 " requests, %s\n      ", tp->key, tp->requests,
			total);
		if (rt->top_stack[i][0])
			print_stack(out, rt->top_stack[i], 14);
		else
			fputs("(stack not recorded)", out);
		fputc('\n', out);
	}
	for (unsigned k = BAND_TOP_PARTITION; k <= BAND_TOP_CLIENT; k++) {
		if (!rt->ntop[k])
			continue;
		fprintf(out, "  top %s behind >= p99:", what[k]);
		for (size_t i = 0; i < rt->ntop[k]; i++)
			fprintf(out, "%s %s (%" PRIu64 ")", i ? "," : "", rt->top[k][i].key,
				rt->top[k][i].requests);
		fputc('\n', out);
	}
	if (rt->top_truncated)
		fprintf(out, "  (tops from the slowest requests kept, not all of >= p99)\n");
}

static void journal_text(FILE *out, const struct report_tail *rt)
{
	const struct journal_overlap *j = &rt->journal;
	char t[16];

	if (!j->requests)
		return;
	fmt_ns(j->commit_longest_ns, t, sizeof(t));
	fprintf(out,
		"  journal commits overlapping the %" PRIu64 " >= p999 requests: %" PRIu64
		" (%" PRIu64 " of the requests overlapped one)",
		j->requests, j->commits, j->requests_with_commit);
	if (j->commits)
		fprintf(out, ", longest %s on %u:%u", t, j->commit_dev >> 20,
			j->commit_dev & 0xfffff);
	fmt_ns(j->block_longest_ns, t, sizeof(t));
	fprintf(out, "\n  block I/O overlapping them: %" PRIu64, j->block_ios);
	if (j->block_ios)
		fprintf(out, ", longest %s on %u:%u", t, j->block_dev >> 20,
			j->block_dev & 0xfffff);
	fputc('\n', out);
}

static void accounting_text(FILE *out, const struct report_tail *rt)
{
	fprintf(out, "  attributed %" PRIu64 ", not attributed %" PRIu64, attributed(rt),
		unattributed(rt));
	for (unsigned u = 1; u < ATTRIB_UNM_MAX; u++)
		if (rt->attrib.unmatched[u])
			fprintf(out, " (%s %" PRIu64 ")", attrib_unmatched_name(u),
				rt->attrib.unmatched[u]);
	if (rt->no_wire)
		fprintf(out, "; without wire times, not in the bands %" PRIu64, rt->no_wire);
	fprintf(out, "; cause events lost %" PRIu64, rt->lost_events);
	if (rt->attrib.ambiguous_resolved)
		fprintf(out, "; handler chosen by time order %" PRIu64,
			rt->attrib.ambiguous_resolved);
	if (rt->attrib.by_batch_id)
		fprintf(out, "; handler chosen by batch id %" PRIu64, rt->attrib.by_batch_id);
	if (rt->stats.unnamed_writes)
		fprintf(out, "; writes to unnamed files %" PRIu64, rt->stats.unnamed_writes);
	if (rt->stats.unknown_topic_ids)
		fprintf(out, "; topics named by an unknown id %" PRIu64,
			rt->stats.unknown_topic_ids);
	if (rt->stats.early)
		fprintf(out, "; attributed before their causes arrived %" PRIu64, rt->stats.early);
	fputc('\n', out);
}

void report_tail_text(FILE *out, const struct report_tail *rt)
{
	fprintf(out, "\nTail composition of produce requests (bands by latency; the mean share "
		     "of each request's latency):\n");
	fprintf(out, "  %-8s %9s  %-17s", "band", "requests", "latency");
	for (int p = 0; p < ATTRIB_PHASES; p++)
		if (phase_column(rt, p))
			fprintf(out, " %7.7s", attrib_phase_name((unsigned)p));
	fputc('\n', out);
	for (unsigned b = 0; b < BANDS; b++)
		band_line(out, rt, b, &rt->bands[b]);
	fprintf(out, "  causes:\n");
	for (unsigned b = 0; b < BANDS; b++)
		cause_line(out, b, &rt->bands[b]);
	time_lines(out, rt);
	accounting_text(out, rt);
	report_tail_story(out, rt);
	tops_text(out, rt);
	journal_text(out, rt);
}

/* ---- JSON ---- */

static void json_pcts(struct json *j, const char *key, const double *v, unsigned n,
		      const char *(*name)(unsigned))
{
	json_key(j, key);
	json_obj_begin(j);
	for (unsigned i = 0; i < n; i++)
		json_kdouble(j, name(i), v[i]);
	json_obj_end(j);
}

/* Weighted by time: the same shares of the band's summed latency. */
static void json_band_time(struct json *j, const struct band_time *bt)
{
	json_key(j, "by_time");
	json_obj_begin(j);
	json_kuint(j, "requests", bt->requests);
	json_key(j, "complete");
	json_bool(j, bt->complete);
	json_kdouble(j, "total_us", us(bt->total_ns));
	json_pcts(j, "phases_pct", bt->phase_pct, ATTRIB_PHASES, attrib_phase_name);
	json_pcts(j, "causes_pct", bt->cause_pct, ATTRIB_CAUSES, attrib_cause_name);
	json_pcts(j, "root_causes_pct", bt->root_pct, ATTRIB_CAUSES, attrib_cause_name);
	json_pcts(j, "hol_by_root_pct", bt->hol_pct, ATTRIB_CAUSES, attrib_cause_name);
	json_key(j, "flow_blocked");
	json_obj_begin(j);
	json_kuint(j, "requests", bt->flow_requests);
	json_kdouble(j, "max_us", us(bt->flow_max_ns));
	json_kdouble(j, "total_us", us(bt->flow_total_ns));
	json_obj_end(j);
	if (bt->release_replica >= 0 && bt->release_pct > 0) {
		json_key(j, "release");
		json_obj_begin(j);
		json_kint(j, "replica", bt->release_replica);
		json_kuint(j, "pid", bt->release_tgid);
		json_kdouble(j, "pct", bt->release_pct);
		json_obj_end(j);
	}
	json_obj_end(j);
}

static void json_bands(struct json *j, const struct report_tail *rt)
{
	json_key(j, "bands");
	json_obj_begin(j);
	for (unsigned b = 0; b < BANDS; b++) {
		const struct band_summary *s = &rt->bands[b];

		json_key(j, band_name(b));
		json_obj_begin(j);
		json_kuint(j, "requests", s->requests);
		json_kdouble(j, "min_us", s->requests ? us(s->lo_ns) : 0);
		json_kdouble(j, "max_us", s->requests ? us(s->hi_ns) : 0);
		json_pcts(j, "phases_pct", s->phase_pct, ATTRIB_PHASES, attrib_phase_name);
		json_pcts(j, "causes_pct", s->cause_pct, ATTRIB_CAUSES, attrib_cause_name);
		if (b >= BAND_GE_P99)
			json_band_time(j, &rt->time[b - BAND_GE_P99]);
		json_obj_end(j);
	}
	json_obj_end(j);
}

/* "journal:wait_transaction_locked" -> cause and frame */
static void json_stack_key(struct json *j, const char *key)
{
	const char *colon = strchr(key, ':');

	if (!colon) {
		json_kstr(j, "cause", key);
		return;
	}
	json_key(j, "cause");
	json_strn(j, key, (size_t)(colon - key));
	json_kstr(j, "frame", colon + 1);
}

static void json_frames(struct json *j, const char *stack)
{
	json_key(j, "stack");
	json_arr_begin(j);
	for (const char *p = stack; p && *p;) {
		const char *e = strchr(p, ';');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		json_strn(j, p, l);
		p = e ? e + 1 : NULL;
	}
	json_arr_end(j);
}

static void json_tops(struct json *j, const struct report_tail *rt, unsigned kind, const char *key,
		      const char *name)
{
	json_key(j, key);
	json_arr_begin(j);
	for (size_t i = 0; i < rt->ntop[kind]; i++) {
		const struct band_top *tp = &rt->top[kind][i];

		json_obj_begin(j);
		if (kind == BAND_TOP_STACK)
			json_stack_key(j, tp->key);
		else
			json_kstr(j, name, tp->key);
		json_kuint(j, "requests", tp->requests);
		json_kdouble(j, kind == BAND_TOP_STACK ? "time_us" : "latency_us_sum",
			     us(tp->total_ns));
		if (kind == BAND_TOP_STACK)
			json_frames(j, rt->top_stack[i]);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void json_dev(struct json *j, const char *key, uint32_t dev)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%u:%u", dev >> 20, dev & 0xfffff);
	json_kstr(j, key, buf);
}

static void json_journal(struct json *j, const struct report_tail *rt)
{
	const struct journal_overlap *jn = &rt->journal;

	json_key(j, "journal");
	json_obj_begin(j);
	json_kuint(j, "requests", jn->requests);
	json_kuint(j, "commits", jn->commits);
	json_kuint(j, "requests_with_commit", jn->requests_with_commit);
	json_kdouble(j, "longest_commit_us", us(jn->commit_longest_ns));
	if (jn->commits)
		json_dev(j, "commit_device", jn->commit_dev);
	json_kuint(j, "block_ios", jn->block_ios);
	json_kdouble(j, "longest_block_io_us", us(jn->block_longest_ns));
	if (jn->block_ios)
		json_dev(j, "block_device", jn->block_dev);
	json_kuint(j, "commits_seen", rt->stats.commits);
	json_kuint(j, "block_ios_seen", rt->stats.block_requests);
	json_obj_end(j);
}

static const char *unm_name(unsigned u)
{
	return attrib_unmatched_name(u);
}

static void json_attribution(struct json *j, const struct report_tail *rt)
{
	json_key(j, "attribution");
	json_obj_begin(j);
	json_kuint(j, "requests", attributed(rt));
	json_key(j, "unmatched");
	json_obj_begin(j);
	json_kuint(j, "requests", unattributed(rt));
	json_key(j, "reasons");
	json_obj_begin(j);
	for (unsigned u = 1; u < ATTRIB_UNM_MAX; u++)
		if (rt->attrib.unmatched[u])
			json_kuint(j, unm_name(u), rt->attrib.unmatched[u]);
	json_obj_end(j);
	json_obj_end(j);
	json_kuint(j, "no_wire", rt->no_wire);
	json_kuint(j, "handler_by_time_order", rt->attrib.ambiguous_resolved);
	json_kuint(j, "handler_by_batch_id", rt->attrib.by_batch_id);
	json_kuint(j, "lost_events", rt->lost_events);
	json_kuint(j, "stack_errors", rt->stack_errors);
	json_kstr(j, "file_events", rt->file_events ? rt->file_events : "none");
	json_kuint(j, "bad_records", rt->stats.bad_records);
	json_kuint(j, "segment_writes", rt->stats.segment_writes);
	json_kuint(j, "unnamed_writes", rt->stats.unnamed_writes);
	json_kuint(j, "topic_ids", rt->stats.topic_ids);
	json_kuint(j, "unknown_topic_ids", rt->stats.unknown_topic_ids);
	json_kuint(j, "early", rt->stats.early);
	json_kuint(j, "history_dropped", rt->attrib.dropped + rt->attrib.threads_full);
	json_kuint(j, "history_bytes", rt->attrib.bytes);
	json_obj_end(j);
}

void report_tail_json(struct json *j, const struct report_tail *rt)
{
	json_attribution(j, rt);
	json_bands(j, rt);
	json_tops(j, rt, BAND_TOP_PARTITION, "top_partitions", "partition");
	json_tops(j, rt, BAND_TOP_CLIENT, "top_clients", "client");
	json_tops(j, rt, BAND_TOP_STACK, "top_stacks", NULL);
	json_journal(j, rt);
}

/* ---- one request ---- */

static const char *top_cause_name(const struct attrib_result *res, char *buf, size_t len)
{
	if (res->top_cause == CAUSE_OTHER) {
		snprintf(buf, len, "other:%s",
			 res->top_frame && *res->top_frame ? res->top_frame : "unknown");
		return buf;
	}
	return attrib_cause_name(res->top_cause);
}

/* Causes with time, µs. */
static void json_causes(struct json *j, const char *key, const int64_t ns[ATTRIB_CAUSES])
{
	json_key(j, key);
	json_obj_begin(j);
	for (unsigned c = 0; c < ATTRIB_CAUSES; c++)
		if (ns[c])
			json_kdouble(j, attrib_cause_name(c), (double)ns[c] / 1000.0);
	json_obj_end(j);
}

/* What its socket wait waited behind. */
static void json_hol(struct json *j, const struct attrib_result *res)
{
	json_key(j, "hol");
	json_obj_begin(j);
	json_kdouble(j, "us", (double)res->hol_ns / 1000.0);
	json_kint(j, "behind_corr", res->hol_corr_id);
	json_kstr(j, "root_cause", attrib_cause_name(res->hol_root_cause));
	json_kstr(j, "root_phase", attrib_phase_name(res->hol_root_phase));
	json_kint(j, "root_corr", res->hol_root_corr_id);
	json_obj_end(j);
}

/* A request lists post_append, or replication and response_queue when its
 * release was found (its post_append is then 0). */
static bool request_phase(const struct attrib_result *res, unsigned p)
{
	bool released = res->released;

	if (p == ATTRIB_POST_APPEND)
		return !released;
	if (p == ATTRIB_REPLICATION || p == ATTRIB_RESPONSE_QUEUE)
		return released;
	return true;
}

/* An acks=all request's release: the follower fetch that let the leader answer. */
static void json_release(struct json *j, const struct attrib_result *res)
{
	if (!res->repl_asked)
		return;
	json_key(j, "release");
	json_obj_begin(j);
	if (!res->released) {
		json_kstr(j, "none", repl_none_name(res->repl_none));
	} else {
		json_kint(j, "replica", res->release_replica);
		json_kuint(j, "tgid", res->release_tgid);
		json_kuint(j, "t_release_ns", res->t_release);
		json_kdouble(j, "follower_append_us", (double)res->follower_append_ns / 1000.0);
	}
	json_obj_end(j);
	if (res->root_broker)
		json_kuint(j, "root_broker", res->root_broker);
}

void report_attrib_json(struct json *j, const struct report_attrib *a)
{
	const struct attrib_result *res = a->res;
	int64_t total[ATTRIB_CAUSES] = {0};
	char name[300];

	json_kstr(j, "attrib", attrib_unmatched_name(res->unmatched));
	json_kuint(j, "handler_tid", res->handler);
	if (res->unmatched == ATTRIB_MATCHED) {
		json_kuint(j, "t_dequeue_ns", res->t_dequeue);
		json_kuint(j, "t_append_start_ns", res->t_append_start);
		json_kuint(j, "t_append_end_ns", res->t_append_end);
	}
	json_key(j, "phases_us");
	json_obj_begin(j);
	for (unsigned p = 0; p < ATTRIB_PHASES; p++)
		if (request_phase(res, p))
			json_kdouble(j, attrib_phase_name(p), (double)res->phase_ns[p] / 1000.0);
	json_obj_end(j);
	if (res->unattributed_ns)
		json_kdouble(j, "unattributed_us", (double)res->unattributed_ns / 1000.0);
	for (unsigned p = 0; p < ATTRIB_PHASES; p++)
		for (unsigned c = 0; c < ATTRIB_CAUSES; c++)
			total[c] += res->cause_ns[p][c];
	json_causes(j, "causes_us", total);
	json_kstr(j, "top_cause", top_cause_name(res, name, sizeof(name)));
	json_kstr(j, "top_phase", attrib_phase_name(res->top_phase));
	json_kdouble(j, "top_us", (double)res->top_ns / 1000.0);
	if (res->top_waker_tid)
		json_kstr(j, "top_waker", res->top_waker_comm ? res->top_waker_comm : "");
	json_kstr(j, "root_cause", attrib_cause_name(res->root_cause));
	json_kint(j, "root_corr", res->root_corr_id);
	if (res->hol_ns > 0) {
		json_causes(j, "root_causes_us", res->root_ns);
		json_hol(j, res);
	}
	json_release(j, res);
	if (a->stack && *a->stack)
		json_frames(j, a->stack);
}

static void release_text(FILE *out, const struct attrib_result *res)
{
	char t[16];

	if (!res->repl_asked)
		return;
	if (!res->released) {
		fprintf(out, "    replication not split: %s\n", repl_none_name(res->repl_none));
		return;
	}
	fmt_ns((uint64_t)res->phase_ns[ATTRIB_REPLICATION], t, sizeof(t));
	fprintf(out, "    released by replica %d", res->release_replica);
	if (res->release_tgid)
		fprintf(out, " (pid %u)", res->release_tgid);
	fprintf(out, " after %s of replication", t);
	if (res->follower_append_ns > 0) {
		fmt_ns((uint64_t)res->follower_append_ns, t, sizeof(t));
		fprintf(out, ", %s of it in its append", t);
	}
	fputc('\n', out);
}

static void hol_text(FILE *out, const struct attrib_result *res)
{
	char t[16];

	if (res->hol_ns <= 0)
		return;
	fmt_ns((uint64_t)res->hol_ns, t, sizeof(t));
	fprintf(out, "    waited %s in the socket behind corr %d, root cause %s in %s of corr %d\n",
		t, res->hol_corr_id, attrib_cause_name(res->hol_root_cause),
		attrib_phase_name(res->hol_root_phase), res->hol_root_corr_id);
}

void report_attrib_text(FILE *out, const struct report_attrib *a)
{
	const struct attrib_result *res = a->res;
	char t[16], name[300];

	if (res->unmatched != ATTRIB_MATCHED) {
		fprintf(out, "    phases not attributed: %s\n",
			attrib_unmatched_name(res->unmatched));
		hol_text(out, res);
		return;
	}
	fprintf(out, "    handler %u:", res->handler);
	for (unsigned p = 0; p < ATTRIB_PHASES; p++) {
		if (!request_phase(res, p))
			continue;
		fmt_ns((uint64_t)res->phase_ns[p], t, sizeof(t));
		fprintf(out, " %s %s", attrib_phase_name(p), t);
	}
	fmt_ns((uint64_t)res->top_ns, t, sizeof(t));
	fprintf(out, "\n    top cause %s %s in %s", top_cause_name(res, name, sizeof(name)), t,
		attrib_phase_name(res->top_phase));
	if (res->top_waker_tid && res->top_waker_comm && *res->top_waker_comm)
		fprintf(out, " (woken by %s)", res->top_waker_comm);
	if (a->stack && *a->stack) {
		fputs(": ", out);
		print_stack(out, a->stack, 8);
	}
	fputc('\n', out);
	release_text(out, res);
	hol_text(out, res);
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The summary's replication section: see include/kafkalat/report_repl.h. */
#include <inttypes.h>

#include "kafkalat/fmt.h"
#include "kafkalat/report_repl.h"

static const double lag_q[] = {0.5, 0.99, 0.999};
static const char *const lag_name[] = {"p50", "p99", "p99.9"};

static bool has_any(const struct repl *r)
{
	uint32_t n = 0;

	if (r)
		repl_pairs(r, &n);
	return r && (repl_stats(r)->requests || n);
}

static void who(FILE *out, const char *role, int32_t replica, uint32_t tgid)
{
	if (replica >= 0)
		fprintf(out, "%s %d", role, replica);
	else
		fputs(role, out);
	if (tgid)
		fprintf(out, " (pid %u)", tgid);
}

static void pair_text(FILE *out, const struct repl_pair *p)
{
	char t[16];

	fprintf(out, "  leader pid %u <- ", p->leader_tgid);
	who(out, "replica", p->replica_id, p->follower_tgid);
	fprintf(out, ": %" PRIu64 " batches covered, released %" PRIu64 "; lag", p->lag->count,
		p->released);
	for (int i = 0; i < 3; i++) {
		fmt_ns(hist_quantile(p->lag, lag_q[i]), t, sizeof(t));
		fprintf(out, " %s %s", lag_name[i], t);
	}
	fmt_ns(p->lag->max, t, sizeof(t));
	fprintf(out, " max %s\n", t);
}

static void isr_text(FILE *out, const struct repl_isr_event *e, int64_t wall_offset_ns)
{
	char when[32];

	fmt_wall(e->t_ns, wall_offset_ns, when, sizeof(when));
	fprintf(out, "    %s  leader pid %u %s-%d: ", when, e->leader_tgid, e->topic, e->partition);
	who(out, "replica", e->replica_id, e->follower_tgid);
	if (e->expand)
		fprintf(out, " back in the ISR (its fetch covered corr %d before the answer)\n",
			e->corr_id);
	else
		fprintf(out, " out of the ISR (corr %d answered before its fetch came)\n",
			e->corr_id);
}

void report_repl_text(FILE *out, const struct repl *r, int64_t wall_offset_ns)
{
	const struct repl_stats *st;
	const struct repl_pair *pairs;
	const struct repl_isr_event *ev;
	uint32_t npairs, nev;

	if (!has_any(r))
		return;
	st = repl_stats(r);
	pairs = repl_pairs(r, &npairs);
	ev = repl_isr_events(r, &nev);
	fprintf(out, "\nReplication (acks=all): %" PRIu64 " requests released by a follower fetch",
		st->released);
	if (st->peer_unknown)
		fprintf(out, " (%" PRIu64 " by a follower whose broker is not traced)",
			st->peer_unknown);
	fprintf(out, ", %" PRIu64 " without a release found", st->requests - st->released);
	for (unsigned w = 1; w < REPL_NONE_MAX; w++)
		if (st->none[w])
			fprintf(out, " (%s %" PRIu64 ")", repl_none_name(w), st->none[w]);
	fputc('\n', out);
	for (uint32_t i = 0; i < npairs; i++)
		pair_text(out, &pairs[i]);
	if (nev || st->isr_more)
		fprintf(out,
			"  ISR changes, inferred from the followers' fetches by each answer:\n");
	for (uint32_t i = 0; i < nev; i++)
		isr_text(out, &ev[i], wall_offset_ns);
	if (st->isr_more)
		fprintf(out, "    and %" PRIu64 " more not listed\n", st->isr_more);
	if (st->evicted || st->dropped || st->full)
		fprintf(out,
			"  follower fetches aged out %" PRIu64 ", pushed out %" PRIu64
			", not kept %" PRIu64 "\n",
			st->evicted, st->dropped, st->full);
}

static void pair_json(struct json *j, const struct repl_pair *p)
{
	json_obj_begin(j);
	json_kuint(j, "leader_pid", p->leader_tgid);
	json_kint(j, "replica", p->replica_id);
	json_kuint(j, "follower_pid", p->follower_tgid);
	json_kuint(j, "batches", p->lag->count);
	json_kuint(j, "released", p->released);
	for (int i = 0; i < 3; i++) {
		char key[16];

		snprintf(key, sizeof(key), "lag_%s_us", lag_name[i]);
		json_kdouble(j, key, (double)hist_quantile(p->lag, lag_q[i]) / 1000.0);
	}
	json_kdouble(j, "lag_max_us", (double)p->lag->max / 1000.0);
	json_obj_end(j);
}

static void isr_json(struct json *j, const struct repl_isr_event *e, int64_t wall_offset_ns)
{
	char when[32];

	fmt_wall(e->t_ns, wall_offset_ns, when, sizeof(when));
	json_obj_begin(j);
	json_kstr(j, "time", when);
	json_kuint(j, "t_ns", e->t_ns);
	json_kstr(j, "change", e->expand ? "expand" : "shrink");
	json_kuint(j, "leader_pid", e->leader_tgid);
	json_kstr(j, "topic", e->topic);
	json_kint(j, "partition", e->partition);
	json_kint(j, "replica", e->replica_id);
	json_kuint(j, "follower_pid", e->follower_tgid);
	json_kint(j, "corr", e->corr_id);
	json_obj_end(j);
}

void report_repl_json(struct json *j, const struct repl *r, int64_t wall_offset_ns)
{
	const struct repl_stats *st;
	const struct repl_pair *pairs;
	const struct repl_isr_event *ev;
	uint32_t npairs, nev;

	if (!has_any(r))
		return;
	st = repl_stats(r);
	pairs = repl_pairs(r, &npairs);
	ev = repl_isr_events(r, &nev);
	json_key(j, "replication");
	json_obj_begin(j);
	json_kuint(j, "requests", st->requests);
	json_kuint(j, "released", st->released);
	json_kuint(j, "release_broker_unknown", st->peer_unknown);
	json_key(j, "no_release");
	json_obj_begin(j);
	for (unsigned w = 1; w < REPL_NONE_MAX; w++)
		json_kuint(j, repl_none_name(w), st->none[w]);
	json_obj_end(j);
	json_key(j, "followers");
	json_arr_begin(j);
	for (uint32_t i = 0; i < npairs; i++)
		pair_json(j, &pairs[i]);
	json_arr_end(j);
	json_key(j, "isr_changes");
	json_arr_begin(j);
	for (uint32_t i = 0; i < nev; i++)
		isr_json(j, &ev[i], wall_offset_ns);
	json_arr_end(j);
	json_kuint(j, "isr_changes_more", st->isr_more);
	json_kuint(j, "fetches", st->fetches);
	json_kuint(j, "fetches_evicted", st->evicted);
	json_kuint(j, "fetches_dropped", st->dropped);
	json_kuint(j, "fetches_not_kept", st->full);
	json_obj_end(j);
}

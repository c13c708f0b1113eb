// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Attribution of produce requests to phases and causes: see include/kafkalat/attrib.h
 * and docs/design.md, "Attribution". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/attrib.h"
#include "kafkalat/fnv.h"
#include "kafkalat/replication.h"
#include "kafkalat/timeline.h"
#include "kafkalat/strtab.h"

/* 0 stands for "no topic" in the records: a string never hashes to it. */
static uint64_t hash_str(const char *s)
{
	uint64_t h = fnv1a64(s);

	return h ? h : 1;
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 16;

	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

/* ---- records ---- */

enum { K_APP, K_FUT, K_OFF, K_MAX };
enum { APP_WRITE, APP_SYNC };

struct app_rec {
	uint64_t t0, t1;
	uint64_t topic;			  /* hash_str(topic); 0 unknown */
	int64_t base_offset, last_offset; /* -1 unknown (attrib_append) */
	int64_t producer_id;		  /* -1 unknown or not idempotent */
	uint32_t bytes;			  /* UINT32_MAX for more: a batch size is an int32 */
	int32_t base_sequence;
	int32_t partition;
	uint8_t kind;
	uint8_t claimed;
};

struct fut_rec {
	uint64_t t0, t1;
};

struct off_rec {
	uint64_t t0, t1, tw; /* off, on, wakeup (0 none) */
	int32_t stack_id;
	uint32_t waker, frame, comm;
	uint8_t blocked, cause;
};

_Static_assert(sizeof(struct off_rec) <= TIMELINE_REC_MAX, "record too large");
_Static_assert(sizeof(struct app_rec) <= TIMELINE_REC_MAX, "record too large");

static const uint32_t rec_size[K_MAX] = {sizeof(struct app_rec), sizeof(struct fut_rec),
					 sizeof(struct off_rec)};

/* ---- threads ---- */

struct thr {
	uint32_t tid;
	uint64_t last; /* newest end time seen */
	struct timeline tl[K_MAX];
};

#define NET_TIDS   32
#define CONN_SLOTS 1024 /* direct-mapped: a collision only forgets a connection */

struct conn_last {
	uint64_t conn_id, t_end; /* the connection's last answered request */
	bool used;
	/* its root causes, for the request that waited behind it */
	int32_t corr_id;
	uint8_t root_cause, root_phase;
	int32_t root_corr_id;
	int64_t root_ns[ATTRIB_CAUSES];
};

struct attrib {
	struct attrib_config cfg;
	struct attrib_stats st;
	uint64_t now; /* newest time seen */
	struct thr *thr;
	uint32_t nthr;
	uint32_t *slot; /* open addressing: thread index + 1, 0 empty */
	uint32_t mask;
	struct strtab str;
	uint32_t net[NET_TIDS]; /* network threads learnt from requests */
	uint32_t nnet;
	struct conn_last conns[CONN_SLOTS];
	uint64_t *thash; /* this request's topic hashes */
	size_t nthash, thash_cap;
	struct repl *repl;	/* NULL: no replication split */
	attrib_tgid_fn tgid_fn; /* a thread's broker; NULL: all unknown */
	const void *tgid_ctx;
	/* the request being attributed: its causes spent on the releasing
	 * follower (in its append), for its root broker */
	int64_t follower_ns[ATTRIB_CAUSES];
	uint32_t follower_tgid;
};

void attrib_config_default(struct attrib_config *cfg)
{
	*cfg = (struct attrib_config){
	    .window_ns = 5000000000ull,
	    .max_per_thread = 8192,
	    .max_threads = 1024,
	    .max_strings = 4096,
	    .lock_gap_ns = 200000,
	    .append_gap_ns = 1000000,
	    .strict_ambiguous = false,
	};
}

static void account_bytes(struct attrib *a);

struct attrib *attrib_new(const struct attrib_config *cfg)
{
	struct attrib *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	if (cfg)
		a->cfg = *cfg;
	else
		attrib_config_default(&a->cfg);
	if (!a->cfg.max_per_thread || !a->cfg.max_threads || a->cfg.max_threads > (1u << 24) ||
	    a->cfg.max_per_thread > (1u << 24) || !a->cfg.window_ns)
		goto fail;
	a->mask = pow2_at_least((uint64_t)a->cfg.max_threads * 2) - 1;
	a->thr = calloc(a->cfg.max_threads, sizeof(*a->thr));
	a->slot = calloc((size_t)a->mask + 1, sizeof(*a->slot));
	if (!a->thr || !a->slot || strtab_init(&a->str, a->cfg.max_strings))
		goto fail;
	account_bytes(a);
	return a;
fail:
	attrib_free(a);
	return NULL;
}

void attrib_free(struct attrib *a)
{
	if (!a)
		return;
	for (uint32_t i = 0; a->thr && i < a->nthr; i++)
		for (int k = 0; k < K_MAX; k++)
			timeline_free(&a->thr[i].tl[k]);
	free(a->thr);
	free(a->slot);
	free(a->thash);
	strtab_free(&a->str);
	free(a);
}

const struct attrib_stats *attrib_stats(const struct attrib *a)
{
	return &a->st;
}

static uint32_t tid_hash(uint32_t tid, uint32_t mask)
{
	return (tid * 2654435761u) & mask;
}

static struct thr *thr_find(const struct attrib *a, uint32_t tid)
{
	for (uint32_t i = tid_hash(tid, a->mask); a->slot[i]; i = (i + 1) & a->mask)
		if (a->thr[a->slot[i] - 1].tid == tid)
			return &a->thr[a->slot[i] - 1];
	return NULL;
}

static void slot_put(struct attrib *a, uint32_t idx)
{
	uint32_t i = tid_hash(a->thr[idx].tid, a->mask);

	while (a->slot[i])
		i = (i + 1) & a->mask;
	a->slot[i] = idx + 1;
}

/* A thread whose every event aged out gives its slot (and buffers) to a new one. */
static struct thr *thr_recycle(struct attrib *a, uint32_t tid, uint64_t before)
{
	uint32_t i;

	for (i = 0; i < a->nthr && a->thr[i].last >= before; i++)
		;
	if (i == a->nthr)
		return NULL;
	a->thr[i].tid = tid;
	for (int k = 0; k < K_MAX; k++)
		timeline_clear(&a->thr[i].tl[k]);
	memset(a->slot, 0, ((size_t)a->mask + 1) * sizeof(*a->slot));
	for (uint32_t j = 0; j < a->nthr; j++)
		slot_put(a, j);
	return &a->thr[i];
}

static uint64_t before_of(const struct attrib *a)
{
	return a->now > a->cfg.window_ns ? a->now - a->cfg.window_ns : 0;
}

static struct thr *thr_get(struct attrib *a, uint32_t tid)
{
	struct thr *t = thr_find(a, tid);

	if (t)
		return t;
	if (a->nthr == a->cfg.max_threads)
		return thr_recycle(a, tid, before_of(a));
	t = &a->thr[a->nthr];
	t->tid = tid;
	for (int k = 0; k < K_MAX; k++)
		timeline_init(&t->tl[k], rec_size[k]);
	slot_put(a, a->nthr++);
	a->st.threads = a->nthr;
	return t;
}

static void account_bytes(struct attrib *a)
{
	uint64_t b = sizeof(*a) + (uint64_t)a->cfg.max_threads * sizeof(*a->thr) +
		     ((uint64_t)a->mask + 1) * sizeof(*a->slot);

	for (uint32_t i = 0; i < a->nthr; i++)
		for (int k = 0; k < K_MAX; k++)
			b += timeline_bytes(&a->thr[i].tl[k]);
	a->st.bytes = b;
}

static int add_rec(struct attrib *a, uint32_t tid, int kind, const void *rec)
{
	const struct span *s = rec;
	struct thr *t;
	uint64_t cap_before = 0;
	int err;

	if (!tid || s->t1 < s->t0) {
		a->st.bad_events++;
		return -EINVAL;
	}
	if (s->t1 > a->now)
		a->now = s->t1;
	t = thr_get(a, tid);
	if (!t) {
		a->st.threads_full++;
		return -ENOMEM;
	}
	if (s->t1 > t->last)
		t->last = s->t1;
	cap_before = t->tl[kind].cap;
	a->st.evicted += timeline_evict(&t->tl[kind], before_of(a));
	err = timeline_insert(&t->tl[kind], rec, a->cfg.max_per_thread);
	if (err) /* the oldest gave way, or rec did: both are dropped */
		a->st.dropped++;
	if (err < 0)
		return err;
	if (t->tl[kind].cap != cap_before)
		account_bytes(a);
	a->st.events++;
	return 0;
}

int attrib_add_write(struct attrib *a, const struct attrib_append *w)
{
	struct app_rec r = {.t0 = w->t_start,
			    .t1 = w->t_end,
			    .topic = w->topic ? hash_str(w->topic) : 0,
			    .bytes = w->bytes < UINT32_MAX ? (uint32_t)w->bytes : UINT32_MAX,
			    .base_offset = w->base_offset,
			    .last_offset = w->last_offset,
			    .producer_id = w->producer_id,
			    .base_sequence = w->base_sequence,
			    .partition = w->partition,
			    .kind = APP_WRITE};

	return add_rec(a, w->tid, K_APP, &r);
}

int attrib_add_append(struct attrib *a, uint32_t tid, const char *topic, int32_t partition,
		      uint64_t bytes, uint64_t t_start, uint64_t t_end)
{
	struct attrib_append w = {.tid = tid,
				  .topic = topic,
				  .partition = partition,
				  .bytes = bytes,
				  .t_start = t_start,
				  .t_end = t_end,
				  .base_offset = -1,
				  .last_offset = -1,
				  .producer_id = -1,
				  .base_sequence = -1};

	return attrib_add_write(a, &w);
}

int attrib_add_fsync(struct attrib *a, uint32_t tid, const char *topic, int32_t partition,
		     uint64_t t_start, uint64_t t_end)
{
	struct app_rec r = {.t0 = t_start,
			    .t1 = t_end,
			    .topic = topic ? hash_str(topic) : 0,
			    .base_offset = -1,
			    .last_offset = -1,
			    .producer_id = -1,
			    .base_sequence = -1,
			    .partition = topic ? partition : -1,
			    .kind = APP_SYNC};

	return add_rec(a, tid, K_APP, &r);
}

int attrib_add_futex(struct attrib *a, uint32_t tid, uint64_t t_start, uint64_t t_end)
{
	struct fut_rec r = {.t0 = t_start, .t1 = t_end};

	return add_rec(a, tid, K_FUT, &r);
}

int attrib_add_offcpu(struct attrib *a, const struct attrib_offcpu *o)
{
	struct off_rec r = {
	    .t0 = o->t_off,
	    .t1 = o->t_on,
	    .tw = o->t_wakeup,
	    .stack_id = o->stack_id,
	    .waker = o->waker_tid,
	    .blocked = o->blocked,
	    .cause = (unsigned)o->cause < CAUSE_MAX ? (uint8_t)o->cause : CAUSE_OTHER,
	};

	if (r.cause == CAUSE_CPU || r.cause == CAUSE_RUNQ)
		r.cause = CAUSE_OTHER; /* not stack causes: cause.h */
	if (o->tid && o->t_on >= o->t_off) {
		r.frame = strtab_intern(&a->str, o->top_frame);
		r.comm = strtab_intern(&a->str, o->waker_comm);
		a->st.strings_full = a->str.full;
	}
	return add_rec(a, o->tid, K_OFF, &r);
}

void attrib_set_tgid_fn(struct attrib *a, attrib_tgid_fn fn, const void *ctx)
{
	a->tgid_fn = fn;
	a->tgid_ctx = ctx;
}

static uint32_t tgid_of(const struct attrib *a, uint32_t tid)
{
	return a->tgid_fn ? a->tgid_fn(a->tgid_ctx, tid) : 0;
}

void attrib_set_replication(struct attrib *a, struct repl *r)
{
	a->repl = r;
}

/* ---- names ---- */

static const char *const phase_names[ATTRIB_PHASES] = {
    "recv",	   "socket_wait", "read",	    "queue", "lock",	   "append",
    "post_append", "replication", "response_queue", "send",  "send_queue",
};

static const char *const wire_cause_names[] = {"queued",     "hol",	"throttle_mute",
					       "net_thread", "unknown", "replica_fetch"};

static const char *const unm_names[ATTRIB_UNM_MAX] = {
    "matched", "not_produce", "no_response", "bad_times", "no_append", "ambiguous", "lost_causes",
};

const char *attrib_phase_name(unsigned int p)
{
	return p < ATTRIB_PHASES ? phase_names[p] : NULL;
}

unsigned int attrib_phase_from_v1(unsigned int i)
{
	return i <= ATTRIB_POST_APPEND ? i : i - ATTRIB_POST_APPEND - 1 + ATTRIB_SEND;
}

const char *attrib_cause_name(unsigned int c)
{
	if (c >= ATTRIB_CAUSE_QUEUED && c < ATTRIB_CAUSES)
		return wire_cause_names[c - ATTRIB_CAUSE_QUEUED];
	return cause_name((enum cause)c);
}

const char *attrib_unmatched_name(unsigned int u)
{
	return u < ATTRIB_UNM_MAX ? unm_names[u] : NULL;
}

/* ---- finding the handler ---- */

#define CAND_MAX 16

struct cand {
	struct thr *t;
	uint32_t score;	   /* partitions of r with a write on this thread */
	uint64_t first;	   /* earliest such write's start */
	uint64_t last_end; /* latest such write's end */
	uint32_t by_id;	   /* of those writes, matched by producer identity */
};

/* The topics' hashes, once per request: every thread's scan compares them. */
static void hash_topics(struct attrib *a, const struct corr_request *r)
{
	a->nthash = 0;
	if (!r->topics || !r->ntopics)
		return;
	if (r->ntopics > a->thash_cap) {
		uint64_t *n = realloc(a->thash, r->ntopics * sizeof(*n));

		if (!n)
			return; /* part_topic() hashes each time instead */
		a->thash = n;
		a->thash_cap = r->ntopics;
	}
	for (size_t i = 0; i < r->ntopics; i++)
		a->thash[i] = hash_str(r->topics[i].name);
	a->nthash = r->ntopics;
}

static uint64_t part_topic(const struct attrib *a, const struct corr_request *r, size_t i)
{
	uint32_t ti = r->parts[i].topic_idx;

	if (ti >= r->ntopics || !r->topics)
		return 0;
	return ti < a->nthash ? a->thash[ti] : hash_str(r->topics[ti].name);
}

/* Both sides carry an idempotent producer's batch identity: it alone says
 * whether w is part i's batch (equal sizes and times do not). */
static bool by_identity(const struct app_rec *w, const struct corr_part *p)
{
	return p->producer_id >= 0 && w->producer_id >= 0;
}

static bool write_fits(const struct app_rec *w, const struct corr_request *r, size_t i,
		       uint64_t topic)
{
	const struct corr_part *p = &r->parts[i];

	if (w->kind != APP_WRITE || w->claimed || w->t1 > r->t_resp || w->topic != topic ||
	    w->partition != p->partition || w->bytes != (uint32_t)p->record_bytes)
		return false;
	return !by_identity(w, p) ||
	       (w->producer_id == p->producer_id && w->base_sequence == p->base_sequence);
}

/* The index of the earliest unclaimed write of part i inside [t_read, t_resp], or -1. */
static int64_t find_write(const struct attrib *a, const struct thr *t, const struct corr_request *r,
			  size_t i)
{
	const struct timeline *tl = &t->tl[K_APP];
	uint64_t topic = part_topic(a, r, i);
	int64_t found = -1;

	if (!topic || r->parts[i].record_bytes <= 0)
		return -1;
	for (uint32_t j = timeline_count_upto(tl, r->t_resp); j-- > 0;) {
		const struct app_rec *w = timeline_at(tl, j);

		if (w->t0 < r->t_read)
			break;
		if (write_fits(w, r, i, topic))
			found = j;
	}
	return found;
}

static struct cand score_thread(const struct attrib *a, struct thr *t, const struct corr_request *r)
{
	struct cand c = {.t = t, .first = UINT64_MAX};

	for (size_t i = 0; i < r->nparts; i++) {
		int64_t j = find_write(a, t, r, i);
		const struct app_rec *w;

		if (j < 0)
			continue;
		w = timeline_at(&t->tl[K_APP], (uint32_t)j);
		c.score++;
		c.by_id += by_identity(w, &r->parts[i]);
		if (w->t0 < c.first)
			c.first = w->t0;
		if (w->t1 > c.last_end)
			c.last_end = w->t1;
	}
	return c;
}

/* The threads with the most partitions of r written; returns how many (≤ CAND_MAX). */
static size_t candidates(struct attrib *a, const struct corr_request *r, struct cand *out)
{
	size_t n = 0;

	for (uint32_t i = 0; i < a->nthr; i++) {
		struct cand c = score_thread(a, &a->thr[i], r);
		uint32_t tgid;

		if (!c.score || (n && c.score < out[0].score))
			continue;
		/* a follower appends the same batch to the same partition's log:
		 * only the broker owning r's connection is its leader */
		tgid = r->tgid ? tgid_of(a, a->thr[i].tid) : 0;
		if (tgid && tgid != r->tgid)
			continue;
		if (n && c.score > out[0].score)
			n = 0;
		if (n < CAND_MAX)
			out[n++] = c;
	}
	return n;
}

/* Did `waker` wake thread `tid` at a time inside [lo, hi]? */
static bool woke(const struct attrib *a, uint32_t tid, uint32_t waker, uint64_t lo, uint64_t hi)
{
	const struct thr *t = tid ? thr_find(a, tid) : NULL;
	const struct timeline *tl;

	if (!t)
		return false;
	tl = &t->tl[K_OFF];
	for (uint32_t j = timeline_count_upto(tl, hi); j-- > 0;) {
		const struct off_rec *o = timeline_at(tl, j);

		if (o->t1 < lo)
			break;
		if (o->waker == waker && o->tw >= lo && o->tw <= hi)
			return true;
	}
	return false;
}

/* When candidate c handed its response over, at the latest: the time it woke
 * the sending network thread after its append and before r's response (exact),
 * else the start of its next futex wait or segment write after the append (it
 * handed over before going back to the queue or on to another request). */
static uint64_t handoff_bound(const struct attrib *a, const struct corr_request *r,
			      const struct cand *c)
{
	const struct thr *s = r->tid_send ? thr_find(a, r->tid_send) : NULL;
	uint64_t best = UINT64_MAX;

	if (s) {
		const struct timeline *tl = &s->tl[K_OFF];

		for (uint32_t j = timeline_count_upto(tl, r->t_resp); j-- > 0;) {
			const struct off_rec *o = timeline_at(tl, j);

			if (o->t1 < c->last_end)
				break;
			if (o->waker == c->t->tid && o->tw >= c->last_end && o->tw <= r->t_resp &&
			    o->tw < best)
				best = o->tw;
		}
		if (best != UINT64_MAX)
			return best;
	}
	for (int k = K_APP; k <= K_FUT; k++) {
		const struct timeline *tl = &c->t->tl[k];

		for (uint32_t i = timeline_count_upto(tl, c->last_end); i < tl->len; i++) {
			const struct app_rec *w = timeline_at(tl, i);

			if (k == K_APP && w->kind == APP_SYNC)
				continue; /* a flush under the lock is still the append */
			if (w->t0 < best)
				best = w->t0;
			break;
		}
	}
	return best;
}

/* Among tied candidates (r's partitions written with the same sizes on several
 * threads). Requests are attributed in completion order. On a connection that
 * is muted until its response is sent (Kafka), the tied requests are other
 * connections', answered in the order their handlers handed the responses over:
 * r's handler is the one that handed over first. Each candidate's hand-over is
 * known exactly when it woke the sending network thread, else bounded by its
 * next wait or write; equal bounds go to the earliest append (time order). A
 * pipelining connection answers in request order whatever the hand-over order
 * (which does swap requests: docs/design.md, "Attribution", Handler), so r,
 * its oldest request, takes the earliest append. Only a
 * single candidate with a hand-off edge that is also the first is unambiguous. */
static const struct cand *break_tie(struct attrib *a, const struct corr_request *r,
				    const struct cand *c, size_t n, bool pipelined, bool *ambiguous)
{
	const struct cand *edge = NULL, *best = NULL;
	uint64_t hbest = UINT64_MAX;
	size_t nedge = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t h = pipelined ? 0 : handoff_bound(a, r, &c[i]);

		if (woke(a, r->tid_send, c[i].t->tid, c[i].last_end, r->t_resp)) {
			edge = &c[i];
			nedge++;
		}
		if (!best || h < hbest || (h == hbest && c[i].first < best->first)) {
			best = &c[i];
			hbest = h;
		}
	}
	if (nedge == 1 && edge == best && !pipelined)
		return edge;
	*ambiguous = true;
	return a->cfg.strict_ambiguous ? NULL : best;
}

/* ---- the handler's appends for r and its dequeue ---- */

/* The phases' boundaries: phase p lasts from b[p] to b[p + 1]. */
enum {
	B_ARRIVAL,
	B_COMPLETE,
	B_FIRST,
	B_READ,
	B_DEQUEUE,
	B_APPEND,
	B_APPEND_END,
	B_REPL,
	B_RELEASE,
	B_RESP,
	B_END,
	B_SENT,
};

struct bounds {
	uint64_t b[ATTRIB_PHASES + 1];
	uint64_t handoff; /* inside post_append: handler → network thread */
	int64_t broker_latency_ns;
};

_Static_assert((int)B_SENT == (int)ATTRIB_PHASES, "a boundary after each phase");

static void take_sync_after(struct thr *h, uint32_t j, const struct corr_request *r, uint64_t *end,
			    uint32_t *n)
{
	const struct app_rec *w = timeline_at(&h->tl[K_APP], j);
	struct app_rec *s;

	if (j + 1 >= h->tl[K_APP].len)
		return;
	s = timeline_at(&h->tl[K_APP], j + 1);
	if (s->kind != APP_SYNC || s->claimed || s->t1 > r->t_resp || s->t0 < w->t1)
		return;
	if (s->topic && (s->topic != w->topic || s->partition != w->partition))
		return;
	s->claimed = 1;
	(*n)++;
	if (s->t1 > *end)
		*end = s->t1;
}

/* An acks=all request's release: the latest of its batches' (the leader
 * answers when every partition's high watermark has passed its batch). */
struct release {
	enum repl_none none;	 /* of the first batch without a release */
	struct repl_release rel; /* of the batch released last */
	uint64_t topic;		 /* that batch: hash_str(topic) */
	int32_t partition;
	int64_t base_offset;
	bool any;
};

/* The batch r wrote to its part i with w: the offsets of w's batch headers;
 * the last one from the part's record count when the walk stopped short. */
static void release_part(const struct attrib *a, const struct thr *h, const struct corr_request *r,
			 size_t i, const struct app_rec *w, struct release *rs)
{
	const struct corr_part *p = &r->parts[i];
	const struct corr_topic *t = p->topic_idx < r->ntopics ? &r->topics[p->topic_idx] : NULL;
	struct repl_batch b = {
	    /* the broker owning the connection; its handler's when not known */
	    .leader_tgid = r->tgid ? r->tgid : tgid_of(a, h->tid),
	    .topic = t ? t->name : NULL,
	    .partition = p->partition,
	    .base_offset = w->base_offset,
	    .last_offset = w->last_offset,
	    .t_append_start = w->t0,
	    .t_append_end = w->t1,
	    .t_resp = r->t_resp,
	    .corr_id = r->corr_id,
	};
	struct repl_release rel;

	if (b.last_offset < 0 && b.base_offset >= 0 && p->records)
		b.last_offset = b.base_offset + (int64_t)p->records - 1;
	if (repl_batch(a->repl, &b, &rel) != REPL_RELEASED) {
		if (!rs->none)
			rs->none = rel.none;
		return;
	}
	if (rs->any && rel.t_release <= rs->rel.t_release)
		return;
	rs->any = true;
	rs->rel = rel;
	rs->topic = w->topic;
	rs->partition = p->partition;
	rs->base_offset = b.base_offset;
}

/* Claims r's writes (and a sync right after each) on h; sets A and E, and
 * with rs the release of each batch. */
static uint32_t claim_appends(const struct attrib *a, struct thr *h, const struct corr_request *r,
			      uint64_t *start, uint64_t *end, struct release *rs)
{
	uint32_t n = 0;

	*start = UINT64_MAX;
	*end = 0;
	for (size_t i = 0; i < r->nparts; i++) {
		int64_t j = find_write(a, h, r, i);
		struct app_rec *w;

		if (j < 0)
			continue;
		w = timeline_at(&h->tl[K_APP], (uint32_t)j);
		w->claimed = 1;
		n++;
		if (rs)
			release_part(a, h, r, i, w, rs);
		if (w->t0 < *start)
			*start = w->t0;
		if (w->t1 > *end)
			*end = w->t1;
		take_sync_after(h, (uint32_t)j, r, end, &n);
	}
	return n;
}

/* A non-futex block of the handler right after its last append (a slow step
 * under the partition lock: msync, a sleep) still belongs to the append. The
 * gap counts the handler's time on CPU only: preempted between its write and
 * that step (common with 8 handlers on one CPU), it is no less the append's.
 * The handler's next futex wait or segment write ends the search (it went on
 * to the queue, a lock or another append). The gap is a few microseconds;
 * append_gap_ns leaves room for what the scheduler does not show: timer
 * ticks and host steal count as time on CPU (docs/design.md, "Attribution",
 * Boundaries, for what was seen). */
static uint64_t extend_append(const struct attrib *a, const struct thr *h, uint64_t end,
			      uint64_t t_resp)
{
	const struct timeline *tl = &h->tl[K_OFF], *apps = &h->tl[K_APP], *futs = &h->tl[K_FUT];
	uint64_t cursor = end, on_cpu = 0, next = t_resp;
	uint32_t i;

	for (i = timeline_count_before(apps, end); i < apps->len; i++) {
		const struct app_rec *w = timeline_at(apps, i);

		if (w->kind == APP_WRITE) {
			if (w->t0 < next)
				next = w->t0;
			break;
		}
	}
	i = timeline_count_before(futs, end);
	if (i < futs->len && timeline_span(futs, i)->t0 < next)
		next = timeline_span(futs, i)->t0;
	for (uint32_t j = timeline_count_before(tl, end); j < tl->len; j++) {
		const struct off_rec *o = timeline_at(tl, j);

		on_cpu += o->t0 - cursor;
		if (on_cpu > a->cfg.append_gap_ns || o->t0 >= next || o->t1 > t_resp)
			break;
		if (o->blocked)
			return o->cause != CAUSE_FUTEX ? o->t1 : end;
		cursor = o->t1;
	}
	return end;
}

static bool is_net(const struct attrib *a, uint32_t tid)
{
	for (uint32_t i = 0; i < a->nnet && i < NET_TIDS; i++)
		if (a->net[i] == tid)
			return true;
	return false;
}

static void learn_net(struct attrib *a, uint32_t tid)
{
	if (tid && !is_net(a, tid))
		a->net[a->nnet++ % NET_TIDS] = tid;
}

/* Was the handler woken out of futex wait w by a network thread? */
static bool net_woken(const struct attrib *a, const struct thr *h, const struct fut_rec *w)
{
	const struct timeline *tl = &h->tl[K_OFF];

	for (uint32_t j = timeline_count_upto(tl, w->t1); j-- > 0;) {
		const struct off_rec *o = timeline_at(tl, j);

		if (o->t1 < w->t0)
			break;
		if (o->t1 <= w->t1)
			return o->waker && is_net(a, o->waker);
	}
	return false;
}

/* The end of the handler's previous work: t_read or a later append end before A. */
static uint64_t prev_work_end(const struct thr *h, uint64_t t_read, uint64_t A)
{
	const struct timeline *tl = &h->tl[K_APP];
	uint64_t p = t_read;

	for (uint32_t j = timeline_count_before(tl, A); j-- > 0;) {
		const struct app_rec *w = timeline_at(tl, j);

		if (w->t1 <= A && w->t1 > p)
			p = w->t1;
		if (w->t0 < t_read)
			break;
	}
	return p;
}

/* When the handler took r off the queue: the end of the first futex wait after
 * its previous work, unless that wait is the partition lock's (the only one,
 * begun after t_read, not woken by a network thread, right before the append).
 * Waits right behind that first one that a network thread ended are still the
 * dequeue: woken on the queue's condition variable, the handler must take the
 * queue's mutex back, and the network thread putting a request may hold it
 * (pthread_cond_wait's re-lock; a partition lock is never a network thread's). */
static uint64_t dequeue_time(const struct attrib *a, const struct thr *h, uint64_t t_read,
			     uint64_t A)
{
	const struct timeline *tl = &h->tl[K_FUT];
	const struct fut_rec *first = NULL, *last = NULL;
	uint64_t p = prev_work_end(h, t_read, A), d;
	uint32_t j = timeline_count_before(tl, p), jfirst = 0;

	if (j > 0)
		j--;
	for (; j < tl->len; j++) {
		const struct fut_rec *w = timeline_at(tl, j);

		if (w->t0 >= A)
			break;
		if (w->t1 <= p || w->t1 > A)
			continue;
		if (!first) {
			first = w;
			jfirst = j;
		}
		last = w;
	}
	if (!first)
		return p;
	if (first == last && first->t0 >= t_read && !net_woken(a, h, first) &&
	    A - first->t1 <= a->cfg.lock_gap_ns)
		return p;
	d = first->t1;
	for (j = jfirst + 1; j < tl->len; j++) {
		const struct fut_rec *w = timeline_at(tl, j);

		if (w->t0 >= A || w->t1 > A)
			break;
		if (w->t0 < d || !net_woken(a, h, w))
			break;
		d = w->t1;
	}
	return d;
}

/* Inside post_append, when the handler handed the response over: the network
 * thread woken by the handler, else the handler's next futex wait or append. */
static uint64_t handoff_time(const struct attrib *a, const struct thr *h,
			     const struct corr_request *r, uint64_t E)
{
	const struct thr *s = r->tid_send ? thr_find(a, r->tid_send) : NULL;
	uint64_t best = r->t_resp;

	uint32_t j = s ? timeline_count_before(&s->tl[K_OFF], E) : 0;

	for (j = j ? j - 1 : 0; s && j < s->tl[K_OFF].len; j++) {
		const struct off_rec *o = timeline_at(&s->tl[K_OFF], j);

		if (o->t0 > r->t_resp)
			break;
		if (o->waker == h->tid && o->tw >= E && o->tw <= r->t_resp && o->tw < best)
			best = o->tw;
	}
	if (best < r->t_resp)
		return best;
	for (int k = K_APP; k <= K_FUT; k++) {
		const struct timeline *tl = &h->tl[k];
		uint32_t i = timeline_count_upto(tl, E);

		if (i < tl->len && timeline_span(tl, i)->t0 < best)
			best = timeline_span(tl, i)->t0;
	}
	return best;
}

/* ---- splitting a phase's time on its owning thread into causes ---- */

enum mode {
	M_OWN,	 /* the thread works for r: on CPU = cpu, blocked = the stack's cause */
	M_QUEUE, /* r waits for the thread: on CPU or blocked = queued */
	M_WAIT,	 /* r waits for the thread, which is busy: on CPU = cpu, blocked = queued */
};

struct best {
	int64_t ns;
	const struct off_rec *o;
};

struct acc {
	const struct attrib *a;
	struct attrib_result *out;
	struct best best[ATTRIB_CAUSES]; /* the longest interval behind each off-CPU cause */
};

/* Merged by (stack, phase); when full, the shortest gives way. */
static void keep_stack(struct attrib_result *out, int phase, const struct off_rec *o, int64_t ns)
{
	struct attrib_stack *min = NULL;

	for (uint32_t i = 0; i < out->nstacks; i++) {
		struct attrib_stack *st = &out->stacks[i];

		if (st->stack_id == o->stack_id && st->phase == phase) {
			st->ns += ns;
			return;
		}
		if (!min || st->ns < min->ns)
			min = st;
	}
	if (out->nstacks < ATTRIB_STACKS)
		min = &out->stacks[out->nstacks++];
	else if (min->ns >= ns)
		return;
	*min = (struct attrib_stack){
	    .stack_id = o->stack_id, .phase = (uint8_t)phase, .cause = o->cause, .ns = ns};
}

static void add_cause(struct acc *acc, int phase, unsigned int cause, uint64_t lo, uint64_t hi,
		      const struct off_rec *o)
{
	int64_t ns = (int64_t)(hi - lo);

	if (hi <= lo)
		return;
	acc->out->cause_ns[phase][cause] += ns;
	if (o && ns > acc->best[cause].ns)
		acc->best[cause] = (struct best){ns, o};
	if (o && o->stack_id != -1)
		keep_stack(acc->out, phase, o, ns);
}

/* How long thread tid was runnable but not running inside [lo, hi]: preempted,
 * or woken and not yet on a CPU. */
static uint64_t runq_inside(const struct attrib *a, uint32_t tid, uint64_t lo, uint64_t hi)
{
	const struct thr *t = thr_find(a, tid);
	const struct timeline *tl;
	uint64_t sum = 0;

	if (!t || hi <= lo)
		return 0;
	tl = &t->tl[K_OFF];
	for (uint32_t j = timeline_count_before(tl, lo), k = j ? j - 1 : 0;
	     k < tl->len && timeline_span(tl, k)->t0 < hi; k++) {
		const struct off_rec *o = timeline_at(tl, k);
		uint64_t w = o->t0, s, e;

		if (o->blocked)
			w = o->tw >= o->t0 && o->tw <= o->t1 ? o->tw : o->t1;
		s = w > lo ? w : lo;
		e = o->t1 < hi ? o->t1 : hi;
		if (e > s)
			sum += e - s;
	}
	/* the thread's intervals never overlap in a real trace; a broken one
	 * must not make a phase's causes outgrow the phase */
	return sum < hi - lo ? sum : hi - lo;
}

/* One off-CPU interval clipped to [*cur, hi]; returns the time it covered. */
static uint64_t add_interval(struct acc *acc, const struct off_rec *o, uint64_t *cur, uint64_t hi,
			     int phase, enum mode mode)
{
	uint64_t s = o->t0 > *cur ? o->t0 : *cur, e = o->t1 < hi ? o->t1 : hi, s0 = s, w;
	unsigned int cause = mode == M_OWN ? o->cause : ATTRIB_CAUSE_QUEUED;

	if (e <= s)
		return 0;
	w = o->t0; /* preempted: runnable all along */
	if (o->blocked)
		w = o->tw >= o->t0 && o->tw <= o->t1 ? o->tw : o->t1;
	if (w < s)
		w = s;
	if (w > e)
		w = e;
	if (mode == M_QUEUE && o->blocked && o->waker && is_net(acc->a, o->waker)) {
		/* r waited for the network thread that ended this wait (to put r on
		 * the queue, or to let go of the queue's lock): its run-queue time
		 * meanwhile is CPU contention, not queueing (a preempted lock holder) */
		uint64_t rq = runq_inside(acc->a, o->waker, s, w);

		add_cause(acc, phase, CAUSE_RUNQ, s, s + rq, NULL);
		s += rq;
	}
	add_cause(acc, phase, cause, s, w, mode == M_OWN ? o : NULL);
	add_cause(acc, phase, CAUSE_RUNQ, w, e, NULL);
	*cur = e;
	return e - s0;
}

static void account(struct acc *acc, uint32_t tid, uint64_t lo, uint64_t hi, int phase,
		    enum mode mode)
{
	const struct thr *t = tid ? thr_find(acc->a, tid) : NULL;
	uint64_t covered = 0, cur = lo;

	if (hi <= lo)
		return;
	if (t) {
		const struct timeline *tl = &t->tl[K_OFF];
		uint32_t j = timeline_count_before(tl, lo);

		for (j = j ? j - 1 : 0; j < tl->len && timeline_span(tl, j)->t0 < hi; j++)
			covered += add_interval(acc, timeline_at(tl, j), &cur, hi, phase, mode);
	}
	acc->out->cause_ns[phase][mode == M_QUEUE ? ATTRIB_CAUSE_QUEUED : CAUSE_CPU] +=
	    (int64_t)(hi - lo - covered);
}

/* The largest cause over all phases (ties: the lower cause number). */
static void pick_top(struct acc *acc)
{
	struct attrib_result *out = acc->out;
	/* r's own causes are where its root causes start (root_compose) */
	int64_t *total = out->root_ns;
	const struct off_rec *o;

	int64_t sum[ATTRIB_CAUSES] = {0};

	for (int p = 0; p < ATTRIB_PHASES; p++)
		for (int c = 0; c < ATTRIB_CAUSES; c++)
			sum[c] += out->cause_ns[p][c];
	memcpy(total, sum, sizeof(sum));
	out->top_cause = CAUSE_CPU;
	for (int c = 1; c < ATTRIB_CAUSES; c++)
		if (total[c] > total[out->top_cause])
			out->top_cause = (unsigned)c;
	out->top_ns = total[out->top_cause];
	out->top_phase = (enum attrib_phase)0;
	for (int p = 1; p < ATTRIB_PHASES; p++)
		if (out->cause_ns[p][out->top_cause] >
		    out->cause_ns[out->top_phase][out->top_cause])
			out->top_phase = (enum attrib_phase)p;
	o = acc->best[out->top_cause].o;
	out->top_frame = strtab_str(&acc->a->str, o ? o->frame : 0);
	out->top_waker_comm = strtab_str(&acc->a->str, o ? o->comm : 0);
	out->top_stack_id = o ? o->stack_id : -1;
	out->top_waker_tid = o ? o->waker : 0;
}

/* ---- the request ---- */

/* Makes the boundaries non-decreasing: phases then sum to b[last] - b[0].
 * A first read that began before the request had all arrived (a read that
 * blocks, a request in several segments, Kafka reading the size first) was
 * waiting for the client: recv runs to the last byte's arrival, socket_wait
 * is 0, and the broker's read starts there. The phases add up to t_sent -
 * t_arrival. */
static void clamp_bounds(struct bounds *bd)
{
	if (bd->b[B_FIRST] < bd->b[B_COMPLETE])
		bd->b[B_FIRST] = bd->b[B_COMPLETE];
	for (int i = 1; i <= ATTRIB_PHASES; i++)
		if (bd->b[i] < bd->b[i - 1])
			bd->b[i] = bd->b[i - 1];
	if (bd->handoff < bd->b[B_APPEND_END])
		bd->handoff = bd->b[B_APPEND_END];
	if (bd->handoff > bd->b[B_RESP])
		bd->handoff = bd->b[B_RESP];
}

/* The boundaries from r's own times: on the wire when they are known, else
 * the broker's (recv, socket_wait and send_queue are then 0). The inner
 * ones are the broker's reads and writes until the handler's are found. */
static void init_bounds(const struct corr_request *r, bool wire, struct bounds *bd)
{
	memset(bd, 0, sizeof(*bd));
	bd->b[B_ARRIVAL] = wire ? r->t_arrival : r->t_first;
	bd->b[B_COMPLETE] = wire ? r->t_complete : r->t_first;
	bd->b[B_FIRST] = r->t_first;
	for (int i = B_READ; i <= B_APPEND_END; i++)
		bd->b[i] = r->t_read;
	bd->b[B_REPL] = bd->b[B_RELEASE] = r->t_resp;
	bd->b[B_RESP] = r->t_resp;
	bd->b[B_END] = r->t_end;
	bd->b[B_SENT] = wire ? r->t_sent : r->t_end;
	/* the broker's own clock: not moved by the wire times */
	bd->broker_latency_ns = r->t_end > r->t_first ? (int64_t)(r->t_end - r->t_first) : 0;
}

static void set_phases(struct attrib_result *out, const struct bounds *bd)
{
	for (int p = 0; p < ATTRIB_PHASES; p++)
		out->phase_ns[p] = (int64_t)(bd->b[p + 1] - bd->b[p]);
	out->latency_ns = (int64_t)(bd->b[ATTRIB_PHASES] - bd->b[0]);
	out->broker_latency_ns = bd->broker_latency_ns;
}

/* Splits [lo, hi) of socket_wait by the network thread that read r, with
 * that thread's own causes: running (other connections' work) is
 * net_thread, runnable is runq; asleep, or not traced, nothing we saw held
 * the bytes back: unknown. */
static void account_net_wait(struct acc *acc, uint32_t tid, uint64_t lo, uint64_t hi)
{
	const struct thr *t = tid ? thr_find(acc->a, tid) : NULL;
	int64_t *c = acc->out->cause_ns[ATTRIB_SOCKET_WAIT];
	uint64_t asleep = 0, runq;

	if (hi <= lo)
		return;
	if (!t) {
		c[ATTRIB_CAUSE_UNKNOWN] += (int64_t)(hi - lo);
		return;
	}
	for (uint32_t j = timeline_count_before(&t->tl[K_OFF], lo), k = j ? j - 1 : 0;
	     k < t->tl[K_OFF].len && timeline_span(&t->tl[K_OFF], k)->t0 < hi; k++) {
		const struct off_rec *o = timeline_at(&t->tl[K_OFF], k);
		uint64_t w = o->tw >= o->t0 && o->tw <= o->t1 ? o->tw : o->t1;
		uint64_t s = o->t0 > lo ? o->t0 : lo, e = w < hi ? w : hi;

		if (o->blocked && e > s)
			asleep += e - s;
	}
	if (asleep > hi - lo)
		asleep = hi - lo;
	runq = runq_inside(acc->a, tid, lo, hi);
	if (runq > hi - lo - asleep)
		runq = hi - lo - asleep;
	c[ATTRIB_CAUSE_UNKNOWN] += (int64_t)asleep;
	c[CAUSE_RUNQ] += (int64_t)runq;
	c[ATTRIB_CAUSE_NET_THREAD] += (int64_t)(hi - lo - asleep - runq);
}

/* The part of socket_wait [lo, hi) inside the previous request's flight on
 * the connection (its arrival to its response leaving: it was muted, or
 * waiting itself), as [*hs, *he); empty at lo when none. */
static void hol_span(const struct corr_request *r, uint64_t lo, uint64_t hi, uint64_t *hs,
		     uint64_t *he)
{
	*hs = *he = lo;
	if (hi <= lo || !r->has_prev || r->prev_t_done <= lo || r->prev_t_start >= hi ||
	    r->prev_t_start >= r->prev_t_done)
		return;
	*hs = r->prev_t_start > lo ? r->prev_t_start : lo;
	*he = r->prev_t_done < hi ? r->prev_t_done : hi;
}

/* The part of [lo, hi) in which Kafka kept the connection muted for the
 * previous response's throttle time, from that response leaving, as
 * [*ts, *te); empty at lo when none. */
static void throttle_span(const struct corr_request *r, uint64_t lo, uint64_t hi, uint64_t *ts,
			  uint64_t *te)
{
	uint64_t end;

	*ts = *te = lo;
	if (hi <= lo || !r->has_prev || r->prev_throttle_ms <= 0)
		return;
	end = r->prev_t_done + (uint64_t)r->prev_throttle_ms * 1000000u;
	if (end <= lo || r->prev_t_done >= hi)
		return;
	*ts = r->prev_t_done > lo ? r->prev_t_done : lo;
	*te = end < hi ? end : hi;
}

/* socket_wait [lo, hi): head-of-line, then muted for a throttle, and the
 * rest the network thread's. */
static void account_socket_wait(struct acc *acc, const struct corr_request *r, uint64_t lo,
				uint64_t hi)
{
	uint64_t hs, he, ts, te;

	if (hi <= lo)
		return;
	hol_span(r, lo, hi, &hs, &he);
	throttle_span(r, he, hi, &ts, &te);
	account_net_wait(acc, r->tid_read, lo, hs);
	add_cause(acc, ATTRIB_SOCKET_WAIT, ATTRIB_CAUSE_HOL, hs, he, NULL);
	acc->out->hol_ns = (int64_t)(he - hs);
	account_net_wait(acc, r->tid_read, he, ts);
	add_cause(acc, ATTRIB_SOCKET_WAIT, ATTRIB_CAUSE_THROTTLE_MUTE, ts, te, NULL);
	account_net_wait(acc, r->tid_read, te, hi);
}

int64_t attrib_hol_ns(const struct corr_request *r)
{
	struct bounds bd;
	uint64_t hs, he, ns;

	if (!corr_wire_latency(r, &ns))
		return 0;
	init_bounds(r, true, &bd);
	clamp_bounds(&bd);
	hol_span(r, bd.b[B_COMPLETE], bd.b[B_FIRST], &hs, &he);
	return (int64_t)(he - hs);
}

/* The phases outside the broker's threads: on the wire. */
static void account_wire(struct acc *acc, const struct corr_request *r, const uint64_t *b)
{
	acc->out->cause_ns[ATTRIB_RECV][ATTRIB_CAUSE_UNKNOWN] += (int64_t)(b[B_COMPLETE] - b[0]);
	account_socket_wait(acc, r, b[B_COMPLETE], b[B_FIRST]);
	acc->out->cause_ns[ATTRIB_SEND_QUEUE][ATTRIB_CAUSE_UNKNOWN] +=
	    (int64_t)(b[B_SENT] - b[B_END]);
}

static void fill_unmatched(struct attrib *a, const struct corr_request *r,
			   struct attrib_result *out)
{
	struct acc acc = {.a = a, .out = out};
	struct bounds bd;

	init_bounds(r, out->wire_known, &bd);
	clamp_bounds(&bd);
	set_phases(out, &bd);
	out->unattributed_ns = (int64_t)(bd.b[B_RESP] - bd.b[B_READ]);
	out->phase_ns[ATTRIB_POST_APPEND] = 0;
	account_wire(&acc, r, bd.b);
	account(&acc, r->tid_read, bd.b[B_FIRST], bd.b[B_READ], ATTRIB_READ, M_OWN);
	account(&acc, r->tid_send, bd.b[B_RESP], bd.b[B_END], ATTRIB_SEND, M_OWN);
	pick_top(&acc);
}

/* Does the follower's write w hold the batch that begins at base? */
static bool holds_batch(const struct app_rec *w, const struct release *rs)
{
	if (w->kind != APP_WRITE || w->topic != rs->topic || w->partition != rs->partition ||
	    w->base_offset < 0 || w->base_offset > rs->base_offset)
		return false;
	return w->last_offset < 0 ? w->base_offset == rs->base_offset
				  : rs->base_offset <= w->last_offset;
}

/* The releasing follower's append of the batch: a write of it on one of
 * its broker's threads overlapping [lo, hi); *idx its index in the
 * thread's writes. */
static const struct thr *follower_append(const struct attrib *a, const struct release *rs,
					 uint64_t lo, uint64_t hi, uint32_t *idx)
{
	for (uint32_t i = 0; rs->rel.tgid && i < a->nthr; i++) {
		const struct thr *t = &a->thr[i];
		const struct timeline *tl = &t->tl[K_APP];

		if (tgid_of(a, t->tid) != rs->rel.tgid)
			continue;
		/* one thread's writes do not overlap: in t0 order, also in t1's */
		for (uint32_t j = timeline_count_before(tl, hi); j-- > 0;) {
			const struct app_rec *w = timeline_at(tl, j);

			if (w->t1 <= lo)
				break;
			if (holds_batch(w, rs)) {
				*idx = j;
				return t;
			}
		}
	}
	return NULL;
}

/* replication [lo, hi): the releasing follower's appends by its writer
 * thread's causes, the rest its fetch round trip (replica_fetch). Its
 * appends are its write of the batch and the writes before it on the same
 * thread within [lo, hi): a fetcher stuck appending earlier batches fetches
 * nothing meanwhile (on `make demo-cluster` most of a stalled follower's
 * hold on a request was such writes: design.md, The cluster demo). */
static void account_replication(struct acc *acc, const struct release *rs, uint64_t lo, uint64_t hi)
{
	struct attrib *a = (struct attrib *)acc->a;
	int64_t *c = acc->out->cause_ns[ATTRIB_REPLICATION];
	int64_t in_appends = 0, before[ATTRIB_CAUSES];
	uint32_t j = 0;
	const struct thr *f = hi > lo ? follower_append(a, rs, lo, hi, &j) : NULL;

	memcpy(before, c, sizeof(before));
	for (uint32_t k = j + 1; f && k-- > 0;) {
		const struct app_rec *w = timeline_at(&f->tl[K_APP], k);
		uint64_t wa = w->t0 > lo ? w->t0 : lo, we = w->t1 < hi ? w->t1 : hi;

		if (w->t1 <= lo)
			break;
		if (w->kind != APP_WRITE || we <= wa)
			continue;
		account(acc, f->tid, wa, we, ATTRIB_REPLICATION, M_OWN);
		in_appends += (int64_t)(we - wa);
	}
	if (in_appends > 0) {
		for (int k = 0; k < ATTRIB_CAUSES; k++)
			a->follower_ns[k] += c[k] - before[k];
		a->follower_tgid = rs->rel.tgid;
		acc->out->follower_append_ns = in_appends;
	}
	if (hi > lo)
		c[ATTRIB_CAUSE_REPLICA_FETCH] += (int64_t)(hi - lo) - in_appends;
}

/* The request's release (acks=all): its fields in out, counted. */
static bool take_release(struct attrib *a, const struct release *rs, struct attrib_result *out)
{
	bool released = rs->any && !rs->none;

	out->repl_asked = true;
	out->released = released;
	out->repl_none = released ? REPL_RELEASED : rs->none ? rs->none : REPL_NONE_OFFSETS;
	repl_count_request(a->repl, (enum repl_none)out->repl_none, rs->rel.tgid != 0);
	if (!released)
		return false;
	out->t_release = rs->rel.t_release;
	out->release_replica = rs->rel.replica_id;
	out->release_tgid = rs->rel.tgid;
	return true;
}

static void fill_matched(struct attrib *a, const struct corr_request *r, struct thr *h,
			 struct attrib_result *out)
{
	struct acc acc = {.a = a, .out = out};
	struct bounds bd;
	const uint64_t *b = bd.b;
	bool repl = a->repl && r->acks == -1, released = false;
	struct release rs = {.rel.replica_id = -1};

	init_bounds(r, out->wire_known, &bd);
	out->handler = h->tid;
	out->appends =
	    claim_appends(a, h, r, &bd.b[B_APPEND], &bd.b[B_APPEND_END], repl ? &rs : NULL);
	bd.b[B_APPEND_END] = extend_append(a, h, bd.b[B_APPEND_END], r->t_resp);
	if (repl)
		released = take_release(a, &rs, out);
	if (released) {
		bd.b[B_REPL] = bd.b[B_APPEND_END];
		bd.b[B_RELEASE] = rs.rel.t_release < r->t_resp ? rs.rel.t_release : r->t_resp;
	}
	bd.b[B_DEQUEUE] = dequeue_time(a, h, r->t_read, bd.b[B_APPEND]);
	bd.handoff = handoff_time(a, h, r, bd.b[B_APPEND_END]);
	clamp_bounds(&bd);
	set_phases(out, &bd);
	out->t_dequeue = b[B_DEQUEUE];
	out->t_append_start = b[B_APPEND];
	out->t_append_end = b[B_APPEND_END];
	account_wire(&acc, r, b);
	account(&acc, r->tid_read, b[B_FIRST], b[B_READ], ATTRIB_READ, M_OWN);
	account(&acc, h->tid, b[B_READ], b[B_DEQUEUE], ATTRIB_QUEUE, M_QUEUE);
	account(&acc, h->tid, b[B_DEQUEUE], b[B_APPEND], ATTRIB_LOCK, M_OWN);
	account(&acc, h->tid, b[B_APPEND], b[B_APPEND_END], ATTRIB_APPEND, M_OWN);
	if (released) {
		account_replication(&acc, &rs, b[B_REPL], b[B_RELEASE]);
		account(&acc, r->tid_send, b[B_RELEASE], b[B_RESP], ATTRIB_RESPONSE_QUEUE, M_WAIT);
	} else {
		account(&acc, h->tid, b[B_APPEND_END], bd.handoff, ATTRIB_POST_APPEND, M_OWN);
		account(&acc, r->tid_send, bd.handoff, b[B_REPL], ATTRIB_POST_APPEND, M_WAIT);
	}
	account(&acc, r->tid_send, b[B_RESP], b[B_END], ATTRIB_SEND, M_OWN);
	pick_top(&acc);
}

static enum attrib_unmatched check_request(const struct corr_request *r)
{
	if (r->api_key != 0 || !r->produce_parsed)
		return ATTRIB_UNM_NOT_PRODUCE;
	if (!r->t_resp || r->acks == 0)
		return ATTRIB_UNM_NO_RESPONSE;
	if (r->t_first > r->t_read || r->t_read > r->t_resp || r->t_resp > r->t_end)
		return ATTRIB_UNM_BAD_TIMES;
	if (!r->nparts || !r->parts)
		return ATTRIB_UNM_NO_APPEND;
	return ATTRIB_MATCHED;
}

static struct conn_last *conn_slot(struct attrib *a, uint64_t conn_id)
{
	return &a->conns[(uint32_t)((conn_id * 0x9e3779b97f4a7c15ull) >> 32) & (CONN_SLOTS - 1)];
}

/* The connection's previous request, if attrib remembers it (attributed
 * before r: each connection completes in order). */
static const struct conn_last *prev_of(struct attrib *a, const struct corr_request *r)
{
	const struct conn_last *c = conn_slot(a, r->conn_id);

	if (r->has_prev && c->used && c->conn_id == r->conn_id && c->corr_id == r->prev_corr_id)
		return c;
	return NULL;
}

/* What r waited behind: its connection's previous request and that
 * request's root. */
static void hol_root(const struct conn_last *p, const struct corr_request *r,
		     struct attrib_result *out)
{
	out->hol_corr_id = r->prev_corr_id;
	out->hol_root_cause = ATTRIB_CAUSE_UNKNOWN;
	out->hol_root_phase = ATTRIB_SOCKET_WAIT;
	out->hol_root_corr_id = r->prev_corr_id;
	if (!p)
		return;
	out->hol_root_cause = p->root_cause;
	out->hol_root_phase = (enum attrib_phase)p->root_phase;
	out->hol_root_corr_id = p->root_corr_id;
}

/* r's time by root cause: its own causes (out->root_ns as pick_top left
 * it), and its head-of-line wait shared out like the time of the request it
 * waited behind, itself so composed. In a cascade, where each request waits
 * for all ahead of it, the wait is then the sum of theirs, each with its own
 * causes. */
static void root_compose(const struct conn_last *p, struct attrib_result *out)
{
	int64_t total = 0, given = 0;
	unsigned int largest = ATTRIB_CAUSE_UNKNOWN;

	out->root_ns[ATTRIB_CAUSE_HOL] = 0;
	if (out->hol_ns <= 0)
		return;
	for (int c = 0; p && c < ATTRIB_CAUSES; c++)
		total += p->root_ns[c];
	for (int c = 0; total > 0 && c < ATTRIB_CAUSES; c++) {
		int64_t share =
		    (int64_t)((double)out->hol_ns * (double)p->root_ns[c] / (double)total);

		out->root_ns[c] += share;
		given += share;
		if (largest == ATTRIB_CAUSE_UNKNOWN || p->root_ns[c] > p->root_ns[largest])
			largest = (unsigned int)c;
	}
	/* rounding: the rest goes to the largest share, so the sum stays exact */
	out->root_ns[largest] += out->hol_ns - given;
}

/* The largest root cause, and where it is: in r's own phases if r spent
 * some of it itself, else where the request it waited behind did; and the
 * request at the head of r's head-of-line chain. */
static void pick_root(const struct corr_request *r, struct attrib_result *out)
{
	unsigned int root = 0;
	int64_t own = 0;

	for (unsigned int c = 1; c < ATTRIB_CAUSES; c++)
		if (out->root_ns[c] > out->root_ns[root])
			root = c;
	out->root_cause = root;
	out->root_phase = out->hol_root_phase;
	for (int ph = 0; ph < ATTRIB_PHASES; ph++)
		if (out->cause_ns[ph][root] > own) {
			own = out->cause_ns[ph][root];
			out->root_phase = (enum attrib_phase)ph;
		}
	out->root_corr_id = out->top_cause == ATTRIB_CAUSE_HOL ? out->hol_root_corr_id : r->corr_id;
}

/* The follower's tgid when most of the root cause was spent in its append. */
static void pick_root_broker(const struct attrib *a, struct attrib_result *out)
{
	int64_t f = a->follower_ns[out->root_cause];

	out->root_broker = f > 0 && 2 * f > out->root_ns[out->root_cause] ? a->follower_tgid : 0;
}

/* r's roots, remembered for the request behind it. */
static void set_root(struct attrib *a, const struct corr_request *r, struct attrib_result *out)
{
	struct conn_last *c = conn_slot(a, r->conn_id);
	const struct conn_last *p = prev_of(a, r);

	hol_root(p, r, out);
	root_compose(p, out);
	pick_root(r, out);
	pick_root_broker(a, out);
	memcpy(out->follower_ns, a->follower_ns, sizeof(out->follower_ns));
	if (c->used && c->conn_id != r->conn_id)
		return; /* the slot is another connection's (pipelined() keeps it) */
	c->corr_id = r->corr_id;
	c->root_cause = (uint8_t)out->root_cause;
	c->root_phase = (uint8_t)out->root_phase;
	c->root_corr_id = out->root_corr_id;
	memcpy(c->root_ns, out->root_ns, sizeof(c->root_ns));
}

static enum attrib_unmatched finish(struct attrib *a, const struct corr_request *r,
				    struct attrib_result *out, enum attrib_unmatched why)
{
	out->unmatched = why;
	if (why != ATTRIB_MATCHED) {
		out->handler = 0;
		fill_unmatched(a, r, out);
	}
	set_root(a, r, out);
	a->st.unmatched[why]++;
	return why;
}

/* Was r read before its connection's previous response was written (the
 * broker does not mute the connection)? Remembers r's response for the next. */
static bool pipelined(struct attrib *a, const struct corr_request *r)
{
	struct conn_last *c = conn_slot(a, r->conn_id);
	bool p = c->used && c->conn_id == r->conn_id && c->t_end > r->t_first;

	if (r->t_end && r->t_end >= r->t_first) {
		if (c->conn_id != r->conn_id)
			*c = (struct conn_last){.corr_id = -1};
		c->conn_id = r->conn_id;
		c->t_end = r->t_end;
		c->used = true;
	}
	return p;
}

/* What every request's result starts from; returns whether r is pipelined. */
static bool start_result(struct attrib *a, const struct corr_request *r, struct attrib_result *out)
{
	uint64_t wire_ns;

	memset(out, 0, sizeof(*out));
	memset(a->follower_ns, 0, sizeof(a->follower_ns));
	a->follower_tgid = 0;
	out->release_replica = -1;
	out->wire_known = corr_wire_latency(r, &wire_ns);
	a->st.requests++;
	return pipelined(a, r);
}

enum attrib_unmatched attrib_request_lost(struct attrib *a, const struct corr_request *r,
					  struct attrib_result *out)
{
	start_result(a, r, out);
	return finish(a, r, out, ATTRIB_UNM_LOST_CAUSES);
}

enum attrib_unmatched attrib_request(struct attrib *a, const struct corr_request *r,
				     struct attrib_result *out)
{
	struct cand c[CAND_MAX];
	const struct cand *pick;
	enum attrib_unmatched why = check_request(r);
	bool pipe = start_result(a, r, out);
	size_t n;

	if (why != ATTRIB_MATCHED)
		return finish(a, r, out, why);
	learn_net(a, r->tid_read);
	learn_net(a, r->tid_send);
	hash_topics(a, r);
	n = candidates(a, r, c);
	if (!n)
		return finish(a, r, out, ATTRIB_UNM_NO_APPEND);
	pick = n == 1 ? &c[0] : break_tie(a, r, c, n, pipe, &out->ambiguous);
	if (!pick)
		return finish(a, r, out, ATTRIB_UNM_AMBIGUOUS);
	if (out->ambiguous)
		a->st.ambiguous_resolved++;
	else if (pick->by_id)
		a->st.by_batch_id++;
	fill_matched(a, r, pick->t, out);
	return finish(a, r, out, ATTRIB_MATCHED);
}

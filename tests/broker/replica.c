// SPDX-License-Identifier: MIT
/*
 * Replication, leader side (Kafka's Partition, Replica and DelayedProduce).
 *
 * The assignment is static and computed alike on every broker: partition p
 * of any topic is led by brokers[p % n] (sorted by id) and replicated on the
 * next R - 1 brokers in ring order. The leader owns the ISR (at creation:
 * every replica) and the high watermark, HW = min LEO over the ISR, leader
 * included. A follower's LEO is the fetch offset of its latest fetch.
 *
 * One mutex (struct replication.mu) guards every partition's replication
 * state and the produce purgatory: the reference broker trades Kafka's
 * per-partition locks and per-key watcher lists for one lock that is easy to
 * reason about. Lock order: partition mutex -> replication mutex; the
 * topic table's lock may be held when taking it, never the reverse.
 *
 * acks=all: the handler's append registers each partition (offset order)
 * under the partition mutex, before the new log end can be served to a
 * follower, so the fetch that first passes the batch always finds it. The
 * request holds one extra count while its handler runs; whoever drops the
 * count to 0 (the handler, the fetch that moved the HW, the ISR check that
 * shrank the ISR) releases it to its network thread, as DelayedProduce's
 * tryComplete does on the thread that processed the releasing fetch.
 * Requests not released within their timeout_ms get REQUEST_TIMED_OUT from
 * the kafka-reaper thread (the ExpirationReaper). Every ISR change is a
 * ground-truth event line.
 */
#include <stdlib.h>
#include <string.h>

#include "broker.h"

static uint64_t ms_ns(uint64_t ms)
{
	return ms * 1000000ull;
}

void replica_lock(struct broker *b)
{
	if (rb_cluster(b))
		pthread_mutex_lock(&b->repl.mu);
}

void replica_unlock(struct broker *b)
{
	if (rb_cluster(b))
		pthread_mutex_unlock(&b->repl.mu);
}

static int32_t self_id(const struct broker *b)
{
	return b->o.broker_id;
}

void replica_partition_init(struct broker *b, struct partition *p)
{
	struct repl_part *rp = &p->repl;
	uint32_t n = b->o.nnodes;
	int32_t ids[RB_MAX_BROKERS];
	uint64_t now = now_ns();

	memset(rp, 0, sizeof(*rp));
	if (!n)
		return;
	rp->nreplicas = b->o.replication_factor;
	for (uint32_t i = 0; i < n; i++)
		ids[i] = b->o.nodes[i].id;
	isr_assign(ids, n, rp->nreplicas, p->index, rp->replicas);
	rp->leader = rp->replicas[0];
	for (uint32_t k = 1; k < rp->nreplicas; k++) /* a new follower has a lag time to start */
		rp->f[rp->nf++] = (struct follower){.id = rp->replicas[k],
						    .in_isr = true,
						    .caught_up_ns = now,
						    .last_fetch_ns = now};
}

void replica_partition_free(struct partition *p)
{
	free(p->repl.wait);
	p->repl.wait = NULL;
}

bool replica_is_leader(const struct broker *b, const struct partition *p)
{
	return !rb_cluster(b) || p->repl.leader == self_id(b);
}

static struct follower *follower_of(struct repl_part *rp, int32_t id)
{
	for (uint32_t i = 0; i < rp->nf; i++)
		if (rp->f[i].id == id)
			return &rp->f[i];
	return NULL;
}

static uint32_t isr_list(const struct repl_part *rp, int32_t *out)
{
	uint32_t n = 0;

	out[n++] = rp->leader;
	for (uint32_t i = 0; i < rp->nf; i++)
		if (rp->f[i].in_isr)
			out[n++] = rp->f[i].id;
	return n;
}

uint32_t replica_isr(struct broker *b, struct partition *p, int32_t *out)
{
	uint32_t n;

	if (!rb_cluster(b)) {
		out[0] = 0;
		return 1;
	}
	pthread_mutex_lock(&b->repl.mu);
	if (replica_is_leader(b, p)) {
		n = isr_list(&p->repl, out);
	} else { /* only the leader knows the ISR: a follower reports every replica */
		n = p->repl.nreplicas;
		memcpy(out, p->repl.replicas, n * sizeof(*out));
	}
	pthread_mutex_unlock(&b->repl.mu);
	return n;
}

int16_t replica_check_min_isr(struct broker *b, struct partition *p)
{
	int32_t isr[RB_MAX_REPLICAS];
	uint32_t n;

	if (!rb_cluster(b))
		return KERR_NONE;
	pthread_mutex_lock(&b->repl.mu);
	n = isr_list(&p->repl, isr);
	pthread_mutex_unlock(&b->repl.mu);
	return n < b->o.min_isr ? KERR_NOT_ENOUGH_REPLICAS : KERR_NONE;
}

/* ---- ground truth of ISR changes ---- */

static void isr_json(char *s, size_t cap, const int32_t *ids, uint32_t n)
{
	size_t len = 0;

	len += (size_t)snprintf(s + len, cap - len, "[");
	for (uint32_t i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%d", i ? "," : "", ids[i]);
	if (len < cap)
		snprintf(s + len, cap - len, "]");
}

static void isr_event(struct broker *b, const struct partition *p, const int32_t *old,
		      uint32_t nold, uint64_t t)
{
	int32_t now_isr[RB_MAX_REPLICAS];
	char o[128], n[128], *line;
	uint32_t nn = isr_list(&p->repl, now_isr);

	isr_json(o, sizeof(o), old, nold);
	isr_json(n, sizeof(n), now_isr, nn);
	/* topic names are [a-zA-Z0-9._-]: no escaping needed */
	if (asprintf(&line,
		     "{\"event\":\"isr\",\"t_ns\":%llu,\"broker\":%d,\"topic\":\"%s\","
		     "\"partition\":%d,\"old\":%s,\"new\":%s}\n",
		     (unsigned long long)t, self_id(b), p->topic->name, p->index, o, n) < 0)
		return;
	truth_emit_line(b, line);
}

/* ---- the produce purgatory ---- */

static void purg_unlink(struct replication *rs, struct request *r)
{
	if (r->pprev)
		r->pprev->pnext = r->pnext;
	else if (rs->purg_head == r)
		rs->purg_head = r->pnext;
	if (r->pnext)
		r->pnext->pprev = r->pprev;
	r->pprev = r->pnext = NULL;
}

/* Done waiting: off the timeout list, onto the caller's list to answer. */
static void release(struct broker *b, struct request *r, uint64_t now, struct request **done)
{
	purg_unlink(&b->repl, r);
	r->t_released = now;
	r->next = *done;
	*done = r;
}

/* Hands released requests to their network threads, outside the mutex. */
static void respond_all(struct broker *b, struct request *done)
{
	while (done) {
		struct request *next = done->next;

		done->t_resp_enqueue = now_ns();
		net_respond(b, done);
		done = next;
	}
}

/* Moves the HW to min LEO over the ISR; releases what it passed. by: who moved it. */
static bool advance_hw(struct broker *b, struct partition *p, int32_t by, struct request **done)
{
	struct repl_part *rp = &p->repl;
	int64_t hw = isr_min_leo(rp->f, rp->nf, rp->leader_leo);
	uint64_t now;

	if (hw <= partition_hw(p))
		return false;
	partition_set_hw(p, hw);
	now = now_ns();
	while (rp->whead < rp->nwait && rp->wait[rp->whead].last_offset < hw) {
		struct repl_wait *w = &rp->wait[rp->whead++];
		struct request *r = w->r;

		if (!r)
			continue; /* timed out meanwhile */
		r->parts[w->part].hw_ns = now;
		r->released_by = by;
		if (--r->repl_wait == 0)
			release(b, r, now, done);
	}
	if (rp->whead == rp->nwait)
		rp->whead = rp->nwait = 0;
	return true;
}

static int wait_push(struct repl_part *rp, struct request *r, uint32_t part, int64_t last)
{
	if (rp->nwait == rp->capwait) {
		size_t cap;
		struct repl_wait *nw;

		if (rp->whead) { /* slide the live entries down first */
			memmove(rp->wait, rp->wait + rp->whead,
				(rp->nwait - rp->whead) * sizeof(*rp->wait));
			rp->nwait -= rp->whead;
			rp->whead = 0;
		}
		if (rp->nwait == rp->capwait) {
			cap = rp->capwait ? rp->capwait * 2 : 64;
			if (!(nw = realloc(rp->wait, cap * sizeof(*nw))))
				return -1;
			rp->wait = nw;
			rp->capwait = cap;
		}
	}
	rp->wait[rp->nwait++] = (struct repl_wait){r, part, last};
	return 0;
}

void replica_on_append(struct broker *b, struct partition *p, struct request *r, uint32_t part)
{
	struct repl_part *rp = &p->repl;
	struct rb_part_truth *pt = &r->parts[part];
	struct request *done = NULL;

	pthread_mutex_lock(&b->repl.mu);
	if (p->next_offset > rp->leader_leo)
		rp->leader_leo = p->next_offset;
	if (r->acks == -1 && r->repl_wait) {
		pt->repl = true;
		pt->log = p;
		pt->nfollow = 0;
		for (uint32_t i = 0; i < rp->nf; i++)
			if (rp->f[i].in_isr)
				pt->follow_id[pt->nfollow++] = rp->f[i].id;
		if (pt->last_offset < partition_hw(p)) {
			pt->hw_ns = now_ns(); /* an idempotent retry already replicated */
		} else if (wait_push(rp, r, part, pt->last_offset)) {
			pt->hw_ns = now_ns(); /* no memory to wait: answer at once */
		} else {
			r->repl_wait++;
		}
	}
	/* with the leader alone in the ISR the HW follows the append */
	advance_hw(b, p, self_id(b), &done);
	pthread_mutex_unlock(&b->repl.mu);
	respond_all(b, done);
}

/* Stamps the first fetch of follower id past each waiting batch below offset. */
static void mark_covered(struct repl_part *rp, int32_t id, int64_t offset, uint64_t t)
{
	for (size_t i = rp->whead; i < rp->nwait && rp->wait[i].last_offset < offset; i++) {
		struct rb_part_truth *pt;

		if (!rp->wait[i].r)
			continue;
		pt = &rp->wait[i].r->parts[rp->wait[i].part];
		for (uint32_t j = 0; j < pt->nfollow; j++)
			if (pt->follow_id[j] == id && !pt->covered_ns[j])
				pt->covered_ns[j] = t;
	}
}

void replica_on_fetch(struct broker *b, struct partition *p, int32_t replica_id,
		      int64_t fetch_offset, uint64_t t_arrival_ns)
{
	struct repl_part *rp = &p->repl;
	struct request *done = NULL;
	struct follower *f;
	bool moved = false;

	if (!rb_cluster(b) || replica_id < 0)
		return;
	pthread_mutex_lock(&b->repl.mu);
	if (rp->leader == self_id(b) && (f = follower_of(rp, replica_id))) {
		isr_fetch_update(f, fetch_offset, rp->leader_leo, t_arrival_ns);
		if (fetch_offset > f->leo)
			mark_covered(rp, replica_id, fetch_offset, t_arrival_ns);
		f->leo = fetch_offset;
		if (!f->in_isr && fetch_offset >= partition_hw(p)) { /* maybeExpandIsr */
			int32_t old[RB_MAX_REPLICAS];
			uint32_t nold = isr_list(rp, old);

			f->in_isr = true;
			isr_event(b, p, old, nold, now_ns());
		}
		moved = advance_hw(b, p, replica_id, &done);
	}
	pthread_mutex_unlock(&b->repl.mu);
	respond_all(b, done);
	if (moved)
		fetch_purgatory_wake(b, p);
}

void replica_follower_hw(struct broker *b, struct partition *p, int64_t leader_hw)
{
	int64_t leo = partition_leo(p), hw = leader_hw < leo ? leader_hw : leo;
	bool moved = false;

	pthread_mutex_lock(&b->repl.mu);
	if (hw > partition_hw(p)) {
		partition_set_hw(p, hw);
		moved = true;
	}
	pthread_mutex_unlock(&b->repl.mu);
	if (moved)
		fetch_purgatory_wake(b, p);
}

/* Drops r's waiting entries (timed out or never answered). */
static void forget(struct request *r)
{
	for (size_t i = 0; i < r->nparts; i++) {
		struct repl_part *rp;

		if (!r->parts[i].repl || !r->parts[i].log)
			continue;
		rp = &r->parts[i].log->repl;
		for (size_t k = rp->whead; k < rp->nwait; k++)
			if (rp->wait[k].r == r)
				rp->wait[k].r = NULL;
	}
}

bool replica_produce_done(struct broker *b, struct request *r)
{
	struct replication *rs = &b->repl;
	int64_t timeout = r->timeout_ms > 0 ? r->timeout_ms : 0;

	if (!rb_cluster(b) || !r->repl_wait)
		return true;
	pthread_mutex_lock(&rs->mu);
	if (r->action != RB_RESPOND) {
		forget(r);
		r->repl_wait = 0;
	} else if (--r->repl_wait) {
		r->t_due = now_ns() + ms_ns((uint64_t)timeout);
		r->pprev = NULL;
		r->pnext = rs->purg_head;
		if (rs->purg_head)
			rs->purg_head->pprev = r;
		rs->purg_head = r;
		pthread_cond_signal(&rs->cv);
		pthread_mutex_unlock(&rs->mu);
		return false;
	}
	r->t_released = now_ns();
	pthread_mutex_unlock(&rs->mu);
	return true;
}

/* ---- kafka-reaper: acks=all not replicated within timeout_ms ---- */

static void expire(struct broker *b, struct request *r, uint64_t now, struct request **done)
{
	forget(r);
	for (size_t i = 0; i < r->nparts; i++) {
		struct rb_part_truth *pt = &r->parts[i];

		if (!pt->repl || pt->hw_ns)
			continue;
		pt->error = KERR_REQUEST_TIMED_OUT;
		if (r->resp && pt->err_off + 2 <= r->resp_len) {
			r->resp[pt->err_off] = 0;
			r->resp[pt->err_off + 1] = KERR_REQUEST_TIMED_OUT;
		}
	}
	r->repl_wait = 0;
	r->released_by = -1;
	release(b, r, now, done);
}

static void *reaper_main(void *arg)
{
	struct broker *b = arg;
	struct replication *rs = &b->repl;

	pthread_setname_np(pthread_self(), "kafka-reaper");
	pthread_mutex_lock(&rs->mu);
	for (;;) {
		uint64_t now = now_ns(), next = now + ms_ns(100);
		struct request *done = NULL, *r, *nx;

		for (r = rs->purg_head; r; r = nx) {
			nx = r->pnext;
			if (r->t_due <= now || *b->stop)
				expire(b, r, now, &done);
			else if (r->t_due < next)
				next = r->t_due;
		}
		if (done) {
			pthread_mutex_unlock(&rs->mu);
			respond_all(b, done);
			pthread_mutex_lock(&rs->mu);
			continue;
		}
		if (*b->stop && !rs->threads)
			break;
		cond_wait_until(&rs->cv, &rs->mu, next);
	}
	pthread_mutex_unlock(&rs->mu);
	return NULL;
}

/* ---- kafka-isr-check: maybeShrinkIsr every replica.lag.time.max.ms / 2 ---- */

struct shrink_ctx {
	struct broker *b;
	uint64_t now;
};

static void shrink_topic(struct topic *t, void *arg)
{
	struct shrink_ctx *x = arg;
	struct broker *b = x->b;
	uint64_t lag = ms_ns(b->o.replica_lag_ms);

	for (uint32_t i = 0; i < t->nparts; i++) {
		struct partition *p = &t->parts[i];
		struct repl_part *rp = &p->repl;
		int32_t old[RB_MAX_REPLICAS];
		uint32_t nold;
		struct request *done = NULL;
		bool changed = false;

		if (rp->leader != self_id(b))
			continue;
		pthread_mutex_lock(&b->repl.mu);
		nold = isr_list(rp, old);
		for (uint32_t k = 0; k < rp->nf; k++) {
			struct follower *f = &rp->f[k];

			if (f->in_isr && isr_out_of_sync(f, rp->leader_leo, x->now, lag)) {
				f->in_isr = false;
				changed = true;
			}
		}
		if (changed) {
			isr_event(b, p, old, nold, x->now);
			advance_hw(b, p, -1, &done);
		}
		pthread_mutex_unlock(&b->repl.mu);
		respond_all(b, done);
		if (changed)
			fetch_purgatory_wake(b, p);
	}
}

static void *isr_main(void *arg)
{
	struct broker *b = arg;
	uint32_t period = b->o.replica_lag_ms / 2;

	pthread_setname_np(pthread_self(), "kafka-isr-check");
	while (!*b->stop) {
		struct shrink_ctx x = {b, 0};

		for (uint32_t slept = 0; slept < period && !*b->stop; slept += 50)
			sleep_ms(period - slept < 50 ? period - slept : 50);
		x.now = now_ns();
		logs_each(b, shrink_topic, &x);
	}
	return NULL;
}

int replica_start(struct broker *b)
{
	struct replication *rs = &b->repl;

	if (!rb_cluster(b))
		return 0;
	pthread_mutex_init(&rs->mu, NULL);
	if (cond_init_monotonic(&rs->cv))
		return -1;
	rs->threads = true;
	if (pthread_create(&rs->reaper_thr, NULL, reaper_main, b))
		return -1;
	if (pthread_create(&rs->isr_thr, NULL, isr_main, b)) {
		rs->threads = false;
		return -1;
	}
	return 0;
}

/* After the handlers: answers what still waits (timed out) and joins. */
void replica_stop(struct broker *b)
{
	struct replication *rs = &b->repl;

	if (!rb_cluster(b))
		return;
	pthread_join(rs->isr_thr, NULL);
	pthread_mutex_lock(&rs->mu);
	rs->threads = false;
	pthread_cond_signal(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
	pthread_join(rs->reaper_thr, NULL);
	pthread_mutex_destroy(&rs->mu);
	pthread_cond_destroy(&rs->cv);
}

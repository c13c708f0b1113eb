// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Request/response matching. Kafka answers the requests of one connection
 * in order, so each connection keeps a FIFO of requests waiting for their
 * response; a response matches by correlation id, normally the head. Produce
 * requests with acks=0 get no response from a real broker: they are counted
 * when read and kept only so that a broker which does answer them (the
 * librdkafka mock cluster) does not produce unmatched responses.
 *
 * An answered request completes when its response has left the socket: a
 * second FIFO per connection holds those whose response the kernel saw
 * leave only after the write (KLT_EV_SENT tells when), and the ones behind
 * them, so that each connection completes in order and each request can
 * name the one it may have waited behind. Full-window periods
 * (KLT_EV_FLOW) wait per connection for the next request to arrive after
 * them. docs/design.md, "Correlation".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kafkalat/correlate.h"
#include "kafkalat/grow.h"

#define CONN_BUCKETS	 4096
#define MAX_PENDING	 4096 /* per connection; Kafka clients keep at most a few hundred */
#define MAX_BUILD_TOPICS 4096
#define MAX_BUILD_PARTS	 65536

struct pending_req {
	struct corr_request req;
	struct corr_topic *topics;
	struct corr_part *parts;
	struct corr_fetch_part *fetch_parts;
	bool tentative;
	bool acks0;
	bool abi1;	   /* a frame of it came in an ABI 1 record */
	bool sent_wait;	   /* answered; its response's last byte has not left yet */
	bool evicted;	   /* an arrival fell out of the kernel's ring and no record had it */
	bool touched;	   /* a lost record may have been one of its own */
	uint32_t resp_seq; /* one past its response's last byte (sent_wait) */
};

/* A FIFO of requests (ring). */
struct pqueue {
	struct pending_req *q;
	size_t head, len, cap;
};

#define FLOW_PERIODS 64 /* full-window periods kept of a connection's flow episode */
/* arrivals handed on by the kernel, per connection: more than its receive
 * buffer holds segments of */
#define MAX_EVICTED (1u << 16)

struct flow_period {
	uint64_t t_full, t_open;
	bool claimed; /* some request's bound covers part of it */
};

/* An arrival the kernel's ring let go unread (KLT_EV_ARRIVAL): the bytes
 * before seq_end, after the previous one's. */
struct evicted_arrival {
	uint64_t t_ns;
	uint32_t seq_end;
	bool backlog;
};

struct conn {
	struct conn *next; /* hash chain */
	uint64_t id;
	char client[CORR_ADDR_MAX];
	uint16_t local_port;
	uint16_t remote_port;
	uint32_t tgid;
	int broker; /* index in corr_counts.brokers, -1 none */
	bool preexisting;
	bool matched_any;
	bool undecodable;
	bool wire_skipped;
	struct pqueue waiting; /* read, waiting for a response */
	/* answered, in order: each waits for its response to leave (a
	 * KLT_EV_SENT) or for those ahead of it to */
	struct pqueue unsent;
	/* the last request completed: what the next one may have waited behind */
	bool has_last;
	int32_t last_corr_id;
	uint64_t last_t_start, last_t_done;
	/* the flow episode: full receive windows since flow_since, the start
	 * of its first, until a request arrives into an idle connection */
	struct flow_period flow[FLOW_PERIODS];
	size_t nflow;
	uint64_t flow_since;
	uint64_t flow_longest, flow_last_open; /* of the episode's periods */
	/* evicted arrivals in stream order, from ev_head */
	struct evicted_arrival *ev;
	size_t ev_head, ev_len, ev_cap;
	/* the last completed response's throttle_time_ms, -1 unknown */
	int32_t last_throttle_ms;
	/* topics and partitions of the Produce request being framed */
	struct corr_topic *b_topics;
	struct corr_part *b_parts;
	size_t b_ntopics, b_nparts, b_topics_cap, b_parts_cap;
	/* partitions of the follower Fetch request being framed */
	struct corr_fetch_part *b_fparts;
	size_t b_nfparts, b_fparts_cap;
	int32_t b_replica_id;
	/* Records were lost since the last request frame: that request's
	 * topic and partition records may be among them */
	bool lost_build;
	/* Records were lost while evicted arrivals from ev_mark on had not
	 * come: a lost one may have been before them */
	bool ev_suspect;
	size_t ev_mark;
};

struct corr {
	corr_complete_fn on_complete;
	void *ctx;
	corr_complete_fn on_read;
	void *read_ctx;
	struct conn *buckets[CONN_BUCKETS];
	struct corr_counts n;
};

static const char *const unmatched_names[CORR_UNM_MAX] = {
    [CORR_UNM_SKIPPED] = "no_response", [CORR_UNM_CLOSED] = "closed",
    [CORR_UNM_IN_FLIGHT] = "in_flight", [CORR_UNM_UNDECODABLE] = "undecodable",
    [CORR_UNM_LOST] = "lost_events",
};

static const char *const bad_names[KLT_BAD_REASON_MAX] = {
    [KLT_BAD_NONE] = "none",	 [KLT_BAD_SIZE] = "bad_frame_size",
    [KLT_BAD_TLS] = "tls",	 [KLT_BAD_HEADER] = "bad_request_header",
    [KLT_BAD_BODY] = "bad_body", [KLT_BAD_STEPS] = "too_many_fields",
};

static const char *const lost_kind_names[KLT_LOST_KINDS] = {
    [KLT_EV_CONN] = "conn",
    [KLT_EV_FRAME] = "request",
    [KLT_EV_TOPIC] = "topic",
    [KLT_EV_PART] = "partition",
    [KLT_EV_CLOSE] = "close",
    [KLT_EV_BAD] = "undecodable",
    [KLT_EV_DESYNC] = "desync",
    [KLT_EV_SENT] = "sent",
    [KLT_EV_FLOW] = "flow",
    [KLT_EV_ARRIVAL] = "arrival",
    [KLT_EV_FETCH_PART] = "fetch_partition",
    [KLT_LOST_RESPONSE] = "response",
    [KLT_LOST_PRODUCE] = "produce_request",
};

const char *corr_lost_kind_name(unsigned int kind)
{
	return kind < KLT_LOST_KINDS ? lost_kind_names[kind] : NULL;
}

uint64_t corr_touched(const struct corr_counts *n, uint64_t *produce)
{
	*produce = n->produce_touched + n->lost[KLT_LOST_PRODUCE];
	return n->touched + n->lost[KLT_EV_FRAME] + n->lost[KLT_LOST_PRODUCE];
}

static const char *const wire_names[CORR_WIRE_MAX] = {
    [CORR_WIRE_KNOWN] = "known",
    [CORR_WIRE_BEFORE_ATTACH] = "arrived_before_attach",
    [CORR_WIRE_SENT_UNRESOLVED] = "sent_unresolved",
    [CORR_WIRE_SKIPPED] = "wire_skipped",
    [CORR_WIRE_ABI1] = "abi1",
    [CORR_WIRE_EVICTED] = "arrival_evicted",
};

const char *corr_wire_name(unsigned int w)
{
	return w < CORR_WIRE_MAX ? wire_names[w] : "unknown";
}

bool corr_wire_latency(const struct corr_request *r, uint64_t *ns)
{
	if (r->wire != CORR_WIRE_KNOWN || !r->t_arrival || !r->t_sent)
		return false;
	*ns = r->t_sent > r->t_arrival ? r->t_sent - r->t_arrival : 0;
	return true;
}

uint64_t corr_broker_latency(const struct corr_request *r)
{
	return r->t_end > r->t_first ? r->t_end - r->t_first : 0;
}

const char *corr_unmatched_name(enum corr_unmatched_reason r)
{
	return (unsigned)r < CORR_UNM_MAX ? unmatched_names[r] : "unknown";
}

const char *corr_bad_reason_name(unsigned int reason)
{
	return reason < KLT_BAD_REASON_MAX && bad_names[reason] ? bad_names[reason] : "unknown";
}

void corr_format_addr(uint16_t family, const uint8_t addr[16], uint16_t port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (family == AF_INET6) {
		/* show v4-mapped clients of a dual-stack listener as plain IPv4 */
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		if (!memcmp(addr, mapped, sizeof(mapped)) &&
		    inet_ntop(AF_INET, addr + 12, ip, sizeof(ip)))
			snprintf(buf, len, "%s:%u", ip, port);
		else if (inet_ntop(AF_INET6, addr, ip, sizeof(ip)))
			snprintf(buf, len, "[%s]:%u", ip, port);
		else
			snprintf(buf, len, "?:%u", port);
		return;
	}
	if (family == AF_INET && inet_ntop(AF_INET, addr, ip, sizeof(ip)))
		snprintf(buf, len, "%s:%u", ip, port);
	else
		snprintf(buf, len, "?:%u", port);
}

struct corr *corr_new(corr_complete_fn on_complete, void *ctx)
{
	struct corr *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->on_complete = on_complete;
	c->ctx = ctx;
	return c;
}

static void pending_release(struct pending_req *p)
{
	free(p->topics);
	free(p->parts);
	free(p->fetch_parts);
	p->topics = NULL;
	p->parts = NULL;
	p->fetch_parts = NULL;
}

static struct pending_req *pq_at(const struct pqueue *q, size_t i)
{
	return &q->q[(q->head + i) % q->cap];
}

static struct pending_req *pq_front(const struct pqueue *q)
{
	return pq_at(q, 0);
}

/* Drops the front entry; the caller has released or moved its arrays. */
static void pq_pop(struct pqueue *q)
{
	q->head = (q->head + 1) % q->cap;
	q->len--;
}

/* Room for one more at the back: the new slot, or NULL (-ENOMEM). */
static struct pending_req *pq_reserve(struct pqueue *q)
{
	if (q->len == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 8;
		struct pending_req *nq = malloc(ncap * sizeof(*nq));

		if (!nq)
			return NULL;
		for (size_t i = 0; i < q->len; i++)
			nq[i] = *pq_at(q, i);
		free(q->q);
		q->q = nq;
		q->cap = ncap;
		q->head = 0;
	}
	return pq_at(q, q->len);
}

static void pq_free(struct pqueue *q)
{
	for (size_t i = 0; i < q->len; i++)
		pending_release(pq_at(q, i));
	free(q->q);
}

static void conn_free(struct conn *cn)
{
	pq_free(&cn->waiting);
	pq_free(&cn->unsent);
	free(cn->ev);
	free(cn->b_topics);
	free(cn->b_parts);
	free(cn->b_fparts);
	free(cn);
}

void corr_free(struct corr *c)
{
	if (!c)
		return;
	for (size_t b = 0; b < CONN_BUCKETS; b++) {
		struct conn *cn = c->buckets[b], *next;

		for (; cn; cn = next) {
			next = cn->next;
			conn_free(cn);
		}
	}
	free(c);
}

const struct corr_counts *corr_counts(const struct corr *c)
{
	return &c->n;
}

static struct conn **conn_slot(struct corr *c, uint64_t id)
{
	struct conn **pp = &c->buckets[(id * 0x9e3779b97f4a7c15ULL) >> 52 & (CONN_BUCKETS - 1)];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static struct conn *conn_find(struct corr *c, uint64_t id)
{
	return *conn_slot(c, id);
}

/* A connection we have frames for but no CONN record (lost, or the
 * kernel side created it before a reader existed): known by id only. */
static struct conn *conn_get(struct corr *c, uint64_t id)
{
	struct conn **pp = conn_slot(c, id);

	if (*pp)
		return *pp;
	*pp = calloc(1, sizeof(**pp));
	if (!*pp)
		return NULL;
	(*pp)->id = id;
	(*pp)->broker = -1;
	snprintf((*pp)->client, sizeof((*pp)->client), "?");
	return *pp;
}

static void count_touched(struct corr *c, const struct pending_req *p)
{
	c->n.touched++;
	if (p->req.api_key == 0)
		c->n.produce_touched++;
}

static void count_unmatched(struct corr *c, const struct pending_req *p,
			    enum corr_unmatched_reason why)
{
	if (p->acks0)
		return;
	if (p->touched) {
		count_touched(c, p);
		return;
	}
	if (p->tentative) {
		c->n.partial++;
		return;
	}
	c->n.unmatched[why]++;
	if (p->req.api_key == 0)
		c->n.produce_unmatched[why]++;
}

static void drop_one(struct corr *c, struct pqueue *q, enum corr_unmatched_reason why)
{
	struct pending_req *p = pq_front(q);

	count_unmatched(c, p, why);
	pending_release(p);
	pq_pop(q);
}

static int64_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static enum corr_wire wire_of(const struct conn *cn, const struct pending_req *p)
{
	const struct corr_request *r = &p->req;

	if (p->abi1)
		return CORR_WIRE_ABI1;
	if (cn->wire_skipped)
		return CORR_WIRE_SKIPPED;
	if (p->evicted)
		return CORR_WIRE_EVICTED;
	if (!r->t_arrival || !r->t_complete)
		return CORR_WIRE_BEFORE_ATTACH;
	return r->t_sent ? CORR_WIRE_KNOWN : CORR_WIRE_SENT_UNRESOLVED;
}

/* The front of unsent is answered and out (or will never be known to be):
 * it completes, and becomes what the connection's next request waited
 * behind. */
static void complete_front(struct corr *c, struct conn *cn)
{
	struct pending_req *p = pq_front(&cn->unsent);
	struct corr_request *r = &p->req;

	if (p->touched) {
		/* its times may be another's: not what the next one waited behind */
		count_touched(c, p);
		cn->has_last = false;
		pending_release(p);
		pq_pop(&cn->unsent);
		return;
	}
	r->wire = wire_of(cn, p);
	r->has_prev = cn->has_last;
	r->prev_corr_id = cn->last_corr_id;
	r->prev_t_start = cn->last_t_start;
	r->prev_t_done = cn->last_t_done;
	r->prev_throttle_ms = cn->has_last ? cn->last_throttle_ms : -1;
	c->n.completed++;
	if (c->on_complete)
		c->on_complete(r, c->ctx);
	cn->has_last = true;
	cn->last_corr_id = r->corr_id;
	cn->last_t_start = r->t_arrival ? r->t_arrival : r->t_first;
	cn->last_t_done = r->t_sent ? r->t_sent : r->t_end;
	cn->last_throttle_ms = r->throttle_ms;
	pending_release(p);
	pq_pop(&cn->unsent);
}

/* Completes the answered requests at the front whose responses are out. */
static void complete_sent(struct corr *c, struct conn *cn)
{
	while (cn->unsent.len && !pq_front(&cn->unsent)->sent_wait)
		complete_front(c, cn);
}

/* No KLT_EV_SENT will come for them (closed, undecodable, lost, ended): they
 * complete with their sending time unknown. */
static void complete_unsent(struct corr *c, struct conn *cn)
{
	while (cn->unsent.len) {
		pq_front(&cn->unsent)->sent_wait = false;
		complete_front(c, cn);
	}
}

/* The connection's flow episode is over (or the connection): periods no
 * request arrived after are counted. */
static void flow_release(struct corr *c, struct conn *cn)
{
	for (size_t i = 0; i < cn->nflow; i++)
		if (!cn->flow[i].claimed)
			c->n.flow_unclaimed_ns += cn->flow[i].t_open - cn->flow[i].t_full;
	cn->nflow = 0;
	cn->flow_since = 0;
	cn->flow_longest = 0;
	cn->flow_last_open = 0;
}

static void queue_drop_all(struct corr *c, struct conn *cn, enum corr_unmatched_reason why)
{
	while (cn->waiting.len)
		drop_one(c, &cn->waiting, why);
	complete_unsent(c, cn);
}

static void build_reset(struct conn *cn)
{
	cn->b_ntopics = 0;
	cn->b_nparts = 0;
	cn->b_nfparts = 0;
}

/* The index of tgid's counts, added at its first connection; -1 when
 * KLT_MAX_BROKERS are counted already (a sound kernel side sends no more). */
static int broker_index(struct corr *c, uint32_t tgid)
{
	for (int i = 0; i < c->n.nbrokers; i++)
		if (c->n.brokers[i].tgid == tgid)
			return i;
	if (c->n.nbrokers == KLT_MAX_BROKERS)
		return -1;
	c->n.brokers[c->n.nbrokers].tgid = tgid;
	return c->n.nbrokers++;
}

static int on_conn(struct corr *c, const struct klt_conn_event *e)
{
	struct conn **pp = conn_slot(c, e->conn_id);
	struct conn *cn = *pp;

	if (!cn) {
		cn = calloc(1, sizeof(*cn));
		if (!cn)
			return -ENOMEM;
		cn->id = e->conn_id;
		*pp = cn;
	}
	corr_format_addr(e->family, e->remote_addr, e->remote_port, cn->client, sizeof(cn->client));
	cn->local_port = e->local_port;
	cn->remote_port = e->remote_port;
	cn->tgid = e->tgid;
	cn->broker = broker_index(c, e->tgid);
	cn->preexisting = e->flags & KLT_CONN_PREEXISTING;
	cn->wire_skipped = e->flags & KLT_CONN_WIRE_SKIPPED;
	c->n.connections++;
	if (cn->preexisting)
		c->n.preexisting++;
	if (cn->wire_skipped)
		c->n.wire_skipped_conns++;
	return 0;
}

static void on_close(struct corr *c, const struct klt_close_event *e)
{
	struct conn **pp = conn_slot(c, e->conn_id);
	struct conn *cn = *pp;

	if (!cn)
		return;
	queue_drop_all(c, cn, CORR_UNM_CLOSED);
	flow_release(c, cn);
	*pp = cn->next;
	conn_free(cn);
}

static void on_bad(struct corr *c, const struct klt_bad_event *e)
{
	struct conn *cn = conn_get(c, e->conn_id);

	if (!cn || cn->undecodable)
		return;
	cn->undecodable = true;
	c->n.undecodable_conns++;
	c->n.undecodable[e->reason < KLT_BAD_REASON_MAX ? e->reason : KLT_BAD_NONE]++;
	queue_drop_all(c, cn, CORR_UNM_UNDECODABLE);
	build_reset(cn);
}

/* The frames reported since a resync were not on real boundaries. */
static void on_desync(struct corr *c, const struct klt_desync_event *e)
{
	struct conn *cn = conn_find(c, e->conn_id);

	c->n.desyncs++;
	if (!cn || e->dir != KLT_DIR_RX)
		return;
	build_reset(cn);
	while (cn->waiting.len) {
		struct pending_req *last = pq_at(&cn->waiting, cn->waiting.len - 1);

		if (!last->tentative)
			break;
		/* acks=0 requests were counted when read */
		if (!last->acks0)
			c->n.partial++;
		pending_release(last);
		cn->waiting.len--;
	}
}

/* Responses held in the socket left it: every byte before seq_sent. */
static void on_sent(struct corr *c, const struct klt_sent_event *e)
{
	struct conn *cn = conn_find(c, e->conn_id);

	c->n.sent_events++;
	if (!cn)
		return;
	for (size_t i = 0; i < cn->unsent.len; i++) {
		struct pending_req *p = pq_at(&cn->unsent, i);

		if (!p->sent_wait)
			continue;
		if (seq_diff(e->seq_sent, p->resp_seq) < 0)
			break; /* in order: the later responses are not out either */
		p->req.t_sent = e->ts_ns;
		p->sent_wait = false;
	}
	complete_sent(c, cn);
}

static void on_flow(struct corr *c, const struct klt_flow_event *e)
{
	struct conn *cn = conn_find(c, e->conn_id);

	c->n.flow_events++;
	if (!cn || e->t_open_ns <= e->t_full_ns)
		return;
	if (!cn->flow_since)
		cn->flow_since = e->t_full_ns;
	if (e->t_open_ns - e->t_full_ns > cn->flow_longest)
		cn->flow_longest = e->t_open_ns - e->t_full_ns;
	if (e->t_open_ns > cn->flow_last_open)
		cn->flow_last_open = e->t_open_ns;
	if (cn->nflow == FLOW_PERIODS) {
		/* kept only to count what no request arrived after */
		if (!cn->flow[0].claimed)
			c->n.flow_unclaimed_ns += cn->flow[0].t_open - cn->flow[0].t_full;
		memmove(cn->flow, cn->flow + 1, (FLOW_PERIODS - 1) * sizeof(cn->flow[0]));
		cn->nflow--;
	}
	cn->flow[cn->nflow++] = (struct flow_period){e->t_full_ns, e->t_open_ns, false};
}

/*
 * A request's flow-control bound: how long before its arrival the
 * connection's receive window first filled, in the flow episode it arrived
 * in. While the window is full the client cannot send, and afterwards it
 * sends what it queued, in order, so a request arriving then may have been
 * held in the client since the window filled, behind the full window and
 * then behind the bytes queued before it. The episode ends with the first
 * request that arrives after the window stayed open longer than the
 * episode's longest full period: a client that keeps up with its own rate
 * has sent by then what it queued while the window was full. Neither the
 * broker's idle time nor a drained receive queue says that: a broker that
 * is fast between stalls drains each window's worth before the client's
 * next arrives (on the demo, episodes so ended bounded 321 of 20,000
 * requests and stayed below the producer's p99). A bound, never a measured
 * wait.
 */
static uint64_t flow_bound(struct corr *c, struct conn *cn, uint64_t t_arrival)
{
	if (!cn->flow_since)
		return 0;
	if (t_arrival > cn->flow_last_open + cn->flow_longest) {
		flow_release(c, cn);
		return 0;
	}
	if (t_arrival <= cn->flow_since)
		return 0;
	for (size_t i = 0; i < cn->nflow; i++)
		if (cn->flow[i].t_full < t_arrival)
			cn->flow[i].claimed = true;
	return t_arrival - cn->flow_since;
}

/* The kernel's ring let an unread arrival go: keep it for the request it
 * starts or ends. */
static void on_arrival(struct corr *c, const struct klt_arrival_event *e)
{
	struct conn *cn = conn_find(c, e->conn_id);

	c->n.arrival_records++;
	if (!cn)
		return;
	if (cn->ev_head && cn->ev_head >= cn->ev_len / 2) {
		memmove(cn->ev, cn->ev + cn->ev_head, (cn->ev_len - cn->ev_head) * sizeof(*cn->ev));
		cn->ev_len -= cn->ev_head;
		cn->ev_mark = cn->ev_mark > cn->ev_head ? cn->ev_mark - cn->ev_head : 0;
		cn->ev_head = 0;
	}
	if (grow_array((void **)&cn->ev, &cn->ev_cap, cn->ev_len + 1, sizeof(*cn->ev),
		       MAX_EVICTED)) {
		c->n.arrival_records_dropped++;
		return;
	}
	cn->ev[cn->ev_len++] =
	    (struct evicted_arrival){e->t_ns, e->seq_end, e->flags & KLT_ARRIVAL_BACKLOG};
}

/* When the stream byte at seq arrived, from the evicted arrivals: the first
 * ending after it; 0 when none does. *late: it came after a loss that may
 * have held the right one. */
static const struct evicted_arrival *evicted_find(const struct conn *cn, uint32_t seq, bool *late)
{
	for (size_t i = cn->ev_head; i < cn->ev_len; i++)
		if (seq_diff(cn->ev[i].seq_end, seq) > 0) {
			*late |= cn->ev_suspect && i >= cn->ev_mark;
			return &cn->ev[i];
		}
	return NULL;
}

/* A request whose first or last byte's arrival fell out of the kernel's ring
 * (t 0): from the records the kernel handed on. The stream is read in
 * order, so those ending by the frame's end are done with. Returns false
 * when one stays unknown. */
static bool resolve_evicted(struct conn *cn, const struct klt_frame_event *e, uint64_t *t_first,
			    uint64_t *t_last, bool *backlog, bool *late)
{
	uint32_t first = e->seq_end - 4 - e->size;
	const struct evicted_arrival *a;

	if (!*t_first && (a = evicted_find(cn, first, late))) {
		*t_first = a->t_ns;
		*backlog |= a->backlog;
	}
	if (!*t_last && (a = evicted_find(cn, e->seq_end - 1, late))) {
		*t_last = a->t_ns;
		*backlog |= a->backlog;
	}
	while (cn->ev_head < cn->ev_len && seq_diff(cn->ev[cn->ev_head].seq_end, e->seq_end) <= 0)
		cn->ev_head++;
	return *t_first && *t_last;
}

void corr_topic_id_hex(const uint8_t id[16], char out[33])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[32] = '\0';
}

static int on_topic(struct corr *c, const struct klt_topic_event *e)
{
	struct conn *cn = conn_get(c, e->conn_id);
	struct corr_topic *t;
	size_t n;

	if (!cn)
		return -ENOMEM;
	if (grow_array((void **)&cn->b_topics, &cn->b_topics_cap, cn->b_ntopics + 1, sizeof(*t),
		       MAX_BUILD_TOPICS))
		return 0; /* beyond any real request: the frame keeps its totals */
	t = &cn->b_topics[cn->b_ntopics++];
	t->is_id = e->flags & KLT_TOPIC_IS_ID;
	if (t->is_id) {
		corr_topic_id_hex((const uint8_t *)e->name, t->name);
		return 0;
	}
	n = e->name_len < KLT_TOPIC_NAME_MAX ? e->name_len : KLT_TOPIC_NAME_MAX;
	memcpy(t->name, e->name, n);
	t->name[n] = '\0';
	return 0;
}

static int on_part(struct corr *c, const struct klt_part_event *e)
{
	struct conn *cn = conn_get(c, e->conn_id);
	struct corr_part *p;

	if (!cn)
		return -ENOMEM;
	if (grow_array((void **)&cn->b_parts, &cn->b_parts_cap, cn->b_nparts + 1, sizeof(*p),
		       MAX_BUILD_PARTS))
		return 0;
	p = &cn->b_parts[cn->b_nparts++];
	p->topic_idx = e->topic_idx;
	p->partition = e->partition;
	p->record_bytes = e->record_bytes;
	p->records = e->records;
	p->batches = e->batches;
	p->producer_id = e->producer_id;
	p->base_sequence = e->base_sequence;
	return 0;
}

static int on_fetch_part(struct corr *c, const struct klt_fetch_part_event *e)
{
	struct conn *cn = conn_get(c, e->conn_id);
	struct corr_fetch_part *p;

	if (!cn)
		return -ENOMEM;
	c->n.fetch_parts++;
	if (grow_array((void **)&cn->b_fparts, &cn->b_fparts_cap, cn->b_nfparts + 1, sizeof(*p),
		       MAX_BUILD_PARTS))
		return 0;
	p = &cn->b_fparts[cn->b_nfparts++];
	p->topic_idx = e->topic_idx;
	p->partition = e->partition;
	p->fetch_offset = e->fetch_offset;
	cn->b_replica_id = e->replica_id;
	return 0;
}

static void copy_client_id(struct corr_request *r, const struct klt_frame_event *e)
{
	size_t n = e->client_id_len < KLT_CLIENT_ID_MAX ? e->client_id_len : KLT_CLIENT_ID_MAX;

	memcpy(r->client_id, e->client_id, n);
	r->client_id[n] = '\0';
	/* keep the text printable: client ids are free-form bytes on the wire */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r->client_id[i] < 0x20 || r->client_id[i] == 0x7f)
			r->client_id[i] = '?';
}

/* Move the topics/partitions framed so far into the request. */
static int attach_produce(struct conn *cn, struct pending_req *p)
{
	p->topics = NULL;
	p->parts = NULL;
	p->fetch_parts = NULL;
	if (cn->b_ntopics) {
		p->topics = malloc(cn->b_ntopics * sizeof(*p->topics));
		if (!p->topics)
			return -ENOMEM;
		memcpy(p->topics, cn->b_topics, cn->b_ntopics * sizeof(*p->topics));
	}
	if (cn->b_nparts) {
		p->parts = malloc(cn->b_nparts * sizeof(*p->parts));
		if (!p->parts)
			return -ENOMEM;
		memcpy(p->parts, cn->b_parts, cn->b_nparts * sizeof(*p->parts));
	}
	if (cn->b_nfparts && p->req.fetch_parsed) {
		p->fetch_parts = malloc(cn->b_nfparts * sizeof(*p->fetch_parts));
		if (!p->fetch_parts)
			return -ENOMEM;
		memcpy(p->fetch_parts, cn->b_fparts, cn->b_nfparts * sizeof(*p->fetch_parts));
		p->req.nfetch_parts = cn->b_nfparts;
		p->req.replica_id = cn->b_replica_id;
	}
	p->req.ntopics = cn->b_ntopics;
	p->req.nparts = cn->b_nparts;
	p->req.topics = p->topics;
	p->req.parts = p->parts;
	p->req.fetch_parts = p->fetch_parts;
	return 0;
}

/* *late: its arrival came from a record after a loss that may have held
 * the right one. */
static void fill_request(struct corr_request *r, struct conn *cn, const struct klt_frame_event *e,
			 bool *evicted, bool *late)
{
	memset(r, 0, sizeof(*r));
	r->conn_id = cn->id;
	r->tgid = cn->tgid;
	memcpy(r->client, cn->client, sizeof(r->client));
	r->local_port = cn->local_port;
	r->remote_port = cn->remote_port;
	r->api_key = e->api_key;
	r->api_version = e->api_version;
	r->corr_id = e->corr_id;
	r->size = e->size;
	r->tid_read = e->tid_last;
	r->t_first = e->t_first_ns;
	r->t_read = e->t_last_ns;
	r->arrival_backlog = e->flags & KLT_FRAME_ARRIVAL_BACKLOG;
	r->throttle_ms = -1;
	r->prev_throttle_ms = -1;
	*evicted = false;
	if (!(e->flags & KLT_FRAME_ARRIVAL_UNKNOWN) && !cn->wire_skipped) {
		r->t_arrival = e->t_wire_first_ns;
		r->t_complete = e->t_wire_last_ns;
		if ((e->flags & KLT_FRAME_ARRIVAL_EVICTED) &&
		    !resolve_evicted(cn, e, &r->t_arrival, &r->t_complete, &r->arrival_backlog,
				     late)) {
			r->t_arrival = r->t_complete = 0;
			*evicted = true;
		}
	}
	copy_client_id(r, e);
	if (e->api_key == 0 && (e->flags & KLT_FRAME_PRODUCE_PARSED)) {
		r->produce_parsed = true;
		r->has_txn = e->flags & KLT_FRAME_HAS_TXN;
		r->acks = e->acks;
		r->timeout_ms = e->timeout_ms;
		r->record_bytes = e->record_bytes;
		r->records = e->records;
	}
	if (e->api_key == 1 && (e->flags & KLT_FRAME_FETCH_PARSED)) {
		r->fetch_parsed = true;
		r->replica_id = -1; /* a walked Fetch with no partitions names none */
	}
}

static void count_broker(struct corr *c, const struct conn *cn, const struct corr_request *r)
{
	struct corr_broker_count *b;

	if (cn->broker < 0)
		return;
	b = &c->n.brokers[cn->broker];
	b->requests++;
	b->produce += r->api_key == 0;
	b->fetch += r->api_key == 1;
	b->follower_fetches += r->fetch_parsed;
}

void corr_set_read_fn(struct corr *c, corr_complete_fn on_read, void *ctx)
{
	c->on_read = on_read;
	c->read_ctx = ctx;
}

/* The topic and partition records framed do not add up to what the
 * frame says it walked. */
static bool build_short(const struct conn *cn, const struct klt_frame_event *e)
{
	size_t parts = e->api_key == 1 ? cn->b_nfparts : cn->b_nparts;
	bool walked = e->flags & (KLT_FRAME_PRODUCE_PARSED | KLT_FRAME_FETCH_PARSED);

	if (!walked)
		return cn->b_ntopics || cn->b_nparts || cn->b_nfparts;
	return cn->b_ntopics != e->ntopics || parts != e->nparts;
}

/* Whether a loss before this request frame may have taken some of its
 * records: its topics and partitions, or the evicted arrival it needed. */
static bool touched_at_read(struct conn *cn, const struct klt_frame_event *e, bool late)
{
	bool touched = late || (cn->lost_build && build_short(cn, e));

	cn->lost_build = false;
	/* its arrivals were in the kernel's ring, which lets the oldest go
	 * first: a lost record was of bytes before these */
	if (!(e->flags & (KLT_FRAME_ARRIVAL_EVICTED | KLT_FRAME_ARRIVAL_UNKNOWN)))
		cn->ev_suspect = false;
	return touched;
}

static int on_request(struct corr *c, struct conn *cn, const struct klt_frame_event *e, bool abi1)
{
	struct pending_req *p;
	bool late = false;
	int err;

	c->n.requests++;
	/* a broker never lets this many wait: responses are being missed */
	if (cn->waiting.len >= MAX_PENDING)
		drop_one(c, &cn->waiting, CORR_UNM_SKIPPED);
	p = pq_reserve(&cn->waiting);
	if (!p)
		return -ENOMEM;
	fill_request(&p->req, cn, e, &p->evicted, &late);
	count_broker(c, cn, &p->req);
	p->touched = touched_at_read(cn, e, late);
	p->tentative = e->flags & KLT_FRAME_TENTATIVE;
	p->acks0 = p->req.produce_parsed && p->req.acks == 0;
	p->abi1 = abi1;
	p->sent_wait = false;
	if (p->req.arrival_backlog)
		c->n.arrival_backlog++;
	if (p->evicted)
		c->n.arrival_evicted++;
	if (p->req.t_arrival)
		p->req.flow_blocked_ns = flow_bound(c, cn, p->req.t_arrival);
	err = attach_produce(cn, p);
	build_reset(cn);
	if (err) {
		pending_release(p);
		return err;
	}
	cn->waiting.len++;
	if (p->touched && p->acks0) {
		count_touched(c, p);
		return 0;
	}
	if (c->on_read && !p->touched)
		c->on_read(&p->req, c->read_ctx);
	if (p->acks0) {
		c->n.acks0++;
		if (c->on_complete)
			c->on_complete(&p->req, c->ctx);
	}
	return 0;
}

/* A response left during its write, so every response byte before it had
 * left too: a KLT_EV_SENT for those still waiting would have come before
 * it. None did (lost, or a kernel side that sends none): they are sent at
 * an unknown time, rather than held until the connection closes. */
static void give_up_unsent(struct conn *cn)
{
	for (size_t i = 0; i + 1 < cn->unsent.len; i++)
		pq_at(&cn->unsent, i)->sent_wait = false;
}

/* p answered by response e: it moves to the requests waiting to be sent. */
static int answer(struct corr *c, struct conn *cn, struct pending_req *p,
		  const struct klt_frame_event *e, bool abi1)
{
	struct pending_req *u;

	if (cn->unsent.len >= MAX_PENDING) {
		pq_front(&cn->unsent)->sent_wait = false;
		complete_front(c, cn);
	}
	u = pq_reserve(&cn->unsent);
	if (!u)
		return -ENOMEM;
	*u = *p;
	u->req.t_resp = e->t_first_ns;
	u->req.t_end = e->t_last_ns;
	u->req.t_sent = cn->wire_skipped ? 0 : e->t_wire_last_ns;
	u->req.tid_send = e->tid_first;
	u->req.throttle_ms = corr_produce_throttle_ms(u->req.api_key, u->req.api_version, e);
	u->abi1 |= abi1;
	u->sent_wait =
	    !u->abi1 && !cn->wire_skipped && !u->req.t_sent && (e->flags & KLT_FRAME_SENT_LATER);
	u->resp_seq = e->seq_end;
	cn->unsent.len++;
	cn->matched_any = true;
	if (u->req.t_sent)
		give_up_unsent(cn);
	complete_sent(c, cn);
	return 0;
}

static int on_response(struct corr *c, struct conn *cn, const struct klt_frame_event *e, bool abi1)
{
	struct pending_req *p;
	size_t i;

	/* the topics framed so far belong to a request still being read */
	c->n.responses++;
	for (i = 0; i < cn->waiting.len; i++)
		if (pq_at(&cn->waiting, i)->req.corr_id == e->corr_id)
			break;
	if (i == cn->waiting.len) {
		/* the request was read before we attached, or framed wrongly */
		if (cn->preexisting && !cn->matched_any)
			c->n.partial++;
		else
			c->n.unmatched_responses++;
		return 0;
	}
	/* requests ahead of the match will never be answered */
	while (i--)
		drop_one(c, &cn->waiting, CORR_UNM_SKIPPED);
	p = pq_front(&cn->waiting);
	if (p->acks0) {
		pending_release(p);
		pq_pop(&cn->waiting);
		return 0;
	}
	if (answer(c, cn, p, e, abi1)) {
		drop_one(c, &cn->waiting, CORR_UNM_LOST);
		return -ENOMEM;
	}
	pq_pop(&cn->waiting); /* its arrays went with it */
	return 0;
}

static int on_frame(struct corr *c, const struct klt_frame_event *e, bool abi1)
{
	struct conn *cn = conn_get(c, e->conn_id);

	if (!cn)
		return -ENOMEM;
	if (cn->undecodable)
		return 0;
	if (e->dir == KLT_DIR_RX)
		return on_request(c, cn, e, abi1);
	return on_response(c, cn, e, abi1);
}

int corr_feed(struct corr *c, const void *data, size_t len)
{
	uint32_t type;

	if (len < sizeof(type)) {
		c->n.bad_events++;
		return -EINVAL;
	}
	memcpy(&type, data, sizeof(type));
	c->n.events++;
#define EXPECT(T)                          \
	do {                               \
		if (len < sizeof(T)) {     \
			c->n.bad_events++; \
			return -EINVAL;    \
		}                          \
	} while (0)
	switch (type) {
	case KLT_EV_CONN:
		EXPECT(struct klt_conn_event);
		return on_conn(c, data);
	case KLT_EV_FRAME:
		if (len < sizeof(struct klt_frame_event) && len >= KLT_FRAME_V1_SIZE) {
			/* ABI 1 (an older dump): no wire times, so unknown */
			struct klt_frame_event v1 = {0};

			memcpy(&v1, data, KLT_FRAME_V1_SIZE);
			return on_frame(c, &v1, true);
		}
		EXPECT(struct klt_frame_event);
		return on_frame(c, data, false);
	case KLT_EV_TOPIC:
		EXPECT(struct klt_topic_event);
		return on_topic(c, data);
	case KLT_EV_PART:
		if (len < sizeof(struct klt_part_event) && len >= KLT_PART_V3_SIZE) {
			/* ABI 1-3 (an older dump): no producer identity */
			struct klt_part_event v3 = {.producer_id = -1, .base_sequence = -1};

			memcpy(&v3, data, KLT_PART_V3_SIZE);
			return on_part(c, &v3);
		}
		EXPECT(struct klt_part_event);
		return on_part(c, data);
	case KLT_EV_CLOSE:
		EXPECT(struct klt_close_event);
		on_close(c, data);
		return 0;
	case KLT_EV_BAD:
		EXPECT(struct klt_bad_event);
		on_bad(c, data);
		return 0;
	case KLT_EV_DESYNC:
		EXPECT(struct klt_desync_event);
		on_desync(c, data);
		return 0;
	case KLT_EV_SENT:
		EXPECT(struct klt_sent_event);
		on_sent(c, data);
		return 0;
	case KLT_EV_FLOW:
		EXPECT(struct klt_flow_event);
		on_flow(c, data);
		return 0;
	case KLT_EV_ARRIVAL:
		EXPECT(struct klt_arrival_event);
		on_arrival(c, data);
		return 0;
	case KLT_EV_FETCH_PART:
		EXPECT(struct klt_fetch_part_event);
		return on_fetch_part(c, data);
	case KLT_EV_LOST: {
		struct klt_lost_event e;

		EXPECT(struct klt_lost_event);
		memcpy(&e, data, sizeof(e));
		c->n.loss_records++;
		corr_note_lost_kinds(c, e.counts);
		return 0;
	}
	default:
		c->n.bad_events++;
		return -EINVAL;
	}
#undef EXPECT
}

static void drop_everywhere(struct corr *c, enum corr_unmatched_reason why)
{
	for (size_t b = 0; b < CONN_BUCKETS; b++)
		for (struct conn *cn = c->buckets[b]; cn; cn = cn->next) {
			queue_drop_all(c, cn, why);
			build_reset(cn);
		}
}

void corr_finish(struct corr *c)
{
	drop_everywhere(c, CORR_UNM_IN_FLIGHT);
	for (size_t b = 0; b < CONN_BUCKETS; b++)
		for (struct conn *cn = c->buckets[b]; cn; cn = cn->next)
			flow_release(c, cn);
}

uint64_t corr_end_connections(struct corr *c, uint32_t tgid, bool unowned)
{
	uint64_t before = c->n.unmatched[CORR_UNM_CLOSED];

	for (size_t b = 0; b < CONN_BUCKETS; b++) {
		struct conn **pp = &c->buckets[b], *cn;

		while ((cn = *pp)) {
			if (cn->tgid != tgid && !(unowned && !cn->tgid)) {
				pp = &cn->next;
				continue;
			}
			queue_drop_all(c, cn, CORR_UNM_CLOSED);
			flow_release(c, cn);
			*pp = cn->next;
			conn_free(cn);
		}
	}
	return c->n.unmatched[CORR_UNM_CLOSED] - before;
}

void corr_note_lost(struct corr *c, uint64_t n)
{
	if (!n)
		return;
	drop_everywhere(c, CORR_UNM_LOST);
	/* a lost record may have been an arrival: a later one would stand in
	 * for it, too late */
	for (size_t b = 0; b < CONN_BUCKETS; b++)
		for (struct conn *cn = c->buckets[b]; cn; cn = cn->next)
			cn->ev_head = cn->ev_len = 0;
}

static void touch_queue(struct pqueue *q)
{
	for (size_t i = 0; i < q->len; i++)
		pq_at(q, i)->touched = true;
}

/*
 * Which connection a lost record was of is unknown, so every connection is
 * suspect: each request read and not yet complete may have lost its
 * response, its KLT_EV_SENT, or (when read after a resync) the DESYNC that
 * would void it; the request being framed its topics and partitions; a
 * request still to come the evicted arrival that says when it came. A
 * request frame lost comes up as its response without a request (counted
 * in lost[]). docs/design.md, "Overload".
 */
void corr_note_lost_kinds(struct corr *c, const uint32_t counts[KLT_LOST_KINDS])
{
	for (int k = 0; k < KLT_LOST_KINDS; k++)
		c->n.lost[k] += counts[k];
	for (size_t b = 0; b < CONN_BUCKETS; b++)
		for (struct conn *cn = c->buckets[b]; cn; cn = cn->next) {
			touch_queue(&cn->waiting);
			touch_queue(&cn->unsent);
			cn->has_last = false;
			cn->lost_build = true;
			if (!cn->ev_suspect)
				cn->ev_mark = cn->ev_len;
			cn->ev_suspect = true;
		}
}

static int32_t be32_signed(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

int32_t corr_produce_throttle_ms(int16_t api_key, int16_t api_version,
				 const struct klt_frame_event *resp)
{
	const uint8_t *t = resp->tail;

	if (api_key != 0 || api_version < 1 || resp->tail_len != KLT_RESP_TAIL)
		return -1;
	if (api_version <= 8) /* ends with throttle_time_ms */
		return be32_signed(t + 1);
	/* flexible: throttle_time_ms, then the tagged fields: an empty set is
	 * one zero byte; any other set hides where the field is */
	return t[4] == 0 ? be32_signed(t) : -1;
}

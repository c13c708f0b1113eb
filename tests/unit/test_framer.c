// SPDX-License-Identifier: MIT
/*
 * Unit tests of the shared Kafka stream framer (bpf/framer.h), driven the way
 * the BPF programs drive it (tests/unit/framer_harness.h), against the
 * userspace decoder (src/kproto.c) as the reference for every frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "framer_harness.h"
#include "kproto.h"
#include "kbuild.h"

/* ---- a seeded PRNG, so every chunking is reproducible ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static size_t rng_upto(uint64_t *s, size_t n)
{
	return n ? (size_t)(rng_next(s) % n) : 0;
}

/* ---- streams: frames back to back, with where each starts ---- */

struct stream {
	struct kb b;
	size_t *at;	 /* offset of each frame's size field */
	unsigned *units; /* work units of each frame, for the step bound */
	size_t n;
};

static void stream_init(struct stream *s)
{
	memset(s, 0, sizeof(*s));
	kb_init(&s->b);
}

static void stream_free(struct stream *s)
{
	kb_free(&s->b);
	free(s->at);
	free(s->units);
	memset(s, 0, sizeof(*s));
}

/* Records that a frame was just appended at `at`. */
static void stream_note(struct stream *s, size_t at, unsigned units)
{
	s->at = kh_push(s->at, s->n, sizeof(*s->at));
	s->units = kh_push(s->units, s->n, sizeof(*s->units));
	s->at[s->n] = at;
	s->units[s->n++] = units;
}

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t frame_end(const struct stream *s, size_t i)
{
	return s->at[i] + 4 + be32_at(s->b.buf + s->at[i]);
}

/*
 * Work units of a Produce request, for the step bound: each field the framer
 * walks costs a few kw_step calls, each record batch about six, each tagged
 * field three; a unit is worth 8 steps.
 */
static unsigned produce_units(int16_t v, const struct kb_produce_spec *sp)
{
	unsigned u = 3 + (unsigned)sp->header_ntags + (unsigned)sp->body_ntags;

	for (int t = 0; t < sp->ntopics; t++) {
		const struct kb_topic_spec *tp = &sp->topics[t];

		u += 2 + (unsigned)tp->ntags;
		for (int p = 0; p < tp->nparts; p++)
			u += 1 + (unsigned)tp->parts[p].ntags +
			     (unsigned)(tp->parts[p].nbatches > 0 ? tp->parts[p].nbatches : 0);
	}
	(void)v;
	return u;
}

static void add_produce(struct stream *s, int16_t v, int32_t corr, const char *cid,
			const struct kb_produce_spec *sp)
{
	size_t at = kb_produce_request(&s->b, v, corr, cid, sp);

	stream_note(s, at, produce_units(v, sp));
}

/* Work units of a follower Fetch request, as produce_units(). */
static unsigned fetch_units(const struct kb_fetch_spec *sp)
{
	unsigned u = 4 + (unsigned)sp->header_ntags;

	for (int t = 0; t < sp->ntopics; t++) {
		u += 2 + (unsigned)sp->topics[t].ntags;
		for (int p = 0; p < sp->topics[t].nparts; p++)
			u += 1 + (unsigned)sp->topics[t].parts[p].ntags;
	}
	return u;
}

static void add_fetch(struct stream *s, int16_t v, int32_t corr, const char *cid,
		      const struct kb_fetch_spec *sp)
{
	size_t at = kb_fetch_request(&s->b, v, corr, cid, sp);

	stream_note(s, at, fetch_units(sp));
}

static void add_request(struct stream *s, int16_t key, int16_t v, int32_t corr, const char *cid,
			size_t body)
{
	size_t at = kb_request(&s->b, key, v, corr, cid, body);

	stream_note(s, at, 1);
}

static void add_response(struct stream *s, int32_t corr, int hv, size_t body)
{
	size_t at = kb_response(&s->b, corr, hv, body);

	stream_note(s, at, 1);
}

/* ---- Produce specs: several topics, partitions and batches ---- */

static const struct kb_part_spec parts_a[] = {
    {.index = 0, .nbatches = 3, .records_per_batch = 5, .value_size = 10, .ntags = 1},
    {.index = 7, .nbatches = 1, .records_per_batch = 1, .value_size = 0, .ntags = 0},
};
static const struct kb_part_spec parts_b[] = {
    {.index = 2, .nbatches = 2, .records_per_batch = 100, .value_size = 3, .ntags = 2},
    {.index = 3, .nbatches = -1, .ntags = 0},
    {.index = 4, .nbatches = 0, .ntags = 3},
};
static const struct kb_part_spec parts_c[] = {
    {.index = 11, .nbatches = 4, .records_per_batch = 2, .value_size = 200, .ntags = 0},
};
static const struct kb_part_spec parts_big[] = {
    {.index = 0, .nbatches = 2, .records_per_batch = 512, .value_size = 1000, .ntags = 0},
    {.index = 1, .nbatches = 2, .records_per_batch = 512, .value_size = 1000, .ntags = 1},
};

#define LONG_TOPIC                                                                                 \
	"a-topic-name-that-is-as-long-as-kafka-allows-"                                            \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"                                             \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"x"                                                                                        \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const struct kb_topic_spec topics3[] = {
    {.name = "orders",
     .id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
     .nparts = 2,
     .parts = parts_a,
     .ntags = 2},
    {.name = "payments.eu-west-1",
     .id = {0xff, 0xee, 0xdd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
     .nparts = 3,
     .parts = parts_b,
     .ntags = 0},
    {.name = LONG_TOPIC, .id = {0}, .nparts = 1, .parts = parts_c, .ntags = 1},
};
static const struct kb_topic_spec topic_big[] = {
    {.name = "big", .id = {9}, .nparts = 2, .parts = parts_big, .ntags = 0},
};

static struct kb_produce_spec spec_for(int16_t v, int variant)
{
	static const int16_t acks[] = {0, 1, -1};
	struct kb_produce_spec s = {
	    .txn_id = (v + variant) % 2 ? "txn-a" : NULL,
	    .acks = acks[(v + variant) % 3],
	    .timeout_ms = 30000 + v * 10 + variant,
	    .ntopics = 1 + (v + variant) % 3,
	    .topics = topics3,
	    .body_ntags = (v + variant) % 3,
	    .header_ntags = variant % 3,
	};
	return s;
}

#define LONG_CLIENT                                                                               \
	"a-client-id-longer-than-the-64-bytes-kafkalat-keeps-of-it-in-each-frame-event-so-it-is-" \
	"cut"

/* Produce v0..v13 in several shapes, other requests around them, a 2 MB one. */
static void build_requests(struct stream *s)
{
	struct kb_produce_spec big = spec_for(9, 0);
	int32_t corr = 1;

	stream_init(s);
	add_request(s, KPROTO_API_API_VERSIONS, 3, corr++, "rdkafka", 20);
	add_request(s, KPROTO_API_API_VERSIONS, 0, corr++, "kafka-python", 0);
	add_request(s, KPROTO_API_METADATA, 12, corr++, "rdkafka", 30);
	add_request(s, KPROTO_API_METADATA, 1, corr++, NULL, 9);
	add_request(s, KPROTO_API_CONTROLLED_SHUTDOWN, 0, corr++, NULL, 4);
	for (int16_t v = 0; v <= KW_PRODUCE_MAX_VERSION; v++)
		for (int variant = 0; variant < 3; variant++) {
			struct kb_produce_spec sp = spec_for(v, variant);
			const char *cid = variant == 2 ? LONG_CLIENT
					  : variant    ? NULL
						       : "producer-1";

			add_produce(s, v, corr++, cid, &sp);
			if (variant == 1)
				add_request(s, KPROTO_API_FETCH, 13, corr++, "consumer", 50);
		}
	big.topics = topic_big;
	big.ntopics = 1;
	add_produce(s, 9, corr++, "bulk", &big);
	add_request(s, KPROTO_API_METADATA, 9, corr++, "after-big", 7);
}

/* ---- Fetch specs: a follower's topics and partitions ---- */

static const struct kb_fetch_part_spec fparts_a[] = {
    {.index = 0, .fetch_offset = 0, .ntags = 0},
    {.index = 5, .fetch_offset = 123456789012345LL, .ntags = 2},
    {.index = 2147483647, .fetch_offset = -1, .ntags = 1},
};
static const struct kb_fetch_part_spec fparts_b[] = {
    {.index = 1, .fetch_offset = 42, .ntags = 3},
};
static const struct kb_fetch_topic_spec ftopics[] = {
    {.name = "orders",
     .id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
     .nparts = 3,
     .parts = fparts_a,
     .ntags = 1},
    {.name = "", .id = {0xff}, .nparts = 0, .parts = NULL, .ntags = 0},
    {.name = "a-topic-with-a-rather-long-name-to-cross-chunk-boundaries",
     .id = {0xab, 0xcd},
     .nparts = 1,
     .parts = fparts_b,
     .ntags = 2},
};

/* Follower fetches of every walked version: several topics, none, tags
 * everywhere they may be; consumer fetches; Produce between them. */
static void build_fetches(struct stream *s)
{
	struct kb_produce_spec pr = spec_for(9, 0);
	int32_t corr = 1;

	stream_init(s);
	for (int16_t v = KW_FETCH_MIN_VERSION; v <= KW_FETCH_MAX_VERSION; v++) {
		struct kb_fetch_spec full = {.replica_id = (int32_t)v,
					     .ntopics = 3,
					     .topics = ftopics,
					     .nforgotten = 2,
					     .rack_id = "rack-1",
					     .header_ntags = 2,
					     .body_ntags = 1};
		struct kb_fetch_spec empty = {.replica_id = 0, .rack_id = NULL};
		struct kb_fetch_spec consumer = full;

		consumer.replica_id = -1;
		add_fetch(s, v, corr++, "broker-1-fetcher-0", &full);
		add_fetch(s, v, corr++, NULL, &empty);
		add_fetch(s, v, corr++, "consumer", &consumer);
		add_produce(s, 9, corr++, "producer-1", &pr);
	}
	/* versions outside the walk: framed by their header */
	for (int16_t v = 0; v <= 17; v += 17 - KW_FETCH_MAX_VERSION + KW_FETCH_MIN_VERSION - 1)
		add_request(s, KPROTO_API_FETCH, v, corr++, "other", 40);
}

static void build_responses(struct stream *s)
{
	stream_init(s);
	for (int i = 0; i < 40; i++)
		add_response(s, 1000 + i, i % 2, (size_t)(i * 37 % 300));
	add_response(s, 2000, 0, 0);		   /* the smallest response: size 4 */
	add_response(s, 2001, 1, (size_t)3 << 20); /* a large Fetch-like one */
	add_response(s, 2002, 1, 10);
	add_response(s, 2003, 0, 0); /* a body shorter than the kept tail */
	add_response(s, 2004, 0, 1);
	add_response(s, 2005, 0, KLT_RESP_TAIL - 1);
}

/* ---- the reference: what kproto says a frame is ---- */

/* Topic and partition events the framer should emit for a decoded Produce. */
static void expect_produce(struct kh_frame *x, const struct kproto_produce *p)
{
	uint32_t trunc = 0;

	x->ev.flags |= KLT_FRAME_PRODUCE_PARSED | (p->has_txn ? KLT_FRAME_HAS_TXN : 0);
	x->ev.acks = p->acks;
	x->ev.timeout_ms = p->timeout_ms;
	x->ev.ntopics = (__u16)p->ntopics;
	x->topics = kh_grow(NULL, p->ntopics, sizeof(*x->topics));
	x->ntopics = p->ntopics;
	for (size_t t = 0; t < p->ntopics; t++) {
		const struct kproto_topic *tp = &p->topics[t];
		struct klt_topic_event *te = &x->topics[t];

		memset(te, 0, sizeof(*te));
		te->topic_idx = (__u32)t;
		te->flags = tp->has_id ? KLT_TOPIC_IS_ID : 0;
		te->name_len = tp->has_id ? 16 : (__u16)strlen(tp->name);
		te->name_full_len = (__s16)te->name_len;
		memcpy(te->name, tp->has_id ? (const char *)tp->id : tp->name, te->name_len);
		for (size_t i = 0; i < tp->nparts; i++) {
			const struct kproto_partition *pp = &tp->parts[i];
			struct klt_part_event *pe;

			x->parts = kh_push(x->parts, x->nparts, sizeof(*x->parts));
			pe = &x->parts[x->nparts++];
			memset(pe, 0, sizeof(*pe));
			/* the framer's flag is per frame: sticky from the first short batch on */
			trunc |= pp->batch_truncated ? KLT_FRAME_PARTS_TRUNC : 0;
			pe->flags = trunc;
			pe->topic_idx = (__u32)t;
			pe->partition = pp->index;
			pe->record_bytes = pp->record_bytes;
			pe->records = pp->records;
			pe->batches = pp->batches;
			pe->producer_id = pp->producer_id;
			pe->base_sequence = pp->base_sequence;
			x->ev.records += pp->records;
			x->ev.record_bytes += pp->record_bytes > 0 ? (__u64)pp->record_bytes : 0;
		}
	}
	x->ev.flags |= trunc;
	x->ev.nparts = (__u32)x->nparts;
}

/* Topic and fetch partition events the framer should emit for a follower Fetch. */
static void expect_fetch(struct kh_frame *x, const struct kproto_fetch *f)
{
	x->ev.flags |= KLT_FRAME_FETCH_PARSED;
	x->ev.ntopics = (__u16)f->ntopics;
	x->topics = kh_grow(NULL, f->ntopics, sizeof(*x->topics));
	x->ntopics = f->ntopics;
	for (size_t t = 0; t < f->ntopics; t++) {
		const struct kproto_fetch_topic *tp = &f->topics[t];
		struct klt_topic_event *te = &x->topics[t];

		memset(te, 0, sizeof(*te));
		te->topic_idx = (__u32)t;
		te->flags = KLT_TOPIC_FETCH | (tp->has_id ? KLT_TOPIC_IS_ID : 0);
		te->name_len = tp->has_id ? 16 : (__u16)strlen(tp->name);
		te->name_full_len = (__s16)te->name_len;
		memcpy(te->name, tp->has_id ? (const char *)tp->id : tp->name, te->name_len);
		for (size_t i = 0; i < tp->nparts; i++) {
			struct klt_fetch_part_event *pe;

			x->fparts = kh_push(x->fparts, x->nfparts, sizeof(*x->fparts));
			pe = &x->fparts[x->nfparts++];
			memset(pe, 0, sizeof(*pe));
			pe->topic_idx = (__u32)t;
			pe->partition = tp->parts[i].index;
			pe->fetch_offset = tp->parts[i].fetch_offset;
			pe->replica_id = f->replica_id;
		}
	}
	x->ev.nparts = (__u32)x->nfparts;
}

/* The request frame of the stream at `at`, as emit_frame() should say it. */
static void expect_request(const uint8_t *frame, struct kh_frame *x)
{
	uint32_t size = be32_at(frame);
	const uint8_t *body = frame + 4;
	struct kproto_req_header h;
	struct kproto_produce p;
	struct kproto_fetch f;

	memset(x, 0, sizeof(*x));
	assert_int_equal(kproto_decode_request_header(body, size, &h), KPROTO_OK);
	x->ev.size = size;
	x->ev.dir = KLT_DIR_RX;
	x->ev.api_key = h.api_key;
	x->ev.api_version = h.api_version;
	x->ev.corr_id = h.corr_id;
	x->ev.client_id_full_len = h.header_version == 0 ? -1 : h.client_id_len;
	x->ev.client_id_len = h.client_id_len > KLT_CLIENT_ID_MAX ? KLT_CLIENT_ID_MAX
			      : h.client_id_len > 0		  ? (__u8)h.client_id_len
								  : 0;
	if (x->ev.client_id_len)
		memcpy(x->ev.client_id, h.client_id, x->ev.client_id_len);
	if (h.api_key == KPROTO_API_FETCH &&
	    kproto_decode_fetch(body + h.header_len, size - h.header_len, h.api_version, &f) ==
		KPROTO_OK) {
		if (f.replica_id >= 0)
			expect_fetch(x, &f);
		kproto_fetch_free(&f);
		return;
	}
	if (h.api_key != KPROTO_API_PRODUCE || h.api_version > KPROTO_PRODUCE_MAX_VERSION)
		return;
	assert_int_equal(
	    kproto_decode_produce(body + h.header_len, size - h.header_len, h.api_version, &p),
	    KPROTO_OK);
	expect_produce(x, &p);
	kproto_produce_free(&p);
}

/* The test streams' responses with an even correlation id answer Produce
 * requests, the others other APIs. */
static int answers_produce(int32_t corr)
{
	return corr % 2 == 0;
}

/* What the BPF side notes of each request before its response is written. */
static void note_request_apis(struct kh *h, const struct stream *s, __u8 dir)
{
	for (size_t i = 0; dir == KLT_DIR_TX && i < s->n; i++) {
		int32_t corr = (int32_t)be32_at(s->b.buf + s->at[i] + 4);

		kw_note_request_api(&h->f, corr, answers_produce(corr) ? 0 : KPROTO_API_FETCH);
	}
}

static void expect_response(const uint8_t *frame, struct kh_frame *x)
{
	memset(x, 0, sizeof(*x));
	x->ev.size = be32_at(frame);
	x->ev.dir = KLT_DIR_TX;
	x->ev.api_key = -1;
	x->ev.api_version = -1;
	x->ev.client_id_full_len = -1;
	x->ev.corr_id = (int32_t)be32_at(frame + 4);
	/* the body's last bytes, when it has that many after the corr id and
	 * answers a Produce request */
	if (x->ev.size >= 4 + KLT_RESP_TAIL && answers_produce(x->ev.corr_id)) {
		x->ev.tail_len = KLT_RESP_TAIL;
		memcpy(x->ev.tail, frame + 4 + x->ev.size - KLT_RESP_TAIL, KLT_RESP_TAIL);
	}
}

static void expect_frame(const struct stream *s, size_t i, __u8 dir, struct kh_frame *x)
{
	if (dir == KLT_DIR_RX)
		expect_request(s->b.buf + s->at[i], x);
	else
		expect_response(s->b.buf + s->at[i], x);
	x->end = frame_end(s, i);
}

static void free_expected(struct kh_frame *x)
{
	free(x->topics);
	free(x->parts);
	free(x->fparts);
}

/* Everything but timing, and names only as far as they were kept. */
static int same_frame(const struct kh_frame *g, const struct kh_frame *x, uint32_t flag_mask)
{
	const struct klt_frame_event *a = &g->ev, *b = &x->ev;
	int same = g->end == x->end && (a->flags & flag_mask) == (b->flags & flag_mask) &&
		   a->size == b->size && a->dir == b->dir && a->api_key == b->api_key &&
		   a->api_version == b->api_version && a->corr_id == b->corr_id &&
		   a->acks == b->acks && a->timeout_ms == b->timeout_ms &&
		   a->ntopics == b->ntopics && a->nparts == b->nparts &&
		   a->record_bytes == b->record_bytes && a->records == b->records &&
		   a->client_id_full_len == b->client_id_full_len &&
		   a->client_id_len == b->client_id_len &&
		   !memcmp(a->client_id, b->client_id, a->client_id_len) &&
		   a->tail_len == b->tail_len && !memcmp(a->tail, b->tail, a->tail_len) &&
		   g->ntopics == x->ntopics && g->nparts == x->nparts && g->nfparts == x->nfparts;

	for (size_t i = 0; same && i < g->ntopics; i++) {
		const struct klt_topic_event *t = &g->topics[i], *u = &x->topics[i];

		same = t->topic_idx == u->topic_idx && t->flags == u->flags &&
		       t->name_len == u->name_len && t->name_full_len == u->name_full_len &&
		       !memcmp(t->name, u->name, t->name_len);
	}
	for (size_t i = 0; same && i < g->nparts; i++) {
		const struct klt_part_event *p = &g->parts[i], *q = &x->parts[i];

		same = p->topic_idx == q->topic_idx && p->flags == q->flags &&
		       p->partition == q->partition && p->record_bytes == q->record_bytes &&
		       p->records == q->records && p->batches == q->batches &&
		       p->producer_id == q->producer_id && p->base_sequence == q->base_sequence &&
		       p->pad2 == 0;
	}
	for (size_t i = 0; same && i < g->nfparts; i++) {
		const struct klt_fetch_part_event *p = &g->fparts[i], *q = &x->fparts[i];

		same = p->type == KLT_EV_FETCH_PART && p->topic_idx == q->topic_idx &&
		       p->flags == q->flags && p->partition == q->partition &&
		       p->fetch_offset == q->fetch_offset && p->replica_id == q->replica_id &&
		       p->pad == 0;
	}
	return same;
}

static void print_frame(const char *what, const struct kh_frame *f)
{
	const struct klt_frame_event *e = &f->ev;

	print_message("%s: end=%llu size=%u flags=%#x key=%d v=%d corr=%d acks=%d tmo=%d "
		      "topics=%u/%zu parts=%u/%zu/%zu rb=%llu rec=%llu cid=%d/%u\n",
		      what, (unsigned long long)f->end, e->size, e->flags, e->api_key,
		      e->api_version, e->corr_id, e->acks, e->timeout_ms, e->ntopics, f->ntopics,
		      e->nparts, f->nparts, f->nfparts, (unsigned long long)e->record_bytes,
		      (unsigned long long)e->records, e->client_id_full_len, e->client_id_len);
}

static void assert_frame(const struct kh_frame *got, const struct kh_frame *want)
{
	if (!same_frame(got, want, ~(uint32_t)KLT_FRAME_TENTATIVE)) {
		print_frame("got ", got);
		print_frame("want", want);
		fail_msg("frame ending at %llu differs", (unsigned long long)want->end);
	}
}

/* ---- chunkings: syscalls, each a list of segment lengths ---- */

struct chunks {
	size_t *seg;   /* segment lengths, syscall after syscall */
	size_t *nseg;  /* segments of each syscall */
	size_t *start; /* stream offset of each syscall's first byte */
	size_t nsegs, nsys, len;
};

static void chunks_free(struct chunks *c)
{
	free(c->seg);
	free(c->nseg);
	free(c->start);
	memset(c, 0, sizeof(*c));
}

static void add_sys(struct chunks *c, const size_t *lens, size_t n)
{
	c->nseg = kh_push(c->nseg, c->nsys, sizeof(*c->nseg));
	c->start = kh_push(c->start, c->nsys, sizeof(*c->start));
	c->start[c->nsys] = c->len;
	c->nseg[c->nsys++] = n;
	for (size_t i = 0; i < n; i++) {
		c->seg = kh_push(c->seg, c->nsegs, sizeof(*c->seg));
		c->seg[c->nsegs++] = lens[i];
		c->len += lens[i];
	}
}

static void add_read(struct chunks *c, size_t len)
{
	if (len)
		add_sys(c, &len, 1);
}

/* Plain reads of at most k bytes each. */
static void chunk_fixed(struct chunks *c, size_t len, size_t k)
{
	memset(c, 0, sizeof(*c));
	while (c->len < len)
		add_read(c, len - c->len < k ? len - c->len : k);
}

/* The JVM broker: read(4) for the size, then read(N) for the body. The
 * size read is split at `split` (1..3) or whole (0). */
static void chunk_jvm(struct chunks *c, const struct stream *s, size_t from, size_t split)
{
	for (size_t i = 0; i < s->n; i++) {
		size_t at = s->at[i], body = at + 4, end = frame_end(s, i);

		if (end <= from)
			continue;
		if (split && at >= from) {
			add_read(c, split);
			add_read(c, 4 - split);
		} else if (at >= from) {
			add_read(c, 4);
		} else if (body > from) {
			add_read(c, body - from); /* joined inside the size */
		}
		add_read(c, end - (body > from ? body : from));
	}
}

/* Random read sizes: mostly small, sometimes large, seeded. */
static size_t random_len(uint64_t *rng, size_t max)
{
	switch (rng_upto(rng, 4)) {
	case 0:
		return 1 + rng_upto(rng, 8);
	case 1:
		return 1 + rng_upto(rng, 200);
	case 2:
		return 1 + rng_upto(rng, 5000);
	default:
		return 1 + rng_upto(rng, max);
	}
}

static void chunk_random(struct chunks *c, size_t len, uint64_t seed, size_t max)
{
	memset(c, 0, sizeof(*c));
	while (c->len < len) {
		size_t k = random_len(&seed, max);

		add_read(c, len - c->len < k ? len - c->len : k);
	}
}

/* readv()/recvmsg(): up to KH_MAX_IOV segments of random sizes, some empty. */
static void chunk_vectored(struct chunks *c, size_t len, uint64_t seed)
{
	size_t lens[KH_MAX_IOV];

	memset(c, 0, sizeof(*c));
	while (c->len < len) {
		size_t n = 1 + rng_upto(&seed, KH_MAX_IOV), total = 0;

		for (size_t i = 0; i < n; i++) {
			size_t k = rng_upto(&seed, 5) ? random_len(&seed, 70000) : 0;

			if (k > len - c->len - total)
				k = len - c->len - total;
			lens[i] = k;
			total += k;
		}
		if (total)
			add_sys(c, lens, n);
	}
}

/* Whole frames, one to five per syscall. */
static void chunk_frames(struct chunks *c, const struct stream *s, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < s->n;) {
		size_t k = 1 + rng_upto(&seed, 5), last = i + k < s->n ? i + k : s->n;

		add_read(c, frame_end(s, last - 1) - s->at[i]);
		i = last;
	}
}

/* ---- feeding a chunking through the harness ---- */

static __u64 sys_t_enter(size_t i)
{
	return 1000 * (__u64)(i + 1);
}

static __u32 sys_tid(size_t i)
{
	return 100 + (__u32)(i % 7);
}

/* Which syscall carried stream byte `off`. */
static size_t sys_of(const struct chunks *c, size_t off)
{
	size_t lo = 0, hi = c->nsys;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->start[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The step budget of a syscall: 8 per unit of the frames it touches. */
static unsigned long step_budget(const struct stream *s, size_t base, size_t lo, size_t hi,
				 size_t nseg)
{
	unsigned long units = 0;
	size_t a = 0, b = s ? s->n : 0;

	/* frames are in stream order: find the first that ends past lo */
	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (frame_end(s, mid) <= lo + base)
			a = mid + 1;
		else
			b = mid;
	}
	for (size_t i = a; s && i < s->n && s->at[i] < hi + base; i++)
		units += s->units[i];
	return 8 * units + 2 * nseg + 64;
}

/*
 * Feed buf[0..c->len) syscall by syscall. s (may be NULL) is the stream the
 * bytes came from, buf = s->b.buf + base; it sets each syscall's step budget.
 */
static void feed(struct kh *h, const uint8_t *buf, const struct chunks *c, const struct stream *s,
		 size_t base)
{
	struct iovec iov[KH_MAX_IOV];
	size_t seg = 0;

	for (size_t i = 0; i < c->nsys; i++) {
		size_t off = c->start[i], n = c->nseg[i];

		assert_true(n <= KH_MAX_IOV);
		for (size_t k = 0; k < n; k++) {
			iov[k].iov_base = (void *)(uintptr_t)(buf + off);
			iov[k].iov_len = c->seg[seg + k];
			off += c->seg[seg + k];
		}
		kh_syscall(h, iov, n, sys_t_enter(i), sys_tid(i));
		seg += n;
		if (h->steps > step_budget(s, base, c->start[i], off, n))
			fail_msg("syscall %zu [%zu,%zu) took %lu steps, budget %lu", i, c->start[i],
				 off, h->steps, step_budget(s, base, c->start[i], off, n));
		assert_true(h->iters < KH_MAX_STEPS);
	}
	assert_int_equal(kh_bounds.oob, 0);
}

/* A synced flow must give exactly the stream's frames, timed by syscall. */
static void check_exact(const struct kh *h, const struct stream *s, const struct chunks *c,
			__u8 dir)
{
	assert_int_equal(h->nbad, 0);
	assert_int_equal(h->ndesync, 0);
	assert_int_equal(h->nstop, 0);
	assert_int_equal(h->nframes, s->n);
	for (size_t i = 0; i < s->n; i++) {
		const struct klt_frame_event *e = &h->frames[i].ev;
		size_t first = sys_of(c, s->at[i]), last = sys_of(c, frame_end(s, i) - 1);
		struct kh_frame x;

		expect_frame(s, i, dir, &x);
		assert_frame(&h->frames[i], &x);
		/* sequence numbers, for the arrival lookup, across the wrap */
		assert_int_equal(h->frames[i].seq_first, (__u32)(h->isn + s->at[i]));
		assert_int_equal(h->frames[i].seq_end, (__u32)(h->isn + frame_end(s, i)));
		free_expected(&x);
		assert_int_equal(e->flags & KLT_FRAME_TENTATIVE, 0);
		assert_int_equal(e->t_first_ns, sys_t_enter(first));
		assert_int_equal(e->tid_first, sys_tid(first));
		assert_int_equal(e->t_last_ns, sys_t_enter(last) + 1);
		assert_int_equal(e->tid_last, sys_tid(last));
	}
}

static void run_exact(const struct stream *s, const struct chunks *c, __u8 dir, const char *what)
{
	struct kh h;

	assert_int_equal(c->len, s->b.len);
	kh_init(&h, dir, KW_SYNCED);
	note_request_apis(&h, s, dir);
	/* the stream's sequence numbers wrap a megabyte in */
	h.isn = 0xfff00000u;
	feed(&h, s->b.buf, c, s, 0);
	check_exact(&h, s, c, dir);
	print_message("  %-28s %6zu syscalls, max %lu steps/syscall\n", what, c->nsys, h.max_steps);
	kh_free(&h);
}

/* Every chunking of test 1 over one stream. */
static void run_all_chunkings(const struct stream *s, __u8 dir)
{
	struct chunks c;
	char what[64];

	chunk_fixed(&c, s->b.len, s->b.len);
	run_exact(s, &c, dir, "one syscall");
	chunks_free(&c);
	chunk_fixed(&c, s->b.len, 1);
	run_exact(s, &c, dir, "1-byte syscalls");
	chunks_free(&c);
	for (size_t split = 0; split < 4; split++) {
		memset(&c, 0, sizeof(c));
		chunk_jvm(&c, s, 0, split);
		snprintf(what, sizeof(what), "read(4) split %zu + read(N)", split);
		run_exact(s, &c, dir, what);
		chunks_free(&c);
	}
	for (uint64_t seed = 1; seed <= 8; seed++) {
		chunk_random(&c, s->b.len, seed * 0x9E3779B97F4A7C15ull, 100000);
		snprintf(what, sizeof(what), "random seed %llu", (unsigned long long)seed);
		run_exact(s, &c, dir, what);
		chunks_free(&c);
		chunk_vectored(&c, s->b.len, seed * 0xD1B54A32D192ED03ull);
		snprintf(what, sizeof(what), "vectored seed %llu", (unsigned long long)seed);
		run_exact(s, &c, dir, what);
		chunks_free(&c);
		chunk_frames(&c, s, seed);
		snprintf(what, sizeof(what), "frames/syscall seed %llu", (unsigned long long)seed);
		run_exact(s, &c, dir, what);
		chunks_free(&c);
	}
}

/* ---- 1. framing in every chunking ---- */

static void test_reference_stream_is_sane(void **state)
{
	struct stream s;

	(void)state;
	build_requests(&s);
	assert_true(s.n > 50);
	assert_true(s.b.len > ((size_t)2 << 20));
	assert_int_equal(frame_end(&s, s.n - 1), s.b.len);
	stream_free(&s);
}

static void test_requests_every_chunking(void **state)
{
	struct stream s;

	(void)state;
	build_requests(&s);
	run_all_chunkings(&s, KLT_DIR_RX);
	stream_free(&s);
}

static void test_responses_every_chunking(void **state)
{
	struct stream s;

	(void)state;
	build_responses(&s);
	run_all_chunkings(&s, KLT_DIR_TX);
	stream_free(&s);
}

/* Follower Fetch bodies of v4-v14 in every chunking: their topics and
 * partitions as kproto decodes them; consumer ones and other versions by
 * their header only. */
/* The responses answer requests the TX flow has seen. */
static void kh_note_request_corr_range(struct kh *h)
{
	kw_note_request_corr(&h->f, 1);
	kw_note_request_corr(&h->f, 1000);
}

/* sendfile() at a frame boundary: the next header went out unread. */
static void at_boundary_sendfile(struct kh *h, struct kb *b)
{
	size_t before = h->nframes, at = kb_response(b, 900, 0, 100);

	kh_sendfile(h, 10, 1, 1);
	assert_int_equal(h->f.sync, KW_RESYNC);
	/* the rest of that response, then a whole one: found again */
	kh_read_buf(h, b->buf + at + 10, b->len - at - 10, 2, 1);
	assert_int_equal(h->nframes, before);
	at = kb_response(b, 901, 0, 50);
	kh_read_buf(h, b->buf + at, b->len - at, 3, 1);
	assert_int_equal(h->nframes, before + 1);
	assert_int_equal(h->frames[before].ev.corr_id, 901);
}

static void test_fetch_every_chunking(void **state)
{
	struct stream s;

	(void)state;
	build_fetches(&s);
	run_all_chunkings(&s, KLT_DIR_RX);
	stream_free(&s);
}

/*
 * A Fetch response as a broker sends it: its fields by writev, the records
 * by one or more sendfile() calls, and (v12+) the tagged fields after them
 * by another write; or ending in file data (v4-v11). Each response is
 * emitted by the syscall that completes it, with no tail: only Produce
 * responses keep one.
 */
static void test_fetch_response_sendfile(void **state)
{
	static const struct {
		size_t head, file[3], trail;
	} shapes[] = {
	    {40, {1 << 20, 0, 0}, 0}, {40, {100000, 200000, 748576}, 0},
	    {60, {4096, 4096, 0}, 3}, {60, {65536, 1, 7}, 9},
	    {12, {5, 0, 0}, 0},	      {12, {3, 0, 0}, 2}, /* the file data ends inside the tail */
	};
	struct kb b;
	struct kh h;
	size_t sys = 0;

	(void)state;
	kb_init(&b);
	kh_init(&h, KLT_DIR_TX, KW_SYNCED);
	kh_note_request_corr_range(&h);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		size_t nfile = 0, body, at, first = sys;

		for (int k = 0; k < 3; k++)
			nfile += shapes[i].file[k];
		body = shapes[i].head - 8 + nfile + shapes[i].trail;
		at = kb_response(&b, 500 + (int32_t)i, 0, body);
		kh_read_buf(&h, b.buf + at, shapes[i].head, sys_t_enter(sys), sys_tid(sys));
		sys++;
		for (int k = 0; k < 3; k++)
			if (shapes[i].file[k]) {
				kh_sendfile(&h, shapes[i].file[k], sys_t_enter(sys), sys_tid(sys));
				sys++;
			}
		if (shapes[i].trail) {
			kh_read_buf(&h, b.buf + b.len - shapes[i].trail, shapes[i].trail,
				    sys_t_enter(sys), sys_tid(sys));
			sys++;
		}
		assert_int_equal(h.nframes, i + 1);
		assert_int_equal(h.frames[i].ev.corr_id, 500 + (int32_t)i);
		assert_int_equal(h.frames[i].ev.size, b.len - at - 4);
		assert_int_equal(h.frames[i].end, b.len);
		assert_int_equal(h.frames[i].ev.t_first_ns, sys_t_enter(first));
		assert_int_equal(h.frames[i].ev.t_last_ns, sys_t_enter(sys - 1) + 1);
		assert_int_equal(h.frames[i].seq_end, (__u32)(h.isn + b.len));
		/* a Fetch response: its tail (record bytes when they were
		 * written, not sent from a file) is never kept */
		assert_int_equal(h.frames[i].ev.tail_len, 0);
	}
	assert_int_equal(h.ndesync, 0);
	assert_int_equal(h.nbad, 0);
	/* file data where a header must be read: the stream is lost */
	at_boundary_sendfile(&h, &b);
	kh_free(&h);
	kb_free(&b);
}

/* A partial readv (ret < the iovecs' room) must walk only ret bytes. */
static void test_partial_vectored_read(void **state)
{
	uint8_t room[3][4096];
	struct iovec iov[3];
	struct stream s;
	struct kh h;
	size_t off = 0;

	(void)state;
	build_responses(&s);
	kh_init(&h, KLT_DIR_TX, KW_SYNCED);
	while (off < s.b.len) {
		size_t ret = s.b.len - off < 5000 ? s.b.len - off : 5000;

		for (size_t i = 0; i < 3; i++) {
			size_t lo = i * 4096 < ret ? i * 4096 : ret;
			size_t n = ret - lo < 4096 ? ret - lo : 4096;

			memcpy(room[i], s.b.buf + off + lo, n);
			iov[i].iov_base = room[i];
			iov[i].iov_len = sizeof(room[i]);
		}
		kh_syscall_ret(&h, iov, 3, ret, 7, 7);
		off += ret;
	}
	assert_int_equal(h.nframes, s.n);
	assert_int_equal(h.nbad + h.ndesync + h.nstop, 0);
	assert_int_equal(kh_bounds.oob, 0);
	kh_free(&h);
	stream_free(&s);
}

/* ---- 2. bad input ---- */

static void feed_whole(struct kh *h, const uint8_t *p, size_t n)
{
	kh_read_buf(h, p, n, 1, 1);
	assert_int_equal(kh_bounds.oob, 0);
}

static void expect_badconn(__u8 dir, const uint8_t *p, size_t n, __u8 reason, __u32 detail)
{
	struct kh h;

	kh_init(&h, dir, KW_SYNCED);
	feed_whole(&h, p, n);
	assert_int_equal(h.nbad, 1);
	assert_int_equal(h.bad.reason, reason);
	assert_int_equal(h.bad.detail, detail);
	assert_int_equal(h.bad.dir, dir);
	assert_int_equal(h.nframes, 0);
	assert_int_equal(h.f.sync, KW_BAD);
	/* nothing more from this connection, whatever comes */
	feed_whole(&h, p, n);
	assert_int_equal(h.nframes, 0);
	assert_int_equal(h.nbad, 1);
	kh_free(&h);
}

static void test_bad_size(void **state)
{
	static const uint8_t zero[12] = {0};
	static const uint8_t seven[12] = {0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t huge[12] = {0x06, 0x40, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t neg[12] = {0xff, 0xff, 0xff, 0xfe};
	static const uint8_t tx3[8] = {0, 0, 0, 3, 0, 0, 0, 9};

	(void)state;
	expect_badconn(KLT_DIR_RX, zero, sizeof(zero), KLT_BAD_SIZE, 0);
	expect_badconn(KLT_DIR_RX, seven, sizeof(seven), KLT_BAD_SIZE, 7);
	expect_badconn(KLT_DIR_RX, huge, sizeof(huge), KLT_BAD_SIZE, KLT_MAX_FRAME_BYTES + 1);
	expect_badconn(KLT_DIR_RX, neg, sizeof(neg), KLT_BAD_SIZE, 0xfffffffeu);
	expect_badconn(KLT_DIR_TX, tx3, sizeof(tx3), KLT_BAD_SIZE, 3);
}

/* The largest legal size is not rejected; it simply waits for its bytes. */
static void test_max_size_accepted(void **state)
{
	struct kb b;
	struct kh h;

	(void)state;
	kb_init(&b);
	kb_u32(&b, KLT_MAX_FRAME_BYTES);
	kb_request_header(&b, 18, 3, 5, "c", 2, 0);
	kh_init(&h, KLT_DIR_RX, KW_SYNCED);
	feed_whole(&h, b.buf, b.len);
	assert_int_equal(h.nbad + h.nframes, 0);
	assert_int_equal(h.f.frame_left, KLT_MAX_FRAME_BYTES - 8 - 3 - 1);
	kh_free(&h);
	kb_free(&b);
}

static void test_bad_tls(void **state)
{
	/* a TLS 1.0 ClientHello record header: type 22, version 3.1, length 0x0200 */
	static const uint8_t hello[16] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
					  0x00, 0x01, 0xfc, 0x03, 0x03};

	(void)state;
	expect_badconn(KLT_DIR_RX, hello, sizeof(hello), KLT_BAD_TLS, 0x16030102u);
	expect_badconn(KLT_DIR_TX, hello, sizeof(hello), KLT_BAD_TLS, 0x16030102u);
}

static void test_bad_header(void **state)
{
	struct kb b;

	(void)state;
	kb_init(&b);
	kb_request(&b, 200, 1, 9, "c", 10);
	expect_badconn(KLT_DIR_RX, b.buf, b.len, KLT_BAD_HEADER, 200);
	kb_free(&b);
	kb_request(&b, 3, 64, 9, "c", 10); /* api_version past KLT_MAX_API_VERSION */
	expect_badconn(KLT_DIR_RX, b.buf, b.len, KLT_BAD_HEADER, 64);
	kb_free(&b);
	kb_request(&b, -1, 1, 9, "c", 10);
	expect_badconn(KLT_DIR_RX, b.buf, b.len, KLT_BAD_HEADER, 0xffff);
	kb_free(&b);
	/* client_id length -2, and one longer than the frame */
	kb_u32(&b, 12);
	kb_request_header(&b, 18, 0, 9, NULL, 0, 0);
	kb_i16(&b, -2);
	kb_i16(&b, 0);
	expect_badconn(KLT_DIR_RX, b.buf, b.len, KLT_BAD_HEADER, 0xfffe);
	kb_free(&b);
	kb_u32(&b, 12);
	kb_request_header(&b, 18, 0, 9, NULL, 0, 0);
	kb_i16(&b, 3);
	kb_i16(&b, 0);
	expect_badconn(KLT_DIR_RX, b.buf, b.len, KLT_BAD_HEADER, 3);
	kb_free(&b);
}

/* ---- lying Produce bodies: the frame survives, and so does the next ---- */

struct lie {
	const char *what;
	int16_t version;
	uint32_t flags; /* PRODUCE_PARSED/PARTS_TRUNC expected on the frame */
	void (*body)(struct kb *b, int16_t v);
};

static void lie_length(struct kb *b, int16_t v, int32_t n)
{
	if (v >= 9)
		kb_uvarint(b, (uint64_t)n + 1);
	else
		kb_i32(b, n);
}

/* txn (v3+), acks, timeout */
static void lie_prefix(struct kb *b, int16_t v)
{
	if (v >= 9)
		kb_compact_string(b, NULL);
	else if (v >= 3)
		kb_string(b, NULL);
	kb_i16(b, -1);
	kb_i32(b, 1500);
}

/* one topic "t" with one partition whose records field is said to be n bytes */
static void lie_one_part(struct kb *b, int16_t v, int32_t n)
{
	lie_prefix(b, v);
	lie_length(b, v, 1);
	if (v >= 13)
		kb_fill(b, 0x42, 16); /* a topic id */
	else if (v >= 9)
		kb_compact_string(b, "t");
	else
		kb_string(b, "t");
	lie_length(b, v, 1);
	kb_i32(b, 0);
	lie_length(b, v, n);
}

static void lie_records_too_long(struct kb *b, int16_t v)
{
	lie_one_part(b, v, 0x7ffffff0);
	kb_fill(b, 0, 100);
}

static void lie_topic_count(struct kb *b, int16_t v)
{
	lie_prefix(b, v);
	lie_length(b, v, 0x7ffffff0);
	kb_fill(b, 0, 40);
}

static void lie_short_batch(struct kb *b, int16_t v)
{
	lie_one_part(b, v, 30); /* 30 bytes: less than a batch header */
	kb_fill(b, 0, 30);
	if (v >= 9) {
		kb_tags(b, 0); /* partition */
		kb_tags(b, 0); /* topic */
		kb_tags(b, 0); /* body */
	}
}

static void lie_batch_length(struct kb *b, int16_t v)
{
	struct kb rec;

	kb_init(&rec);
	kb_record_batch(&rec, 0, 3, 10);
	kb_patch_i32(&rec, 8, 100000); /* batchLength past the records field */
	lie_one_part(b, v, (int32_t)rec.len);
	kb_raw(b, rec.buf, rec.len);
	kb_free(&rec);
	if (v >= 9) {
		kb_tags(b, 0);
		kb_tags(b, 0);
		kb_tags(b, 0);
	}
}

static void lie_txn_length(struct kb *b, int16_t v)
{
	if (v >= 9)
		kb_uvarint(b, 5000);
	else
		kb_i16(b, 5000);
	kb_fill(b, 'x', 20);
}

static void lie_tag_length(struct kb *b, int16_t v)
{
	kb_uvarint(b, 1); /* one tagged field in the request header... */
	kb_uvarint(b, 0);
	kb_uvarint(b, 100000); /* ...longer than the frame */
	kb_fill(b, 0, 10);
	(void)v;
}

static void lie_varint(struct kb *b, int16_t v)
{
	lie_prefix(b, v);
	kb_fill(b, 0xff, 8); /* a topic count varint that never ends */
}

static void lie_cut_after_acks(struct kb *b, int16_t v)
{
	if (v >= 3)
		kb_string(b, "tx");
	kb_i16(b, 1);
}

/* a complete body followed by bytes no field claims */
static void lie_trailing(struct kb *b, int16_t v)
{
	struct kb_produce_spec sp = spec_for(v, 1);

	kb_produce_body(b, v, &sp);
	kb_fill(b, 0xee, 33);
}

static const struct lie lies[] = {
    {"records length > frame", 3, 0, lie_records_too_long},
    {"records length > frame (flex)", 10, 0, lie_records_too_long},
    {"topic count huge", 7, 0, lie_topic_count},
    {"topic count huge (flex)", 12, 0, lie_topic_count},
    {"short batch header", 5, KLT_FRAME_PRODUCE_PARSED | KLT_FRAME_PARTS_TRUNC, lie_short_batch},
    {"short batch header (flex)", 11, KLT_FRAME_PRODUCE_PARSED | KLT_FRAME_PARTS_TRUNC,
     lie_short_batch},
    {"batch length > records", 8, KLT_FRAME_PRODUCE_PARSED | KLT_FRAME_PARTS_TRUNC,
     lie_batch_length},
    {"batch length > records (flex)", 13, KLT_FRAME_PRODUCE_PARSED | KLT_FRAME_PARTS_TRUNC,
     lie_batch_length},
    {"txn id length > frame", 4, 0, lie_txn_length},
    {"tag length > frame", 9, 0, lie_tag_length},
    {"endless varint", 9, 0, lie_varint},
    {"body cut after acks", 6, 0, lie_cut_after_acks},
    {"trailing bytes after body", 6, KLT_FRAME_PRODUCE_PARSED, lie_trailing},
};

/* A lying frame between two good ones; returns the stream. */
static void build_lie(struct stream *s, const struct lie *l)
{
	struct kb_produce_spec sp = spec_for(l->version, 2);
	size_t at;

	stream_init(s);
	add_request(s, KPROTO_API_METADATA, 4, 1, "before", 12);
	at = kb_frame_begin(&s->b);
	/* the tag lie sits in the request header; the others in the body */
	kb_request_header(&s->b, 0, l->version, 2, "liar", l->version >= 9 ? 2 : 1, 0);
	if (l->body == lie_tag_length)
		s->b.len--; /* replace the empty header tag section */
	l->body(&s->b, l->version);
	kb_frame_end(&s->b, at);
	stream_note(s, at, 8);
	add_produce(s, l->version, 3, "after", &sp);
}

static void check_lie(const struct kh *h, const struct stream *s, const struct lie *l)
{
	const struct klt_frame_event *e = &h->frames[1].ev;
	struct kh_frame x;

	assert_int_equal(h->nbad + h->ndesync + h->nstop, 0);
	assert_int_equal(h->nframes, 3);
	if ((e->flags & ~(uint32_t)KLT_FRAME_HAS_TXN) != l->flags)
		fail_msg("%s: flags %#x, want %#x", l->what, e->flags, l->flags);
	assert_int_equal(e->size, be32_at(s->b.buf + s->at[1]));
	assert_int_equal(e->api_key, 0);
	assert_int_equal(e->api_version, l->version);
	assert_int_equal(e->corr_id, 2);
	assert_int_equal(h->frames[1].end, frame_end(s, 1));
	for (size_t i = 0; i < 3; i += 2) {
		expect_frame(s, i, KLT_DIR_RX, &x);
		assert_frame(&h->frames[i], &x);
		free_expected(&x);
	}
}

static void test_lying_bodies_keep_framing(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		struct stream s;
		struct chunks c;

		build_lie(&s, &lies[i]);
		for (size_t k = 0; k < 3; k++) {
			struct kh h;

			if (k == 0)
				chunk_fixed(&c, s.b.len, s.b.len);
			else if (k == 1)
				chunk_fixed(&c, s.b.len, 1);
			else
				chunk_random(&c, s.b.len, 77 + i, 64);
			kh_init(&h, KLT_DIR_RX, KW_SYNCED);
			feed(&h, s.b.buf, &c, &s, 0);
			check_lie(&h, &s, &lies[i]);
			kh_free(&h);
			chunks_free(&c);
		}
		stream_free(&s);
	}
}

/* The short-batch partition says what it could: its size, no records. */
static void test_short_batch_partition(void **state)
{
	struct stream s;
	struct kh h;

	(void)state;
	build_lie(&s, &lies[4]);
	kh_init(&h, KLT_DIR_RX, KW_SYNCED);
	feed_whole(&h, s.b.buf, s.b.len);
	assert_int_equal(h.frames[1].nparts, 1);
	assert_int_equal(h.frames[1].parts[0].record_bytes, 30);
	assert_int_equal(h.frames[1].parts[0].records, 0);
	assert_int_equal(h.frames[1].parts[0].batches, 0);
	assert_int_equal(h.frames[1].parts[0].flags, KLT_FRAME_PARTS_TRUNC);
	assert_int_equal(h.frames[1].ntopics, 1);
	assert_int_equal(h.frames[1].ev.acks, -1);
	assert_int_equal(h.frames[1].ev.timeout_ms, 1500);
	kh_free(&h);
	stream_free(&s);
}

/* ---- 3. resynchronisation ---- */

/* Does frame g match a real frame of s (offsets relative to base)? */
static int is_real(const struct kh_frame *g, const struct stream *s, size_t base, __u8 dir,
		   size_t *idx)
{
	for (size_t i = 0; i < s->n; i++) {
		struct kh_frame x;
		int same;

		if (frame_end(s, i) != g->end + base)
			continue;
		expect_frame(s, i, dir, &x);
		x.end -= base;
		same = same_frame(g, &x, ~(uint32_t)KLT_FRAME_TENTATIVE);
		free_expected(&x);
		if (same)
			*idx = i;
		return same;
	}
	return 0;
}

/* Does a wrong frame end exactly where a real one starts? Then the real
 * frame after it passes the framer's proof, and nothing can void it. */
static int ends_at_boundary(const struct kh_frame *g, const struct stream *s, size_t base)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->at[i] == g->end + base)
			return 1;
	return g->end + base == s->b.len;
}

struct resync_result {
	size_t wrong;	    /* frames that are no real frame */
	size_t live_suffix; /* ...kept, ending at a real boundary (see test_regression_*) */
	size_t live_other;  /* ...kept otherwise, or without KLT_FRAME_TENTATIVE */
	size_t undecided;   /* ...still tentative when the stream ended */
	size_t real_voided; /* real frames voided along with a wrong one */
	size_t first_live;  /* index in s of the first real frame kept */
	int gap;	    /* a real frame missing after the first one kept */
};

static void judge_frame(const struct kh_frame *g, const struct stream *s, size_t base, __u8 dir,
			int open, struct resync_result *r, size_t *next)
{
	size_t idx = 0;

	if (!is_real(g, s, base, dir, &idx)) {
		r->wrong++;
		if (open)
			r->undecided++; /* the bytes that would void it never came */
		else if (!(g->ev.flags & KLT_FRAME_TENTATIVE))
			r->live_other++; /* proven on a wrong boundary: nothing will void it */
		else if (!g->voided && ends_at_boundary(g, s, base))
			r->live_suffix++;
		else if (!g->voided)
			r->live_other++;
		return;
	}
	if (g->voided) {
		r->real_voided++;
		return;
	}
	if (r->first_live == SIZE_MAX)
		r->first_live = idx;
	else if (idx != *next)
		r->gap = 1;
	*next = idx + 1;
}

/* Classify what the framer emitted for s joined at base. */
static void judge_resync(const struct kh *h, const struct stream *s, size_t base, __u8 dir,
			 struct resync_result *r)
{
	size_t next = SIZE_MAX, open = h->nframes;

	memset(r, 0, sizeof(*r));
	r->first_live = SIZE_MAX;
	/* frames the flow still counts as unproven at the end of the stream */
	if (h->f.sync == KW_TENTATIVE)
		open = h->nframes - h->f.tentative_frames;
	for (size_t i = 0; i < h->nframes; i++)
		judge_frame(&h->frames[i], s, base, dir, i >= open, r, &next);
	if (r->first_live != SIZE_MAX && next != s->n)
		r->gap = 1;
}

/* A long stream of real-looking requests to join mid-way. */
static void build_resync_stream(struct stream *s)
{
	int32_t corr = 100;

	stream_init(s);
	for (int rep = 0; rep < 3; rep++)
		for (int16_t v = 3; v <= KW_PRODUCE_MAX_VERSION; v++) {
			struct kb_produce_spec sp = spec_for(v, rep);

			add_produce(s, v, corr++, rep ? "rdkafka" : "producer-7", &sp);
			if (v % 4 == 0)
				add_request(s, KPROTO_API_METADATA, 12, corr++, "rdkafka", 25);
		}
}

struct resync_tally {
	size_t joins;
	size_t wrong;	     /* joins where a wrong frame was emitted */
	size_t suffix;	     /* ...and kept: a phantom suffix frame */
	size_t other;	     /* ...and kept otherwise, or a badconn */
	size_t gap;	     /* joins that lost a real frame after syncing */
	size_t never;	     /* joins that kept no real frame */
	size_t undecided;    /* joins whose wrong frame was unresolved at the end */
	size_t real_voided;  /* real frames voided, over all joins */
	size_t first_suffix; /* the first join of each kind, to reproduce */
	size_t first_other;
};

static void tally(struct resync_tally *t, const struct resync_result *r, const struct kh *h,
		  size_t join)
{
	int other = r->live_other || h->nbad;

	if (r->live_suffix && !t->suffix)
		t->first_suffix = join;
	if (other && !t->other)
		t->first_other = join;
	t->joins++;
	t->wrong += r->wrong > 0;
	t->suffix += r->live_suffix > 0;
	t->other += other;
	t->gap += r->gap;
	t->never += r->first_live == SIZE_MAX;
	t->undecided += r->undecided > 0;
	t->real_voided += r->real_voided;
}

/* FRAMER_TRACE=1: what the framer made of one join (for debugging). */
static void trace_join(const struct kh *h, const struct stream *s, size_t join,
		       const struct resync_result *r)
{
	size_t idx = 0;

	print_message("join %zu: wrong %zu (kept %zu+%zu), gap %d, first kept %zu, "
		      "desync %lu stop %lu bad %lu; ends sync %u state %u frame_left %llu\n",
		      join, r->wrong, r->live_suffix, r->live_other, r->gap, r->first_live,
		      h->ndesync, h->nstop, h->nbad, h->f.sync, h->f.state,
		      (unsigned long long)h->f.frame_left);
	for (size_t i = 0; i < h->nframes && i < 4; i++) {
		int real = is_real(&h->frames[i], s, join, h->f.dir, &idx);

		print_frame(h->frames[i].voided ? "  voided"
			    : real		? "  real"
						: "  WRONG",
			    &h->frames[i]);
	}
}

enum resync_chunking {
	RC_JVM,	      /* requests: read(4) + read(N) per frame */
	RC_PER_FRAME, /* responses: one write per frame */
	RC_RANDOM,
};

/* The syscalls of s as seen from byte j on: the first is the tail of the
 * syscall j fell into. */
static void chunk_join(struct chunks *c, const struct stream *s, size_t j, enum resync_chunking how,
		       uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	if (how == RC_JVM) {
		chunk_jvm(c, s, j, 0);
	} else if (how == RC_RANDOM) {
		chunk_random(c, s->b.len - j, seed + j, 3000);
	} else {
		for (size_t i = 0; i < s->n; i++)
			if (frame_end(s, i) > j)
				add_read(c, frame_end(s, i) - (s->at[i] > j ? s->at[i] : j));
	}
}

static void join_at(const struct stream *s, __u8 dir, size_t j, enum resync_chunking how,
		    uint64_t seed, struct resync_tally *t)
{
	struct resync_result r;
	struct chunks c;
	struct kh h;

	chunk_join(&c, s, j, how, seed);
	kh_init(&h, dir, KW_RESYNC);
	note_request_apis(&h, s, dir);
	feed(&h, s->b.buf + j, &c, s, j);
	judge_resync(&h, s, j, dir, &r);
	if ((r.live_suffix || r.live_other || r.gap) && getenv("FRAMER_TRACE"))
		trace_join(&h, s, j, &r);
	tally(t, &r, &h, j);
	kh_free(&h);
	chunks_free(&c);
}

/* Joins s at every byte of its first frame. */
static void resync_sweep(const struct stream *s, __u8 dir, enum resync_chunking how, uint64_t seed,
			 struct resync_tally *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t j = 0; j < frame_end(s, 0); j++)
		join_at(s, dir, j, how, seed, t);
}

static void print_tally(const char *what, const struct resync_tally *t)
{
	print_message(
	    "  %s: %zu joins; a wrong tentative frame at %zu, kept (phantom suffix) at "
	    "%zu (first join %zu), kept otherwise at %zu, unresolved at stream end at %zu; "
	    "lost a frame after sync at %zu; never synced at %zu; real frames voided %zu\n",
	    what, t->joins, t->wrong, t->suffix, t->first_suffix, t->other, t->undecided, t->gap,
	    t->never, t->real_voided);
}

/*
 * The safety and liveness the framer promises: a wrong frame is either
 * voided or, at worst, the known phantom suffix (test_regression_*); no
 * wrong frame is ever proven; nothing is lost once synced.
 */
static void assert_resync(const struct resync_tally *t)
{
	if (t->other)
		fail_msg("a wrong frame was kept at %zu joins (first join %zu)", t->other,
			 t->first_other);
	assert_int_equal(t->gap, 0);
}

static void test_resync_jvm_every_offset(void **state)
{
	struct resync_tally t;
	struct stream s;

	(void)state;
	build_resync_stream(&s);
	resync_sweep(&s, KLT_DIR_RX, RC_JVM, 0, &t);
	print_tally("RX read(4)+read(N)", &t);
	assert_resync(&t);
	stream_free(&s);
}

static void test_resync_random_every_offset(void **state)
{
	struct resync_tally t;
	struct stream s;

	(void)state;
	build_resync_stream(&s);
	for (uint64_t seed = 1; seed <= 3; seed++) {
		resync_sweep(&s, KLT_DIR_RX, RC_RANDOM, seed << 32, &t);
		print_tally("RX random reads", &t);
		assert_resync(&t);
	}
	stream_free(&s);
}

static void build_resync_responses(struct stream *s)
{
	stream_init(s);
	add_response(s, 77, 1, 600); /* a first frame worth joining inside */
	for (int i = 0; i < 60; i++)
		add_response(s, 78 + i, i % 2, (size_t)(i * 131 % 900));
}

static void test_resync_responses_every_offset(void **state)
{
	struct resync_tally t;
	struct stream s;

	(void)state;
	build_resync_responses(&s);
	resync_sweep(&s, KLT_DIR_TX, RC_PER_FRAME, 0, &t);
	print_tally("TX write per frame", &t);
	assert_resync(&t);
	resync_sweep(&s, KLT_DIR_TX, RC_RANDOM, 99, &t);
	print_tally("TX random writes", &t);
	/* wrong frames stay tentative until a request proves the boundary */
	assert_int_equal(t.gap, 0);
	stream_free(&s);
}

/* Joined exactly at a boundary: the first frame is tentative, then proven. */
static void test_resync_at_boundary(void **state)
{
	struct resync_result r;
	struct chunks c;
	struct stream s;
	struct kh h;

	(void)state;
	build_resync_stream(&s);
	chunk_join(&c, &s, 0, RC_JVM, 0);
	kh_init(&h, KLT_DIR_RX, KW_RESYNC);
	feed(&h, s.b.buf, &c, &s, 0);
	judge_resync(&h, &s, 0, KLT_DIR_RX, &r);
	assert_int_equal(r.wrong + r.real_voided + (size_t)r.gap, 0);
	assert_int_equal(r.first_live, 0);
	assert_int_equal(h.nframes, s.n);
	assert_int_equal(h.frames[0].ev.flags & KLT_FRAME_TENTATIVE, KLT_FRAME_TENTATIVE);
	/* from the third frame on the boundary is proven (see test_regression_*) */
	for (size_t i = 2; i < h.nframes; i++)
		assert_int_equal(h.frames[i].ev.flags & KLT_FRAME_TENTATIVE, 0);
	assert_int_equal(h.f.sync, KW_SYNCED);
	kh_free(&h);
	chunks_free(&c);
	stream_free(&s);
}

/* A tentative boundary that proves wrong voids exactly the frames since. */
static void test_resync_desync_voids(void **state)
{
	/* size 10, api_key 127 v0 corr 9, client_id "" */
	static const uint8_t plausible[14] = {0, 0, 0, 10, 0, 0x7f, 0, 0, 0, 0, 0, 9, 0, 0};
	static const uint8_t junk[4] = {0xff, 0xff, 0xff, 0xff};
	struct stream s;
	struct kh h;

	(void)state;
	stream_init(&s);
	add_request(&s, KPROTO_API_METADATA, 1, 5, "c", 3);
	kh_init(&h, KLT_DIR_RX, KW_RESYNC);
	/* a plausible frame, then garbage where the next size should be */
	kh_read_buf(&h, plausible, sizeof(plausible), 1, 1);
	assert_int_equal(h.nframes, 1);
	assert_int_equal(h.ndesync, 0);
	kh_read_buf(&h, junk, sizeof(junk), 2, 1);
	assert_int_equal(h.ndesync, 1);
	assert_int_equal(h.nvoided, 1);
	assert_int_equal(h.f.sync, KW_RESYNC);
	/* the next syscall starting at a real boundary is framed again */
	kh_read_buf(&h, s.b.buf, s.b.len, 3, 1);
	assert_int_equal(h.nframes, 2);
	assert_false(h.frames[1].voided);
	assert_int_equal(h.frames[1].ev.corr_id, 5);
	kh_free(&h);
	stream_free(&s);
}

/* Bytes after the first syscall's start are never taken for a boundary. */
static void test_resync_only_at_syscall_start(void **state)
{
	struct stream s;
	struct kh h;
	uint8_t *two;

	(void)state;
	stream_init(&s);
	add_request(&s, KPROTO_API_METADATA, 1, 5, "c", 3);
	two = malloc(3 + s.b.len);
	assert_non_null(two);
	memcpy(two, "\xff\xff\xff", 3); /* an impossible size at the start */
	memcpy(two + 3, s.b.buf, s.b.len);
	kh_init(&h, KLT_DIR_RX, KW_RESYNC);
	kh_read_buf(&h, two, 3 + s.b.len, 1, 1);
	assert_int_equal(h.nframes, 0);
	assert_int_equal(h.nstop, 1);
	kh_free(&h);
	free(two);
	stream_free(&s);
}

/*
 * Regression (fixed; bpf/framer.h, resync proof): a tentative frame is taken as
 * proven when the NEXT frame's header is plausible. When the tail of a real
 * frame happens to start with a size that ends exactly at the real frame's
 * end, the next (real) frame proves the wrong one: a phantom request is
 * emitted with KLT_FRAME_TENTATIVE and never voided by KW_DESYNC.
 * Reproduction: build_resync_stream(), joined at byte 503 of its first frame
 * (a Produce v3 of 575 bytes), read(4)+read(N) chunking: the first syscall
 * is the 72-byte tail; its bytes 00 00 00 44 ... (inside the last record
 * batch) frame as size 68 = the rest of the syscall, api_key 0 v0 corr 0,
 * client_id_len 0, acks 56; the next read(4) is the real next frame, whose
 * plausible header turns the flow KW_SYNCED. Expected: the phantom is voided
 * (or never emitted); got: frame {size 68, key 0, v0, corr 0, TENTATIVE}
 * kept. Fixed: a Produce body that does not parse (here acks 56) rejects a
 * tentative boundary.
 */
static void test_regression_resync_phantom_suffix(void **state)
{
	struct resync_tally t;
	struct stream s;

	(void)state;
	build_resync_stream(&s);
	resync_sweep(&s, KLT_DIR_RX, RC_JVM, 0, &t);
	assert_int_equal(t.suffix, 0);
	resync_sweep(&s, KLT_DIR_RX, RC_RANDOM, 1ull << 32, &t);
	assert_int_equal(t.suffix, 0);
	stream_free(&s);
}

/* A response keeps its last bytes only when it answers the Produce request
 * noted last in its correlation id's slot: another API's body may end in
 * record data, which must not leave the kernel. */
static void test_tail_only_for_produce(void **state)
{
	static const int32_t corrs[] = {10, 11, 12, 74, 10 + 2 * KW_CORR_SLOTS};
	static const __u8 want[] = {0, 0, 0, KLT_RESP_TAIL, 0};
	struct stream s;
	struct kh h;

	(void)state;
	stream_init(&s);
	for (size_t i = 0; i < 5; i++)
		add_response(&s, corrs[i], 0, 20);
	kh_init(&h, KLT_DIR_TX, KW_SYNCED);
	kw_note_request_api(&h.f, 10, 0);
	kw_note_request_api(&h.f, 11, KPROTO_API_FETCH);
	kw_note_request_api(&h.f, 74, 0); /* slot 10 now answers 74 */
	kh_read_buf(&h, s.b.buf, s.b.len, 1, 1);
	assert_int_equal(h.nframes, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(h.frames[i].ev.corr_id, corrs[i]);
		assert_int_equal(h.frames[i].ev.tail_len, want[i]);
	}
	assert_memory_equal(h.frames[3].ev.tail, s.b.buf + frame_end(&s, 3) - KLT_RESP_TAIL,
			    KLT_RESP_TAIL);
	kh_free(&h);
	stream_free(&s);
}

/*
 * A response's size proves little (any value from 4 bytes to 100 MiB
 * passes), so a TX boundary found by resync is proven only by a response
 * that answers a request framed on the connection. Input: a resync flow
 * whose first write is the body of a response (attach between writev's
 * header and body): 00 00 00 04 00 00 00 07 00 00 00 04 00 00 00 09
 * 00 00 00 04 00 00 00 0b, then a real response (size 4, corr 55). Without
 * known requests every frame stays tentative; once request 55 is known, the
 * real response proves the boundary and is emitted as real, the phantoms
 * (7, 9, 11) never are.
 */
static void test_tx_proven_by_request_corr(void **state)
{
	static const uint8_t body[24] = {0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 4,
					 0, 0, 0, 9, 0, 0, 0, 4, 0, 0, 0, 11};
	static const uint8_t next[8] = {0, 0, 0, 4, 0, 0, 0, 55};
	struct kh h;

	(void)state;
	kh_init(&h, KLT_DIR_TX, KW_RESYNC);
	kh_read_buf(&h, body, sizeof(body), 1, 1);
	kh_read_buf(&h, next, sizeof(next), 2, 1);
	assert_int_equal(h.nframes, 4);
	for (size_t i = 0; i < h.nframes; i++)
		assert_int_equal(h.frames[i].ev.flags, KLT_FRAME_TENTATIVE);
	assert_int_equal(h.f.sync, KW_TENTATIVE);
	kh_free(&h);

	kh_init(&h, KLT_DIR_TX, KW_RESYNC);
	kw_note_request_corr(&h.f, 54);
	kw_note_request_corr(&h.f, 56);
	kh_read_buf(&h, body, sizeof(body), 1, 1);
	kh_read_buf(&h, next, sizeof(next), 2, 1);
	assert_int_equal(h.nframes, 4);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(h.frames[i].ev.flags, KLT_FRAME_TENTATIVE);
	assert_int_equal(h.frames[3].ev.corr_id, 55);
	assert_int_equal(h.frames[3].ev.flags, 0);
	assert_int_equal(h.f.sync, KW_SYNCED);
	kh_free(&h);
}

/*
 * Regression (fixed; minor, bpf/framer.h): the frame whose header proves a
 * tentative boundary is itself emitted with KLT_FRAME_TENTATIVE, because
 * kw_frame_reset() copies the flag at its size, before kw_step_client_id_len
 * (RX) / the size check (TX) flips the flow to KW_SYNCED. It can no longer be
 * voided (the flow is synced), yet readers treat it as tentative: counted as
 * "partial" when unmatched, and popped by a later desync's void loop.
 * Input: any stream joined at a frame boundary. Expected: only frame 0
 * tentative; got: frames 0 and 1.
 */
static void test_regression_proving_frame_flagged_tentative(void **state)
{
	struct chunks c;
	struct stream s;
	struct kh h;

	(void)state;
	build_resync_stream(&s);
	chunk_join(&c, &s, 0, RC_JVM, 0);
	kh_init(&h, KLT_DIR_RX, KW_RESYNC);
	feed(&h, s.b.buf, &c, &s, 0);
	assert_int_equal(h.frames[1].ev.flags & KLT_FRAME_TENTATIVE, 0);
	kh_free(&h);
	chunks_free(&c);
	stream_free(&s);
}

/* ---- Produce v0..v2: legacy message sets ---- */

/* One magic-1 message (offset, size, crc, magic, attributes, timestamp,
 * null key, value of n 'x'), as clients put in Produce v0..v2. */
static void legacy_message(struct kb *b, int64_t offset, int n)
{
	kb_i64(b, offset);
	kb_i32(b, 22 + n);
	kb_u32(b, 0); /* crc: nobody here checks it */
	kb_i8(b, 1);
	kb_i8(b, 0);
	kb_i64(b, 1700000000000);
	kb_i32(b, -1);
	kb_i32(b, n);
	kb_fill(b, 'x', (size_t)n);
}

/*
 * Regression (fixed; bpf/framer.h, kw_step_batch): the framer reads every records
 * field as magic-2 record batches and takes the int32 at offset 57 as
 * recordsCount. Produce v0..v2 carry legacy message sets (magic 0/1, one
 * record per message; magic 2 needs Produce v3+), where offset 57 is inside
 * the message value. Input: Produce v2, one partition holding 2 magic-1
 * messages with 100-byte values 'x'. Expected (kproto_scan_records): 2
 * records, 2 batches. Got: records 0x78787878 per message (the value bytes),
 * frame records 4042322160.
 */
static void test_regression_legacy_message_set_records(void **state)
{
	struct stream s;
	struct kh h;
	struct kb rec;
	size_t at;

	(void)state;
	kb_init(&rec);
	legacy_message(&rec, 0, 100);
	legacy_message(&rec, 1, 100);
	stream_init(&s);
	at = kb_frame_begin(&s.b);
	kb_request_header(&s.b, 0, 2, 1, "old-client", 1, 0);
	kb_i16(&s.b, 1);
	kb_i32(&s.b, 1000);
	kb_i32(&s.b, 1);
	kb_string(&s.b, "t");
	kb_i32(&s.b, 1);
	kb_i32(&s.b, 0);
	kb_bytes(&s.b, rec.buf, rec.len);
	kb_frame_end(&s.b, at);
	stream_note(&s, at, 8);
	kh_init(&h, KLT_DIR_RX, KW_SYNCED);
	feed_whole(&h, s.b.buf, s.b.len);
	assert_int_equal(h.nframes, 1);
	assert_int_equal(h.frames[0].ev.records, 2);
	kh_free(&h);
	kb_free(&rec);
	stream_free(&s);
}

/* ---- 4. resource bound ---- */

/* Plain frames cost a handful of steps each: <= 8 per frame + 64. */
static void test_steps_per_frame(void **state)
{
	struct stream s;
	struct kh h;

	(void)state;
	stream_init(&s);
	for (int i = 0; i < 2000; i++)
		add_request(&s, (int16_t)(i % 2 ? 18 : 3), (int16_t)(i % 13), i, "client", 40);
	kh_init(&h, KLT_DIR_RX, KW_SYNCED);
	feed_whole(&h, s.b.buf, s.b.len);
	assert_int_equal(h.nframes, s.n);
	assert_true(h.steps <= 8 * s.n + 64);
	print_message("  2000 plain requests in one syscall: %lu steps\n", h.steps);
	kh_free(&h);
	stream_free(&s);
}

/*
 * Partitions cost steps too: a Produce with many small partitions in one
 * read must stay inside bpf_loop's 65536 iterations. Measures the cost of a
 * partition and the largest request one syscall can carry.
 */
static void test_steps_many_partitions(void **state)
{
	struct kb_part_spec *parts = calloc(4000, sizeof(*parts));
	struct kb_topic_spec topic = {.name = "many", .nparts = 4000};
	struct kb_produce_spec sp = {.acks = 1, .timeout_ms = 1, .ntopics = 1, .topics = &topic};
	struct stream s;
	struct kh h;

	(void)state;
	assert_non_null(parts);
	for (int i = 0; i < 4000; i++)
		parts[i] = (struct kb_part_spec){.index = i, .nbatches = 1, .records_per_batch = 1};
	topic.parts = parts;
	stream_init(&s);
	add_produce(&s, 9, 1, "c", &sp);
	kh_init(&h, KLT_DIR_RX, KW_SYNCED);
	feed_whole(&h, s.b.buf, s.b.len);
	assert_int_equal(h.nframes, 1);
	assert_int_equal(h.frames[0].ev.nparts, 4000);
	assert_true(h.steps <= step_budget(&s, 0, 0, s.b.len, 1));
	print_message("  4000 one-batch partitions (%zu bytes): %lu steps, %.1f per partition; "
		      "bpf_loop allows ~%lu such partitions (~%lu KiB) per syscall\n",
		      s.b.len, h.steps, h.steps / 4000.0,
		      (unsigned long)KH_MAX_STEPS * 4000 / h.steps,
		      (unsigned long)(s.b.len * KH_MAX_STEPS / h.steps / 1024));
	kh_free(&h);
	stream_free(&s);
	free(parts);
}

/* ---- 5. the read window (readwin.h) ---- */

/* librdkafka's shape of the reference bench: Produce v7, one topic, one
 * partition, one batch of one 100 B record. */
static void add_bench_produce(struct stream *s, int32_t corr)
{
	static const struct kb_part_spec part = {
	    .index = 2, .nbatches = 1, .records_per_batch = 1, .value_size = 100};
	static const struct kb_topic_spec topic = {.name = "bench", .nparts = 1, .parts = &part};
	static const struct kb_produce_spec sp = {
	    .acks = -1, .timeout_ms = 30000, .ntopics = 1, .topics = &topic};

	add_produce(s, 7, corr, "rdkafka", &sp);
}

/* A request read whole is one user copy; a syscall of many requests one
 * per window of bytes, against one per token without the window. */
static void test_window_user_copies(void **state)
{
	struct stream s;
	struct kh h;
	unsigned long copies;

	(void)state;
	stream_init(&s);
	add_bench_produce(&s, 1);
	kh_init(&h, KLT_DIR_RX, KW_SYNCED);
	kh_bounds.user_copies = 0;
	feed_whole(&h, s.b.buf, s.b.len);
	assert_int_equal(h.nframes, 1);
	assert_int_equal(h.frames[0].ev.records, 1);
	assert_int_equal(kh_bounds.user_copies, 1);
	kh_free(&h);
	for (int i = 2; i <= 1000; i++)
		add_bench_produce(&s, i);
	kh_init(&h, KLT_DIR_RX, KW_SYNCED);
	kh_bounds.user_copies = 0;
	feed_whole(&h, s.b.buf, s.b.len);
	copies = kh_bounds.user_copies;
	assert_int_equal(h.nframes, 1000);
	assert_true(copies <= s.b.len / (KW_WIN_BYTES / 2) + 1);
	print_message("  1000 bench Produce requests (%zu bytes) in one read: %lu user copies, "
		      "%lu steps\n",
		      s.b.len, copies, h.steps);
	kh_free(&h);
	stream_free(&s);
}

/* The broker reads each request into the same buffer: a window kept from
 * the syscall before would hand the framer that one's bytes. */
static void test_window_buffer_reused(void **state)
{
	struct stream a, b;
	uint8_t *buf;
	struct kh h;

	(void)state;
	stream_init(&a);
	stream_init(&b);
	add_bench_produce(&a, 7);
	add_bench_produce(&b, 8);
	assert_int_equal(a.b.len, b.b.len);
	buf = malloc(a.b.len);
	assert_non_null(buf);
	kh_init(&h, KLT_DIR_RX, KW_SYNCED);
	memcpy(buf, a.b.buf, a.b.len);
	feed_whole(&h, buf, a.b.len);
	memcpy(buf, b.b.buf, b.b.len);
	feed_whole(&h, buf, b.b.len);
	assert_int_equal(h.nframes, 2);
	assert_int_equal(h.frames[0].ev.corr_id, 7);
	assert_int_equal(h.frames[1].ev.corr_id, 8);
	kh_free(&h);
	free(buf);
	stream_free(&a);
	stream_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_stream_is_sane),
	    cmocka_unit_test(test_requests_every_chunking),
	    cmocka_unit_test(test_responses_every_chunking),
	    cmocka_unit_test(test_fetch_every_chunking),
	    cmocka_unit_test(test_fetch_response_sendfile),
	    cmocka_unit_test(test_partial_vectored_read),
	    cmocka_unit_test(test_bad_size),
	    cmocka_unit_test(test_max_size_accepted),
	    cmocka_unit_test(test_bad_tls),
	    cmocka_unit_test(test_bad_header),
	    cmocka_unit_test(test_lying_bodies_keep_framing),
	    cmocka_unit_test(test_short_batch_partition),
	    cmocka_unit_test(test_resync_at_boundary),
	    cmocka_unit_test(test_resync_jvm_every_offset),
	    cmocka_unit_test(test_resync_random_every_offset),
	    cmocka_unit_test(test_resync_responses_every_offset),
	    cmocka_unit_test(test_resync_desync_voids),
	    cmocka_unit_test(test_resync_only_at_syscall_start),
	    cmocka_unit_test(test_regression_resync_phantom_suffix),
	    cmocka_unit_test(test_regression_proving_frame_flagged_tentative),
	    cmocka_unit_test(test_tx_proven_by_request_corr),
	    cmocka_unit_test(test_tail_only_for_produce),
	    cmocka_unit_test(test_regression_legacy_message_set_records),
	    cmocka_unit_test(test_steps_per_frame),
	    cmocka_unit_test(test_steps_many_partitions),
	    cmocka_unit_test(test_window_user_copies),
	    cmocka_unit_test(test_window_buffer_reused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

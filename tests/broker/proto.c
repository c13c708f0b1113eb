// SPDX-License-Identifier: MIT
/*
 * The APIs the broker answers: ApiVersions, Metadata, Produce. Requests are
 * read with kproto's bounds-checked cursor (one decoder for the project);
 * responses are written with wbuf. Versions are those librdkafka 2.0,
 * kcat and kafka-python 2.0 use and that the encoders below handle:
 *   ApiVersions 0-3, Metadata 0-8, Produce 3-13 (record batches v2 only;
 *   v0-2 carry legacy message sets, which this broker does not store),
 *   InitProducerId 0-4 (idempotent producers; no transactions).
 * Advertising Produce 8 also makes kafka-python infer a 2.4 broker and send
 * magic-2 batches with Produce v7. Fetch 4-11 and ListOffsets 1-5 are in
 * fetch.c; librdkafka enables message format v2 only when the broker lists
 * Produce 3 *and* Fetch 4 (rd_kafka_feature_map). librdkafka 2.0 fetches
 * with v11 and lists offsets with v2; kafka-python 2.0 with Fetch v4 and
 * ListOffsets v1.
 */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "kproto.h"
#include "wbuf.h"

struct api_range {
	int16_t key, min, max;
};

static const struct api_range supported[] = {
    {KPROTO_API_PRODUCE, 3, 13},     {KPROTO_API_FETCH, 4, 11},
    {KPROTO_API_LIST_OFFSETS, 1, 5}, {KPROTO_API_METADATA, 0, 8},
    {KPROTO_API_API_VERSIONS, 0, 3}, {KPROTO_API_INIT_PRODUCER_ID, 0, 4},
};
#define NSUPPORTED (sizeof(supported) / sizeof(supported[0]))

static const struct api_range *api_find(int16_t key)
{
	for (size_t i = 0; i < NSUPPORTED; i++)
		if (supported[i].key == key)
			return &supported[i];
	return NULL;
}

/* Size placeholder + response header; returns where the body starts. */
void resp_begin(struct wbuf *w, const struct request *r)
{
	wb_i32(w, 0);
	wb_i32(w, r->corr);
	wb_tags(w, kproto_response_header_version(r->api_key, r->api_version) == 1);
}

int resp_end(struct wbuf *w, struct request *r, size_t hdr_len)
{
	if (w->oom) {
		free(w->p);
		fprintf(stderr, "refbroker: %s: out of memory for a response\n", r->client);
		return -1;
	}
	wb_patch_i32(w, 0, (int32_t)(w->len - 4));
	r->resp = w->p;
	r->resp_len = w->len;
	r->resp_hdr_len = hdr_len;
	r->action = RB_RESPOND;
	return 0;
}

/* ---- ApiVersions ---- */

static int api_versions(struct request *r)
{
	/* A version we do not know: answer in v0 with UNSUPPORTED_VERSION, as Kafka does. */
	bool unsup = r->api_version > 3;
	int16_t v = unsup ? 0 : r->api_version;
	bool flex = v >= 3;
	struct wbuf w = {0};
	size_t hdr;

	resp_begin(&w, r);
	hdr = w.len;
	wb_i16(&w, unsup ? KERR_UNSUPPORTED_VERSION : KERR_NONE);
	wb_array(&w, flex, (int32_t)NSUPPORTED);
	for (size_t i = 0; i < NSUPPORTED; i++) {
		wb_i16(&w, supported[i].key);
		wb_i16(&w, supported[i].min);
		wb_i16(&w, supported[i].max);
		wb_tags(&w, flex);
	}
	if (v >= 1)
		wb_i32(&w, 0); /* throttle_time_ms */
	wb_tags(&w, flex);
	return resp_end(&w, r, hdr);
}

/* ---- Metadata ---- */

static bool legal_topic(const uint8_t *s, int32_t n)
{
	if (n <= 0 || n > RB_MAX_TOPIC_LEN || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (int32_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void md_broker(struct wbuf *w, int16_t v, int32_t id, const char *host, uint16_t port)
{
	wb_i32(w, id);
	wb_str(w, false, host, strlen(host));
	wb_i32(w, port);
	if (v >= 1)
		wb_str(w, false, NULL, 0); /* rack */
}

/* The single broker advertises itself as broker 0; a cluster lists every broker. */
static void md_brokers(struct wbuf *w, const struct broker *b, int16_t v)
{
	if (!rb_cluster(b)) {
		wb_array(w, false, 1);
		md_broker(w, v, 0, "127.0.0.1", b->port);
		return;
	}
	wb_array(w, false, (int32_t)b->o.nnodes);
	for (uint32_t i = 0; i < b->o.nnodes; i++)
		md_broker(w, v, b->o.nodes[i].id, b->o.nodes[i].host, b->o.nodes[i].port);
}

static void md_ids(struct wbuf *w, const int32_t *ids, uint32_t n)
{
	wb_array(w, false, (int32_t)n);
	for (uint32_t i = 0; i < n; i++)
		wb_i32(w, ids[i]);
}

static void md_partition(struct wbuf *w, struct broker *b, int16_t v, struct partition *p)
{
	int32_t isr[RB_MAX_REPLICAS], single = 0;
	uint32_t nisr = replica_isr(b, p, isr);

	wb_i16(w, KERR_NONE);
	wb_i32(w, p->index);
	wb_i32(w, rb_cluster(b) ? p->repl.leader : 0);
	if (v >= 7)
		wb_i32(w, 0); /* leader epoch */
	if (rb_cluster(b))
		md_ids(w, p->repl.replicas, p->repl.nreplicas);
	else
		md_ids(w, &single, 1);
	md_ids(w, isr, nisr);
	if (v >= 5)
		wb_array(w, false, 0); /* offline replicas */
}

static void md_topic(struct wbuf *w, struct broker *b, int16_t v, int16_t err, const char *name,
		     size_t n, struct topic *t)
{
	wb_i16(w, err);
	wb_str(w, false, name, n);
	if (v >= 1)
		wb_i8(w, 0); /* is_internal */
	wb_array(w, false, t ? (int32_t)t->nparts : 0);
	for (uint32_t i = 0; t && i < t->nparts; i++)
		md_partition(w, b, v, &t->parts[i]);
	if (v >= 8)
		wb_i32(w, INT32_MIN); /* topic_authorized_operations: not requested */
}

struct md_all {
	struct broker *b;
	struct wbuf *w;
	int16_t v;
	int32_t n;
};

static void md_count(struct topic *t, void *arg)
{
	(void)t;
	((struct md_all *)arg)->n++;
}

static void md_each(struct topic *t, void *arg)
{
	struct md_all *a = arg;

	md_topic(a->w, a->b, a->v, KERR_NONE, t->name, strlen(t->name), t);
}

/* Topics requested by name; auto-created with --partitions when allowed. */
static int md_named(struct broker *b, struct wbuf *w, struct kproto_cur *c, int16_t v, int32_t n,
		    bool create)
{
	wb_array(w, false, n);
	for (int32_t i = 0; i < n; i++) {
		const uint8_t *s;
		int32_t len;
		struct topic *t = NULL;
		int16_t err = KERR_NONE;

		if (kproto_read_string(c, &s, &len) || len < 0)
			return -1;
		if (!legal_topic(s, len))
			err = KERR_INVALID_TOPIC;
		else if (!(t = logs_topic(b, (const char *)s, (size_t)len, create)))
			err = KERR_UNKNOWN_TOPIC_OR_PART;
		md_topic(w, b, v, err, (const char *)s, (size_t)len, t);
	}
	return 0;
}

static int metadata(struct broker *b, struct request *r, struct kproto_cur *c)
{
	int16_t v = r->api_version;
	struct wbuf w = {0};
	int32_t n;
	int8_t autocreate = 1;
	size_t hdr, topics_at;

	if (kproto_read_array_len(c, &n))
		return -1;
	resp_begin(&w, r);
	hdr = w.len;
	if (v >= 3)
		wb_i32(&w, 0); /* throttle_time_ms */
	md_brokers(&w, b, v);
	if (v >= 2)
		wb_str(&w, false, NULL, 0); /* cluster id */
	if (v >= 1)
		wb_i32(&w, rb_cluster(b) ? b->o.nodes[0].id : 0); /* controller id */
	topics_at = c->off;
	/* auto-creation flag comes after the topics: skip them to read it */
	if (v >= 4) {
		for (int32_t i = 0; i < n; i++) {
			const uint8_t *s;
			int32_t len;

			if (kproto_read_string(c, &s, &len))
				goto bad;
		}
		if (kproto_read_i8(c, &autocreate))
			goto bad;
		c->off = topics_at;
	}
	if (n < 0 || (n == 0 && v == 0)) { /* all topics */
		struct md_all a = {b, &w, v, 0};

		logs_each(b, md_count, &a);
		wb_array(&w, false, a.n);
		logs_each(b, md_each, &a);
	} else if (md_named(b, &w, c, v, n, autocreate != 0)) {
		goto bad;
	}
	if (v >= 8)
		wb_i32(&w, INT32_MIN); /* cluster_authorized_operations */
	return resp_end(&w, r, hdr);
bad:
	free(w.p);
	return -1;
}

/* ---- Produce ---- */

struct produce_ctx {
	struct broker *b;
	struct request *r;
	struct kproto_cur *c;
	struct wbuf *w;
	bool flex;
	bool any_error;
};

/* Grown under the replication mutex: fetches stamp the parts of waiting requests. */
static struct rb_part_truth *new_part(struct broker *b, struct request *r)
{
	struct rb_part_truth *p;

	replica_lock(b);
	p = realloc(r->parts, (r->nparts + 1) * sizeof(*p));
	if (p) {
		r->parts = p;
		p = &r->parts[r->nparts++];
		memset(p, 0, sizeof(*p));
		p->base_offset = p->last_offset = -1;
	}
	replica_unlock(b);
	return p;
}

static int16_t produce_one(struct produce_ctx *x, struct topic *t, int32_t index, uint8_t *rec,
			   int32_t len)
{
	struct kproto_partition kp = {0};
	struct partition *p;
	int16_t err;

	if (!t || index < 0 || (uint32_t)index >= t->nparts)
		return KERR_UNKNOWN_TOPIC_OR_PART;
	p = &t->parts[index];
	if (!replica_is_leader(x->b, p))
		return KERR_NOT_LEADER;
	if (len <= 0)
		return KERR_CORRUPT_MESSAGE;
	/* kproto's walk is the shared view of the batches (what kafkalat sees) */
	if (kproto_scan_records(rec, (size_t)len, &kp) || kp.batch_truncated)
		return KERR_CORRUPT_MESSAGE;
	if (x->r->acks == -1 && (err = replica_check_min_isr(x->b, p)))
		return err;
	return logs_append(x->b, p, rec, (size_t)len, x->r, (uint32_t)(x->r->nparts - 1));
}

static int produce_partition(struct produce_ctx *x, struct topic *t, const uint8_t *name,
			     int32_t nlen)
{
	const uint8_t *rec;
	int32_t index, len;
	struct rb_part_truth *pt;
	int16_t err;

	if (kproto_read_i32(x->c, &index) ||
	    (x->flex ? kproto_read_compact_bytes(x->c, &rec, &len)
		     : kproto_read_bytes(x->c, &rec, &len)) ||
	    (x->flex && kproto_skip_tags(x->c)) || !(pt = new_part(x->b, x->r)))
		return -1;
	memcpy(pt->topic, name, (size_t)nlen);
	pt->partition = index;
	/* the frame is ours: offsets are patched in place before the write() */
	err = produce_one(x, t, index, (uint8_t *)(uintptr_t)rec, len);
	pt = &x->r->parts[x->r->nparts - 1];
	pt->error = err;
	x->any_error |= err != KERR_NONE;
	wb_i32(x->w, index);
	pt->err_off = x->w->len; /* REQUEST_TIMED_OUT is patched in here */
	wb_i16(x->w, err);
	wb_i64(x->w, pt->base_offset);
	wb_i64(x->w, -1); /* log_append_time_ms: CreateTime topics */
	if (x->r->api_version >= 5)
		wb_i64(x->w, 0); /* log_start_offset */
	if (x->r->api_version >= 8) {
		wb_array(x->w, x->flex, 0);	/* record_errors */
		wb_str(x->w, x->flex, NULL, 0); /* error_message */
	}
	wb_tags(x->w, x->flex);
	return 0;
}

/* v13 names the topic by id (answered by id); before, by name. */
static int produce_topic_ref(struct produce_ctx *x, const uint8_t **name, int32_t *nlen,
			     struct topic **t)
{
	uint8_t id[16];

	if (x->r->api_version >= 13) {
		if (kproto_read_uuid(x->c, id))
			return -1;
		*t = logs_topic_by_id(x->b, id);
		*name = (const uint8_t *)(*t ? (*t)->name : "");
		*nlen = (int32_t)strlen((const char *)*name);
		wb_raw(x->w, id, sizeof(id));
		return 0;
	}
	if ((x->flex ? kproto_read_compact_string(x->c, name, nlen)
		     : kproto_read_string(x->c, name, nlen)) ||
	    *nlen < 0 || *nlen > RB_MAX_TOPIC_LEN)
		return -1;
	if (*nlen > 0)
		*t = logs_topic(x->b, (const char *)*name, (size_t)*nlen, false);
	wb_str(x->w, x->flex, (const char *)*name, (size_t)*nlen);
	return 0;
}

static int produce_topic(struct produce_ctx *x)
{
	const uint8_t *name;
	int32_t nlen, n;
	struct topic *t = NULL;

	if (produce_topic_ref(x, &name, &nlen, &t))
		return -1;
	if ((x->flex ? kproto_read_compact_array_len(x->c, &n) : kproto_read_array_len(x->c, &n)) ||
	    n < 0)
		return -1;
	wb_array(x->w, x->flex, n);
	for (int32_t i = 0; i < n; i++)
		if (produce_partition(x, t, name, nlen))
			return -1;
	wb_tags(x->w, x->flex);
	return x->flex ? (kproto_skip_tags(x->c) ? -1 : 0) : 0;
}

static int produce(struct broker *b, struct request *r, struct kproto_cur *c)
{
	struct wbuf w = {0};
	struct produce_ctx x = {b, r, c, &w, kproto_is_flexible(r->api_key, r->api_version), false};
	const uint8_t *txn;
	int32_t tlen, timeout, n;
	size_t hdr;

	if ((x.flex ? kproto_read_compact_string(c, &txn, &tlen)
		    : kproto_read_string(c, &txn, &tlen)) ||
	    kproto_read_i16(c, &r->acks) || kproto_read_i32(c, &timeout) ||
	    (x.flex ? kproto_read_compact_array_len(c, &n) : kproto_read_array_len(c, &n)) || n < 0)
		return -1;
	r->timeout_ms = timeout;
	if (rb_cluster(b) && r->acks == -1) {
		r->repl_wait = 1; /* the handler's hold: see replica.c */
		r->released_by = -1;
	}
	resp_begin(&w, r);
	hdr = w.len;
	wb_array(&w, x.flex, n);
	for (int32_t i = 0; i < n; i++)
		if (produce_topic(&x))
			goto bad;
	wb_i32(&w, 0); /* throttle_time_ms */
	wb_tags(&w, x.flex);
	if (r->acks == 0) {
		/* no response; on an error Kafka closes the connection instead */
		free(w.p);
		r->action = x.any_error ? RB_CLOSE : RB_NO_RESPONSE;
		return 0;
	}
	return resp_end(&w, r, hdr);
bad:
	free(w.p);
	return -1;
}

/* ---- InitProducerId ---- */

/*
 * A fresh producer id at epoch 0 for every request, as Kafka does for an
 * idempotent (non-transactional) producer. Transactions are not served: a
 * transactional id is refused (closes the connection). v3+ carries the
 * producer's current id and epoch (KIP-360 resume); a new id answers it too.
 */
static int init_producer_id(struct broker *b, struct request *r, struct kproto_cur *c)
{
	int16_t v = r->api_version;
	bool flex = v >= 2;
	const uint8_t *txn;
	int32_t tlen, timeout;
	int64_t pid;
	int16_t epoch;
	struct wbuf w = {0};
	size_t hdr;

	if ((flex ? kproto_read_compact_string(c, &txn, &tlen)
		  : kproto_read_string(c, &txn, &tlen)) ||
	    kproto_read_i32(c, &timeout) ||
	    (v >= 3 && (kproto_read_i64(c, &pid) || kproto_read_i16(c, &epoch))) ||
	    (flex && kproto_skip_tags(c)))
		return -1;
	if (tlen >= 0) {
		fprintf(stderr, "refbroker: %s: transactional InitProducerId not supported\n",
			r->client);
		return -1;
	}
	pid = __atomic_fetch_add(&b->next_producer_id, 1, __ATOMIC_RELAXED);
	resp_begin(&w, r);
	hdr = w.len;
	wb_i32(&w, 0); /* throttle_time_ms */
	wb_i16(&w, KERR_NONE);
	wb_i64(&w, pid);
	wb_i16(&w, 0); /* producer epoch */
	wb_tags(&w, flex);
	return resp_end(&w, r, hdr);
}

/* Decodes the header and dispatches; -1 (or r->action RB_CLOSE) closes the connection. */
int handle_request(struct broker *b, struct request *r)
{
	struct kproto_req_header h;
	const struct api_range *api;
	struct kproto_cur c;

	r->action = RB_CLOSE;
	if (kproto_decode_request_header(r->buf, r->len, &h))
		return -1;
	r->api_key = h.api_key;
	r->api_version = h.api_version;
	r->corr = h.corr_id;
	api = api_find(h.api_key);
	if (!api)
		return -1; /* unknown api: Kafka closes the connection */
	if (h.api_key != KPROTO_API_API_VERSIONS &&
	    (h.api_version < api->min || h.api_version > api->max))
		return -1;
	kproto_cur_init(&c, r->buf + h.header_len, r->len - h.header_len);
	switch (h.api_key) {
	case KPROTO_API_API_VERSIONS:
		return api_versions(r);
	case KPROTO_API_METADATA:
		return metadata(b, r, &c);
	case KPROTO_API_PRODUCE:
		return produce(b, r, &c);
	case KPROTO_API_INIT_PRODUCER_ID:
		return init_producer_id(b, r, &c);
	case KPROTO_API_FETCH:
		return fetch_handle(b, r, r->buf + h.header_len, r->len - h.header_len);
	case KPROTO_API_LIST_OFFSETS:
		return list_offsets_handle(b, r, r->buf + h.header_len, r->len - h.header_len);
	default:
		return -1;
	}
}

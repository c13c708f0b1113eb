// SPDX-License-Identifier: MIT
/*
 * Fetch (v4-11) and ListOffsets (v1-5), as Kafka's KafkaApis and
 * ReplicaManager.fetchMessages answer them.
 *
 * A fetch is read (offset -> file range, headers only) in the handler
 * thread; when fewer than min_bytes are readable and max_wait_ms > 0 it
 * waits in the fetch purgatory (DelayedFetch) and is read again by the
 * thread that completes it. The response is a list of spans: header bytes
 * built here, records sent by the network thread with sendfile from the
 * segment files.
 *
 * Fetch sessions (KIP-227) are answered as a Kafka broker whose session
 * cache has no slots: a full fetch (epoch 0 or -1) gets session_id 0, so
 * the client keeps sending full fetches; an incremental one (epoch > 0)
 * gets FETCH_SESSION_ID_NOT_FOUND with no partitions. Forgotten topics only
 * matter in incremental fetches and are parsed and ignored; so is rack_id.
 */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "kproto.h"
#include "wbuf.h"

void fetch_req_free(struct fetch_req *f)
{
	if (!f)
		return;
	free(f->topics);
	free(f->parts);
	free(f);
}

/* ---- request ---- */

static struct fetch_part *add_part(struct fetch_req *f)
{
	struct fetch_part *np = realloc(f->parts, (f->nparts + 1) * sizeof(*np));

	if (!np)
		return NULL;
	f->parts = np;
	np = &f->parts[f->nparts++];
	memset(np, 0, sizeof(*np));
	return np;
}

static int parse_partition(struct kproto_cur *c, int16_t v, struct fetch_req *f,
			   const struct topic *t)
{
	struct fetch_part *fp;

	if (f->nparts >= KPROTO_MAX_ENTRIES || !(fp = add_part(f)))
		return -1;
	fp->leader_epoch = -1;
	fp->log_start = -1;
	if (kproto_read_i32(c, &fp->partition) ||
	    (v >= 9 && kproto_read_i32(c, &fp->leader_epoch)) ||
	    kproto_read_i64(c, &fp->fetch_offset) ||
	    (v >= 5 && kproto_read_i64(c, &fp->log_start)) || kproto_read_i32(c, &fp->max_bytes))
		return -1;
	if (t && fp->partition >= 0 && (uint32_t)fp->partition < t->nparts)
		fp->p = &t->parts[fp->partition];
	return 0;
}

static int parse_topic(struct broker *b, struct kproto_cur *c, int16_t v, struct fetch_req *f)
{
	struct fetch_topic *ft;
	const uint8_t *name;
	const struct topic *t;
	int32_t len, n;

	if (kproto_read_string(c, &name, &len) || len < 0 || len > RB_MAX_TOPIC_LEN ||
	    kproto_read_array_len(c, &n) || n < 0)
		return -1;
	if (!(ft = realloc(f->topics, (f->ntopics + 1) * sizeof(*ft))))
		return -1;
	f->topics = ft;
	ft = &f->topics[f->ntopics++];
	memcpy(ft->name, name, (size_t)len);
	ft->name[len] = '\0';
	ft->first = f->nparts;
	ft->n = (size_t)n;
	/* a follower naming a topic this broker lacks: created alike (see replica.c) */
	t = len ? logs_topic(b, ft->name, (size_t)len, f->replica_id >= 0 && rb_cluster(b)) : NULL;
	for (int32_t i = 0; i < n; i++)
		if (parse_partition(c, v, f, t))
			return -1;
	return 0;
}

/* Forgotten topics (v7+) and rack id (v11+): checked, not used. */
static int parse_tail(struct kproto_cur *c, int16_t v)
{
	const uint8_t *s;
	int32_t len, n, k, part;

	if (v >= 7) {
		if (kproto_read_array_len(c, &n))
			return -1;
		for (int32_t i = 0; i < n; i++) {
			if (kproto_read_string(c, &s, &len) || kproto_read_array_len(c, &k))
				return -1;
			for (int32_t j = 0; j < k; j++)
				if (kproto_read_i32(c, &part))
					return -1;
		}
	}
	if (v >= 11 && kproto_read_string(c, &s, &len))
		return -1;
	return 0;
}

static struct fetch_req *parse_fetch(struct broker *b, struct kproto_cur *c, int16_t v)
{
	struct fetch_req *f = calloc(1, sizeof(*f));
	int32_t n;

	if (!f)
		return NULL;
	f->max_bytes = INT32_MAX;
	f->session_epoch = -1;
	if (kproto_read_i32(c, &f->replica_id) || kproto_read_i32(c, &f->max_wait_ms) ||
	    kproto_read_i32(c, &f->min_bytes) || kproto_read_i32(c, &f->max_bytes) ||
	    kproto_read_i8(c, &f->isolation) ||
	    (v >= 7 &&
	     (kproto_read_i32(c, &f->session_id) || kproto_read_i32(c, &f->session_epoch))) ||
	    kproto_read_array_len(c, &n) || n < 0)
		goto bad;
	for (int32_t i = 0; i < n; i++)
		if (parse_topic(b, c, v, f))
			goto bad;
	if (parse_tail(c, v))
		goto bad;
	return f;
bad:
	fetch_req_free(f);
	return NULL;
}

/* ---- read ---- */

/*
 * ReplicaManager.readFromLocalLog: each partition up to its partition max
 * bytes and what is left of max_bytes; the first partition with data gets at
 * least one whole batch (KIP-74).
 */
static void fetch_read(struct request *r)
{
	struct fetch_req *f = r->fetch;
	uint64_t left = f->max_bytes > 0 ? (uint64_t)f->max_bytes : 0;
	bool min_one = true;

	f->bytes = 0;
	for (size_t i = 0; i < f->nparts; i++) {
		struct fetch_part *fp = &f->parts[i];
		uint64_t pmax = fp->max_bytes > 0 ? (uint64_t)fp->max_bytes : 0;

		fp->slice = (struct log_slice){.fd = -1};
		fp->hw = -1;
		if (!fp->p) {
			fp->error = fp->not_leader ? KERR_NOT_LEADER : KERR_UNKNOWN_TOPIC_OR_PART;
			continue;
		}
		fp->error = logs_read(fp->p, fp->fetch_offset, f->replica_id >= 0,
				      pmax < left ? pmax : left, min_one, &fp->slice);
		if (fp->error)
			continue;
		fp->hw = partition_hw(fp->p);
		left -= fp->slice.len < left ? fp->slice.len : left;
		f->bytes += fp->slice.len;
		if (fp->slice.len)
			min_one = false;
	}
	f->t_fetch_read = now_ns();
}

bool fetch_watches(const struct request *r, const struct partition *p)
{
	for (size_t i = 0; i < r->fetch->nparts; i++)
		if (r->fetch->parts[i].p == p)
			return true;
	return false;
}

/*
 * DelayedFetch.tryComplete: enough bytes past the fetch offsets now. With
 * min_bytes <= 1 any readable offset will do, seen without I/O; otherwise
 * batch headers are read (under p->lock briefly) to count the bytes.
 */
bool fetch_satisfied(struct request *r)
{
	const struct fetch_req *f = r->fetch;
	bool follower = f->replica_id >= 0;
	uint64_t have = 0, want = f->min_bytes > 0 ? (uint64_t)f->min_bytes : 0;

	for (size_t i = 0; i < f->nparts && have < want; i++) {
		const struct fetch_part *fp = &f->parts[i];
		int64_t limit;

		if (!fp->p)
			continue;
		limit = follower ? partition_leo(fp->p) : partition_hw(fp->p);
		if (fp->fetch_offset >= limit)
			continue;
		if (want <= 1)
			return true;
		have += logs_readable(fp->p, fp->fetch_offset, follower, want - have);
	}
	return have >= want;
}

/* ---- response ---- */

static int add_span(struct request *r, size_t *cap, int fd, uint64_t off, uint64_t len)
{
	if (r->nspans == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct rb_span *ns = realloc(r->spans, ncap * sizeof(*ns));

		if (!ns)
			return -1;
		r->spans = ns;
		*cap = ncap;
	}
	r->spans[r->nspans++] = (struct rb_span){fd, off, len};
	return 0;
}

static void put_partition(struct wbuf *w, int16_t v, const struct fetch_req *f,
			  const struct fetch_part *fp)
{
	bool ok = fp->error == KERR_NONE;

	wb_i32(w, fp->partition);
	wb_i16(w, fp->error);
	wb_i64(w, ok ? fp->hw : -1);
	wb_i64(w, ok ? fp->hw : -1); /* last stable offset: no transactions */
	if (v >= 5)
		wb_i64(w, ok ? partition_log_start(fp->p) : -1);
	/* aborted transactions: null unless read_committed, then none */
	wb_array(w, false, f->isolation == 1 ? 0 : -1);
	if (v >= 11)
		wb_i32(w, -1); /* preferred read replica */
	wb_i32(w, (int32_t)fp->slice.len);
}

/* Header bytes in r->resp, records as file spans between them. */
static int build_response(struct request *r)
{
	const struct fetch_req *f = r->fetch;
	int16_t v = r->api_version;
	struct wbuf w = {0};
	size_t cap = 0, mark;

	free(r->spans);
	r->spans = NULL;
	r->nspans = r->span_i = 0;
	r->span_done = 0;
	resp_begin(&w, r);
	mark = w.len;
	if (add_span(r, &cap, -1, 0, mark))
		goto oom;
	wb_i32(&w, 0); /* throttle_time_ms */
	if (v >= 7) {
		wb_i16(&w, f->error);
		wb_i32(&w, 0); /* session_id: no session cache */
	}
	wb_array(&w, false, f->error ? 0 : (int32_t)f->ntopics);
	for (size_t i = 0; !f->error && i < f->ntopics; i++) {
		const struct fetch_topic *ft = &f->topics[i];

		wb_str(&w, false, ft->name, strlen(ft->name));
		wb_array(&w, false, (int32_t)ft->n);
		for (size_t k = ft->first; k < ft->first + ft->n; k++) {
			const struct fetch_part *fp = &f->parts[k];

			put_partition(&w, v, f, fp);
			if (!fp->slice.len)
				continue;
			if (add_span(r, &cap, -1, mark, w.len - mark) ||
			    add_span(r, &cap, fp->slice.fd, fp->slice.pos, fp->slice.len))
				goto oom;
			mark = w.len;
		}
	}
	if (w.oom || add_span(r, &cap, -1, mark, w.len - mark))
		goto oom;
	wb_patch_i32(&w, 0, (int32_t)(w.len - 4 + f->bytes));
	free(r->resp);
	r->resp = w.p;
	r->resp_len = w.len;
	r->resp_hdr_len = r->spans[0].len;
	r->action = RB_RESPOND;
	return 0;
oom:
	free(w.p);
	fprintf(stderr, "refbroker: %s: out of memory for a fetch response\n", r->client);
	return -1;
}

void fetch_complete(struct broker *b, struct request *r)
{
	if (r->fetch->t_wait_start)
		r->fetch->t_wait_end = now_ns();
	fetch_read(r);
	if (build_response(r))
		r->action = RB_CLOSE;
	r->t_resp_enqueue = now_ns();
	net_respond(b, r);
}

/* ReplicaManager.fetchMessages: answer at once, or wait as a DelayedFetch? */
static bool answer_now(const struct fetch_req *f)
{
	if (f->max_wait_ms <= 0 || f->nparts == 0 || f->min_bytes <= 0 ||
	    f->bytes >= (uint64_t)f->min_bytes)
		return true;
	for (size_t i = 0; i < f->nparts; i++)
		if (f->parts[i].error != KERR_NONE)
			return true;
	return false;
}

/*
 * Parses, calls the replication hook for a follower, reads; answers at once
 * or parks the fetch in the purgatory. -1: bad request (closes).
 */
int fetch_handle(struct broker *b, struct request *r, const uint8_t *body, size_t len)
{
	struct kproto_cur c;
	struct fetch_req *f;

	kproto_cur_init(&c, body, len);
	if (!(f = r->fetch = parse_fetch(b, &c, r->api_version)))
		return -1;
	if (r->api_version >= 7 && f->session_epoch > 0) {
		f->error = KERR_FETCH_SESSION_NOT_FOUND; /* nothing read, answered at once */
		f->t_fetch_read = now_ns();
		return build_response(r);
	}
	for (size_t i = 0; i < f->nparts; i++) {
		struct fetch_part *fp = &f->parts[i];

		/* consumers read from the leader only (no fetch from followers) */
		if (fp->p && !replica_is_leader(b, fp->p)) {
			fp->p = NULL;
			fp->not_leader = true;
		}
	}
	if (f->replica_id >= 0)
		for (size_t i = 0; i < f->nparts; i++)
			if (f->parts[i].p)
				replica_on_fetch(b, f->parts[i].p, f->replica_id,
						 f->parts[i].fetch_offset, r->t_read);
	fetch_read(r);
	if (answer_now(f))
		return build_response(r);
	r->action = RB_RESPOND;
	r->t_due = now_ns() + (uint64_t)f->max_wait_ms * 1000000ull;
	f->delay = true;
	return 0;
}

/* ---- ListOffsets ---- */

/* -2: log start, -1: the high watermark (log end for a follower); others unsupported. */
static void list_partition(struct kproto_cur *c, struct wbuf *w, int16_t v, int32_t replica_id,
			   const struct topic *t, int *bad)
{
	int32_t index, epoch = -1;
	int64_t ts, off = -1;
	int16_t err = KERR_NONE;
	struct partition *p = NULL;

	if (kproto_read_i32(c, &index) || (v >= 4 && kproto_read_i32(c, &epoch)) ||
	    kproto_read_i64(c, &ts)) {
		*bad = 1;
		return;
	}
	if (t && index >= 0 && (uint32_t)index < t->nparts)
		p = &t->parts[index];
	if (!p)
		err = KERR_UNKNOWN_TOPIC_OR_PART;
	else if (ts == -2)
		off = partition_log_start(p);
	else if (ts == -1)
		off = replica_id >= 0 ? partition_leo(p) : partition_hw(p);
	else
		err = KERR_UNSUPPORTED_VERSION; /* no time index */
	wb_i32(w, index);
	wb_i16(w, err);
	wb_i64(w, -1); /* timestamp */
	wb_i64(w, err ? -1 : off);
	if (v >= 4)
		wb_i32(w, err ? -1 : 0); /* leader epoch, as Metadata says */
}

int list_offsets_handle(struct broker *b, struct request *r, const uint8_t *body, size_t len)
{
	int16_t v = r->api_version;
	struct kproto_cur c;
	struct wbuf w = {0};
	int32_t replica_id, n;
	int8_t isolation = 0;
	int bad = 0;
	size_t hdr;

	kproto_cur_init(&c, body, len);
	if (kproto_read_i32(&c, &replica_id) || (v >= 2 && kproto_read_i8(&c, &isolation)) ||
	    kproto_read_array_len(&c, &n) || n < 0)
		return -1;
	resp_begin(&w, r);
	hdr = w.len;
	if (v >= 2)
		wb_i32(&w, 0); /* throttle_time_ms */
	wb_array(&w, false, n);
	for (int32_t i = 0; i < n && !bad; i++) {
		const uint8_t *name;
		const struct topic *t;
		int32_t nlen, np;

		if (kproto_read_string(&c, &name, &nlen) || nlen < 0 ||
		    kproto_read_array_len(&c, &np) || np < 0) {
			bad = 1;
			break;
		}
		t = nlen > 0 ? logs_topic(b, (const char *)name, (size_t)nlen, false) : NULL;
		wb_str(&w, false, (const char *)name, (size_t)nlen);
		wb_array(&w, false, np);
		for (int32_t k = 0; k < np && !bad; k++)
			list_partition(&c, &w, v, replica_id, t, &bad);
	}
	if (bad || kproto_cur_left(&c) != 0) {
		free(w.p);
		return -1;
	}
	return resp_end(&w, r, hdr);
}

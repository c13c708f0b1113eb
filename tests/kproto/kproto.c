// SPDX-License-Identifier: MIT
/*
 * Kafka wire-protocol decoding: headers and Produce request bodies.
 *
 * The input comes from sockets of a process we do not control, so every read
 * goes through struct kproto_cur, which refuses to step past its end, and
 * every length/count is compared with the bytes left before it is used.
 */
#include <stdlib.h>
#include <string.h>

#include "kafkalat/kapi.h"
#include "kproto.h"

const char *kproto_strerror(int err)
{
	switch (err) {
	case KPROTO_OK:
		return "ok";
	case KPROTO_ETRUNC:
		return "buffer ends inside a field";
	case KPROTO_ERANGE:
		return "length or count out of range";
	case KPROTO_EVERSION:
		return "unsupported version";
	case KPROTO_EAPI:
		return "api key not decodable";
	case KPROTO_ENOMEM:
		return "out of memory";
	default:
		return "unknown error";
	}
}

bool kproto_is_flexible(int16_t api_key, int16_t api_version)
{
	const struct kapi_info *a = kapi_lookup(api_key);

	return a && a->flex >= 0 && api_version >= a->flex;
}

int kproto_request_header_version(int16_t api_key, int16_t api_version)
{
	/* ControlledShutdown v0 predates client_id in the header. */
	if (api_key == KPROTO_API_CONTROLLED_SHUTDOWN && api_version == 0)
		return 0;
	return kproto_is_flexible(api_key, api_version) ? 2 : 1;
}

int kproto_response_header_version(int16_t api_key, int16_t api_version)
{
	/*
	 * A client sends its newest ApiVersions request before it knows what the
	 * broker speaks, so the response header must be readable by anyone: v0.
	 */
	if (api_key == KPROTO_API_API_VERSIONS)
		return 0;
	return kproto_is_flexible(api_key, api_version) ? 1 : 0;
}

/* ---- cursor ---- */

void kproto_cur_init(struct kproto_cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = p ? len : 0;
	c->off = 0;
}

size_t kproto_cur_left(const struct kproto_cur *c)
{
	return c->off <= c->len ? c->len - c->off : 0;
}

int kproto_skip(struct kproto_cur *c, size_t n)
{
	if (n > kproto_cur_left(c))
		return KPROTO_ETRUNC;
	c->off += n;
	return KPROTO_OK;
}

/* Big-endian unsigned read of n <= 8 bytes. */
static int read_be(struct kproto_cur *c, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n > kproto_cur_left(c))
		return KPROTO_ETRUNC;
	for (size_t i = 0; i < n; i++)
		x = (x << 8) | c->p[c->off + i];
	c->off += n;
	*v = x;
	return KPROTO_OK;
}

int kproto_read_i8(struct kproto_cur *c, int8_t *v)
{
	uint64_t x;
	int err = read_be(c, 1, &x);

	if (!err)
		*v = (int8_t)(uint8_t)x;
	return err;
}

int kproto_read_i16(struct kproto_cur *c, int16_t *v)
{
	uint64_t x;
	int err = read_be(c, 2, &x);

	if (!err)
		*v = (int16_t)(uint16_t)x;
	return err;
}

int kproto_read_u32(struct kproto_cur *c, uint32_t *v)
{
	uint64_t x;
	int err = read_be(c, 4, &x);

	if (!err)
		*v = (uint32_t)x;
	return err;
}

int kproto_read_i32(struct kproto_cur *c, int32_t *v)
{
	uint32_t x;
	int err = kproto_read_u32(c, &x);

	if (!err)
		*v = (int32_t)x;
	return err;
}

int kproto_read_i64(struct kproto_cur *c, int64_t *v)
{
	uint64_t x;
	int err = read_be(c, 8, &x);

	if (!err)
		*v = (int64_t)x;
	return err;
}

/*
 * LEB128 of at most max_bytes; the last byte may only carry the bits that
 * still fit in `bits`, so an over-long or overflowing encoding is rejected
 * instead of silently wrapping.
 */
static int read_leb(struct kproto_cur *c, unsigned bits, uint64_t *v)
{
	unsigned max_bytes = (bits + 6) / 7;
	uint64_t x = 0;

	for (unsigned i = 0; i < max_bytes; i++) {
		uint8_t b;
		unsigned shift = 7 * i;

		if (kproto_cur_left(c) == 0)
			return KPROTO_ETRUNC;
		b = c->p[c->off++];
		if (i == max_bytes - 1 && (b >> (bits - shift)) != 0)
			return KPROTO_ERANGE;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return KPROTO_OK;
		}
	}
	return KPROTO_ERANGE; /* unreachable: the last byte's high bit fails above */
}

int kproto_read_uvarint(struct kproto_cur *c, uint32_t *v)
{
	uint64_t x;
	int err = read_leb(c, 32, &x);

	if (!err)
		*v = (uint32_t)x;
	return err;
}

int kproto_read_varint(struct kproto_cur *c, int32_t *v)
{
	uint32_t u;
	int err = kproto_read_uvarint(c, &u);

	if (!err)
		*v = (int32_t)((u >> 1) ^ (0u - (u & 1)));
	return err;
}

int kproto_read_uvarlong(struct kproto_cur *c, uint64_t *v)
{
	return read_leb(c, 64, v);
}

int kproto_read_varlong(struct kproto_cur *c, int64_t *v)
{
	uint64_t u;
	int err = kproto_read_uvarlong(c, &u);

	if (!err)
		*v = (int64_t)((u >> 1) ^ (0ull - (u & 1)));
	return err;
}

/* Takes n payload bytes (n = -1: null) after a length prefix was read. */
static int take(struct kproto_cur *c, int64_t n, const uint8_t **s, int32_t *len)
{
	if (n < -1 || n > (int64_t)kproto_cur_left(c))
		return KPROTO_ERANGE;
	*s = n < 0 ? NULL : c->p + c->off;
	*len = (int32_t)n;
	if (n > 0)
		c->off += (size_t)n;
	return KPROTO_OK;
}

int kproto_read_string(struct kproto_cur *c, const uint8_t **s, int32_t *len)
{
	int16_t n;
	int err = kproto_read_i16(c, &n);

	return err ? err : take(c, n, s, len);
}

int kproto_read_bytes(struct kproto_cur *c, const uint8_t **s, int32_t *len)
{
	int32_t n;
	int err = kproto_read_i32(c, &n);

	return err ? err : take(c, n, s, len);
}

/* Compact strings and bytes carry N+1 as an unsigned varint; 0 is null. */
int kproto_read_compact_bytes(struct kproto_cur *c, const uint8_t **s, int32_t *len)
{
	uint32_t n;
	int err = kproto_read_uvarint(c, &n);

	return err ? err : take(c, (int64_t)n - 1, s, len);
}

int kproto_read_compact_string(struct kproto_cur *c, const uint8_t **s, int32_t *len)
{
	/* Compact strings are limited to int16 like the classic ones. */
	const uint8_t *p;
	int32_t n;
	int err = kproto_read_compact_bytes(c, &p, &n);

	if (err)
		return err;
	if (n > INT16_MAX)
		return KPROTO_ERANGE;
	*s = p;
	*len = n;
	return KPROTO_OK;
}

static int check_count(const struct kproto_cur *c, int64_t n, int32_t *out)
{
	if (n < -1 || n > (int64_t)kproto_cur_left(c))
		return KPROTO_ERANGE;
	*out = (int32_t)n;
	return KPROTO_OK;
}

int kproto_read_array_len(struct kproto_cur *c, int32_t *n)
{
	int32_t v;
	int err = kproto_read_i32(c, &v);

	return err ? err : check_count(c, v, n);
}

int kproto_read_compact_array_len(struct kproto_cur *c, int32_t *n)
{
	uint32_t v;
	int err = kproto_read_uvarint(c, &v);

	return err ? err : check_count(c, (int64_t)v - 1, n);
}

int kproto_read_uuid(struct kproto_cur *c, uint8_t out[16])
{
	if (kproto_cur_left(c) < 16)
		return KPROTO_ETRUNC;
	memcpy(out, c->p + c->off, 16);
	c->off += 16;
	return KPROTO_OK;
}

int kproto_skip_tags(struct kproto_cur *c)
{
	uint32_t n, tag, size;
	int err = kproto_read_uvarint(c, &n);

	if (err)
		return err;
	/* Each tagged field takes at least two bytes (tag, size). */
	if (n > kproto_cur_left(c) / 2)
		return KPROTO_ERANGE;
	for (uint32_t i = 0; i < n; i++) {
		if ((err = kproto_read_uvarint(c, &tag)) || (err = kproto_read_uvarint(c, &size)))
			return err;
		if (size > kproto_cur_left(c))
			return KPROTO_ERANGE;
		c->off += size;
	}
	return KPROTO_OK;
}

/* ---- headers ---- */

int kproto_decode_request_header(const uint8_t *buf, size_t len, struct kproto_req_header *out)
{
	struct kproto_cur c;
	struct kproto_req_header h = {0};
	int32_t n = -1;
	int err;

	kproto_cur_init(&c, buf, len);
	if ((err = kproto_read_i16(&c, &h.api_key)) ||
	    (err = kproto_read_i16(&c, &h.api_version)) || (err = kproto_read_i32(&c, &h.corr_id)))
		return err;
	h.header_version = kproto_request_header_version(h.api_key, h.api_version);
	if (h.header_version >= 1 && (err = kproto_read_string(&c, &h.client_id, &n)))
		return err;
	h.client_id_len = (int16_t)n;
	if (h.header_version >= 2 && (err = kproto_skip_tags(&c)))
		return err;
	h.header_len = c.off;
	*out = h;
	return KPROTO_OK;
}

int kproto_decode_response_header(const uint8_t *buf, size_t len, int header_version,
				  struct kproto_resp_header *out)
{
	struct kproto_cur c;
	int32_t corr;
	int err;

	if (header_version != 0 && header_version != 1)
		return KPROTO_EVERSION;
	kproto_cur_init(&c, buf, len);
	if ((err = kproto_read_i32(&c, &corr)))
		return err;
	if (header_version == 1 && (err = kproto_skip_tags(&c)))
		return err;
	out->corr_id = corr;
	out->header_len = c.off;
	return KPROTO_OK;
}

/* ---- records ---- */

static uint32_t rd_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void add_records(struct kproto_partition *part, uint32_t n)
{
	/* Saturate: a hostile request must not make the count wrap to small. */
	part->records = n > UINT32_MAX - part->records ? UINT32_MAX : part->records + n;
	part->batches++;
}

/*
 * One entry of a records field at rec[0..left). Returns its size in *step, or
 * 0 with batch_truncated set when its header does not fit. Magic sits at
 * byte 16 in both the v2 batch header and the legacy message header.
 */
static int scan_one(const uint8_t *rec, size_t left, struct kproto_partition *part, size_t *step)
{
	int32_t size;

	*step = 0;
	if (left < 17) {
		part->batch_truncated = true;
		return KPROTO_OK;
	}
	size = (int32_t)rd_u32(rec + 8);
	if (rec[16] == 2) {
		if (left < KPROTO_BATCH_HEADER_LEN) {
			part->batch_truncated = true;
			return KPROTO_OK;
		}
		if (size < KPROTO_BATCH_HEADER_LEN - 12 || (size_t)size > left - 12 ||
		    (int32_t)rd_u32(rec + KPROTO_BATCH_RECORDS_COUNT) < 0)
			return KPROTO_ERANGE;
		if (!part->batches) {
			part->producer_id =
			    (int64_t)((uint64_t)rd_u32(rec + KPROTO_BATCH_PRODUCER_ID) << 32 |
				      rd_u32(rec + KPROTO_BATCH_PRODUCER_ID + 4));
			part->base_sequence = (int32_t)rd_u32(rec + KPROTO_BATCH_BASE_SEQUENCE);
		}
		add_records(part, rd_u32(rec + KPROTO_BATCH_RECORDS_COUNT));
	} else if (rec[16] <= 1) {
		/* crc, magic, attributes, key len, value len: at least 14 bytes. */
		if (size < 14 || (size_t)size > left - 12)
			return KPROTO_ERANGE;
		add_records(part, 1);
	} else {
		return KPROTO_ERANGE;
	}
	*step = 12 + (size_t)size;
	return KPROTO_OK;
}

int kproto_scan_records(const uint8_t *rec, size_t len, struct kproto_partition *part)
{
	size_t off = 0, step;
	int err;

	while (off < len) {
		if ((err = scan_one(rec + off, len - off, part, &step)))
			return err;
		if (step == 0)
			break;
		off += step;
	}
	return KPROTO_OK;
}

/* ---- Produce ---- */

struct produce_ctx {
	struct kproto_cur c;
	int16_t version;
	bool flex;
	size_t total_parts;
};

static int read_str(struct produce_ctx *x, const uint8_t **s, int32_t *n)
{
	return x->flex ? kproto_read_compact_string(&x->c, s, n) : kproto_read_string(&x->c, s, n);
}

static int read_array(struct produce_ctx *x, int32_t *n)
{
	int err =
	    x->flex ? kproto_read_compact_array_len(&x->c, n) : kproto_read_array_len(&x->c, n);

	/* A null topic/partition array is not valid in Produce. */
	if (!err && *n < 0)
		return KPROTO_ERANGE;
	return err;
}

static int skip_tags(struct produce_ctx *x)
{
	return x->flex ? kproto_skip_tags(&x->c) : KPROTO_OK;
}

static int decode_partition(struct produce_ctx *x, struct kproto_partition *part)
{
	const uint8_t *rec;
	int32_t n;
	int err;

	if ((err = kproto_read_i32(&x->c, &part->index)))
		return err;
	err = x->flex ? kproto_read_compact_bytes(&x->c, &rec, &n)
		      : kproto_read_bytes(&x->c, &rec, &n);
	if (err)
		return err;
	part->record_bytes = n;
	part->producer_id = -1;
	part->base_sequence = -1;
	if (n > 0 && (err = kproto_scan_records(rec, (size_t)n, part)))
		return err;
	return skip_tags(x);
}

static int decode_topic_key(struct produce_ctx *x, struct kproto_topic *t)
{
	const uint8_t *s;
	int32_t n;
	int err;

	/* v13 names topics by id (KIP-516); the name field is gone. */
	if (x->version >= 13) {
		t->has_id = true;
		return kproto_read_uuid(&x->c, t->id);
	}
	if ((err = read_str(x, &s, &n)))
		return err;
	if (n < 0 || (size_t)n >= sizeof(t->name))
		return KPROTO_ERANGE;
	memcpy(t->name, s, (size_t)n);
	t->name[n] = '\0';
	return KPROTO_OK;
}

static int decode_topic(struct produce_ctx *x, struct kproto_topic *t)
{
	int32_t n;
	int err;

	if ((err = decode_topic_key(x, t)) || (err = read_array(x, &n)))
		return err;
	if ((size_t)n > KPROTO_MAX_ENTRIES - x->total_parts)
		return KPROTO_ERANGE;
	x->total_parts += (size_t)n;
	if (n > 0 && !(t->parts = calloc((size_t)n, sizeof(*t->parts))))
		return KPROTO_ENOMEM;
	t->nparts = (size_t)n;
	for (int32_t i = 0; i < n; i++)
		if ((err = decode_partition(x, &t->parts[i])))
			return err;
	return skip_tags(x);
}

static int decode_produce_fields(struct produce_ctx *x, struct kproto_produce *out)
{
	const uint8_t *s;
	int32_t n;
	int err;

	if (x->version >= 3) {
		if ((err = read_str(x, &s, &n)))
			return err;
		out->has_txn = n >= 0;
	}
	if ((err = kproto_read_i16(&x->c, &out->acks)) ||
	    (err = kproto_read_i32(&x->c, &out->timeout_ms)) || (err = read_array(x, &n)))
		return err;
	if (n > KPROTO_MAX_ENTRIES)
		return KPROTO_ERANGE;
	if (n > 0 && !(out->topics = calloc((size_t)n, sizeof(*out->topics))))
		return KPROTO_ENOMEM;
	out->ntopics = (size_t)n;
	for (int32_t i = 0; i < n; i++)
		if ((err = decode_topic(x, &out->topics[i])))
			return err;
	return skip_tags(x);
}

int kproto_decode_produce(const uint8_t *body, size_t len, int16_t version,
			  struct kproto_produce *out)
{
	struct produce_ctx x = {.version = version};
	int err;

	memset(out, 0, sizeof(*out));
	if (version < 0 || version > KPROTO_PRODUCE_MAX_VERSION)
		return KPROTO_EVERSION;
	kproto_cur_init(&x.c, body, len);
	x.flex = kproto_is_flexible(KPROTO_API_PRODUCE, version);
	err = decode_produce_fields(&x, out);
	if (err) {
		kproto_produce_free(out);
		return err;
	}
	out->body_len = x.c.off;
	return KPROTO_OK;
}

void kproto_produce_free(struct kproto_produce *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->topics && i < p->ntopics; i++)
		free(p->topics[i].parts);
	free(p->topics);
	memset(p, 0, sizeof(*p));
}

/* ---- Fetch requests ---- */

static int decode_fetch_partition(struct produce_ctx *x, struct kproto_fetch_partition *p)
{
	int err;

	p->current_leader_epoch = p->last_fetched_epoch = -1;
	p->log_start_offset = -1;
	if ((err = kproto_read_i32(&x->c, &p->index)))
		return err;
	if (x->version >= 9 && (err = kproto_read_i32(&x->c, &p->current_leader_epoch)))
		return err;
	if ((err = kproto_read_i64(&x->c, &p->fetch_offset)))
		return err;
	if (x->version >= 12 && (err = kproto_read_i32(&x->c, &p->last_fetched_epoch)))
		return err;
	if (x->version >= 5 && (err = kproto_read_i64(&x->c, &p->log_start_offset)))
		return err;
	if ((err = kproto_read_i32(&x->c, &p->max_bytes)))
		return err;
	return skip_tags(x);
}

static int decode_fetch_topic(struct produce_ctx *x, struct kproto_fetch_topic *t)
{
	struct kproto_topic key = {0};
	int32_t n;
	int err;

	if ((err = decode_topic_key(x, &key)) || (err = read_array(x, &n)))
		return err;
	memcpy(t->name, key.name, sizeof(t->name));
	t->has_id = key.has_id;
	memcpy(t->id, key.id, sizeof(t->id));
	if ((size_t)n > KPROTO_MAX_ENTRIES - x->total_parts)
		return KPROTO_ERANGE;
	x->total_parts += (size_t)n;
	if (n > 0 && !(t->parts = calloc((size_t)n, sizeof(*t->parts))))
		return KPROTO_ENOMEM;
	t->nparts = (size_t)n;
	for (int32_t i = 0; i < n; i++)
		if ((err = decode_fetch_partition(x, &t->parts[i])))
			return err;
	return skip_tags(x);
}

/* Forgotten topics (v7+): a key and an int32 array each, skipped. */
static int skip_forgotten(struct produce_ctx *x, struct kproto_fetch *out)
{
	struct kproto_topic key;
	int32_t n, np, idx;
	int err;

	if (x->version < 7)
		return KPROTO_OK;
	if ((err = read_array(x, &n)))
		return err;
	if (n > KPROTO_MAX_ENTRIES)
		return KPROTO_ERANGE;
	out->nforgotten = (size_t)n;
	for (int32_t i = 0; i < n; i++) {
		if ((err = decode_topic_key(x, &key)) || (err = read_array(x, &np)))
			return err;
		for (int32_t k = 0; k < np; k++)
			if ((err = kproto_read_i32(&x->c, &idx)))
				return err;
		if ((err = skip_tags(x)))
			return err;
	}
	return KPROTO_OK;
}

static int decode_fetch_fields(struct produce_ctx *x, struct kproto_fetch *out)
{
	const uint8_t *s;
	int32_t n;
	int err;

	if ((err = kproto_read_i32(&x->c, &out->replica_id)) ||
	    (err = kproto_read_i32(&x->c, &out->max_wait_ms)) ||
	    (err = kproto_read_i32(&x->c, &out->min_bytes)) ||
	    (err = kproto_read_i32(&x->c, &out->max_bytes)) ||
	    (err = kproto_read_i8(&x->c, &out->isolation_level)))
		return err;
	if (x->version >= 7 && ((err = kproto_read_i32(&x->c, &out->session_id)) ||
				(err = kproto_read_i32(&x->c, &out->session_epoch))))
		return err;
	if ((err = read_array(x, &n)))
		return err;
	if (n > KPROTO_MAX_ENTRIES)
		return KPROTO_ERANGE;
	if (n > 0 && !(out->topics = calloc((size_t)n, sizeof(*out->topics))))
		return KPROTO_ENOMEM;
	out->ntopics = (size_t)n;
	for (int32_t i = 0; i < n; i++)
		if ((err = decode_fetch_topic(x, &out->topics[i])))
			return err;
	if ((err = skip_forgotten(x, out)))
		return err;
	if (x->version >= 11 && (err = read_str(x, &s, &n)))
		return err;
	return skip_tags(x);
}

int kproto_decode_fetch(const uint8_t *body, size_t len, int16_t version, struct kproto_fetch *out)
{
	struct produce_ctx x = {.version = version};
	int err;

	memset(out, 0, sizeof(*out));
	if (version < KPROTO_FETCH_MIN_VERSION || version > KPROTO_FETCH_MAX_VERSION)
		return KPROTO_EVERSION;
	kproto_cur_init(&x.c, body, len);
	x.flex = kproto_is_flexible(KPROTO_API_FETCH, version);
	err = decode_fetch_fields(&x, out);
	if (err) {
		kproto_fetch_free(out);
		return err;
	}
	out->body_len = x.c.off;
	return KPROTO_OK;
}

void kproto_fetch_free(struct kproto_fetch *f)
{
	if (!f)
		return;
	for (size_t i = 0; f->topics && i < f->ntopics; i++)
		free(f->topics[i].parts);
	free(f->topics);
	memset(f, 0, sizeof(*f));
}

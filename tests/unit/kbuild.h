/* SPDX-License-Identifier: MIT */
/*
 * kbuild: header-only builder of Kafka wire bytes for tests (any test may
 * include it; all functions are static inline so unused ones cost nothing).
 *
 * It writes what real clients write: big-endian integers, (compact) strings,
 * tagged fields, request/response frames, and Produce requests of every
 * version with real magic-2 record batches including a correct CRC-32C, so a
 * decoder tested against it is tested against the real format.
 *
 * Allocation failure aborts: this is test code.
 */
#ifndef KAFKALAT_TESTS_KBUILD_H
#define KAFKALAT_TESTS_KBUILD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kproto.h"

struct kb {
	uint8_t *buf;
	size_t len, cap;
};

static inline void kb_init(struct kb *b)
{
	b->buf = NULL;
	b->len = b->cap = 0;
}

static inline void kb_free(struct kb *b)
{
	free(b->buf);
	kb_init(b);
}

/* Makes room for n more bytes and returns where they go. */
static inline uint8_t *kb_reserve(struct kb *b, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->len + n)
			cap *= 2;
		b->buf = realloc(b->buf, cap);
		if (!b->buf) {
			fprintf(stderr, "kbuild: out of memory\n");
			abort();
		}
		b->cap = cap;
	}
	return b->buf + b->len;
}

static inline void kb_raw(struct kb *b, const void *p, size_t n)
{
	if (n)
		memcpy(kb_reserve(b, n), p, n);
	b->len += n;
}

static inline void kb_fill(struct kb *b, uint8_t byte, size_t n)
{
	if (n)
		memset(kb_reserve(b, n), byte, n);
	b->len += n;
}

static inline void kb_be(struct kb *b, uint64_t v, size_t n)
{
	uint8_t *p = kb_reserve(b, n);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	b->len += n;
}

static inline void kb_i8(struct kb *b, int8_t v)
{
	kb_be(b, (uint8_t)v, 1);
}

static inline void kb_i16(struct kb *b, int16_t v)
{
	kb_be(b, (uint16_t)v, 2);
}

static inline void kb_i32(struct kb *b, int32_t v)
{
	kb_be(b, (uint32_t)v, 4);
}

static inline void kb_u32(struct kb *b, uint32_t v)
{
	kb_be(b, v, 4);
}

static inline void kb_i64(struct kb *b, int64_t v)
{
	kb_be(b, (uint64_t)v, 8);
}

/* Overwrites 4 bytes at off (for sizes known only after the payload). */
static inline void kb_patch_i32(struct kb *b, size_t off, int32_t v)
{
	for (int i = 0; i < 4; i++)
		b->buf[off + (size_t)i] = (uint8_t)((uint32_t)v >> (24 - 8 * i));
}

static inline void kb_uvarint(struct kb *b, uint64_t v)
{
	while (v >= 0x80) {
		kb_be(b, (v & 0x7f) | 0x80, 1);
		v >>= 7;
	}
	kb_be(b, v, 1);
}

/* Zigzag; the same bytes serve as Kafka varint and varlong. */
static inline void kb_varint(struct kb *b, int64_t v)
{
	kb_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* int16 length + bytes; NULL → -1. */
static inline void kb_string(struct kb *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	kb_i16(b, s ? (int16_t)n : -1);
	kb_raw(b, s, n);
}

/* uvarint length+1 + bytes; NULL → 0. */
static inline void kb_compact_string(struct kb *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	kb_uvarint(b, s ? n + 1 : 0);
	kb_raw(b, s, n);
}

/* int32 length + bytes; p NULL → -1. */
static inline void kb_bytes(struct kb *b, const void *p, size_t n)
{
	kb_i32(b, p ? (int32_t)n : -1);
	if (p)
		kb_raw(b, p, n);
}

/* uvarint length+1 + bytes; p NULL → 0. */
static inline void kb_compact_bytes(struct kb *b, const void *p, size_t n)
{
	kb_uvarint(b, p ? n + 1 : 0);
	if (p)
		kb_raw(b, p, n);
}

/* A tagged-field section with ntags dummy fields (tag i, 1..3 payload bytes). */
static inline void kb_tags(struct kb *b, int ntags)
{
	kb_uvarint(b, ntags > 0 ? (uint64_t)ntags : 0);
	for (int i = 0; i < ntags; i++) {
		size_t sz = (size_t)(i % 3) + 1;

		kb_uvarint(b, (uint64_t)i);
		kb_uvarint(b, sz);
		kb_fill(b, (uint8_t)(0xA0 + i), sz);
	}
}

/* CRC-32C (Castagnoli, reflected 0x82F63B78), as in record batch v2. */
static inline uint32_t kb_crc32c(const void *data, size_t n)
{
	const uint8_t *p = data;
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* One v2 record: null key, value_size bytes of 'x', no headers. */
static inline void kb_record(struct kb *b, int offset_delta, int value_size)
{
	struct kb r;

	kb_init(&r);
	kb_i8(&r, 0);		     /* attributes */
	kb_varint(&r, offset_delta); /* timestampDelta */
	kb_varint(&r, offset_delta); /* offsetDelta */
	kb_varint(&r, -1);	     /* key: null */
	kb_varint(&r, value_size);   /* value length */
	kb_fill(&r, 'x', (size_t)value_size);
	kb_varint(&r, 0); /* headers */
	kb_varint(b, (int64_t)r.len);
	kb_raw(b, r.buf, r.len);
	kb_free(&r);
}

#define KB_PRODUCER_ID 0x0102030405060708ll

/* Appends one magic-2 record batch of nrec records, producer
 * KB_PRODUCER_ID + base_offset from sequence base_offset; returns its size. */
static inline size_t kb_record_batch(struct kb *b, int64_t base_offset, int nrec, int value_size)
{
	size_t start = b->len, crc_at, attr_at;

	kb_i64(b, base_offset);
	kb_i32(b, 0);  /* batchLength, patched below */
	kb_i32(b, -1); /* partitionLeaderEpoch */
	kb_i8(b, 2);   /* magic */
	crc_at = b->len;
	kb_u32(b, 0);
	attr_at = b->len;
	kb_i16(b, 0); /* attributes: no compression, not transactional */
	kb_i32(b, nrec > 0 ? nrec - 1 : 0);
	kb_i64(b, 1700000000000);		 /* baseTimestamp */
	kb_i64(b, 1700000000000 + nrec);	 /* maxTimestamp */
	kb_i64(b, KB_PRODUCER_ID + base_offset); /* idempotent: every byte set */
	kb_i16(b, 0);				 /* producerEpoch */
	kb_i32(b, (int32_t)base_offset);	 /* baseSequence */
	kb_i32(b, nrec);
	for (int i = 0; i < nrec; i++)
		kb_record(b, i, value_size);
	kb_patch_i32(b, start + 8, (int32_t)(b->len - start - 12));
	uint32_t crc = kb_crc32c(b->buf + attr_at, b->len - attr_at);
	for (int i = 0; i < 4; i++)
		b->buf[crc_at + (size_t)i] = (uint8_t)(crc >> (24 - 8 * i));
	return b->len - start;
}

/* Appends nbatches batches (the records field's content); returns bytes written. */
static inline size_t kb_record_batches(struct kb *b, int nbatches, int records_per_batch,
				       int value_size)
{
	size_t start = b->len;

	for (int i = 0; i < nbatches; i++)
		kb_record_batch(b, (int64_t)i * records_per_batch, records_per_batch, value_size);
	return b->len - start;
}

struct kb_part_spec {
	int32_t index;
	int nbatches; /* < 0: null records */
	int records_per_batch;
	int value_size;
	int ntags;
};

struct kb_topic_spec {
	const char *name;
	uint8_t id[16];
	int nparts;
	const struct kb_part_spec *parts;
	int ntags;
};

struct kb_produce_spec {
	const char *txn_id;
	int16_t acks;
	int32_t timeout_ms;
	int ntopics;
	const struct kb_topic_spec *topics;
	int body_ntags;
	int header_ntags;
};

/* Starts a frame: reserves the 4-byte size. Returns the frame start. */
static inline size_t kb_frame_begin(struct kb *b)
{
	size_t at = b->len;

	kb_i32(b, 0);
	return at;
}

static inline void kb_frame_end(struct kb *b, size_t at)
{
	kb_patch_i32(b, at, (int32_t)(b->len - at - 4));
}

/* Request header of an explicit version (0, 1 or 2; v2 gets ntags tagged fields). */
static inline void kb_request_header(struct kb *b, int16_t api_key, int16_t version, int32_t corr,
				     const char *client_id, int header_version, int ntags)
{
	kb_i16(b, api_key);
	kb_i16(b, version);
	kb_i32(b, corr);
	if (header_version >= 1)
		kb_string(b, client_id);
	if (header_version >= 2)
		kb_tags(b, ntags);
}

static inline void kb_produce_partition(struct kb *b, int flex, const struct kb_part_spec *p)
{
	kb_i32(b, p->index);
	if (p->nbatches < 0) {
		if (flex)
			kb_uvarint(b, 0);
		else
			kb_i32(b, -1);
	} else {
		struct kb rec;

		kb_init(&rec);
		kb_record_batches(&rec, p->nbatches, p->records_per_batch, p->value_size);
		if (flex)
			kb_compact_bytes(b, rec.buf ? rec.buf : (const uint8_t *)"", rec.len);
		else
			kb_bytes(b, rec.buf ? rec.buf : (const uint8_t *)"", rec.len);
		kb_free(&rec);
	}
	if (flex)
		kb_tags(b, p->ntags);
}

static inline void kb_produce_topic(struct kb *b, int16_t version, const struct kb_topic_spec *t)
{
	int flex = version >= 9;

	if (version >= 13)
		kb_raw(b, t->id, 16);
	else if (flex)
		kb_compact_string(b, t->name);
	else
		kb_string(b, t->name);
	if (flex)
		kb_uvarint(b, (uint64_t)t->nparts + 1);
	else
		kb_i32(b, t->nparts);
	for (int i = 0; i < t->nparts; i++)
		kb_produce_partition(b, flex, &t->parts[i]);
	if (flex)
		kb_tags(b, t->ntags);
}

/* The Produce body alone (no header). */
static inline void kb_produce_body(struct kb *b, int16_t version,
				   const struct kb_produce_spec *spec)
{
	int flex = version >= 9;

	if (version >= 3) {
		if (flex)
			kb_compact_string(b, spec->txn_id);
		else
			kb_string(b, spec->txn_id);
	}
	kb_i16(b, spec->acks);
	kb_i32(b, spec->timeout_ms);
	if (flex)
		kb_uvarint(b, (uint64_t)spec->ntopics + 1);
	else
		kb_i32(b, spec->ntopics);
	for (int i = 0; i < spec->ntopics; i++)
		kb_produce_topic(b, version, &spec->topics[i]);
	if (flex)
		kb_tags(b, spec->body_ntags);
}

/* A whole Produce request frame; returns the offset of the frame start in b. */
static inline size_t kb_produce_request(struct kb *b, int16_t version, int32_t corr,
					const char *client_id, const struct kb_produce_spec *spec)
{
	size_t at = kb_frame_begin(b);
	int hv = version >= 9 ? 2 : 1;

	kb_request_header(b, 0, version, corr, client_id, hv, spec->header_ntags);
	kb_produce_body(b, version, spec);
	kb_frame_end(b, at);
	return at;
}

/* ---- Fetch requests (v4-v14) ---- */

struct kb_fetch_part_spec {
	int32_t index;
	int64_t fetch_offset;
	int ntags;
};

struct kb_fetch_topic_spec {
	const char *name;
	uint8_t id[16]; /* v13+ */
	int nparts;
	const struct kb_fetch_part_spec *parts;
	int ntags;
};

struct kb_fetch_spec {
	int32_t replica_id;
	int ntopics;
	const struct kb_fetch_topic_spec *topics;
	int nforgotten;	     /* forgotten topics (v7+), of two partitions each */
	const char *rack_id; /* v11+ */
	int header_ntags;
	int body_ntags;
};

static inline void kb_fetch_key(struct kb *b, int16_t version, const struct kb_fetch_topic_spec *t)
{
	if (version >= 13)
		kb_raw(b, t->id, 16);
	else if (version >= 12)
		kb_compact_string(b, t->name);
	else
		kb_string(b, t->name);
}

static inline void kb_array_len(struct kb *b, int flex, int n)
{
	if (flex)
		kb_uvarint(b, (uint64_t)n + 1);
	else
		kb_i32(b, n);
}

static inline void kb_fetch_topic(struct kb *b, int16_t version,
				  const struct kb_fetch_topic_spec *t)
{
	int flex = version >= 12;

	kb_fetch_key(b, version, t);
	kb_array_len(b, flex, t->nparts);
	for (int i = 0; i < t->nparts; i++) {
		const struct kb_fetch_part_spec *p = &t->parts[i];

		kb_i32(b, p->index);
		if (version >= 9)
			kb_i32(b, 7); /* current_leader_epoch */
		kb_i64(b, p->fetch_offset);
		if (version >= 12)
			kb_i32(b, 6); /* last_fetched_epoch */
		if (version >= 5)
			kb_i64(b, 0); /* log_start_offset */
		kb_i32(b, 1 << 20);
		if (flex)
			kb_tags(b, p->ntags);
	}
	if (flex)
		kb_tags(b, t->ntags);
}

/* A whole Fetch request frame; returns the offset of the frame start in b. */
static inline size_t kb_fetch_request(struct kb *b, int16_t version, int32_t corr,
				      const char *client_id, const struct kb_fetch_spec *sp)
{
	size_t at = kb_frame_begin(b);
	int flex = version >= 12;

	kb_request_header(b, 1, version, corr, client_id, flex ? 2 : 1, sp->header_ntags);
	kb_i32(b, sp->replica_id);
	kb_i32(b, 500);	    /* max_wait_ms */
	kb_i32(b, 1);	    /* min_bytes */
	kb_i32(b, 1 << 24); /* max_bytes */
	kb_i8(b, 0);	    /* isolation_level */
	if (version >= 7) {
		kb_i32(b, 0);  /* session_id */
		kb_i32(b, -1); /* session_epoch */
	}
	kb_array_len(b, flex, sp->ntopics);
	for (int i = 0; i < sp->ntopics; i++)
		kb_fetch_topic(b, version, &sp->topics[i]);
	if (version >= 7) {
		kb_array_len(b, flex, sp->nforgotten);
		for (int i = 0; i < sp->nforgotten; i++) {
			struct kb_fetch_topic_spec gone = {.name = "gone", .id = {9}};

			kb_fetch_key(b, version, &gone);
			kb_array_len(b, flex, 2);
			kb_i32(b, 0);
			kb_i32(b, 1);
			if (flex)
				kb_tags(b, 0);
		}
	}
	if (version >= 11) {
		if (flex)
			kb_compact_string(b, sp->rack_id);
		else
			kb_string(b, sp->rack_id);
	}
	if (flex)
		kb_tags(b, sp->body_ntags);
	kb_frame_end(b, at);
	return at;
}

/*
 * Any API: header (version per kproto_request_header_version, v2 with no
 * tagged fields) + body_len filler bytes. Returns the frame start.
 */
static inline size_t kb_request(struct kb *b, int16_t api_key, int16_t version, int32_t corr,
				const char *client_id, size_t body_len)
{
	size_t at = kb_frame_begin(b);

	kb_request_header(b, api_key, version, corr, client_id,
			  kproto_request_header_version(api_key, version), 0);
	for (size_t i = 0; i < body_len; i++)
		kb_i8(b, (int8_t)(i * 7 + 1));
	kb_frame_end(b, at);
	return at;
}

/* Response frame: corr id, tagged fields (none) for v1, body_len filler bytes. */
static inline size_t kb_response(struct kb *b, int32_t corr, int header_version, size_t body_len)
{
	size_t at = kb_frame_begin(b);

	kb_i32(b, corr);
	if (header_version >= 1)
		kb_tags(b, 0);
	for (size_t i = 0; i < body_len; i++)
		kb_i8(b, (int8_t)(i * 5 + 3));
	kb_frame_end(b, at);
	return at;
}

#endif /* KAFKALAT_TESTS_KBUILD_H */

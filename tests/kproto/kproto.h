/* SPDX-License-Identifier: MIT */
/*
 * kproto: the tests' oracle and the reference broker's decoder for the
 * Kafka wire protocol pieces kafkalat frames (request/response headers,
 * Produce request bodies v0..v13).
 *
 * Everything here reads from caller-owned buffers that came off the wire, so
 * every length and count is checked against the bytes actually present and
 * nothing is trusted. No global mutable state; safe to call from any thread.
 */
#ifndef KAFKALAT_KPROTO_H
#define KAFKALAT_KPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kproto_err {
	KPROTO_OK = 0,
	KPROTO_ETRUNC = -1,   /* buffer ends inside a field */
	KPROTO_ERANGE = -2,   /* a length/count negative or larger than the bytes left */
	KPROTO_EVERSION = -3, /* version not supported for decoding */
	KPROTO_EAPI = -4,     /* api key not decodable */
	KPROTO_ENOMEM = -5,
};

/* Well-known api keys (ApiKeys.java); kapi_name() knows all of them. */
enum kproto_api {
	KPROTO_API_PRODUCE = 0,
	KPROTO_API_FETCH = 1,
	KPROTO_API_LIST_OFFSETS = 2,
	KPROTO_API_METADATA = 3,
	KPROTO_API_CONTROLLED_SHUTDOWN = 7,
	KPROTO_API_API_VERSIONS = 18,
	KPROTO_API_INIT_PRODUCER_ID = 22,
};

/* Highest Produce version kproto_decode_produce() understands. */
#define KPROTO_PRODUCE_MAX_VERSION 13
/* Cap on topics and on partitions (each, summed over the request). */
#define KPROTO_MAX_ENTRIES 100000
/* Size of a magic-2 record batch header, and where recordsCount sits in it. */
#define KPROTO_BATCH_HEADER_LEN	   61
#define KPROTO_BATCH_RECORDS_COUNT 57
#define KPROTO_BATCH_PRODUCER_ID   43
#define KPROTO_BATCH_BASE_SEQUENCE 53

const char *kproto_strerror(int err);

/* 1 or 2 (2 when the request is flexible); 0 for ControlledShutdown v0. */
int kproto_request_header_version(int16_t api_key, int16_t api_version);
/* 0 or 1; ApiVersions responses always use v0. */
int kproto_response_header_version(int16_t api_key, int16_t api_version);
/* True when the request body of this version uses compact types and tagged fields. */
bool kproto_is_flexible(int16_t api_key, int16_t api_version);

/* ---- cursor: bounds-checked big-endian reader, reusable by other modules ---- */

struct kproto_cur {
	const uint8_t *p;
	size_t len, off;
};

void kproto_cur_init(struct kproto_cur *c, const uint8_t *p, size_t len);
size_t kproto_cur_left(const struct kproto_cur *c);
int kproto_skip(struct kproto_cur *c, size_t n);

int kproto_read_i8(struct kproto_cur *c, int8_t *v);
int kproto_read_i16(struct kproto_cur *c, int16_t *v);
int kproto_read_i32(struct kproto_cur *c, int32_t *v);
int kproto_read_u32(struct kproto_cur *c, uint32_t *v);
int kproto_read_i64(struct kproto_cur *c, int64_t *v);
/* Unsigned varint of at most 5 bytes / 32 bits; longer or overflowing → KPROTO_ERANGE. */
int kproto_read_uvarint(struct kproto_cur *c, uint32_t *v);
/* Zigzag varint (32 bit). */
int kproto_read_varint(struct kproto_cur *c, int32_t *v);
/* Unsigned varlong of at most 10 bytes / 64 bits. */
int kproto_read_uvarlong(struct kproto_cur *c, uint64_t *v);
/* Zigzag varlong (64 bit). */
int kproto_read_varlong(struct kproto_cur *c, int64_t *v);

/*
 * Strings and bytes return a pointer into the buffer (not NUL-terminated) and
 * a length; *len = -1 means null. The bytes are guaranteed to be present.
 */
int kproto_read_string(struct kproto_cur *c, const uint8_t **s, int32_t *len); /* int16 len */
int kproto_read_compact_string(struct kproto_cur *c, const uint8_t **s, int32_t *len);
int kproto_read_bytes(struct kproto_cur *c, const uint8_t **s, int32_t *len); /* int32 len */
int kproto_read_compact_bytes(struct kproto_cur *c, const uint8_t **s, int32_t *len);
/*
 * Array lengths: *n = -1 means null. A count larger than the bytes left is
 * KPROTO_ERANGE, since every element takes at least one byte.
 */
int kproto_read_array_len(struct kproto_cur *c, int32_t *n);
int kproto_read_compact_array_len(struct kproto_cur *c, int32_t *n);
int kproto_read_uuid(struct kproto_cur *c, uint8_t out[16]);
/* Skips a tagged-field section: uvarint count, then (uvarint tag, uvarint size, bytes). */
int kproto_skip_tags(struct kproto_cur *c);

/* ---- headers ---- */

struct kproto_req_header {
	int16_t api_key, api_version;
	int32_t corr_id;
	int16_t client_id_len;	  /* -1 = null */
	const uint8_t *client_id; /* into the buffer, not NUL-terminated */
	size_t header_len;	  /* bytes consumed incl. tagged fields */
	int header_version;
};

/*
 * buf = the frame's bytes after the 4-byte size. Decodes header v0/v1/v2 as
 * kproto_request_header_version() says (v2: client_id is still a non-compact
 * nullable int16 string, then tagged fields).
 */
int kproto_decode_request_header(const uint8_t *buf, size_t len, struct kproto_req_header *out);

struct kproto_resp_header {
	int32_t corr_id;
	size_t header_len;
};

int kproto_decode_response_header(const uint8_t *buf, size_t len, int header_version,
				  struct kproto_resp_header *out);

/* ---- Produce ---- */

struct kproto_partition {
	int32_t index;
	int32_t record_bytes; /* -1 = null */
	uint32_t records;     /* sum of recordsCount over the batches (saturating) */
	uint32_t batches;
	bool batch_truncated; /* the last batch's header was cut short */
	/* the first v2 batch's producerId and baseSequence; -1 when there is
	 * none (producerId -1 also for a producer that is not idempotent) */
	int64_t producer_id;
	int32_t base_sequence;
};

struct kproto_topic {
	char name[256]; /* NUL-terminated; empty when topic id is used */
	bool has_id;
	uint8_t id[16];
	size_t nparts;
	struct kproto_partition *parts;
};

struct kproto_produce {
	bool has_txn; /* transactional_id not null (v3+) */
	int16_t acks;
	int32_t timeout_ms;
	size_t ntopics;
	struct kproto_topic *topics;
	size_t body_len; /* bytes of the body consumed (trailing bytes are ignored) */
};

/*
 * body = bytes after the request header. Allocates topics/parts; free with
 * kproto_produce_free(). On failure *out is left zeroed (nothing to free).
 * Legacy message sets (magic 0/1, Produce v0-2) count one record and one
 * batch per outer message (compressed wrappers are not opened).
 */
int kproto_decode_produce(const uint8_t *body, size_t len, int16_t version,
			  struct kproto_produce *out);
/* Safe on a zeroed struct and after a failed decode; leaves *p zeroed. */
void kproto_produce_free(struct kproto_produce *p);

/* ---- Fetch requests (v4-v14: replica_id is a body field) ---- */

#define KPROTO_FETCH_MIN_VERSION 4
#define KPROTO_FETCH_MAX_VERSION 14

struct kproto_fetch_partition {
	int32_t index;
	int32_t current_leader_epoch; /* v9+; -1 before */
	int64_t fetch_offset;
	int32_t last_fetched_epoch; /* v12+; -1 before */
	int64_t log_start_offset;   /* v5+; -1 before */
	int32_t max_bytes;
};

struct kproto_fetch_topic {
	char name[256]; /* NUL-terminated; empty when the topic id is used (v13+) */
	bool has_id;
	uint8_t id[16];
	size_t nparts;
	struct kproto_fetch_partition *parts;
};

struct kproto_fetch {
	int32_t replica_id; /* >= 0: a follower broker; < 0: a consumer */
	int32_t max_wait_ms, min_bytes, max_bytes;
	int8_t isolation_level;
	int32_t session_id, session_epoch; /* v7+ */
	size_t ntopics;
	struct kproto_fetch_topic *topics;
	size_t nforgotten; /* forgotten topics (v7+), not kept */
	size_t body_len;
};

/* body = bytes after the request header. Allocates topics/parts; free with
 * kproto_fetch_free(). On failure *out is left zeroed. */
int kproto_decode_fetch(const uint8_t *body, size_t len, int16_t version, struct kproto_fetch *out);
/* Safe on a zeroed struct and after a failed decode; leaves *f zeroed. */
void kproto_fetch_free(struct kproto_fetch *f);

/* Walks the record batches of one records field; used by the Produce decoder. */
int kproto_scan_records(const uint8_t *rec, size_t len, struct kproto_partition *part);

#endif /* KAFKALAT_KPROTO_H */

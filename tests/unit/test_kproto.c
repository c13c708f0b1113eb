// SPDX-License-Identifier: MIT
/* Unit tests of the Kafka wire decoder (src/kproto.c) and the kbuild builder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kafkalat/kapi.h"
#include "kproto.h"
#include "kbuild.h"

/* ---- helpers ---- */

/* Copies into an exact-size heap block so ASan sees any over-read. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static uint32_t frame_size(const struct kb *b, size_t at)
{
	const uint8_t *p = b->buf + at;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes header + Produce body of the frame at `at`; returns the first error. */
static int decode_frame(const uint8_t *frame, size_t len, struct kproto_req_header *h,
			struct kproto_produce *p)
{
	int err = kproto_decode_request_header(frame, len, h);

	if (err)
		return err;
	return kproto_decode_produce(frame + h->header_len, len - h->header_len, h->api_version, p);
}

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
    {.name = "t", .id = {0}, .nparts = 1, .parts = parts_c, .ntags = 1},
};

static void check_partition(const struct kproto_partition *got, const struct kb_part_spec *want)
{
	struct kb tmp;

	assert_int_equal(got->index, want->index);
	assert_false(got->batch_truncated);
	if (want->nbatches < 0) {
		assert_int_equal(got->record_bytes, -1);
		assert_int_equal(got->records, 0);
		assert_int_equal(got->batches, 0);
		return;
	}
	kb_init(&tmp);
	assert_int_equal(got->record_bytes,
			 (int32_t)kb_record_batches(&tmp, want->nbatches, want->records_per_batch,
						    want->value_size));
	kb_free(&tmp);
	assert_int_equal(got->batches, (uint32_t)want->nbatches);
	assert_int_equal(got->records, (uint32_t)(want->nbatches * want->records_per_batch));
}

static void check_produce(const struct kproto_produce *p, int16_t version,
			  const struct kb_produce_spec *spec)
{
	assert_int_equal(p->acks, spec->acks);
	assert_int_equal(p->timeout_ms, spec->timeout_ms);
	assert_int_equal(p->has_txn, version >= 3 && spec->txn_id != NULL);
	assert_int_equal(p->ntopics, (size_t)spec->ntopics);
	for (int i = 0; i < spec->ntopics; i++) {
		const struct kproto_topic *t = &p->topics[i];
		const struct kb_topic_spec *w = &spec->topics[i];

		if (version >= 13) {
			assert_true(t->has_id);
			assert_memory_equal(t->id, w->id, 16);
			assert_string_equal(t->name, "");
		} else {
			assert_false(t->has_id);
			assert_string_equal(t->name, w->name);
		}
		assert_int_equal(t->nparts, (size_t)w->nparts);
		for (int j = 0; j < w->nparts; j++)
			check_partition(&t->parts[j], &w->parts[j]);
	}
}

static struct kb_produce_spec spec3(int16_t version)
{
	struct kb_produce_spec s = {
	    .txn_id = (version % 2) ? "txn-a" : NULL,
	    .acks = (int16_t)(version % 3 - 1),
	    .timeout_ms = 30000 + version,
	    .ntopics = 3,
	    .topics = topics3,
	    .body_ntags = version % 3,
	    .header_ntags = 1 + version % 2,
	};
	return s;
}

/* ---- tests ---- */

static void test_crc32c_check_value(void **state)
{
	(void)state;
	assert_int_equal(kb_crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(kb_crc32c("", 0), 0);
}

static void test_batch_crc_and_layout(void **state)
{
	struct kb b;
	size_t n;

	(void)state;
	kb_init(&b);
	n = kb_record_batch(&b, 42, 3, 4);
	assert_int_equal(n, b.len);
	assert_int_equal(b.buf[16], 2);
	assert_int_equal(frame_size(&b, 8), n - 12);
	assert_int_equal(frame_size(&b, KPROTO_BATCH_RECORDS_COUNT), 3);
	assert_int_equal(frame_size(&b, 17), kb_crc32c(b.buf + 21, n - 21));
	/* the first batch's producer identity; a second batch's is not kept */
	kb_record_batch(&b, 45, 2, 4);
	struct kproto_partition part = {0};
	assert_int_equal(kproto_scan_records(b.buf, b.len, &part), KPROTO_OK);
	assert_int_equal(part.batches, 2);
	assert_int_equal(part.producer_id, KB_PRODUCER_ID + 42);
	assert_int_equal(part.base_sequence, 42);
	kb_free(&b);
}

static void test_produce_all_versions(void **state)
{
	(void)state;
	for (int16_t v = 0; v <= KPROTO_PRODUCE_MAX_VERSION; v++) {
		struct kb_produce_spec spec = spec3(v);
		struct kproto_req_header h;
		struct kproto_produce p;
		struct kb b;
		size_t at;
		uint8_t *f;

		kb_init(&b);
		kb_fill(&b, 0xEE, 5); /* frames need not start at 0 */
		at = kb_produce_request(&b, v, 1000 + v, "client-x", &spec);
		assert_int_equal(at, 5);
		assert_int_equal(frame_size(&b, at), b.len - at - 4);
		f = dup_exact(b.buf + at + 4, b.len - at - 4);
		assert_int_equal(decode_frame(f, b.len - at - 4, &h, &p), KPROTO_OK);
		assert_int_equal(h.api_key, 0);
		assert_int_equal(h.api_version, v);
		assert_int_equal(h.corr_id, 1000 + v);
		assert_int_equal(h.header_version, v >= 9 ? 2 : 1);
		assert_int_equal(h.client_id_len, 8);
		assert_memory_equal(h.client_id, "client-x", 8);
		assert_int_equal(h.header_len + p.body_len, b.len - at - 4);
		check_produce(&p, v, &spec);
		kproto_produce_free(&p);
		assert_null(p.topics);
		free(f);
		kb_free(&b);
	}
}

static void test_request_header_versions(void **state)
{
	struct kproto_req_header h;
	struct kb b;

	(void)state;
	/* v0: ControlledShutdown v0 has no client id. */
	kb_init(&b);
	kb_request(&b, 7, 0, 5, "ignored", 3);
	assert_int_equal(kproto_decode_request_header(b.buf + 4, b.len - 4, &h), KPROTO_OK);
	assert_int_equal(h.header_version, 0);
	assert_int_equal(h.header_len, 8);
	assert_int_equal(h.client_id_len, -1);
	assert_null(h.client_id);
	assert_int_equal(h.corr_id, 5);
	kb_free(&b);

	/* v1 with a null client id. */
	kb_init(&b);
	kb_request(&b, 3, 8, -7, NULL, 10);
	assert_int_equal(kproto_decode_request_header(b.buf + 4, b.len - 4, &h), KPROTO_OK);
	assert_int_equal(h.header_version, 1);
	assert_int_equal(h.header_len, 10);
	assert_int_equal(h.client_id_len, -1);
	assert_int_equal(h.corr_id, -7);
	kb_free(&b);

	/* v2: ApiVersions v3, plain int16 client id then tagged fields. */
	kb_init(&b);
	size_t at = kb_frame_begin(&b);
	kb_request_header(&b, 18, 3, 1, "rdkafka", 2, 3);
	kb_frame_end(&b, at);
	assert_int_equal(kproto_decode_request_header(b.buf + 4, b.len - 4, &h), KPROTO_OK);
	assert_int_equal(h.header_version, 2);
	assert_int_equal(h.api_key, 18);
	assert_int_equal(h.client_id_len, 7);
	assert_memory_equal(h.client_id, "rdkafka", 7);
	assert_int_equal(h.header_len, b.len - 4);
	kb_free(&b);

	/* v2 for Metadata v9 via kb_request, body follows the header. */
	kb_init(&b);
	kb_request(&b, 3, 9, 77, "", 4);
	assert_int_equal(kproto_decode_request_header(b.buf + 4, b.len - 4, &h), KPROTO_OK);
	assert_int_equal(h.header_version, 2);
	assert_int_equal(h.client_id_len, 0);
	assert_int_equal(h.header_len, 8 + 2 + 1);
	assert_int_equal(b.len - 4 - h.header_len, 4);
	kb_free(&b);
}

static void test_response_headers(void **state)
{
	struct kproto_resp_header r;
	struct kb b;

	(void)state;
	kb_init(&b);
	kb_response(&b, 123, 0, 6);
	assert_int_equal(frame_size(&b, 0), 10);
	assert_int_equal(kproto_decode_response_header(b.buf + 4, b.len - 4, 0, &r), KPROTO_OK);
	assert_int_equal(r.corr_id, 123);
	assert_int_equal(r.header_len, 4);
	kb_free(&b);

	kb_init(&b);
	kb_response(&b, -2, 1, 0);
	assert_int_equal(kproto_decode_response_header(b.buf + 4, b.len - 4, 1, &r), KPROTO_OK);
	assert_int_equal(r.corr_id, -2);
	assert_int_equal(r.header_len, 5);
	assert_int_equal(kproto_decode_response_header(b.buf + 4, 4, 1, &r), KPROTO_ETRUNC);
	assert_int_equal(kproto_decode_response_header(b.buf + 4, 3, 0, &r), KPROTO_ETRUNC);
	assert_int_equal(kproto_decode_response_header(b.buf + 4, b.len - 4, 2, &r),
			 KPROTO_EVERSION);
	kb_free(&b);

	/* v1 with tagged fields. */
	kb_init(&b);
	kb_i32(&b, 9);
	kb_tags(&b, 4);
	assert_int_equal(kproto_decode_response_header(b.buf, b.len, 1, &r), KPROTO_OK);
	assert_int_equal(r.header_len, b.len);
	kb_free(&b);
}

static void test_header_version_rules(void **state)
{
	(void)state;
	assert_int_equal(kproto_request_header_version(0, 8), 1);
	assert_int_equal(kproto_request_header_version(0, 9), 2);
	assert_int_equal(kproto_request_header_version(0, 13), 2);
	assert_int_equal(kproto_request_header_version(18, 2), 1);
	assert_int_equal(kproto_request_header_version(18, 3), 2);
	assert_int_equal(kproto_request_header_version(18, 4), 2);
	assert_int_equal(kproto_request_header_version(3, 8), 1);
	assert_int_equal(kproto_request_header_version(3, 9), 2);
	assert_int_equal(kproto_request_header_version(7, 0), 0);
	assert_int_equal(kproto_request_header_version(7, 1), 1);
	assert_int_equal(kproto_request_header_version(1, 11), 1);
	assert_int_equal(kproto_request_header_version(1, 12), 2);
	assert_int_equal(kproto_request_header_version(17, 1), 1); /* SaslHandshake never */
	assert_int_equal(kproto_request_header_version(9999, 3), 1);
	assert_int_equal(kproto_request_header_version(-1, 3), 1);

	assert_int_equal(kproto_response_header_version(0, 8), 0);
	assert_int_equal(kproto_response_header_version(0, 9), 1);
	assert_int_equal(kproto_response_header_version(18, 3), 0);
	assert_int_equal(kproto_response_header_version(18, 4), 0);
	assert_int_equal(kproto_response_header_version(3, 12), 1);
	assert_int_equal(kproto_response_header_version(9999, 0), 0);
}

static void test_api_names(void **state)
{
	(void)state;
	assert_string_equal(kapi_name(0), "Produce");
	assert_string_equal(kapi_name(1), "Fetch");
	assert_string_equal(kapi_name(2), "ListOffsets");
	assert_string_equal(kapi_name(3), "Metadata");
	assert_string_equal(kapi_name(18), "ApiVersions");
	assert_string_equal(kapi_name(22), "InitProducerId");
	assert_string_equal(kapi_name(44), "IncrementalAlterConfigs");
	assert_string_equal(kapi_name(68), "ConsumerGroupHeartbeat");
	assert_string_equal(kapi_name(75), "DescribeTopicPartitions");
	assert_string_equal(kapi_name(87), "ReadShareGroupStateSummary");
	assert_string_equal(kapi_name(92), "DeleteShareGroupOffsets");
	assert_string_equal(kapi_name(93), "Unknown");
	assert_string_equal(kapi_name(9999), "Unknown");
	assert_string_equal(kapi_name(-1), "Unknown");
}

/* Every strict prefix of a valid request must fail cleanly. */
static void truncate_everywhere(int16_t version, const struct kb_produce_spec *spec)
{
	struct kb b;
	size_t flen;

	kb_init(&b);
	kb_produce_request(&b, version, 1, "cid", spec);
	flen = b.len - 4;
	for (size_t cut = 0; cut < flen; cut++) {
		struct kproto_req_header h;
		struct kproto_produce p = {0};
		uint8_t *f = dup_exact(b.buf + 4, cut);
		int err = decode_frame(f, cut, &h, &p);

		if (err != KPROTO_ETRUNC && err != KPROTO_ERANGE)
			fail_msg("v%d cut %zu/%zu: %d", version, cut, flen, err);
		assert_null(p.topics);
		kproto_produce_free(&p);
		free(f);
	}
	kb_free(&b);
}

static void test_truncation_every_offset(void **state)
{
	static const int16_t versions[] = {0, 3, 8, 9, 12, 13};

	(void)state;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		struct kb_produce_spec spec = spec3(versions[i]);

		truncate_everywhere(versions[i], &spec);
	}
}

static void test_batch_header_truncated(void **state)
{
	struct kproto_produce p;
	struct kb rec, body;

	(void)state;
	/* Records field: one full batch then the first 40 bytes of another. */
	kb_init(&rec);
	kb_record_batches(&rec, 2, 3, 5);
	size_t first = rec.len / 2;
	rec.len = first + 40;
	kb_init(&body);
	kb_string(&body, NULL);
	kb_i16(&body, 1);
	kb_i32(&body, 100);
	kb_i32(&body, 1);
	kb_string(&body, "t");
	kb_i32(&body, 1);
	kb_i32(&body, 0);
	kb_bytes(&body, rec.buf, rec.len);
	assert_int_equal(kproto_decode_produce(body.buf, body.len, 3, &p), KPROTO_OK);
	assert_int_equal(p.topics[0].parts[0].batches, 1);
	assert_int_equal(p.topics[0].parts[0].records, 3);
	assert_true(p.topics[0].parts[0].batch_truncated);
	assert_int_equal(p.topics[0].parts[0].record_bytes, (int32_t)rec.len);
	kproto_produce_free(&p);

	/* Only 10 bytes: not even the magic byte is there. */
	struct kproto_partition part = {0};
	assert_int_equal(kproto_scan_records(rec.buf, 10, &part), KPROTO_OK);
	assert_true(part.batch_truncated);
	assert_int_equal(part.batches, 0);
	kb_free(&rec);
	kb_free(&body);
}

static void test_bad_batches(void **state)
{
	struct kproto_partition part;
	struct kb rec;

	(void)state;
	kb_init(&rec);
	kb_record_batches(&rec, 1, 2, 1);

	memset(&part, 0, sizeof(part));
	kb_patch_i32(&rec, 8, -1); /* negative batchLength */
	assert_int_equal(kproto_scan_records(rec.buf, rec.len, &part), KPROTO_ERANGE);
	kb_patch_i32(&rec, 8, (int32_t)rec.len); /* overruns the records field */
	assert_int_equal(kproto_scan_records(rec.buf, rec.len, &part), KPROTO_ERANGE);
	kb_patch_i32(&rec, 8, 48); /* smaller than the header */
	assert_int_equal(kproto_scan_records(rec.buf, rec.len, &part), KPROTO_ERANGE);
	kb_patch_i32(&rec, 8, (int32_t)rec.len - 12);
	kb_patch_i32(&rec, KPROTO_BATCH_RECORDS_COUNT, -5);
	assert_int_equal(kproto_scan_records(rec.buf, rec.len, &part), KPROTO_ERANGE);
	kb_patch_i32(&rec, KPROTO_BATCH_RECORDS_COUNT, 2);
	rec.buf[16] = 7; /* unknown magic */
	assert_int_equal(kproto_scan_records(rec.buf, rec.len, &part), KPROTO_ERANGE);
	rec.buf[16] = 2;
	memset(&part, 0, sizeof(part));
	assert_int_equal(kproto_scan_records(rec.buf, rec.len, &part), KPROTO_OK);
	assert_int_equal(part.records, 2);

	/* Huge recordsCount saturates instead of wrapping. */
	memset(&part, 0, sizeof(part));
	kb_record_batches(&rec, 2, 1, 1);
	for (size_t off = 0; off < rec.len; off += frame_size(&rec, off + 8) + 12)
		kb_patch_i32(&rec, off + KPROTO_BATCH_RECORDS_COUNT, INT32_MAX);
	assert_int_equal(kproto_scan_records(rec.buf, rec.len, &part), KPROTO_OK);
	assert_int_equal(part.batches, 3);
	assert_int_equal(part.records, UINT32_MAX);
	kb_free(&rec);
}

static void test_legacy_message_set(void **state)
{
	struct kproto_produce p;
	struct kb rec, body;

	(void)state;
	/* Two magic-0 messages: offset, size, crc, magic, attributes, key, value. */
	kb_init(&rec);
	for (int i = 0; i < 2; i++) {
		kb_i64(&rec, i);
		kb_i32(&rec, 4 + 1 + 1 + 4 + 4 + 3);
		kb_u32(&rec, 0);
		kb_i8(&rec, 0);
		kb_i8(&rec, 0);
		kb_i32(&rec, -1);
		kb_i32(&rec, 3);
		kb_raw(&rec, "abc", 3);
	}
	kb_init(&body);
	kb_i16(&body, 1);
	kb_i32(&body, 1500);
	kb_i32(&body, 1);
	kb_string(&body, "legacy");
	kb_i32(&body, 1);
	kb_i32(&body, 4);
	kb_bytes(&body, rec.buf, rec.len);
	assert_int_equal(kproto_decode_produce(body.buf, body.len, 0, &p), KPROTO_OK);
	assert_false(p.has_txn);
	assert_string_equal(p.topics[0].name, "legacy");
	assert_int_equal(p.topics[0].parts[0].records, 2);
	assert_int_equal(p.topics[0].parts[0].batches, 2);
	kproto_produce_free(&p);
	kb_free(&rec);
	kb_free(&body);
}

/* Decodes buf with a fresh cursor through fn-style switch on `kind`. */
enum rd { RD_STR, RD_CSTR, RD_BYTES, RD_CBYTES, RD_ARR, RD_CARR, RD_UV, RD_V, RD_UVL, RD_TAGS };

static int rd(enum rd kind, const struct kb *b, int32_t *n)
{
	struct kproto_cur c;
	const uint8_t *s;
	uint32_t u;
	uint64_t ul;
	int32_t v;

	kproto_cur_init(&c, b->buf, b->len);
	switch (kind) {
	case RD_STR:
		return kproto_read_string(&c, &s, n);
	case RD_CSTR:
		return kproto_read_compact_string(&c, &s, n);
	case RD_BYTES:
		return kproto_read_bytes(&c, &s, n);
	case RD_CBYTES:
		return kproto_read_compact_bytes(&c, &s, n);
	case RD_ARR:
		return kproto_read_array_len(&c, n);
	case RD_CARR:
		return kproto_read_compact_array_len(&c, n);
	case RD_UV:
		return kproto_read_uvarint(&c, &u);
	case RD_V:
		return kproto_read_varint(&c, &v);
	case RD_UVL:
		return kproto_read_uvarlong(&c, &ul);
	case RD_TAGS:
		return kproto_skip_tags(&c);
	}
	return -100;
}

static int rd_bytes(enum rd kind, const char *hex_bytes, size_t n)
{
	struct kb b;
	int32_t out;
	int err;

	kb_init(&b);
	kb_raw(&b, hex_bytes, n);
	err = rd(kind, &b, &out);
	kb_free(&b);
	return err;
}

static void test_bad_lengths_cursor(void **state)
{
	(void)state;
	/* int16 string: -2, and 100 with 2 bytes present. */
	assert_int_equal(rd_bytes(RD_STR, "\xff\xfe", 2), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_STR,
				  "\x00\x64"
				  "ab",
				  4),
			 KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_STR, "\xff\xff", 2), KPROTO_OK);
	assert_int_equal(rd_bytes(RD_STR, "\x00", 1), KPROTO_ETRUNC);
	/* int32 bytes: -5, INT32_MAX. */
	assert_int_equal(rd_bytes(RD_BYTES, "\xff\xff\xff\xfb", 4), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_BYTES, "\x7f\xff\xff\xffxx", 6), KPROTO_ERANGE);
	/* arrays: null ok, -2 and huge not. */
	assert_int_equal(rd_bytes(RD_ARR, "\xff\xff\xff\xff", 4), KPROTO_OK);
	assert_int_equal(rd_bytes(RD_ARR, "\xff\xff\xff\xfe", 4), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_ARR, "\x00\x10\x00\x00zz", 6), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_CARR, "\x00", 1), KPROTO_OK);
	assert_int_equal(rd_bytes(RD_CARR, "\xff\xff\xff\xff\x0f", 5), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_CARR,
				  "\x05"
				  "ab",
				  3),
			 KPROTO_ERANGE);
	/* compact lengths: max uvarint, overflowing 5th byte, 6 bytes, truncated. */
	assert_int_equal(rd_bytes(RD_CSTR, "\xff\xff\xff\xff\x0f", 5), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_CBYTES, "\xff\xff\xff\xff\x10", 5), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_CBYTES, "\x80\x80\x80\x80\x80\x01", 6), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_CBYTES, "\x80\x80", 2), KPROTO_ETRUNC);
	assert_int_equal(rd_bytes(RD_CBYTES,
				  "\x03"
				  "a",
				  2),
			 KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_CSTR, "\x00", 1), KPROTO_OK);
	/* compact string longer than int16. */
	{
		struct kb b;
		int32_t n;

		kb_init(&b);
		kb_uvarint(&b, 40001);
		kb_fill(&b, 'a', 40000);
		assert_int_equal(rd(RD_CBYTES, &b, &n), KPROTO_OK);
		assert_int_equal(n, 40000);
		assert_int_equal(rd(RD_CSTR, &b, &n), KPROTO_ERANGE);
		kb_free(&b);
	}
	/* varints: 5 bytes max for 32 bits, 10 for 64. */
	assert_int_equal(rd_bytes(RD_UV, "\xff\xff\xff\xff\x0f", 5), KPROTO_OK);
	assert_int_equal(rd_bytes(RD_V, "\xff\xff\xff\xff\x1f", 5), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_UV, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10),
			 KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_UVL, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10),
			 KPROTO_OK);
	assert_int_equal(rd_bytes(RD_UVL, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10),
			 KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_UVL, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00", 11),
			 KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_UVL, "\xff\xff\xff", 3), KPROTO_ETRUNC);
	/* tagged fields: huge count, size past the end, truncated. */
	assert_int_equal(rd_bytes(RD_TAGS, "\x00", 1), KPROTO_OK);
	assert_int_equal(rd_bytes(RD_TAGS, "\xff\xff\xff\xff\x0f", 5), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_TAGS, "\x01\x00\x05xx", 5), KPROTO_ERANGE);
	assert_int_equal(rd_bytes(RD_TAGS, "\x02\x00\x01x\x01", 5), KPROTO_ETRUNC);
	assert_int_equal(rd_bytes(RD_TAGS, "\x01\x00\x01x", 4), KPROTO_OK);
}

static void test_cursor_values(void **state)
{
	static const int64_t vals[] = {0, 1, -1, 63, -64, 64, 300, -300, INT32_MAX, INT32_MIN};
	struct kproto_cur c;
	struct kb b;
	int8_t i8;
	int16_t i16;
	int32_t i32;
	int64_t i64;

	(void)state;
	kb_init(&b);
	kb_i8(&b, -3);
	kb_i16(&b, -12345);
	kb_i32(&b, INT32_MIN);
	kb_i64(&b, INT64_MIN + 7);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		kb_varint(&b, vals[i]);
	kb_varint(&b, INT64_MIN);
	kb_varint(&b, INT64_MAX);
	kproto_cur_init(&c, b.buf, b.len);
	assert_int_equal(kproto_read_i8(&c, &i8), 0);
	assert_int_equal(i8, -3);
	assert_int_equal(kproto_read_i16(&c, &i16), 0);
	assert_int_equal(i16, -12345);
	assert_int_equal(kproto_read_i32(&c, &i32), 0);
	assert_int_equal(i32, INT32_MIN);
	assert_int_equal(kproto_read_i64(&c, &i64), 0);
	assert_true(i64 == INT64_MIN + 7);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		assert_int_equal(kproto_read_varint(&c, &i32), 0);
		assert_int_equal(i32, vals[i]);
	}
	assert_int_equal(kproto_read_varlong(&c, &i64), 0);
	assert_true(i64 == INT64_MIN);
	assert_int_equal(kproto_read_varlong(&c, &i64), 0);
	assert_true(i64 == INT64_MAX);
	assert_int_equal(kproto_cur_left(&c), 0);
	assert_int_equal(kproto_read_i8(&c, &i8), KPROTO_ETRUNC);
	assert_int_equal(kproto_skip(&c, 1), KPROTO_ETRUNC);
	kb_free(&b);
}

/* A Produce v0 body with `ntopics` topics of `nparts` partitions, null records. */
static void wide_body(struct kb *b, int32_t ntopics, int32_t nparts)
{
	kb_i16(b, 1);
	kb_i32(b, 10);
	kb_i32(b, ntopics);
	for (int32_t t = 0; t < ntopics; t++) {
		kb_string(b, "w");
		kb_i32(b, nparts);
		for (int32_t i = 0; i < nparts; i++) {
			kb_i32(b, i);
			kb_i32(b, -1);
		}
	}
}

static void test_bad_lengths_produce(void **state)
{
	struct kproto_produce p;
	struct kb b;

	(void)state;
	/* topic array -1 (null) and -2. */
	for (int32_t n = -2; n <= -1; n++) {
		kb_init(&b);
		kb_i16(&b, 1);
		kb_i32(&b, 10);
		kb_i32(&b, n);
		assert_int_equal(kproto_decode_produce(b.buf, b.len, 2, &p), KPROTO_ERANGE);
		kb_free(&b);
	}
	/* records length -2. */
	kb_init(&b);
	kb_i16(&b, 1);
	kb_i32(&b, 10);
	kb_i32(&b, 1);
	kb_string(&b, "t");
	kb_i32(&b, 1);
	kb_i32(&b, 0);
	kb_i32(&b, -2);
	assert_int_equal(kproto_decode_produce(b.buf, b.len, 1, &p), KPROTO_ERANGE);
	kb_free(&b);
	/* topic name null, and longer than 255. */
	kb_init(&b);
	kb_i16(&b, 1);
	kb_i32(&b, 10);
	kb_i32(&b, 1);
	kb_i16(&b, -1);
	kb_i32(&b, 0);
	assert_int_equal(kproto_decode_produce(b.buf, b.len, 1, &p), KPROTO_ERANGE);
	kb_free(&b);
	kb_init(&b);
	kb_i16(&b, 1);
	kb_i32(&b, 10);
	kb_i32(&b, 1);
	kb_i16(&b, 256);
	kb_fill(&b, 'n', 256);
	kb_i32(&b, 0);
	assert_int_equal(kproto_decode_produce(b.buf, b.len, 1, &p), KPROTO_ERANGE);
	kb_free(&b);
	/* compact topic count that overflows 32 bits. */
	kb_init(&b);
	kb_compact_string(&b, NULL);
	kb_i16(&b, 1);
	kb_i32(&b, 10);
	kb_raw(&b, "\xff\xff\xff\xff\x7f", 5);
	kb_fill(&b, 0, 20);
	assert_int_equal(kproto_decode_produce(b.buf, b.len, 9, &p), KPROTO_ERANGE);
	kb_free(&b);
}

static void test_entry_limits(void **state)
{
	struct kproto_produce p;
	struct kb b;

	(void)state;
	/* Exactly the limit of partitions decodes. */
	kb_init(&b);
	wide_body(&b, 1, KPROTO_MAX_ENTRIES);
	assert_int_equal(kproto_decode_produce(b.buf, b.len, 0, &p), KPROTO_OK);
	assert_int_equal(p.topics[0].nparts, KPROTO_MAX_ENTRIES);
	assert_int_equal(p.topics[0].parts[KPROTO_MAX_ENTRIES - 1].index, KPROTO_MAX_ENTRIES - 1);
	kproto_produce_free(&p);
	kb_free(&b);
	/* One more, spread over two topics, does not. */
	kb_init(&b);
	wide_body(&b, 2, KPROTO_MAX_ENTRIES / 2 + 1);
	assert_int_equal(kproto_decode_produce(b.buf, b.len, 0, &p), KPROTO_ERANGE);
	assert_null(p.topics);
	kb_free(&b);
	/* Too many topics. */
	kb_init(&b);
	wide_body(&b, KPROTO_MAX_ENTRIES + 1, 0);
	assert_int_equal(kproto_decode_produce(b.buf, b.len, 0, &p), KPROTO_ERANGE);
	kb_free(&b);
}

static void test_unknown_api_and_version(void **state)
{
	struct kproto_req_header h;
	struct kproto_produce p;
	struct kb b;

	(void)state;
	kb_init(&b);
	kb_request(&b, 9999, 5, 31, "c", 7);
	assert_int_equal(kproto_decode_request_header(b.buf + 4, b.len - 4, &h), KPROTO_OK);
	assert_int_equal(h.api_key, 9999);
	assert_int_equal(h.api_version, 5);
	assert_int_equal(h.header_version, 1);
	assert_int_equal(h.header_len, 11);
	assert_string_equal(kapi_name(h.api_key), "Unknown");
	kb_free(&b);

	/* Produce v14: header still decodes, the body is refused. */
	struct kb_produce_spec spec = spec3(13);
	kb_init(&b);
	kb_produce_request(&b, 13, 1, "c", &spec);
	b.buf[4 + 3] = 14;
	assert_int_equal(decode_frame(b.buf + 4, b.len - 4, &h, &p), KPROTO_EVERSION);
	assert_int_equal(h.api_version, 14);
	assert_int_equal(kproto_decode_produce(b.buf, b.len, -1, &p), KPROTO_EVERSION);
	assert_int_equal(kproto_decode_produce(b.buf, b.len, INT16_MAX, &p), KPROTO_EVERSION);
	kb_free(&b);
}

static void test_nulls_and_empties(void **state)
{
	static const struct kb_part_spec pn[] = {{.index = 1, .nbatches = -1},
						 {.index = 2, .nbatches = 0}};
	static const struct kb_topic_spec tz[] = {{.name = "empty", .nparts = 0},
						  {.name = "nulls", .nparts = 2, .parts = pn}};
	static const int16_t versions[] = {0, 2, 3, 8, 9, 13};

	(void)state;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		int16_t v = versions[i];
		struct kb_produce_spec none = {.acks = 0, .timeout_ms = 1};
		struct kb_produce_spec some = {
		    .txn_id = "", .acks = -1, .ntopics = 2, .topics = tz};
		struct kproto_req_header h;
		struct kproto_produce p;
		struct kb b;

		kb_init(&b);
		kb_produce_request(&b, v, 2, NULL, &none);
		assert_int_equal(decode_frame(b.buf + 4, b.len - 4, &h, &p), KPROTO_OK);
		assert_int_equal(h.client_id_len, -1);
		assert_int_equal(p.ntopics, 0);
		assert_null(p.topics);
		assert_false(p.has_txn);
		kproto_produce_free(&p);
		kb_free(&b);

		kb_init(&b);
		kb_produce_request(&b, v, 3, "c", &some);
		assert_int_equal(decode_frame(b.buf + 4, b.len - 4, &h, &p), KPROTO_OK);
		check_produce(&p, v, &some);
		assert_int_equal(p.has_txn, v >= 3); /* empty string is not null */
		assert_int_equal(p.topics[1].parts[1].record_bytes, 0);
		kproto_produce_free(&p);
		kb_free(&b);
	}
}

static void test_free_is_safe(void **state)
{
	struct kproto_produce p = {0};

	(void)state;
	kproto_produce_free(&p);
	kproto_produce_free(NULL);
	assert_int_equal(kproto_decode_produce((const uint8_t *)"\x00", 1, 3, &p), KPROTO_ETRUNC);
	kproto_produce_free(&p);
	assert_int_equal(kproto_decode_produce(NULL, 0, 0, &p), KPROTO_ETRUNC);
	kproto_produce_free(&p);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(kproto_strerror(KPROTO_OK), "ok");
	for (int e = KPROTO_ENOMEM; e < 0; e++)
		assert_string_not_equal(kproto_strerror(e), "unknown error");
	assert_string_equal(kproto_strerror(-99), "unknown error");
}

static void test_kb_frames(void **state)
{
	struct kproto_req_header h;
	struct kproto_resp_header r;
	struct kb b;
	size_t a1, a2, a3;

	(void)state;
	/* Several frames back to back, as on a socket. */
	kb_init(&b);
	a1 = kb_request(&b, 18, 3, 1, "x", 20);
	a2 = kb_request(&b, 1, 4, 2, "xy", 0);
	a3 = kb_response(&b, 2, 1, 9);
	assert_int_equal(a2, a1 + 4 + frame_size(&b, a1));
	assert_int_equal(a3, a2 + 4 + frame_size(&b, a2));
	assert_int_equal(b.len, a3 + 4 + frame_size(&b, a3));
	assert_int_equal(kproto_decode_request_header(b.buf + a2 + 4, frame_size(&b, a2), &h), 0);
	assert_int_equal(h.api_key, 1);
	assert_int_equal(h.header_len, frame_size(&b, a2));
	assert_int_equal(kproto_decode_response_header(b.buf + a3 + 4, frame_size(&b, a3), 1, &r),
			 0);
	assert_int_equal(r.corr_id, 2);
	kb_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c_check_value),
	    cmocka_unit_test(test_batch_crc_and_layout),
	    cmocka_unit_test(test_produce_all_versions),
	    cmocka_unit_test(test_request_header_versions),
	    cmocka_unit_test(test_response_headers),
	    cmocka_unit_test(test_header_version_rules),
	    cmocka_unit_test(test_api_names),
	    cmocka_unit_test(test_truncation_every_offset),
	    cmocka_unit_test(test_batch_header_truncated),
	    cmocka_unit_test(test_bad_batches),
	    cmocka_unit_test(test_legacy_message_set),
	    cmocka_unit_test(test_bad_lengths_cursor),
	    cmocka_unit_test(test_cursor_values),
	    cmocka_unit_test(test_bad_lengths_produce),
	    cmocka_unit_test(test_entry_limits),
	    cmocka_unit_test(test_unknown_api_and_version),
	    cmocka_unit_test(test_nulls_and_empties),
	    cmocka_unit_test(test_free_is_safe),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test(test_kb_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tagged fields: the payload format of a recording's records
 * (recording.h). A payload is a sequence of fields, each an unsigned
 * LEB128 tag, an unsigned LEB128 length and that many bytes. An integer
 * field holds one minimal LEB128 varint (signed ones zigzag-encoded), a
 * double 8 little-endian bytes, a string its bytes (no NUL), a group
 * another sequence of fields. A reader skips tags it does not know, so a
 * later writer may add fields; the record's schema number says when a
 * field changes meaning.
 *
 * The writer grows one buffer and latches its first error; the reader
 * trusts no length and checks every value's form.
 */
#ifndef KAFKALAT_TLV_H
#define KAFKALAT_TLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLV_MAX_LEN (64u << 20)

struct tlv_buf {
	uint8_t *p;
	size_t len, cap;
	int err; /* 0 or the first -errno (-ENOMEM, -ERANGE) */
};

void tlv_init(struct tlv_buf *b);
void tlv_free(struct tlv_buf *b);
void tlv_reset(struct tlv_buf *b); /* empty, keeping the memory */
void tlv_u64(struct tlv_buf *b, uint32_t tag, uint64_t v);
void tlv_i64(struct tlv_buf *b, uint32_t tag, int64_t v);
void tlv_f64(struct tlv_buf *b, uint32_t tag, double v);
void tlv_bytes(struct tlv_buf *b, uint32_t tag, const void *p, size_t len);
void tlv_str(struct tlv_buf *b, uint32_t tag, const char *s);
/* A group: its fields are written into the returned position's place
 * until tlv_end (groups nest). */
size_t tlv_begin(struct tlv_buf *b, uint32_t tag);
void tlv_end(struct tlv_buf *b, size_t begun);
/* A bare varint, for packed arrays inside a bytes field. */
void tlv_put_varint(struct tlv_buf *b, uint64_t v);

/* Packed arrays in one field: varints (signed ones zigzag), or doubles of
 * 8 bytes each. */
void tlv_u64s(struct tlv_buf *b, uint32_t tag, const uint64_t *v, size_t n);
void tlv_i64s(struct tlv_buf *b, uint32_t tag, const int64_t *v, size_t n);
void tlv_f64s(struct tlv_buf *b, uint32_t tag, const double *v, size_t n);

struct tlv_cur {
	const uint8_t *p, *end;
};

void tlv_cur_init(struct tlv_cur *c, const void *p, size_t len);
bool tlv_cur_done(const struct tlv_cur *c);
/* 1 and the next field (its value in *val), 0 at the end, -EINVAL when
 * the fields are malformed. */
int tlv_next(struct tlv_cur *c, uint32_t *tag, struct tlv_cur *val);
/* The value as one integer, double or string: 0 or -EINVAL (wrong form);
 * tlv_get_str allocates (-ENOMEM) a NUL-terminated copy, refusing a NUL
 * inside. */
int tlv_get_u64(const struct tlv_cur *val, uint64_t *out);
int tlv_get_i64(const struct tlv_cur *val, int64_t *out);
int tlv_get_f64(const struct tlv_cur *val, double *out);
int tlv_get_str(const struct tlv_cur *val, char **out);
/* A packed array of exactly n values: 0 or -EINVAL. */
int tlv_get_u64s(const struct tlv_cur *val, uint64_t *v, size_t n);
int tlv_get_i64s(const struct tlv_cur *val, int64_t *v, size_t n);
int tlv_get_f64s(const struct tlv_cur *val, double *v, size_t n);
/* The number of varints in a packed array; -1 when one is broken. */
long tlv_count_varints(const struct tlv_cur *val);
/* A bare varint from a packed array: 0 or -EINVAL. */
int tlv_get_varint(struct tlv_cur *c, uint64_t *out);
size_t tlv_cur_len(const struct tlv_cur *c);

#endif

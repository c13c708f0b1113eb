// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Tagged fields: see include/kafkalat/tlv.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/grow.h"
#include "kafkalat/tlv.h"

#define VARINT_MAX 10

void tlv_init(struct tlv_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void tlv_free(struct tlv_buf *b)
{
	free(b->p);
	tlv_init(b);
}

void tlv_reset(struct tlv_buf *b)
{
	b->len = 0;
	b->err = 0;
}

static bool room(struct tlv_buf *b, size_t n)
{
	int err;

	if (b->err)
		return false;
	err = grow_array((void **)&b->p, &b->cap, b->len + n, 1, TLV_MAX_LEN);
	if (err)
		b->err = err;
	return !err;
}

static size_t varint_into(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	do {
		uint8_t byte = v & 0x7f;

		v >>= 7;
		out[n++] = byte | (v ? 0x80 : 0);
	} while (v);
	return n;
}

void tlv_put_varint(struct tlv_buf *b, uint64_t v)
{
	if (room(b, VARINT_MAX))
		b->len += varint_into(b->p + b->len, v);
}

void tlv_bytes(struct tlv_buf *b, uint32_t tag, const void *p, size_t len)
{
	tlv_put_varint(b, tag);
	tlv_put_varint(b, len);
	if (len && room(b, len)) {
		memcpy(b->p + b->len, p, len);
		b->len += len;
	}
}

void tlv_u64(struct tlv_buf *b, uint32_t tag, uint64_t v)
{
	uint8_t tmp[VARINT_MAX];

	tlv_bytes(b, tag, tmp, varint_into(tmp, v));
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t z)
{
	return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

void tlv_i64(struct tlv_buf *b, uint32_t tag, int64_t v)
{
	tlv_u64(b, tag, zigzag(v));
}

static void f64_bytes(double v, uint8_t out[8])
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(bits >> (8 * i));
}

static double bytes_f64(const uint8_t in[8])
{
	uint64_t bits = 0;
	double v;

	for (int i = 0; i < 8; i++)
		bits |= (uint64_t)in[i] << (8 * i);
	memcpy(&v, &bits, sizeof(v));
	return v;
}

void tlv_f64(struct tlv_buf *b, uint32_t tag, double v)
{
	uint8_t tmp[8];

	f64_bytes(v, tmp);
	tlv_bytes(b, tag, tmp, sizeof(tmp));
}

void tlv_u64s(struct tlv_buf *b, uint32_t tag, const uint64_t *v, size_t n)
{
	size_t g = tlv_begin(b, tag);

	for (size_t i = 0; i < n; i++)
		tlv_put_varint(b, v[i]);
	tlv_end(b, g);
}

void tlv_i64s(struct tlv_buf *b, uint32_t tag, const int64_t *v, size_t n)
{
	size_t g = tlv_begin(b, tag);

	for (size_t i = 0; i < n; i++)
		tlv_put_varint(b, zigzag(v[i]));
	tlv_end(b, g);
}

void tlv_f64s(struct tlv_buf *b, uint32_t tag, const double *v, size_t n)
{
	size_t g = tlv_begin(b, tag);

	for (size_t i = 0; i < n && room(b, 8); i++) {
		f64_bytes(v[i], b->p + b->len);
		b->len += 8;
	}
	tlv_end(b, g);
}

void tlv_str(struct tlv_buf *b, uint32_t tag, const char *s)
{
	tlv_bytes(b, tag, s ? s : "", s ? strlen(s) : 0);
}

size_t tlv_begin(struct tlv_buf *b, uint32_t tag)
{
	tlv_put_varint(b, tag);
	return b->len;
}

/* The group's length goes in front of its fields once it is known. */
void tlv_end(struct tlv_buf *b, size_t begun)
{
	uint8_t tmp[VARINT_MAX];
	size_t len, n;

	if (b->err)
		return;
	len = b->len - begun;
	n = varint_into(tmp, len);
	if (!room(b, n))
		return;
	memmove(b->p + begun + n, b->p + begun, len);
	memcpy(b->p + begun, tmp, n);
	b->len += n;
}

void tlv_cur_init(struct tlv_cur *c, const void *p, size_t len)
{
	c->p = p;
	c->end = c->p + len;
}

bool tlv_cur_done(const struct tlv_cur *c)
{
	return c->p >= c->end;
}

size_t tlv_cur_len(const struct tlv_cur *c)
{
	return (size_t)(c->end - c->p);
}

/* A minimal varint that fits 64 bits: its tenth byte may only hold bit 63,
 * and a last byte of 0 after others would be a longer form of a shorter.
 * Histograms (hist.c) and every recording field read varints this way. */
int tlv_get_varint(struct tlv_cur *c, uint64_t *out)
{
	unsigned int shift = 0;
	uint64_t x = 0;
	uint8_t byte;

	for (;;) {
		if (c->p >= c->end)
			return -EINVAL;
		byte = *c->p++;
		if (shift == 63 && byte > 1)
			return -EINVAL;
		x |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			break;
		shift += 7;
	}
	if (byte == 0 && shift)
		return -EINVAL;
	*out = x;
	return 0;
}

int tlv_next(struct tlv_cur *c, uint32_t *tag, struct tlv_cur *val)
{
	uint64_t t, len;

	if (tlv_cur_done(c))
		return 0;
	if (tlv_get_varint(c, &t) || t > UINT32_MAX || tlv_get_varint(c, &len) ||
	    len > tlv_cur_len(c))
		return -EINVAL;
	*tag = (uint32_t)t;
	tlv_cur_init(val, c->p, (size_t)len);
	c->p += len;
	return 1;
}

int tlv_get_u64(const struct tlv_cur *val, uint64_t *out)
{
	struct tlv_cur c = *val;

	if (tlv_get_varint(&c, out) || !tlv_cur_done(&c))
		return -EINVAL;
	return 0;
}

int tlv_get_i64(const struct tlv_cur *val, int64_t *out)
{
	uint64_t z;

	if (tlv_get_u64(val, &z))
		return -EINVAL;
	*out = unzigzag(z);
	return 0;
}

int tlv_get_f64(const struct tlv_cur *val, double *out)
{
	if (tlv_cur_len(val) != 8)
		return -EINVAL;
	*out = bytes_f64(val->p);
	return 0;
}

int tlv_get_u64s(const struct tlv_cur *val, uint64_t *v, size_t n)
{
	struct tlv_cur c = *val;

	for (size_t i = 0; i < n; i++)
		if (tlv_get_varint(&c, &v[i]))
			return -EINVAL;
	return tlv_cur_done(&c) ? 0 : -EINVAL;
}

long tlv_count_varints(const struct tlv_cur *val)
{
	struct tlv_cur c = *val;
	uint64_t v;
	long n = 0;

	while (!tlv_cur_done(&c)) {
		if (tlv_get_varint(&c, &v))
			return -1;
		n++;
	}
	return n;
}

int tlv_get_i64s(const struct tlv_cur *val, int64_t *v, size_t n)
{
	struct tlv_cur c = *val;
	uint64_t z;

	for (size_t i = 0; i < n; i++) {
		if (tlv_get_varint(&c, &z))
			return -EINVAL;
		v[i] = unzigzag(z);
	}
	return tlv_cur_done(&c) ? 0 : -EINVAL;
}

int tlv_get_f64s(const struct tlv_cur *val, double *v, size_t n)
{
	if (tlv_cur_len(val) != n * 8)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		v[i] = bytes_f64(val->p + 8 * i);
	return 0;
}

int tlv_get_str(const struct tlv_cur *val, char **out)
{
	size_t len = tlv_cur_len(val);
	char *s;

	if (memchr(val->p, '\0', len))
		return -EINVAL;
	s = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, val->p, len);
	s[len] = '\0';
	*out = s;
	return 0;
}

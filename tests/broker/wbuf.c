// SPDX-License-Identifier: MIT
/* Response encoder; see wbuf.h. */
#include <stdlib.h>
#include <string.h>

#include "wbuf.h"

static bool reserve(struct wbuf *w, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (w->oom)
		return false;
	if (w->len + n <= w->cap)
		return true;
	cap = w->cap ? w->cap : 256;
	while (cap < w->len + n)
		cap *= 2;
	if (!(p = realloc(w->p, cap))) {
		w->oom = true;
		return false;
	}
	w->p = p;
	w->cap = cap;
	return true;
}

void wb_raw(struct wbuf *w, const void *src, size_t n)
{
	if (n && reserve(w, n)) {
		memcpy(w->p + w->len, src, n);
		w->len += n;
	}
}

static void be(struct wbuf *w, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	wb_raw(w, b, n);
}

void wb_i8(struct wbuf *w, int8_t v)
{
	be(w, (uint8_t)v, 1);
}

void wb_i16(struct wbuf *w, int16_t v)
{
	be(w, (uint16_t)v, 2);
}

void wb_i32(struct wbuf *w, int32_t v)
{
	be(w, (uint32_t)v, 4);
}

void wb_i64(struct wbuf *w, int64_t v)
{
	be(w, (uint64_t)v, 8);
}

void wb_uvarint(struct wbuf *w, uint32_t v)
{
	uint8_t b[5];
	size_t n = 0;

	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	wb_raw(w, b, n);
}

void wb_str(struct wbuf *w, bool flex, const char *s, size_t n)
{
	if (flex)
		wb_uvarint(w, s ? (uint32_t)n + 1 : 0);
	else
		wb_i16(w, s ? (int16_t)n : -1);
	if (s)
		wb_raw(w, s, n);
}

void wb_array(struct wbuf *w, bool flex, int32_t n)
{
	if (flex)
		wb_uvarint(w, n < 0 ? 0 : (uint32_t)n + 1);
	else
		wb_i32(w, n);
}

void wb_tags(struct wbuf *w, bool flex)
{
	if (flex)
		wb_uvarint(w, 0);
}

void wb_patch_i32(struct wbuf *w, size_t off, int32_t v)
{
	uint32_t u = (uint32_t)v;

	if (w->oom || off + 4 > w->len)
		return;
	w->p[off] = (uint8_t)(u >> 24);
	w->p[off + 1] = (uint8_t)(u >> 16);
	w->p[off + 2] = (uint8_t)(u >> 8);
	w->p[off + 3] = (uint8_t)u;
}

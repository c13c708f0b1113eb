/* SPDX-License-Identifier: MIT */
/*
 * Response encoder: a growable big-endian byte buffer. The decoder side is
 * kproto's cursor; this is only the small writing half the broker needs.
 * An allocation failure sets oom and turns later writes into no-ops, so
 * callers check once at the end.
 */
#ifndef REFBROKER_WBUF_H
#define REFBROKER_WBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

void wb_raw(struct wbuf *w, const void *src, size_t n);
void wb_i8(struct wbuf *w, int8_t v);
void wb_i16(struct wbuf *w, int16_t v);
void wb_i32(struct wbuf *w, int32_t v);
void wb_i64(struct wbuf *w, int64_t v);
void wb_uvarint(struct wbuf *w, uint32_t v);
/* int16-length string, or compact (uvarint len+1) when flex; s NULL = null. */
void wb_str(struct wbuf *w, bool flex, const char *s, size_t n);
/* int32 count, or compact (uvarint n+1) when flex; n < 0 = null. */
void wb_array(struct wbuf *w, bool flex, int32_t n);
/* An empty tagged-field section, when flex. */
void wb_tags(struct wbuf *w, bool flex);
/* Overwrites 4 bytes at off (for the frame size). */
void wb_patch_i32(struct wbuf *w, size_t off, int32_t v);

#endif

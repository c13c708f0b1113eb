/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sink: what a reporter writes, captured in memory, for the unit tests that
 * compare output text (include after <cmocka.h>; static inline, so a test
 * that does not use a helper pays nothing for it).
 */
#ifndef KAFKALAT_TESTS_SINK_H
#define KAFKALAT_TESTS_SINK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
	FILE *out;
	char *buf;
	size_t len;
};

static inline FILE *sink_open(struct sink *s)
{
	s->buf = NULL;
	s->len = 0;
	s->out = open_memstream(&s->buf, &s->len);
	assert_non_null(s->out);
	return s->out;
}

/* Closes the stream; the caller frees s->buf. */
static inline const char *sink_text(struct sink *s)
{
	assert_int_equal(fclose(s->out), 0);
	assert_non_null(s->buf);
	return s->buf;
}

static inline void expect_text(struct sink *s, const char *want)
{
	assert_string_equal(sink_text(s), want);
	free(s->buf);
}

static inline void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("missing %s in %s", needle, hay);
}

#endif

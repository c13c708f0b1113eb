// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Streaming JSON writer. `depth` counts open containers; need_comma[depth-1]
 * says whether the innermost one already holds a member. Strings go out as
 * runs of bytes that need no escaping plus one escape at a time, so the
 * common case is a single fwrite.
 */
#include "kafkalat/json.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void json_init(struct json *j, FILE *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

/* Separator before any value or key: a comma after a previous member, none
 * right after a key (its colon is already out). */
static void begin_value(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth == 0)
		return;
	if (j->need_comma[j->depth - 1])
		fputc(',', j->out);
	j->need_comma[j->depth - 1] = true;
}

static void open_container(struct json *j, char c)
{
	begin_value(j);
	if (j->depth >= JSON_MAX_DEPTH) {
		j->error = true; /* no room to track the level: refuse it */
		return;
	}
	j->need_comma[j->depth++] = false;
	fputc(c, j->out);
}

static void close_container(struct json *j, char c)
{
	/* A dangling key or an unopened level leaves the document broken. */
	if (j->depth == 0 || j->after_key) {
		j->error = true;
		return;
	}
	j->depth--;
	fputc(c, j->out);
}

void json_obj_begin(struct json *j)
{
	open_container(j, '{');
}

void json_obj_end(struct json *j)
{
	close_container(j, '}');
}

void json_arr_begin(struct json *j)
{
	open_container(j, '[');
}

void json_arr_end(struct json *j)
{
	close_container(j, ']');
}

/* Length of the well-formed UTF-8 sequence at s (Unicode table 3-7: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0 if there is none. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static bool ascii_needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/* Length of the prefix of s that can be written verbatim. */
static size_t verbatim_run(const unsigned char *s, size_t n)
{
	size_t i = 0, len;

	while (i < n) {
		if (s[i] < 0x80) {
			if (ascii_needs_escape(s[i]))
				break;
			i++;
			continue;
		}
		len = utf8_seq_len(s + i, n - i);
		if (len == 0)
			break;
		i += len;
	}
	return i;
}

/* One byte that cannot go out verbatim: a short escape where JSON has one,
 * otherwise \u00XX of the byte (control chars and invalid UTF-8 alike). */
static void write_escape(FILE *out, unsigned char c)
{
	/* JSON's short escapes, in parallel: the byte and the letter after '\'. */
	static const char bytes[] = "\"\\\b\f\n\r\t", letters[] = "\"\\bfnrt";
	const char *p = c ? strchr(bytes, c) : NULL;

	if (p)
		fprintf(out, "\\%c", letters[p - bytes]);
	else
		fprintf(out, "\\u%04x", (unsigned int)c);
}

static void write_string(FILE *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t run;

	fputc('"', out);
	while (n > 0) {
		run = verbatim_run(p, n);
		fwrite(p, 1, run, out);
		p += run;
		n -= run;
		if (n > 0) {
			write_escape(out, *p);
			p++;
			n--;
		}
	}
	fputc('"', out);
}

void json_key(struct json *j, const char *key)
{
	/* Keys belong inside an object and must not follow another key. */
	if (j->depth == 0 || j->after_key || key == NULL) {
		j->error = true;
		return;
	}
	begin_value(j);
	write_string(j->out, key, strlen(key));
	fputc(':', j->out);
	j->after_key = true;
}

void json_strn(struct json *j, const char *s, size_t n)
{
	begin_value(j);
	write_string(j->out, s, n);
}

void json_str(struct json *j, const char *s)
{
	if (s == NULL) {
		json_null(j); /* a missing string is absent data, not "" */
		return;
	}
	json_strn(j, s, strlen(s));
}

void json_int(struct json *j, int64_t v)
{
	begin_value(j);
	fprintf(j->out, "%" PRId64, v);
}

void json_uint(struct json *j, uint64_t v)
{
	begin_value(j);
	fprintf(j->out, "%" PRIu64, v);
}

/* Drops trailing zeros and a bare point from a "%.3f" rendering, and the sign
 * of a value that rounded to zero ("-0.000" is just 0 at this precision). */
static void trim_decimals(char *buf)
{
	char *end = buf + strlen(buf);

	if (strchr(buf, '.')) {
		while (end[-1] == '0')
			*--end = '\0';
		if (end[-1] == '.')
			*--end = '\0';
	}
	if (strcmp(buf, "-0") == 0)
		memmove(buf, buf + 1, 2);
}

void json_double(struct json *j, double v)
{
	/* %.3f of DBL_MAX is 309 integer digits + sign + ".000". */
	char buf[320];

	if (!isfinite(v)) {
		json_null(j);
		return;
	}
	begin_value(j);
	snprintf(buf, sizeof(buf), "%.3f", v);
	trim_decimals(buf);
	fputs(buf, j->out);
}

void json_bool(struct json *j, bool v)
{
	begin_value(j);
	fputs(v ? "true" : "false", j->out);
}

void json_null(struct json *j)
{
	begin_value(j);
	fputs("null", j->out);
}

void json_kstr(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_str(j, s);
}

void json_kint(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	json_int(j, v);
}

void json_kuint(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_uint(j, v);
}

void json_kdouble(struct json *j, const char *key, double v)
{
	json_key(j, key);
	json_double(j, v);
}

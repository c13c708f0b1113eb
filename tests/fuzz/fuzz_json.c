// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Writes arbitrary bytes with json_strn and checks that the output is one
 * well-formed JSON string (RFC 8259) that decodes back to the input: every
 * \u00XX the writer emits stands for the byte XX. Also checks that the first
 * 8 bytes, read as a double, come out as a JSON number or null.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/json.h"

static void fail(const char *why)
{
	fprintf(stderr, "fuzz_json: %s\n", why);
	abort();
}

/* Decodes one UTF-8 sequence by code point (a different method from the
 * writer's table) and returns its length, or 0 if it is not well-formed. */
static size_t utf8_check(const unsigned char *s, size_t n)
{
	static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (len == 0 || s[0] >= 0xf8 || n < len)
		return 0;
	cp = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* \uXXXX at s (after the backslash and 'u'): the writer only ever escapes
 * single bytes, so the value must fit one. Returns the byte or -1. */
static int unicode_escape(const unsigned char *s, size_t n)
{
	int v = 0, d, i;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		d = hexval(s[i]);
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v <= 0xff ? v : -1;
}

static int short_escape(unsigned char c)
{
	switch (c) {
	case '"':
		return '"';
	case '\\':
		return '\\';
	case '/':
		return '/';
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return -1;
	}
}

/* Validates the JSON string in out[0..n) and decodes it into dec; returns
 * the decoded length. Aborts on anything RFC 8259 does not allow. */
static size_t check_string(const unsigned char *out, size_t n, unsigned char *dec)
{
	size_t i = 1, k = 0, len;
	int b;

	if (n < 2 || out[0] != '"' || out[n - 1] != '"')
		fail("not quoted");
	while (i < n - 1) {
		if (out[i] == '\\') {
			if (i + 1 >= n - 1)
				fail("dangling backslash");
			b = out[i + 1] == 'u' ? unicode_escape(out + i + 2, n - 1 - (i + 2))
					      : short_escape(out[i + 1]);
			if (b < 0)
				fail("bad escape");
			dec[k++] = (unsigned char)b;
			i += out[i + 1] == 'u' ? 6 : 2;
			continue;
		}
		if (out[i] < 0x20 || out[i] == '"')
			fail("unescaped control char or quote");
		len = utf8_check(out + i, n - 1 - i);
		if (len == 0)
			fail("invalid UTF-8 in output");
		memcpy(dec + k, out + i, len);
		k += len;
		i += len;
	}
	return k;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]*[1-9])? : JSON's grammar, minus exponents, and
 * without the trailing zeros json_double promises to drop. */
static bool is_number(const char *s)
{
	const char *dot;

	if (*s == '-')
		s++;
	if (*s == '0' && s[1] != '\0' && s[1] != '.')
		return false;
	if (*s < '0' || *s > '9')
		return false;
	s += strspn(s, "0123456789");
	if (*s == '\0')
		return true;
	if (*s != '.' || s[1] == '\0')
		return false;
	dot = s++;
	s += strspn(s, "0123456789");
	return *s == '\0' && s[-1] != '0' && s - dot <= 4;
}

static void check_double(const uint8_t *data, size_t size)
{
	char *buf = NULL;
	size_t len = 0;
	struct json j;
	double d;
	FILE *f;

	if (size < sizeof(d))
		return;
	memcpy(&d, data, sizeof(d));
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	json_init(&j, f);
	json_double(&j, d);
	fclose(f);
	if (isfinite(d) ? !is_number(buf) : strcmp(buf, "null") != 0)
		fail("bad number");
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *dec;
	char *buf = NULL;
	size_t len = 0, k;
	struct json j;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return 0;
	json_init(&j, f);
	json_strn(&j, (const char *)data, size);
	fclose(f);
	if (j.error)
		fail("error on a plain string");
	dec = malloc(len + 1);
	if (!dec)
		abort();
	k = check_string((const unsigned char *)buf, len, dec);
	if (k != size || (size > 0 && memcmp(dec, data, size) != 0))
		fail("does not decode back to the input");
	free(dec);
	free(buf);
	check_double(data, size);
	return 0;
}

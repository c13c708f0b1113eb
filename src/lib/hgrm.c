// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HdrHistogram's percentile-distribution text, written and read. The column
 * widths are HdrHistogram's, so tools that read its files read ours. The
 * reader copies each line into a bounded buffer before looking at it, and
 * checks every number's form itself before converting, so strtod never sees
 * "inf", "nan", hex or a sign.
 */
#include "kafkalat/hgrm.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HGRM_LINE_MAX 256

static int write_err(void)
{
	return errno ? -errno : -EIO;
}

/* The next level after p (percent): the distance to 100 is cut into
 * ticks_per_half steps per halving, so deeper tails get finer steps. The
 * halvings are counted by doubling, not log2, so exact levels stay exact. */
static double next_level(double p, unsigned ticks_per_half)
{
	double rest = 100.0 - p;
	int k = 0;

	while (k < 1000 && ldexp(rest, k + 1) <= 100.0)
		k++;
	return p + 100.0 / ldexp((double)ticks_per_half, k + 1);
}

static int write_head(FILE *out)
{
	if (fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
		    "1/(1-Percentile)") < 0)
		return write_err();
	return 0;
}

static int write_rows(FILE *out, const struct hist *h, double unit_ns, unsigned ticks)
{
	double p = 0.0, q, np;
	uint64_t v, c;

	for (;;) {
		q = p / 100.0;
		v = hist_quantile(h, q);
		c = hist_count_through(h, v);
		if (fprintf(out, "%12.3f %2.12f %10llu %14.2f\n", (double)v / unit_ns, q,
			    (unsigned long long)c, 1.0 / (1.0 - q)) < 0)
			return write_err();
		np = next_level(p, ticks);
		/* The last test only guards against rounding stalling the
		 * levels short of the top bucket. */
		if (c >= h->count || !(np > p && np < 100.0))
			break;
		p = np;
	}
	if (fprintf(out, "%12.3f %2.12f %10llu\n", (double)h->max / unit_ns, 1.0,
		    (unsigned long long)h->count) < 0)
		return write_err();
	return 0;
}

static int write_foot(FILE *out, const struct hist *h, double unit_ns)
{
	if (fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", hist_mean(h) / unit_ns,
		    hist_stddev(h) / unit_ns) < 0 ||
	    fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n", (double)h->max / unit_ns,
		    (unsigned long long)h->count) < 0 ||
	    fprintf(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", HGRM_BUCKETS,
		    HGRM_SUB_BUCKETS) < 0)
		return write_err();
	return 0;
}

int hgrm_write(FILE *out, const struct hist *h, double unit_ns, unsigned ticks_per_half)
{
	int ret;

	if (!(unit_ns > 0.0 && isfinite(unit_ns)) || ticks_per_half == 0)
		return -EINVAL;
	errno = 0;
	ret = write_head(out);
	if (!ret && !hist_empty(h))
		ret = write_rows(out, h, unit_ns, ticks_per_half);
	if (!ret)
		ret = write_foot(out, h, unit_ns);
	if (!ret && (fflush(out) || ferror(out)))
		ret = write_err();
	return ret;
}

/* The reader's state: the text left, the current line (a NUL-terminated
 * copy) and its number, the rows so far and where errors go. */
struct rd {
	const char *p;
	size_t left;
	unsigned line;
	unsigned max_line; /* where the footer's total is, for its errors */
	char buf[HGRM_LINE_MAX];
	struct hgrm_row *rows;
	size_t n, cap;
	char *err;
	size_t errlen;
};

static int fail(struct rd *r, const char *fmt, ...)
{
	char what[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (r->errlen)
		snprintf(r->err, r->errlen, "line %u: %s", r->line, what);
	return -EINVAL;
}

/* An expected line that the text ends before. */
static int missing(struct rd *r, const char *what)
{
	r->line++;
	return fail(r, "missing %s", what);
}

/* The next line into r->buf, without its newline: 1, 0 at the end of the
 * text, or -EINVAL for a line too long or holding a NUL. */
static int next_line(struct rd *r)
{
	const char *nl;
	size_t n;

	if (!r->left)
		return 0;
	r->line++;
	nl = memchr(r->p, '\n', r->left);
	n = nl ? (size_t)(nl - r->p) : r->left;
	if (n >= sizeof(r->buf))
		return fail(r, "line longer than %d bytes", HGRM_LINE_MAX - 1);
	if (memchr(r->p, '\0', n))
		return fail(r, "NUL byte");
	memcpy(r->buf, r->p, n);
	r->buf[n] = '\0';
	r->p += nl ? n + 1 : n;
	r->left -= nl ? n + 1 : n;
	return 1;
}

static const char *skip_spaces(const char *c)
{
	while (*c == ' ' || *c == '\t')
		c++;
	return c;
}

/* Matches s after any spaces, advancing *c past it. */
static bool lit(const char **c, const char *s)
{
	const char *p = skip_spaces(*c);
	size_t n = strlen(s);

	if (strncmp(p, s, n))
		return false;
	*c = p + n;
	return true;
}

/* Digits, then optionally a point and more digits: the length, or 0. */
static size_t decimal_span(const char *p, bool allow_point)
{
	size_t n = 0, d;

	while (isdigit((unsigned char)p[n]))
		n++;
	if (!n || !allow_point || p[n] != '.')
		return n;
	d = n + 1;
	while (isdigit((unsigned char)p[d]))
		d++;
	return d > n + 1 ? d : 0;
}

/* A non-negative decimal after any spaces, as HdrHistogram prints them. */
static bool num(const char **c, double *v)
{
	const char *p = skip_spaces(*c);
	size_t n = decimal_span(p, true);

	if (!n)
		return false;
	*v = strtod(p, NULL);
	*c = p + n;
	return isfinite(*v);
}

static bool count(const char **c, uint64_t *v)
{
	const char *p = skip_spaces(*c);
	size_t n = decimal_span(p, false);
	unsigned long long x;

	if (!n)
		return false;
	errno = 0;
	x = strtoull(p, NULL, 10);
	if (errno == ERANGE)
		return false;
	*v = x;
	*c = p + n;
	return true;
}

static bool at_end(const char *c)
{
	return *skip_spaces(c) == '\0';
}

static int read_head(struct rd *r)
{
	const char *c = r->buf;
	int ret = next_line(r);

	if (ret <= 0)
		return ret ? ret : missing(r, "header");
	if (!lit(&c, "Value") || !lit(&c, "Percentile") || !lit(&c, "TotalCount") ||
	    !lit(&c, "1/(1-Percentile)") || !at_end(c))
		return fail(r, "bad header");
	ret = next_line(r);
	if (ret <= 0)
		return ret ? ret : missing(r, "blank line after header");
	return at_end(r->buf) ? 0 : fail(r, "expected a blank line after the header");
}

static int push_row(struct rd *r, const struct hgrm_row *row)
{
	struct hgrm_row *grown;
	size_t cap;

	if (r->n == r->cap) {
		cap = r->cap ? 2 * r->cap : 64;
		grown = reallocarray(r->rows, cap, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		r->rows = grown;
		r->cap = cap;
	}
	r->rows[r->n++] = *row;
	return 0;
}

/* The fields of one row; the last column is absent only at 100%. A row
 * with it may still print as 1.000000000000 when the tail is deep enough. */
static int parse_row(struct rd *r, struct hgrm_row *row)
{
	const char *c = r->buf;

	memset(row, 0, sizeof(*row));
	if (!num(&c, &row->value) || !num(&c, &row->percentile) || !count(&c, &row->total_count))
		return fail(r, "bad number in row");
	if (row->percentile > 1.0)
		return fail(r, "percentile %.12f above 1", row->percentile);
	if (at_end(c))
		return row->percentile == 1.0 ? 0 : fail(r, "missing 1/(1-Percentile)");
	if (!num(&c, &row->inv_tail) || !at_end(c))
		return fail(r, "bad number in row");
	row->has_inv = true;
	return 0;
}

/* A row against the one before it: nothing may fall, and nothing may
 * follow the closing 100% row. */
static int check_order(struct rd *r, const struct hgrm_row *row)
{
	const struct hgrm_row *prev = r->n ? &r->rows[r->n - 1] : NULL;

	if (!prev)
		return 0;
	if (!prev->has_inv)
		return fail(r, "row after the 100%% row");
	if (row->percentile < prev->percentile)
		return fail(r, "percentile falls");
	if (row->value < prev->value)
		return fail(r, "value falls");
	if (row->total_count < prev->total_count)
		return fail(r, "total count falls");
	return 0;
}

/* Rows until the first footer line, which is left in r->buf. */
static int read_rows(struct rd *r)
{
	struct hgrm_row row;
	int ret;

	for (;;) {
		ret = next_line(r);
		if (ret <= 0)
			return ret ? ret : missing(r, "footer");
		if (!strncmp(r->buf, "#[", 2))
			return 0;
		ret = parse_row(r, &row);
		if (!ret)
			ret = check_order(r, &row);
		if (!ret)
			ret = push_row(r, &row);
		if (ret)
			return ret;
	}
}

static int read_foot_lines(struct rd *r, struct hgrm_footer *f)
{
	const char *c = r->buf;
	uint64_t b, s;
	int ret;

	if (!lit(&c, "#[Mean") || !lit(&c, "=") || !num(&c, &f->mean) || !lit(&c, ",") ||
	    !lit(&c, "StdDeviation") || !lit(&c, "=") || !num(&c, &f->stddev) || !lit(&c, "]") ||
	    !at_end(c))
		return fail(r, "bad Mean line");
	ret = next_line(r);
	if (ret <= 0)
		return ret ? ret : missing(r, "Max line");
	c = r->buf;
	r->max_line = r->line;
	if (!lit(&c, "#[Max") || !lit(&c, "=") || !num(&c, &f->max) || !lit(&c, ",") ||
	    !lit(&c, "Total") || !lit(&c, "count") || !lit(&c, "=") ||
	    !count(&c, &f->total_count) || !lit(&c, "]") || !at_end(c))
		return fail(r, "bad Max line");
	ret = next_line(r);
	if (ret <= 0)
		return ret ? ret : missing(r, "Buckets line");
	c = r->buf;
	if (!lit(&c, "#[Buckets") || !lit(&c, "=") || !count(&c, &b) || !lit(&c, ",") ||
	    !lit(&c, "SubBuckets") || !lit(&c, "=") || !count(&c, &s) || !lit(&c, "]") ||
	    !at_end(c) || b > INT32_MAX || s > INT32_MAX)
		return fail(r, "bad Buckets line");
	f->buckets = (int)b;
	f->sub_buckets = (int)s;
	return 0;
}

/* The footer against the rows, and nothing after it. */
static int check_foot(struct rd *r, const struct hgrm_footer *f)
{
	const struct hgrm_row *last = r->n ? &r->rows[r->n - 1] : NULL;
	int ret;

	r->line = r->max_line;
	if (!last && f->total_count)
		return fail(r, "total count %llu without rows", (unsigned long long)f->total_count);
	if (last && last->has_inv) {
		r->line = r->max_line - 1;
		return fail(r, "rows end without the 100%% row");
	}
	if (last && last->total_count != f->total_count)
		return fail(r, "total count %llu, rows end at %llu",
			    (unsigned long long)f->total_count,
			    (unsigned long long)last->total_count);
	r->line = r->max_line + 1;
	ret = next_line(r);
	if (ret < 0)
		return ret;
	return ret ? fail(r, "text after the footer") : 0;
}

int hgrm_read(const char *text, size_t len, struct hgrm_row **rows, size_t *nrows,
	      struct hgrm_footer *foot, char *err, size_t errlen)
{
	struct rd r = {.p = text, .left = len, .err = err, .errlen = errlen};
	int ret;

	*rows = NULL;
	*nrows = 0;
	memset(foot, 0, sizeof(*foot));
	if (errlen)
		err[0] = '\0';
	ret = read_head(&r);
	if (!ret)
		ret = read_rows(&r);
	if (!ret)
		ret = read_foot_lines(&r, foot);
	if (!ret)
		ret = check_foot(&r, foot);
	if (ret) {
		if (ret == -ENOMEM && errlen)
			snprintf(err, errlen, "line %u: out of memory", r.line);
		free(r.rows);
		memset(foot, 0, sizeof(*foot));
		return ret;
	}
	*rows = r.rows;
	*nrows = r.n;
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "kafkalat/recfile.h"

#define NAME	     "rec.klt"
#define N_VARIED     200
#define RANDOM_BYTES (1u << 20)

static char tmpdir[] = "/tmp/klt-recfile-XXXXXX";

/* A path in this run's directory; each call has its own buffer slot. */
static const char *path_in(const char *name)
{
	static char bufs[4][PATH_MAX];
	static unsigned int next;
	char *p = bufs[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
	return p;
}

/* splitmix64: seeded, so failures reproduce. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

struct rec {
	uint32_t type;
	size_t len;
	uint8_t *data;
};

/* Compressible text-like bytes, or incompressible ones when random. */
static struct rec make_rec(uint32_t type, size_t len, bool random, uint64_t seed)
{
	struct rec r = {.type = type, .len = len, .data = malloc(len + 1)};
	size_t i;

	assert_non_null(r.data);
	for (i = 0; i < len; i++)
		r.data[i] =
		    random ? (uint8_t)rng_next(&seed) : (uint8_t)("abcabd"[i % 6] + i / 997);
	return r;
}

static void free_recs(struct rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(recs[i].data);
}

static void write_recs(const char *path, const struct rec *recs, size_t n)
{
	struct recfile_writer *w;

	unlink(path);
	assert_int_equal(recfile_create(&w, path, false), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(recfile_append(w, recs[i].type, recs[i].data, recs[i].len), 0);
	assert_int_equal(recfile_close(w), 0);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, *len), (ssize_t)*len);
	close(fd);
	return buf;
}

static void spill(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Reads the first n records, each equal to recs[i]. */
static void expect_recs(struct recfile_reader *r, const struct rec *recs, size_t n)
{
	const void *raw;
	uint32_t type;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(recfile_next(r, &type, &raw, &len), 1);
		assert_int_equal(type, recs[i].type);
		assert_int_equal(len, recs[i].len);
		assert_non_null(raw);
		if (len)
			assert_memory_equal(raw, recs[i].data, len);
	}
}

static void expect_end(struct recfile_reader *r)
{
	const void *raw;
	uint32_t type;
	size_t len;

	assert_int_equal(recfile_next(r, &type, &raw, &len), 0);
	assert_int_equal(recfile_next(r, &type, &raw, &len), 0);
	assert_string_equal(recfile_error(r), "");
}

/* The next record fails with msg, and so does every call after it. */
static void expect_error(struct recfile_reader *r, const char *msg)
{
	const void *raw;
	uint32_t type;
	size_t len;

	assert_int_equal(recfile_next(r, &type, &raw, &len), -EINVAL);
	assert_string_equal(recfile_error(r), msg);
	assert_int_equal(recfile_next(r, &type, &raw, &len), -EINVAL);
}

static size_t varied_recs(struct rec *recs)
{
	size_t n = 0;

	recs[n++] = make_rec(7, 0, false, 0);
	recs[n++] = make_rec(8, 1, false, 0);
	recs[n++] = make_rec(9, RANDOM_BYTES, true, 42);
	for (size_t i = 0; i < N_VARIED; i++)
		recs[n++] = make_rec((uint32_t)i, (i * 7919) % 20000, i % 3 == 0, i);
	recs[n++] = make_rec(UINT32_MAX, 0, false, 0);
	return n;
}

static void test_round_trip(void **state)
{
	struct rec recs[N_VARIED + 4];
	size_t n = varied_recs(recs), len;
	struct recfile_reader *r;
	uint8_t *buf;

	(void)state;
	write_recs(path_in(NAME), recs, n);
	assert_int_equal(recfile_open(&r, path_in(NAME)), 0);
	expect_recs(r, recs, n);
	expect_end(r);
	recfile_free(r);
	/* the same parser from memory */
	buf = slurp(path_in(NAME), &len);
	assert_int_equal(recfile_open_mem(&r, buf, len, "mem"), 0);
	expect_recs(r, recs, n);
	expect_end(r);
	assert_int_equal(recfile_offset(r), len);
	recfile_free(r);
	free(buf);
	free_recs(recs, n);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The bytes are as recfile.h documents them. */
static void test_layout(void **state)
{
	static const uint8_t header[16] = {'K', 'L', 'T', 'R', 'E', 'C', '\r', '\n',
					   1,	0,   0,	  0,   0,   0,	 0,    0};
	struct rec rec = make_rec(0x01020304, 5000, false, 0);
	uint8_t out[5000];
	uLongf out_len = sizeof(out);
	uint32_t stored;
	size_t len;
	uint8_t *buf;

	(void)state;
	write_recs(path_in(NAME), &rec, 1);
	buf = slurp(path_in(NAME), &len);
	assert_memory_equal(buf, header, 16);
	assert_memory_equal(buf + 16, "\x04\x03\x02\x01", 4);
	assert_int_equal(get_u32(buf + 20), 5000);
	stored = get_u32(buf + 24);
	assert_int_equal(len, 16 + 16 + stored);
	assert_int_equal(get_u32(buf + 28), crc32(0, buf + 32, stored));
	assert_int_equal(uncompress(out, &out_len, buf + 32, stored), Z_OK);
	assert_int_equal(out_len, 5000);
	assert_memory_equal(out, rec.data, 5000);
	free(buf);
	free_recs(&rec, 1);
}

/* Three records; starts[i] is where record i+1 begins, starts[3] the end. */
static uint8_t *three_recs(struct rec *recs, size_t starts[4], size_t *len)
{
	uint8_t *buf;

	recs[0] = make_rec(1, 40, false, 0);
	recs[1] = make_rec(2, 0, false, 0);
	recs[2] = make_rec(3, 300, true, 5);
	write_recs(path_in(NAME), recs, 3);
	buf = slurp(path_in(NAME), len);
	starts[0] = 16;
	for (int i = 0; i < 3; i++)
		starts[i + 1] = starts[i] + 16 + get_u32(buf + starts[i] + 8);
	assert_int_equal(starts[3], *len);
	return buf;
}

/* What a reader of the first cut bytes must say after its whole records. */
static void truncation_message(char *msg, size_t size, const char *name, const size_t starts[4],
			       size_t cut, const uint8_t *buf)
{
	int k = 0;

	while (starts[k + 1] <= cut)
		k++;
	if (cut - starts[k] < 16)
		snprintf(msg, size,
			 "%s: offset %zu: truncated head of record %d (16 bytes, %zu left)", name,
			 starts[k], k + 1, cut - starts[k]);
	else
		snprintf(
		    msg, size,
		    "%s: offset %zu: truncated record %d (header says %" PRIu32 " bytes, %zu left)",
		    name, starts[k], k + 1, get_u32(buf + starts[k] + 8), cut - starts[k] - 16);
}

/* A file cut at cut bytes: its whole records, then the truncation error. */
static void check_cut(struct recfile_reader *r, int open_ret, const char *name,
		      const struct rec *recs, const size_t starts[4], size_t cut,
		      const uint8_t *buf)
{
	char msg[PATH_MAX + 200];
	size_t whole = 0;

	if (cut == 0) {
		assert_int_equal(open_ret, -EINVAL);
		snprintf(msg, sizeof(msg), "%s: offset 0: empty file", name);
		assert_string_equal(recfile_error(r), msg);
		return;
	}
	if (cut < 16) {
		assert_int_equal(open_ret, -EINVAL);
		snprintf(msg, sizeof(msg),
			 "%s: offset 0: truncated file header (16 bytes, %zu left)", name, cut);
		assert_string_equal(recfile_error(r), msg);
		return;
	}
	assert_int_equal(open_ret, 0);
	while (whole < 3 && starts[whole + 1] <= cut)
		whole++;
	expect_recs(r, recs, whole);
	if (cut == starts[whole]) {
		expect_end(r);
		return;
	}
	truncation_message(msg, sizeof(msg), name, starts, cut, buf);
	expect_error(r, msg);
}

static void test_truncated_everywhere(void **state)
{
	struct recfile_reader *r;
	size_t starts[4], len;
	struct rec recs[3];
	uint8_t *buf = three_recs(recs, starts, &len);
	int ret;

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		ret = recfile_open_mem(&r, buf, cut, "mem");
		check_cut(r, ret, "mem", recs, starts, cut, buf);
		recfile_free(r);
		/* and a file killed at that byte */
		spill(path_in("cut"), buf, cut);
		ret = recfile_open(&r, path_in("cut"));
		check_cut(r, ret, path_in("cut"), recs, starts, cut, buf);
		recfile_free(r);
	}
	free(buf);
	free_recs(recs, 3);
}

/* Any flipped stored byte, or a flipped CRC, is caught before inflating. */
static void test_crc_mismatch(void **state)
{
	struct recfile_reader *r;
	size_t starts[4], len;
	struct rec recs[3];
	uint8_t *buf = three_recs(recs, starts, &len);
	char msg[128];

	(void)state;
	for (int k = 0; k < 3; k++) {
		snprintf(msg, sizeof(msg), "mem: offset %zu: CRC mismatch in record %d", starts[k],
			 k + 1);
		for (size_t at = starts[k] + 12; at < starts[k + 1]; at++) {
			buf[at] ^= 0x20;
			assert_int_equal(recfile_open_mem(&r, buf, len, "mem"), 0);
			expect_recs(r, recs, (size_t)k);
			expect_error(r, msg);
			recfile_free(r);
			buf[at] ^= 0x20;
		}
	}
	free(buf);
	free_recs(recs, 3);
}

static void expect_open_error(const void *buf, size_t len, int err, const char *msg)
{
	struct recfile_reader *r;

	assert_int_equal(recfile_open_mem(&r, buf, len, "f"), err);
	assert_string_equal(recfile_error(r), msg);
	recfile_free(r);
}

static void test_bad_headers(void **state)
{
	uint8_t h[16] = {'K', 'L', 'T', 'R', 'E', 'C', '\r', '\n', 1, 0, 0, 0, 0, 0, 0, 0};

	(void)state;
	expect_open_error("\x7f"
			  "ELF\2\1\1\0\0\0\0\0\0\0\0\0",
			  16, -EINVAL, "f: offset 0: not a kafkalat recording");
	expect_open_error("KLTDUMP1\0\0\0\0\0\0\0\0", 16, -EINVAL,
			  "f: offset 0: not a kafkalat recording");
	expect_open_error("KLTREC\n", 7, -EINVAL, "f: offset 0: not a kafkalat recording");
	expect_open_error("hello", 5, -EINVAL, "f: offset 0: not a kafkalat recording");
	expect_open_error("KLT", 3, -EINVAL,
			  "f: offset 0: truncated file header (16 bytes, 3 left)");
	expect_open_error(h, 16, 0, "");
	h[8] = 9;
	expect_open_error(h, 16, -EINVAL, "f: offset 8: format version 9, this kafkalat reads 1");
	h[8] = 0;
	h[11] = 1;
	expect_open_error(h, 16, -EINVAL,
			  "f: offset 8: format version 16777216, this kafkalat reads 1");
	h[8] = 1;
	h[11] = 0;
	h[12] = 4;
	expect_open_error(h, 16, -EINVAL, "f: offset 12: unknown flags 0x4");
}

static void expect_file_error(const char *path, int err, const char *what)
{
	struct recfile_reader *r;
	char msg[PATH_MAX + 64];

	snprintf(msg, sizeof(msg), "%s: %s", path, what);
	assert_int_equal(recfile_open(&r, path), err);
	assert_string_equal(recfile_error(r), msg);
	recfile_free(r);
}

static void test_bad_files(void **state)
{
	(void)state;
	spill(path_in("empty"), NULL, 0);
	expect_file_error(path_in("empty"), -EINVAL, "offset 0: empty file");
	expect_file_error(tmpdir, -EISDIR, "is a directory");
	expect_file_error(path_in("missing"), -ENOENT, "No such file or directory");
	expect_file_error("/dev/null", -EINVAL, "not a regular file");
}

/* A record after a valid file header: its head fields as given, then the
 * present stored bytes, which the CRC covers. */
static size_t forge(uint8_t *buf, uint32_t raw_len, uint32_t stored_len, const void *stored,
		    size_t present)
{
	static const uint8_t header[16] = {'K', 'L', 'T', 'R', 'E', 'C', '\r', '\n',
					   1,	0,   0,	  0,   0,   0,	 0,    0};
	uint32_t crc = (uint32_t)crc32(0, stored, (uInt)present);
	uint32_t head[4] = {1, raw_len, stored_len, crc};

	memcpy(buf, header, 16);
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 4; b++)
			buf[16 + 4 * i + b] = (uint8_t)(head[i] >> (8 * b));
	memcpy(buf + 32, stored, present);
	return 32 + present;
}

static void expect_forged(uint32_t raw_len, uint32_t stored_len, const void *stored,
			  const char *msg)
{
	size_t present = stored_len < 400 ? stored_len : 0;
	uint8_t buf[512];
	struct recfile_reader *r;
	size_t len = forge(buf, raw_len, stored_len, stored, present);

	assert_int_equal(recfile_open_mem(&r, buf, len, "f"), 0);
	expect_error(r, msg);
	recfile_free(r);
}

static void test_bad_lengths(void **state)
{
	uint8_t z[300];
	uLongf zlen = sizeof(z);

	(void)state;
	expect_forged(UINT32_MAX, 0, "",
		      "f: offset 16: record 1 claims 4294967295 bytes, over the "
		      "limit of 16777216");
	expect_forged(RECFILE_MAX_RAW + 1, 0, "",
		      "f: offset 16: record 1 claims 16777217 bytes, over the limit of 16777216");
	expect_forged(
	    0, 14, "xxxxxxxxxxxxxx",
	    "f: offset 16: record 1 claims 14 stored bytes, more than 0 bytes deflate to");
	/* a huge stored length within the bound of a huge raw length */
	expect_forged(RECFILE_MAX_RAW, RECFILE_MAX_RAW, "",
		      "f: offset 16: truncated record 1 (header says 16777216 bytes, 0 left)");
	assert_int_equal(compress(z, &zlen, (const uint8_t *)"0123456789", 10), Z_OK);
	expect_forged(9, (uint32_t)zlen, z,
		      "f: offset 16: record 1 does not inflate to its 9 bytes");
	expect_forged(11, (uint32_t)zlen, z,
		      "f: offset 16: record 1 does not inflate to its 11 bytes");
	expect_forged(10, (uint32_t)zlen - 1, z,
		      "f: offset 16: record 1 does not inflate to its 10 bytes");
	/* bytes after the end of the stream, covered by the CRC */
	z[zlen] = 0;
	expect_forged(10, (uint32_t)zlen + 1, z,
		      "f: offset 16: record 1 does not inflate to its 10 bytes");
	expect_forged(10, 10, "0123456789",
		      "f: offset 16: record 1 does not inflate to its 10 bytes");
}

static void test_keep_old(void **state)
{
	struct rec first = make_rec(1, 100, false, 0), second = make_rec(2, 50, false, 0);
	struct recfile_writer *w;
	struct recfile_reader *r;
	size_t old_len, len;
	uint8_t *old, *moved;
	struct stat st;
	mode_t mask;

	(void)state;
	write_recs(path_in(NAME), &first, 1);
	old = slurp(path_in(NAME), &old_len);
	mask = umask(0);
	assert_int_equal(recfile_create(&w, path_in(NAME), true), 0);
	umask(mask);
	assert_int_equal(recfile_append(w, second.type, second.data, second.len), 0);
	assert_int_equal(recfile_close(w), 0);
	/* even a umask that allows nothing gives 0600 */
	mask = umask(0777);
	assert_int_equal(recfile_create(&w, path_in("masked"), false), 0);
	umask(mask);
	assert_int_equal(recfile_close(w), 0);
	assert_int_equal(stat(path_in("masked"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	moved = slurp(path_in(NAME ".old"), &len);
	assert_int_equal(len, old_len);
	assert_memory_equal(moved, old, len);
	assert_int_equal(stat(path_in(NAME), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(recfile_open(&r, path_in(NAME)), 0);
	expect_recs(r, &second, 1);
	expect_end(r);
	recfile_free(r);
	free(old);
	free(moved);
	free_recs(&first, 1);
	free_recs(&second, 1);
}

static void test_exclusive(void **state)
{
	struct rec rec = make_rec(1, 10, false, 0);
	struct recfile_writer *w;
	struct recfile_reader *r;

	(void)state;
	write_recs(path_in(NAME), &rec, 1);
	assert_int_equal(recfile_create(&w, path_in(NAME), false), -EEXIST);
	assert_null(w);
	assert_int_equal(recfile_open(&r, path_in(NAME)), 0);
	expect_recs(r, &rec, 1);
	expect_end(r);
	recfile_free(r);
	/* keep_old moves files, never directories */
	assert_int_equal(mkdir(path_in("dir"), 0700), 0);
	assert_int_equal(recfile_create(&w, path_in("dir"), true), -EISDIR);
	assert_int_equal(rmdir(path_in("dir")), 0);
	free_recs(&rec, 1);
}

static void test_limits(void **state)
{
	uint8_t *big = calloc(1, RECFILE_MAX_RAW + 1);
	struct rec empty = {.type = 5, .len = 0, .data = big};
	struct recfile_writer *w;
	struct recfile_reader *r;
	const void *raw;
	uint32_t type;
	size_t len;

	(void)state;
	assert_non_null(big);
	unlink(path_in(NAME));
	assert_int_equal(recfile_create(&w, path_in(NAME), false), 0);
	assert_int_equal(recfile_append(w, 4, big, RECFILE_MAX_RAW + 1), -EMSGSIZE);
	assert_int_equal(recfile_append(w, 4, big, RECFILE_MAX_RAW), 0);
	assert_int_equal(recfile_append(w, 5, NULL, 0), 0);
	assert_int_equal(recfile_close(w), 0);
	assert_int_equal(recfile_open(&r, path_in(NAME)), 0);
	assert_int_equal(recfile_next(r, &type, &raw, &len), 1);
	assert_int_equal(type, 4);
	assert_int_equal(len, RECFILE_MAX_RAW);
	assert_memory_equal(raw, big, len);
	expect_recs(r, &empty, 1);
	expect_end(r);
	recfile_free(r);
	free(big);
}

/* A full disk, as a file size limit: the record that does not fit is cut
 * off, the file reads to its last whole record, and the writer stops. */
static void test_disk_full(void **state)
{
	struct rec recs[3] = {make_rec(1, 1000, true, 1), make_rec(2, 1000, true, 2),
			      make_rec(3, 10, false, 0)};
	struct rlimit old, lim;
	struct recfile_writer *w;
	struct recfile_reader *r;
	struct stat st;

	(void)state;
	unlink(path_in(NAME));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(recfile_create(&w, path_in(NAME), false), 0);
	assert_int_equal(recfile_append(w, recs[0].type, recs[0].data, recs[0].len), 0);
	assert_int_equal(stat(path_in(NAME), &st), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)st.st_size + 500; /* half of the next record */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(recfile_append(w, recs[1].type, recs[1].data, recs[1].len), -EFBIG);
	assert_int_equal(recfile_append(w, recs[2].type, recs[2].data, recs[2].len), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(recfile_close(w), 0);
	assert_int_equal(recfile_open(&r, path_in(NAME)), 0);
	expect_recs(r, recs, 1);
	expect_end(r);
	assert_int_equal(recfile_offset(r), st.st_size);
	recfile_free(r);
	free_recs(recs, 3);
}

static int make_tmpdir(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	static const char *const names[] = {NAME, NAME ".old", "cut", "empty", "masked"};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path_in(names[i]));
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_truncated_everywhere),
	    cmocka_unit_test(test_crc_mismatch),
	    cmocka_unit_test(test_bad_headers),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_bad_lengths),
	    cmocka_unit_test(test_keep_old),
	    cmocka_unit_test(test_exclusive),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_disk_full),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}

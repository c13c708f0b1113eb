// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Recording files (format in recfile.h). The writer puts each record out
 * with one write loop, so a killed run leaves at most one partial record at
 * the end. The reader has one parser for files and buffers: a source hands
 * it views of the bytes at an offset (a buffer without copying, a file
 * through pread), never more than are there.
 */
#include "kafkalat/recfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "kafkalat/grow.h"

#define DEFLATE_LEVEL 6
#define MSG_MAX	      (PATH_MAX + 256)
#define NO_OFFSET     UINT64_MAX

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- writing ---- */

struct recfile_writer {
	int fd;
	int err;       /* a failed write: the file may end in a partial record */
	uint64_t size; /* the header and the complete records */
	uint8_t *buf;  /* one record: its head and stored bytes */
	size_t cap;
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Only files are moved aside: a directory at path is the user's mistake. */
static int move_old(const char *path)
{
	char old[PATH_MAX];
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (snprintf(old, sizeof(old), "%s.old", path) >= (int)sizeof(old))
		return -ENAMETOOLONG;
	return rename(path, old) ? -errno : 0;
}

static int write_header(int fd)
{
	uint8_t head[RECFILE_HEADER_SIZE];

	memcpy(head, RECFILE_MAGIC, 8);
	put_u32(head + 8, RECFILE_VERSION);
	put_u32(head + 12, 0);
	return write_all(fd, head, sizeof(head));
}

int recfile_create(struct recfile_writer **out, const char *path, bool keep_old)
{
	struct recfile_writer *w;
	int err;

	*out = NULL;
	if (keep_old && (err = move_old(path)))
		return err;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		err = -errno;
		free(w);
		return err;
	}
	/* the recording names hosts, clients and topics: never wider than
	 * 0600, whatever the umask asked for */
	err = fchmod(w->fd, 0600) ? -errno : write_header(w->fd);
	if (err) {
		close(w->fd);
		unlink(path); /* O_EXCL made it ours */
		free(w);
		return err;
	}
	w->size = RECFILE_HEADER_SIZE;
	*out = w;
	return 0;
}

/* Cuts a partial record off so that the file ends cleanly. Where that fails
 * too, readers stop at the partial record with a truncation error. */
static void drop_partial_record(struct recfile_writer *w)
{
	if (ftruncate(w->fd, (off_t)w->size) != 0)
		return;
}

int recfile_append(struct recfile_writer *w, uint32_t type, const void *raw, size_t len)
{
	uLongf stored;
	int err;

	if (w->err)
		return w->err;
	if (len > RECFILE_MAX_RAW)
		return -EMSGSIZE;
	stored = compressBound(len);
	err = grow_array((void **)&w->buf, &w->cap, RECFILE_RECORD_HEAD + stored, 1, SIZE_MAX);
	if (err)
		return err;
	if (compress2(w->buf + RECFILE_RECORD_HEAD, &stored, raw, len, DEFLATE_LEVEL) != Z_OK)
		return -ENOMEM; /* the only failure left with a compressBound output */
	put_u32(w->buf, type);
	put_u32(w->buf + 4, (uint32_t)len);
	put_u32(w->buf + 8, (uint32_t)stored);
	put_u32(w->buf + 12, (uint32_t)crc32(0, w->buf + RECFILE_RECORD_HEAD, (uInt)stored));
	err = write_all(w->fd, w->buf, RECFILE_RECORD_HEAD + stored);
	if (err) {
		w->err = err;
		drop_partial_record(w);
		return err;
	}
	w->size += RECFILE_RECORD_HEAD + stored;
	return 0;
}

int recfile_close(struct recfile_writer *w)
{
	int err = 0;

	if (!w)
		return 0;
	if (fsync(w->fd))
		err = -errno;
	if (close(w->fd) && !err)
		err = -errno;
	free(w->buf);
	free(w);
	return err;
}

/* ---- reading ---- */

struct recfile_reader {
	int fd;		    /* the file, or -1 for a caller's buffer */
	const uint8_t *mem; /* the caller's buffer */
	uint64_t mem_len;
	uint64_t off;	  /* of the next record */
	uint64_t records; /* returned so far */
	int err;
	uint8_t *io; /* a file's bytes, read for a view */
	size_t io_cap;
	uint8_t *raw; /* the last record, inflated */
	size_t raw_cap;
	char *name;
	char msg[MSG_MAX];
};

/* A view of up to n bytes at offset at: how many there are (fewer only at
 * the end of the source), or -errno. */
static ssize_t view(struct recfile_reader *r, uint64_t at, size_t n, const uint8_t **p)
{
	size_t got = 0;
	int err;

	if (r->fd < 0) {
		*p = r->mem + at;
		return (ssize_t)(n < r->mem_len - at ? n : r->mem_len - at);
	}
	if ((err = grow_array((void **)&r->io, &r->io_cap, n + 1, 1, SIZE_MAX)))
		return err;
	while (got < n) {
		ssize_t k = pread(r->fd, r->io + got, n - got, (off_t)(at + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	*p = r->io;
	return (ssize_t)got;
}

static int set_error(struct recfile_reader *r, int err, uint64_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "NAME: offset N: what", or "NAME: what" where no offset applies. */
static int set_error(struct recfile_reader *r, int err, uint64_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (at == NO_OFFSET)
		n = snprintf(r->msg, sizeof(r->msg), "%s: ", r->name);
	else
		n = snprintf(r->msg, sizeof(r->msg), "%s: offset %" PRIu64 ": ", r->name, at);
	if (n >= 0 && (size_t)n < sizeof(r->msg)) {
		va_start(ap, fmt);
		vsnprintf(r->msg + n, sizeof(r->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	r->err = err;
	return err;
}

static int set_errno(struct recfile_reader *r, int err, uint64_t at)
{
	return set_error(r, err, at, "%s", strerror(-err));
}

static int check_header(struct recfile_reader *r)
{
	const uint8_t *h;
	ssize_t n = view(r, 0, RECFILE_HEADER_SIZE, &h);
	uint32_t version, flags;

	if (n < 0)
		return set_errno(r, (int)n, 0);
	if (n == 0)
		return set_error(r, -EINVAL, 0, "empty file");
	if (memcmp(h, RECFILE_MAGIC, n < 8 ? (size_t)n : 8))
		return set_error(r, -EINVAL, 0, "not a kafkalat recording");
	if (n < RECFILE_HEADER_SIZE)
		return set_error(r, -EINVAL, 0, "truncated file header (%u bytes, %zd left)",
				 RECFILE_HEADER_SIZE, n);
	version = get_u32(h + 8);
	flags = get_u32(h + 12);
	if (version != RECFILE_VERSION)
		return set_error(r, -EINVAL, 8,
				 "format version %" PRIu32 ", this kafkalat reads %u", version,
				 RECFILE_VERSION);
	if (flags)
		return set_error(r, -EINVAL, 12, "unknown flags 0x%" PRIx32, flags);
	r->off = RECFILE_HEADER_SIZE;
	return 0;
}

static struct recfile_reader *new_reader(const char *name)
{
	struct recfile_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->fd = -1;
	r->name = strdup(name ? name : "(buffer)");
	if (!r->name) {
		free(r);
		return NULL;
	}
	return r;
}

int recfile_open(struct recfile_reader **out, const char *path)
{
	struct recfile_reader *r = new_reader(path);
	struct stat st;

	*out = r;
	if (!r)
		return -ENOMEM;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return set_errno(r, -errno, NO_OFFSET);
	if (fstat(r->fd, &st))
		return set_errno(r, -errno, NO_OFFSET);
	if (S_ISDIR(st.st_mode))
		return set_error(r, -EISDIR, NO_OFFSET, "is a directory");
	if (!S_ISREG(st.st_mode))
		return set_error(r, -EINVAL, NO_OFFSET, "not a regular file");
	return check_header(r);
}

int recfile_open_mem(struct recfile_reader **out, const void *buf, size_t len, const char *name)
{
	struct recfile_reader *r = new_reader(name);

	*out = r;
	if (!r)
		return -ENOMEM;
	r->mem = buf;
	r->mem_len = len;
	return check_header(r);
}

struct record_head {
	uint32_t type, raw_len, stored_len, crc;
};

/* 1 and the head of the next record, 0 at a clean end, or the error. */
static int read_head(struct recfile_reader *r, struct record_head *rh)
{
	const uint8_t *h;
	ssize_t n = view(r, r->off, RECFILE_RECORD_HEAD, &h);

	if (n < 0)
		return set_errno(r, (int)n, r->off);
	if (n == 0)
		return 0;
	if (n < RECFILE_RECORD_HEAD)
		return set_error(r, -EINVAL, r->off,
				 "truncated head of record %" PRIu64 " (%u bytes, %zd left)",
				 r->records + 1, RECFILE_RECORD_HEAD, n);
	rh->type = get_u32(h);
	rh->raw_len = get_u32(h + 4);
	rh->stored_len = get_u32(h + 8);
	rh->crc = get_u32(h + 12);
	return 1;
}

static int check_lengths(struct recfile_reader *r, const struct record_head *rh)
{
	uint64_t rec = r->records + 1;

	if (rh->raw_len > RECFILE_MAX_RAW)
		return set_error(r, -EINVAL, r->off,
				 "record %" PRIu64 " claims %" PRIu32
				 " bytes, over the limit of %u",
				 rec, rh->raw_len, RECFILE_MAX_RAW);
	if (rh->stored_len > compressBound(rh->raw_len))
		return set_error(r, -EINVAL, r->off,
				 "record %" PRIu64 " claims %" PRIu32
				 " stored bytes, more than %" PRIu32 " bytes deflate to",
				 rec, rh->stored_len, rh->raw_len);
	return 0;
}

/* The stored bytes, checked against the CRC. */
static int read_stored(struct recfile_reader *r, const struct record_head *rh, const uint8_t **p)
{
	ssize_t n = view(r, r->off + RECFILE_RECORD_HEAD, rh->stored_len, p);

	if (n < 0)
		return set_errno(r, (int)n, r->off);
	if ((size_t)n < rh->stored_len)
		return set_error(r, -EINVAL, r->off,
				 "truncated record %" PRIu64 " (header says %" PRIu32
				 " bytes, %zd left)",
				 r->records + 1, rh->stored_len, n);
	if (crc32(0, *p, rh->stored_len) != rh->crc)
		return set_error(r, -EINVAL, r->off, "CRC mismatch in record %" PRIu64,
				 r->records + 1);
	return 0;
}

/* Into r->raw, bounded by the raw length: the stream must fill it exactly
 * and use every stored byte. */
static int inflate_payload(struct recfile_reader *r, const struct record_head *rh,
			   const uint8_t *stored)
{
	uLongf out = rh->raw_len;
	uLong in = rh->stored_len;
	int err, zr;

	/* one more byte so that an empty record still has an address */
	err = grow_array((void **)&r->raw, &r->raw_cap, (size_t)rh->raw_len + 1, 1,
			 RECFILE_MAX_RAW + 1);
	if (err)
		return set_errno(r, err, r->off);
	zr = uncompress2(r->raw, &out, stored, &in);
	if (zr == Z_MEM_ERROR)
		return set_errno(r, -ENOMEM, r->off);
	if (zr != Z_OK || out != rh->raw_len || in != rh->stored_len)
		return set_error(r, -EINVAL, r->off,
				 "record %" PRIu64 " does not inflate to its %" PRIu32 " bytes",
				 r->records + 1, rh->raw_len);
	return 0;
}

int recfile_next(struct recfile_reader *r, uint32_t *type, const void **raw, size_t *len)
{
	struct record_head rh = {0};
	const uint8_t *stored;
	int ret;

	if (r->err)
		return r->err;
	ret = read_head(r, &rh);
	if (ret <= 0)
		return ret;
	if ((ret = check_lengths(r, &rh)) || (ret = read_stored(r, &rh, &stored)) ||
	    (ret = inflate_payload(r, &rh, stored)))
		return ret;
	r->off += RECFILE_RECORD_HEAD + (uint64_t)rh.stored_len;
	r->records++;
	*type = rh.type;
	*raw = r->raw;
	*len = rh.raw_len;
	return 1;
}

const char *recfile_error(const struct recfile_reader *r)
{
	return r->err ? r->msg : "";
}

uint64_t recfile_offset(const struct recfile_reader *r)
{
	return r->off;
}

void recfile_free(struct recfile_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->io);
	free(r->raw);
	free(r->name);
	free(r);
}

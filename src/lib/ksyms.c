// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Kernel symbols from kallsyms text: see include/kafkalat/ksyms.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafkalat/fnv.h"
#include "kafkalat/ksyms.h"

/* A symbol and its position in the text, so equal addresses sort stably. */
struct entry {
	struct ksym sym;
	uint32_t seq;
};

/* idx is the symbol's index + 1 (0: empty); tag, the name hash's high bits,
 * spares most string compares on a probe. */
struct slot {
	uint32_t idx;
	uint32_t tag;
};

struct ksyms {
	char *text; /* our NUL-separated copy; names and modules point into it */
	struct entry *syms;
	size_t n;
	size_t skipped;
	struct slot *slots; /* name hash table, power-of-two size */
	size_t nslots;
};

/* The text is split into lines at '\n'; a line is [p, end). */
struct line {
	char *p;
	char *end;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_name_char(char c)
{
	return c != '\0' && !is_blank(c) && c != '\n' && c != '[' && c != ']';
}

/* 1-16 hex digits and one blank. strtoull alone would also take blanks, a
 * sign and "0x": the digits are counted first and must be all it reads. */
static bool parse_addr(struct line *l, uint64_t *addr)
{
	size_t nd = 0;
	char *end;
	unsigned long long v;

	while (l->p + nd < l->end && isxdigit((unsigned char)l->p[nd]))
		nd++;
	if (nd == 0 || nd > 16 || l->p + nd >= l->end || l->p[nd] != ' ')
		return false;
	errno = 0;
	v = strtoull(l->p, &end, 16);
	if (errno || end != l->p + nd)
		return false;
	*addr = v;
	l->p = end + 1;
	return true;
}

/* "<type char> " */
static bool parse_type(struct line *l, char *type)
{
	if (l->end - l->p < 2 || !isalpha((unsigned char)l->p[0]) || l->p[1] != ' ')
		return false;
	*type = l->p[0];
	l->p += 2;
	return true;
}

/* Skips a run of name characters; returns its length. */
static size_t scan_word(struct line *l)
{
	const char *s = l->p;

	while (l->p < l->end && is_name_char(*l->p))
		l->p++;
	return (size_t)(l->p - s);
}

static void skip_blanks(struct line *l)
{
	while (l->p < l->end && is_blank(*l->p))
		l->p++;
}

/* "<name>" ending at a blank or the line's end; NUL-terminated in place (the
 * byte at l->end is the '\n' or the copy's final NUL, both ours to write). */
static bool parse_name(struct line *l, const char **name)
{
	char *s = l->p;
	size_t n = scan_word(l);

	if (!n || n > KSYMS_MAX_NAME || (l->p < l->end && !is_blank(*l->p)))
		return false;
	*name = s;
	*l->p = '\0';
	if (l->p < l->end)
		l->p++;
	return true;
}

/* Optional "[module]", then nothing but blanks. */
static bool parse_module(struct line *l, const char **module)
{
	char *s;
	size_t n;

	skip_blanks(l);
	*module = NULL;
	if (l->p == l->end)
		return true;
	if (*l->p != '[')
		return false;
	s = ++l->p;
	n = scan_word(l);
	if (!n || n > KSYMS_MAX_NAME || l->p >= l->end || *l->p != ']')
		return false;
	*l->p++ = '\0';
	*module = s;
	skip_blanks(l);
	return l->p == l->end;
}

static bool parse_line(struct line l, struct ksym *sym)
{
	if (memchr(l.p, '\0', (size_t)(l.end - l.p)))
		return false;
	return parse_addr(&l, &sym->addr) && parse_type(&l, &sym->type) &&
	       parse_name(&l, &sym->name) && parse_module(&l, &sym->module);
}

static size_t count_lines(const char *text, size_t len)
{
	size_t n = 0;
	const char *p = text, *end = text + len, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p = nl + 1;
	}
	return n + (p < end);
}

static int parse_all(struct ksyms *ks, size_t len)
{
	char *p = ks->text, *end = ks->text + len;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		struct line l = {p, nl ? nl : end};
		struct entry *e = &ks->syms[ks->n];

		/* an unterminated last line may be cut: not trusted */
		if (nl && parse_line(l, &e->sym)) {
			e->seq = (uint32_t)ks->n;
			ks->n++;
		} else {
			ks->skipped++;
		}
		p = nl ? nl + 1 : end;
	}
	return ks->n ? 0 : -ENOENT;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->sym.addr != y->sym.addr)
		return x->sym.addr < y->sym.addr ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static bool all_zero(const struct ksyms *ks)
{
	/* sorted: the last address is the largest */
	return ks->syms[ks->n - 1].sym.addr == 0;
}

/* The slot holding name, or the empty slot where it would go. */
static size_t find_slot(const struct ksyms *ks, const char *name, uint64_t h)
{
	size_t mask = ks->nslots - 1, i = (size_t)h & mask;
	uint32_t tag = (uint32_t)(h >> 32);
	const struct slot *s;

	while ((s = &ks->slots[i])->idx &&
	       (s->tag != tag || strcmp(ks->syms[s->idx - 1].sym.name, name) != 0))
		i = (i + 1) & mask;
	return i;
}

/* Inserted in address order, keeping the first: a name maps to its lowest
 * address. */
static int build_index(struct ksyms *ks)
{
	size_t cap = 16;

	while (cap < 2 * ks->n)
		cap *= 2;
	ks->slots = calloc(cap, sizeof(*ks->slots));
	if (!ks->slots)
		return -ENOMEM;
	ks->nslots = cap;
	for (size_t i = 0; i < ks->n; i++) {
		const char *name = ks->syms[i].sym.name;
		uint64_t h = fnv1a64(name);
		struct slot *s = &ks->slots[find_slot(ks, name, h)];

		if (!s->idx)
			*s = (struct slot){(uint32_t)(i + 1), (uint32_t)(h >> 32)};
	}
	return 0;
}

static int ksyms_build(struct ksyms *ks, size_t len)
{
	size_t lines = count_lines(ks->text, len);
	int err;

	if (lines >= UINT32_MAX / 2)
		return -EFBIG;
	ks->syms = malloc((lines ? lines : 1) * sizeof(*ks->syms));
	if (!ks->syms)
		return -ENOMEM;
	err = parse_all(ks, len);
	if (err)
		return err;
	qsort(ks->syms, ks->n, sizeof(*ks->syms), cmp_entry);
	if (all_zero(ks))
		return -EPERM;
	return build_index(ks);
}

/* Takes ownership of text (len bytes plus a NUL). */
static int ksyms_from_text(char *text, size_t len, struct ksyms **out)
{
	struct ksyms *ks = calloc(1, sizeof(*ks));
	int err;

	if (!ks) {
		free(text);
		return -ENOMEM;
	}
	ks->text = text;
	err = ksyms_build(ks, len);
	if (err) {
		ksyms__free(ks);
		return err;
	}
	*out = ks;
	return 0;
}

int ksyms__parse(const char *text, size_t len, struct ksyms **out)
{
	char *copy;

	if (!text || !out)
		return -EINVAL;
	if (len > KSYMS_MAX_TEXT)
		return -EFBIG;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	return ksyms_from_text(copy, len, out);
}

static int grow(char **buf, size_t *cap)
{
	size_t ncap = *cap * 2;
	char *nbuf;

	if (*cap > KSYMS_MAX_TEXT)
		return -EFBIG;
	nbuf = realloc(*buf, ncap + 1);
	if (!nbuf)
		return -ENOMEM;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

/* procfs files have no size: read until EOF, doubling the buffer. */
static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap + 1);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap && (err = grow(&buf, &cap)))
			break;
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : 0;
			break;
		}
		n += (size_t)r;
	}
	if (!err && n > KSYMS_MAX_TEXT)
		err = -EFBIG;
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int ksyms__open(const char *path, struct ksyms **out)
{
	char *text;
	size_t len;
	int fd, err;

	if (!path || !out)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = read_all(fd, &text, &len);
	close(fd);
	if (err)
		return err;
	return ksyms_from_text(text, len, out);
}

struct ksyms *ksyms__load(const char *path)
{
	struct ksyms *ks = NULL;
	int err = ksyms__open(path ? path : "/proc/kallsyms", &ks);

	if (err) {
		errno = -err;
		return NULL;
	}
	return ks;
}

void ksyms__free(struct ksyms *ks)
{
	if (!ks)
		return;
	free(ks->slots);
	free(ks->syms);
	free(ks->text);
	free(ks);
}

const struct ksym *ksyms__map_addr(const struct ksyms *ks, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!ks || !ks->n || addr < ks->syms[0].sym.addr)
		return NULL;
	/* the first entry above addr; the answer is the group just before it */
	hi = ks->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].sym.addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	addr = ks->syms[lo - 1].sym.addr;
	/* first of the equal-address group: binary search again for its start */
	hi = lo - 1;
	lo = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].sym.addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return &ks->syms[lo].sym;
}

const struct ksym *ksyms__get_symbol(const struct ksyms *ks, const char *name)
{
	size_t s;

	if (!ks || !name || !ks->nslots)
		return NULL;
	s = find_slot(ks, name, fnv1a64(name));
	return ks->slots[s].idx ? &ks->syms[ks->slots[s].idx - 1].sym : NULL;
}

size_t ksyms__count(const struct ksyms *ks)
{
	return ks ? ks->n : 0;
}

size_t ksyms__skipped(const struct ksyms *ks)
{
	return ks ? ks->skipped : 0;
}

const struct ksym *ksyms__at(const struct ksyms *ks, size_t i)
{
	return ks && i < ks->n ? &ks->syms[i].sym : NULL;
}

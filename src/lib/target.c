// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Finding and describing the broker process from /proc (see target.h). */
#include "kafkalat/target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kafkalat/grow.h"

#define NET_READ_CHUNK	(64u * 1024)
#define NET_MAX_LINE	(1u * 1024 * 1024) /* a longer line is not a /proc/net/tcp file */
#define NET_SKIP_FIELDS 5		   /* tx:rx, tr:when, retrnsmt, uid, timeout */

/* ---- parsing one line ---------------------------------------------------------------------- */

struct span {
	const char *p;
	size_t n;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The next blank-separated token of *line, consumed from it. */
static bool next_token(struct span *line, struct span *tok)
{
	while (line->n > 0 && is_blank(*line->p)) {
		line->p++;
		line->n--;
	}
	tok->p = line->p;
	while (line->n > 0 && !is_blank(*line->p)) {
		line->p++;
		line->n--;
	}
	tok->n = (size_t)(line->p - tok->p);
	return tok->n > 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly n (1..8) hex digits. */
static bool parse_hex32(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	if (n == 0 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		int d = hex_digit(s[i]);

		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return true;
}

/* 1..20 decimal digits that fit in 64 bits. */
static bool parse_dec64(struct span t, uint64_t *out)
{
	uint64_t v = 0;

	if (t.n == 0 || t.n > 20)
		return false;
	for (size_t i = 0; i < t.n; i++) {
		unsigned d = (unsigned)(t.p[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* The kernel prints each 32-bit word of the address as a host-order integer
 * (%08X), so storing the parsed word in host order restores network order. */
static bool parse_addr_port(struct span t, int family, uint8_t addr[16], uint16_t *port)
{
	size_t words = family == AF_INET6 ? 4 : 1;
	uint32_t w, p;

	if (t.n != words * 8 + 1 + 4 || t.p[words * 8] != ':')
		return false;
	memset(addr, 0, 16);
	for (size_t i = 0; i < words; i++) {
		if (!parse_hex32(t.p + i * 8, 8, &w))
			return false;
		memcpy(addr + i * 4, &w, sizeof(w));
	}
	if (!parse_hex32(t.p + words * 8 + 1, 4, &p))
		return false;
	*port = (uint16_t)p;
	return true;
}

/* "12:" — the slot number. */
static bool is_slot(struct span t)
{
	if (t.n < 2 || t.p[t.n - 1] != ':')
		return false;
	for (size_t i = 0; i + 1 < t.n; i++)
		if (t.p[i] < '0' || t.p[i] > '9')
			return false;
	return true;
}

/* A line cut at the end of the buffer is accepted only if its inode is
 * followed by a blank: a cut inside the inode would give a wrong number. */
static bool parse_fields(struct span line, bool terminated, int family, struct target_sock *s)
{
	struct span t;
	uint32_t st;

	if (!next_token(&line, &t) || !parse_addr_port(t, family, s->local_addr, &s->local_port))
		return false;
	if (!next_token(&line, &t) || !parse_addr_port(t, family, s->remote_addr, &s->remote_port))
		return false;
	if (!next_token(&line, &t) || t.n != 2 || !parse_hex32(t.p, 2, &st))
		return false;
	s->state = (uint8_t)st;
	for (int i = 0; i < NET_SKIP_FIELDS; i++)
		if (!next_token(&line, &t))
			return false;
	return next_token(&line, &t) && parse_dec64(t, &s->inode) && (terminated || line.n > 0);
}

/* 1: a socket in *s, 0: header or blank line, -1: malformed. */
static int parse_line(struct span line, bool terminated, int family, struct target_sock *s)
{
	struct span t;

	if (!next_token(&line, &t))
		return 0;
	if (t.n == 2 && memcmp(t.p, "sl", 2) == 0)
		return 0;
	if (!is_slot(t))
		return -1;
	memset(s, 0, sizeof(*s));
	s->family = family;
	return parse_fields(line, terminated, family, s) ? 1 : -1;
}

int target_parse_proc_net(const char *text, size_t len, int family, target_sock_cb cb, void *ctx,
			  unsigned *bad_lines)
{
	struct target_sock s;
	int nsocks = 0;

	if ((!text && len) || !cb || (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;
		int r = parse_line((struct span){text, n}, nl != NULL, family, &s);

		text += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
		if (r < 0 && bad_lines)
			(*bad_lines)++;
		if (r <= 0)
			continue;
		r = cb(&s, ctx);
		if (r < 0)
			return r;
		if (nsocks < INT_MAX)
			nsocks++;
		if (r > 0)
			break;
	}
	return nsocks;
}

/* ---- reading files ------------------------------------------------------------------------- */

static int proc_path(char *buf, size_t size, const char *root, int pid, const char *rest)
{
	int n;

	if (pid > 0)
		n = snprintf(buf, size, "%s/%d/%s", root, pid, rest);
	else
		n = snprintf(buf, size, "%s/%s", root, rest);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

struct linebuf {
	char *p;
	size_t used, cap;
};

/* Makes room to read more; grows only when a single line fills the buffer. */
static int linebuf_room(struct linebuf *b)
{
	char *np;

	if (b->used < b->cap)
		return 0;
	if (b->cap >= NET_MAX_LINE)
		return -EFBIG;
	np = realloc(b->p, b->cap * 2);
	if (!np)
		return -ENOMEM;
	b->p = np;
	b->cap *= 2;
	return 0;
}

/* Parses the complete lines in the buffer (all of it at EOF), keeps the rest. */
static int linebuf_flush(struct linebuf *b, bool eof, int family, target_sock_cb cb, void *ctx)
{
	const char *nl = memrchr(b->p, '\n', b->used);
	size_t n = eof ? b->used : nl ? (size_t)(nl - b->p) + 1 : 0;
	int r;

	if (n == 0)
		return 0;
	r = target_parse_proc_net(b->p, n, family, cb, ctx, NULL);
	if (r < 0)
		return r;
	memmove(b->p, b->p + n, b->used - n);
	b->used -= n;
	return 0;
}

static int read_net_fd(int fd, int family, target_sock_cb cb, void *ctx)
{
	struct linebuf b = {malloc(NET_READ_CHUNK), 0, NET_READ_CHUNK};
	int r = b.p ? 0 : -ENOMEM;

	while (r == 0) {
		ssize_t n;

		r = linebuf_room(&b);
		if (r < 0)
			break;
		n = read(fd, b.p + b.used, b.cap - b.used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		b.used += (size_t)n;
		r = linebuf_flush(&b, n == 0, family, cb, ctx);
		if (n == 0)
			break;
	}
	free(b.p);
	return r;
}

/* Streams <root>[/<pid>]/net/tcp or tcp6 through cb, in chunks: /proc/net/tcp
 * of a busy broker can hold 100k sockets. A missing tcp6 (IPv6 disabled)
 * counts as empty. */
static int scan_net(const char *root, int pid, int family, target_sock_cb cb, void *ctx)
{
	const char *name = family == AF_INET6 ? "net/tcp6" : "net/tcp";
	char path[PATH_MAX];
	int fd, r;

	r = proc_path(path, sizeof(path), root, pid, name);
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT && family == AF_INET6 ? 0 : -errno;
	r = read_net_fd(fd, family, cb, ctx);
	close(fd);
	return r;
}

/* ---- socket inode sets --------------------------------------------------------------------- */

struct inode_ent {
	uint64_t inode;
	int port_idx;
	uint16_t port;
	bool seen;
};

struct inode_set {
	struct inode_ent *v;
	size_t n, cap;
};

/* Collects the sockets in one state on one of the ports (every port when
 * ports is NULL). */
struct collect {
	const uint16_t *ports;
	int nports;
	uint8_t state;
	struct inode_set *set;
};

static int inode_set_add(struct inode_set *set, uint64_t inode, int port_idx, uint16_t port)
{
	if (grow_array((void **)&set->v, &set->cap, set->n + 1, sizeof(*set->v), SIZE_MAX))
		return -ENOMEM;
	set->v[set->n++] = (struct inode_ent){inode, port_idx, port, false};
	return 0;
}

static int inode_cmp(const void *a, const void *b)
{
	const struct inode_ent *x = a, *y = b;

	return (x->inode > y->inode) - (x->inode < y->inode);
}

static struct inode_ent *inode_set_find(const struct inode_set *set, uint64_t inode)
{
	struct inode_ent key = {.inode = inode};

	return set->n ? bsearch(&key, set->v, set->n, sizeof(key), inode_cmp) : NULL;
}

static int port_index(const uint16_t *ports, int nports, uint16_t port)
{
	for (int i = 0; i < nports; i++)
		if (ports[i] == port)
			return i;
	return -1;
}

static int collect_cb(const struct target_sock *s, void *ctx)
{
	struct collect *c = ctx;
	int idx;

	if (s->state != c->state || s->inode == 0)
		return 0;
	idx = c->ports ? port_index(c->ports, c->nports, s->local_port) : 0;
	return idx < 0 ? 0 : inode_set_add(c->set, s->inode, idx, s->local_port);
}

/* The inodes of <root>[/<pid>]/net/tcp{,6} sockets in state on ports, sorted. */
static int collect_inodes(const char *root, int pid, struct collect *c)
{
	int r = scan_net(root, pid, AF_INET, collect_cb, c);

	if (r >= 0)
		r = scan_net(root, pid, AF_INET6, collect_cb, c);
	if (r < 0)
		return r;
	if (c->set->n)
		qsort(c->set->v, c->set->n, sizeof(*c->set->v), inode_cmp);
	return 0;
}

/* ---- scanning fds -------------------------------------------------------------------------- */

/* "socket:[12345]" → 12345. */
static bool parse_socket_link(const char *link, size_t n, uint64_t *inode)
{
	static const char pre[] = "socket:[";
	size_t np = sizeof(pre) - 1;

	if (n < np + 2 || memcmp(link, pre, np) != 0 || link[n - 1] != ']')
		return false;
	return parse_dec64((struct span){link + np, n - np - 1}, inode);
}

static int match_fd(DIR *d, const char *name, struct inode_set *set)
{
	char link[64];
	struct inode_ent *e;
	uint64_t inode;
	ssize_t n;

	if (name[0] == '.')
		return 0;
	n = readlinkat(dirfd(d), name, link, sizeof(link));
	/* a process kafkalat may not ptrace lists its fds but hides their targets */
	if (n < 0 && (errno == EACCES || errno == EPERM))
		return -EACCES;
	if (n < 0 || (size_t)n >= sizeof(link) || !parse_socket_link(link, (size_t)n, &inode))
		return 0;
	e = inode_set_find(set, inode);
	if (!e)
		return 0;
	e->seen = true;
	return 1;
}

/* Marks the set's sockets that pid holds open; returns how many of its fds
 * matched, -ESRCH if pid is gone, or a negative errno (-EACCES: its fds or
 * their targets are not ours to read). */
static int scan_pid_fds(const char *root, int pid, struct inode_set *set)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r, matched = 0;

	r = proc_path(path, sizeof(path), root, pid, "fd");
	if (r < 0)
		return r;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while (r >= 0 && (de = readdir(d)) != NULL) {
		r = match_fd(d, de->d_name, set);
		if (r > 0 && matched < INT_MAX)
			matched++;
	}
	closedir(d);
	return r < 0 ? r : matched;
}

/* A /proc directory entry that is a pid: all digits, in int range. */
static int dirent_pid(const char *name)
{
	uint64_t v;

	if (!parse_dec64((struct span){name, strlen(name)}, &v) || v == 0 || v > INT_MAX)
		return -1;
	return (int)v;
}

/* ---- public: finding the listener ---------------------------------------------------------- */

struct owner_scan {
	int *pids; /* the owners found so far, in /proc order */
	int max;
	int n;
	bool denied;   /* some process's fds were unreadable */
	bool too_many; /* more than max processes own listeners */
};

static int scan_owner(const char *root, int pid, struct inode_set *set, struct owner_scan *o)
{
	int r = scan_pid_fds(root, pid, set);

	if (r == -EACCES || r == -EPERM)
		o->denied = true;
	else if (r == -ESRCH)
		return 0; /* exited meanwhile */
	else if (r < 0)
		return r;
	else if (r > 0 && o->n == o->max)
		o->too_many = true;
	else if (r > 0)
		o->pids[o->n++] = pid;
	return 0;
}

static int scan_owners(const char *root, struct inode_set *set, struct owner_scan *o)
{
	struct dirent *de;
	DIR *d = opendir(root);
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d)) != NULL) {
		int pid = dirent_pid(de->d_name);

		if (pid > 0)
			r = scan_owner(root, pid, set, o);
	}
	closedir(d);
	return r;
}

static bool ports_valid(const uint16_t *ports, int nports)
{
	return ports && nports > 0;
}

int target_find_listeners(const char *proc_root, const uint16_t *ports, int nports, int *pids,
			  int max, int *npids)
{
	struct inode_set set = {0};
	struct collect c = {ports, nports, TARGET_TCP_LISTEN, &set};
	struct owner_scan o = {.pids = pids, .max = max};
	int r;

	if (!proc_root || !ports_valid(ports, nports) || !pids || max <= 0 || !npids)
		return -EINVAL;
	r = collect_inodes(proc_root, 0, &c);
	if (r == 0 && set.n == 0)
		r = -ENOENT;
	if (r == 0)
		r = scan_owners(proc_root, &set, &o);
	free(set.v);
	if (r < 0)
		return r;
	if (o.too_many)
		return -E2BIG;
	if (!o.n)
		return o.denied ? -EACCES : -ENOENT;
	*npids = o.n;
	return 0;
}

int target_find_listener(const char *proc_root, const uint16_t *ports, int nports, int *pid_out)
{
	int pids[1], n = 0, r;

	if (!pid_out)
		return -EINVAL;
	r = target_find_listeners(proc_root, ports, nports, pids, 1, &n);
	if (r == -E2BIG)
		return -ENOTUNIQ;
	if (r == 0)
		*pid_out = pids[0];
	return r;
}

/* ---- public: one known pid ----------------------------------------------------------------- */

/* Marks which of pid's sockets in state on ports are really its own: the
 * pid's net/tcp lists its whole network namespace. */
static int pid_sockets(const char *root, int pid, struct collect *c)
{
	int r = target_check_pid(root, pid);

	if (r == 0)
		r = collect_inodes(root, pid, c);
	if (r == -ENOENT)
		r = -ESRCH;
	if (r == 0 && c->set->n)
		r = scan_pid_fds(root, pid, c->set);
	return r < 0 ? r : 0;
}

/* The ESTABLISHED socket from one port to another. */
struct sock_match {
	uint16_t local_port, remote_port;
	uint64_t inode;
};

static int match_cb(const struct target_sock *s, void *ctx)
{
	struct sock_match *m = ctx;

	if (s->state != TARGET_TCP_ESTABLISHED || s->local_port != m->local_port ||
	    s->remote_port != m->remote_port || !s->inode)
		return 0;
	m->inode = s->inode;
	return 1;
}

int target_sock_inode(const char *text, size_t len, int family, uint16_t local_port,
		      uint16_t remote_port, uint64_t *inode)
{
	struct sock_match m = {local_port, remote_port, 0};
	int r = target_parse_proc_net(text, len, family, match_cb, &m, NULL);

	if (r < 0)
		return r;
	if (!m.inode)
		return -ENOENT;
	*inode = m.inode;
	return 0;
}

/* Does pid hold the socket from local_port to remote_port? 1, 0, or -errno. */
static int holds_sock(const char *root, int pid, uint16_t local_port, uint16_t remote_port)
{
	struct sock_match m = {local_port, remote_port, 0};
	struct inode_set set = {0};
	int r = scan_net(root, pid, AF_INET, match_cb, &m);

	if (r >= 0 && !m.inode)
		r = scan_net(root, pid, AF_INET6, match_cb, &m);
	if (r < 0 || !m.inode)
		return r < 0 ? r : 0;
	r = inode_set_add(&set, m.inode, 0, local_port);
	if (!r)
		r = scan_pid_fds(root, pid, &set);
	free(set.v);
	return r < 0 ? r : r > 0;
}

int target_peer_pid(const char *proc_root, const int *pids, int npids, uint16_t peer_port,
		    uint16_t listen_port, int *pid_out)
{
	for (int i = 0; i < npids; i++) {
		int r = holds_sock(proc_root, pids[i], peer_port, listen_port);

		if (r > 0) {
			*pid_out = pids[i];
			return 0;
		}
	}
	return -ENOENT;
}

int target_listening_ports(const char *proc_root, int pid, const uint16_t *ports, int nports,
			   bool *listening)
{
	struct inode_set set = {0};
	struct collect c = {ports, nports, TARGET_TCP_LISTEN, &set};
	int r, count = 0;

	if (!proc_root || !ports_valid(ports, nports) || !listening)
		return -EINVAL;
	memset(listening, 0, (size_t)nports * sizeof(*listening));
	r = pid_sockets(proc_root, pid, &c);
	for (size_t i = 0; r == 0 && i < set.n; i++)
		if (set.v[i].seen)
			listening[set.v[i].port_idx] = true;
	for (int i = 0; r == 0 && i < nports; i++)
		count += listening[i];
	free(set.v);
	return r < 0 ? r : count;
}

static int port_cmp(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

int target_own_listen_ports(const char *proc_root, int pid, uint16_t *ports, int max)
{
	struct inode_set set = {0};
	struct collect c = {NULL, 0, TARGET_TCP_LISTEN, &set};
	uint16_t *all = NULL;
	int r, n = 0, k = 0;

	if (!proc_root || (max > 0 && !ports))
		return -EINVAL;
	r = pid_sockets(proc_root, pid, &c);
	if (r == 0 && set.n && !(all = calloc(set.n, sizeof(*all))))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < set.n; i++)
		if (set.v[i].seen)
			all[n++] = set.v[i].port;
	if (n)
		qsort(all, (size_t)n, sizeof(*all), port_cmp);
	/* an IPv4 and an IPv6 listener on one port count once */
	for (int i = 0; i < n; i++) {
		if (k && all[i] == all[k - 1])
			continue;
		all[k] = all[i];
		if (k < max)
			ports[k] = all[i];
		k++;
	}
	free(all);
	free(set.v);
	return r < 0 ? r : k;
}

int target_count_connections(const char *proc_root, int pid, const uint16_t *ports, int nports,
			     unsigned *count)
{
	struct inode_set set = {0};
	struct collect c = {ports, nports, TARGET_TCP_ESTABLISHED, &set};
	unsigned n = 0;
	int r;

	if (!proc_root || !ports_valid(ports, nports) || !count)
		return -EINVAL;
	r = pid_sockets(proc_root, pid, &c);
	for (size_t i = 0; r == 0 && i < set.n; i++)
		n += set.v[i].seen;
	free(set.v);
	if (r == 0)
		*count = n;
	return r;
}

int target_check_pid(const char *proc_root, int pid)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	if (!proc_root)
		return -EINVAL;
	if (pid <= 0)
		return -ESRCH;
	r = proc_path(path, sizeof(path), proc_root, pid, "");
	if (r < 0)
		return r;
	if (stat(path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ESRCH : -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ESRCH;
}

/* ---- public: comm and cmdline -------------------------------------------------------------- */

/* Up to len - 1 bytes of <root>/<pid>/<name>; returns the byte count. */
static int read_small(const char *root, int pid, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	size_t got = 0;
	int fd, r;

	if (!root || !buf || len == 0 || len > INT_MAX)
		return -EINVAL;
	buf[0] = '\0';
	if (pid <= 0)
		return -ESRCH;
	r = proc_path(path, sizeof(path), root, pid, name);
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (got < len - 1) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? (errno == ESRCH ? -ESRCH : -errno) : 0;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	return r < 0 ? r : (int)got;
}

/* NUL-terminates after n bytes, turns NULs into spaces, trims trailing
 * whitespace and makes control characters harmless for a terminal. */
static void tidy_text(char *buf, size_t n)
{
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\0' || c == '\n' || c == '\t')
			buf[i] = ' ';
		else if (c < 0x20 || c == 0x7f)
			buf[i] = '?';
	}
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

int target_comm(const char *proc_root, int pid, char *buf, size_t len)
{
	int n = read_small(proc_root, pid, "comm", buf, len);

	if (n < 0)
		return n;
	tidy_text(buf, (size_t)n);
	return 0;
}

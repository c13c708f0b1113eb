// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests for the target module: /proc/net/tcp parsing against the
 * kernel's exact format, and listener/connection lookup on a fake proc tree
 * (plus a few checks against the real /proc with sockets of our own). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kafkalat/target.h"

/* ---- the kernel's line formats (net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c) --------------- */

static const char HDR4[] = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
			   "retrnsmt   uid  timeout inode";
static const char HDR6[] =
    "  sl  local_address                         remote_address          "
    "              st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

/* An address as the kernel prints it: each 32-bit word as a host-order %08X. */
static void hex_addr(int family, const char *ip, char *out)
{
	uint8_t a[16];
	int words = family == AF_INET6 ? 4 : 1;

	assert_int_equal(inet_pton(family, ip, a), 1);
	for (int i = 0; i < words; i++) {
		uint32_t w;

		memcpy(&w, a + 4 * i, 4);
		sprintf(out + 8 * i, "%08X", w);
	}
}

struct sk {
	int family;
	const char *lip;
	uint16_t lport;
	const char *rip;
	uint16_t rport;
	int state;
	unsigned long long inode;
};

/* One /proc/net/tcp{,6} line; IPv4 lines are padded to 149 columns like the kernel's. */
static void sk_line(const struct sk *s, int slot, char *out, size_t size)
{
	char l[40], r[40], body[256];

	hex_addr(s->family, s->lip, l);
	hex_addr(s->family, s->rip, r);
	snprintf(body, sizeof(body),
		 "%4d: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 00000000  1000        0 "
		 "%llu 1 0000000000000000 100 0 0 10 0",
		 slot, l, s->lport, r, s->rport, s->state, s->inode);
	if (s->family == AF_INET)
		snprintf(out, size, "%-149s\n", body);
	else
		snprintf(out, size, "%s\n", body);
}

/* ---- a fake proc tree ------------------------------------------------------------------- */

struct fake {
	char root[64];
};

static void put_file(struct fake *f, const char *rel, const char *data, size_t len)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void put_dir(struct fake *f, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

/* Writes net/tcp and net/tcp6 (at the root, or for a pid) from a list of sockets. */
static void put_net(struct fake *f, int pid, const struct sk *socks, int n)
{
	char rel[64], line[256], *buf[2];
	size_t len[2];
	FILE *fp[2];

	for (int k = 0; k < 2; k++) {
		fp[k] = open_memstream(&buf[k], &len[k]);
		assert_non_null(fp[k]);
	}
	fprintf(fp[0], "%-149s\n", HDR4);
	fputs(HDR6, fp[1]);
	for (int i = 0; i < n; i++) {
		int k = socks[i].family == AF_INET6;

		sk_line(&socks[i], i, line, sizeof(line));
		fputs(line, fp[k]);
	}
	if (pid)
		snprintf(rel, sizeof(rel), "%d/net", pid);
	else
		snprintf(rel, sizeof(rel), "net");
	put_dir(f, rel);
	for (int k = 0; k < 2; k++) {
		fclose(fp[k]);
		if (pid)
			snprintf(rel, sizeof(rel), "%d/net/tcp%s", pid, k ? "6" : "");
		else
			snprintf(rel, sizeof(rel), "net/tcp%s", k ? "6" : "");
		put_file(f, rel, buf[k], len[k]);
		free(buf[k]);
	}
}

static void put_pid(struct fake *f, int pid, const char *comm, const char *cmdline, size_t cmdlen)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "%d", pid);
	put_dir(f, rel);
	snprintf(rel, sizeof(rel), "%d/fd", pid);
	put_dir(f, rel);
	snprintf(rel, sizeof(rel), "%d/comm", pid);
	put_file(f, rel, comm, strlen(comm));
	snprintf(rel, sizeof(rel), "%d/cmdline", pid);
	put_file(f, rel, cmdline, cmdlen);
}

static void put_fd(struct fake *f, int pid, int fd, const char *target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%d/fd/%d", f->root, pid, fd);
	assert_int_equal(symlink(target, path), 0);
}

static void put_sock_fd(struct fake *f, int pid, int fd, unsigned long inode)
{
	char target[64];

	snprintf(target, sizeof(target), "socket:[%lu]", inode);
	put_fd(f, pid, fd, target);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup_fake(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->root, "/tmp/kafkalat-target-XXXXXX");
	if (!mkdtemp(f->root)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown_fake(void **state)
{
	struct fake *f = *state;
	int r = nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	free(f);
	return r;
}

/*
 * The standard scene, all in one network namespace:
 *   pid 100 (broker): listens on 9092 (IPv4, inode 1001) and 9093 (IPv6, 1002),
 *                     3 established on 9092/9093 (1011, 1012, 1013: IPv6), one
 *                     established on 2181 as a client (1014), plus files and a pipe;
 *   pid 200 (other):  listens on 22 (2001), holds an established 9092 socket (2011);
 *   pid 300 (other):  listens on 8080 (IPv4, 3001); pid 301 listens on 8080 (IPv6, 3002).
 * Plus a TIME_WAIT on 9092 (inode 0) and a LISTEN on 7000 nobody owns (4001).
 */
static const struct sk scene[] = {
    {AF_INET, "0.0.0.0", 9092, "0.0.0.0", 0, 0x0A, 1001},
    {AF_INET, "0.0.0.0", 22, "0.0.0.0", 0, 0x0A, 2001},
    {AF_INET, "127.0.0.1", 8080, "0.0.0.0", 0, 0x0A, 3001},
    {AF_INET, "0.0.0.0", 7000, "0.0.0.0", 0, 0x0A, 4001},
    {AF_INET, "10.0.0.5", 9092, "10.0.0.9", 40001, 0x01, 1011},
    {AF_INET, "10.0.0.5", 9092, "10.0.0.9", 40002, 0x01, 1012},
    {AF_INET, "10.0.0.5", 9092, "10.0.0.7", 40003, 0x01, 2011},
    {AF_INET, "10.0.0.5", 45000, "10.0.0.8", 2181, 0x01, 1014},
    {AF_INET, "10.0.0.5", 9092, "10.0.0.9", 40004, 0x06, 0},
    {AF_INET6, "::", 9093, "::", 0, 0x0A, 1002},
    {AF_INET6, "::1", 8080, "::", 0, 0x0A, 3002},
    {AF_INET6, "fd00::5", 9093, "fd00::9", 50001, 0x01, 1013},
    {AF_INET6, "fd00::5", 9093, "fd00::9", 50002, 0x08, 1015}, /* CLOSE_WAIT */
};

static void build_scene(struct fake *f)
{
	static const char cmd[] = "java\0-Xmx1G\0kafka.Kafka\0config/server.properties\0";
	int n = (int)(sizeof(scene) / sizeof(scene[0]));

	put_net(f, 0, scene, n);
	put_pid(f, 100, "java\n", cmd, sizeof(cmd) - 1);
	put_pid(f, 200, "sshd\n", "sshd\0", 5);
	put_pid(f, 300, "web\n", "web\0", 4);
	put_pid(f, 301, "web6\n", "web6\0", 5);
	put_net(f, 100, scene, n);
	put_net(f, 200, scene, n);
	put_net(f, 300, scene, n);
	put_net(f, 301, scene, n);
	put_fd(f, 100, 0, "/dev/null");
	put_fd(f, 100, 1, "pipe:[77]");
	put_fd(f, 100, 3, "/var/lib/kafka/t-0/00000000000000000000.log");
	put_sock_fd(f, 100, 4, 1001);
	put_sock_fd(f, 100, 5, 1002);
	put_sock_fd(f, 100, 6, 1011);
	put_sock_fd(f, 100, 7, 1012);
	put_sock_fd(f, 100, 8, 1013);
	put_sock_fd(f, 100, 9, 1014);
	put_sock_fd(f, 100, 10, 1011); /* a dup() counts once */
	put_sock_fd(f, 100, 11, 1015);
	put_fd(f, 100, 12, "anon_inode:[eventpoll]");
	put_sock_fd(f, 200, 3, 2001);
	put_sock_fd(f, 200, 4, 2011);
	put_sock_fd(f, 300, 3, 3001);
	put_sock_fd(f, 301, 3, 3002);
	put_dir(f, "self"); /* non-numeric entries are not pids */
	put_dir(f, "sys");
}

/* ---- parsing ----------------------------------------------------------------------------- */

struct got {
	struct target_sock s[16];
	int n;
	int stop_after; /* return 1 after this many, 0: never */
	int fail_with;	/* return this (negative) on the first socket */
};

static int got_cb(const struct target_sock *s, void *ctx)
{
	struct got *g = ctx;

	if (g->fail_with)
		return g->fail_with;
	if (g->n < 16)
		g->s[g->n] = *s;
	g->n++;
	return g->stop_after && g->n >= g->stop_after;
}

static void test_parse_ipv4_real_format(void **state)
{
	/* Verbatim from a machine's /proc/net/tcp, header and padding included. */
	static const char text[] =
	    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	    "timeout inode                                                     \n"
	    "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
	    "       0 587 1 000000006e2d8d82 100 0 0 10 0                       \n"
	    "   1: 0100007F:8D86 0100007F:94D9 06 00000000:00000000 03:0000087F 00000000     0 "
	    "       0 0 3 00000000c4d56370                                      \n";
	struct got g = {0};
	unsigned bad = 0;
	uint8_t lo[4];

	(void)state;
	assert_int_equal(target_parse_proc_net(text, strlen(text), AF_INET, got_cb, &g, &bad), 2);
	assert_int_equal(bad, 0);
	assert_int_equal(g.s[0].family, AF_INET);
	assert_int_equal(g.s[0].local_port, 2024); /* 0x07E8 */
	assert_int_equal(g.s[0].state, TARGET_TCP_LISTEN);
	assert_int_equal(g.s[0].inode, 587);
	inet_pton(AF_INET, "127.0.0.1", lo);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	assert_memory_equal(g.s[1].local_addr, lo, 4);
	assert_memory_equal(g.s[1].remote_addr, lo, 4);
#endif
	for (int i = 4; i < 16; i++)
		assert_int_equal(g.s[1].local_addr[i], 0);
	assert_int_equal(g.s[1].local_port, 0x8D86);
	assert_int_equal(g.s[1].remote_port, 0x94D9);
	assert_int_equal(g.s[1].state, 0x06);
	assert_int_equal(g.s[1].inode, 0);
}

static void test_parse_ports_host_order(void **state)
{
	struct sk s = {AF_INET, "192.168.1.20", 9092, "10.1.2.3", 0xABCD, 0x01, 4294967296ull};
	struct got g = {0};
	char line[256];
	uint8_t a[4];

	(void)state;
	sk_line(&s, 12345, line, sizeof(line));
	assert_non_null(strstr(line, ":2384 ")); /* 9092 = 0x2384 */
	assert_int_equal(target_parse_proc_net(line, strlen(line), AF_INET, got_cb, &g, NULL), 1);
	assert_int_equal(g.s[0].local_port, 9092);
	assert_int_equal(g.s[0].remote_port, 0xABCD);
	assert_int_equal(g.s[0].inode, 4294967296ull);
	inet_pton(AF_INET, "192.168.1.20", a);
	assert_memory_equal(g.s[0].local_addr, a, 4);
	inet_pton(AF_INET, "10.1.2.3", a);
	assert_memory_equal(g.s[0].remote_addr, a, 4);
}

static void test_parse_ipv6_byte_order(void **state)
{
	struct sk s = {AF_INET6, "2001:db8::1:2:3", 9093, "::ffff:127.0.0.1", 1, 0x01, 42};
	struct got g = {0};
	char line[256];
	uint8_t a[16];

	(void)state;
	sk_line(&s, 0, line, sizeof(line));
	assert_int_equal(target_parse_proc_net(line, strlen(line), AF_INET6, got_cb, &g, NULL), 1);
	assert_int_equal(g.s[0].family, AF_INET6);
	inet_pton(AF_INET6, "2001:db8::1:2:3", a);
	assert_memory_equal(g.s[0].local_addr, a, 16);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", a);
	assert_memory_equal(g.s[0].remote_addr, a, 16);
	assert_int_equal(g.s[0].local_port, 9093);
}

static void test_parse_ipv6_literal(void **state)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* As a little-endian kernel prints ::1 and ::ffff:127.0.0.1. */
	static const char text[] =
	    "  sl  local_address                         remote_address                        st "
	    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	    "   0: 00000000000000000000000001000000:1F90 0000000000000000FFFF00000100007F:D431 01 "
	    "00000000:00000000 00:00000000 00000000  1000        0 31337 1 0000000000000000 20 4 "
	    "30 10 -1\n";
	struct got g = {0};
	unsigned bad = 0;
	uint8_t a[16];

	assert_int_equal(target_parse_proc_net(text, strlen(text), AF_INET6, got_cb, &g, &bad), 1);
	assert_int_equal(bad, 0);
	inet_pton(AF_INET6, "::1", a);
	assert_memory_equal(g.s[0].local_addr, a, 16);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", a);
	assert_memory_equal(g.s[0].remote_addr, a, 16);
	assert_int_equal(g.s[0].local_port, 8080);
	assert_int_equal(g.s[0].remote_port, 0xD431);
	assert_int_equal(g.s[0].inode, 31337);
#endif
	(void)state;
}

static void test_parse_malformed_lines(void **state)
{
	static const char good[] = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 "
				   "00:00000000 00000000     0        0 555 1 0000000000000000\n";
	/* Each malformed in one way; the short "0:0 0:0 0 0 0" stand for the
	 * five skipped fields (tx:rx tr:when retrnsmt uid timeout). */
	static const char *bad_lines[] = {
	    "   1: 0100007F:1F90 00000000:0000 0A 0:0 0:0\n",	       /* truncated */
	    "   2: 0100007G:1F90 00000000:0000 0A 0:0 0:0 0 0 0 5\n",  /* non-hex */
	    "   3: 0100007F:1F9 00000000:0000 0A 0:0 0:0 0 0 0 5\n",   /* short port */
	    "   4: 0100007F1F90 00000000:0000 0A 0:0 0:0 0 0 0 5\n",   /* no ':' */
	    "   5: 0100007F:1F90 00000000:0000 A 0:0 0:0 0 0 0 5\n",   /* state */
	    "   6: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 x5\n", /* inode */
	    "   7: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 99999999999999999999999\n",
	    "  x8: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 5\n", /* slot */
	    "   9 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 5\n",  /* slot */
	    "  10: 00000000000000000000000001000000:1F90 0:0 0A 0:0 0:0 0 0 0 5\n",
	    "  11: -100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 5\n", /* sign */
	    "  12: 0100007F:1F90\n",
	    "  13:\n",
	    "garbage\n",
	};
	char text[2048] = "";
	struct got g = {0};
	unsigned bad = 0;
	int nbad = (int)(sizeof(bad_lines) / sizeof(bad_lines[0]));

	(void)state;
	strcat(text, good);
	for (int i = 0; i < nbad; i++) {
		strcat(text, bad_lines[i]);
		strcat(text, i % 3 == 0 ? good : "\n   \n");
	}
	assert_int_equal(target_parse_proc_net(text, strlen(text), AF_INET, got_cb, &g, &bad),
			 1 + (nbad + 2) / 3);
	assert_int_equal(bad, nbad);
	for (int i = 0; i < g.n && i < 16; i++)
		assert_int_equal(g.s[i].inode, 555);
}

static void test_parse_not_nul_terminated(void **state)
{
	/* The last line has no newline and the buffer goes on past len. */
	static const char text[] = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 "
				   "00:00000000 00000000     0        0 123456789 1 0";
	char buf[sizeof(text) + 8];
	struct got g = {0};
	unsigned bad = 0;
	size_t inode_at = (size_t)(strstr(text, "123456789") - text);

	(void)state;
	memcpy(buf, text, sizeof(text) - 1);
	memset(buf + sizeof(text) - 1, '7', 9);
	assert_int_equal(target_parse_proc_net(buf, sizeof(text) - 1, AF_INET, got_cb, &g, &bad),
			 1);
	assert_int_equal(g.s[0].inode, 123456789);
	assert_int_equal(bad, 0);
	/* Cut right after the inode, inside it, or before it: the inode could be
	 * wrong, so the line is malformed. */
	assert_int_equal(target_parse_proc_net(buf, inode_at + 9, AF_INET, got_cb, &g, &bad), 0);
	assert_int_equal(target_parse_proc_net(buf, inode_at + 5, AF_INET, got_cb, &g, &bad), 0);
	assert_int_equal(target_parse_proc_net(buf, 30, AF_INET, got_cb, &g, &bad), 0);
	assert_int_equal(bad, 3);
	/* With its newline the same cut line is complete. */
	memcpy(buf, text, inode_at + 9);
	buf[inode_at + 9] = '\n';
	g.n = 0;
	assert_int_equal(target_parse_proc_net(buf, inode_at + 10, AF_INET, got_cb, &g, &bad), 1);
	assert_int_equal(g.s[0].inode, 123456789);
	assert_int_equal(target_parse_proc_net(buf, 0, AF_INET, got_cb, &g, &bad), 0);
	assert_int_equal(bad, 3);
}

static void test_parse_callback_and_args(void **state)
{
	char text[1024] = "";
	char line[256];
	struct got g = {0};

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct sk s = {AF_INET, "1.2.3.4", (uint16_t)(1000 + i), "0.0.0.0", 0, 0x0A, 7};

		sk_line(&s, i, line, sizeof(line));
		strcat(text, line);
	}
	g.stop_after = 2;
	assert_int_equal(target_parse_proc_net(text, strlen(text), AF_INET, got_cb, &g, NULL), 2);
	assert_int_equal(g.s[1].local_port, 1001);
	g = (struct got){.fail_with = -EIO};
	assert_int_equal(target_parse_proc_net(text, strlen(text), AF_INET, got_cb, &g, NULL),
			 -EIO);
	assert_int_equal(target_parse_proc_net(text, strlen(text), AF_UNIX, got_cb, &g, NULL),
			 -EINVAL);
	assert_int_equal(target_parse_proc_net(NULL, 5, AF_INET, got_cb, &g, NULL), -EINVAL);
	assert_int_equal(target_parse_proc_net(text, 5, AF_INET, NULL, &g, NULL), -EINVAL);
	/* An IPv4 file parsed as IPv6: every line malformed, nothing returned. */
	unsigned bad = 0;
	assert_int_equal(target_parse_proc_net(text, strlen(text), AF_INET6, got_cb, &g, &bad), 0);
	assert_int_equal(bad, 3);
}

/* ---- the fake tree ----------------------------------------------------------------------- */

static void test_find_listener_ipv4_ipv6(void **state)
{
	struct fake *f = *state;
	uint16_t p4 = 9092, p6 = 9093, both[] = {1, 9093, 9092};
	int pid = 0;

	build_scene(f);
	assert_int_equal(target_find_listener(f->root, &p4, 1, &pid), 0);
	assert_int_equal(pid, 100);
	pid = 0;
	assert_int_equal(target_find_listener(f->root, &p6, 1, &pid), 0);
	assert_int_equal(pid, 100);
	pid = 0;
	assert_int_equal(target_find_listener(f->root, both, 3, &pid), 0); /* same owner */
	assert_int_equal(pid, 100);
	p4 = 22;
	assert_int_equal(target_find_listener(f->root, &p4, 1, &pid), 0);
	assert_int_equal(pid, 200);
}

static void test_find_listener_errors(void **state)
{
	struct fake *f = *state;
	uint16_t nobody = 9999, connected_only = 45000, unowned = 7000, two = 8080;
	uint16_t mixed[] = {9092, 22};
	int pid = -1;

	build_scene(f);
	assert_int_equal(target_find_listener(f->root, &nobody, 1, &pid), -ENOENT);
	assert_int_equal(target_find_listener(f->root, &connected_only, 1, &pid), -ENOENT);
	assert_int_equal(target_find_listener(f->root, &unowned, 1, &pid), -ENOENT);
	assert_int_equal(target_find_listener(f->root, &two, 1, &pid), -ENOTUNIQ);
	assert_int_equal(target_find_listener(f->root, mixed, 2, &pid), -ENOTUNIQ);
	assert_int_equal(pid, -1);
	assert_int_equal(target_find_listener(f->root, mixed, 0, &pid), -EINVAL);
	assert_int_equal(target_find_listener(f->root, NULL, 1, &pid), -EINVAL);
	assert_int_equal(target_find_listener(f->root, mixed, 1, NULL), -EINVAL);
	/* A listening socket shared by a forked child is ambiguous too. */
	put_sock_fd(f, 301, 4, 1001);
	assert_int_equal(target_find_listener(f->root, mixed, 1, &pid), -ENOTUNIQ);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Every listener of the ports, several brokers at once. */
static void test_find_listeners(void **state)
{
	struct fake *f = *state;
	uint16_t mixed[] = {9092, 22}, two = 8080, nobody = 9999;
	int pids[4] = {0}, n = 0;

	build_scene(f);
	assert_int_equal(target_find_listeners(f->root, mixed, 2, pids, 4, &n), 0);
	assert_int_equal(n, 2);
	qsort(pids, (size_t)n, sizeof(int), cmp_int);
	assert_int_equal(pids[0], 100);
	assert_int_equal(pids[1], 200);
	n = 0;
	assert_int_equal(target_find_listeners(f->root, &two, 1, pids, 4, &n), 0);
	assert_int_equal(n, 2);
	/* more owners than room: none returned */
	n = 7;
	assert_int_equal(target_find_listeners(f->root, mixed, 2, pids, 1, &n), -E2BIG);
	assert_int_equal(n, 7);
	assert_int_equal(target_find_listeners(f->root, &nobody, 1, pids, 4, &n), -ENOENT);
	assert_int_equal(target_find_listeners(f->root, mixed, 2, pids, 0, &n), -EINVAL);
}

static void test_find_listener_no_tcp6(void **state)
{
	struct fake *f = *state;
	char path[256];
	uint16_t p = 9092;
	int pid = 0;

	build_scene(f);
	snprintf(path, sizeof(path), "%s/net/tcp6", f->root);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(target_find_listener(f->root, &p, 1, &pid), 0);
	assert_int_equal(pid, 100);
	snprintf(path, sizeof(path), "%s/net/tcp", f->root);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(target_find_listener(f->root, &p, 1, &pid), -ENOENT);
}

static void test_find_listener_large_file(void **state)
{
	/* Far more than one read chunk: the listener is on the last line. */
	struct fake *f = *state;
	const int n = 30000;
	struct sk *s = calloc((size_t)n + 1, sizeof(*s));
	uint16_t p = 9092;
	int pid = 0;

	assert_non_null(s);
	for (int i = 0; i < n; i++)
		s[i] = (struct sk){AF_INET,
				   "10.0.0.5",
				   9092,
				   "10.0.0.9",
				   (uint16_t)(1024 + i),
				   0x01,
				   (unsigned long long)(100000 + i)};
	s[n] = (struct sk){AF_INET, "0.0.0.0", 9092, "0.0.0.0", 0, 0x0A, 1001};
	put_net(f, 0, s, n + 1);
	put_pid(f, 100, "java\n", "java", 4);
	put_net(f, 100, s, n + 1);
	put_sock_fd(f, 100, 3, 1001);
	for (int i = 0; i < 500; i++)
		put_sock_fd(f, 100, 10 + i, (unsigned long)(100000 + i * 7));
	free(s);
	assert_int_equal(target_find_listener(f->root, &p, 1, &pid), 0);
	assert_int_equal(pid, 100);
	unsigned count = 0;
	assert_int_equal(target_count_connections(f->root, 100, &p, 1, &count), 0);
	assert_int_equal(count, 500);
}

static void test_listening_ports(void **state)
{
	struct fake *f = *state;
	uint16_t ports[] = {9092, 9093, 22, 9999};
	bool l[4];

	build_scene(f);
	assert_int_equal(target_listening_ports(f->root, 100, ports, 4, l), 2);
	assert_true(l[0] && l[1]);
	assert_false(l[2] || l[3]);
	assert_int_equal(target_listening_ports(f->root, 200, ports, 4, l), 1);
	assert_true(l[2]);
	assert_false(l[0] || l[1] || l[3]);
	assert_int_equal(target_listening_ports(f->root, 555, ports, 4, l), -ESRCH);
	assert_int_equal(target_listening_ports(f->root, 100, ports, 0, l), -EINVAL);
}

static void test_own_listen_ports(void **state)
{
	struct fake *f = *state;
	int n = (int)(sizeof(scene) / sizeof(scene[0]));
	uint16_t p[4] = {0};

	build_scene(f);
	assert_int_equal(target_own_listen_ports(f->root, 100, p, 4), 2);
	assert_int_equal(p[0], 9092);
	assert_int_equal(p[1], 9093);
	/* fewer slots than ports: the first ones, and how many in all */
	memset(p, 0, sizeof(p));
	assert_int_equal(target_own_listen_ports(f->root, 100, p, 1), 2);
	assert_int_equal(p[0], 9092);
	assert_int_equal(p[1], 0);
	assert_int_equal(target_own_listen_ports(f->root, 100, NULL, 0), 2);
	/* 300 and 301 share the namespace's 8080 listeners, one each */
	assert_int_equal(target_own_listen_ports(f->root, 300, p, 4), 1);
	assert_int_equal(p[0], 8080);
	/* an IPv4 and an IPv6 listener on one port: one port */
	put_pid(f, 500, "dual\n", "dual\0", 5);
	put_net(f, 500, scene, n);
	put_sock_fd(f, 500, 3, 3001);
	put_sock_fd(f, 500, 4, 3002);
	assert_int_equal(target_own_listen_ports(f->root, 500, p, 4), 1);
	assert_int_equal(p[0], 8080);
	/* a process that holds no listener (sleep) */
	put_pid(f, 400, "sleep\n", "sleep\0", 6);
	put_net(f, 400, scene, n);
	put_fd(f, 400, 0, "/dev/null");
	assert_int_equal(target_own_listen_ports(f->root, 400, p, 4), 0);
	assert_int_equal(target_own_listen_ports(f->root, 555, p, 4), -ESRCH);
	assert_int_equal(target_own_listen_ports(f->root, 100, NULL, 4), -EINVAL);
}

static void test_count_connections(void **state)
{
	struct fake *f = *state;
	uint16_t kafka[] = {9092, 9093}, zk = 2181, client = 45000, v4 = 9092;
	unsigned count = 99;

	build_scene(f);
	/* 1011, 1012 (IPv4) and 1013 (IPv6); not the TIME_WAIT, the CLOSE_WAIT,
	 * the listeners, pid 200's 2011 or the dup'ed fd. */
	assert_int_equal(target_count_connections(f->root, 100, kafka, 2, &count), 0);
	assert_int_equal(count, 3);
	assert_int_equal(target_count_connections(f->root, 100, &v4, 1, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(target_count_connections(f->root, 100, &zk, 1, &count), 0);
	assert_int_equal(count, 0); /* the remote port does not count */
	assert_int_equal(target_count_connections(f->root, 100, &client, 1, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(target_count_connections(f->root, 200, kafka, 2, &count), 0);
	assert_int_equal(count, 1);
	count = 77;
	assert_int_equal(target_count_connections(f->root, 555, kafka, 2, &count), -ESRCH);
	assert_int_equal(count, 77);
}

static void test_pid_comm(void **state)
{
	struct fake *f = *state;
	char buf[64], small[5];

	build_scene(f);
	put_pid(f, 400, "bad\x1b[0mname\n", "a\0b\x07\0\0", 6);
	assert_int_equal(target_check_pid(f->root, 100), 0);
	assert_int_equal(target_check_pid(f->root, 555), -ESRCH);
	assert_int_equal(target_check_pid(f->root, 0), -ESRCH);
	assert_int_equal(target_check_pid(f->root, -3), -ESRCH);
	assert_int_equal(target_comm(f->root, 100, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "java");
	assert_int_equal(target_comm(f->root, 400, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "bad?[0mname");
	assert_int_equal(target_comm(f->root, 555, buf, sizeof(buf)), -ESRCH);
	assert_string_equal(buf, "");
	assert_int_equal(target_comm(f->root, 100, buf, 0), -EINVAL);
	assert_int_equal(target_comm(f->root, 100, small, sizeof(small)), 0);
	assert_string_equal(small, "java");
	assert_int_equal(target_comm(f->root, 100, buf, 1), 0);
	assert_string_equal(buf, "");
}

/* ---- the real /proc ---------------------------------------------------------------------- */

static int listen_on(int family, uint16_t *port)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		inet_pton(AF_INET, "127.0.0.1", &((struct sockaddr_in *)&ss)->sin_addr);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static void test_real_proc_ipv4(void **state)
{
	uint16_t port;
	int fd = listen_on(AF_INET, &port), pid = 0;
	bool l = false;
	char comm[32];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(target_find_listener("/proc", &port, 1, &pid), 0);
	assert_int_equal(pid, getpid());
	assert_int_equal(target_listening_ports("/proc", getpid(), &port, 1, &l), 1);
	assert_true(l);
	assert_int_equal(target_check_pid("/proc", getpid()), 0);
	assert_int_equal(target_comm("/proc", getpid(), comm, sizeof(comm)), 0);
	assert_string_equal(comm, "test_target");
	close(fd);
	assert_int_equal(target_find_listener("/proc", &port, 1, &pid), -ENOENT);
}

static void test_real_proc_ipv6_and_connections(void **state)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	uint16_t port;
	int lfd = listen_on(AF_INET6, &port), cfd, afd, pid = 0;
	unsigned count = 0;

	(void)state;
	if (lfd < 0)
		skip(); /* no IPv6 loopback here */
	assert_int_equal(target_find_listener("/proc", &port, 1, &pid), 0);
	assert_int_equal(pid, getpid());
	cfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cfd >= 0);
	sa.sin6_port = htons(port);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	/* Only the accepted side has the listener's port as its local port. */
	assert_int_equal(target_count_connections("/proc", getpid(), &port, 1, &count), 0);
	assert_int_equal(count, 1);
	close(afd);
	close(cfd);
	close(lfd);
}

/* Brokers on one host: the leader (pid 100) sees a follower's fetch
 * connection from 127.0.0.1:41000; follower 500 holds that end, follower
 * 600 another connection's. */
static const struct sk peers[] = {
    {AF_INET, "0.0.0.0", 9092, "0.0.0.0", 0, 0x0A, 5000},
    {AF_INET, "127.0.0.1", 9092, "127.0.0.1", 41000, 0x01, 5001},
    {AF_INET, "127.0.0.1", 41000, "127.0.0.1", 9092, 0x01, 5002},
    {AF_INET, "127.0.0.1", 41001, "127.0.0.1", 9092, 0x01, 5003},
    {AF_INET, "127.0.0.1", 41002, "127.0.0.1", 9092, 0x06, 0},
};

static void test_peer_pid(void **state)
{
	struct fake *f = *state;
	int n = (int)(sizeof(peers) / sizeof(peers[0])), pid = 0;
	const int pids[] = {100, 600, 500};
	char line[256], text[2048] = "";
	uint64_t inode = 0;

	for (int i = 0; i < n; i++) {
		sk_line(&peers[i], i, line, sizeof(line));
		strcat(text, line);
	}
	assert_int_equal(target_sock_inode(text, strlen(text), AF_INET, 41000, 9092, &inode), 0);
	assert_int_equal(inode, 5002);
	assert_int_equal(target_sock_inode(text, strlen(text), AF_INET, 9092, 41000, &inode), 0);
	assert_int_equal(inode, 5001);
	/* TIME_WAIT, no inode: not a connection anyone holds */
	assert_int_equal(target_sock_inode(text, strlen(text), AF_INET, 41002, 9092, &inode),
			 -ENOENT);
	for (int k = 0; k < 3; k++) {
		put_pid(f, pids[k], "java\n", "java", 4);
		put_net(f, pids[k], peers, n);
	}
	put_sock_fd(f, 100, 3, 5000);
	put_sock_fd(f, 100, 4, 5001);
	put_sock_fd(f, 500, 3, 5002);
	put_sock_fd(f, 600, 3, 5003);
	assert_int_equal(target_peer_pid(f->root, pids, 3, 41000, 9092, &pid), 0);
	assert_int_equal(pid, 500);
	assert_int_equal(target_peer_pid(f->root, pids, 3, 41001, 9092, &pid), 0);
	assert_int_equal(pid, 600);
	assert_int_equal(target_peer_pid(f->root, pids, 2, 41000, 9092, &pid), -ENOENT);
	assert_int_equal(target_peer_pid(f->root, pids, 3, 41002, 9092, &pid), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ipv4_real_format),
	    cmocka_unit_test(test_parse_ports_host_order),
	    cmocka_unit_test(test_parse_ipv6_byte_order),
	    cmocka_unit_test(test_parse_ipv6_literal),
	    cmocka_unit_test(test_parse_malformed_lines),
	    cmocka_unit_test(test_parse_not_nul_terminated),
	    cmocka_unit_test(test_parse_callback_and_args),
	    cmocka_unit_test_setup_teardown(test_find_listener_ipv4_ipv6, setup_fake,
					    teardown_fake),
	    cmocka_unit_test_setup_teardown(test_find_listener_errors, setup_fake, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_find_listeners, setup_fake, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_peer_pid, setup_fake, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_find_listener_no_tcp6, setup_fake, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_find_listener_large_file, setup_fake,
					    teardown_fake),
	    cmocka_unit_test_setup_teardown(test_listening_ports, setup_fake, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_own_listen_ports, setup_fake, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_count_connections, setup_fake, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_pid_comm, setup_fake, teardown_fake),
	    cmocka_unit_test(test_real_proc_ipv4),
	    cmocka_unit_test(test_real_proc_ipv6_and_connections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

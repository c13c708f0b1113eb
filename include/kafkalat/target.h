/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Finding and describing the broker process from /proc: who listens on the
 * Kafka port(s), which of them a given pid listens on, how many connections
 * it already has open, and its comm/cmdline for reports.
 *
 * Every function takes proc_root ("/proc" normally) so the tests can point
 * it at a fake tree. Errors are returned as negative errno and never printed.
 *
 * Network namespaces: a pid's own sockets are read from
 * <proc_root>/<pid>/net/tcp{,6}, so a broker in another network namespace is
 * handled once its pid is known. target_find_listener() searches
 * <proc_root>/net/tcp{,6}, i.e. the caller's own namespace; a broker in
 * another namespace (a container) must be given by pid.
 */
#ifndef KAFKALAT_TARGET_H
#define KAFKALAT_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TARGET_TCP_ESTABLISHED 0x01
#define TARGET_TCP_LISTEN      0x0A

/* One line of /proc/net/tcp or tcp6. Addresses are in network byte order
 * (IPv4 in the first 4 bytes, the rest zero); ports in host order. */
struct target_sock {
	int family; /* AF_INET or AF_INET6 */
	uint8_t local_addr[16];
	uint16_t local_port;
	uint8_t remote_addr[16];
	uint16_t remote_port;
	uint8_t state; /* TCP state number, TARGET_TCP_* */
	uint64_t inode;
};

/* Called once per socket line; return 0 to go on, a negative errno to abort
 * (returned by the parser as is) or a positive value to stop early. */
typedef int (*target_sock_cb)(const struct target_sock *s, void *ctx);

/*
 * Parse the contents of a /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6)
 * file: text is len bytes and need not be NUL-terminated. A last line
 * without its newline counts only if its inode is followed by a blank (all
 * the kernel's lines are; a line cut in its inode would give a wrong one). The
 * header line and blank lines are skipped; malformed lines are skipped and
 * counted in *bad_lines (may be NULL). Returns the number of sockets passed
 * to cb, the callback's negative value, or -EINVAL.
 */
int target_parse_proc_net(const char *text, size_t len, int family, target_sock_cb cb, void *ctx,
			  unsigned *bad_lines);

/* The tgid listening (TCP LISTEN, IPv4 or IPv6) on any of ports[]: 0 and
 * *pid_out, -ENOENT if nobody listens there, -ENOTUNIQ if several processes
 * do, -EACCES if a listener exists but its owner's fds are unreadable. */
int target_find_listener(const char *proc_root, const uint16_t *ports, int nports, int *pid_out);

/* Every tgid listening on any of ports[]: 0 with pids[0..*npids) in /proc
 * order, -ENOENT if nobody listens there, -E2BIG if more than max processes
 * do, -EACCES if a listener exists but no owner's fds were readable. */
int target_find_listeners(const char *proc_root, const uint16_t *ports, int nports, int *pids,
			  int max, int *npids);

/* Sets listening[i] when pid listens on ports[i]; returns how many it listens
 * on (0..nports) or a negative errno. */
int target_listening_ports(const char *proc_root, int pid, const uint16_t *ports, int nports,
			   bool *listening);

/* The TCP ports pid listens on (any port, IPv4 or IPv6), ascending and
 * each once: the first max in ports[], and how many there are in all (0 for
 * a process that listens on none), or a negative errno (-ESRCH gone). */
int target_own_listen_ports(const char *proc_root, int pid, uint16_t *ports, int max);

/* Counts pid's ESTABLISHED TCP sockets (IPv4 and IPv6) whose local port is
 * one of ports[]: the connections already open when kafkalat attaches. */
int target_count_connections(const char *proc_root, int pid, const uint16_t *ports, int nports,
			     unsigned *count);

/* In /proc/net/tcp{,6} text (as target_parse_proc_net): the inode of the
 * ESTABLISHED socket from local_port to remote_port: 0 and *inode,
 * -ENOENT when there is none, -EINVAL. */
int target_sock_inode(const char *text, size_t len, int family, uint16_t local_port,
		      uint16_t remote_port, uint64_t *inode);

/* Which of pids[] owns the far end of a loopback connection a broker sees
 * from its port listen_port to peer_port (a follower's fetch connection on
 * its leader): the process holding the socket from peer_port to
 * listen_port. 0 and *pid_out, -ENOENT when none of them does. */
int target_peer_pid(const char *proc_root, const int *pids, int npids, uint16_t peer_port,
		    uint16_t listen_port, int *pid_out);

/* 0 if pid exists, else -ESRCH (or another negative errno). */
int target_check_pid(const char *proc_root, int pid);

/* comm (trailing newline trimmed), truncated to fit buf, always
 * NUL-terminated, control characters replaced by '?'. Return 0, -ESRCH if
 * the process is gone, or a negative errno. */
int target_comm(const char *proc_root, int pid, char *buf, size_t len);

#endif

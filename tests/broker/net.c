// SPDX-License-Identifier: MIT
/*
 * Acceptor and network threads (Kafka's SocketServer Acceptor/Processor).
 *
 * --io jvm, as the Java broker does it: per readable connection read(fd, 4)
 * for the size, then read(fd, N) for the body in the same pass; at most one
 * request per connection per poll, since the connection is then muted
 * (removed from epoll) until its response has been written with writev (or,
 * for acks=0, until the handler says there is none). A response is sent
 * after epoll reports the socket writable, as the selector does.
 *
 * --io chunked: recvmsg into a fixed 64 KiB buffer that may hold several
 * frames or parts of frames; frames are cut out of it; responses go out with
 * sendmsg at once; no muting, so clients may pipeline. Responses are still
 * sent in request order (sequence numbers), whatever order handlers finish.
 *
 * A Fetch response is a list of spans: its header bytes go out with writev
 * (sendmsg in chunked mode) and each partition's records straight from the
 * segment file with sendfile, in order, as Kafka's MultiRecordsSend of
 * ByteBufferSends and FileRecords (transferTo). A partial send waits for
 * EPOLLOUT like any other response.
 *
 * Handlers hand responses back through a per-thread inbox and an eventfd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "broker.h"
#include "bytes.h"

#define EV_WAKE UINT64_MAX

struct conn {
	int fd;
	uint32_t slot;
	uint64_t gen;
	char client[64];
	uint32_t events; /* registered with epoll; 0 = not registered */
	bool muted;
	uint8_t size_buf[4];
	size_t size_have;
	uint8_t *body;
	size_t body_len, body_have;
	uint64_t t_first;
	uint64_t next_seq, send_seq;
	unsigned inject;     /* read-phase sleep of the frame being read */
	struct request *out; /* finished requests, sorted by seq */
};

/* "IP:PORT", or "[v6]:PORT"; formatted by the acceptor while the peer is surely known. */
static void format_peer(const struct sockaddr_storage *sa, char *out, size_t len)
{
	const struct sockaddr_storage ss = *sa;
	char ip[INET6_ADDRSTRLEN] = "?";

	snprintf(out, len, "?:0");
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		/* an IPv4 client of the dual-stack socket: show it as IPv4, as kafkalat does */
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, sizeof(ip));
			snprintf(out, len, "%s:%u", ip, ntohs(a->sin6_port));
		} else {
			inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
			snprintf(out, len, "[%s]:%u", ip, ntohs(a->sin6_port));
		}
	}
}

/* ---- epoll interest, changed like the JDK selector: ADD / MOD / DEL ---- */

static void set_events(struct net *n, struct conn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.u64 = c->slot};
	int op;

	if (ev == c->events)
		return;
	op = !ev ? EPOLL_CTL_DEL : !c->events ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(n->epfd, op, c->fd, &e))
		fprintf(stderr, "refbroker: %s: epoll_ctl: %s\n", c->client, strerror(errno));
	c->events = ev;
}

static bool head_ready(const struct conn *c)
{
	return c->out && c->out->seq == c->send_seq && c->out->action == RB_RESPOND;
}

/* What the connection wants now: reads unless muted, writes when a response waits. */
static void rearm(struct net *n, struct conn *c)
{
	uint32_t ev = 0;

	if (!c->muted)
		ev |= EPOLLIN;
	/* jvm: sent once writable; chunked: tried at once, so this means it blocked */
	if (head_ready(c))
		ev |= EPOLLOUT;
	set_events(n, c, ev);
}

/* ---- connections ---- */

static void conn_close(struct net *n, struct conn *c, const char *why)
{
	struct request *r;

	if (why)
		fprintf(stderr, "refbroker: %s: %s, closing the connection\n", c->client, why);
	while ((r = c->out)) {
		c->out = r->next;
		truth_emit(n->b, r); /* answered never: t_resp/t_end stay 0 */
		request_free(r);
	}
	set_events(n, c, 0);
	close(c->fd);
	free(c->body);
	n->conns[c->slot] = NULL;
	free(c);
}

static void conn_add(struct net *n, const struct new_conn *nc0)
{
	struct conn *c = calloc(1, sizeof(*c));
	size_t slot;

	for (slot = 0; slot < n->nconns && n->conns[slot]; slot++)
		;
	if (c && slot == n->nconns) {
		struct conn **nc = realloc(n->conns, (n->nconns + 16) * sizeof(*nc));

		if (nc) {
			memset(nc + n->nconns, 0, 16 * sizeof(*nc));
			n->conns = nc;
			n->nconns += 16;
		}
	}
	if (!c || slot >= n->nconns) {
		fprintf(stderr, "refbroker: out of memory for a connection\n");
		free(c);
		close(nc0->fd);
		return;
	}
	c->fd = nc0->fd;
	c->slot = (uint32_t)slot;
	c->gen = ++n->next_gen;
	memcpy(c->client, nc0->client, sizeof(c->client));
	n->conns[slot] = c;
	rearm(n, c);
}

/* ---- reading ---- */

static bool sleep_now(struct net *n, enum rb_phase ph)
{
	const struct rb_every *e = &n->b->o.sleep[ph];

	if (!e->every || ++n->sleep_count[ph] % e->every)
		return false;
	sleep_ms(e->ms);
	return true;
}

/* A complete frame: to the request queue (blocks while it is full, as Kafka). */
static int hand_off(struct net *n, struct conn *c, uint64_t t_read)
{
	struct request *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	r->net = n->id;
	r->slot = c->slot;
	r->gen = c->gen;
	r->seq = c->next_seq++;
	memcpy(r->client, c->client, sizeof(r->client));
	r->buf = c->body;
	r->len = c->body_len;
	r->acks = -2;
	r->t_first = c->t_first;
	r->t_read = t_read;
	r->inject = c->inject;
	c->inject = 0;
	c->body = NULL;
	c->size_have = c->body_len = c->body_have = 0;
	if (n->b->o.io == RB_IO_JVM) {
		c->muted = true;
		rearm(n, c);
	}
	if (sleep_now(n, RB_PH_QUEUE))
		r->inject |= RB_INJ_SLEEP_QUEUE;
	if (!rqueue_put(&n->b->rq, r)) {
		request_free(r); /* shutting down */
		return 0;
	}
	return 0;
}

/* The size is complete: check it and make room for the body. */
static const char *start_body(struct conn *c)
{
	int32_t size = (int32_t)get_be32(c->size_buf);

	if (c->size_buf[0] == 0x16 && c->size_buf[1] == 0x03)
		return "TLS handshake on a plaintext listener";
	if (size < 0)
		return "negative frame size";
	if (size > RB_MAX_FRAME)
		return "frame size over 100 MiB";
	if (size < 8) /* api key, version, correlation id at least */
		return "frame too short for a request header";
	if (!(c->body = malloc((size_t)size)))
		return "out of memory for a frame";
	c->body_len = (size_t)size;
	c->body_have = 0;
	return NULL;
}

static const char *io_error(ssize_t k, const struct conn *c)
{
	if (k == 0)
		return c->size_have || c->body ? "disconnected in the middle of a request" : "";
	return errno == ECONNRESET ? "connection reset by peer" : strerror(errno);
}

/* read(fd, 4) for the size, then read(fd, N) for the body, as NetworkReceive.readFrom. */
static void read_jvm(struct net *n, struct conn *c)
{
	const char *why;
	uint64_t t;
	ssize_t k;

	if (!c->body) {
		t = now_ns();
		k = read(c->fd, c->size_buf + c->size_have, 4 - c->size_have);
		if (k <= 0)
			goto eof_or_err;
		if (c->size_have == 0)
			c->t_first = t;
		c->size_have += (size_t)k;
		if (c->size_have < 4)
			return;
		if ((why = start_body(c)))
			return conn_close(n, c, why);
		if (sleep_now(n, RB_PH_READ))
			c->inject |= RB_INJ_SLEEP_READ;
	}
	k = read(c->fd, c->body + c->body_have, c->body_len - c->body_have);
	t = now_ns();
	if (k <= 0)
		goto eof_or_err;
	c->body_have += (size_t)k;
	if (c->body_have == c->body_len && hand_off(n, c, t))
		conn_close(n, c, "out of memory for a request");
	return;
eof_or_err:
	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	why = io_error(k, c);
	conn_close(n, c, *why ? why : NULL);
}

/* Cuts frames out of one received chunk; t0/t1 bracket the recvmsg. */
static const char *parse_chunk(struct net *n, struct conn *c, const uint8_t *p, size_t len,
			       uint64_t t0, uint64_t t1)
{
	const char *why;

	while (len) {
		size_t k;

		if (!c->body) {
			if (c->size_have == 0)
				c->t_first = t0;
			k = len < 4 - c->size_have ? len : 4 - c->size_have;
			memcpy(c->size_buf + c->size_have, p, k);
			c->size_have += k;
			p += k;
			len -= k;
			if (c->size_have < 4)
				break;
			if ((why = start_body(c)))
				return why;
			if (sleep_now(n, RB_PH_READ))
				c->inject |= RB_INJ_SLEEP_READ;
		}
		k = len < c->body_len - c->body_have ? len : c->body_len - c->body_have;
		memcpy(c->body + c->body_have, p, k);
		c->body_have += k;
		p += k;
		len -= k;
		if (c->body_have == c->body_len && hand_off(n, c, t1))
			return "out of memory for a request";
	}
	return NULL;
}

static void read_chunked(struct net *n, struct conn *c)
{
	struct iovec iov = {.iov_base = n->chunk, .iov_len = RB_CHUNK};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	const char *why;
	uint64_t t0 = now_ns(), t1;
	ssize_t k = recvmsg(c->fd, &mh, 0);

	t1 = now_ns();
	if (k <= 0) {
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		why = io_error(k, c);
		return conn_close(n, c, *why ? why : NULL);
	}
	if ((why = parse_chunk(n, c, n->chunk, (size_t)k, t0, t1)))
		conn_close(n, c, why);
}

/* ---- writing ---- */

static void unmute(struct net *n, struct conn *c)
{
	if (c->muted) {
		c->muted = false;
		rearm(n, c);
	}
}

static ssize_t send_iov(struct net *n, struct conn *c, struct iovec *iov, int niov)
{
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)niov};

	if (n->b->o.io == RB_IO_JVM)
		return writev(c->fd, iov, niov);
	return sendmsg(c->fd, &mh, MSG_NOSIGNAL);
}

/* Before the first response-writing syscall. */
static void stamp_resp(struct net *n, struct request *r)
{
	if (r->t_resp)
		return;
	if (sleep_now(n, RB_PH_RESPOND))
		r->inject |= RB_INJ_SLEEP_RESPOND;
	r->t_resp = now_ns();
}

#define SPAN_IOV 8

/* The memory spans from span_i on (until a file span) as iovecs. */
static int span_iov(const struct request *r, struct iovec *iov, size_t *want)
{
	int niov = 0;

	*want = 0;
	for (size_t i = r->span_i; i < r->nspans && niov < SPAN_IOV; i++) {
		const struct rb_span *sp = &r->spans[i];
		uint64_t skip = i == r->span_i ? r->span_done : 0;

		if (sp->fd >= 0)
			break;
		iov[niov++] = (struct iovec){r->resp + sp->off + skip, sp->len - skip};
		*want += sp->len - skip;
	}
	return niov;
}

/* Moves the send position k bytes forward over the spans. */
static void span_advance(struct request *r, uint64_t k)
{
	while (k && r->span_i < r->nspans) {
		uint64_t left = r->spans[r->span_i].len - r->span_done;
		uint64_t step = k < left ? k : left;

		r->span_done += step;
		k -= step;
		if (r->span_done == r->spans[r->span_i].len) {
			r->span_i++;
			r->span_done = 0;
		}
	}
}

/* One syscall: writev of header bytes or sendfile of a file span; 1 when it sent all asked. */
static int send_span(struct net *n, struct conn *c, struct request *r)
{
	const struct rb_span *sp = &r->spans[r->span_i];
	struct iovec iov[SPAN_IOV];
	size_t want;
	ssize_t k;

	if (sp->fd < 0) {
		k = send_iov(n, c, iov, span_iov(r, iov, &want));
	} else {
		off_t off = (off_t)(sp->off + r->span_done);

		want = sp->len - r->span_done;
		k = sendfile(c->fd, sp->fd, &off, want);
		if (k == 0) {
			errno = EIO; /* the file is shorter than the range read */
			return -1;
		}
	}
	if (k < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	span_advance(r, (uint64_t)k);
	return (size_t)k == want;
}

/* A span response: sends until done or the socket is full; as write_head. */
static int write_spans(struct net *n, struct conn *c, struct request *r)
{
	stamp_resp(n, r);
	while (r->span_i < r->nspans) {
		int w;

		if (r->spans[r->span_i].len == r->span_done) { /* an empty range */
			r->span_i++;
			r->span_done = 0;
			continue;
		}
		if ((w = send_span(n, c, r)) <= 0)
			return w;
	}
	r->t_end = now_ns();
	return 1;
}

/* Writes the head response; true when it went out completely. */
static int write_head(struct net *n, struct conn *c)
{
	struct request *r = c->out;
	struct iovec iov[2];
	int niov = 0;
	ssize_t k;

	if (r->spans)
		return write_spans(n, c, r);
	if (r->resp_off == 0)
		stamp_resp(n, r);
	/* header iov + body iov, as Kafka's NetworkSend of a ByteBufferSend */
	if (r->resp_off < r->resp_hdr_len)
		iov[niov++] = (struct iovec){r->resp + r->resp_off, r->resp_hdr_len - r->resp_off};
	if (r->resp_len > r->resp_hdr_len) {
		size_t from = r->resp_off > r->resp_hdr_len ? r->resp_off : r->resp_hdr_len;

		iov[niov++] = (struct iovec){r->resp + from, r->resp_len - from};
	}
	k = send_iov(n, c, iov, niov);
	if (k < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	r->resp_off += (size_t)k;
	if (r->resp_off < r->resp_len)
		return 0;
	r->t_end = now_ns();
	return 1;
}

static void pop_done(struct net *n, struct conn *c)
{
	struct request *r = c->out;

	c->out = r->next;
	c->send_seq++;
	truth_emit(n->b, r);
	request_free(r);
}

/*
 * Sends what is ready, in sequence order. allow_write: false in jvm mode
 * unless epoll said writable (the selector writes only then).
 */
static void flush_out(struct net *n, struct conn *c, bool allow_write)
{
	while (c->out && c->out->seq == c->send_seq) {
		int w;

		if (c->out->action == RB_CLOSE)
			return conn_close(n, c, "bad or unsupported request");
		if (c->out->action == RB_NO_RESPONSE) {
			pop_done(n, c); /* acks=0: nothing to send, just unmute */
			unmute(n, c);
			continue;
		}
		if (!allow_write)
			break;
		if ((w = write_head(n, c)) < 0)
			return conn_close(n, c, strerror(errno));
		if (w == 0)
			break;
		pop_done(n, c);
		unmute(n, c);
		allow_write = n->b->o.io == RB_IO_CHUNKED;
	}
	rearm(n, c);
}

static void deliver(struct net *n, struct request *r)
{
	struct conn *c = r->slot < n->nconns ? n->conns[r->slot] : NULL;
	struct request **pp;

	if (!c || c->gen != r->gen) { /* the client went away meanwhile */
		truth_emit(n->b, r);
		request_free(r);
		return;
	}
	for (pp = &c->out; *pp && (*pp)->seq < r->seq; pp = &(*pp)->next)
		;
	r->next = *pp;
	*pp = r;
	flush_out(n, c, n->b->o.io == RB_IO_CHUNKED);
}

/* ---- the network thread ---- */

static void drain_inbox(struct net *n)
{
	struct request *r, *next;
	struct new_conn *fds;
	size_t nfds;
	uint64_t v;

	if (read(n->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		fprintf(stderr, "refbroker: eventfd read: %s\n", strerror(errno));
	pthread_mutex_lock(&n->mu);
	r = n->resp_head;
	n->resp_head = n->resp_tail = NULL;
	fds = n->new_fds;
	nfds = n->n_new;
	n->new_fds = NULL;
	n->n_new = n->cap_new = 0;
	pthread_mutex_unlock(&n->mu);
	for (size_t i = 0; i < nfds; i++)
		conn_add(n, &fds[i]);
	free(fds);
	for (; r; r = next) {
		next = r->next;
		deliver(n, r);
	}
}

static void conn_event(struct net *n, uint32_t slot, uint32_t ev)
{
	struct conn *c = slot < n->nconns ? n->conns[slot] : NULL;
	uint64_t gen;

	if (!c)
		return;
	gen = c->gen;
	if (ev & EPOLLOUT) {
		flush_out(n, c, true);
		if (n->conns[slot] == NULL || n->conns[slot]->gen != gen)
			return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR) && !c->muted) {
		if (n->b->o.io == RB_IO_JVM)
			read_jvm(n, c);
		else
			read_chunked(n, c);
	}
}

void *net_main(void *arg)
{
	struct net *n = arg;
	struct epoll_event evs[64];
	char name[16];

	snprintf(name, sizeof(name), "kafka-network-%u", n->id);
	pthread_setname_np(pthread_self(), name);
	while (!*n->b->stop) {
		int k = epoll_wait(n->epfd, evs, 64, RB_POLL_MS);

		for (int i = 0; i < k; i++) {
			if (evs[i].data.u64 == EV_WAKE)
				drain_inbox(n);
			else
				conn_event(n, (uint32_t)evs[i].data.u64, evs[i].events);
		}
	}
	for (size_t i = 0; i < n->nconns; i++)
		if (n->conns[i])
			conn_close(n, n->conns[i], NULL);
	return NULL;
}

int net_init(struct net *n, struct broker *b, uint32_t id)
{
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = EV_WAKE};

	memset(n, 0, sizeof(*n));
	n->b = b;
	n->id = id;
	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	n->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&n->mu, NULL);
	if (n->epfd < 0 || n->evfd < 0 || epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->evfd, &e))
		return -1;
	if (b->o.io == RB_IO_CHUNKED && !(n->chunk = malloc(RB_CHUNK)))
		return -1;
	return 0;
}

void net_destroy(struct net *n)
{
	struct request *r;

	while ((r = n->resp_head)) {
		n->resp_head = r->next;
		request_free(r);
	}
	for (size_t i = 0; i < n->n_new; i++)
		close(n->new_fds[i].fd);
	free(n->new_fds);
	free(n->conns);
	free(n->chunk);
	if (n->epfd >= 0)
		close(n->epfd);
	if (n->evfd >= 0)
		close(n->evfd);
	pthread_mutex_destroy(&n->mu);
}

void net_wake(struct net *n)
{
	uint64_t one = 1;

	/* selector.wakeup(): an 8-byte eventfd write */
	if (write(n->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		fprintf(stderr, "refbroker: eventfd write: %s\n", strerror(errno));
}

void net_respond(struct broker *b, struct request *r)
{
	struct net *n = &b->nets[r->net];

	r->next = NULL;
	pthread_mutex_lock(&n->mu);
	if (n->resp_tail)
		n->resp_tail->next = r;
	else
		n->resp_head = r;
	n->resp_tail = r;
	pthread_mutex_unlock(&n->mu);
	net_wake(n);
}

void net_add_conn(struct net *n, int fd, const struct sockaddr_storage *peer)
{
	bool ok = true;

	pthread_mutex_lock(&n->mu);
	if (n->n_new == n->cap_new) {
		size_t cap = n->cap_new ? n->cap_new * 2 : 16;
		struct new_conn *nf = realloc(n->new_fds, cap * sizeof(*nf));

		if (nf) {
			n->new_fds = nf;
			n->cap_new = cap;
		} else {
			ok = false;
		}
	}
	if (ok) {
		n->new_fds[n->n_new].fd = fd;
		format_peer(peer, n->new_fds[n->n_new].client, sizeof(n->new_fds[0].client));
		n->n_new++;
	}
	pthread_mutex_unlock(&n->mu);
	if (!ok) {
		fprintf(stderr, "refbroker: out of memory for a new connection\n");
		close(fd);
		return;
	}
	net_wake(n);
}

/* ---- acceptor ---- */

static void tune(int fd)
{
	int one = 1, buf = RB_SOCK_BUF;

	/* Kafka: TCP_NODELAY, SO_KEEPALIVE, socket.send.buffer.bytes = 100 KiB */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
}

void *acceptor_main(void *arg)
{
	struct broker *b = arg;
	struct pollfd pfd = {.fd = b->listen_fd, .events = POLLIN};

	pthread_setname_np(pthread_self(), "kafka-acceptor");
	while (!*b->stop) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		fd = accept4(b->listen_fd, (struct sockaddr *)&peer, &plen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "refbroker: accept: %s\n", strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				sleep_ms(100);
			continue;
		}
		tune(fd);
		net_add_conn(&b->nets[b->next_net], fd, &peer); /* round-robin, as Kafka */
		b->next_net = (b->next_net + 1) % b->o.net_threads;
	}
	return NULL;
}

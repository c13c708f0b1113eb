// SPDX-License-Identifier: MIT
/*
 * Replication, follower side (Kafka's ReplicaFetcherThread): per leader
 * broker --num-replica-fetchers threads, each with one TCP connection to the
 * leader. Each round is one sessionless full Fetch v4 (replica_id = this
 * broker) naming every partition the thread follows at its local log end,
 * max_wait --replica-fetch-wait-ms, min_bytes 1; the records of each
 * partition are appended with the leader's offsets (logs_append_follower:
 * one write() under the partition mutex, the leader's segment code), the
 * high watermark becomes min(leader HW, own LEO), and the next fetch, which
 * carries the new log end, goes out at once. A broken or refused connection
 * is retried after RB_FETCH_BACKOFF_MS.
 *
 * Thread names are kafka-repl-L-N (leader id L, fetcher N): Kafka's
 * ReplicaFetcherThread-N-L does not fit the kernel's 15-character names.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "bytes.h"
#include "kproto.h"
#include "wbuf.h"

#define RB_FETCH_BACKOFF_MS	 100		    /* replica.fetch.backoff.ms is 1000 */
#define RB_FETCH_MAX_BYTES	 (10 * 1024 * 1024) /* replica.fetch.response.max.bytes */
#define RB_FETCH_PART_MAX_BYTES	 (1024 * 1024)	    /* replica.fetch.max.bytes */
#define RB_FETCH_SOCK_TIMEOUT_MS 30000		    /* replica.socket.timeout.ms */
#define RB_FETCH_VERSION	 4
#define RB_FETCH_IDLE_MS	 100 /* nothing to follow: look again (or when woken) */

/* A partition this thread follows, at its log end when the fetch was built. */
struct fpart {
	struct topic *t;
	struct partition *p;
	int64_t offset;
};

struct fround {
	struct fetcher *f;
	struct fpart *parts;
	size_t n, cap;
	bool oom;
};

static bool stopping(const struct fetcher *f)
{
	return *f->b->stop;
}

/* True when a topic was created (the eventfd is drained). */
static bool woken(const struct fetcher *f)
{
	uint64_t v;

	return read(f->wake_fd, &v, sizeof(v)) == sizeof(v);
}

/* Sleeps ms, or less when stopping or woken. */
static void backoff(const struct fetcher *f, uint32_t ms)
{
	struct pollfd pfd = {.fd = f->wake_fd, .events = POLLIN};

	for (uint32_t slept = 0; slept < ms && !stopping(f); slept += 20)
		if (poll(&pfd, 1, (int)(ms - slept < 20 ? ms - slept : 20)) > 0)
			return;
}

/* Java's String.hashCode, for Kafka's partition-to-fetcher spread. */
static uint32_t java_hash(const char *s)
{
	uint32_t h = 0;

	while (*s)
		h = 31 * h + (uint8_t)*s++;
	return h;
}

static bool follows(const struct fetcher *f, const struct topic *t, const struct partition *p)
{
	const struct broker *b = f->b;
	const struct repl_part *rp = &p->repl;
	bool replica = false;

	if (rp->leader != b->o.nodes[f->leader].id)
		return false;
	for (uint32_t i = 0; i < rp->nreplicas; i++)
		replica |= rp->replicas[i] == b->o.broker_id;
	return replica &&
	       (31 * java_hash(t->name) + (uint32_t)p->index) % b->o.num_replica_fetchers == f->n;
}

static void collect_topic(struct topic *t, void *arg)
{
	struct fround *x = arg;

	for (uint32_t i = 0; i < t->nparts; i++) {
		struct partition *p = &t->parts[i];

		if (!follows(x->f, t, p))
			continue;
		if (x->n == x->cap) {
			size_t cap = x->cap ? x->cap * 2 : 16;
			struct fpart *np = realloc(x->parts, cap * sizeof(*np));

			if (!np) {
				x->oom = true;
				return;
			}
			x->parts = np;
			x->cap = cap;
		}
		x->parts[x->n++] = (struct fpart){t, p, partition_leo(p)};
	}
}

/* Fetch v4: the partitions grouped by topic (collect_topic keeps them so). */
static int build_fetch(const struct fround *x, int32_t corr, struct wbuf *w)
{
	const struct broker *b = x->f->b;
	char client[32];
	int32_t ntopics = 0;

	snprintf(client, sizeof(client), "broker-%d-fetcher-%u", b->o.broker_id, x->f->n);
	wb_i32(w, 0);
	wb_i16(w, KPROTO_API_FETCH);
	wb_i16(w, RB_FETCH_VERSION);
	wb_i32(w, corr);
	wb_str(w, false, client, strlen(client));
	wb_i32(w, b->o.broker_id); /* replica_id */
	wb_i32(w, (int32_t)b->o.replica_fetch_wait_ms);
	wb_i32(w, 1); /* min_bytes */
	wb_i32(w, RB_FETCH_MAX_BYTES);
	wb_i8(w, 0); /* isolation_level: read uncommitted */
	for (size_t i = 0; i < x->n; i++)
		ntopics += i == 0 || x->parts[i].t != x->parts[i - 1].t;
	wb_array(w, false, ntopics);
	for (size_t i = 0; i < x->n;) {
		size_t j = i;

		while (j < x->n && x->parts[j].t == x->parts[i].t)
			j++;
		wb_str(w, false, x->parts[i].t->name, strlen(x->parts[i].t->name));
		wb_array(w, false, (int32_t)(j - i));
		for (; i < j; i++) {
			wb_i32(w, x->parts[i].p->index);
			wb_i64(w, x->parts[i].offset);
			wb_i32(w, RB_FETCH_PART_MAX_BYTES);
		}
	}
	if (w->oom)
		return -1;
	wb_patch_i32(w, 0, (int32_t)(w->len - 4));
	return 0;
}

static int connect_leader(const struct fetcher *f)
{
	const struct rb_node *nd = &f->b->o.nodes[f->leader];
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *a;
	char port[8];
	int fd = -1, one = 1;

	snprintf(port, sizeof(port), "%u", nd->port);
	if (getaddrinfo(nd->host, port, &hints, &ai))
		return -1;
	for (a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * Reads exactly len bytes, polling so that shutdown, a dead leader and a new
 * topic (the wake eventfd) are noticed.
 */
static int recv_all(const struct fetcher *f, int fd, uint8_t *p, size_t len)
{
	uint32_t waited = 0;

	while (len) {
		struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN},
					{.fd = f->wake_fd, .events = POLLIN}};
		int k = poll(pfd, 2, 100);
		ssize_t n;

		if (stopping(f) || k < 0 || (k == 0 && (waited += 100) >= RB_FETCH_SOCK_TIMEOUT_MS))
			return -1;
		if (pfd[1].revents)
			return -1; /* a new topic: drop this long poll */
		if (k == 0)
			continue;
		n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One response frame, without its size; NULL on error. */
static uint8_t *recv_frame(const struct fetcher *f, int fd, size_t *len)
{
	uint8_t sz[4], *body;
	uint32_t n;

	if (recv_all(f, fd, sz, 4))
		return NULL;
	n = get_be32(sz);
	if (n < 4 || n > RB_MAX_FRAME || !(body = malloc(n)))
		return NULL;
	if (recv_all(f, fd, body, n)) {
		free(body);
		return NULL;
	}
	*len = n;
	return body;
}

static struct fpart *find_part(const struct fround *x, const uint8_t *name, int32_t nlen,
			       int32_t index)
{
	for (size_t i = 0; i < x->n; i++) {
		const struct fpart *fp = &x->parts[i];

		if (fp->p->index == index && strlen(fp->t->name) == (size_t)nlen &&
		    !memcmp(fp->t->name, name, (size_t)nlen))
			return &x->parts[i];
	}
	return NULL;
}

static int apply_partition(struct fround *x, struct kproto_cur *c, const uint8_t *name,
			   int32_t nlen)
{
	struct broker *b = x->f->b;
	int32_t index, naborted, rlen;
	int16_t err;
	int64_t hw, lso;
	const uint8_t *rec;
	struct fpart *fp;

	if (kproto_read_i32(c, &index) || kproto_read_i16(c, &err) || kproto_read_i64(c, &hw) ||
	    kproto_read_i64(c, &lso) || kproto_read_array_len(c, &naborted) ||
	    (naborted > 0 && kproto_skip(c, (size_t)naborted * 16)) ||
	    kproto_read_bytes(c, &rec, &rlen))
		return -1;
	if (err || !(fp = find_part(x, name, nlen, index)))
		return 0; /* e.g. the leader has not created the topic yet: next round */
	if (rlen > 0 && logs_append_follower(b, fp->p, rec, (size_t)rlen)) {
		fprintf(stderr, "refbroker: follower %s-%d: records from broker %d do not fit\n",
			fp->t->name, index, b->o.nodes[x->f->leader].id);
		return -1;
	}
	replica_follower_hw(b, fp->p, hw);
	return 0;
}

static int apply_response(struct fround *x, const uint8_t *buf, size_t len, int32_t corr)
{
	struct kproto_cur c;
	int32_t rcorr, throttle, ntopics;

	kproto_cur_init(&c, buf, len);
	if (kproto_read_i32(&c, &rcorr) || rcorr != corr || kproto_read_i32(&c, &throttle) ||
	    kproto_read_array_len(&c, &ntopics) || ntopics < 0)
		return -1;
	for (int32_t i = 0; i < ntopics; i++) {
		const uint8_t *name;
		int32_t nlen, nparts;

		if (kproto_read_string(&c, &name, &nlen) || nlen < 0 ||
		    kproto_read_array_len(&c, &nparts) || nparts < 0)
			return -1;
		for (int32_t k = 0; k < nparts; k++)
			if (apply_partition(x, &c, name, nlen))
				return -1;
	}
	return 0;
}

/* One fetch round trip on fd; -1 means reconnect. */
static int fetch_round(struct fround *x, int fd, int32_t corr)
{
	struct wbuf w = {0};
	uint8_t *resp;
	size_t len;
	int rc;

	if (build_fetch(x, corr, &w) || write_all(fd, w.p, w.len)) {
		free(w.p);
		return -1;
	}
	free(w.p);
	if (!(resp = recv_frame(x->f, fd, &len)))
		return -1;
	rc = apply_response(x, resp, len, corr);
	free(resp);
	return rc;
}

/*
 * Tells the leader of every topic created here, as a controller would: a
 * topic reaches every broker even when this one follows none of its
 * partitions (Metadata v1 auto-creates what it names). 0: done or no topics.
 */
static int announce_topics(const struct fetcher *f, int fd, int32_t corr)
{
	struct wbuf w = {0};
	struct logs *l = &f->b->logs;
	uint8_t *resp;
	size_t len, n;
	int rc = -1;

	wb_i32(&w, 0);
	wb_i16(&w, KPROTO_API_METADATA);
	wb_i16(&w, 1);
	wb_i32(&w, corr);
	wb_str(&w, false, "broker-topics", 13);
	pthread_rwlock_rdlock(&l->mu);
	n = l->ntopics;
	wb_array(&w, false, (int32_t)n);
	for (size_t i = 0; i < n; i++)
		wb_str(&w, false, l->topics[i]->name, strlen(l->topics[i]->name));
	pthread_rwlock_unlock(&l->mu);
	if (!n) {
		free(w.p);
		return 0;
	}
	if (!w.oom) {
		wb_patch_i32(&w, 0, (int32_t)(w.len - 4));
		if (!write_all(fd, w.p, w.len) && (resp = recv_frame(f, fd, &len))) {
			rc = len >= 4 && (int32_t)get_be32(resp) == corr ? 0 : -1;
			free(resp);
		}
	}
	free(w.p);
	return rc;
}

static void *fetcher_main(void *arg)
{
	struct fetcher *f = arg;
	struct fround x = {.f = f};
	char name[16];
	int32_t corr = 0;
	int fd = -1;
	bool announce = f->n == 0; /* one fetcher per leader tells it the topics */

	snprintf(name, sizeof(name), "kafka-repl-%d-%u", f->b->o.nodes[f->leader].id, f->n);
	pthread_setname_np(pthread_self(), name);
	while (!stopping(f)) {
		if (woken(f) && f->n == 0) /* the partitions are collected now */
			announce = true;
		x.n = 0;
		x.oom = false;
		logs_each(f->b, collect_topic, &x);
		if (!announce && (!x.n || x.oom)) { /* nothing to follow yet */
			backoff(f, RB_FETCH_IDLE_MS);
			continue;
		}
		if (fd < 0 && (fd = connect_leader(f)) < 0) {
			backoff(f, RB_FETCH_BACKOFF_MS);
			continue;
		}
		if ((announce && announce_topics(f, fd, ++corr)) ||
		    (x.n && !x.oom && fetch_round(&x, fd, ++corr))) {
			close(fd);
			fd = -1;
			announce = f->n == 0; /* the leader may have restarted */
			if (!woken(f))
				backoff(f, RB_FETCH_BACKOFF_MS);
			continue;
		}
		announce = false;
	}
	if (fd >= 0)
		close(fd);
	free(x.parts);
	return NULL;
}

int fetchers_start(struct broker *b)
{
	struct replication *rs = &b->repl;
	uint32_t per = b->o.num_replica_fetchers, k = 0;

	if (!rb_cluster(b))
		return 0;
	rs->nfetchers = (b->o.nnodes - 1) * per;
	if (!rs->nfetchers)
		return 0;
	if (!(rs->fetchers = calloc(rs->nfetchers, sizeof(*rs->fetchers))))
		return -1;
	for (uint32_t i = 0; i < rs->nfetchers; i++)
		rs->fetchers[i].wake_fd = -1;
	for (uint32_t l = 0; l < b->o.nnodes; l++) {
		if (l == b->o.self)
			continue;
		for (uint32_t n = 0; n < per; n++, k++) {
			struct fetcher *f = &rs->fetchers[k];

			*f = (struct fetcher){.b = b, .leader = l, .n = n};
			f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (f->wake_fd < 0 || pthread_create(&f->thr, NULL, fetcher_main, f))
				return -1;
			f->started = true;
		}
	}
	return 0;
}

void fetchers_wake(struct broker *b)
{
	struct replication *rs = &b->repl;
	uint64_t one = 1;

	/* fetchers_start ran before any request could create a topic */
	for (uint32_t i = 0; i < rs->nfetchers; i++)
		if (rs->fetchers[i].started &&
		    write(rs->fetchers[i].wake_fd, &one, sizeof(one)) < 0)
			fprintf(stderr, "refbroker: fetcher wake: %s\n", strerror(errno));
}

void fetchers_stop(struct broker *b)
{
	struct replication *rs = &b->repl;

	for (uint32_t i = 0; i < rs->nfetchers; i++)
		if (rs->fetchers[i].started)
			pthread_join(rs->fetchers[i].thr, NULL);
}

/* After the handlers, which may still wake the (stopped) fetchers. */
void fetchers_free(struct broker *b)
{
	struct replication *rs = &b->repl;

	for (uint32_t i = 0; i < rs->nfetchers; i++)
		if (rs->fetchers[i].wake_fd >= 0)
			close(rs->fetchers[i].wake_fd);
	free(rs->fetchers);
	rs->fetchers = NULL;
	rs->nfetchers = 0;
}

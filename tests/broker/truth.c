// SPDX-License-Identifier: MIT
/*
 * Ground truth: one JSON line per request (format in README.md), formatted
 * by the network thread once the request is finished and written by a
 * dedicated "kafka-truth" thread, so no file I/O happens on the request path
 * and no lock of the request path is held while formatting. Lines are
 * buffered by stdio and flushed when the broker stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *np;
	int n;

	if (s->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(s->p ? s->p + s->len : NULL, s->p ? s->cap - s->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			s->oom = true;
			return;
		}
		if (s->p && s->len + (size_t)n < s->cap) {
			s->len += (size_t)n;
			return;
		}
		cap = s->cap ? s->cap : 512;
		while (cap <= s->len + (size_t)n)
			cap *= 2;
		if (!(np = realloc(s->p, cap))) {
			s->oom = true;
			return;
		}
		s->p = np;
		s->cap = cap;
	}
}

static unsigned long long u(uint64_t v)
{
	return (unsigned long long)v;
}

/* Topic names are [a-zA-Z0-9._-] (checked at creation) but the request's may not be. */
static void json_str(struct sbuf *s, const char *v)
{
	sb_printf(s, "\"");
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '"' || c == '\\')
			sb_printf(s, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			sb_printf(s, "\\u%04x", c);
		else
			sb_printf(s, "%c", c);
	}
	sb_printf(s, "\"");
}

/* ,"inject":["lock_hold",...] when a fault was injected; nothing otherwise */
static void inject_json(struct sbuf *s, unsigned bits)
{
	static const char *const names[] = {"sleep_read",    "sleep_queue", "sleep_append",
					    "sleep_respond", "lock_hold",   "fsync",
					    "flush"};
	const char *sep = "";

	if (!bits)
		return;
	sb_printf(s, ",\"inject\":[");
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (bits & (1u << i)) {
			sb_printf(s, "%s\"%s\"", sep, names[i]);
			sep = ",";
		}
	}
	sb_printf(s, "]");
}

/* acks=all in a cluster: offsets, the ISR followers' covering fetches, the HW. */
static void repl_json(struct sbuf *s, const struct rb_part_truth *p)
{
	sb_printf(s, ",\"last_offset\":%lld,\"replicas\":[", (long long)p->last_offset);
	for (uint32_t i = 0; i < p->nfollow; i++)
		sb_printf(s, "%s{\"id\":%d,\"covered_ns\":%llu}", i ? "," : "", p->follow_id[i],
			  u(p->covered_ns[i]));
	sb_printf(s, "],\"hw_ns\":%llu", u(p->hw_ns));
}

static void part_json(struct sbuf *s, const struct rb_part_truth *p)
{
	sb_printf(s, "{\"topic\":");
	json_str(s, p->topic);
	sb_printf(s,
		  ",\"partition\":%d,\"error\":%d,\"bytes\":%u,\"records\":%u,\"base_offset\":%lld,"
		  "\"lock_ns\":%llu,\"append_start_ns\":%llu,\"append_end_ns\":%llu",
		  p->partition, p->error, p->bytes, p->records, (long long)p->base_offset,
		  u(p->lock_ns), u(p->append_start_ns), u(p->append_end_ns));
	inject_json(s, p->inject);
	if (p->duplicate)
		sb_printf(s, ",\"duplicate\":true");
	if (p->repl)
		repl_json(s, p);
	sb_printf(s, "}");
}

/* ,"fetch":{...}: what a Fetch asked, read and sent, and its wait in the fetch purgatory */
static void fetch_json(struct sbuf *s, const struct fetch_req *f)
{
	sb_printf(s,
		  ",\"fetch\":{\"replica_id\":%d,\"max_wait_ms\":%d,\"min_bytes\":%d,"
		  "\"max_bytes\":%d,\"session_id\":%d,\"session_epoch\":%d,\"error\":%d,"
		  "\"partitions\":[",
		  f->replica_id, f->max_wait_ms, f->min_bytes, f->max_bytes, f->session_id,
		  f->session_epoch, f->error);
	for (size_t t = 0; t < f->ntopics; t++) {
		for (size_t i = f->topics[t].first; i < f->topics[t].first + f->topics[t].n; i++) {
			const struct fetch_part *fp = &f->parts[i];

			sb_printf(s, "%s{\"topic\":", i ? "," : "");
			json_str(s, f->topics[t].name);
			sb_printf(s,
				  ",\"partition\":%d,\"error\":%d,\"fetch_offset\":%lld,"
				  "\"bytes\":%llu,\"hw\":%lld}",
				  fp->partition, fp->error, (long long)fp->fetch_offset,
				  u(fp->slice.len), (long long)fp->hw);
		}
	}
	sb_printf(s,
		  "],\"bytes\":%llu,\"t_fetch_read_ns\":%llu,\"t_wait_start_ns\":%llu,"
		  "\"t_wait_end_ns\":%llu}",
		  u(f->bytes), u(f->t_fetch_read), u(f->t_wait_start), u(f->t_wait_end));
}

static char *format(const struct request *r)
{
	struct sbuf s = {0};

	sb_printf(&s, "{\"client\":\"%s\",\"corr\":%d,\"api_key\":%d,\"api_version\":%d,",
		  r->client, r->corr, r->api_key, r->api_version);
	if (r->acks == -2)
		sb_printf(&s, "\"acks\":null,");
	else
		sb_printf(&s, "\"acks\":%d,", r->acks);
	sb_printf(&s, "\"handler_tid\":%d,\"partitions\":[", r->handler_tid);
	for (size_t i = 0; i < r->nparts; i++) {
		if (i)
			sb_printf(&s, ",");
		part_json(&s, &r->parts[i]);
	}
	sb_printf(&s,
		  "],\"t_first_ns\":%llu,\"t_read_ns\":%llu,\"t_dequeue_ns\":%llu,"
		  "\"t_resp_enqueue_ns\":%llu,\"t_resp_ns\":%llu,\"t_end_ns\":%llu,\"bytes\":%zu",
		  u(r->t_first), u(r->t_read), u(r->t_dequeue), u(r->t_resp_enqueue), u(r->t_resp),
		  u(r->t_end), r->len + 4);
	inject_json(&s, r->inject);
	if (r->t_released)
		sb_printf(&s, ",\"released_by\":%d,\"released_ns\":%llu", r->released_by,
			  u(r->t_released));
	if (r->fetch)
		fetch_json(&s, r->fetch);
	sb_printf(&s, "}\n");
	if (s.oom) {
		free(s.p);
		return NULL;
	}
	return s.p;
}

void truth_emit(struct broker *b, const struct request *r)
{
	struct truth *t = &b->truth;
	char *line;

	if (!t->f)
		return;
	if (!(line = format(r))) {
		__atomic_add_fetch(&t->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	truth_emit_line(b, line);
}

void truth_emit_line(struct broker *b, char *line)
{
	struct truth *t = &b->truth;

	if (!t->f) {
		free(line);
		return;
	}
	pthread_mutex_lock(&t->mu);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		char **nl = realloc(t->lines, cap * sizeof(*nl));

		if (!nl) {
			t->dropped++;
			pthread_mutex_unlock(&t->mu);
			free(line);
			return;
		}
		t->lines = nl;
		t->cap = cap;
	}
	t->lines[t->n++] = line;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

/* Swaps the pending lines out under the lock, writes them outside it. */
static void *truth_main(void *arg)
{
	struct truth *t = arg;
	char **batch = NULL;
	size_t n = 0;

	pthread_setname_np(pthread_self(), "kafka-truth");
	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->n && !t->stop)
			pthread_cond_wait(&t->cv, &t->mu);
		if (!t->n && t->stop)
			break;
		batch = t->lines;
		n = t->n;
		t->lines = NULL;
		t->n = t->cap = 0;
		pthread_mutex_unlock(&t->mu);
		for (size_t i = 0; i < n; i++) {
			fputs(batch[i], t->f);
			free(batch[i]);
		}
		free(batch);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int truth_open(struct broker *b)
{
	struct truth *t = &b->truth;
	int fd;

	memset(t, 0, sizeof(*t));
	if (!b->o.truth)
		return 0;
	fd = open(b->o.truth, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(t->f = fdopen(fd, "w"))) {
		fprintf(stderr, "refbroker: --truth %s: %s\n", b->o.truth, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setvbuf(t->f, NULL, _IOFBF, 1 << 20);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->thr, NULL, truth_main, t)) {
		fclose(t->f);
		t->f = NULL;
		return -1;
	}
	return 0;
}

void truth_close(struct broker *b)
{
	struct truth *t = &b->truth;

	if (!t->f)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thr, NULL);
	if (fclose(t->f))
		fprintf(stderr, "refbroker: --truth: %s\n", strerror(errno));
	if (t->dropped)
		fprintf(stderr, "refbroker: %llu ground-truth lines lost (no memory)\n",
			u(t->dropped));
	t->f = NULL;
	free(t->lines);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
}

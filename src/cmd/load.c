// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `kafkalat load`: produce with librdkafka at a given rate (or as fast as the
 * producer queue allows) and measure each message's delivery latency, from
 * produce() to its delivery report, plus the number of produce requests the
 * client sent (from librdkafka's statistics). With --producers N there are N
 * independent clients, each with its own connections; message i goes to
 * client i mod N, and their statistics are summed. Everything runs on the calling
 * thread: delivery reports, errors and statistics are served by
 * rd_kafka_poll() and rd_kafka_flush() here, so the state needs no locking;
 * a wake-up pipe on each client's main queue lets the pacing waits (one ppoll
 * over all the pipes) serve reports the moment they arrive. --profile picks
 * the producers' defaults; --consumers adds readers of the same topic on
 * threads of their own (load_consume.c says why).
 */
#include "kafkalat/load.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kafkalat/hist.h"
#include "kafkalat/json.h"
#include "kafkalat/load_consume.h"
#include "kafkalat/loadclient.h"
#include "kafkalat/loadopts.h"

#define EXIT_USAGE	     2
#define NS_PER_MS	     1000000ull
#define NS_PER_S	     1000000000ull
#define STATS_INTERVAL_MS    "100"
#define MAX_ERR_KINDS	     32
#define FLUSH_TIMEOUT_NS     (10 * NS_PER_S)
#define PURGE_FLUSH_MS	     2000
#define MAX_POLL_MS	     100 /* bounds how long a stop signal can go unnoticed */
#define MAX_WAIT_NS	     (MAX_POLL_MS * NS_PER_MS)
#define PROGRESS_INTERVAL_NS NS_PER_S
#define METADATA_TIMEOUT_MS  10000
#define FLUSH_WAIT_NS	     (10 * NS_PER_MS) /* as rd_kafka_flush() polls */
#define OFFSETS_TIMEOUT_MS   10000
#define MAX_PROFILE_KEYS     16
#define CONF_VALUE_MAX	     64

/* The produce timestamp travels in msg_opaque, so a pointer must hold it. */
_Static_assert(UINTPTR_MAX >= UINT64_MAX, "msg_opaque must hold a 64-bit timestamp");

/* Incremented by SIGINT/SIGTERM: 1 stops producing, 2 also stops waiting for
 * outstanding deliveries and statistics. */
static volatile sig_atomic_t load_stop;

struct err_count {
	rd_kafka_resp_err_t err;
	uint64_t n;
};

/* A profile property as the producers got it, after --acks and -X. */
struct conf_value {
	const char *key;
	char value[CONF_VALUE_MAX];
};

struct load_state {
	const struct load_opts *o;
	struct conf_value eff[MAX_PROFILE_KEYS];
	size_t neff;
	struct consumers *consumers; /* NULL without --consumers */
	uint64_t missing;	     /* records the consumers did not reach */
	struct hist lat;	     /* delivery latency, ns */
	uint64_t sent;		     /* handed to produce(), including immediate failures */
	uint64_t delivered;
	uint64_t failed;
	struct err_count errs[MAX_ERR_KINDS];
	size_t nerrs;
	rd_kafka_resp_err_t reported[MAX_ERR_KINDS]; /* client errors already printed */
	size_t nreported;
	bool fatal;
	int stats_interval_ms;	   /* 0: statistics disabled (by -X) */
	bool have_requests;	   /* every producer's count is fresh */
	uint64_t produce_requests; /* summed over producers */
	uint64_t t_start;
	uint64_t t_end;
	FILE *messages; /* --messages: one JSON line per delivered message */
	bool messages_err;
};

struct producer {
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *mainq; /* where delivery reports and statistics arrive */
	int wake[2];		 /* pipe librdkafka writes to when mainq fills */
	struct load_state *st;	 /* the callbacks' opaque is the producer */
	uint64_t stats_seen;	 /* statistics callbacks served */
	bool have_requests;	 /* produce_requests parsed from this client's statistics */
	uint64_t produce_requests;
};

/* All the producers of one run: message i goes to p[i % n]. */
struct producers {
	struct producer *p;
	size_t n;
	struct pollfd *pfd; /* n entries, one per wake-up pipe */
};

struct signals {
	struct sigaction old_int;
	struct sigaction old_term;
};

static bool stopping(const struct load_state *st)
{
	return load_stop > 0 || st->fatal;
}

static void count_error(struct load_state *st, rd_kafka_resp_err_t err)
{
	st->failed++;
	for (size_t i = 0; i < st->nerrs; i++) {
		if (st->errs[i].err == err) {
			st->errs[i].n++;
			return;
		}
	}
	/* More kinds than slots is implausible; fold them into the last one
	 * rather than lose the count. */
	if (st->nerrs == MAX_ERR_KINDS) {
		st->errs[MAX_ERR_KINDS - 1].n++;
		return;
	}
	st->errs[st->nerrs++] = (struct err_count){err, 1};
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct load_state *st = ((struct producer *)opaque)->st;
	uint64_t now = loadclient_mono_ns();
	uint64_t t0 = (uint64_t)(uintptr_t)m->_private;

	(void)rk;
	if (m->err) {
		count_error(st, m->err);
		return;
	}
	st->delivered++;
	hist_record(&st->lat, now > t0 ? now - t0 : 0);
	if (st->messages &&
	    fprintf(st->messages,
		    "{\"partition\":%d,\"offset\":%lld,\"t_produce_ns\":%llu,\"t_dr_ns\":%llu}\n",
		    (int)m->partition, m->offset >= 0 ? (long long)m->offset : -1LL,
		    (unsigned long long)t0, (unsigned long long)now) < 0)
		st->messages_err = true;
}

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct producer *p = opaque;
	uint64_t n;

	(void)rk;
	p->stats_seen++;
	if (loadstats_produce_requests(json, len, &n) == 0) {
		p->produce_requests = n;
		p->have_requests = true;
	}
	return 0; /* librdkafka frees json */
}

/* Client-level errors (broker down, fatal idempotence errors): each kind is
 * printed once so a dead bootstrap does not flood the terminal. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct load_state *st = ((struct producer *)opaque)->st;

	if (rd_kafka_fatal_error(rk, NULL, 0)) {
		st->fatal = true;
		fprintf(stderr, "kafkalat load: fatal client error: %s\n", reason);
		return;
	}
	for (size_t i = 0; i < st->nreported; i++) {
		if (st->reported[i] == err)
			return;
	}
	if (st->nreported < MAX_ERR_KINDS)
		st->reported[st->nreported++] = err;
	if (!st->o->quiet)
		fprintf(stderr, "kafkalat load: %s: %s\n", rd_kafka_err2name(err), reason);
}

static bool conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	return loadclient_conf_set(conf, "producer", key, value);
}

/* -X properties are applied last so they override every default and option. */
static bool apply_props(rd_kafka_conf_t *conf, const struct load_opts *o)
{
	char key[256];

	for (size_t i = 0; i < o->nprops; i++) {
		const struct load_prop *p = &o->props[i];
		if (p->key_len >= sizeof(key)) {
			fprintf(stderr, "kafkalat load: -X: property name too long\n");
			return false;
		}
		memcpy(key, p->key, p->key_len);
		key[p->key_len] = '\0';
		if (!conf_set(conf, key, p->value))
			return false;
	}
	return true;
}

/* The profile first, so --acks and -X override it. */
static bool apply_profile(rd_kafka_conf_t *conf, const struct load_opts *o)
{
	size_t n;
	const struct load_conf_pair *pairs = loadprofile_config(o->profile, &n);

	for (size_t i = 0; i < n; i++)
		if (!conf_set(conf, pairs[i].key, pairs[i].value))
			return false;
	return !o->acks || conf_set(conf, "acks", o->acks);
}

/* Reads back the profile's properties as librdkafka will use them. */
static void effective_profile(struct load_state *st, const rd_kafka_conf_t *conf)
{
	size_t n;
	const struct load_conf_pair *pairs = loadprofile_config(st->o->profile, &n);

	st->neff = 0;
	for (size_t i = 0; i < n && st->neff < MAX_PROFILE_KEYS; i++) {
		struct conf_value *v = &st->eff[st->neff];
		size_t len = sizeof(v->value);
		v->key = pairs[i].key;
		if (rd_kafka_conf_get(conf, v->key, v->value, &len) != RD_KAFKA_CONF_OK)
			snprintf(v->value, sizeof(v->value), "?");
		st->neff++;
	}
}

static const char *effective(const struct load_state *st, const char *key)
{
	for (size_t i = 0; i < st->neff; i++)
		if (strcmp(st->eff[i].key, key) == 0)
			return st->eff[i].value;
	return "?";
}

static int stats_interval(const rd_kafka_conf_t *conf)
{
	char buf[32];
	size_t n = sizeof(buf);
	char *end;

	if (rd_kafka_conf_get(conf, "statistics.interval.ms", buf, &n) != RD_KAFKA_CONF_OK)
		return 0;
	long v = strtol(buf, &end, 10);
	return *end || v < 0 || v > 86400000 ? 0 : (int)v;
}

/* Returns NULL after reporting why (a bad -X property is the usual cause).
 * The opaque (the producer) is set per client by producer_open(). */
static rd_kafka_conf_t *configure(struct load_state *st)
{
	const struct load_opts *o = st->o;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (!conf_set(conf, "bootstrap.servers", o->bootstrap) || !apply_profile(conf, o) ||
	    !conf_set(conf, "statistics.interval.ms", STATS_INTERVAL_MS) ||
	    (o->quiet && !conf_set(conf, "log_level", "3")) || !apply_props(conf, o)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	st->stats_interval_ms = stats_interval(conf);
	effective_profile(st, conf);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_stats_cb(conf, on_stats);
	rd_kafka_conf_set_error_cb(conf, on_error);
	return conf;
}

static void on_signal(int sig)
{
	(void)sig;
	if (load_stop < 2)
		load_stop = load_stop + 1;
}

static void install_signals(struct signals *saved)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	load_stop = 0;
	sigaction(SIGINT, &sa, &saved->old_int);
	sigaction(SIGTERM, &sa, &saved->old_term);
}

static void restore_signals(const struct signals *saved)
{
	sigaction(SIGINT, &saved->old_int, NULL);
	sigaction(SIGTERM, &saved->old_term, NULL);
}

/* Offset of message i from the start at `rate` messages/s, exact in integers
 * (rate <= LOAD_MAX_RATE keeps rem * NS_PER_S from overflowing). */
static uint64_t schedule_offset(uint64_t i, uint64_t rate)
{
	return i / rate * NS_PER_S + i % rate * NS_PER_S / rate;
}

/*
 * Serves delivery reports and statistics of every producer for up to
 * timeout_ns. librdkafka writes to a producer's wake-up pipe when its main
 * queue becomes non-empty, so a report is timestamped within microseconds of
 * its arrival, not at the next millisecond tick of rd_kafka_poll()'s timeout.
 * The producers whose pipe was readable are served; when none was (timeout or
 * signal), all are, as a safety net.
 */
static void serve(struct producers *ps, uint64_t timeout_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(timeout_ns / NS_PER_S),
			      .tv_nsec = (long)(timeout_ns % NS_PER_S)};
	char buf[64];

	for (size_t i = 0; i < ps->n; i++)
		ps->pfd[i] = (struct pollfd){.fd = ps->p[i].wake[0], .events = POLLIN};
	bool woken = ppoll(ps->pfd, (nfds_t)ps->n, &ts, NULL) > 0;
	for (size_t i = 0; i < ps->n; i++) {
		if (woken && !ps->pfd[i].revents)
			continue;
		/* Empty the pipe before serving: a report enqueued after the
		 * poll below writes again and is not missed. */
		if (ps->pfd[i].revents)
			while (read(ps->p[i].wake[0], buf, sizeof(buf)) > 0)
				;
		rd_kafka_poll(ps->p[i].rk, 0);
	}
}

/* Waits for an absolute deadline, serving reports meanwhile. Absolute
 * deadlines keep the long-run rate exact however late any wake-up is. */
static void wait_until(struct producers *ps, const struct load_state *st, uint64_t deadline)
{
	for (;;) {
		uint64_t now = loadclient_mono_ns();
		if (now >= deadline || stopping(st))
			return;
		uint64_t left = deadline - now;
		serve(ps, left < MAX_WAIT_NS ? left : MAX_WAIT_NS);
	}
}

/* Produces one message; on a full queue serves deliveries and retries, as
 * the queue bounds the "as fast as possible" rate. */
static void produce_one(struct producers *ps, struct producer *p, struct load_state *st,
			void *payload, int32_t partition)
{
	for (;;) {
		uint64_t t0 = loadclient_mono_ns();
		/* flags 0: the payload buffer outlives the producer, no copy */
		if (rd_kafka_produce(p->rkt, partition, 0, payload, st->o->size, NULL, 0,
				     (void *)(uintptr_t)t0) == 0) {
			st->sent++;
			return;
		}
		rd_kafka_resp_err_t err = rd_kafka_last_error();
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			st->sent++;
			count_error(st, err);
			return;
		}
		if (stopping(st))
			return;
		serve(ps, MAX_WAIT_NS);
	}
}

static void show_progress(const struct load_state *st, uint64_t now)
{
	fprintf(stderr, "\r  %5.1f s  sent %llu  delivered %llu  failed %llu   ",
		(double)(now - st->t_start) / NS_PER_S, (unsigned long long)st->sent,
		(unsigned long long)st->delivered, (unsigned long long)st->failed);
}

static void produce_loop(struct producers *ps, struct load_state *st, void *payload)
{
	const struct load_opts *o = st->o;
	bool progress = !o->quiet && isatty(STDERR_FILENO);
	uint64_t start = loadclient_mono_ns();
	uint64_t end = start + o->duration_ns;
	uint64_t next_progress = start + PROGRESS_INTERVAL_NS;

	st->t_start = start;
	for (uint64_t i = 0; !stopping(st) && (!o->count || i < o->count); i++) {
		if (o->rate) {
			uint64_t deadline = start + schedule_offset(i, o->rate);
			if (!o->count && deadline >= end)
				break;
			wait_until(ps, st, deadline);
		}
		uint64_t now = loadclient_mono_ns();
		if (!o->count && now >= end)
			break;
		int32_t part =
		    o->partitions ? (int32_t)(i % (uint64_t)o->partitions) : RD_KAFKA_PARTITION_UA;
		struct producer *p = &ps->p[i % ps->n];
		produce_one(ps, p, st, payload, part);
		rd_kafka_poll(p->rk, 0);
		if (progress && now >= next_progress) {
			show_progress(st, now);
			next_progress += PROGRESS_INTERVAL_NS;
		}
	}
	if (progress)
		fputs("\r\033[K", stderr);
}

/*
 * Waits (bounded) for outstanding deliveries; whatever is still queued or in
 * flight afterwards is purged, so every sent message ends up counted as
 * delivered or failed.
 */
/*
 * One producer: rd_kafka_flush() blocks, serving its reports as they come.
 * Several: each is flushed without blocking (which also sends its lingering
 * batches) and the wait is one ppoll over all their pipes, so no producer's
 * reports wait, and get a later timestamp, while another is being flushed.
 */
static void drain(struct producers *ps, struct load_state *st)
{
	uint64_t deadline = loadclient_mono_ns() + FLUSH_TIMEOUT_NS;
	int flush_ms = ps->n == 1 ? MAX_POLL_MS : 0;

	for (;;) {
		size_t busy = 0;
		for (size_t i = 0; i < ps->n; i++)
			if (rd_kafka_flush(ps->p[i].rk, flush_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
				busy++;
		if (!busy || loadclient_mono_ns() >= deadline || load_stop >= 2 || st->fatal)
			break;
		if (ps->n > 1)
			serve(ps, FLUSH_WAIT_NS);
	}
	st->t_end = loadclient_mono_ns();
	if (st->delivered + st->failed < st->sent) {
		for (size_t i = 0; i < ps->n; i++)
			rd_kafka_purge(ps->p[i].rk,
				       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		for (size_t i = 0; i < ps->n; i++)
			rd_kafka_flush(ps->p[i].rk, PURGE_FLUSH_MS);
	}
	/* Anything still unaccounted for never got a report: call it timed out. */
	while (st->delivered + st->failed < st->sent)
		count_error(st, RD_KAFKA_RESP_ERR__TIMED_OUT);
}

/* Producers whose statistics callbacks have not reached want[i] yet. */
static size_t stats_behind(const struct producers *ps, const uint64_t *want)
{
	size_t n = 0;

	for (size_t i = 0; i < ps->n; i++)
		n += ps->p[i].stats_seen < want[i];
	return n;
}

/* The statistics callback that last ran may have been built before the final
 * produce requests; two more guarantee one was built after the flush. The
 * total is known only when every producer's count is fresh. */
static void final_stats(struct producers *ps, struct load_state *st)
{
	st->have_requests = false;
	st->produce_requests = 0;
	if (st->stats_interval_ms <= 0)
		return;
	uint64_t *want = calloc(ps->n, sizeof(*want));
	if (!want)
		return;
	for (size_t i = 0; i < ps->n; i++)
		want[i] = ps->p[i].stats_seen + 2;
	uint64_t deadline =
	    loadclient_mono_ns() + 2 * (uint64_t)st->stats_interval_ms * NS_PER_MS + NS_PER_S;

	while (stats_behind(ps, want) && loadclient_mono_ns() < deadline && load_stop < 2) {
		if (ps->n == 1)
			rd_kafka_poll(ps->p[0].rk, MAX_POLL_MS);
		else
			serve(ps, MAX_WAIT_NS);
	}
	st->have_requests = true;
	for (size_t i = 0; i < ps->n; i++) {
		const struct producer *p = &ps->p[i];
		/* a stale count would understate */
		if (!p->have_requests || p->stats_seen < want[i])
			st->have_requests = false;
		st->produce_requests += p->produce_requests;
	}
	free(want);
}

/* ns as a short human figure with its unit. */
static const char *fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
	else if (ns < NS_PER_MS)
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	else if (ns < NS_PER_S)
		snprintf(buf, len, "%.2f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.3f s", (double)ns / 1e9);
	return buf;
}

static double duration_s(const struct load_state *st)
{
	return (double)(st->t_end - st->t_start) / NS_PER_S;
}

static double per_second(uint64_t n, double secs)
{
	return secs > 0 ? (double)n / secs : 0;
}

static void report_text(const struct load_state *st, FILE *out)
{
	static const struct {
		const char *name;
		double q;
	} qs[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}};
	double secs = duration_s(st);
	char buf[32];

	fprintf(out, "messages    sent %llu  delivered %llu  failed %llu\n",
		(unsigned long long)st->sent, (unsigned long long)st->delivered,
		(unsigned long long)st->failed);
	fprintf(out, "duration    %.3f s\n", secs);
	fprintf(out, "throughput  %.1f msg/s  %.2f MB/s\n", per_second(st->delivered, secs),
		per_second(st->delivered, secs) * (double)st->o->size / 1e6);
	fputs("latency    ", out);
	if (hist_empty(&st->lat)) {
		fputs(" (no deliveries)", out);
	} else {
		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
			fprintf(out, " %s %s ", qs[i].name,
				fmt_ns(buf, sizeof(buf), hist_quantile(&st->lat, qs[i].q)));
		fprintf(out, " max %s", fmt_ns(buf, sizeof(buf), st->lat.max));
	}
	fputc('\n', out);
	if (st->have_requests)
		fprintf(out, "requests    %llu produce (%.1f messages/request)\n",
			(unsigned long long)st->produce_requests,
			st->produce_requests
			    ? (double)(st->delivered + st->failed) / (double)st->produce_requests
			    : 0.0);
	else
		fputs("requests    unknown (statistics disabled or not received)\n", out);
	for (size_t i = 0; i < st->nerrs; i++)
		fprintf(out, "error       %s: %llu\n", rd_kafka_err2name(st->errs[i].err),
			(unsigned long long)st->errs[i].n);
	fprintf(out, "profile     %s:", loadprofile_name(st->o->profile));
	for (size_t i = 0; i < st->neff; i++)
		fprintf(out, " %s=%s", st->eff[i].key, st->eff[i].value);
	fputc('\n', out);
	if (st->consumers)
		consumers_text(st->consumers, out);
}

/* Quantile in microseconds; null in the JSON when nothing was delivered. */
static double lat_us(const struct load_state *st, double q)
{
	if (hist_empty(&st->lat))
		return NAN;
	return (double)(q >= 1 ? st->lat.max : hist_quantile(&st->lat, q)) / 1e3;
}

static void report_json(const struct load_state *st, FILE *out)
{
	struct json j;
	double secs = duration_s(st);

	json_init(&j, out);
	json_obj_begin(&j);
	json_kstr(&j, "schema", "kafkalat-load/1");
	json_kuint(&j, "messages", st->sent);
	json_kuint(&j, "delivered", st->delivered);
	json_kuint(&j, "failed", st->failed);
	json_kdouble(&j, "duration_s", secs);
	json_kdouble(&j, "rate_msgs", per_second(st->delivered, secs));
	json_kuint(&j, "producers", st->o->producers);
	json_key(&j, "produce_requests");
	if (st->have_requests)
		json_uint(&j, st->produce_requests);
	else
		json_null(&j);
	json_key(&j, "latency_us");
	json_obj_begin(&j);
	json_kdouble(&j, "p50", lat_us(st, 0.5));
	json_kdouble(&j, "p90", lat_us(st, 0.9));
	json_kdouble(&j, "p99", lat_us(st, 0.99));
	json_kdouble(&j, "p999", lat_us(st, 0.999));
	json_kdouble(&j, "max", lat_us(st, 1));
	json_obj_end(&j);
	json_key(&j, "errors");
	json_obj_begin(&j);
	for (size_t i = 0; i < st->nerrs; i++)
		json_kuint(&j, rd_kafka_err2name(st->errs[i].err), st->errs[i].n);
	json_obj_end(&j);
	json_key(&j, "profile");
	json_obj_begin(&j);
	json_kstr(&j, "name", loadprofile_name(st->o->profile));
	json_key(&j, "config");
	json_obj_begin(&j);
	for (size_t i = 0; i < st->neff; i++)
		json_kstr(&j, st->eff[i].key, st->eff[i].value);
	json_obj_end(&j);
	json_obj_end(&j);
	if (st->consumers)
		consumers_json(st->consumers, &j);
	json_obj_end(&j);
	fputc('\n', out);
}

static void describe_start(const struct load_state *st)
{
	const struct load_opts *o = st->o;
	char target[64];

	if (o->count)
		snprintf(target, sizeof(target), "%llu messages", (unsigned long long)o->count);
	else
		snprintf(target, sizeof(target), "%.1f s", (double)o->duration_ns / NS_PER_S);
	fprintf(stderr, "kafkalat load: %s to %s via %s, %zu B, profile %s, acks=%s, ", target,
		o->topic, o->bootstrap, o->size, loadprofile_name(o->profile),
		effective(st, "acks"));
	if (o->rate)
		fprintf(stderr, "%llu msg/s", (unsigned long long)o->rate);
	else
		fputs("max rate", stderr);
	if (o->producers > 1)
		fprintf(stderr, ", %u producers", (unsigned)o->producers);
	if (o->consumers)
		fprintf(stderr, ", %u consumers (%s)", (unsigned)o->consumers,
			o->consumer_mode == LOAD_CONSUME_GROUP ? "group" : "assign");
	fputc('\n', stderr);
}

/*
 * Fetches the topic's metadata before the clock starts, so the first
 * messages' latency is not the connection set-up, a wrong bootstrap fails in
 * seconds with one clear line, and an auto-created topic exists.
 */
static int warm_up(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const struct load_opts *o, int32_t *npart)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, METADATA_TIMEOUT_MS);

	if (err) {
		fprintf(stderr, "kafkalat load: no metadata for topic %s from %s: %s\n", o->topic,
			o->bootstrap, rd_kafka_err2str(err));
		return -1;
	}
	*npart = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
	if (md->topic_cnt == 1 && !md->topics[0].err &&
	    o->partitions > md->topics[0].partition_cnt && !o->quiet)
		fprintf(stderr,
			"kafkalat load: warning: --partitions %d but %s has %d partitions: "
			"messages to the others will fail\n",
			(int)o->partitions, o->topic, md->topics[0].partition_cnt);
	rd_kafka_metadata_destroy(md);
	return 0;
}

static void producer_close(struct producer *p)
{
	if (p->mainq) {
		rd_kafka_queue_io_event_enable(p->mainq, -1, NULL, 0);
		rd_kafka_queue_destroy(p->mainq);
	}
	if (p->rkt)
		rd_kafka_topic_destroy(p->rkt);
	if (p->rk)
		rd_kafka_destroy(p->rk);
	close(p->wake[0]);
	close(p->wake[1]);
}

/* Creates the client (taking conf), the topic handle and the wake-up pipe. */
static int producer_open(struct producer *p, struct load_state *st, rd_kafka_conf_t *conf,
			 const char *topic)
{
	char errstr[512];

	*p = (struct producer){.wake = {-1, -1}, .st = st};
	rd_kafka_conf_set_opaque(conf, p);
	if (pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		fprintf(stderr, "kafkalat load: pipe: %s\n", strerror(errno));
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!p->rk) {
		fprintf(stderr, "kafkalat load: cannot create producer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		producer_close(p);
		return -1;
	}
	p->rkt = rd_kafka_topic_new(p->rk, topic, NULL);
	if (!p->rkt) {
		fprintf(stderr, "kafkalat load: topic %s: %s\n", topic,
			rd_kafka_err2str(rd_kafka_last_error()));
		producer_close(p);
		return -1;
	}
	p->mainq = rd_kafka_queue_get_main(p->rk);
	rd_kafka_queue_io_event_enable(p->mainq, p->wake[1], "w", 1);
	return 0;
}

/* Opens the producers, each with its own copy of conf (taken). Returns the
 * number opened: ps->n on success. */
static size_t producers_open(struct producers *ps, struct load_state *st, rd_kafka_conf_t *conf)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		bool last = i + 1 == ps->n;
		rd_kafka_conf_t *c = last ? conf : rd_kafka_conf_dup(conf);
		if (producer_open(&ps->p[i], st, c, st->o->topic) != 0)
			break;
	}
	if (i + 1 < ps->n)
		rd_kafka_conf_destroy(conf); /* not handed to the last producer */
	return i;
}

/* Each partition's high watermark: where the next record will go. */
static int end_offsets(rd_kafka_t *rk, const struct load_state *st, int32_t npart, int64_t *out)
{
	for (int32_t p = 0; p < npart; p++) {
		int64_t lo;
		rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
		    rk, st->o->topic, p, &lo, &out[p], OFFSETS_TIMEOUT_MS);
		if (err) {
			fprintf(stderr,
				"kafkalat load: --consumers: no end offset for %s [%d]: %s\n",
				st->o->topic, (int)p, rd_kafka_err2str(err));
			return -1;
		}
	}
	return 0;
}

/* The consumers start at the end offsets read before the first produce(),
 * so they read exactly this run's records, however late they connect. */
static int start_consumers(rd_kafka_t *rk, struct load_state *st, int32_t npart)
{
	if (npart <= 0) {
		fprintf(stderr, "kafkalat load: --consumers: topic %s has no partitions\n",
			st->o->topic);
		return -1;
	}
	int64_t *start = calloc((size_t)npart, sizeof(*start));
	if (!start) {
		fprintf(stderr, "kafkalat load: out of memory\n");
		return -1;
	}
	int rc = end_offsets(rk, st, npart, start);
	if (rc == 0) {
		st->consumers = consumers_start(st->o, npart, start);
		rc = st->consumers ? 0 : -1;
	}
	free(start);
	return rc;
}

static int finish_consumers(rd_kafka_t *rk, struct load_state *st, int32_t npart)
{
	int64_t *end = calloc((size_t)npart, sizeof(*end));

	if (!end) {
		fprintf(stderr, "kafkalat load: out of memory\n");
		return -1;
	}
	int rc = end_offsets(rk, st, npart, end);
	if (rc == 0)
		st->missing =
		    consumers_finish(st->consumers, end, st->o->consume_timeout_ns, &load_stop);
	free(end);
	return rc;
}

/* Creates the clients, produces, drains, reads the final statistics. */
static int run(struct load_state *st, rd_kafka_conf_t *conf, void *payload)
{
	struct producers ps = {.n = st->o->producers};

	ps.p = calloc(ps.n, sizeof(*ps.p));
	ps.pfd = calloc(ps.n, sizeof(*ps.pfd));
	if (!ps.p || !ps.pfd) {
		fprintf(stderr, "kafkalat load: out of memory\n");
		rd_kafka_conf_destroy(conf);
		free(ps.p);
		free(ps.pfd);
		return -1;
	}
	size_t opened = producers_open(&ps, st, conf);
	int rc = opened == ps.n ? 0 : -1;
	int32_t npart = 0;
	for (size_t i = 0; rc == 0 && i < ps.n; i++)
		rc = warm_up(ps.p[i].rk, ps.p[i].rkt, st->o, &npart);
	if (rc == 0 && st->o->consumers)
		rc = start_consumers(ps.p[0].rk, st, npart);
	if (rc == 0) {
		if (!st->o->quiet)
			describe_start(st);
		produce_loop(&ps, st, payload);
		drain(&ps, st);
		final_stats(&ps, st);
		if (st->consumers)
			rc = finish_consumers(ps.p[0].rk, st, npart);
	}
	for (size_t i = 0; i < opened; i++)
		producer_close(&ps.p[i]);
	free(ps.p);
	free(ps.pfd);
	return rc;
}

static int parse(struct load_opts *o, int argc, char **argv)
{
	char err[256];

	switch (loadopts_parse(o, argc, argv, err, sizeof(err))) {
	case LOADOPTS_OK:
		return -1;
	case LOADOPTS_HELP:
		loadopts_usage(stdout);
		return 0;
	case LOADOPTS_ERROR:
		break;
	}
	fprintf(stderr, "kafkalat load: %s\n", err);
	return EXIT_USAGE;
}

/* --messages FILE: created 0600 (it reveals the traffic's timing), with a
 * large buffer so the per-message line costs a formatted copy, not a write. */
#define MESSAGES_BUF (1 << 20)

static int open_messages(struct load_state *st)
{
	const char *path = st->o->messages_path;
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(st->messages = fdopen(fd, "w"))) {
		fprintf(stderr, "kafkalat load: --messages: cannot write %s: %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setvbuf(st->messages, NULL, _IOFBF, MESSAGES_BUF);
	return 0;
}

/* Returns 0, or -1 after saying why the file is incomplete. */
static int close_messages(struct load_state *st)
{
	if (!st->messages)
		return 0;
	bool bad = st->messages_err || ferror(st->messages);
	int saved = errno;
	if (fclose(st->messages) != 0) {
		bad = true;
		saved = errno;
	}
	st->messages = NULL;
	if (!bad)
		return 0;
	fprintf(stderr, "kafkalat load: --messages: writing %s failed: %s\n", st->o->messages_path,
		strerror(saved));
	return -1;
}

/* A fixed payload: compressible enough to be realistic, never reallocated. */
static void *make_payload(size_t size)
{
	unsigned char *p = malloc(size ? size : 1);

	if (!p)
		return NULL;
	for (size_t i = 0; i < size; i++)
		p[i] = (unsigned char)('a' + i % 26);
	return p;
}

int load_main(int argc, char **argv)
{
	struct load_opts o;
	struct signals saved;
	int rc = parse(&o, argc, argv);

	if (rc >= 0)
		return rc;
	struct load_state *st = calloc(1, sizeof(*st));
	void *payload = make_payload(o.size);
	if (!st || !payload) {
		fprintf(stderr, "kafkalat load: out of memory\n");
		free(st);
		free(payload);
		return 1;
	}
	st->o = &o;
	hist_init(&st->lat);
	rd_kafka_conf_t *conf = configure(st);
	if (!conf) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (open_messages(st) != 0) {
		rd_kafka_conf_destroy(conf);
		rc = 1;
		goto out;
	}
	install_signals(&saved);
	rc = run(st, conf, payload);
	restore_signals(&saved);
	bool messages_ok = close_messages(st) == 0;
	if (rc == 0) {
		if (o.json)
			report_json(st, stdout);
		else
			report_text(st, stdout);
		rc = st->failed || st->fatal || !messages_ok ? 1 : 0;
		if (st->missing) {
			consumers_explain_missing(st->consumers);
			rc = 1;
		}
	} else {
		rc = 1;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "kafkalat load: stdout: %s\n", strerror(errno));
		rc = 1;
	}
out:
	consumers_free(st->consumers);
	free(payload);
	free(st);
	return rc;
}

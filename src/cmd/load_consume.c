// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `kafkalat load --consumers N`: see load_consume.h.
 *
 * Each consumer runs on a thread of its own, blocked in
 * rd_kafka_consumer_poll(), rather than on the producers' thread behind a
 * queue wake-up pipe in its ppoll: serving a fetch response hands over up to
 * a whole batch of records per partition, and doing that on the pacing
 * thread would delay the next produce() past its deadline by the time N
 * consumers take to count and timestamp their batches. On their own threads
 * the consumers cost the pacing thread nothing but CPU time shared by the
 * scheduler, and a record is timestamped as soon as librdkafka hands it over
 * (a condition variable wakes the polling thread), not when the producers'
 * wait next ends. Each thread owns its counters and histogram; the main
 * thread reads them only after joining it. What the main thread watches
 * while they run (positions, assignment, errors) is atomic.
 */
#include "kafkalat/load_consume.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafkalat/fmt.h"
#include "kafkalat/hist.h"
#include "kafkalat/loadclient.h"

#define NS_PER_MS	    1000000ull
#define NS_PER_S	    1000000000ull
#define POLL_MS		    100 /* bounds how long a stop request goes unnoticed */
#define WATCH_NS	    (5 * NS_PER_MS)
#define METADATA_TIMEOUT_MS 10000
/* Kafka delays a new group's first rebalance by 3 s
 * (group.initial.rebalance.delay.ms); joining takes a few round trips more. */
#define GROUP_JOIN_TIMEOUT_NS (10 * NS_PER_S)
#define ERR_LEN		      256

struct consumer {
	struct consumers *set;
	size_t idx;
	rd_kafka_t *rk;
	pthread_t thread;
	bool started;
	/* owned by the thread until it is joined */
	struct hist lat; /* end to end, ns */
	uint64_t consumed;
	uint64_t bytes;
	/* watched by the main thread while the thread runs */
	_Atomic int64_t *next; /* per partition: the offset after the last consumed */
	atomic_int assigned;   /* partitions assigned (group mode) */
	atomic_bool failed;    /* err holds the first error */
	char err[ERR_LEN];
	uint64_t missing; /* set by consumers_finish() */
};

struct consumers {
	const struct load_opts *o;
	int32_t npart;
	int64_t *start;
	int64_t *end;
	size_t n;
	struct consumer *c;
	atomic_bool stop;
	bool caught_up;
	bool joined;	   /* every consumer may leave its group cleanly */
	uint64_t expected; /* records between start and end, summed over partitions */
	uint64_t missing;
	struct hist total_lat;
};

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* A broker restarting or a connection dropping is retried by librdkafka. */
static bool transient(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
	       err == RD_KAFKA_RESP_ERR__RESOLVE || err == RD_KAFKA_RESP_ERR__TIMED_OUT;
}

/* The first error is the one that explains; later ones are its echoes. */
static void consumer_fail(struct consumer *c, rd_kafka_resp_err_t err, const char *why)
{
	if (transient(err) || atomic_load(&c->failed))
		return;
	snprintf(c->err, sizeof(c->err), "%s", why);
	atomic_store(&c->failed, true);
}

/*
 * The record's CreateTime is the producer's wall clock at produce(), in
 * milliseconds: the latency is consume time minus that, so it reads up to
 * 1 ms high (0.5 ms on average) and needs producer and consumer on one clock,
 * as they are here.
 */
static void consume_record(struct consumer *c, const rd_kafka_message_t *m)
{
	uint64_t now = real_ns();
	rd_kafka_timestamp_type_t type;
	int64_t ts_ms = rd_kafka_message_timestamp(m, &type);
	struct consumers *cs = c->set;

	if (m->partition < 0 || m->partition >= cs->npart)
		return; /* not a partition of the plan: cannot happen, never index */
	c->consumed++;
	c->bytes += m->len + m->key_len;
	if (type == RD_KAFKA_TIMESTAMP_CREATE_TIME && ts_ms >= 0) {
		uint64_t t0 = (uint64_t)ts_ms * NS_PER_MS;
		hist_record(&c->lat, now > t0 ? now - t0 : 0);
	}
	atomic_store(&c->next[m->partition], m->offset + 1);
}

static void *consumer_thread(void *arg)
{
	struct consumer *c = arg;

	while (!atomic_load(&c->set->stop)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, POLL_MS);
		if (!m)
			continue;
		if (!m->err)
			consume_record(c, m);
		else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			consumer_fail(c, m->err, rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
	}
	return NULL;
}

/* partitions 0..npart-1 of the topic, each at its start offset */
static rd_kafka_topic_partition_list_t *plan_all(const struct consumers *cs)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(cs->npart);

	for (int32_t p = 0; p < cs->npart; p++)
		rd_kafka_topic_partition_list_add(l, cs->o->topic, p)->offset = cs->start[p];
	return l;
}

/*
 * Group mode: whatever the group assigns is read from the run's start
 * offsets, not from a committed or reset position, so a record produced
 * before a rebalance is read by its partition's next owner too.
 */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct consumer *c = opaque;
	bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	int n = 0;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < parts->cnt; i++) {
			int32_t p = parts->elems[i].partition;
			if (p >= 0 && p < c->set->npart)
				parts->elems[i].offset = c->set->start[p];
		}
		if (cooperative)
			rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
		else
			rd_kafka_assign(rk, parts);
		n = parts->cnt;
	} else {
		if (cooperative)
			rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
		else
			rd_kafka_assign(rk, NULL);
		n = -parts->cnt;
	}
	if (cooperative)
		atomic_fetch_add(&c->assigned, n);
	else
		atomic_store(&c->assigned, n > 0 ? n : 0);
}

static bool conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	return loadclient_conf_set(conf, "consumer", key, value);
}

/*
 * Kafka's consumer defaults where they matter to latency: fetch.min.bytes 1
 * and fetch.wait.max.ms (--fetch-wait-ms), so a fetch returns as soon as
 * there is a record. Nothing is committed: the run reads from its own start
 * offsets. Every mode needs a group id for librdkafka's assign(); only group
 * mode joins the group.
 */
static rd_kafka_conf_t *consumer_conf(struct consumer *c, const char *group)
{
	const struct load_opts *o = c->set->o;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char wait[16];

	snprintf(wait, sizeof(wait), "%u", (unsigned)o->fetch_wait_ms);
	if (!conf_set(conf, "bootstrap.servers", o->bootstrap) ||
	    !conf_set(conf, "group.id", group) || !conf_set(conf, "fetch.wait.max.ms", wait) ||
	    !conf_set(conf, "fetch.min.bytes", "1") ||
	    !conf_set(conf, "enable.auto.commit", "false") ||
	    !conf_set(conf, "enable.auto.offset.store", "false") ||
	    !conf_set(conf, "enable.partition.eof", "false") ||
	    (o->quiet && !conf_set(conf, "log_level", "3"))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, c);
	if (o->consumer_mode == LOAD_CONSUME_GROUP)
		rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	return conf;
}

/*
 * A new consumer learns an assigned topic's leaders only at its next
 * periodic metadata scan, up to a second away (topic metadata is fetched on
 * demand for producers, not for assign()); asking for it here makes the
 * consumer fetch from the first produce on, and an unreachable broker fails
 * before the load starts.
 */
static int consumer_metadata(struct consumer *c)
{
	const char *topic = c->set->o->topic;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, topic, NULL);
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;

	if (!rkt) {
		err = rd_kafka_last_error();
	} else {
		err = rd_kafka_metadata(c->rk, 0, rkt, &md, METADATA_TIMEOUT_MS);
		if (!err)
			rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(rkt);
	}
	if (err)
		fprintf(stderr, "kafkalat load: consumer %zu: no metadata for topic %s: %s\n",
			c->idx, topic, rd_kafka_err2str(err));
	return err ? -1 : 0;
}

static int consumer_open(struct consumer *c, const char *group)
{
	char errstr[512];
	rd_kafka_conf_t *conf = consumer_conf(c, group);

	if (!conf)
		return -1;
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!c->rk) {
		fprintf(stderr, "kafkalat load: cannot create consumer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rd_kafka_poll_set_consumer(c->rk);
	if (consumer_metadata(c) != 0)
		return -1;
	rd_kafka_resp_err_t err;
	rd_kafka_topic_partition_list_t *l;
	if (c->set->o->consumer_mode == LOAD_CONSUME_GROUP) {
		l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, c->set->o->topic, RD_KAFKA_PARTITION_UA);
		err = rd_kafka_subscribe(c->rk, l);
	} else {
		l = plan_all(c->set);
		err = rd_kafka_assign(c->rk, l);
	}
	rd_kafka_topic_partition_list_destroy(l);
	if (err) {
		fprintf(stderr, "kafkalat load: consumer %zu: %s: %s\n", c->idx,
			c->set->o->consumer_mode == LOAD_CONSUME_GROUP ? "subscribe" : "assign",
			rd_kafka_err2str(err));
		return -1;
	}
	/* SIGINT and SIGTERM go to the main thread, whose waits they end. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int e = pthread_create(&c->thread, NULL, consumer_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		fprintf(stderr, "kafkalat load: consumer thread: %s\n", strerror(e));
		return -1;
	}
	c->started = true;
	return 0;
}

static const struct consumer *first_failed(const struct consumers *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		if (atomic_load(&cs->c[i].failed))
			return &cs->c[i];
	return NULL;
}

/* Every partition has an owner and every consumer that can have one does. */
static bool group_ready(const struct consumers *cs)
{
	int sum = 0;
	size_t holders = 0;

	for (size_t i = 0; i < cs->n; i++) {
		int a = atomic_load(&cs->c[i].assigned);
		sum += a;
		holders += a > 0;
	}
	size_t want = cs->n < (size_t)cs->npart ? cs->n : (size_t)cs->npart;
	return sum == cs->npart && holders == want;
}

/*
 * librdkafka looks for a group coordinator only among brokers that advertise
 * FindCoordinator and JoinGroup, and finding none it waits in silence: a
 * bounded wait is what turns that into an error.
 */
static int wait_group(struct consumers *cs)
{
	uint64_t deadline = loadclient_mono_ns() + GROUP_JOIN_TIMEOUT_NS;
	struct timespec ts = {0, (long)WATCH_NS};

	while (!group_ready(cs)) {
		const struct consumer *f = first_failed(cs);
		if (f) {
			fprintf(stderr, "kafkalat load: --consumer-mode group: consumer %zu: %s\n",
				f->idx, f->err);
			return -1;
		}
		if (loadclient_mono_ns() >= deadline) {
			fprintf(
			    stderr,
			    "kafkalat load: --consumer-mode group: group kafkalat-load-%d got no "
			    "partitions within %llu s: %s coordinates no consumer groups "
			    "(FindCoordinator/JoinGroup)?\n",
			    (int)getpid(), (unsigned long long)(GROUP_JOIN_TIMEOUT_NS / NS_PER_S),
			    cs->o->bootstrap);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

static struct consumers *consumers_alloc(const struct load_opts *o, int32_t npart,
					 const int64_t *start)
{
	struct consumers *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return NULL;
	cs->o = o;
	cs->npart = npart;
	cs->n = o->consumers;
	cs->start = calloc((size_t)npart, sizeof(*cs->start));
	cs->end = calloc((size_t)npart, sizeof(*cs->end));
	cs->c = calloc(cs->n, sizeof(*cs->c));
	if (!cs->start || !cs->end || !cs->c) {
		consumers_free(cs);
		return NULL;
	}
	memcpy(cs->start, start, (size_t)npart * sizeof(*start));
	hist_init(&cs->total_lat);
	for (size_t i = 0; i < cs->n; i++) {
		struct consumer *c = &cs->c[i];
		c->set = cs;
		c->idx = i;
		hist_init(&c->lat);
		c->next = calloc((size_t)npart, sizeof(*c->next));
		if (!c->next) {
			consumers_free(cs);
			return NULL;
		}
		for (int32_t p = 0; p < npart; p++)
			atomic_init(&c->next[p], start[p]);
	}
	return cs;
}

struct consumers *consumers_start(const struct load_opts *o, int32_t npart, const int64_t *start)
{
	struct consumers *cs = consumers_alloc(o, npart, start);
	char group[64];

	if (!cs) {
		fprintf(stderr, "kafkalat load: out of memory\n");
		return NULL;
	}
	snprintf(group, sizeof(group), "kafkalat-load-%d", (int)getpid());
	for (size_t i = 0; i < cs->n; i++) {
		if (consumer_open(&cs->c[i], group) != 0) {
			consumers_free(cs);
			return NULL;
		}
	}
	if (o->consumer_mode == LOAD_CONSUME_GROUP && wait_group(cs) != 0) {
		consumers_free(cs);
		return NULL;
	}
	cs->joined = true;
	return cs;
}

/* Records in [start, end) of partition p that position next has not reached. */
static uint64_t behind(const struct consumers *cs, int32_t p, int64_t next)
{
	int64_t from = next > cs->start[p] ? next : cs->start[p];

	return cs->end[p] > from ? (uint64_t)(cs->end[p] - from) : 0;
}

/* Assign mode: each consumer's own shortfall. Group mode: the partition's
 * owner is the consumer furthest along it; the shortfall is the group's,
 * charged to that consumer. */
static uint64_t count_missing(struct consumers *cs)
{
	uint64_t total = 0;

	for (size_t i = 0; i < cs->n; i++)
		cs->c[i].missing = 0;
	for (int32_t p = 0; p < cs->npart; p++) {
		if (cs->o->consumer_mode == LOAD_CONSUME_ASSIGN) {
			for (size_t i = 0; i < cs->n; i++) {
				uint64_t m = behind(cs, p, atomic_load(&cs->c[i].next[p]));
				cs->c[i].missing += m;
				total += m;
			}
			continue;
		}
		size_t best = 0;
		for (size_t i = 1; i < cs->n; i++)
			if (atomic_load(&cs->c[i].next[p]) > atomic_load(&cs->c[best].next[p]))
				best = i;
		uint64_t m = behind(cs, p, atomic_load(&cs->c[best].next[p]));
		cs->c[best].missing += m;
		total += m;
	}
	return total;
}

static void stop_all(struct consumers *cs)
{
	atomic_store(&cs->stop, true);
	for (size_t i = 0; cs->c && i < cs->n; i++) {
		if (cs->c[i].started) {
			pthread_join(cs->c[i].thread, NULL);
			cs->c[i].started = false;
		}
	}
}

uint64_t consumers_finish(struct consumers *cs, const int64_t *end, uint64_t timeout_ns,
			  volatile const sig_atomic_t *stop)
{
	uint64_t deadline = loadclient_mono_ns() + timeout_ns;
	struct timespec ts = {0, (long)WATCH_NS};

	memcpy(cs->end, end, (size_t)cs->npart * sizeof(*end));
	cs->expected = 0;
	for (int32_t p = 0; p < cs->npart; p++)
		cs->expected += behind(cs, p, cs->start[p]);
	while (count_missing(cs) && loadclient_mono_ns() < deadline && *stop < 2)
		nanosleep(&ts, NULL);
	stop_all(cs);
	cs->missing = count_missing(cs);
	cs->caught_up = cs->missing == 0;
	for (size_t i = 0; i < cs->n; i++)
		hist_merge(&cs->total_lat, &cs->c[i].lat);
	return cs->missing;
}

static double lat_us(const struct hist *h, double q)
{
	if (hist_empty(h))
		return NAN;
	return (double)(q >= 1 ? h->max : hist_quantile(h, q)) / 1e3;
}

static void json_lat(struct json *j, const struct hist *h)
{
	json_key(j, "e2e_latency_us");
	json_obj_begin(j);
	json_kdouble(j, "p50", lat_us(h, 0.5));
	json_kdouble(j, "p99", lat_us(h, 0.99));
	json_kdouble(j, "max", lat_us(h, 1));
	json_obj_end(j);
}

void consumers_json(const struct consumers *cs, struct json *j)
{
	uint64_t consumed = 0, bytes = 0;

	for (size_t i = 0; i < cs->n; i++) {
		consumed += cs->c[i].consumed;
		bytes += cs->c[i].bytes;
	}
	json_key(j, "consumers");
	json_obj_begin(j);
	json_kuint(j, "count", cs->n);
	json_kstr(j, "mode", cs->o->consumer_mode == LOAD_CONSUME_GROUP ? "group" : "assign");
	json_kuint(j, "fetch_wait_ms", cs->o->fetch_wait_ms);
	json_kuint(j, "expected", cs->expected); /* per consumer in assign mode, else the group's */
	json_kuint(j, "consumed", consumed);
	json_kuint(j, "bytes", bytes);
	json_kuint(j, "missing", cs->missing);
	json_key(j, "all_consumed");
	json_bool(j, cs->caught_up);
	json_lat(j, &cs->total_lat);
	json_key(j, "per_consumer");
	json_arr_begin(j);
	for (size_t i = 0; i < cs->n; i++) {
		const struct consumer *c = &cs->c[i];
		json_obj_begin(j);
		json_kuint(j, "consumed", c->consumed);
		json_kuint(j, "bytes", c->bytes);
		json_kuint(j, "missing", c->missing);
		json_lat(j, &c->lat);
		json_key(j, "error");
		if (atomic_load(&c->failed))
			json_str(j, c->err);
		else
			json_null(j);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static void text_lat(FILE *out, const struct hist *h)
{
	char p50[32], p99[32], max[32];

	if (hist_empty(h)) {
		fputs("(none)", out);
		return;
	}
	fmt_ns(hist_quantile(h, 0.5), p50, sizeof(p50));
	fmt_ns(hist_quantile(h, 0.99), p99, sizeof(p99));
	fmt_ns(h->max, max, sizeof(max));
	fprintf(out, "p50 %s  p99 %s  max %s", p50, p99, max);
}

void consumers_text(const struct consumers *cs, FILE *out)
{
	uint64_t consumed = 0, bytes = 0;

	for (size_t i = 0; i < cs->n; i++) {
		consumed += cs->c[i].consumed;
		bytes += cs->c[i].bytes;
	}
	fprintf(out, "consumers   %zu %s: consumed %llu (%llu B), expected %llu%s, missing %llu\n",
		cs->n, cs->o->consumer_mode == LOAD_CONSUME_GROUP ? "in a group" : "assigned",
		(unsigned long long)consumed, (unsigned long long)bytes,
		(unsigned long long)cs->expected,
		cs->o->consumer_mode == LOAD_CONSUME_ASSIGN ? " each" : "",
		(unsigned long long)cs->missing);
	fputs("end-to-end  ", out);
	text_lat(out, &cs->total_lat);
	fputs(" (record timestamp to consume)\n", out);
	for (size_t i = 0; i < cs->n; i++) {
		const struct consumer *c = &cs->c[i];
		fprintf(out, "consumer %-3zu consumed %llu (%llu B), missing %llu, ", i,
			(unsigned long long)c->consumed, (unsigned long long)c->bytes,
			(unsigned long long)c->missing);
		text_lat(out, &c->lat);
		fputc('\n', out);
		if (atomic_load(&c->failed))
			fprintf(out, "consumer %-3zu error: %s\n", i, c->err);
	}
}

void consumers_explain_missing(const struct consumers *cs)
{
	size_t short_of = 0;

	for (size_t i = 0; i < cs->n; i++)
		short_of += cs->c[i].missing > 0;
	fprintf(stderr,
		"kafkalat load: %llu records not consumed within --consume-timeout %g s "
		"(%zu of %zu consumers short)\n",
		(unsigned long long)cs->missing, (double)cs->o->consume_timeout_ns / NS_PER_S,
		short_of, cs->n);
}

void consumers_free(struct consumers *cs)
{
	if (!cs)
		return;
	stop_all(cs);
	for (size_t i = 0; cs->c && i < cs->n; i++) {
		struct consumer *c = &cs->c[i];
		/* Closing leaves the group; a group that never formed has no
		 * coordinator to leave, and waiting for one would hang. */
		if (c->rk && cs->joined)
			rd_kafka_consumer_close(c->rk);
		if (c->rk)
			rd_kafka_destroy_flags(
			    c->rk, cs->joined ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
		free(c->next);
	}
	free(cs->c);
	free(cs->start);
	free(cs->end);
	free(cs);
}

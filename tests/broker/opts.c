// SPDX-License-Identifier: MIT
/*
 * Command line of the reference broker. Every number is parsed with its end
 * pointer and range checked: a typo must not silently become 0.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

static const char usage[] =
    "Usage: refbroker --port PORT --log-dir DIR [options]\n"
    "\n"
    "A reference Kafka broker that reproduces Apache Kafka's produce path.\n"
    "\n"
    "  --port PORT               listen port; 0 picks a free one (printed as PORT=<n>)\n"
    "  --log-dir DIR             where <topic>-<partition>/ segment directories go\n"
    "  --partitions N            partitions of auto-created topics (default 1)\n"
    "  --handlers N              request handler threads (default 8)\n"
    "  --network-threads N       network threads (default 1)\n"
    "  --io jvm|chunked          socket I/O style (default jvm)\n"
    "  --truth FILE              per-request ground truth, one JSON line each\n"
    "  --segment-bytes N         roll segments at N bytes (default 1 GiB)\n"
    "  --flush-messages N        fsync every N messages (default 0: never)\n"
    "  --replica-delay-ms MS     delay acks=all responses (stands for followers)\n"
    "  --inject-lock-hold MS:EVERY  hold the partition lock MS ms every EVERY appends\n"
    "  --inject-fsync-every N    fsync under the lock after every N-th append\n"
    "  --inject-sleep PHASE:MS:EVERY  sleep MS ms in PHASE (read, queue, append,\n"
    "                            respond) every EVERY requests (repeatable)\n"
    "  --cpu-hog                 a busy thread pinned with the handlers, nice -10\n"
    "\n"
    "Replication (one process per broker, Kafka's acks=all):\n"
    "  --cluster ID@HOST:PORT,...  every broker, this one included (fixed ports)\n"
    "  --broker-id N             this broker's id (default 0)\n"
    "  --replication-factor R    replicas per partition (default min(3, brokers))\n"
    "  --min-insync-replicas N   acks=all needs an ISR this big (default 1)\n"
    "  --replica-lag-time-ms MS  ISR shrink after MS not caught up (default 30000)\n"
    "  --replica-fetch-wait-ms MS  follower fetch max wait (default 500)\n"
    "  --num-replica-fetchers N  fetcher threads per leader (default 1)\n"
    "  -h, --help                this text\n";

static const char *const phase_names[RB_PH_N] = {"read", "queue", "append", "respond"};

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "refbroker: %s '%s': %s (see --help)\n", opt, val, why);
	return 2;
}

/* Parses a whole decimal number in [min, max]; the end pointer must land on end. */
static int parse_u64(const char *s, char end, uint64_t min, uint64_t max, uint64_t *v,
		     const char **rest)
{
	char *e;
	unsigned long long x;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoull(s, &e, 10);
	if (errno || e == s || *e != end || x < min || x > max)
		return -1;
	*v = x;
	if (rest)
		*rest = e + (end ? 1 : 0);
	return 0;
}

static int num(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	if (parse_u64(s, '\0', min, max, v, NULL))
		return bad(opt, s, "not a number in range");
	return 0;
}

static int u32opt(const char *opt, const char *s, uint64_t min, uint64_t max, uint32_t *v)
{
	uint64_t x;

	if (num(opt, s, min, max, &x))
		return 2;
	*v = (uint32_t)x;
	return 0;
}

/* "MS:EVERY" */
static int every(const char *opt, const char *s, struct rb_every *e)
{
	uint64_t ms, n;
	const char *rest;

	if (parse_u64(s, ':', 0, 3600000, &ms, &rest) ||
	    parse_u64(rest, '\0', 1, UINT32_MAX, &n, NULL))
		return bad(opt, s, "want MS:EVERY (EVERY >= 1)");
	e->ms = (uint32_t)ms;
	e->every = (uint32_t)n;
	return 0;
}

/* "PHASE:MS:EVERY" */
static int sleep_opt(struct rb_opts *o, const char *s)
{
	const char *colon = strchr(s, ':');

	for (int i = 0; colon && i < RB_PH_N; i++) {
		size_t n = strlen(phase_names[i]);

		if ((size_t)(colon - s) == n && !strncmp(s, phase_names[i], n))
			return every("--inject-sleep", colon + 1, &o->sleep[i]);
	}
	return bad("--inject-sleep", s, "want PHASE:MS:EVERY, PHASE read|queue|append|respond");
}

/* One "ID@HOST:PORT" of --cluster. */
static int node(const char *s, size_t n, struct rb_node *out)
{
	char buf[128], *at, *colon;
	uint64_t id, port;

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	at = strchr(buf, '@');
	colon = strrchr(buf, ':');
	if (!at || !colon || colon < at || colon == at + 1)
		return -1;
	*at = *colon = '\0';
	if (parse_u64(buf, '\0', 0, INT32_MAX, &id, NULL) ||
	    parse_u64(colon + 1, '\0', 1, 65535, &port, NULL) ||
	    strlen(at + 1) >= sizeof(out->host))
		return -1;
	out->id = (int32_t)id;
	out->port = (uint16_t)port;
	snprintf(out->host, sizeof(out->host), "%s", at + 1);
	return 0;
}

static int node_cmp(const void *a, const void *b)
{
	const struct rb_node *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* "ID@HOST:PORT,..." sorted by id, so every broker sees the same ring. */
static int cluster(struct rb_opts *o, const char *s)
{
	const char *p = s;

	o->nnodes = 0;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (o->nnodes == RB_MAX_BROKERS)
			return bad("--cluster", s, "more than 16 brokers");
		if (node(p, n, &o->nodes[o->nnodes]))
			return bad("--cluster", s, "want ID@HOST:PORT,... with ports 1-65535");
		o->nnodes++;
		p += n;
		if (*p == ',' && *++p == '\0')
			return bad("--cluster", s, "trailing comma");
	}
	if (!o->nnodes)
		return bad("--cluster", s, "no brokers");
	qsort(o->nodes, o->nnodes, sizeof(o->nodes[0]), node_cmp);
	for (uint32_t i = 1; i < o->nnodes; i++)
		if (o->nodes[i].id == o->nodes[i - 1].id)
			return bad("--cluster", s, "a broker id twice");
	return 0;
}

enum {
	O_PORT = 256,
	O_LOGDIR,
	O_PARTS,
	O_HANDLERS,
	O_NETS,
	O_IO,
	O_TRUTH,
	O_SEGBYTES,
	O_FLUSH,
	O_REPLICA,
	O_LOCKHOLD,
	O_FSYNC,
	O_SLEEP,
	O_HOG,
	O_BROKER_ID,
	O_CLUSTER,
	O_RF,
	O_MIN_ISR,
	O_LAG,
	O_FETCH_WAIT,
	O_FETCHERS,
};

static const struct option longopts[] = {
    {"port", required_argument, NULL, O_PORT},
    {"log-dir", required_argument, NULL, O_LOGDIR},
    {"partitions", required_argument, NULL, O_PARTS},
    {"handlers", required_argument, NULL, O_HANDLERS},
    {"network-threads", required_argument, NULL, O_NETS},
    {"io", required_argument, NULL, O_IO},
    {"truth", required_argument, NULL, O_TRUTH},
    {"segment-bytes", required_argument, NULL, O_SEGBYTES},
    {"flush-messages", required_argument, NULL, O_FLUSH},
    {"replica-delay-ms", required_argument, NULL, O_REPLICA},
    {"inject-lock-hold", required_argument, NULL, O_LOCKHOLD},
    {"inject-fsync-every", required_argument, NULL, O_FSYNC},
    {"inject-sleep", required_argument, NULL, O_SLEEP},
    {"cpu-hog", no_argument, NULL, O_HOG},
    {"broker-id", required_argument, NULL, O_BROKER_ID},
    {"cluster", required_argument, NULL, O_CLUSTER},
    {"replication-factor", required_argument, NULL, O_RF},
    {"min-insync-replicas", required_argument, NULL, O_MIN_ISR},
    {"replica-lag-time-ms", required_argument, NULL, O_LAG},
    {"replica-fetch-wait-ms", required_argument, NULL, O_FETCH_WAIT},
    {"num-replica-fetchers", required_argument, NULL, O_FETCHERS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int one(struct rb_opts *o, int c, const char *a)
{
	uint64_t v;

	switch (c) {
	case O_PORT:
		if (num("--port", a, 0, 65535, &v))
			return 2;
		o->port = (uint16_t)v;
		return 0;
	case O_LOGDIR:
		o->log_dir = a;
		return 0;
	case O_PARTS:
		return u32opt("--partitions", a, 1, 10000, &o->partitions);
	case O_HANDLERS:
		return u32opt("--handlers", a, 1, 1024, &o->handlers);
	case O_NETS:
		return u32opt("--network-threads", a, 1, 64, &o->net_threads);
	case O_IO:
		if (strcmp(a, "jvm") && strcmp(a, "chunked"))
			return bad("--io", a, "want jvm or chunked");
		o->io = strcmp(a, "jvm") ? RB_IO_CHUNKED : RB_IO_JVM;
		return 0;
	case O_TRUTH:
		o->truth = a;
		return 0;
	case O_SEGBYTES:
		/* Kafka's position and index entries are 32-bit: segments < 2 GiB. */
		return num("--segment-bytes", a, 1024, INT32_MAX, &o->segment_bytes);
	case O_FLUSH:
		return num("--flush-messages", a, 0, UINT64_MAX, &o->flush_messages);
	case O_REPLICA:
		return u32opt("--replica-delay-ms", a, 0, 3600000, &o->replica_delay_ms);
	case O_LOCKHOLD:
		return every("--inject-lock-hold", a, &o->lock_hold);
	case O_FSYNC:
		return u32opt("--inject-fsync-every", a, 1, UINT32_MAX, &o->fsync_every);
	case O_SLEEP:
		return sleep_opt(o, a);
	case O_HOG:
		o->cpu_hog = true;
		return 0;
	case O_BROKER_ID:
		if (num("--broker-id", a, 0, INT32_MAX, &v))
			return 2;
		o->broker_id = (int32_t)v;
		return 0;
	case O_CLUSTER:
		return cluster(o, a);
	case O_RF:
		return u32opt("--replication-factor", a, 1, RB_MAX_REPLICAS,
			      &o->replication_factor);
	case O_MIN_ISR:
		return u32opt("--min-insync-replicas", a, 1, RB_MAX_REPLICAS, &o->min_isr);
	case O_LAG:
		return u32opt("--replica-lag-time-ms", a, 10, 3600000, &o->replica_lag_ms);
	case O_FETCH_WAIT:
		return u32opt("--replica-fetch-wait-ms", a, 0, 60000, &o->replica_fetch_wait_ms);
	case O_FETCHERS:
		return u32opt("--num-replica-fetchers", a, 1, 16, &o->num_replica_fetchers);
	default:
		fprintf(stderr, "refbroker: unknown option (see --help)\n");
		return 2;
	}
}

/* This broker is in the list; its port comes from there (or must agree). */
static int cluster_check(struct rb_opts *o, bool have_port)
{
	uint32_t i;

	for (i = 0; i < o->nnodes && o->nodes[i].id != o->broker_id; i++)
		;
	if (i == o->nnodes) {
		fprintf(stderr, "refbroker: --broker-id %d is not in --cluster (see --help)\n",
			o->broker_id);
		return 2;
	}
	o->self = i;
	if (o->replica_delay_ms) {
		fprintf(stderr, "refbroker: --replica-delay-ms stands for followers: not with "
				"--cluster, which has real ones\n");
		return 2;
	}
	if (have_port && o->port != o->nodes[i].port) {
		fprintf(stderr,
			"refbroker: --port %u differs from broker %d's port %u in --cluster\n",
			o->port, o->broker_id, o->nodes[i].port);
		return 2;
	}
	o->port = o->nodes[i].port;
	if (!o->replication_factor)
		o->replication_factor = o->nnodes < 3 ? o->nnodes : 3;
	if (o->replication_factor > o->nnodes) {
		fprintf(stderr, "refbroker: --replication-factor %u exceeds the %u brokers\n",
			o->replication_factor, o->nnodes);
		return 2;
	}
	if (o->min_isr > o->replication_factor) {
		fprintf(stderr,
			"refbroker: --min-insync-replicas %u exceeds the replication factor\n",
			o->min_isr);
		return 2;
	}
	if (!o->log_dir) {
		fprintf(stderr, "refbroker: --log-dir is required (see --help)\n");
		return 2;
	}
	return 0;
}

int opts_parse(struct rb_opts *o, int argc, char **argv)
{
	bool have_port = false;
	int c, err;

	memset(o, 0, sizeof(*o));
	o->partitions = 1;
	o->handlers = 8;
	o->net_threads = 1;
	o->segment_bytes = 1ull << 30;
	o->min_isr = 1;
	o->replica_lag_ms = 30000;
	o->replica_fetch_wait_ms = 500;
	o->num_replica_fetchers = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 1;
		}
		if (c == ':') {
			fprintf(stderr, "refbroker: %s needs a value (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
		if (c == '?') {
			fprintf(stderr, "refbroker: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
		if ((err = one(o, c, optarg)))
			return err;
		have_port |= c == O_PORT;
	}
	if (optind < argc) {
		fprintf(stderr, "refbroker: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	if (o->nnodes)
		return cluster_check(o, have_port);
	if (!have_port || !o->log_dir) {
		fprintf(stderr, "refbroker: --port and --log-dir are required (see --help)\n");
		return 2;
	}
	return 0;
}

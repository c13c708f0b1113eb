// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `kafkalat load` option parsing and statistics extraction (pure: no
 * librdkafka, so unit tests link it).
 */
#include "kafkalat/loadopts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000.0

enum {
	OPT_PARTITIONS = 256,
	OPT_RATE,
	OPT_SIZE,
	OPT_ACKS,
	OPT_COUNT,
	OPT_JSON,
	OPT_MESSAGES,
	OPT_PRODUCERS,
	OPT_PROFILE,
	OPT_CONSUMERS,
	OPT_CONSUMER_MODE,
	OPT_FETCH_WAIT,
	OPT_CONSUME_TIMEOUT,
};

/*
 * The Java producer's documented defaults as of Kafka 3.9 (the last 3.x;
 * Kafka 4.0 raised linger.ms to 5), in librdkafka's names. Java batches by
 * bytes only, so librdkafka's per-batch message limit is lifted to its
 * maximum and batch.size bounds the batch; murmur2_random is Java's
 * partitioner for keyed records and spreads unkeyed ones.
 */
static const struct load_conf_pair java_profile[] = {
    {"acks", "all"},
    {"enable.idempotence", "true"},
    {"linger.ms", "0"},
    {"batch.size", "16384"},
    {"batch.num.messages", "1000000"},
    {"compression.codec", "none"},
    {"max.in.flight.requests.per.connection", "5"},
    {"request.timeout.ms", "30000"},
    {"delivery.timeout.ms", "120000"},
    {"retries", "2147483647"},
    {"retry.backoff.ms", "100"},
    {"partitioner", "murmur2_random"},
};

/* librdkafka's own defaults, but acks=1: the load's historical default. */
static const struct load_conf_pair librdkafka_profile[] = {
    {"acks", "1"},
};

static const struct {
	const char *name;
	const struct load_conf_pair *pairs;
	size_t n;
} profiles[] = {
    [LOAD_PROFILE_LIBRDKAFKA] = {"librdkafka", librdkafka_profile,
				 sizeof(librdkafka_profile) / sizeof(librdkafka_profile[0])},
    [LOAD_PROFILE_JAVA] = {"java", java_profile, sizeof(java_profile) / sizeof(java_profile[0])},
};

const struct load_conf_pair *loadprofile_config(enum load_profile p, size_t *n)
{
	*n = profiles[p].n;
	return profiles[p].pairs;
}

const char *loadprofile_name(enum load_profile p)
{
	return profiles[p].name;
}

void loadopts_usage(FILE *out)
{
	fputs(
	    "Usage: kafkalat load -b BOOTSTRAP -t TOPIC [options]\n"
	    "\n"
	    "Produce messages with librdkafka and report their delivery latency, so a\n"
	    "broker can be profiled under a known, repeatable load.\n"
	    "\n"
	    "  -b, --bootstrap HOST:PORT[,...]  brokers to bootstrap from (required)\n"
	    "  -t, --topic TOPIC                topic to produce to (required)\n"
	    "      --partitions N               0: let the partitioner choose (default);\n"
	    "                                   N: round-robin over partitions 0..N-1\n"
	    "      --rate MSG/S                 target rate, paced by absolute deadlines;\n"
	    "                                   0: as fast as the producer queue allows (default)\n"
	    "      --size BYTES                 payload size (default 100; key is NULL)\n"
	    "      --acks 0|1|all               required acknowledgements (default: the\n"
	    "                                   profile's: 1 for librdkafka, all for java)\n"
	    "      --profile librdkafka|java    producer defaults: librdkafka's own (with\n"
	    "                                   acks 1; the default), or the Java producer's\n"
	    "                                   as documented for Kafka 3.9 (acks all,\n"
	    "                                   idempotence, linger.ms 0, batch.size 16384,\n"
	    "                                   no compression, 5 in flight, request timeout\n"
	    "                                   30 s, delivery timeout 120 s, retries max);\n"
	    "                                   --acks and -X win over it\n"
	    "  -d, --duration SECONDS           produce for this long (default 10)\n"
	    "      --count N                    produce exactly N messages instead of -d\n"
	    "      --producers N                N independent producers, each its own client\n"
	    "                                   and connections (default 1, at most 256);\n"
	    "                                   they share --rate and --count: message i goes\n"
	    "                                   to producer i mod N\n"
	    "      --consumers N                N librdkafka consumers (default 0, max 256),\n"
	    "                                   each its own client and connections, reading\n"
	    "                                   the topic as it is written; the summary adds\n"
	    "                                   what each consumed and the end-to-end latency\n"
	    "                                   (record timestamp to consume; 1 ms steps)\n"
	    "      --consumer-mode assign|group assign (default): every consumer reads every\n"
	    "                                   partition from this run's first offset, no\n"
	    "                                   group coordinator needed; group: one consumer\n"
	    "                                   group kafkalat-load-PID shares the partitions\n"
	    "                                   (needs FindCoordinator/JoinGroup: the\n"
	    "                                   reference broker has no groups)\n"
	    "      --fetch-wait-ms MS           consumers' fetch.wait.max.ms (default 500, as\n"
	    "                                   Kafka; fetch.min.bytes 1: they long-poll)\n"
	    "      --consume-timeout SECONDS    after producing, wait up to this long for the\n"
	    "                                   consumers to reach the produced end offsets\n"
	    "                                   (default 10); records not consumed by then\n"
	    "                                   count as missing\n"
	    "  -X KEY=VALUE                     set any librdkafka property of the producers\n"
	    "                                   (repeatable; wins over every setting above)\n"
	    "      --json                       print the summary as one JSON line\n"
	    "                                   (schema kafkalat-load/1)\n"
	    "      --messages FILE              write one JSON line per delivered message to\n"
	    "                                   FILE (created 0600): {\"partition\":N,\n"
	    "                                   \"offset\":N,\"t_produce_ns\":N,\"t_dr_ns\":N}\n"
	    "                                   (CLOCK_MONOTONIC ns of produce() and of the\n"
	    "                                   delivery report; offset -1 if unknown: acks 0)\n"
	    "  -q, --quiet                      no progress or start message, fewer client logs\n"
	    "  -h, --help                       this text\n"
	    "\n"
	    "Latency is measured per message from produce() to its delivery report\n"
	    "(CLOCK_MONOTONIC); with --acks 0 a message counts as delivered once sent. The\n"
	    "produce request count comes from librdkafka's statistics (sum over brokers\n"
	    "and producers).\n"
	    "SIGINT/SIGTERM stop producing, wait for outstanding deliveries, then report.\n"
	    "Exit status: 0 all delivered (and consumed), 1 some failed (or missing), 2\n"
	    "usage error.\n"
	    "\n"
	    "Examples:\n"
	    "  kafkalat load -b 127.0.0.1:9092 -t bench --count 20000\n"
	    "  kafkalat load -b 127.0.0.1:9092 -t bench --rate 2000 -d 60 --acks all --json\n"
	    "  kafkalat load -b 127.0.0.1:9092 -t bench --partitions 8 --size 1024 \\\n"
	    "      -X linger.ms=0 -X max.in.flight=10\n"
	    "  kafkalat load -b 127.0.0.1:9092 -t bench --producers 8 --rate 2000 --count 4000\n"
	    "  kafkalat load -b 127.0.0.1:9092 -t bench --profile java --producers 4 \\\n"
	    "      --consumers 3 --rate 1000 -d 30\n",
	    out);
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* strtoull accepts leading blanks and a minus sign (and wraps it); a count
 * must be written as plain digits. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_seconds(const char *s, uint64_t *ns)
{
	char *end;

	if (!isdigit((unsigned char)s[0]) && s[0] != '.')
		return false;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > LOAD_MAX_DURATION_S)
		return false;
	*ns = (uint64_t)(v * NS_PER_S);
	return *ns > 0;
}

static bool parse_prop(struct load_opts *o, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg) {
		seterr(err, errlen, "-X: expected KEY=VALUE, got '%s'", arg);
		return false;
	}
	if (o->nprops == LOAD_MAX_PROPS) {
		seterr(err, errlen, "-X: at most %d properties", LOAD_MAX_PROPS);
		return false;
	}
	o->props[o->nprops++] = (struct load_prop){
	    .key = arg,
	    .key_len = (size_t)(eq - arg),
	    .value = eq + 1,
	};
	return true;
}

static bool parse_acks(struct load_opts *o, const char *arg, char *err, size_t errlen)
{
	static const char *const valid[] = {"0", "1", "all"};

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		if (strcmp(arg, valid[i]) == 0) {
			o->acks = valid[i];
			return true;
		}
	}
	if (strcmp(arg, "-1") == 0) { /* Kafka's own spelling of "all" */
		o->acks = "all";
		return true;
	}
	seterr(err, errlen, "--acks: expected 0, 1 or all, got '%s'", arg);
	return false;
}

static bool parse_profile(struct load_opts *o, const char *arg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		if (strcmp(arg, profiles[i].name) == 0) {
			o->profile = (enum load_profile)i;
			return true;
		}
	}
	seterr(err, errlen, "--profile: expected librdkafka or java, got '%s'", arg);
	return false;
}

static bool parse_consumer_mode(struct load_opts *o, const char *arg, char *err, size_t errlen)
{
	if (strcmp(arg, "assign") == 0)
		o->consumer_mode = LOAD_CONSUME_ASSIGN;
	else if (strcmp(arg, "group") == 0)
		o->consumer_mode = LOAD_CONSUME_GROUP;
	else {
		seterr(err, errlen, "--consumer-mode: expected assign or group, got '%s'", arg);
		return false;
	}
	return true;
}

static bool bad_number(const char *opt, uint64_t max, const char *arg, char *err, size_t errlen)
{
	seterr(err, errlen, "%s: expected an integer 0..%llu, got '%s'", opt,
	       (unsigned long long)max, arg);
	return false;
}

/* One option with its argument; false with err set when it is invalid. */
static bool apply_option(struct load_opts *o, int c, const char *arg, bool *have_duration,
			 const char **consumer_opt, char *err, size_t errlen)
{
	uint64_t v;

	switch (c) {
	case 'b':
		o->bootstrap = arg;
		return true;
	case 't':
		o->topic = arg;
		return true;
	case OPT_PARTITIONS:
		if (!parse_u64(arg, LOAD_MAX_PARTITIONS, &v))
			return bad_number("--partitions", LOAD_MAX_PARTITIONS, arg, err, errlen);
		o->partitions = (int32_t)v;
		return true;
	case OPT_RATE:
		if (!parse_u64(arg, LOAD_MAX_RATE, &o->rate))
			return bad_number("--rate", LOAD_MAX_RATE, arg, err, errlen);
		return true;
	case OPT_SIZE:
		if (!parse_u64(arg, LOAD_MAX_SIZE, &v))
			return bad_number("--size", LOAD_MAX_SIZE, arg, err, errlen);
		o->size = (size_t)v;
		return true;
	case OPT_ACKS:
		return parse_acks(o, arg, err, errlen);
	case 'd':
		if (!parse_seconds(arg, &o->duration_ns)) {
			seterr(err, errlen, "-d: expected seconds > 0 (up to one year), got '%s'",
			       arg);
			return false;
		}
		*have_duration = true;
		return true;
	case OPT_COUNT:
		if (!parse_u64(arg, UINT64_MAX, &o->count) || o->count == 0) {
			seterr(err, errlen, "--count: expected an integer >= 1, got '%s'", arg);
			return false;
		}
		return true;
	case OPT_PRODUCERS:
		if (!parse_u64(arg, LOAD_MAX_PRODUCERS, &v) || v == 0) {
			seterr(err, errlen, "--producers: expected an integer 1..%d, got '%s'",
			       LOAD_MAX_PRODUCERS, arg);
			return false;
		}
		o->producers = (uint32_t)v;
		return true;
	case OPT_PROFILE:
		return parse_profile(o, arg, err, errlen);
	case OPT_CONSUMERS:
		if (!parse_u64(arg, LOAD_MAX_CONSUMERS, &v))
			return bad_number("--consumers", LOAD_MAX_CONSUMERS, arg, err, errlen);
		o->consumers = (uint32_t)v;
		return true;
	case OPT_CONSUMER_MODE:
		*consumer_opt = "--consumer-mode";
		return parse_consumer_mode(o, arg, err, errlen);
	case OPT_FETCH_WAIT:
		*consumer_opt = "--fetch-wait-ms";
		if (!parse_u64(arg, LOAD_MAX_FETCH_WAIT_MS, &v))
			return bad_number("--fetch-wait-ms", LOAD_MAX_FETCH_WAIT_MS, arg, err,
					  errlen);
		o->fetch_wait_ms = (uint32_t)v;
		return true;
	case OPT_CONSUME_TIMEOUT:
		*consumer_opt = "--consume-timeout";
		if (!parse_seconds(arg, &o->consume_timeout_ns)) {
			seterr(err, errlen,
			       "--consume-timeout: expected seconds > 0 (up to one year), got '%s'",
			       arg);
			return false;
		}
		return true;
	case 'X':
		return parse_prop(o, arg, err, errlen);
	case OPT_JSON:
		o->json = true;
		return true;
	case OPT_MESSAGES:
		if (!*arg) {
			seterr(err, errlen, "--messages: expected a file name");
			return false;
		}
		o->messages_path = arg;
		return true;
	case 'q':
		o->quiet = true;
		return true;
	}
	seterr(err, errlen, "internal error: unhandled option %d", c);
	return false;
}

static bool check_required(const struct load_opts *o, bool have_duration, const char *consumer_opt,
			   char *err, size_t errlen)
{
	if (!o->bootstrap || !*o->bootstrap) {
		seterr(err, errlen, "missing -b BOOTSTRAP (see --help)");
		return false;
	}
	if (!o->topic || !*o->topic) {
		seterr(err, errlen, "missing -t TOPIC (see --help)");
		return false;
	}
	if (have_duration && o->count) {
		seterr(err, errlen, "-d and --count exclude each other");
		return false;
	}
	if (consumer_opt && !o->consumers) {
		seterr(err, errlen, "%s needs --consumers N (N >= 1)", consumer_opt);
		return false;
	}
	return true;
}

static void describe_bad_option(int c, int argc, char **argv, char *err, size_t errlen)
{
	const char *opt = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

	if (c == ':') {
		seterr(err, errlen, "option '%s' needs a value (see --help)", opt);
	} else if (optopt > 0 && optopt < 256) {
		seterr(err, errlen, "unknown option '-%c' (see --help)", optopt);
	} else {
		seterr(err, errlen, "unknown option '%s' (see --help)", opt);
	}
}

enum loadopts_status loadopts_parse(struct load_opts *o, int argc, char **argv, char *err,
				    size_t errlen)
{
	static const struct option longopts[] = {
	    {"bootstrap", required_argument, NULL, 'b'},
	    {"topic", required_argument, NULL, 't'},
	    {"partitions", required_argument, NULL, OPT_PARTITIONS},
	    {"rate", required_argument, NULL, OPT_RATE},
	    {"size", required_argument, NULL, OPT_SIZE},
	    {"acks", required_argument, NULL, OPT_ACKS},
	    {"duration", required_argument, NULL, 'd'},
	    {"count", required_argument, NULL, OPT_COUNT},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"messages", required_argument, NULL, OPT_MESSAGES},
	    {"producers", required_argument, NULL, OPT_PRODUCERS},
	    {"profile", required_argument, NULL, OPT_PROFILE},
	    {"consumers", required_argument, NULL, OPT_CONSUMERS},
	    {"consumer-mode", required_argument, NULL, OPT_CONSUMER_MODE},
	    {"fetch-wait-ms", required_argument, NULL, OPT_FETCH_WAIT},
	    {"consume-timeout", required_argument, NULL, OPT_CONSUME_TIMEOUT},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool have_duration = false;
	const char *consumer_opt = NULL; /* a consumer option given, for the error */
	int c;

	*o = (struct load_opts){
	    .size = LOAD_DEFAULT_SIZE,
	    .duration_ns = LOAD_DEFAULT_DURATION_NS,
	    .producers = 1,
	    .fetch_wait_ms = LOAD_DEFAULT_FETCH_WAIT_MS,
	    .consume_timeout_ns = LOAD_DEFAULT_CONSUME_TIMEOUT_NS,
	};
	if (errlen)
		err[0] = '\0';
	/* optind = 0 makes glibc re-initialise getopt fully (a caller or an
	 * earlier parse may have used it); opterr = 0: errors are ours to word. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:t:d:X:qh", longopts, NULL)) != -1) {
		if (c == 'h')
			return LOADOPTS_HELP;
		if (c == '?' || c == ':') {
			describe_bad_option(c, argc, argv, err, errlen);
			return LOADOPTS_ERROR;
		}
		if (!apply_option(o, c, optarg, &have_duration, &consumer_opt, err, errlen))
			return LOADOPTS_ERROR;
	}
	if (optind < argc) {
		seterr(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
		return LOADOPTS_ERROR;
	}
	return check_required(o, have_duration, consumer_opt, err, errlen) ? LOADOPTS_OK
									   : LOADOPTS_ERROR;
}

/*
 * A minimal JSON walker over librdkafka's statistics: just enough to find
 * brokers.<name>.nodeid and brokers.<name>.req.Produce. Every read is checked
 * against the end of the buffer and nesting is bounded, so a truncated or
 * hostile document fails cleanly.
 */
#define STATS_MAX_DEPTH 64

struct cur {
	const char *p;
	const char *end;
};

static void skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool eat(struct cur *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

/* A string's raw bytes (escapes left as written: keys we look for have none). */
static bool parse_string(struct cur *c, const char **s, size_t *n)
{
	if (!eat(c, '"'))
		return false;
	const char *start = c->p;
	while (c->p < c->end && *c->p != '"') {
		if (*c->p == '\\' && ++c->p == c->end)
			return false;
		c->p++;
	}
	if (c->p == c->end)
		return false;
	*s = start;
	*n = (size_t)(c->p - start);
	c->p++;
	return true;
}

static bool parse_int(struct cur *c, int64_t *v)
{
	char buf[32];
	size_t n = 0;

	skip_ws(c);
	while (c->p + n < c->end && n < sizeof(buf) - 1 &&
	       (isdigit((unsigned char)c->p[n]) || (n == 0 && c->p[n] == '-')))
		n++;
	if (n == 0 || (n == 1 && c->p[0] == '-'))
		return false;
	memcpy(buf, c->p, n);
	buf[n] = '\0';
	errno = 0;
	long long x = strtoll(buf, NULL, 10);
	if (errno)
		return false;
	c->p += n;
	*v = x;
	return true;
}

static bool skip_value(struct cur *c, int depth);

/* Steps to the next member of an object whose '{' was consumed: true with
 * the key and the cursor on its value, false at '}' (*ok false on error). */
static bool next_member(struct cur *c, bool *first, const char **key, size_t *klen, bool *ok)
{
	*ok = true;
	if (eat(c, '}'))
		return false;
	if (!*first && !eat(c, ',')) {
		*ok = false;
		return false;
	}
	*first = false;
	if (!parse_string(c, key, klen) || !eat(c, ':')) {
		*ok = false;
		return false;
	}
	return true;
}

static bool skip_container(struct cur *c, char close, int depth)
{
	bool first = true;

	if (depth > STATS_MAX_DEPTH)
		return false;
	for (;;) {
		if (eat(c, close))
			return true;
		if (!first && !eat(c, ','))
			return false;
		first = false;
		if (close == '}') {
			const char *k;
			size_t kn;
			if (!parse_string(c, &k, &kn) || !eat(c, ':'))
				return false;
		}
		if (!skip_value(c, depth + 1))
			return false;
	}
}

static bool skip_value(struct cur *c, int depth)
{
	const char *s;
	size_t n;

	skip_ws(c);
	if (c->p == c->end)
		return false;
	switch (*c->p) {
	case '{':
		c->p++;
		return skip_container(c, '}', depth);
	case '[':
		c->p++;
		return skip_container(c, ']', depth);
	case '"':
		return parse_string(c, &s, &n);
	default:
		/* number, true, false, null: up to the next delimiter */
		s = c->p;
		while (c->p < c->end && !strchr(",}] \t\r\n", *c->p))
			c->p++;
		return c->p > s;
	}
}

static bool key_is(const char *k, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(k, want, n) == 0;
}

/* "req": {"Produce": N, ...}: N, or 0 when absent. */
static bool parse_req(struct cur *c, int64_t *produce)
{
	const char *k;
	size_t kn;
	bool first = true, ok;

	if (!eat(c, '{'))
		return false;
	while (next_member(c, &first, &k, &kn, &ok)) {
		if (key_is(k, kn, "Produce")) {
			if (!parse_int(c, produce))
				return false;
		} else if (!skip_value(c, 2)) {
			return false;
		}
	}
	return ok;
}

/* One broker object: its nodeid and Produce request count. */
static bool parse_broker(struct cur *c, int64_t *nodeid, int64_t *produce)
{
	const char *k;
	size_t kn;
	bool first = true, ok;

	*nodeid = -1;
	*produce = 0;
	if (!eat(c, '{'))
		return false;
	while (next_member(c, &first, &k, &kn, &ok)) {
		bool good;
		if (key_is(k, kn, "nodeid"))
			good = parse_int(c, nodeid);
		else if (key_is(k, kn, "req"))
			good = parse_req(c, produce);
		else
			good = skip_value(c, 2);
		if (!good)
			return false;
	}
	return ok;
}

static bool sum_brokers(struct cur *c, uint64_t *sum)
{
	const char *k;
	size_t kn;
	bool first = true, ok;

	if (!eat(c, '{'))
		return false;
	while (next_member(c, &first, &k, &kn, &ok)) {
		int64_t nodeid, produce;
		if (!parse_broker(c, &nodeid, &produce))
			return false;
		/* Bootstrap and internal brokers have nodeid -1; the requests
		 * that matter went to the real ones. */
		if (nodeid >= 0 && produce > 0)
			*sum += (uint64_t)produce;
	}
	return ok;
}

int loadstats_produce_requests(const char *json, size_t len, uint64_t *out)
{
	const char *k;
	size_t kn;
	bool first = true, ok;

	if (!json)
		return -1;
	struct cur c = {json, json + len};
	if (!eat(&c, '{'))
		return -1;
	while (next_member(&c, &first, &k, &kn, &ok)) {
		if (key_is(k, kn, "brokers")) {
			uint64_t sum = 0;
			if (!sum_brokers(&c, &sum))
				return -1;
			*out = sum;
			return 0;
		}
		if (!skip_value(&c, 1))
			return -1;
	}
	return -1;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mockcluster: runs librdkafka's in-process mock Kafka cluster as a stand-alone
 * process, so the tests and the demo have a broker whose threads the profiler
 * can watch. Self-contained (links only librdkafka and pthread).
 *
 *   mockcluster [--brokers N] [--topic NAME [--partitions N]] [--port-file FILE]
 *
 * Prints "BOOTSTRAP=<host:port,...>" then "PID=<pid>" on stdout once the
 * brokers listen, and runs until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_BROKERS	64
#define MAX_PARTITIONS	100000
#define MAX_REPLICATION 3
#define EXIT_USAGE	2

struct mc_opts {
	int brokers;
	const char *topic;
	int partitions;
	const char *port_file;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: mockcluster [--brokers N] [--topic NAME [--partitions N]] [--port-file FILE]\n"
	    "\n"
	    "Run librdkafka's mock Kafka cluster (listening on 127.0.0.1) until SIGTERM/SIGINT.\n"
	    "\n"
	    "  -b, --brokers N      number of brokers (1..%d, default 1)\n"
	    "  -t, --topic NAME     pre-create this topic (others are auto-created on use)\n"
	    "  -p, --partitions N   partitions of --topic (default 1)\n"
	    "  -f, --port-file FILE write the brokers' listener ports there, one per line\n"
	    "  -h, --help           this text\n"
	    "\n"
	    "Once ready, prints BOOTSTRAP=<host:port,...> and PID=<pid> on stdout.\n",
	    MAX_BROKERS);
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

/* Returns -1 to continue, or the exit code to leave with. */
static int parse_args(int argc, char **argv, struct mc_opts *o)
{
	static const struct option longopts[] = {
	    {"brokers", required_argument, NULL, 'b'},
	    {"topic", required_argument, NULL, 't'},
	    {"partitions", required_argument, NULL, 'p'},
	    {"port-file", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct mc_opts){.brokers = 1, .partitions = 0};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:t:p:f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (!parse_int(optarg, 1, MAX_BROKERS, &o->brokers)) {
				fprintf(stderr,
					"mockcluster: --brokers: expected 1..%d, got '%s'\n",
					MAX_BROKERS, optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			o->topic = optarg;
			break;
		case 'p':
			if (!parse_int(optarg, 1, MAX_PARTITIONS, &o->partitions)) {
				fprintf(stderr,
					"mockcluster: --partitions: expected 1..%d, got '%s'\n",
					MAX_PARTITIONS, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			o->port_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "mockcluster: %s needs a value (see --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "mockcluster: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mockcluster: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (o->partitions && !o->topic) {
		fprintf(stderr, "mockcluster: --partitions needs --topic\n");
		return EXIT_USAGE;
	}
	if (!o->partitions)
		o->partitions = 1;
	return -1;
}

/*
 * The mock cluster lives inside an rd_kafka_t, as in librdkafka's own tests; a
 * producer handle with a minimal configuration is enough to host it.
 */
static rd_kafka_t *new_host_handle(void)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	/* log_level 4 drops the notice that this handle has no bootstrap.servers:
	 * it never connects anywhere, it only hosts the brokers. */
	if (rd_kafka_conf_set(conf, "client.id", "kafkalat-mockcluster", errstr, sizeof(errstr)) !=
		RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "mockcluster: config: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "mockcluster: rd_kafka_new: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* Ports one per line, written to a temporary file and renamed into place so a
 * reader polling for the file never sees it half written. */
static int write_port_file(const char *path, const char *bootstraps)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		fprintf(stderr, "mockcluster: --port-file: path too long\n");
		return -1;
	}
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "mockcluster: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	for (const char *p = bootstraps; *p;) {
		size_t len = strcspn(p, ",");
		const char *colon = memrchr(p, ':', len);

		if (colon)
			fprintf(f, "%.*s\n", (int)(len - (size_t)(colon + 1 - p)), colon + 1);
		p += len;
		if (*p == ',')
			p++;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "mockcluster: %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const struct mc_opts *o)
{
	int rf = o->brokers < MAX_REPLICATION ? o->brokers : MAX_REPLICATION;
	rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, o->topic, o->partitions, rf);

	if (err) {
		fprintf(stderr, "mockcluster: create topic %s: %s\n", o->topic,
			rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

static int wait_for_signal(const sigset_t *set)
{
	int sig;

	for (;;) {
		int err = sigwait(set, &sig);
		if (err == 0)
			return sig;
		if (err != EINTR) {
			fprintf(stderr, "mockcluster: sigwait: %s\n", strerror(err));
			return -1;
		}
	}
}

int main(int argc, char **argv)
{
	struct mc_opts o;
	sigset_t set;
	int rc = parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;

	/* Block the stop signals before librdkafka starts its threads: they
	 * inherit the mask, so the signal is taken only by sigwait() below. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	rd_kafka_t *rk = new_host_handle();
	if (!rk)
		return 1;
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, o.brokers);
	if (!mc) {
		fprintf(stderr, "mockcluster: rd_kafka_mock_cluster_new failed\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	rc = 1;
	if (o.topic && create_topic(mc, &o) != 0)
		goto out;
	const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
	if (o.port_file && write_port_file(o.port_file, bootstraps) != 0)
		goto out;
	printf("BOOTSTRAP=%s\nPID=%ld\n", bootstraps, (long)getpid());
	if (fflush(stdout) != 0) {
		fprintf(stderr, "mockcluster: stdout: %s\n", strerror(errno));
		goto out;
	}
	if (wait_for_signal(&set) >= 0)
		rc = 0;
out:
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return rc;
}

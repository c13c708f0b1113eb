/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pure parts of `kafkalat load`: command-line parsing and the extraction
 * of the produce-request count from librdkafka's statistics JSON. Kept apart
 * from load.c (which needs librdkafka) so the unit tests can link them.
 */
#ifndef KAFKALAT_LOADOPTS_H
#define KAFKALAT_LOADOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LOAD_MAX_PROPS			64
#define LOAD_DEFAULT_SIZE		100
#define LOAD_DEFAULT_DURATION_NS	(10ull * 1000000000ull)
#define LOAD_MAX_SIZE			(1000u * 1000u * 1000u)
#define LOAD_MAX_RATE			1000000000ull
#define LOAD_MAX_PARTITIONS		1000000
#define LOAD_MAX_DURATION_S		(365.0 * 24 * 3600)
#define LOAD_MAX_PRODUCERS		256
#define LOAD_MAX_CONSUMERS		256
#define LOAD_DEFAULT_FETCH_WAIT_MS	500    /* Kafka's fetch.max.wait.ms */
#define LOAD_MAX_FETCH_WAIT_MS		300000 /* librdkafka's bound on fetch.wait.max.ms */
#define LOAD_DEFAULT_CONSUME_TIMEOUT_NS (10ull * 1000000000ull)

/* How --consumers read the topic. */
enum load_consumer_mode {
	LOAD_CONSUME_ASSIGN, /* each consumer assigns every partition: reads everything */
	LOAD_CONSUME_GROUP,  /* one consumer group shares the partitions */
};

/* Which client's producer defaults the producers start from. */
enum load_profile {
	LOAD_PROFILE_LIBRDKAFKA,
	LOAD_PROFILE_JAVA, /* the Java producer's defaults, Kafka 3.9 */
};

/* One librdkafka property of a profile. */
struct load_conf_pair {
	const char *key;
	const char *value;
};

/* A -X key=value librdkafka property; both point into argv. */
struct load_prop {
	const char *key; /* not terminated: key_len bytes */
	size_t key_len;
	const char *value;
};

struct load_opts {
	const char *bootstrap;
	const char *topic;
	int32_t partitions;   /* 0: partitioner; N: round-robin over 0..N-1 */
	uint64_t rate;	      /* messages/s; 0: as fast as the queue allows */
	size_t size;	      /* payload bytes */
	const char *acks;     /* --acks: "0", "1" or "all"; NULL: the profile's */
	uint64_t duration_ns; /* produce for this long, when count == 0 */
	uint64_t count;	      /* produce this many messages; 0: by duration */
	uint32_t producers;   /* producer instances (connections) sharing rate and count */
	enum load_profile profile;
	uint32_t consumers; /* consumer instances reading the topic as it is written */
	enum load_consumer_mode consumer_mode;
	uint32_t fetch_wait_ms;
	uint64_t consume_timeout_ns; /* how long consumers may take to catch up */
	bool json;
	bool quiet;
	const char *messages_path; /* --messages FILE: per-message JSON lines; NULL: none */
	size_t nprops;
	struct load_prop props[LOAD_MAX_PROPS];
};

enum loadopts_status {
	LOADOPTS_OK,
	LOADOPTS_HELP,	/* --help was asked for: print loadopts_usage(), exit 0 */
	LOADOPTS_ERROR, /* err holds one line (no newline) saying what is wrong */
};

/*
 * Parses `load ...` (argv[0] is the subcommand name). Uses getopt_long and
 * resets its state first, so it may be called more than once.
 */
enum loadopts_status loadopts_parse(struct load_opts *o, int argc, char **argv, char *err,
				    size_t errlen);
void loadopts_usage(FILE *out);

/* The properties a profile sets, applied before every option and -X. */
const struct load_conf_pair *loadprofile_config(enum load_profile p, size_t *n);
const char *loadprofile_name(enum load_profile p);

/*
 * Sums "req":{"Produce":N} over the real brokers (nodeid >= 0) of one
 * librdkafka statistics JSON document, ignoring bootstrap and internal broker
 * entries and everything under "toppars". Returns 0 and sets *out, or -1 when
 * the document is malformed or has no "brokers" object.
 */
int loadstats_produce_requests(const char *json, size_t len, uint64_t *out);

#endif

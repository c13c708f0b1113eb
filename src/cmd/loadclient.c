// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Helpers shared by `kafkalat load`'s producers and consumers. */
#include "kafkalat/loadclient.h"

#include <stdio.h>
#include <time.h>

bool loadclient_conf_set(rd_kafka_conf_t *conf, const char *kind, const char *key,
			 const char *value)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
		return true;
	fprintf(stderr, "kafkalat load: %s %s=%s: %s\n", kind, key, value, errstr);
	return false;
}

uint64_t loadclient_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

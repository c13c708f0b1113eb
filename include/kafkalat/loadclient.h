/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What `kafkalat load`'s producers (load.c) and consumers (load_consume.c)
 * share: setting a librdkafka property with its error reported, and the
 * clock they time with. */
#ifndef KAFKALAT_LOADCLIENT_H
#define KAFKALAT_LOADCLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Sets key=value; false after one line on stderr naming the client kind
 * ("producer", "consumer") and librdkafka's reason. */
bool loadclient_conf_set(rd_kafka_conf_t *conf, const char *kind, const char *key,
			 const char *value);
/* CLOCK_MONOTONIC in ns. */
uint64_t loadclient_mono_ns(void);

#endif

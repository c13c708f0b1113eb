/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Kafka's API keys: each one's name and first flexible request version. */
#ifndef KAFKALAT_KAPI_H
#define KAFKALAT_KAPI_H

#include <stdint.h>

struct kapi_info {
	const char *name;
	int16_t flex; /* first flexible (tagged-field) version; -1: never */
};

/* NULL for a key Kafka does not define (yet). */
const struct kapi_info *kapi_lookup(int16_t api_key);
/* "Produce", ...; "Unknown" for a key Kafka does not define. */
const char *kapi_name(int16_t api_key);

#endif

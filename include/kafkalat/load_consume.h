/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The consumers of `kafkalat load --consumers N`: N librdkafka consumers, one
 * thread each, reading the load's topic from the offsets it had before the
 * load started, and measuring each record's end-to-end latency (its
 * CreateTime timestamp, set by the producer at produce(), to the moment it is
 * consumed). After the load they run until they reach the topic's end
 * offsets or a timeout passes; records they did not reach are missing.
 */
#ifndef KAFKALAT_LOAD_CONSUME_H
#define KAFKALAT_LOAD_CONSUME_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "kafkalat/json.h"
#include "kafkalat/loadopts.h"

struct consumers;

/*
 * Opens o->consumers clients and starts their threads, reading partitions
 * 0..npart-1 of o->topic from start[p] (copied). In group mode it returns
 * once the group has assigned every partition, and fails (after one line on
 * stderr) when that does not happen in time: the broker does not coordinate
 * groups. NULL after reporting why.
 */
struct consumers *consumers_start(const struct load_opts *o, int32_t npart, const int64_t *start);

/*
 * Waits until the consumers have read up to end[p] (every consumer in
 * assign mode, the group in group mode) or timeout_ns passes or *stop
 * becomes true, then stops and joins the threads. Returns the records not
 * consumed (0: everything was).
 */
uint64_t consumers_finish(struct consumers *cs, const int64_t *end, uint64_t timeout_ns,
			  volatile const sig_atomic_t *stop);

/* The summary's "consumers" member, and its text lines. */
void consumers_json(const struct consumers *cs, struct json *j);
void consumers_text(const struct consumers *cs, FILE *out);
/* One line on stderr saying which consumers are missing how many records. */
void consumers_explain_missing(const struct consumers *cs);

void consumers_free(struct consumers *cs);

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The summary's replication section (replication.h): per leader and
 * follower the replication lag of the acks=all batches it covered, the
 * requests without a release and why, and the ISR changes inferred from
 * the wire, as text lines and as the summary's "replication" JSON object
 * (docs/json.md). Nothing when no acks=all request was attributed and no
 * follower fetch was seen.
 */
#ifndef KAFKALAT_REPORT_REPL_H
#define KAFKALAT_REPORT_REPL_H

#include <stdint.h>
#include <stdio.h>

#include "kafkalat/json.h"
#include "kafkalat/replication.h"

/* wall_offset_ns: realtime - monotonic, for the ISR events' times. */
void report_repl_text(FILE *out, const struct repl *r, int64_t wall_offset_ns);
void report_repl_json(struct json *j, const struct repl *r, int64_t wall_offset_ns);

#endif

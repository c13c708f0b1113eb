/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `kafkalat report --format md`: a recording as GitHub-flavoured markdown,
 * to paste into a ticket or a pull request. A heading; a line of the hosts,
 * kernels, span and --label K=V labels; a table of latency and broker
 * latency at p50, p90, p99, p99.9 and max (with a baseline: base, new and
 * the change in %); the tail composition by band (requests, latency, the
 * top phases and causes by mean share, as the text summary's table); the
 * top partitions and clients behind >= p99; the text summary's closing
 * sentence, quoted; and always what the figures miss: the lost events, the
 * unmatched requests, the loss by ring and kind with the requests it
 * touched (the JSON report's "lost"), and a table of the intervals with a
 * loss (the first 20). Text from the recording (hosts,
 * labels, partitions) is escaped: '|' and newlines cannot break a table.
 */
#ifndef KAFKALAT_REPORT_MD_H
#define KAFKALAT_REPORT_MD_H

#include <stdio.h>

struct rec;

/* baseline: NULL, or a recording to compare r with. 0, -EIO when
 * writing failed, or -ENOMEM. */
int report_md(FILE *out, const struct rec *r, const struct rec *baseline);

#endif

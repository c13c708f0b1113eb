/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `kafkalat report --format html`: one self-contained HTML page of a
 * recording (recording.h) that makes no network request and reads without
 * JavaScript: inline CSS, inline SVG charts with <title> tooltips, no
 * script, no URL but the SVG namespace's. Every figure shown is also in a
 * data- attribute (ns, or us as the JSON report prints them) so a test can
 * compare it with `kafkalat report --format json`. Pure logic.
 *
 * Sections (each <section id=...>): meta, summary, spectrum, over-time,
 * heatmap, composition, flame, tops, commits, kafka-metrics. The summary
 * holds the JSON report's "lost" (by ring and kind, the requests touched);
 * the charts over time mark the intervals with a loss in red.
 */
#ifndef KAFKALAT_REPORT_HTML_H
#define KAFKALAT_REPORT_HTML_H

#include <stdio.h>

struct rec;

/* baseline: NULL, or a recording to compare with (drawn dashed, and the
 * flame graph differential). 0, -ENOMEM, or -EIO when writing out failed
 * (any write error: the stream's error flag is checked once, at the end). */
int report_html(FILE *out, const struct rec *r, const struct rec *baseline);

#endif

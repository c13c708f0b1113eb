/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Durations and wall-clock times as the reports print them. */
#ifndef KAFKALAT_FMT_H
#define KAFKALAT_FMT_H

#include <stddef.h>
#include <stdint.h>

/* "850ns", "412us", "1.25ms", "3.10s": width-independent, 3 significant digits. */
void fmt_ns(uint64_t ns, char *buf, size_t len);
/* "HH:MM:SS.uuuuuu" local time of a CLOCK_MONOTONIC ns, given the offset
 * realtime - monotonic. */
void fmt_wall(uint64_t mono_ns, int64_t offset_ns, char *buf, size_t len);
/* "123,456" ("none" for no pid), cut short when buf is. */
void fmt_pids(const int *pids, int n, char *buf, size_t len);
/* "9092,9093" ("" for none), cut short when buf is. */
void fmt_ports(const uint16_t *ports, int n, char *buf, size_t len);

#endif

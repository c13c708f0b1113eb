// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Durations and times as every report prints them (fmt.h). */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "kafkalat/fmt.h"

/* Three significant digits of v (in unit), decided after rounding so that
 * 9.999 shows as "10.0" and 99.99 as "100". */
static void fmt_sig3(double v, const char *unit, char *buf, size_t len)
{
	snprintf(buf, len, v < 9.995 ? "%.2f%s" : v < 99.95 ? "%.1f%s" : "%.0f%s", v, unit);
}

void fmt_ns(uint64_t ns, char *buf, size_t len)
{
	double v = (double)ns;

	/* each unit ends where its rounded value would reach 1000 */
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 999500)
		fmt_sig3(v / 1e3, "us", buf, len);
	else if (ns < 999500000)
		fmt_sig3(v / 1e6, "ms", buf, len);
	else
		snprintf(buf, len, "%.2fs", v / 1e9);
}

void fmt_wall(uint64_t mono_ns, int64_t offset_ns, char *buf, size_t len)
{
	int64_t real = (int64_t)mono_ns + offset_ns;
	time_t secs = (time_t)(real / 1000000000);
	struct tm tm;

	if (!localtime_r(&secs, &tm)) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, "%02d:%02d:%02d.%06" PRId64, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (real % 1000000000) / 1000);
}

void fmt_pids(const int *pids, int n, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return;
	snprintf(buf, len, "none");
	for (int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%d", i ? "," : "", pids[i]);
}

void fmt_ports(const uint16_t *ports, int n, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%u", i ? "," : "", ports[i]);
}

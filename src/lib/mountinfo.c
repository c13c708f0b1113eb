// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The file system of a path, from mountinfo text: see include/kafkalat/mountinfo.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kafkalat/mountinfo.h"
#include "kafkalat/segment.h"

#define FIELDS_MAX 64

/* Splits a line at spaces into at most max fields; returns how many. */
static int split(char *line, char **f, int max)
{
	char *save = NULL;
	int n = 0;

	for (char *p = strtok_r(line, " ", &save); p && n < max; p = strtok_r(NULL, " ", &save))
		f[n++] = p;
	return n;
}

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo: decoded in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static bool covers(const char *point, const char *path)
{
	size_t n = strlen(point);

	if (!strcmp(point, "/"))
		return path[0] == '/';
	return !strncmp(point, path, n) && (path[n] == '/' || path[n] == '\0');
}

/* One line: 36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw,errors=continue */
static bool parse_line(char *line, struct mount_desc *d)
{
	char *f[FIELDS_MAX];
	int n = split(line, f, FIELDS_MAX), sep = -1;

	for (int i = 6; i < n; i++)
		if (!strcmp(f[i], "-")) {
			sep = i;
			break;
		}
	if (n < 6 || sep < 0 || sep + 2 >= n)
		return false;
	unescape(f[4]);
	snprintf(d->point, sizeof(d->point), "%s", f[4]);
	snprintf(d->fstype, sizeof(d->fstype), "%s", f[sep + 1]);
	snprintf(d->source, sizeof(d->source), "%s", f[sep + 2]);
	snprintf(d->options, sizeof(d->options), "%s%s%s", f[5], sep + 3 < n ? "," : "",
		 sep + 3 < n ? f[sep + 3] : "");
	return true;
}

int mountinfo_find(const char *text, size_t len, const char *path, struct mount_desc *out)
{
	char line[4096];
	size_t best = 0;
	bool found = false;

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		struct mount_desc d;

		if (n < sizeof(line) && !memchr(text + i, '\0', n)) {
			memcpy(line, text + i, n);
			line[n] = '\0';
			if (parse_line(line, &d) && covers(d.point, path) &&
			    strlen(d.point) >= best) {
				best = strlen(d.point);
				*out = d;
				found = true;
			}
		}
		i += n + 1;
	}
	return found ? 0 : -ENOENT;
}

int mountinfo_log_dir(const char *segment_path, char *out, size_t len)
{
	struct segment seg;
	const char *file, *dir;
	size_t n;

	if (segment_parse(segment_path, &seg))
		return -EINVAL;
	file = strrchr(segment_path, '/');
	if (!file || file == segment_path)
		return -EINVAL;
	for (dir = file - 1; dir > segment_path && *dir != '/'; dir--)
		;
	if (*dir != '/')
		return -EINVAL;
	n = (size_t)(dir - segment_path);
	if (n == 0)
		n = 1; /* the log dir is / */
	if (n >= len)
		return -EINVAL;
	memcpy(out, segment_path, n);
	out[n] = '\0';
	return 0;
}

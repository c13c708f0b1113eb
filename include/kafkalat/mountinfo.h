/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which file system a path lives on, from /proc/PID/mountinfo text (the
 * broker's mount namespace): a recording's meta names the file system and
 * mount options of each log dir, because a journal's commit interval or a
 * missing noatime changes the tail. Pure parsing; the text is not trusted.
 */
#ifndef KAFKALAT_MOUNTINFO_H
#define KAFKALAT_MOUNTINFO_H

#include <stddef.h>

struct mount_desc {
	char point[256];   /* the mount point */
	char fstype[32];   /* "ext4", "xfs" */
	char source[128];  /* "/dev/loop3" */
	char options[512]; /* the mount's options, then the super block's */
};

/* The mount whose point is the longest prefix of path at a '/' boundary
 * (later lines win a tie: the mount on top). 0, or -ENOENT when no line
 * fits; malformed lines are skipped. */
int mountinfo_find(const char *text, size_t len, const char *path, struct mount_desc *out);

/* The log dir of a segment path: what precedes "/<topic>-<partition>/<file>";
 * 0, or -EINVAL when path is not a segment's. */
int mountinfo_log_dir(const char *segment_path, char *out, size_t len);

#endif

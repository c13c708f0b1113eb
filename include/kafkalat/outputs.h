/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pipeline's files named on a command line (--requests, --folded,
 * --dump-events): created private, closed, and their failures said once,
 * on stderr, with the file's name.
 */
#ifndef KAFKALAT_OUTPUTS_H
#define KAFKALAT_OUTPUTS_H

#include <stdio.h>

#include "kafkalat/pipeline.h"

struct outputs {
	const char *prog;		  /* the messages' prefix: "kafkalat", "kafkalat replay" */
	const char *path[PIPELINE_FILES]; /* NULL: not asked for */
	FILE *file[PIPELINE_FILES];
};

/* Creates every file asked for (mode 0600). 0, or -1 (said). */
int outputs_open(struct outputs *o);
/* Closes them; p (NULL: the run did not get that far) tells what writing
 * them did. 0, or -1 if any failed (said). */
int outputs_close(struct outputs *o, const struct pipeline *p);

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The folded-stack writer (flame graph input): the off-CPU stacks of the
 * >= p99 requests kept by the bands (bands.h), one line per distinct
 * (phase, stack): "<phase>;<outermost frame>;...;<innermost frame> <us>\n".
 */
#ifndef KAFKALAT_FOLDED_H
#define KAFKALAT_FOLDED_H

#include <stdint.h>
#include <stdio.h>

#include "kafkalat/bands.h"

/* The ';'-joined frames of a stack id, outermost first; NULL when unknown. */
typedef const char *(*folded_frames_fn)(const void *ctx, int32_t stack_id);

/* Returns the lines written or -errno. */
int folded_write(const struct bands *b, folded_frames_fn frames_of, const void *ctx, FILE *out);

#endif

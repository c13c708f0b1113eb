/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef KAFKALAT_LIVE_H
#define KAFKALAT_LIVE_H

#include "kafkalat/cli.h"

/* Trace a running broker until the end of the run; returns the exit code. */
int live_run(const struct cli_opts *o);

#endif

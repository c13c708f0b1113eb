/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `kafkalat record`: the live tracer (live.c) writing a recording
 * (recording.h) instead of tables, and what only a recording needs: its
 * meta record, the .old rename, the load command run alongside.
 */
#ifndef KAFKALAT_RECORD_H
#define KAFKALAT_RECORD_H

#include <stdbool.h>
#include <sys/types.h>

#include "kafkalat/cli.h"
#include "kafkalat/recording.h"

int record_main(int argc, char **argv);

/* Creates the recording (an existing one renamed .old) and writes its meta
 * for the broker pid: 0, or -1 with the error printed. */
int record_open(struct rec_writer **w, const struct cli_opts *o, int pid, bool causes,
		rec_stack_text_fn stack_text, void *stack_ctx);
/* Starts the command after --, in its own process group: its pid, or -1
 * with the error printed. */
pid_t record_spawn(char *const *cmd);
/* Whether the command has exited (and its status): reaped once. */
bool record_child_done(pid_t child, int *status);
/* Stops a command still running (SIGTERM, then SIGKILL after 5 s) and
 * returns its status. */
int record_child_stop(pid_t child);

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `kafkalat causes-dump -p PID [-d SECONDS] [-g GROUPS] [-v]` (hidden): loads
 * the causes object for one process and prints every event as one JSON line
 * on stdout, then a summary line (events per type, drops, per-program run
 * counts). For tests and for looking at the raw kernel evidence.
 */
#ifndef KAFKALAT_CAUSES_DUMP_H
#define KAFKALAT_CAUSES_DUMP_H

int causes_dump_main(int argc, char **argv);

#endif

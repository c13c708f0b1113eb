/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `kafkalat load`: a librdkafka producer load generator that measures the
 * delivery latency of every message and counts the produce requests sent, so a
 * profiled broker runs under a known load. Options: see loadopts.h / --help.
 */
#ifndef KAFKALAT_LOAD_H
#define KAFKALAT_LOAD_H

/*
 * Runs the subcommand; argv[0] is "load". Returns the exit status: 0 when
 * every message was delivered, 1 when some failed (or the client could not
 * start), 2 on a usage error.
 */
int load_main(int argc, char **argv);

#endif

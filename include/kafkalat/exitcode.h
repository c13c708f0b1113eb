/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The exit statuses of the live tracer (kafkalat and kafkalat record): one
 * table, shown by --help, man/kafkalat.8 (EXIT STATUS) and docs/design.md
 * ("Bad states"). A script tells a problem with the machine (4, 5) from one
 * with the target (3) from a failure of the run (1).
 */
#ifndef KAFKALAT_EXITCODE_H
#define KAFKALAT_EXITCODE_H

enum klt_exit {
	KLT_EXIT_OK = 0,	/* the run ended: -d, count, a signal, the broker's exit */
	KLT_EXIT_FAILURE = 1,	/* BPF failed to load or attach, an output failed */
	KLT_EXIT_USAGE = 2,	/* bad options */
	KLT_EXIT_NO_TARGET = 3, /* no broker to trace: see live.c find_targets */
	KLT_EXIT_PRIVILEGE = 4, /* a capability missing (each named) */
	KLT_EXIT_KERNEL = 5,	/* the kernel lacks what tracing needs (BTF) */
	/* 128 + the signal: SIGINT or SIGTERM before tracing began */
	KLT_EXIT_SIGNAL_BASE = 128,
};

#endif

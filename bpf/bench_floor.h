/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KAFKALAT_BENCH_FLOOR_H
#define KAFKALAT_BENCH_FLOOR_H

/*
 * `make bench` also builds a kafkalat whose BPF programs all return at once
 * (OUT=build/floor, -DKLT_BENCH_FLOOR): the same hooks, attached the same
 * way, doing nothing. What it costs is the price of the hooks themselves,
 * the floor under anything kafkalat's programs could do on them.
 */
#ifdef KLT_BENCH_FLOOR
#define BENCH_FLOOR_RETURN() return 0
#else
#define BENCH_FLOOR_RETURN() \
	do {                 \
	} while (0)
#endif

#endif

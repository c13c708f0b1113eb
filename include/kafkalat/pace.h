/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * How hard kafkalat competes with the broker for the CPU.
 *
 * kafkalat reads its rings in bursts. At the broker's own niceness a burst
 * delays whichever broker or client thread wakes up on that CPU until the
 * scheduler's slice runs out, and that shows in the client's p99
 * (docs/design.md, "Pacing: giving way to the broker"). A thread at nice 19
 * is preempted by every waking thread of normal priority, so kafkalat runs
 * there while its rings have room. When the kernel side wakes it early (a
 * ring past a quarter full) it goes back to its starting niceness at once,
 * so it keeps up and loses nothing, and it drops again only after a run of
 * quiet polls.
 */
#ifndef KAFKALAT_PACE_H
#define KAFKALAT_PACE_H

#include <stdbool.h>
#include <stdint.h>

/* Quiet polls in a row before kafkalat gives way again. */
#define PACE_QUIET_POLLS 10
/* While calm, the longest stretch of work before the reader yields the CPU
 * to a thread waiting for it: the scheduler lets a task that has just been
 * picked run out its slice (milliseconds) even at nice 19, so a broker or
 * client thread waking behind a long burst still waited for it. */
#define PACE_SLICE_NS 100000ull
/* Yields per burst at most. Under a saturating load every yield is a
 * switch to another task, which costs dearly on a VM, and a busy scheduler
 * preempts a long nice-19 burst anyway; at a moderate rate a poll's burst
 * is about this many slices (docs/design.md, "Pacing: giving way to the
 * broker"). */
#define PACE_MAX_YIELDS 4

struct pace {
	int base_nice; /* niceness kafkalat started at: how it keeps up */
	int calm_nice; /* niceness while its rings have room (>= base_nice) */
	int cur_nice;
	unsigned quiet_polls;
	uint64_t slice_start; /* when the current stretch of work began */
	unsigned yields;      /* in this burst */
};

/* Starts calm. A calm_nice below base_nice is raised to it: pacing only ever
 * gives way, it never takes priority from others. */
void pace_init(struct pace *p, int base_nice, int calm_nice);

/* After one poll: pressure when a ring woke kafkalat before its timeout.
 * Returns the niceness to run at from now on. */
int pace_after_poll(struct pace *p, bool pressure);

/* A burst of work (one poll's records and attributions) begins. */
void pace_burst_begin(struct pace *p, uint64_t now_ns);
/* Inside a burst: true when the reader, calm, has worked PACE_SLICE_NS since
 * the burst began or it last yielded; it should yield now (sched_yield), and
 * the next slice starts. Never while it is catching up, nor with pacing off,
 * nor more than PACE_MAX_YIELDS times in a burst. */
bool pace_should_yield(struct pace *p, uint64_t now_ns);

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A flame graph computed in C and written as inline SVG (no script): folded
 * stacks ("a;b;c" and a weight, flamegraph.pl's input) merged into a tree,
 * each frame as wide as its weight. With a baseline it is a differential
 * flame graph as difffolded.pl then flamegraph.pl draw one: widths by the
 * new profile, colour by the change (red grew, blue shrank); the baseline
 * is scaled to the new profile's total first (difffolded.pl -n), so the
 * colours compare shapes, not run lengths.
 */
#ifndef KAFKALAT_FLAME_H
#define KAFKALAT_FLAME_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct flame;

/* NULL on allocation failure. */
struct flame *flame_new(void);
void flame_free(struct flame *f);
/* Adds a folded stack (outermost frame first) with its weight in us, to the
 * new profile or (base) to the baseline. 0 or -ENOMEM. */
int flame_add(struct flame *f, const char *stack, uint64_t us, bool base);
/* The new profile's total weight. */
uint64_t flame_total(const struct flame *f);

struct flame_out {
	uint64_t drawn;	  /* frames drawn */
	uint64_t skipped; /* frames (with what is above them) narrower than min_frac */
};

/* An <svg id=id> of the tree, frames narrower than min_frac of the total
 * left out; diff: coloured by the change from the baseline. */
void flame_svg(FILE *out, const struct flame *f, const char *id, bool diff, double min_frac,
	       struct flame_out *res);

#endif

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "kafkalat/pace.h"

void pace_init(struct pace *p, int base_nice, int calm_nice)
{
	p->base_nice = base_nice;
	p->calm_nice = calm_nice < base_nice ? base_nice : calm_nice;
	p->cur_nice = p->calm_nice;
	p->quiet_polls = 0;
	p->slice_start = 0;
	p->yields = 0;
}

int pace_after_poll(struct pace *p, bool pressure)
{
	if (pressure) {
		p->quiet_polls = 0;
		p->cur_nice = p->base_nice;
	} else if (p->cur_nice != p->calm_nice && ++p->quiet_polls >= PACE_QUIET_POLLS) {
		p->cur_nice = p->calm_nice;
	}
	return p->cur_nice;
}

void pace_burst_begin(struct pace *p, uint64_t now_ns)
{
	p->slice_start = now_ns;
	p->yields = 0;
}

bool pace_should_yield(struct pace *p, uint64_t now_ns)
{
	if (p->calm_nice == p->base_nice || p->cur_nice != p->calm_nice ||
	    p->yields >= PACE_MAX_YIELDS)
		return false;
	if (now_ns - p->slice_start < PACE_SLICE_NS)
		return false;
	p->slice_start = now_ns;
	p->yields++;
	return true;
}

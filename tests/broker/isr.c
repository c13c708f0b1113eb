// SPDX-License-Identifier: MIT
/* The replication rules as pure functions: see isr.h. */
#include "isr.h"

void isr_assign(const int32_t *ids, uint32_t n, uint32_t rf, int32_t p, int32_t *out)
{
	uint32_t lead = (uint32_t)p % n;

	for (uint32_t k = 0; k < rf; k++)
		out[k] = ids[(lead + k) % n];
}

void isr_fetch_update(struct follower *f, int64_t offset, int64_t leader_leo, uint64_t t)
{
	if (offset >= leader_leo) {
		if (t > f->caught_up_ns)
			f->caught_up_ns = t;
	} else if (offset >= f->last_fetch_leader_leo && f->last_fetch_ns > f->caught_up_ns) {
		f->caught_up_ns = f->last_fetch_ns;
	}
	f->last_fetch_leader_leo = leader_leo;
	f->last_fetch_ns = t;
}

bool isr_out_of_sync(const struct follower *f, int64_t leader_leo, uint64_t now, uint64_t lag_ns)
{
	/* a fetch read after the caller's clock may be newer than now */
	return f->leo != leader_leo && now > f->caught_up_ns && now - f->caught_up_ns > lag_ns;
}

int64_t isr_min_leo(const struct follower *f, uint32_t nf, int64_t leader_leo)
{
	int64_t hw = leader_leo;

	for (uint32_t i = 0; i < nf; i++)
		if (f[i].in_isr && f[i].leo < hw)
			hw = f[i].leo;
	return hw;
}

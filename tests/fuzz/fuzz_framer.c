// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the stream framer the BPF programs run (bpf/framer.h),
 * driven as walk_syscall() drives it (tests/unit/framer_harness.h). The
 * bytes are what a hostile client or a mid-stream attach can put in front of
 * it; the kernel side has no second chance, so it must never read outside
 * the syscall's bytes, never loop unboundedly, and never frame more bytes
 * than it was given.
 *
 * Input: byte 0 = bit 0 direction (RX/TX), bit 1 flow state (synced or
 * joined mid-stream), bits 2..7 the seed of the chunking; the rest is the
 * stream, cut into syscalls of 1..4 segments of random sizes; on TX, one
 * syscall in eight is a sendfile() of a random length (bytes unread).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/framer_harness.h"

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

/* Mostly small pieces, so tokens straddle segments; sometimes big ones. */
static size_t piece(struct rng *r, size_t left)
{
	size_t k = (rng_next(r) & 3) ? 1 + rng_next(r) % 16 : 1 + rng_next(r) % 4096;

	return k < left ? k : left;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Every kw_step consumes a byte or makes one of a few zero-byte transitions
 * before the next byte; a segment switch costs a bpf_loop iteration.
 */
static void check_steps(const struct kh *h, size_t bytes, size_t nseg)
{
	if (h->steps > 3 * bytes + 4 * nseg + 16 || h->iters >= KH_MAX_STEPS)
		abort();
}

/* Frames lie inside the stream, in order, without overlap; on a synced
 * flow their headers are the bytes at their start. */
static void check_frames(const struct kh *h, const uint8_t *s, size_t len, int synced)
{
	uint64_t prev_end = 0, total = 0;

	for (size_t i = 0; i < h->nframes; i++) {
		const struct kh_frame *fr = &h->frames[i];
		const struct klt_frame_event *e = &fr->ev;
		uint64_t start = fr->end - e->size - 4;

		if (fr->end > len || (uint64_t)e->size + 4 > fr->end || start < prev_end)
			abort();
		prev_end = fr->end;
		total += (uint64_t)e->size + 4;
		if (!synced)
			continue;
		if (e->flags & KLT_FRAME_TENTATIVE || be32(s + start) != e->size)
			abort();
		if (e->corr_id != (int32_t)be32(s + start + (e->dir == KLT_DIR_RX ? 8 : 4)))
			abort();
	}
	if (synced && (total > len || h->ndesync))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iovec iov[4];
	struct rng r;
	struct kh h;
	size_t off = 0;
	int synced;

	if (size < 1)
		return 0;
	synced = !(data[0] & 2);
	r.s = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(data[0] >> 2) << 32) ^ size;
	kh_init(&h, data[0] & 1 ? KLT_DIR_TX : KLT_DIR_RX, synced ? KW_SYNCED : KW_RESYNC);
	data++;
	size--;
	while (off < size) {
		size_t nseg = 1 + rng_next(&r) % 4, bytes = 0;

		if (h.f.dir == KLT_DIR_TX && rng_next(&r) % 8 == 0) {
			bytes = piece(&r, size - off);
			kh_sendfile(&h, bytes, off, (uint32_t)off);
			/* unread bytes where a header was due: no longer synced */
			if (h.f.sync == KW_RESYNC)
				synced = 0;
			off += bytes;
			continue;
		}

		for (size_t k = 0; k < nseg; k++) {
			size_t n = piece(&r, size - off - bytes);

			iov[k].iov_base = (void *)(uintptr_t)(data + off + bytes);
			iov[k].iov_len = n;
			bytes += n;
		}
		kh_syscall(&h, iov, nseg, off, (uint32_t)off);
		check_steps(&h, bytes, nseg);
		off += bytes;
	}
	if (kh_bounds.oob)
		abort();
	check_frames(&h, data, size, synced);
	kh_free(&h);
	return 0;
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The framer's reads of a syscall's bytes, through a window: the first read
 * at an address outside the window copies up to KW_WIN_BYTES of the segment
 * from there in one user copy, and the reads after it inside the window are
 * loads. A produce request's header and body metadata are 23 framer reads
 * of 1-63 bytes within a few hundred bytes (docs/design.md, "The socket
 * probe's reads"), each a user copy otherwise.
 *
 * The window holds one syscall's bytes only: the broker reuses its buffers,
 * so the caller empties it (kw_win_reset) before each syscall's walk. It
 * never reaches past the current segment (in->avail), so it copies exactly
 * the bytes the framer may read, and no more.
 *
 * Shared by the BPF program and the unit tests' framer harness. The
 * includer defines:
 *   KW_WIN_USER(dst, n, src)    copy n bytes of user memory at src; 0 on success
 *   KW_WIN_KERN(dst, n, src)    copy n bytes of the window's memory; 0 on success
 */
#ifndef KAFKALAT_READWIN_H
#define KAFKALAT_READWIN_H

#define KW_WIN_BYTES 512
/* the buffer is twice the window so that masked offsets stay inside it */
#define KW_WIN_MASK (2 * KW_WIN_BYTES - 1)

struct kw_win {
	__u64 base; /* user address of buf[0] */
	__u64 len;  /* bytes of buf that hold the segment from base; 0: empty */
	__u8 buf[2 * KW_WIN_BYTES];
};

static __always_inline void kw_win_reset(struct kw_win *w)
{
	if (w)
		w->len = 0;
}

/* Copy n (<= 64) bytes at addr, of the avail bytes left in the segment
 * there, into dst through window w (NULL: straight from user memory). */
static __always_inline int kw_win_read(struct kw_win *w, void *dst, __u64 n, __u64 addr,
				       __u64 avail)
{
	__u64 off, len;
	__u8 *d = dst;

	if (!w || n > 64 || n > avail)
		return KW_WIN_USER(dst, n, addr);
	off = addr - w->base;
	if (addr < w->base || off + n > w->len) {
		len = avail < KW_WIN_BYTES ? avail : KW_WIN_BYTES;
		w->len = 0;
		if (KW_WIN_USER(w->buf, len, addr))
			return KW_WIN_USER(dst, n, addr);
		w->base = addr;
		w->len = len;
		off = 0;
	}
	off &= KW_WIN_BYTES - 1;
	if (n > 8)
		return KW_WIN_KERN(dst, n, &w->buf[off]);
	/* a token: loads, cheaper than a helper call */
	for (__u32 i = 0; i < 8; i++) {
		if (i >= n)
			break;
		d[i] = w->buf[(off + i) & KW_WIN_MASK];
	}
	return 0;
}

#endif

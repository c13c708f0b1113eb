// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer target: random text through the /proc/net/tcp{,6} parser, as
 * IPv4 and as IPv6, checking what comes out is consistent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kafkalat/target.h"

struct tally {
	int family;
	int n;
};

static int check_sock(const struct target_sock *s, void *ctx)
{
	struct tally *t = ctx;
	static const uint8_t zero[12];

	if (s->family != t->family)
		abort();
	if (s->family == AF_INET &&
	    (memcmp(s->local_addr + 4, zero, 12) != 0 || memcmp(s->remote_addr + 4, zero, 12) != 0))
		abort();
	t->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int families[] = {AF_INET, AF_INET6};
	/* A copy of exactly size bytes, so ASan catches any read past the end. */
	char *text = malloc(size ? size : 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	for (int i = 0; i < 2; i++) {
		struct tally t = {families[i], 0};
		unsigned bad = 0;
		int r = target_parse_proc_net(text, size, families[i], check_sock, &t, &bad);

		if (r != t.n || (size_t)r + bad > size)
			abort();
	}
	free(text);
	return 0;
}

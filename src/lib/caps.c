// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Capability sets: see include/kafkalat/caps.h. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kafkalat/caps.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* The capabilities kafkalat needs or uses when it can. */
static const struct {
	int cap;
	const char *name;
} names[] = {
    {CAP_BPF, "CAP_BPF"},
    {CAP_PERFMON, "CAP_PERFMON"},
    {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"},
    {CAP_SYS_PTRACE, "CAP_SYS_PTRACE"},
    {CAP_SYS_NICE, "CAP_SYS_NICE"},
    {CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE"},
};

int caps_effective(uint64_t *eff)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{0}};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	*eff = (uint64_t)data[1].effective << 32 | data[0].effective;
	return 0;
}

bool caps_has(uint64_t eff, int cap)
{
	return cap >= 0 && cap < 64 && (eff >> cap & 1);
}

const char *caps_name(int cap)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].cap == cap)
			return names[i].name;
	return NULL;
}

/* CAP_SYS_ADMIN grants what CAP_BPF and CAP_PERFMON do. */
static bool held(uint64_t eff, int cap)
{
	if (caps_has(eff, cap))
		return true;
	return (cap == CAP_BPF || cap == CAP_PERFMON) && caps_has(eff, CAP_SYS_ADMIN);
}

int caps_missing(uint64_t eff, uint64_t need, char *buf, size_t len)
{
	size_t off = 0;
	int n = 0;

	if (len)
		buf[0] = '\0';
	/* from the highest: CAP_BPF before CAP_PERFMON, the order the docs use */
	for (int cap = 63; cap >= 0; cap--) {
		const char *name;
		char num[24];

		if (!caps_has(need, cap) || held(eff, cap))
			continue;
		name = caps_name(cap);
		if (!name) {
			snprintf(num, sizeof(num), "capability %d", cap);
			name = num;
		}
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", n ? ", " : "", name);
		n++;
	}
	return n;
}

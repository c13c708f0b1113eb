/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kernel symbols from /proc/kallsyms (or a file in its format), to turn the
 * addresses of a BPF stack map into function names for the cause classifier
 * and the reports. Like libbpf-tools' trace_helpers ksyms, written anew:
 * the text is not trusted (every line is checked; malformed lines are skipped
 * and counted) and symbols are sorted by address for lookups. Errors are
 * returned, never printed.
 *
 * Line format: "<hex address> <type char> <name>[<blanks>[<module>]]\n".
 * A last line without its newline is counted as malformed: /proc/kallsyms
 * always ends its lines, and a cut line would give a wrong (cut) name.
 *
 * Read as a user without CAP_SYSLOG, /proc/kallsyms shows every address as 0
 * (kptr_restrict); loading such a file fails with -EPERM rather than mapping
 * every address to one symbol.
 */
#ifndef KAFKALAT_KSYMS_H
#define KAFKALAT_KSYMS_H

#include <stddef.h>
#include <stdint.h>

/* Largest text accepted (/proc/kallsyms is ~5-15 MiB). */
#define KSYMS_MAX_TEXT (256u << 20)
/* The kernel's KSYM_NAME_LEN; longer names are malformed. */
#define KSYMS_MAX_NAME 512

struct ksym {
	uint64_t addr;
	const char *name;
	const char *module; /* "ext4" for "[ext4]"; NULL for the kernel image */
	char type;	    /* 'T', 't', 'D', ... as in the file */
};

struct ksyms;

/* Parse len bytes of kallsyms text (need not be NUL-terminated; copied).
 * On success *out is set and 0 returned; otherwise a negative errno:
 * -EINVAL (NULL arguments), -EFBIG (text over KSYMS_MAX_TEXT), -ENOENT (no
 * valid symbol at all), -EPERM (all addresses zero), -ENOMEM. */
int ksyms__parse(const char *text, size_t len, struct ksyms **out);
/* Read and parse a file (NULL: /proc/kallsyms), with libbpf's convention
 * for pointer results: NULL and errno set to the (positive) error on
 * failure, ksyms__parse's or open/read's. */
struct ksyms *ksyms__load(const char *path);
void ksyms__free(struct ksyms *ks);

/* The symbol at or nearest below addr (its module, if any, in ->module);
 * NULL below the first symbol. Of several symbols at one address, the first
 * listed in the text. O(log n). */
const struct ksym *ksyms__map_addr(const struct ksyms *ks, uint64_t addr);

size_t ksyms__count(const struct ksyms *ks);
/* Lines skipped as malformed (blank, bad address/type/name/module, cut). */
size_t ksyms__skipped(const struct ksyms *ks);
/* The i-th symbol in address order, i < ksyms__count(); NULL otherwise. */
const struct ksym *ksyms__at(const struct ksyms *ks, size_t i);

#endif /* KAFKALAT_KSYMS_H */

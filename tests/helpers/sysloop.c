// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sysloop: what one syscall costs this process, for the bench's "cost to the
 * rest of the machine" figure (kafkalat's programs run on every process's
 * watched syscalls and leave at the tgid check).
 *
 *   sysloop read|write|getppid [N]
 *
 * read: 1 byte from /dev/zero (a syscall the socket probe watches); write: 1
 * byte to /dev/null (watched by the socket probe and the file programs);
 * getppid: one nobody watches. Prints the median over 5 rounds of N calls
 * (default 1,000,000) in ns per call: "NS=<float>".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
	enum { READ, WRITE, GETPPID } op;
	double rounds[5];
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
	char byte = 0;
	int fd = -1;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: sysloop read|write|getppid [N]\n");
		return 2;
	}
	if (!strcmp(argv[1], "read")) {
		op = READ;
		fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	} else if (!strcmp(argv[1], "write")) {
		op = WRITE;
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	} else if (!strcmp(argv[1], "getppid")) {
		op = GETPPID;
	} else {
		fprintf(stderr, "sysloop: unknown syscall '%s' (read, write or getppid)\n",
			argv[1]);
		return 2;
	}
	if (op != GETPPID && fd < 0) {
		perror("sysloop: open");
		return 1;
	}
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();

		for (long i = 0; i < n; i++) {
			if (op == READ && read(fd, &byte, 1) != 1)
				return 1;
			if (op == WRITE && write(fd, &byte, 1) != 1)
				return 1;
			if (op == GETPPID)
				(void)getppid();
		}
		rounds[r] = (now_ns() - t0) / (double)n;
	}
	qsort(rounds, 5, sizeof(rounds[0]), cmp_double);
	printf("NS=%.1f\n", rounds[2]);
	return 0;
}

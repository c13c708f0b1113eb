// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stallgen: provokes kernel waits on demand, for the causes tests. Prints
 * PID=, waits for a line on stdin (the tracer is attached), then runs the
 * actions in the order given, printing KEY=value lines (thread ids, file
 * identity, durations), and DONE= at the end. libc and pthreads only.
 *
 *   --futex MS        a thread holds a mutex; another blocks on it >= MS ms
 *                     (FUTEX_TID= the waiter, HOLDER_TID= the holder)
 *   --fsync DIR       writes --mib M (default 4) MiB in 1 MiB write()s to a
 *                     new file in DIR, then fsync()s it and removes it
 *   --sleep MS        nanosleep
 *   --spin MS         two CPU-bound threads pinned to one CPU for MS ms
 *   --no-wait         do not wait for stdin before the actions
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define MIB (1u << 20)

static long gettid_(void)
{
	return (long)gettid();
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void say(const char *key, long long v)
{
	printf("%s=%lld\n", key, v);
	fflush(stdout);
}

struct futex_job {
	pthread_mutex_t mu;
	pthread_mutex_t ready_mu;
	pthread_cond_t ready_cv;
	int held;
	int waiting; /* set by the waiter just before it locks */
	long ms;
};

static void *holder(void *arg)
{
	struct futex_job *j = arg;

	pthread_mutex_lock(&j->mu);
	say("HOLDER_TID", gettid_());
	pthread_mutex_lock(&j->ready_mu);
	j->held = 1;
	pthread_cond_signal(&j->ready_cv);
	pthread_mutex_unlock(&j->ready_mu);
	/* hold MS ms from the moment the waiter goes for the lock (plus 5 ms for
	 * it to get into the futex): it blocks for at least MS ms */
	while (!__atomic_load_n(&j->waiting, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	sleep_ms(j->ms + 5);
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

static void *waiter(void *arg)
{
	struct futex_job *j = arg;
	uint64_t t0;

	say("FUTEX_TID", gettid_());
	t0 = mono_ns();
	__atomic_store_n(&j->waiting, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&j->mu);
	say("FUTEX_WAITED_US", (long long)((mono_ns() - t0) / 1000));
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

static int do_futex(long ms)
{
	struct futex_job j = {.ms = ms};
	pthread_t h, w;

	pthread_mutex_init(&j.mu, NULL);
	pthread_mutex_init(&j.ready_mu, NULL);
	pthread_cond_init(&j.ready_cv, NULL);
	if (pthread_create(&h, NULL, holder, &j))
		return -1;
	pthread_mutex_lock(&j.ready_mu);
	while (!j.held)
		pthread_cond_wait(&j.ready_cv, &j.ready_mu);
	pthread_mutex_unlock(&j.ready_mu);
	if (pthread_create(&w, NULL, waiter, &j))
		return -1;
	pthread_join(w, NULL);
	pthread_join(h, NULL);
	return 0;
}

struct fsync_job {
	const char *dir;
	long mib;
	int err;
};

static void *fsync_thread(void *arg)
{
	struct fsync_job *j = arg;
	char path[4096];
	struct stat st;
	char *buf;
	int fd;

	say("FSYNC_TID", gettid_());
	snprintf(path, sizeof(path), "%s/stallgen.%ld", j->dir, (long)getpid());
	buf = malloc(MIB);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (!buf || fd < 0 || fstat(fd, &st)) {
		j->err = errno;
		free(buf);
		return NULL;
	}
	memset(buf, 'x', MIB);
	say("FILE_INO", (long long)st.st_ino);
	printf("FILE_DEV=%u:%u\n", major(st.st_dev), minor(st.st_dev));
	say("FILE_FD", fd);
	for (long i = 0; i < j->mib; i++)
		if (write(fd, buf, MIB) != (ssize_t)MIB)
			j->err = errno ? errno : EIO;
	say("WRITES", j->mib);
	say("WRITE_BYTES", MIB);
	if (fsync(fd))
		j->err = errno;
	close(fd);
	unlink(path);
	free(buf);
	return NULL;
}

static int do_fsync(const char *dir, long mib)
{
	struct fsync_job j = {.dir = dir, .mib = mib};
	pthread_t t;

	if (pthread_create(&t, NULL, fsync_thread, &j))
		return -1;
	pthread_join(t, NULL);
	if (j.err)
		fprintf(stderr, "stallgen: fsync job: %s\n", strerror(j.err));
	return j.err ? -1 : 0;
}

struct spin_job {
	int cpu;
	long ms;
	const char *key;
};

static void *spinner(void *arg)
{
	struct spin_job *j = arg;
	uint64_t end;
	cpu_set_t set;
	volatile uint64_t x = 0;

	CPU_ZERO(&set);
	CPU_SET(j->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "stallgen: sched_setaffinity: %s\n", strerror(errno));
	say(j->key, gettid_());
	end = mono_ns() + (uint64_t)j->ms * 1000000ull;
	while (mono_ns() < end)
		x++;
	return NULL;
}

static int do_spin(long ms)
{
	cpu_set_t set;
	int cpu = 0;
	struct spin_job a, b;
	pthread_t ta, tb;

	if (!sched_getaffinity(0, sizeof(set), &set))
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				cpu = i; /* the last allowed CPU */
	say("SPIN_CPU", cpu);
	a = (struct spin_job){.cpu = cpu, .ms = ms, .key = "SPIN_TID"};
	b = (struct spin_job){.cpu = cpu, .ms = ms, .key = "SPIN_TID2"};
	if (pthread_create(&ta, NULL, spinner, &a) || pthread_create(&tb, NULL, spinner, &b))
		return -1;
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	return 0;
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < 0) {
		fprintf(stderr, "stallgen: bad number %s\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long mib = 4;
	int wait = 1, err = 0;
	char line[64];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mib") && i + 1 < argc)
			mib = num(argv[++i]);
		else if (!strcmp(argv[i], "--no-wait"))
			wait = 0;
	}
	say("PID", getpid());
	if (wait && !fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 1; i < argc && !err; i++) {
		const char *a = argv[i];

		if (i + 1 >= argc)
			break;
		if (!strcmp(a, "--futex"))
			err = do_futex(num(argv[++i]));
		else if (!strcmp(a, "--fsync"))
			err = do_fsync(argv[++i], mib);
		else if (!strcmp(a, "--sleep"))
			sleep_ms(num(argv[++i]));
		else if (!strcmp(a, "--spin"))
			err = do_spin(num(argv[++i]));
		else if (!strcmp(a, "--mib"))
			i++;
	}
	say("DONE", err ? 1 : 0);
	return err ? 1 : 0;
}

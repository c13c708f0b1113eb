#!/usr/bin/env bash
# capture-stacks.sh: capture real kernel stacks of blocked threads on this
# machine as test data for the cause classifier (tests/data/stacks/*.txt,
# read by tests/unit/test_cause.c). Needs root (/proc/<tid>/stack, loop
# devices, sysctls, a memory cgroup); `make` first (build/pressure).
#
#   scripts/capture-stacks.sh [--out DIR] [--seconds S] [--keep N]
#
# How: a helper program (compiled into a temporary directory) runs threads
# named after what they do, and /proc/<tid>/stack of each is sampled:
#  - idle: a pthread mutex held forever (futex), a 300 ms condvar wait
#    (futex), epoll_wait, nanosleep, read() on an empty pipe, send() to a
#    TCP peer that never reads (net) -- one sample each, once they settle;
#  - disk: on the slow ext4 of scripts/slowdisk.sh (commit=1) behind
#    build/pressure: 4 threads appending 1 KiB writes (the Kafka shape),
#    2 threads appending to one shared file (i_rwsem), write+fsync, large
#    buffered writes with vm.dirty_bytes lowered (dirty throttling), O_DIRECT
#    reads, major faults on an mmapped file, and a second process writing
#    through the page cache inside a 64 MiB memory cgroup (reclaim). Every
#    thread is sampled every 2 ms for S seconds (default 40); a stack is kept
#    when it shows the situation's key frame (table `keys` below), at most N
#    (default 2) distinct stacks per key.
# Each file: "# expect: CAUSE" (the cause the situation is known to be,
# decided here from the key frame, not by the classifier), "# situation:",
# "# kernel:", "# thread:", then the frames innermost first, exactly as
# /proc/<tid>/stack printed them ("[<0>] name+0xoff/0xsize [module]").
# Frames of __sched functions (schedule, io_schedule, ...) are not in
# /proc/<tid>/stack; BPF stacks have them.
#
# Everything created is removed on every exit path: the helper processes (by
# PID), the memory cgroup, the slow disk (slowdisk.sh down), and vm.dirty_*
# are restored to their values at start.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${OUT:-$here/../build}
out=$here/../tests/data/stacks seconds=40 keep=2

die() {
	echo "capture-stacks: $*" >&2
	exit 1
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--out) [[ $# -ge 2 ]] || die "--out needs a directory"; out=$2; shift 2 ;;
	--seconds | --keep)
		[[ $# -ge 2 && $2 =~ ^[1-9][0-9]{0,4}$ ]] || die "$1 needs a positive integer"
		[[ $1 == --seconds ]] && seconds=$2 || keep=$2
		shift 2
		;;
	-h | --help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
done
[[ $(id -u) -eq 0 ]] || die "needs root"
[[ -x $build/pressure ]] || die "$build/pressure missing: run make first"
mkdir -p "$out"

tmp=$(mktemp -d /tmp/kafkalat-capture.XXXXXX)
pids=() memcg= dirty_saved=
cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	[[ -n $memcg && -d $memcg ]] && rmdir "$memcg"
	if [[ -n $dirty_saved ]]; then
		# setting a *_bytes to 0 does not restore the ratio: write back
		# whichever of each pair was in use
		read -r db dr dbb dbr <<<"$dirty_saved"
		if [[ $db != 0 ]]; then sysctl -q vm.dirty_bytes="$db"; else sysctl -q vm.dirty_ratio="$dr"; fi
		if [[ $dbb != 0 ]]; then sysctl -q vm.dirty_background_bytes="$dbb"; else
			sysctl -q vm.dirty_background_ratio="$dbr"; fi
	fi
	[[ -f $tmp/disk.state ]] && "$here/slowdisk.sh" down --state "$tmp/disk.state"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$tmp/helper.c" <<'C'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int open_in_dir(const char *name, int flags)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, flags | O_CREAT, 0644);
	if (fd < 0)
		die(path);
	return fd;
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void *t_mutex(void *a) { (void)a; pthread_mutex_lock(&held); return NULL; }

static void *t_cond(void *a)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	(void)a;
	pthread_mutex_lock(&m);
	for (;;) { /* the request queue's 300 ms poll */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 300000000;
		if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
		pthread_cond_timedwait(&c, &m, &ts);
	}
	return NULL;
}

static void *t_epoll(void *a)
{
	struct epoll_event ev;
	int ep = epoll_create1(0);
	(void)a;
	for (;;) epoll_wait(ep, &ev, 1, -1);
	return NULL;
}

static void *t_sleep(void *a) { (void)a; for (;;) nap_ms(1000); return NULL; }

static void *t_pipe(void *a)
{
	int p[2];
	char c;
	(void)a;
	if (pipe(p)) die("pipe");
	for (;;) if (read(p[0], &c, 1) <= 0) nap_ms(100);
	return NULL;
}

/* send() to a loopback peer that never reads: the send buffer fills */
static void *t_net(void *a)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0), s = socket(AF_INET, SOCK_STREAM, 0);
	static char buf[1 << 16];
	(void)a;
	if (bind(l, (void *)&sa, sizeof(sa)) || listen(l, 1) || getsockname(l, (void *)&sa, &len) ||
	    connect(s, (void *)&sa, sizeof(sa)) || accept(l, NULL, NULL) < 0)
		die("loopback");
	for (;;) if (send(s, buf, sizeof(buf), 0) < 0) die("send");
	return NULL;
}

/* Kafka's shape: 1 KiB appends, ~500/s per thread */
static void *t_append(void *a)
{
	char name[64], buf[1024];
	memset(buf, 'a', sizeof(buf));
	snprintf(name, sizeof(name), "append-%ld.log", (long)a);
	int fd = open_in_dir(name, O_WRONLY | O_APPEND | O_TRUNC);
	for (;;) { if (write(fd, buf, sizeof(buf)) < 0) die("write"); nap_ms(2); }
	return NULL;
}

static void *t_shared(void *a)
{
	char buf[1024];
	(void)a;
	memset(buf, 's', sizeof(buf));
	int fd = open_in_dir("shared.log", O_WRONLY | O_APPEND);
	for (;;) { if (write(fd, buf, sizeof(buf)) < 0) die("write"); nap_ms(1); }
	return NULL;
}

static void *t_fsync(void *a)
{
	static char buf[65536];
	(void)a;
	int fd = open_in_dir("fsync.log", O_WRONLY | O_TRUNC);
	for (off_t off = 0;; off = (off + (off_t)sizeof(buf)) % (16 << 20)) {
		if (pwrite(fd, buf, sizeof(buf), off) < 0 || fsync(fd)) die("fsync");
		nap_ms(5);
	}
	return NULL;
}

/* big buffered rewrites of a 256 MiB file: dirty pages faster than the disk */
static void *t_dirty(void *a)
{
	static char buf[4 << 20];
	(void)a;
	memset(buf, 'd', sizeof(buf));
	int fd = open_in_dir("dirty.dat", O_WRONLY);
	for (off_t off = 0;; off = (off + (off_t)sizeof(buf)) % (256 << 20))
		if (pwrite(fd, buf, sizeof(buf), off) < 0) die("pwrite");
	return NULL;
}

#define RFILE (64 << 20)
static void make_read_file(void)
{
	static char buf[1 << 20];
	int fd = open_in_dir("read.dat", O_WRONLY | O_TRUNC);
	for (int i = 0; i < RFILE / (1 << 20); i++)
		if (write(fd, buf, sizeof(buf)) < 0) die("write");
	if (fsync(fd)) die("fsync");
	close(fd);
}

static void *t_dread(void *a)
{
	void *buf;
	(void)a;
	if (posix_memalign(&buf, 4096, 1 << 20)) die("memalign");
	int fd = open_in_dir("read.dat", O_RDONLY | O_DIRECT);
	for (off_t off = 0;; off = (off + (1 << 20)) % RFILE)
		if (pread(fd, buf, 1 << 20, off) < 0) die("pread");
	return NULL;
}

/* major faults: drop the file's cache, map it again, touch every page */
static void *t_fault(void *a)
{
	volatile char sum = 0;
	(void)a;
	int fd = open_in_dir("read.dat", O_RDONLY);
	for (;;) {
		posix_fadvise(fd, 0, RFILE, POSIX_FADV_DONTNEED);
		char *p = mmap(NULL, RFILE, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) die("mmap");
		madvise(p, RFILE, MADV_RANDOM);
		for (long i = 0; i < RFILE; i += 4096) sum += p[i];
		munmap(p, RFILE);
	}
	return NULL;
}

/* in a small memory cgroup: page cache beyond its limit forces reclaim */
static void *t_cache(void *a)
{
	static char buf[1 << 20];
	(void)a;
	int fd = open_in_dir("cache.dat", O_WRONLY);
	for (off_t off = 0;; off = (off + (1 << 20)) % (256 << 20))
		if (pwrite(fd, buf, sizeof(buf), off) < 0) die("pwrite");
	return NULL;
}

struct job { const char *name; void *(*fn)(void *); long arg; };

static void start(const struct job *j)
{
	pthread_t t;
	if (pthread_create(&t, NULL, j->fn, (void *)j->arg)) die("pthread_create");
	pthread_setname_np(t, j->name);
}

int main(int argc, char **argv)
{
	static const struct job idle[] = {
		{"kl-mutex", t_mutex, 0}, {"kl-cond", t_cond, 0}, {"kl-epoll", t_epoll, 0},
		{"kl-sleep", t_sleep, 0}, {"kl-pipe", t_pipe, 0}, {"kl-net", t_net, 0}, {0, 0, 0}};
	static const struct job disk[] = {
		{"kl-append", t_append, 0}, {"kl-append", t_append, 1}, {"kl-append", t_append, 2},
		{"kl-append", t_append, 3}, {"kl-shared", t_shared, 0}, {"kl-shared", t_shared, 1},
		{"kl-fsync", t_fsync, 0}, {"kl-dirty", t_dirty, 0}, {"kl-dread", t_dread, 0},
		{"kl-fault", t_fault, 0}, {0, 0, 0}};
	static const struct job cache[] = {{"kl-cache", t_cache, 0}, {0, 0, 0}};
	const struct job *jobs;

	if (argc < 2) return 2;
	dir = argc > 2 ? argv[2] : ".";
	if (!strcmp(argv[1], "idle")) {
		pthread_mutex_lock(&held);
		jobs = idle;
	} else if (!strcmp(argv[1], "disk")) {
		make_read_file();
		jobs = disk;
	} else {
		jobs = cache;
	}
	for (; jobs->name; jobs++) start(jobs);
	printf("ready\n");
	fflush(stdout);
	for (;;) pause();
}
C
cc -O2 -std=c11 -Wall -Wextra -o "$tmp/helper" "$tmp/helper.c" -lpthread ||
	die "cannot compile the helper"

# The sampler: reads /proc/<pid>/task/<tid>/stack of the named threads.
# keys: (key frame, file name, expected cause, what the thread was doing);
# the first key found on a stack names it, so more specific keys come first.
cat >"$tmp/sample.py" <<'PY'
import os, re, sys, time
out, kernel, seconds, keep = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
mode, pids = sys.argv[5], [int(p) for p in sys.argv[6:]]
keys = [
    ("wait_transaction_locked", "ext4-wait-transaction-locked", "journal"),
    ("do_get_write_access", "ext4-do-get-write-access", "journal"),
    ("jbd2_log_wait_commit", "ext4-fsync-wait-commit", "journal"),
    ("start_this_handle", "ext4-start-this-handle", "journal"),
    ("try_to_free_mem_cgroup_pages", "memcg-reclaim", "reclaim"),
    ("balance_dirty_pages", "balance-dirty-pages", "dirty_throttle"),
    ("folio_wait_writeback", "fsync-wait-writeback", "writeback"),
    ("folio_wait_stable", "write-wait-stable", "writeback"),
    # rwsem_down_write_slowpath is __sched, hidden here: the lock's taker
    # is the top frame (a "^" key matches only the innermost frame)
    ("^ext4_buffered_write_iter", "shared-file-i-rwsem", "inode_lock"),
    ("exc_page_fault", "mmap-major-fault", "pagefault"),
    ("__iomap_dio_rw", "odirect-read", "blkio"),
    ("blk_mq_get_tag", "blk-mq-get-tag", "blkio"),
]
doing = {
    "kl-mutex": "pthread_mutex_lock on a mutex another thread holds",
    "kl-cond": "pthread_cond_timedwait, 300 ms (an idle handler's request queue poll)",
    "kl-epoll": "epoll_wait on an empty epoll set (an idle network thread)",
    "kl-sleep": "nanosleep 1 s", "kl-pipe": "read() on an empty pipe",
    "kl-net": "send() to a loopback TCP peer that never reads",
    "kl-append": "1 KiB O_APPEND write()s every 2 ms, slow ext4 commit=1 under pressure",
    "kl-shared": "two threads appending 1 KiB write()s to one file, slow ext4 under pressure",
    "kl-fsync": "64 KiB pwrite + fsync every 5 ms, slow ext4 commit=1 under pressure",
    "kl-dirty": "4 MiB buffered pwrite()s, vm.dirty_bytes lowered, slow ext4",
    "kl-dread": "1 MiB O_DIRECT pread()s, slow ext4",
    "kl-fault": "touching an mmapped file after dropping its page cache, slow ext4",
    "kl-cache": "1 MiB buffered pwrite()s in a 64 MiB memory cgroup, slow ext4",
}
idle_expect = {"kl-mutex": "futex", "kl-cond": "futex", "kl-net": "net"}

def threads():
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            sys.exit(f"capture-stacks: process {pid} is gone")
        for tid in tids:
            try:
                comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
                if comm in doing:
                    yield tid, comm, open(f"/proc/{pid}/task/{tid}/stack").read()
            except OSError:
                pass

def names(stack):
    return [re.sub(r"^\[<[^>]*>\] ", "", l).split("+")[0] for l in stack.splitlines()]

def save(name, expect, comm, stack):
    with open(os.path.join(out, name + ".txt"), "w") as f:
        f.write(f"# expect: {expect}\n# situation: {doing[comm]}\n")
        f.write(f"# kernel: {kernel}\n# thread: {comm}\n{stack}")
    print(f"  {name}.txt: {expect}")

seen, count = set(), {}
if mode == "idle":
    for tid, comm, stack in threads():
        fr = names(stack)
        if comm in seen or not fr:
            continue
        seen.add(comm)
        expect = idle_expect.get(comm, "other:" + fr[0])
        save("idle-" + comm[3:], expect, comm, stack)
    sys.exit(0)
end = time.monotonic() + seconds
while time.monotonic() < end:
    for tid, comm, stack in threads():
        fr = names(stack)
        sig = tuple(fr)
        if sig in seen:
            continue
        for key, name, expect in keys:
            hit = fr[:1] == [key[1:]] if key[0] == "^" else key in fr
            if hit and count.get(name, 0) < keep:
                seen.add(sig)
                count[name] = count.get(name, 0) + 1
                save(f"{name}-{count[name]}", expect, comm, stack)
                break
    time.sleep(0.002)
missing = [n for _, n, _ in keys if n not in count]
print("  not caught: " + (", ".join(missing) if missing else "none"))
PY

kernel=$(uname -r)
echo "capture-stacks: idle situations"
"$tmp/helper" idle >"$tmp/idle.out" &
pids+=($!)
sleep 1.5
python3 "$tmp/sample.py" "$out" "$kernel" 0 1 idle "${pids[-1]}"
kill "${pids[-1]}"

echo "capture-stacks: slow ext4 (commit=1) under pressure, $seconds s"
"$here/slowdisk.sh" up --fs ext4 --opts commit=1 --size 4096 --dir "$tmp/mnt" --state "$tmp/disk.state" >/dev/null
mkdir -p "$tmp/mnt/p"
dirty_saved="$(sysctl -n vm.dirty_bytes) $(sysctl -n vm.dirty_ratio) $(sysctl -n vm.dirty_background_bytes) $(sysctl -n vm.dirty_background_ratio)"
sysctl -q vm.dirty_bytes=$((64 << 20)) vm.dirty_background_bytes=$((16 << 20))
"$build/pressure" --dir "$tmp/mnt/p" --file-mb 256 >/dev/null &
pids+=($!)
"$tmp/helper" disk "$tmp/mnt" >"$tmp/disk.out" &
pids+=($!)
disk_pid=$!
memcg=/sys/fs/cgroup/memory/kafkalat-capture-$$
mkdir "$memcg"
echo $((64 << 20)) >"$memcg/memory.limit_in_bytes"
(echo "$BASHPID" >"$memcg/cgroup.procs" && exec "$tmp/helper" cache "$tmp/mnt") >"$tmp/cache.out" &
pids+=($!)
cache_pid=$!
for _ in $(seq 100); do grep -q ready "$tmp/disk.out" 2>/dev/null && break; sleep 0.1; done
python3 "$tmp/sample.py" "$out" "$kernel" "$seconds" "$keep" disk "$disk_pid" "$cache_pid"

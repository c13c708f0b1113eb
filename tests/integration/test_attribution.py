#!/usr/bin/python3
"""Attribution of produce requests (issue 4) against the reference broker.

Accuracy, --io jvm and --io chunked: every produce request of the broker's
truth is matched ("attrib":"matched"), its handler tid is the truth's, and its
phase boundaries (t_first, t_read, t_dequeue, append start/end, t_resp,
t_end) are compared with the broker's own stamps. kafkalat's boundaries come
from syscall entry/exit in the kernel, the broker's from clock_gettime() in
user space right before or after the syscall, so the broker's stamp is always
on one known side: kafkalat is never on the other side (exact check), and its
distance to the stamp is the broker's own lag, within 50 us for most requests.
The broker runs alone on CPU 0 under SCHED_FIFO (everything else on CPU 1):
then nothing preempts it between a syscall and its stamp; what is left is the
VM's invisible time (a 1000 Hz tick costs 35-90 us here) and kafkalat's own
work at syscall exit.

Provoked tails, the broker on CPU 0 under SCHED_FIFO too (other users of a
shared VM then add no run-queue time: it swamped a 20 ms lock hold once), but
at nice -15 with the CPU hog (which must compete with it under CFS); each
tail's composition is read from the summary's ">= p99" band, and the requests
above the run's p99 one by one against the truth's largest phase:
- partition-lock hold (--inject-lock-hold 20:500, eight producers on one
  partition): the requests that waited are `lock` with `futex` (the band's
  largest phase and cause); the holder's own request is `append` with
  other:*nanosleep (the sleep is under the lock, inside the truth's append);
- fsync after every append on a loop-mounted ext4 with a journal: `append`
  with `journal`/`blkio`, the journal commits on that loop device;
- a CPU hog on the handlers' CPU: `runq`;
- no fault: cpu/runq only, no lock/disk cause above a small share.
"""
import collections
import os
import subprocess
import time

from lib import KAFKALAT, Failure, main

TOL_NS = 50_000
SLACK_NS = 5_000  # "the wrong side": more than this beyond the broker's stamp
HOLD_MS = 20  # --inject-lock-hold
FIFO = False  # the broker under SCHED_FIFO (set in test() when allowed)
DISK_CAUSES = ("journal", "blkio", "writeback", "dirty_throttle")
FAULT_CAUSES = DISK_CAUSES + ("futex", "inode_lock", "reclaim", "other")

# (name, kafkalat's field, the truth's stamp, side): side +1 means the broker
# stamps right before the syscall (kafkalat, at its entry, is later or equal),
# -1 right after it (kafkalat, at its exit, is earlier or equal).
BOUNDARIES = (
    ("t_first", "t_first_ns", lambda r: r["t_first_ns"], +1),
    ("t_read", "t_read_ns", lambda r: r["t_read_ns"], -1),
    ("t_dequeue", "t_dequeue_ns", lambda r: r["t_dequeue_ns"], -1),
    ("append_start", "t_append_start_ns", lambda r: r["partitions"][0]["append_start_ns"], +1),
    ("append_end", "t_append_end_ns", lambda r: r["partitions"][-1]["append_end_ns"], -1),
    ("t_resp", "t_resp_ns", lambda r: r["t_resp_ns"], +1),
    ("t_end", "t_end_ns", lambda r: r["t_end_ns"], -1),
)


def info(msg):
    print(f"  info {msg}")


# -- processes ----------------------------------------------------------------

def can_fifo():
    return subprocess.run(["chrt", "-f", "10", "true"], capture_output=True).returncode == 0


def producers(t, name, port, n, rate, secs, partitions, sizes):
    """n `kafkalat load` processes at once (n connections), to the end."""
    ps = []
    for i in range(n):
        argv = [KAFKALAT, "load", "-b", f"127.0.0.1:{port}", "-t", "t", "--partitions",
                partitions, "--rate", rate, "-d", secs, "--size", sizes[i % len(sizes)],
                "--json", "-q", "-X", "linger.ms=0", "-X", "batch.num.messages=20"]
        ps.append(t.spawn(argv, f"{name}-load{i}"))
    for p in ps:
        rc = t.wait(p, secs + 30)
        if rc != 0:
            raise Failure(f"{p.name} exited {rc}: {t.output(p)[1].strip()[-300:]!r}")


def attach(t, pid, port, folded, name, timeout=30):
    """lib's Run.kafkalat with a longer wait: with --cpu-hog on CPU 0 attaching
    took 3 s, and over 10 s once while another user of this VM ran a broker."""
    argv = [KAFKALAT, "-p", pid, "-P", port, "-j", "--requests", t.path(name + ".jsonl"),
            "--folded", folded]
    t0 = time.monotonic()
    p = t.spawn(argv, name)
    while "Tracing" not in t.output(p)[1]:
        if p.poll() is not None:
            raise Failure(f"kafkalat exited {p.returncode} before tracing: "
                          f"{t.output(p)[1].strip()!r}")
        if time.monotonic() - t0 > timeout:
            raise Failure(f"kafkalat did not say Tracing within {timeout} s")
        time.sleep(0.02)
    info(f"kafkalat attached in {(time.monotonic() - t0) * 1000:.0f} ms")
    return p


def scenario(t, name, *flags, io="jvm", fifo=False, logdir=None, nprod=1, rate=1000, secs=4,
             partitions=4, sizes=(100,)):
    """Broker + kafkalat (--requests, --folded) + producers; returns the summary,
    kafkalat's request lines keyed by (client, corr), the truth's produce
    requests and the folded stacks."""
    broker, port, truth_path = t.truth_broker(name, *flags, io=io, logdir=logdir, fifo=fifo)
    folded = t.path(name + ".folded")
    k = attach(t, broker.pid, port, folded, "kafkalat-" + name)
    producers(t, name, port, nprod, rate, secs, partitions, sizes)
    time.sleep(0.5)  # kafkalat attributes a request once the causes passed its end
    s, reqs = t.stop_kafkalat(k)
    truth = t.stop_truth_broker(broker, truth_path)
    ours = {(r["client"], r["corr"]): r for r in reqs}
    t.eq(len(ours), len(reqs), f"{name}: (client, corr) unique in kafkalat's lines")
    t.eq(s["lost_events"], 0, f"{name}: lost_events")
    t.eq(s["attribution"]["lost_events"], 0, f"{name}: causes lost_events")
    t.check(len(truth) > 0, f"{name}: the truth has {len(truth)} produce requests", fatal=True)
    missing = [r["corr"] for r in truth if (r["client"], r["corr"]) not in ours]
    t.eq(missing[:5], [], f"{name}: truth requests kafkalat did not report ({len(missing)})")
    try:
        with open(folded) as f:
            stacks = f.read().splitlines()
    except FileNotFoundError:
        stacks = []
    return s, ours, truth, stacks


# -- reading the results ------------------------------------------------------

def truth_phases(r):
    p = r["partitions"]
    return {"read": r["t_read_ns"] - r["t_first_ns"],
            "queue": r["t_dequeue_ns"] - r["t_read_ns"],
            "lock": p[0]["append_start_ns"] - r["t_dequeue_ns"],
            "append": p[-1]["append_end_ns"] - p[0]["append_start_ns"],
            "post_append": r["t_resp_ns"] - p[-1]["append_end_ns"],
            "send": r["t_end_ns"] - r["t_resp_ns"]}


BROKER_PHASES = ("read", "queue", "lock", "append", "post_append", "send")


def largest(d):
    return max(d, key=d.get)


def largest_phase(d):
    """The largest of the broker's phases: the truth knows only those."""
    return max(BROKER_PHASES, key=lambda p: d.get(p, 0))


def slow_pairs(ours, truth):
    """(kafkalat line, truth) of the answered requests at or above kafkalat's p99 of
    the broker latency: the truth times the broker, first read to last write."""
    key = "broker_latency_us"
    lat = sorted(k[key] for k in ours.values() if k.get(key) is not None)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    pairs = [(ours[(r["client"], r["corr"])], r) for r in truth
             if (r["client"], r["corr"]) in ours]
    return p99, [(k, r) for k, r in pairs if k.get(key) is not None and k[key] >= p99]


def band(t, name, s, key="ge_p99"):
    """Prints and returns a band (mean shares and by time)."""
    b = s["bands"][key]
    nz = lambda m: {k: round(v, 1) for k, v in sorted(m.items(), key=lambda kv: -kv[1])
                    if v >= 0.5}
    info(f"{name}: {key} {b['requests']} requests {b['min_us']:.0f}-{b['max_us']:.0f} us, "
         f"phases {nz(b['phases_pct'])}, causes {nz(b['causes_pct'])}")
    if "by_time" in b:
        info(f"{name}: {key} by time: phases {nz(b['by_time']['phases_pct'])}, "
             f"causes {nz(b['by_time']['causes_pct'])}, "
             f"root causes {nz(b['by_time']['root_causes_pct'])}")
    t.check(b["requests"] > 0, f"{name}: {key} band has requests", fatal=True)
    return b


def check_matched(t, name, s, ours, truth, need=0.999):
    matched = sum(1 for r in truth
                  if ours.get((r["client"], r["corr"]), {}).get("attrib") == "matched")
    reasons = collections.Counter(k.get("attrib") for k in ours.values())
    t.check(matched >= need * len(truth),
            f"{name}: {matched}/{len(truth)} produce requests matched (>= {need:.1%}; "
            f"{dict(reasons)}; summary unmatched {s['attribution']['unmatched']})")
    return matched


def top_labels(pairs):
    return collections.Counter((k["top_phase"], k["top_cause"]) for k, _ in pairs).most_common(6)


# -- accuracy -----------------------------------------------------------------

def accuracy(t, io):
    name = f"accuracy-{io}"
    print(f"-- {name}: 1 producer, 2000 msg/s, 5 s")
    s, ours, truth, _ = scenario(t, name, io=io, fifo=FIFO, rate=2000, secs=5)
    check_matched(t, name, s, ours, truth)
    n = joint = tids = 0
    within = collections.Counter()
    wrong = collections.defaultdict(list)
    lag = collections.defaultdict(list)
    joint_at = collections.Counter()
    for r in truth:
        k = ours.get((r["client"], r["corr"]))
        if not k or k.get("attrib") != "matched":
            continue
        n += 1
        tid_ok = k["handler_tid"] == r["handler_tid"]
        tids += tid_ok
        worst = 0
        for bname, field, stamp, side in BOUNDARIES:
            d = k[field] - stamp(r)
            within[bname] += abs(d) <= TOL_NS
            worst = max(worst, abs(d))
            lag[bname].append(d * side)
            if d * side < -SLACK_NS:
                wrong[bname].append(d // 1000)
        joint += tid_ok and worst <= TOL_NS
        for tol in (100, 150):
            joint_at[tol] += tid_ok and worst <= tol * 1000
    t.check(n > 0, f"{name}: matched requests to compare", fatal=True)
    t.check(tids >= 0.999 * n,
            f"{name}: handler tid == the truth's for {tids}/{n} ({100 * tids / n:.2f}%, >= 99.9%)")
    nwrong = sum(len(v) for v in wrong.values())
    t.check(nwrong <= 0.001 * n,
            f"{name}: boundaries on the wrong side of the broker's stamp by > "
            f"{SLACK_NS // 1000} us: {nwrong} (<= 0.1% of {n}; {dict(wrong) if wrong else ''})")
    for bname, *_ in BOUNDARIES:
        v = sorted(lag[bname])
        info(f"{name}: {bname:12s} within 50 us {100 * within[bname] / n:6.2f}%; broker's lag "
             f"p50 {v[n // 2] / 1e3:.1f} p99 {v[int(n * 0.99)] / 1e3:.1f} "
             f"max {v[-1] / 1e3:.0f} us")
        # measured 96.9-100% per boundary (t_read and t_dequeue the lowest,
        # while other users of this VM were busy); the dequeue derivation's
        # flaw this test found (a queue-lock re-take missed) gave 88-94%
        t.check(within[bname] >= 0.96 * n,
                f"{name}: {bname} within 50 us of the truth for {within[bname]}/{n} (>= 96%)")
    pct = 100 * joint / n
    info(f"{name}: handler and all 7 boundaries within 50 us: {joint}/{n} = {pct:.2f}% "
         f"(issue target 99%: {'met' if pct >= 99 else 'not met'}); within 100 us "
         f"{100 * joint_at[100] / n:.2f}%, 150 us {100 * joint_at[150] / n:.2f}%")
    # measured 92.8-99.9% with a SCHED_FIFO broker (89-99.8% at nice -15):
    # every miss is the broker's stamp late (a tick, an interrupt or another
    # VM user's softirq in its context, kafkalat's own exit work), never
    # kafkalat on the wrong side; most misses are within 150 us
    t.check(pct >= 90, f"{name}: handler and every boundary within 50 us for {pct:.2f}% "
                       f"(>= 90% on this shared VM)")
    t.check(joint_at[150] >= 0.98 * n,
            f"{name}: ... within 150 us for {100 * joint_at[150] / n:.2f}% (>= 98%; measured "
            f"98.4-100%)")


# -- provoked tails -------------------------------------------------------------

def check_band_clean(t, name, b, allowed, bound):
    """The causes a scenario does not provoke stay under bound percent."""
    for c in FAULT_CAUSES:
        if c in allowed:
            continue
        t.check(b["causes_pct"].get(c, 0) <= bound,
                f"{name}: ge_p99 {c} {b['causes_pct'].get(c, 0):.1f}% <= {bound}%")


def lock_hold(t):
    name = "lock-hold"
    print(f"-- {name}: --inject-lock-hold 20:500, 8 producers x 250 msg/s on partition 0, 4 s")
    s, ours, truth, stacks = scenario(t, name, "--inject-lock-hold", f"{HOLD_MS}:500", nprod=8,
                                      rate=250, secs=4, partitions=1, fifo=FIFO)
    check_matched(t, name, s, ours, truth)
    b = band(t, name, s)
    for view, sh in (("mean", b), ("by time", b.get("by_time", b))):
        t.eq(largest(sh["phases_pct"]), "lock", f"{name}: ge_p99 largest phase ({view})")
        t.eq(largest(sh["causes_pct"]), "futex", f"{name}: ge_p99 largest cause ({view})")
    # measured lock 78-80%, futex 78-80%, other (the holders' sleep) 17-20%
    t.check(b["phases_pct"]["lock"] >= 50 and b["causes_pct"]["futex"] >= 50,
            f"{name}: ge_p99 lock {b['phases_pct']['lock']:.1f}%, futex "
            f"{b['causes_pct']['futex']:.1f}% (>= 50% each)")
    check_band_clean(t, name, b, ("futex", "other"), 2)
    # run-queue time is real here: it grows with other users of the VM
    t.check(b["causes_pct"]["runq"] <= 25,
            f"{name}: ge_p99 runq {b['causes_pct']['runq']:.1f}% <= 25% (measured 0.7-1.7%, "
            f"10% while another broker ran on this VM)")
    tops = {(st["cause"], st["frame"]) for st in s["top_stacks"]}
    info(f"{name}: top stacks "
         f"{[(st['cause'], st['frame'], st['requests']) for st in s['top_stacks'][:4]]}, "
         f"{len(stacks)} folded stacks")
    t.check(any(c == "futex" for c, _ in tops), f"{name}: a futex stack among the top stacks")

    # one by one: the holders and the requests that waited for the lock
    holders = [(ours[(r["client"], r["corr"])], r) for r in truth
               if any("lock_hold" in (p.get("inject") or []) for p in r["partitions"])]
    waiters = [(ours[(r["client"], r["corr"])], r) for r in truth
               if r["partitions"][0]["lock_ns"] - r["t_dequeue_ns"] >= 2_000_000]
    t.check(len(holders) >= 5 and len(waiters) >= 2 * len(holders),
            f"{name}: {len(holders)} lock holders, {len(waiters)} requests waited >= 2 ms "
            f"for the lock (truth)", fatal=True)
    # equal batches on one partition: when several handlers wrote the same
    # size, the handler is the one that handed its response over first
    # (design.md, "Handler"); measured 0-2 swaps in 8000 requests, 2 of them
    # once a holder's (while another user's broker loaded this VM)
    swaps = sum(1 for r in truth if ours[(r["client"], r["corr"])]["handler_tid"]
                != r["handler_tid"])
    t.check(swaps <= 0.005 * len(truth),
            f"{name}: handler tid != the truth's for {swaps}/{len(truth)} (<= 0.5%; "
            f"{s['attribution']['handler_by_time_order']} ties resolved)")
    bad = [(k["corr"], k["top_phase"], k["top_cause"], k["handler_tid"] == r["handler_tid"])
           for k, r in holders
           if k["top_phase"] != "append" or not k["top_cause"].startswith("other:")
           or "nanosleep" not in k["top_cause"]]
    t.check(len(bad) <= max(1, 0.1 * len(holders)),
            f"{name}: holders whose top is append / other:*nanosleep: "
            f"{len(holders) - len(bad)}/{len(holders)} (all but a swapped one)" +
            (f" (not: {bad[:4]}; (corr, phase, cause, handler right))" if bad else ""))
    # its append ends after the hold: kafkalat's end is when the sleeper is
    # back on CPU, the broker's stamp once back in user space (10-290 us later
    # measured: the rest of the nanosleep syscall, kafkalat's exit work, a
    # tick, a preemption right after the wake-up)
    lag = sorted((r["partitions"][-1]["append_end_ns"] - k["t_append_end_ns"]) / 1e3
                 for k, r in holders)
    info(f"{name}: holders' append end, the broker's lag (us): {[round(x) for x in lag]}")
    inside = sum(1 for k, r in holders
                 if k["t_append_end_ns"] - r["partitions"][0]["append_start_ns"] >= HOLD_MS * 1e6
                 and k["t_append_end_ns"] <= r["partitions"][-1]["append_end_ns"] + SLACK_NS)
    t.check(inside >= len(holders) - max(1, 0.1 * len(holders)),
            f"{name}: holders whose append (kafkalat) holds the {HOLD_MS} ms sleep and ends "
            f"no later than the truth's: {inside}/{len(holders)} (all but a swapped one)")
    # the waiters' lock phase is the truth's and its wait is futex (or the
    # run queue once woken); their top label is lock / futex unless CPU
    # contention after the lock outweighs it (then the truth's largest phase
    # is not lock either: checked below). Measured: all waiters on a quiet VM;
    # 8 of ~100 off while another user's broker loaded it (truth stamps late
    # by 1 ms, waits that were CPU contention rather than the lock)
    off = [(k["corr"], round(k["phases_us"]["lock"]), round(truth_phases(r)["lock"] / 1e3),
            round(k["causes_us"].get("futex", 0) + k["causes_us"].get("runq", 0)),
            round((r["partitions"][0]["lock_ns"] - r["t_dequeue_ns"]) / 1e3))
           for k, r in waiters
           if abs(k["phases_us"]["lock"] * 1e3 - truth_phases(r)["lock"])
           > 0.02 * truth_phases(r)["lock"] + 100_000
           or (k["causes_us"].get("futex", 0) + k["causes_us"].get("runq", 0)) * 1e3
           < 0.95 * (r["partitions"][0]["lock_ns"] - r["t_dequeue_ns"])]
    t.check(len(off) <= 0.1 * len(waiters),
            f"{name}: waiters whose lock phase is the truth's (2% + 100 us) and whose futex + "
            f"runq time covers >= 95% of the truth's lock wait: {len(waiters) - len(off)}/"
            f"{len(waiters)} (>= 90%)" + (f"; not (corr, lock us kafkalat/truth, futex+runq "
                                          f"us, truth's wait us): {off[:4]}" if off else ""))
    ok = sum(1 for k, _ in waiters if (k["top_phase"], k["top_cause"]) == ("lock", "futex"))
    info(f"{name}: waiters labelled {top_labels(waiters)}")
    t.check(ok >= 0.85 * len(waiters),
            f"{name}: {ok}/{len(waiters)} waiters are lock / futex (>= 85%; measured 92-100%)")
    p99, slow = slow_pairs(ours, truth)
    agree = sum(1 for k, r in slow if largest_phase(k["phases_us"]) == largest(truth_phases(r)))
    info(f"{name}: >= p99 ({p99:.0f} us) labelled {top_labels(slow)}")
    t.check(agree >= 0.9 * len(slow),
            f"{name}: >= p99 requests whose largest phase is the truth's: {agree}/{len(slow)} "
            f"(>= 90%; measured 100%)")


class LoopDisk:
    """An ext4 file system with a journal on a loop device over an image in the
    test's directory; gone again after close() on every path."""

    def __init__(self, t):
        self.t, self.dev, self.mnt = t, None, None
        self.img = t.path("ext4.img")

    def open(self):
        t = self.t
        with open(self.img, "wb") as f:
            f.truncate(256 << 20)
        r = subprocess.run(["mkfs.ext4", "-q", "-F", "-E",
                            "lazy_itable_init=0,lazy_journal_init=0", self.img],
                           capture_output=True, text=True)
        t.check(r.returncode == 0, f"mkfs.ext4 ({r.stderr.strip()[-200:]!r})", fatal=True)
        r = subprocess.run(["dumpe2fs", "-h", self.img], capture_output=True, text=True)
        t.check("has_journal" in r.stdout, "the image's ext4 has a journal", fatal=True)
        r = subprocess.run(["losetup", "--find", "--show", self.img], capture_output=True,
                           text=True)
        t.check(r.returncode == 0, f"losetup ({r.stderr.strip()!r})", fatal=True)
        self.dev = r.stdout.strip()
        mnt = t.path("ext4")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "ext4", self.dev, mnt], capture_output=True, text=True)
        t.check(r.returncode == 0, f"mount {self.dev} ({r.stderr.strip()!r})", fatal=True)
        self.mnt = mnt
        st = os.stat(self.dev)
        self.majmin = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        info(f"ext4 with a journal on {self.dev} ({self.majmin}) at {mnt}")
        return mnt

    def close(self):
        # the broker must be gone first (its segment files keep the mount busy)
        for p in self.t.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.mnt:
            for _ in range(20):
                if subprocess.run(["umount", self.mnt], capture_output=True).returncode == 0:
                    break
                time.sleep(0.25)
        if self.dev:
            subprocess.run(["losetup", "-d", self.dev], capture_output=True)
        left = subprocess.run(["losetup", "-j", self.img], capture_output=True,
                              text=True).stdout.strip()
        with open("/proc/mounts") as f:
            mounted = [m for m in f.read().splitlines() if self.img in m or
                       (self.mnt and f" {self.mnt} " in m)]
        self.t.eq((left, mounted), ("", []), "loop device and mount removed")


def fsync_disk(t):
    name = "fsync"
    print(f"-- {name}: --inject-fsync-every 1 on a loop-mounted ext4, 1 producer x 500 msg/s, 3 s")
    disk = LoopDisk(t)
    try:
        mnt = disk.open()
        s, ours, truth, stacks = scenario(t, name, "--inject-fsync-every", 1,
                                          logdir=os.path.join(mnt, "log"), rate=500, secs=3,
                                          fifo=FIFO)
    finally:
        disk.close()
    check_matched(t, name, s, ours, truth)
    b = band(t, name, s)
    bt = b["by_time"]
    # The producer pipelines: the requests behind a stalled fsync wait in the
    # socket (head-of-line), and those waits are the tail's bulk; counted as
    # the cause of the request they waited behind, the disk is the root.
    for view, sh in (("mean", b), ("by time", bt)):
        t.eq(largest_phase(sh["phases_pct"]), "append",
             f"{name}: ge_p99 largest of the broker's phases ({view})")
    root = largest(bt["root_causes_pct"])
    t.check(root in ("journal", "blkio"),
            f"{name}: ge_p99 largest root cause (by time) {root} is journal or blkio")
    broker = sum(b["phases_pct"][p] for p in BROKER_PHASES)
    append = 100 * b["phases_pct"]["append"] / broker if broker else 0
    disk_pct = sum(bt["root_causes_pct"].get(c, 0) for c in DISK_CAUSES)
    # measured (broker phases only) append 80-97%, journal 62-91% + writeback
    # 2-9% (the rest: ext4's own CPU work, the broker preempted on CPU 0 by
    # the loop device's kworker); root causes by time 95-98% disk
    t.check(append >= 65 and disk_pct >= 50,
            f"{name}: ge_p99 append {append:.1f}% of the broker's phases (>= 65%), disk root "
            f"causes {disk_pct:.1f}% (>= 50%)")
    check_band_clean(t, name, b, DISK_CAUSES, 2)
    j = s["journal"]
    info(f"{name}: journal summary {j}")
    t.eq(j.get("commit_device"), disk.majmin,
         f"{name}: the journal commits are on our loop device")
    t.check(j["commits"] >= 1 and j["requests_with_commit"] >= 1,
            f"{name}: >= p99.9 requests overlap a commit ({j['requests_with_commit']}/"
            f"{j['requests']}, {j['commits']} commits)")
    info(f"{name}: {len(stacks)} folded stacks, e.g. {stacks[0][-160:] if stacks else None!r}")
    t.check(any("jbd2" in ln or "io_schedule" in ln for ln in stacks),
            f"{name}: the folded stacks hold a journal or I/O wait")
    synced = [(ours[(r["client"], r["corr"])], r) for r in truth
              if any("fsync" in (p.get("inject") or []) for p in r["partitions"])]
    t.eq(len(synced), len(truth), f"{name}: every request fsynced (truth)")
    lag = [r["partitions"][-1]["append_end_ns"] - k["t_append_end_ns"] for k, r in synced]
    near = sum(1 for x in lag if -SLACK_NS <= x <= TOL_NS)
    t.check(min(lag) >= -SLACK_NS and near >= 0.95 * len(synced),
            f"{name}: append end (after the fsync) never later than the truth's, within 50 us "
            f"for {near}/{len(synced)} (>= 95%; measured 96.6-99.8%)")
    p99, slow = slow_pairs(ours, truth)
    info(f"{name}: >= p99 ({p99:.0f} us) labelled {top_labels(slow)}")
    # one by one: the largest phase is the truth's (a single request's top
    # cause may be CPU, ext4's own fsync work, or the run queue, the loop
    # device's kworker on the broker's CPU: the band says disk). The truth's
    # phases carry its stamps' lag: once a read stamp 3 ms late made "queue"
    # the truth's largest phase of a request short in the truth
    agree = sum(1 for k, r in slow if largest_phase(k["phases_us"]) == largest(truth_phases(r)))
    app = sum(1 for k, _ in slow if largest_phase(k["phases_us"]) == "append")
    t.check(agree >= 0.85 * len(slow) and app >= 0.8 * len(slow),
            f"{name}: >= p99 requests whose largest phase is the truth's: {agree}/{len(slow)} "
            f"(>= 85%), is append: {app} (>= 80%)")


def cpu_hog(t):
    name = "cpu-hog"
    print(f"-- {name}: --cpu-hog (nice -10, on the handlers' CPU), 1 producer x 1000 msg/s, 4 s")
    s, ours, truth, _ = scenario(t, name, "--cpu-hog", rate=1000, secs=4)
    check_matched(t, name, s, ours, truth)
    b = band(t, name, s)
    t.eq(largest(b["causes_pct"]), "runq", f"{name}: ge_p99 largest cause (mean)")
    t.eq(largest(b["by_time"]["root_causes_pct"]), "runq",
         f"{name}: ge_p99 largest root cause (by time)")
    # the network thread preempted while it holds the request queue's lock,
    # handlers preempted before the hand-off, and the requests behind them
    # waiting in the socket. Weighed by time, with those waits shared out as
    # the causes of the requests they waited behind (which also ran on the
    # starved CPU: cpu 27-46%), the run queue is the largest root cause:
    # 53-72% measured over 4 runs (83-88% of the broker latency's band).
    # The mean share counts the band's many short requests, which on a shared
    # 2-vCPU VM are often only CPU-bound: 43-87% measured over 17 runs.
    bt = b["by_time"]["root_causes_pct"]["runq"]
    t.check(bt >= 40, f"{name}: ge_p99 runq by time, root causes {bt:.1f}% (>= 40%)")
    t.check(b["causes_pct"]["runq"] >= 35,
            f"{name}: ge_p99 runq {b['causes_pct']['runq']:.1f}% (>= 35%)")
    check_band_clean(t, name, b, (), 2)
    p99, slow = slow_pairs(ours, truth)
    info(f"{name}: >= p99 ({p99:.0f} us) labelled {top_labels(slow)}")
    agree = sum(1 for k, r in slow if largest_phase(k["phases_us"]) == largest(truth_phases(r)))
    t.check(agree >= 0.8 * len(slow),
            f"{name}: >= p99 requests whose largest phase is the truth's: {agree}/{len(slow)} "
            f"(>= 80%; measured 89-100%)")


def no_fault(t):
    name = "no-fault"
    print(f"-- {name}: 4 producers x 500 msg/s over 4 partitions, 4 s")
    s, ours, truth, _ = scenario(t, name, nprod=4, rate=500, secs=4, fifo=FIFO)
    check_matched(t, name, s, ours, truth)
    b = band(t, name, s)
    t.check(largest(b["causes_pct"]) in ("cpu", "runq"),
            f"{name}: ge_p99 largest cause {largest(b['causes_pct'])} is cpu or runq")
    # measured: futex <= 1.0%, the rest 0 (the log is on the root fs: page cache only)
    check_band_clean(t, name, b, (), 5)
    p99, slow = slow_pairs(ours, truth)
    agree = sum(1 for k, r in slow if largest_phase(k["phases_us"]) == largest(truth_phases(r)))
    info(f"{name}: >= p99 ({p99:.0f} us) labelled {top_labels(slow)}; largest phase the "
         f"truth's for {agree}/{len(slow)}")


def test(t):
    if os.cpu_count() < 2:
        raise Failure("needs 2 CPUs: the broker on CPU 0, the rest on CPU 1")
    for tool in ("taskset", "chrt", "mkfs.ext4", "dumpe2fs", "losetup"):
        t.check(subprocess.run(["sh", "-c", f"command -v {tool}"],
                               capture_output=True).returncode == 0, f"{tool} present", fatal=True)
    os.sched_setaffinity(0, {1})  # kafkalat and the producers, inherited
    global FIFO
    FIFO = can_fifo()
    info(f"the broker runs on CPU 0 "
         f"{'under SCHED_FIFO' if FIFO else 'at nice -15 (no SCHED_FIFO here)'}, "
         f"with --cpu-hog at nice -15")
    for io in ("jvm", "chunked"):
        accuracy(t, io)
    lock_hold(t)
    fsync_disk(t)
    cpu_hog(t)
    no_fault(t)


if __name__ == "__main__":
    main(test)

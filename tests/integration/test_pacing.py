#!/usr/bin/python3
"""kafkalat gives way to the broker while its rings have room: its reading
thread runs at nice 19 (--nice), so a burst of its work does not hold up a
broker or client thread waking on that CPU. When the kernel side wakes it
early, because a ring passed a quarter full, it takes its starting niceness
back at once and keeps up: nothing is lost. Here it is stopped (SIGSTOP) for
a while under load so that its causes ring fills past a quarter, then let go."""
import os
import signal
import time

from lib import check_summary_clean, main

RATE = 5000
# At 5000 requests/s the rings take about 1.7 MB/s (causes, 4 MiB) and 3 MB/s
# (sockets, 8 MiB), measured here: a second stopped passes a quarter of the
# causes ring (1 MiB) with room to spare before either is full.
STOP_S = 1.0


def nice_of(pid):
    """The niceness of pid's main thread (the reader), from /proc."""
    with open(f"/proc/{pid}/task/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[16])  # field 19 of stat; fields[0] is field 3


def wait_for_nice(pid, want, timeout):
    """Samples every 2 ms until pid runs at want; returns (seen, seconds)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if nice_of(pid) == want:
            return True, time.monotonic() - t0
        time.sleep(0.002)
    return False, timeout


def test(t):
    base = os.getpriority(os.PRIO_PROCESS, 0)
    broker, port, _ = t.refbroker()
    boot = f"127.0.0.1:{port}"
    t.load(boot, "-t", "pace", "--count", "200", messages=False)  # topic and segments

    # calm: the reader gives way
    k = t.kafkalat(broker.pid, [port])
    seen, _ = wait_for_nice(k.pid, 19, 2)
    t.check(seen, f"idle: kafkalat's reader runs at nice 19 (started at {base})")

    # pressure: stopped under load, a ring passes a quarter
    load = t.spawn([os.environ.get("OUT", "build") + "/kafkalat", "load", "-b", boot, "-t",
                    "pace", "--rate", RATE, "-d", "4", "-X", "linger.ms=0", "--json", "-q"],
                   "pressure-load")
    time.sleep(1)
    os.kill(k.pid, signal.SIGSTOP)
    time.sleep(STOP_S)
    os.kill(k.pid, signal.SIGCONT)
    seen, after = wait_for_nice(k.pid, base, 0.5)
    t.check(seen, f"woken by a filling ring, it returned to nice {base} "
            f"({after * 1000:.0f} ms after SIGCONT)")
    seen, after = wait_for_nice(k.pid, 19, 3)
    t.check(seen, f"then it gave way again, after a run of quiet polls ({after * 1000:.0f} ms)")
    t.eq(t.wait(load, 30), 0, "the load's exit status")
    s, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, s)
    t.eq(s["lost_events"], 0, "socket events lost")
    t.eq(s["attribution"]["lost_events"], 0, "cause events lost")
    t.check(len(reqs) >= RATE * 3, f"requests seen under pressure: {len(reqs)}")

    # --nice at the starting niceness turns the pacing off
    k = t.kafkalat(broker.pid, [port], "--nice", str(base))
    time.sleep(0.3)
    t.eq(nice_of(k.pid), base, "--nice at the starting niceness: the reader stays there")
    t.stop_kafkalat(k)


if __name__ == "__main__":
    main(test)

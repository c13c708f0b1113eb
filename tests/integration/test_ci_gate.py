#!/usr/bin/python3
"""scripts/ci-gate.sh, the CI perf gate example (issue 13): against the
reference broker, `--update` stores 4 recordings of a fixed load as the
baseline; the same broker setup then passes (exit 0), and a broker whose
append phase sleeps longer in the same 2% of the requests fails the gate
(exit 1) with compare's verdict naming the append phase. Broker and load
run under SCHED_FIFO, as test_compare.py explains."""
# timeout: 240
import os
import subprocess

from lib import KAFKALAT, ROOT, main

GATE = os.path.join(ROOT, "scripts", "ci-gate.sh")
EVERY = 50


def broker(t, name, ms):
    logdir = t.path(name + "-log")
    os.mkdir(logdir)
    p, port = t._start_refbroker(["taskset", "-c", "0", "chrt", "-f", "10"], name,
                                 "--log-dir", logdir, "--partitions", 4,
                                 "--inject-sleep", f"append:{ms}:{EVERY}")
    return p, port


def gate(t, port, *args):
    env = dict(os.environ, KAFKALAT=KAFKALAT)
    p = subprocess.run(["chrt", "-f", "5", GATE, "-b", f"127.0.0.1:{port}", "-P", str(port),
                        "--baseline", t.path("baseline"), "--runs", "4", "--seconds", "2",
                        "--rate", "1000", "--gate", "latency.p99=+10%", *args],
                       capture_output=True, text=True, timeout=180, env=env)
    return p.returncode, p.stdout, p.stderr


def test(t):
    b1, port1 = broker(t, "base", 2)
    rc, out, err = gate(t, port1, "--update", "--out", t.path("first"))
    t.eq(rc, 0, f"--update stores the baseline (stderr {err.strip()[-200:]!r})", fatal=True)
    t.eq(len([f for f in os.listdir(t.path("baseline")) if f.endswith(".data")]), 4,
         "4 baseline recordings")
    rc, out, err = gate(t, port1, "--out", t.path("same"))
    t.eq(rc, 0, f"the same setup passes the gate ({out.strip().splitlines()[-1:]!r})")
    t.check("ci-gate: pass" in err, "and says so")
    b1.kill()
    b1.wait()
    b2, port2 = broker(t, "slower", 3)
    rc, out, err = gate(t, port2, "--out", t.path("slower"))
    t.eq(rc, 1, "a slower append fails the gate")
    t.check("REGRESSION" in err and "append" in out,
            f"naming the append phase ({out.strip().splitlines()[-1:]!r})")
    rc, _, err = gate(t, port2, "--runs", "x")
    t.eq(rc, 2, "a bad option is an error (exit 2)")


if __name__ == "__main__":
    main(test)

#!/usr/bin/python3
"""scripts/fs-compare.sh (issue 4, item 4): bad arguments and a missing root
end in one line; a short run over ext4, ext4-fc and XFS prints one JSON
object whose figures agree with each other (requests counted by kafkalat's
summary and its --requests lines, every message delivered, ordered
quantiles, shares in [0, 1], ext4 as the base of the comparison, ext4-fc
run or skipped with its reason); a SIGTERM during a load ends the script with
143. Both runs leave nothing behind: no loop device, mount or file under the
FSCOMPARE_TMPDIR they were given, no process of theirs."""
import json
import os
import signal
import subprocess
import tempfile
import time

from lib import ROOT, main

SCRIPT = os.path.join(ROOT, "scripts", "fs-compare.sh")


def ours_left(t, base, what):
    with open("/proc/mounts") as f:
        mnts = [m for m in f.read().splitlines() if base in m]
    loops = [ln for ln in subprocess.run(["losetup", "-a"], capture_output=True, text=True,
                                         check=True).stdout.splitlines() if base in ln]
    t.eq(mnts, [], f"{what}: mounts under {base}")
    t.eq(loops, [], f"{what}: loop devices on images under {base}")
    t.eq(sorted(os.listdir(base)), [], f"{what}: files left in {base}")


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test(t):
    # arguments and root: one line on stderr, exit 1
    for args, want in ((["--seconds", "0"], "--seconds"), (["--fs", "ext5"], "unknown variant"),
                       (["--slo-ms", "x"], "--slo-ms"), (["--bogus"], "unknown argument")):
        r = subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=10)
        t.check(r.returncode == 1 and len(r.stderr.splitlines()) == 1 and want in r.stderr,
                f"{' '.join(args)}: exit {r.returncode}, one line: {r.stderr.strip()!r}")
    r = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                        "bash", SCRIPT], capture_output=True, text=True, timeout=10)
    t.check(r.returncode == 1 and "root" in r.stderr and len(r.stderr.splitlines()) == 1,
            f"not root: exit {r.returncode}, {r.stderr.strip()!r}")

    # a short run, all of its files under our FSCOMPARE_TMPDIR (on disk, not
    # tmpfs: the loop devices use direct I/O)
    base = tempfile.mkdtemp(prefix="kafkalat-it-fscompare-", dir="/var/tmp")
    try:
        runs(t, base)
    finally:
        # a script still running (a failed check, run.sh's timeout) gets
        # SIGTERM, not lib's SIGKILL, so that its trap removes the disk
        for p in t.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(40)
                except subprocess.TimeoutExpired:
                    pass
        try:
            os.rmdir(base)  # empty unless the script failed to clean up: then kept
        except OSError as e:
            print(f"  FAIL {base} left behind: {e}")
            t.failed += 1


def runs(t, base):
    env = dict(os.environ, FSCOMPARE_TMPDIR=base)
    secs, rate = 6, 1000
    t0 = time.monotonic()
    p = t.spawn([SCRIPT, "--seconds", secs, "--rate", rate, "--fs", "ext4 ext4-fc xfs",
                 "--json"], "fscompare", env=env)
    rc = t.wait(p, 50)
    out, err = t.output(p)
    t.eq(rc, 0, f"exit status after {time.monotonic() - t0:.1f} s (stderr {err.strip()[-300:]!r})",
         fatal=True)
    res = json.loads(out.strip().splitlines()[-1])
    t.eq(res.get("schema"), "kafkalat-fscompare/1", "schema")
    vs = {v["variant"]: v for v in res["variants"]}
    t.eq(sorted(vs), ["ext4", "ext4-fc", "xfs"], "variants", fatal=True)
    fc = vs["ext4-fc"]
    if "skipped" in fc:
        t.check("fast_commit" in fc["skipped"] and "ext4-fc: skipped" in err,
                f"ext4-fc skipped with its reason printed: {fc['skipped']!r}")
    for name, v in vs.items():
        if "skipped" in v:
            continue
        b, c = v["broker"], v["client"]
        t.check(b["requests"] >= 0.8 * secs * rate,
                f"{name}: {b['requests']} produce requests seen (>= 80% of {secs * rate})")
        t.eq(b["request_lines"], b["requests"], f"{name}: --requests lines = summary requests")
        t.eq((c["delivered"], c["failed"]), (c["messages"], 0), f"{name}: all messages delivered")
        t.eq((b["lost_events"], b["unmatched"]), (0, 0), f"{name}: lost events, unmatched")
        q = [b["p50_us"], b["p99_us"], b["p999_us"], b["max_us"]]
        t.check(0 < q[0] <= q[1] <= q[2] <= q[3], f"{name}: p50 <= p99 <= p999 <= max: {q}")
        for what, side in (("broker", b), ("client", c)):
            t.check(0 <= side["over_slo_share"] <= 1, f"{name}: {what} share over the SLO "
                    f"{side['over_slo_share']:.4f} ({side['over_slo']})")
        t.check(v["causes"] is None or isinstance(v["causes"], list), f"{name}: causes {v['causes']}")
        print(f"  info {name}: broker p99 {b['p99_us']} us, >SLO {b['over_slo']}; "
              f"client p99 {c['p99_us']} us, >SLO {c['over_slo']}")
    t.check(all(x in (None, 0.0) for x in vs["ext4"]["vs_ext4_over_slo_pct"].values()),
            f"ext4 is the base: {vs['ext4']['vs_ext4_over_slo_pct']}")
    ours_left(t, base, "after a run")

    # SIGTERM during the first load: exit 143, everything removed
    p = t.spawn([SCRIPT, "--seconds", 30, "--fs", "ext4"], "fscompare-term", env=env)
    deadline = time.monotonic() + 30
    while "load" not in t.output(p)[1] and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.1)
    time.sleep(1)
    kids = children_of(p.pid)
    t.check(len(kids) >= 3, f"broker, pressure, tracer and load running: {len(kids)} children")
    p.send_signal(signal.SIGTERM)
    rc = t.wait(p, 30)
    t.eq(rc, 143, "exit status after SIGTERM during the load")
    t.eq([k for k in kids if os.path.exists(f"/proc/{k}")], [], "its processes are gone")
    ours_left(t, base, "after SIGTERM")


if __name__ == "__main__":
    main(test)

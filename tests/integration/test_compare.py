#!/usr/bin/python3
"""kafkalat compare on real recordings of the reference broker.

A/A: 10 recordings of one fixed-rate load (~8 s each, 1 s intervals),
compared pairwise (45 pairs): at most one regression verdict; the false-alarm
rate is printed. A/B: the same broker setup with a sleep injected in the
append phase of ~2% of the requests, calibrated from the A/A recordings to
raise p99 by about 50%: exit 1, the verdict naming latency.p99 and the
append phase.

Every request waits ~2 ms for its (simulated) followers (acks all,
--replica-delay-ms 2), so p99 is a few ms and a whole-millisecond sleep can
raise it by about half, not tenfold.
"""
# timeout: 300
import itertools
import json
import os
import signal
import subprocess
import time

from lib import KAFKALAT, Failure, main

RECORDINGS = 10
SECONDS = 8
RATE = 2000  # msg/s: 16000 requests a recording, 16 above p99.9
LOAD_ARGS = ["--rate", RATE, "--acks", "all", "-X", "linger.ms=0",
             "-X", "max.in.flight=20"]
BROKER_ARGS = ["--replica-delay-ms", "2"]
EVERY = 50  # the injected sleep hits 2% of the requests: p99 lands among them


def record_argv(pid, port, path):
    """kafkalat record's command line: 1 s intervals into path."""
    return [KAFKALAT, "record", "-p", pid, "-P", port, "-I", "1", "-o", path]


def record(t, broker, port, boot, name):
    """Records SECONDS of the fixed-rate load; returns the file's path."""
    path = t.path(name + ".data")
    p = t.spawn(record_argv(broker.pid, port, path), name)
    t0 = time.monotonic()
    while not os.path.exists(path) or not any(w in t.output(p)[1]
                                              for w in ("Tracing", "Recording")):
        if p.poll() is not None:
            raise Failure(f"{name}: kafkalat record exited {p.returncode}: "
                          f"{t.output(p)[1].strip()[-300:]}")
        if time.monotonic() - t0 > 10:
            raise Failure(f"{name}: kafkalat record did not start within 10 s")
        time.sleep(0.05)
    t.load(boot, "-t", "cmp", "-d", SECONDS, *LOAD_ARGS, name=name + "-load", messages=False)
    p.send_signal(signal.SIGINT)
    rc = t.wait(p, 20)
    if rc != 0:
        raise Failure(f"{name}: kafkalat record exit {rc}: {t.output(p)[1].strip()[-300:]}")
    return path


def compare(t, base, new, *args):
    """kafkalat compare -j: (exit status, JSON result or None)."""
    p = subprocess.run([KAFKALAT, "compare", "-j", *args, *base, "--", *new],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    if p.returncode == 2:
        raise Failure(f"kafkalat compare failed: {p.stderr.strip()}")
    return p.returncode, json.loads(p.stdout)


def metric(res, name):
    return next(m for m in res["metrics"] if m["metric"] == name)


def recordings(t, name, *broker_args):
    broker, port, _ = t.refbroker(*BROKER_ARGS, *broker_args, name=name)
    boot = f"127.0.0.1:{port}"
    t.load(boot, "-t", "cmp", "--count", "200", "--acks", "all", name=name + "-warm",
           messages=False)
    return broker, port, boot


def aa(t):
    broker, port, boot = recordings(t, "aa")
    paths = [record(t, broker, port, boot, f"aa{i}") for i in range(RECORDINGS)]
    exits = {}
    for a, b in itertools.combinations(range(RECORDINGS), 2):
        rc, _ = compare(t, [paths[a]], [paths[b]])
        exits[rc] = exits.get(rc, 0) + 1
    pairs = sum(exits.values())
    print(f"  info A/A: {pairs} pairs, exits {dict(sorted(exits.items()))}: "
          f"false-alarm rate {100.0 * exits.get(1, 0) / pairs:.1f}%")
    t.check(exits.get(1, 0) <= 1, f"A/A: at most 1 regression verdict in {pairs} pairs")
    t.check(exits.get(0, 0) >= pairs // 2, "A/A: most pairs conclusive and passing")
    broker.send_signal(signal.SIGTERM)
    t.wait(broker, 20)
    return paths


def ab(t, base_paths):
    _, res = compare(t, base_paths[:1], base_paths[1:2])
    lat = metric(res, "latency.p99")
    p50, p99 = metric(res, "latency.p50")["base"], lat["base"]
    # the ~2% slept requests hold p99: each takes about p50 + MS
    ms = max(1, round((1.5 * p99 - p50) / 1e6))
    print(f"  info baseline p50 {p50 / 1e6:.2f} ms, p99 {p99 / 1e6:.2f} ms: "
          f"append sleep {ms} ms every {EVERY}")
    broker, port, boot = recordings(t, "ab", "--inject-sleep", f"append:{ms}:{EVERY}")
    new = record(t, broker, port, boot, "ab0")
    rc, res = compare(t, base_paths[:1], [new])
    lat = metric(res, "latency.p99")
    print(f"  info A/B: latency.p99 {lat['base'] / 1e6:.2f} -> {lat['new'] / 1e6:.2f} ms, "
          f"{lat['change']:+.1f}% [{lat['lo']:+.1f}%, {lat['hi']:+.1f}%]; {res['verdict']}")
    t.eq(rc, 1, "A/B: exit status (regression)")
    t.eq(lat["verdict"], "REGRESSED", "A/B: latency.p99's verdict")
    t.check("phase append" in res["verdict"], f"A/B: the verdict names append: {res['verdict']}")
    t.eq(res["grew_phase"], "phase.append.p99", "A/B: the phase growing most")


def usage_errors(t):
    """Bad input: exit 2 and one line on stderr, nothing on stdout."""
    missing = t.path("missing.data")
    for args, what in (([missing, "--", missing], "a missing file"),
                       ([missing], "no --"),
                       (["--gate", "latency.p98=+10%", missing, "--", missing], "a bad gate"),
                       (["--seed", "x", missing, "--", missing], "a bad seed")):
        p = subprocess.run([KAFKALAT, "compare", *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
        err = p.stderr.strip().splitlines()
        t.check(p.returncode == 2 and len(err) == 1 and err[0].startswith("kafkalat compare: ")
                and not p.stdout, f"{what}: exit 2, one line ({p.returncode}, {p.stderr!r})")
    p = subprocess.run([KAFKALAT, "compare", "--help"], stdout=subprocess.PIPE, text=True)
    t.check(p.returncode == 0 and "BASE... -- NEW..." in p.stdout, "--help: usage, exit 0")


def test(t):
    usage_errors(t)
    ab(t, aa(t))


main(test)

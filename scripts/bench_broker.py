#!/usr/bin/python3
"""Reference broker baseline: prints figures, asserts nothing.

For the broker's log directory on tmpfs and on a loop-mounted ext4
(scripts/slowdisk.sh, throttled to 100 MB/s, no background pressure), RUNS
runs each of `kafkalat load` with 1 KiB messages, acks=1, 4 partitions:
  - at max rate: sustained messages/s and produce requests/s, broker CPU per
    request and per message;
  - at a fixed RATE msg/s (linger.ms=0): client-side delivery latency
    p50/p99/p999 (at max rate the client's own queue dominates latency).
Each figure: median and spread (min-max) over the runs. The baseline
against which kafkalat's overhead on this broker is measured.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile

from benchlib import cpu_s, start_refbroker

BUILD = os.environ.get("OUT", "build")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
RATE = int(os.environ.get("BENCH_RATE", "2000"))






def load(port, *extra):
    r = subprocess.run([f"{BUILD}/kafkalat", "load", "-b", f"127.0.0.1:{port}", "-t", "bench",
                        "--partitions", "4", "--size", "1024", "--acks", "1", "-d", str(SECONDS),
                        "--json", "-q", *extra], capture_output=True, text=True)
    # exit 1 with a summary: some messages failed (counted in the figures)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        sys.exit(f"bench_broker: kafkalat load failed ({r.returncode}): {r.stderr.strip()[-300:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def one_run(logdir):
    broker, port = start_refbroker(logdir, 256 << 20, "bench_broker")
    try:
        load(port, "-d", "1")  # warm-up: metadata, topic creation
        c0 = cpu_s(broker.pid)
        peak = load(port)
        c1 = cpu_s(broker.pid)
        paced = load(port, "--rate", str(RATE), "-X", "linger.ms=0")
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=20)
        subprocess.run(["rm", "-rf", logdir])  # each run starts on an empty disk
    reqs = peak["produce_requests"] or 1
    return {"failed": peak["failed"] + paced["failed"], "msgs": peak["rate_msgs"], "reqs": reqs / peak["duration_s"],
            "cpu_req": (c1 - c0) / reqs * 1e6, "cpu_msg": (c1 - c0) / peak["delivered"] * 1e6,
            "p50": paced["latency_us"]["p50"], "p99": paced["latency_us"]["p99"],
            "p999": paced["latency_us"]["p999"]}


def runs_on(base):
    out = []
    for i in range(RUNS):
        out.append(one_run(os.path.join(base, f"run{i}")))
        print(f"  run {i + 1}/{RUNS}: {out[-1]['msgs']:.0f} msg/s", file=sys.stderr)
    return out


def show(name, rows):
    def fig(key, fmt):
        v = [r[key] for r in rows]
        return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}-{fmt.format(max(v))})"

    print(f"  {name}: (messages failed in all runs: {sum(r['failed'] for r in rows)})")
    print(f"    max rate      {fig('msgs', '{:.0f}')} msg/s, {fig('reqs', '{:.0f}')} produce req/s")
    print(f"    broker CPU    {fig('cpu_req', '{:.1f}')} us/request, {fig('cpu_msg', '{:.2f}')} us/message")
    print(f"    at {RATE} msg/s  p50 {fig('p50', '{:.0f}')} us, p99 {fig('p99', '{:.0f}')} us, "
          f"p999 {fig('p999', '{:.0f}')} us")


def main():
    if os.geteuid() != 0:
        sys.exit("bench_broker: needs root (loop devices)")
    tmp = tempfile.mkdtemp(prefix="kafkalat-bench-broker.", dir="/dev/shm")
    results = {"tmpfs": runs_on(tmp)}
    state = os.path.join(tmp, "disk.state")
    mnt = os.path.join(tmp, "disk")
    subprocess.run([os.path.join(ROOT, "scripts/slowdisk.sh"), "up", "--fs", "ext4", "--size",
                    "2048", "--dir", mnt, "--state", state], check=True)
    try:
        results["ext4 on the loop disk (100 MB/s)"] = runs_on(mnt)
    finally:
        subprocess.run([os.path.join(ROOT, "scripts/slowdisk.sh"), "down", "--state", state])
        subprocess.run(["rm", "-rf", tmp])
    print(f"reference broker baseline: {RUNS} runs of {SECONDS:.0f} s each, 1 KiB messages, "
          f"acks=1, 4 partitions; median (min-max)")
    for name, rows in results.items():
        show(name, rows)


if __name__ == "__main__":
    main()

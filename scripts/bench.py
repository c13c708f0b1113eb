#!/usr/bin/python3
"""kafkalat overhead benchmark: prints figures, asserts nothing.

Against librdkafka's mock cluster at the highest produce request rate it
sustains here (kafkalat load at max rate, one message per request:
batch.num.messages=1, linger.ms=0, 5 in flight), measures:
  - in-kernel time of every kafkalat BPF program per produce request
    (kernel.bpf_stats_enabled; run_time_ns / produce requests),
  - kafkalat's own CPU time per produce request (/proc/PID/stat),
  - the broker's CPU time per produce request with and without kafkalat,
  - throughput (produce requests/s) with/without, from alternating pairs in
    random order: median ratio and bootstrap 90% interval (client latency is
    not compared: at max rate it is the client's own queue),
  - ring buffer events lost with the default ring size.
"""
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import boot_ci, cpu_s, stop_tracer, tracer_prog_ids
from benchlib import start_tracer as _start_tracer

BUILD = os.environ.get("OUT", "build")
PAIRS = int(os.environ.get("BENCH_PAIRS", "16"))
RUN_S = float(os.environ.get("BENCH_SECONDS", "3"))
PROG_NAMES = {"sys_enter", "sys_exit"}
STATS_RUNS = int(os.environ.get("BENCH_STATS_RUNS", "3"))




def start_tracer(broker_pid, port, tmp):
    return _start_tracer(broker_pid, port, tmp, "bench")


def start_broker(tmp):
    out = open(os.path.join(tmp, "broker.out"), "w+")
    p = subprocess.Popen([f"{BUILD}/mockcluster", "--topic", "bench", "--partitions", "4"],
                         stdout=out, stderr=subprocess.DEVNULL)
    for _ in range(100):
        out.seek(0)
        text = out.read()
        if "BOOTSTRAP=" in text:
            boot = text.split("BOOTSTRAP=")[1].split()[0]
            return p, boot
        time.sleep(0.05)
    p.kill()
    sys.exit("bench: mock cluster did not start")


def run_load(boot):
    r = subprocess.run([f"{BUILD}/kafkalat", "load", "-b", boot, "-t", "bench", "-d", str(RUN_S),
                        "--size", "100", "-X", "linger.ms=0", "-X", "max.in.flight=5",
                        "-X", "batch.num.messages=1", "-X", "queue.buffering.max.messages=1000",
                        "--json", "-q"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])








def bpf_prog_stats(ids):
    r = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True, check=True)
    tot_ns, tot_cnt = 0, 0
    for p in json.loads(r.stdout):
        if p.get("id") in ids and p.get("name") in PROG_NAMES:
            tot_ns += p.get("run_time_ns", 0)
            tot_cnt += p.get("run_cnt", 0)
    return tot_ns, tot_cnt


def one_run(broker, boot, with_tracer, tmp):
    tracer = start_tracer(broker.pid, boot.rsplit(":", 1)[1], tmp) if with_tracer else None
    try:
        b0 = cpu_s(broker.pid)
        t0 = cpu_s(tracer.pid) if tracer else 0
        ids = tracer_prog_ids(tracer.pid) if tracer else set()
        s0 = bpf_prog_stats(ids) if tracer else (0, 0)
        load = run_load(boot)
        s1 = bpf_prog_stats(ids) if tracer else (0, 0)
        t1 = cpu_s(tracer.pid) if tracer else 0
        b1 = cpu_s(broker.pid)
    finally:
        summary = stop_tracer(tracer) if tracer else None
    reqs = load["produce_requests"] or 0
    return {"reqs": reqs, "rate": reqs / load["duration_s"],
            "broker_cpu": b1 - b0, "tracer_cpu": t1 - t0, "bpf_ns": s1[0] - s0[0],
            "bpf_runs": s1[1] - s0[1], "summary": summary}




def main():
    if os.geteuid() != 0:
        sys.exit("bench: needs root (BPF)")
    tmp = tempfile.mkdtemp(prefix="kafkalat-bench.")
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_before = f.read().strip()
    broker, boot = start_broker(tmp)
    base, traced = [], []
    try:
        run_load(boot)  # warm-up: topic metadata, connections
        rnd = random.Random(42)
        # throughput and CPU with kernel.bpf_stats_enabled off: the stats' own
        # clock reads per program run would be charged to kafkalat
        for i in range(PAIRS):
            order = [False, True] if rnd.random() < 0.5 else [True, False]
            for w in order:
                (traced if w else base).append(one_run(broker, boot, w, tmp))
            print(f"pair {i + 1}/{PAIRS}: base {base[-1]['rate']:.0f} req/s, "
                  f"traced {traced[-1]['rate']:.0f} req/s", file=sys.stderr)
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        stats = [one_run(broker, boot, True, tmp) for _ in range(STATS_RUNS)]
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_before)
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=10)
    report(base, traced, stats)


def report(base, traced, stats):
    reqs_t = sum(r["reqs"] for r in traced)
    reqs_b = sum(r["reqs"] for r in base)
    reqs_s = sum(r["reqs"] for r in stats)
    bpf_ns = sum(r["bpf_ns"] for r in stats)
    bpf_runs = sum(r["bpf_runs"] for r in stats)
    lost = sum(r["summary"]["lost_events"] for r in traced)
    seen = sum(r["summary"]["produce"]["requests"] for r in traced)
    unmatched = sum(r["summary"]["produce"]["unmatched"] for r in traced)
    rate_ratio = [t["rate"] / b["rate"] for b, t in zip(base, traced)]
    bcpu_b = sum(r["broker_cpu"] for r in base) / reqs_b * 1e6
    bcpu_t = sum(r["broker_cpu"] for r in traced) / reqs_t * 1e6
    print(f"kafkalat bench: librdkafka mock cluster, {PAIRS} alternating pairs of {RUN_S:.0f} s runs, "
          f"kafkalat load max rate, 100 B messages, 1 message/request, 5 in flight")
    print(f"  produce rate without kafkalat   median {statistics.median(r['rate'] for r in base):.0f} req/s")
    print(f"  BPF time per produce request    {bpf_ns / reqs_s:.0f} ns "
          f"({bpf_runs / reqs_s:.1f} program runs/request, {bpf_ns / max(bpf_runs, 1):.0f} ns/run; "
          f"kernel.bpf_stats_enabled, {STATS_RUNS} runs, all processes' syscalls)")
    print(f"  kafkalat CPU per request        {sum(r['tracer_cpu'] for r in traced) / reqs_t * 1e6:.2f} us")
    print(f"  broker CPU per request          {bcpu_b:.2f} us without, {bcpu_t:.2f} us with "
          f"({(bcpu_t / bcpu_b - 1) * 100:+.1f}%)")
    lo, hi = boot_ci(rate_ratio)
    print(f"  throughput ratio with/without   median {statistics.median(rate_ratio):.3f}, "
          f"90% CI [{lo:.3f}, {hi:.3f}]")
    print(f"  lost events (default ring)      {lost}")
    print(f"  produce requests seen/sent      {seen}/{reqs_t}, unmatched {unmatched}")


if __name__ == "__main__":
    main()

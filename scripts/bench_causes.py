#!/usr/bin/python3
"""kafkalat's full cost on the reference broker: prints figures, asserts nothing.

The reference broker (build/refbroker, log on tmpfs, 4 partitions, 8
handlers) driven by `kafkalat load`, 100 B messages, one message per request
(batch.num.messages=1, linger.ms=0); kafkalat with every probe attached (the
socket probe and the causes object: scheduler, futex, file, block, journal,
writeback) against no kafkalat at all, and against kafkalat --no-causes:
  - max rate: throughput (produce requests/s) from PAIRS alternating pairs in
    random order, median ratio with a bootstrap 90% interval; broker CPU per
    request with and without; kafkalat's CPU per request;
  - fixed rate (BENCH_FIXED_RATE msg/s): client p99 ratio from PAIRS pairs;
  - in-kernel time of every kafkalat BPF program per produce request
    (kernel.bpf_stats_enabled on for STATS_RUNS separate runs, then restored),
    per program and in total;
  - what kafkalat costs the rest of the machine: one syscall of another
    process (build/sysloop: read, write, getppid) with kafkalat attached to an
    idle broker minus without, BENCH_OTHER_PAIRS alternating pairs;
  - events lost with the default ring sizes; attribution match rate.
  - the floor: the same hooks with programs that return at once (a kafkalat
    built into OUT/floor with -DKLT_BENCH_FLOOR, bpf/bench_floor.h): its BPF
    time per request, the broker's CPU per request, and its throughput and
    p99 pairs, so the cost of kafkalat's work is told from the price of the
    hooks themselves;
  - whose runs the BPF time is, kafkalat's and the floor's at both rates:
    each program's runs and ns per request for the broker and for other
    processes (the load generator is on this host), from the counts of the
    same builds made to count (OUT/split, OUT/split-floor,
    -DKLT_BENCH_SPLIT, bpf/bench_split.h) and the unmodified builds' ns per
    run when attached to an idle broker while the load goes to another
    (scripts/bench_split.py).
BENCH_STATS_ONLY=1 skips the throughput and p99 pairs (about three minutes).
"""
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

from benchlib import boot_ci, cpu_s, lost_events, prog_stats, start_refbroker, start_tracer
from benchlib import stop_tracer, tracer_prog_ids
from bench_split import diff_pairs, read_counts, report, split, sum_pairs

BUILD = os.environ.get("OUT", "build")
PAIRS = int(os.environ.get("BENCH_PAIRS", "16"))
RUN_S = float(os.environ.get("BENCH_SECONDS", "3"))
FIXED_RATE = int(os.environ.get("BENCH_FIXED_RATE", "5000"))
STATS_RUNS = int(os.environ.get("BENCH_STATS_RUNS", "3"))
# 1: only the exact figures (BPF time, kafkalat's and the broker's CPU per
# request, whose runs) from the bpf_stats runs, no A/B pairs: three minutes
# instead of about twenty
STATS_ONLY = os.environ.get("BENCH_STATS_ONLY") == "1"
OTHER_PAIRS = int(os.environ.get("BENCH_OTHER_PAIRS", "8"))
# the builds other than BUILD, by mode (make bench builds them)
BUILDS = {"floor": os.path.join(BUILD, "floor"), "split": os.path.join(BUILD, "split"),
          "split-floor": os.path.join(BUILD, "split-floor")}


def run_load(port, rate):
    args = [f"{BUILD}/kafkalat", "load", "-b", f"127.0.0.1:{port}", "-t", "bench",
            "--partitions", "4", "--size", "100", "-d", str(RUN_S), "-X", "linger.ms=0",
            "-X", "batch.num.messages=1", "-X", "queue.buffering.max.messages=1000",
            "--json", "-q"]
    if rate:
        args += ["--rate", str(rate)]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        sys.exit(f"bench_causes: kafkalat load failed ({r.returncode}): {r.stderr[-300:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def one_run(broker, port, mode, rate, tmp, load_port=None):
    """mode: None (no kafkalat), "all", "sockets" (--no-causes), "floor"
    (every hook, programs that return at once), "split" or "split-floor"
    (those two counting whose runs they are). kafkalat traces broker on
    port; the load goes to load_port, port unless given."""
    extra = ["--no-causes"] if mode == "sockets" else []
    tracer = (start_tracer(broker.pid, port, tmp, "bench_causes", extra, BUILDS.get(mode))
              if mode else None)
    counting = mode in ("split", "split-floor")
    try:
        ids = tracer_prog_ids(tracer.pid) if tracer else set()
        b0, t0 = cpu_s(broker.pid), cpu_s(tracer.pid) if tracer else 0
        s0 = prog_stats(ids) if tracer else {}
        c0 = read_counts(tracer.pid) if counting else {}
        load = run_load(load_port or port, rate)
        c1 = read_counts(tracer.pid) if counting else {}
        s1 = prog_stats(ids) if tracer else {}
        t1, b1 = cpu_s(tracer.pid) if tracer else 0, cpu_s(broker.pid)
    finally:
        summary = stop_tracer(tracer) if tracer else None
    if counting and not c1:
        sys.exit(f"bench_causes: {BUILDS[mode]}/kafkalat holds no bench_split map")
    reqs = load["produce_requests"] or 0
    return {"reqs": reqs, "rate": reqs / load["duration_s"], "p99": load["latency_us"]["p99"],
            "broker_cpu": b1 - b0, "tracer_cpu": t1 - t0, "progs": diff_pairs(s1, s0),
            "counts": diff_pairs(c1, c0), "summary": summary}


def pairs(broker, port, mode, rate, tmp, label, base_mode=None):
    """PAIRS alternating pairs in random order: (runs in base_mode, in mode)."""
    rnd = random.Random(42)
    base, traced = [], []
    for i in range(PAIRS):
        order = [False, True] if rnd.random() < 0.5 else [True, False]
        for w in order:
            (traced if w else base).append(
                one_run(broker, port, mode if w else base_mode, rate, tmp))
        print(f"{label} pair {i + 1}/{PAIRS}: base {base[-1]['rate']:.0f} req/s "
              f"p99 {base[-1]['p99']:.0f} us, traced {traced[-1]['rate']:.0f} req/s "
              f"p99 {traced[-1]['p99']:.0f} us", file=sys.stderr)
    return base, traced


def cpu_per_req(runs, key):
    return sum(r[key] for r in runs) / max(sum(r["reqs"] for r in runs), 1) * 1e6


def lost(runs):
    return sum(lost_events(r["summary"]) for r in runs)


def report_pairs(label, base, traced, what, versus="with/without"):
    ratio = [t[what] / b[what] for b, t in zip(base, traced) if b[what]]
    lo, hi = boot_ci(ratio)
    name = "throughput ratio" if what == "rate" else "client p99 ratio"
    print(f"  {label}: {name} {versus} median {statistics.median(ratio):.3f}, "
          f"90% CI [{lo:.3f}, {hi:.3f}] ({len(ratio)} pairs)")


def main():
    if os.geteuid() != 0:
        sys.exit("bench_causes: needs root (BPF)")
    for build in BUILDS.values():
        if not os.access(f"{build}/kafkalat", os.X_OK):
            sys.exit(f"bench_causes: {build}/kafkalat missing (make bench builds it)")
    tmp = tempfile.mkdtemp(prefix="kafkalat-bench-causes.", dir="/dev/shm")
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_before = f.read().strip()
    broker, port = start_refbroker(os.path.join(tmp, "log"), 64 << 20, "bench_causes")
    # traced while idle, the load going to broker: every run is another
    # process's, so its ns per run is the early exit's (whose_runs)
    idle, idle_port = start_refbroker(os.path.join(tmp, "idle-ref"), 1 << 20, "bench_causes")
    try:
        run_load(port, 0)  # warm-up: topic, segments, connections
        if not STATS_ONLY:
            max_all = pairs(broker, port, "all", 0, tmp, "max rate, every probe")
            max_sock = pairs(broker, port, "sockets", 0, tmp, "max rate, --no-causes")
            fixed_all = pairs(broker, port, "all", FIXED_RATE, tmp,
                              f"{FIXED_RATE} msg/s, every probe")
            max_floor = pairs(broker, port, "floor", 0, tmp, "max rate, floor")
            fixed_floor = pairs(broker, port, "floor", FIXED_RATE, tmp,
                                f"{FIXED_RATE} msg/s, floor")
            # what the programs' work costs beyond the hooks: every probe
            # against the floor, directly
            max_work = pairs(broker, port, "all", 0, tmp, "max rate, every probe vs floor",
                             "floor")
            fixed_work = pairs(broker, port, "all", FIXED_RATE, tmp,
                               f"{FIXED_RATE} msg/s, every probe vs floor", "floor")
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        stats = [one_run(broker, port, "all", 0, tmp) for _ in range(STATS_RUNS)]
        stats_fixed = [one_run(broker, port, "all", FIXED_RATE, tmp) for _ in range(STATS_RUNS)]
        stats_floor = [one_run(broker, port, "floor", 0, tmp) for _ in range(STATS_RUNS)]
        stats_floor_fixed = [one_run(broker, port, "floor", FIXED_RATE, tmp)
                             for _ in range(STATS_RUNS)]
        whose = whose_runs(broker, port, idle, idle_port, tmp, {
            ("all", 0): stats, ("all", FIXED_RATE): stats_fixed,
            ("floor", 0): stats_floor, ("floor", FIXED_RATE): stats_floor_fixed})
        idle_own = idle_own_runs(idle, idle_port, port, tmp)
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_before)
        other = other_process_cost(tmp)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_before)
        for b in (broker, idle):
            b.send_signal(signal.SIGTERM)
            b.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"kafkalat bench (causes): reference broker on tmpfs, {PAIRS} alternating pairs of "
          f"{RUN_S:.0f} s, 100 B messages, 1 message/request")
    if not STATS_ONLY:
        print(f"  max rate without kafkalat       median "
              f"{statistics.median(r['rate'] for r in max_all[0]):.0f} req/s (the highest it "
              f"sustains here, one producer connection)")
    for label, runs in (("max rate", stats), (f"{FIXED_RATE} msg/s", stats_fixed),
                        ("max rate, floor: programs that return at once", stats_floor),
                        (f"{FIXED_RATE} msg/s, floor", stats_floor_fixed)):
        reqs = sum(r["reqs"] for r in runs)
        total = sum_pairs(r["progs"] for r in runs)
        ns = sum(v[0] for v in total.values())
        print(f"  BPF time per produce request    {ns / reqs:.0f} ns at {label} "
              f"({STATS_RUNS} runs, bpf_stats on; all programs):")
        for k, (pns, cnt) in sorted(total.items(), key=lambda kv: -kv[1][0]):
            print(f"      {k:<20} {pns / reqs:7.0f} ns/request  {cnt / reqs:6.2f} runs/request  "
                  f"{pns / max(cnt, 1):6.0f} ns/run")
    for (mode, rate), rows in whose.items():
        report(f"{'every probe' if mode == 'all' else 'floor'}, "
               f"{f'{rate} msg/s' if rate else 'max rate'}", rows)
    print(f"  early exits timed on an idle broker: {idle_own[0]} of {idle_own[1]} runs were its "
          "own (counting build, max rate)")
    if STATS_ONLY:
        print(f"  kafkalat CPU per request        {cpu_per_req(stats, 'tracer_cpu'):.2f} us "
              f"(bpf_stats runs, max rate), "
              f"{cpu_per_req(stats_fixed, 'tracer_cpu'):.2f} us ({FIXED_RATE} msg/s)")
        print(f"  broker CPU per request          {cpu_per_req(stats, 'broker_cpu'):.2f} us "
              f"traced, {cpu_per_req(stats_floor, 'broker_cpu'):.2f} us floor "
              f"(bpf_stats runs, max rate)")
        report_other(other)
        report_attribution(stats + stats_fixed)
        return
    base, traced = max_all
    print(f"  kafkalat CPU per request        {cpu_per_req(traced, 'tracer_cpu'):.2f} us "
          f"(every probe), {cpu_per_req(max_sock[1], 'tracer_cpu'):.2f} us (--no-causes)")
    b, t = cpu_per_req(base, "broker_cpu"), cpu_per_req(traced, "broker_cpu")
    bs, ts = cpu_per_req(max_sock[0], "broker_cpu"), cpu_per_req(max_sock[1], "broker_cpu")
    print(f"  broker CPU per request          {b:.2f} us without, {t:.2f} us with every probe "
          f"({(t / b - 1) * 100:+.1f}%); --no-causes pairs: {bs:.2f} -> {ts:.2f} us "
          f"({(ts / bs - 1) * 100:+.1f}%)")
    fb, ft = cpu_per_req(max_floor[0], "broker_cpu"), cpu_per_req(max_floor[1], "broker_cpu")
    print(f"  broker CPU per request, floor   {fb:.2f} us without, {ft:.2f} us with empty "
          f"programs on every hook ({(ft / fb - 1) * 100:+.1f}%)")
    report_pairs("every probe, max rate", base, traced, "rate")
    report_pairs("floor, max rate", *max_floor, "rate")
    report_pairs("--no-causes, max rate", *max_sock, "rate")
    report_pairs(f"every probe, {FIXED_RATE} msg/s", *fixed_all, "p99")
    report_pairs(f"every probe, {FIXED_RATE} msg/s", *fixed_all, "rate")
    report_pairs(f"floor, {FIXED_RATE} msg/s", *fixed_floor, "p99")
    wb, wt = cpu_per_req(max_work[0], "broker_cpu"), cpu_per_req(max_work[1], "broker_cpu")
    print(f"  every probe against the floor   broker CPU {wb:.2f} -> {wt:.2f} us per request "
          f"({(wt / wb - 1) * 100:+.1f}%): the programs' work beyond the hooks")
    report_pairs("every probe / floor, max rate", *max_work, "rate", "with/floor")
    report_pairs(f"every probe / floor, {FIXED_RATE} msg/s", *fixed_work, "p99", "with/floor")
    report_other(other)
    report_attribution(traced + fixed_all[1])


def whose_runs(broker, port, idle, idle_port, tmp, timed):
    """For each (mode, rate) of timed (the bpf_stats runs of the unmodified
    build): split()'s rows, from STATS_RUNS runs of its counting build
    against broker and STATS_RUNS of the unmodified build tracing the idle
    broker while the load goes to broker."""
    out = {}
    for (mode, rate), runs in timed.items():
        counting = "split" if mode == "all" else "split-floor"
        counts = [one_run(broker, port, counting, rate, tmp)["counts"]
                  for _ in range(STATS_RUNS)]
        exits = [one_run(idle, idle_port, mode, rate, tmp, port)["progs"]
                 for _ in range(STATS_RUNS)]
        out[(mode, rate)] = split(sum_pairs(r["progs"] for r in runs),
                                  sum(r["reqs"] for r in runs), sum_pairs(counts),
                                  sum_pairs(exits))
    return out


def idle_own_runs(idle, idle_port, port, tmp):
    """(the idle broker's runs, every run) of the counting build tracing it
    while the load goes to the other broker, at the highest rate: the early
    exit's timing assumes the first is nothing."""
    counts = one_run(idle, idle_port, "split", 0, tmp, port)["counts"]
    return sum(b for _, b in counts.values()), sum(o + b for o, b in counts.values())


def other_process_cost(tmp):
    """ns one syscall of another process costs with kafkalat attached (to an
    idle broker) minus without, from alternating pairs: {syscall: [deltas]}."""
    broker, port = start_refbroker(os.path.join(tmp, "idle"), 1 << 20, "bench_causes")
    deltas = {"read": [], "write": [], "getppid": []}

    def ns(call):
        r = subprocess.run([f"{BUILD}/sysloop", call, "300000"], capture_output=True,
                           text=True, check=True)
        return float(r.stdout.split("=")[1])
    try:
        for _ in range(OTHER_PAIRS):
            base = {c: ns(c) for c in deltas}
            tracer = start_tracer(broker.pid, port, tmp, "bench_causes")
            try:
                traced = {c: ns(c) for c in deltas}
            finally:
                stop_tracer(tracer)
            for c in deltas:
                deltas[c].append(traced[c] - base[c])
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=20)
    return deltas


def report_other(deltas):
    print("  another process's syscall, kafkalat attached minus not (ns, median of "
          f"{OTHER_PAIRS} pairs, 90% CI):")
    for call, what in (("read", "watched by the socket probe"),
                       ("write", "watched by the socket probe and the file programs"),
                       ("getppid", "not watched")):
        d = deltas[call]
        lo, hi = boot_ci(d)
        print(f"      {call:<8} {statistics.median(d):+6.0f} [{lo:+.0f}, {hi:+.0f}]  ({what})")


def report_attribution(runs):
    print(f"  lost events (default rings)     {lost(runs)} over {len(runs)} traced runs")
    att = [r["summary"].get("attribution") or {} for r in runs]
    matched = sum(a.get("requests", 0) for a in att)
    unm = sum((a.get("unmatched") or {}).get("requests", 0) for a in att)
    print(f"  attributed / not attributed     {matched} / {unm}")

if __name__ == "__main__":
    main()

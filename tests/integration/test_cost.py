#!/usr/bin/python3
"""kafkalat shows what it costs: its own CPU time per produce request in
every summary, and with --bpf-stats the kernel time of its BPF programs. It
turns the kernel's run-time statistics on with BPF_ENABLE_STATS, an fd that
ends with kafkalat, and leaves kernel.bpf_stats_enabled alone."""
from lib import KAFKALAT, check_summary_clean, main

STATS = "/proc/sys/kernel/bpf_stats_enabled"
N = 3000


def stats_on():
    with open(STATS) as f:
        return f.read().strip() == "1"


def produce(t, boot, count):
    t.load(boot, "-t", "cost", "--partitions", 4, "--count", count, "--rate", 2000,
           "-X", "linger.ms=0", "-X", "batch.num.messages=1", messages=False)


def test(t):
    before = stats_on()
    broker, port, _ = t.refbroker()
    boot = f"127.0.0.1:{port}"
    produce(t, boot, 100)  # topic and segments

    k = t.kafkalat(broker.pid, [port], "--bpf-stats")
    t.eq(stats_on(), before, "--bpf-stats leaves kernel.bpf_stats_enabled alone")
    produce(t, boot, N)
    s, _ = t.stop_kafkalat(k)
    check_summary_clean(t, s)
    c = s.get("cost") or {}
    reqs = s["produce"]["requests"]
    t.eq(reqs, N, "produce requests traced")
    t.eq(c.get("bpf_counted"), True, "--bpf-stats: BPF time counted")
    # per request at least the broker's socket read and response write,
    # entry and exit, and its log write (measured figures: docs/design.md,
    # "Costs")
    runs, ns = c.get("bpf_runs_per_request", 0), c.get("bpf_ns_per_request", 0)
    t.check(10 <= runs <= 500, f"BPF program runs per produce request: {runs}")
    t.check(500 <= ns <= 1e6, f"BPF time per produce request: {ns} ns")
    t.check(abs(ns * reqs - c.get("bpf_ns", 0)) <= reqs,
            f"per request = bpf_ns / requests ({c.get('bpf_ns')} ns / {reqs})")
    cpu = c.get("cpu_us_per_request", 0)
    t.check(0 < cpu < 1e4, f"kafkalat's CPU per produce request: {cpu} us")
    t.check(abs(cpu * reqs / 1e6 - c.get("cpu_s", 0)) <= 0.001 + reqs * 1e-9,
            f"per request = cpu_s / requests ({c.get('cpu_s')} s / {reqs})")

    # without it: the CPU time only, unless the statistics were on already
    k = t.kafkalat(broker.pid, [port])
    produce(t, boot, 500)
    s, _ = t.stop_kafkalat(k)
    c = s.get("cost") or {}
    t.eq(c.get("bpf_counted"), before, "without --bpf-stats: BPF time counted only if the "
         "kernel's statistics were already on")
    t.eq("bpf_ns" in c, before, "BPF figures only when counted")
    t.check(c.get("cpu_s", 0) > 0 and c.get("cpu_us_per_request", 0) > 0,
            f"kafkalat's CPU time is always there: {c}")

    # the text summary says it in words
    p = t.spawn([KAFKALAT, "-p", broker.pid, "-P", port, "--bpf-stats", "-d", "1"], "text")
    t.eq(t.wait(p, 20), 0, "kafkalat -d 1 --bpf-stats exit status")
    out, _ = t.output(p)
    line = [x for x in out.splitlines() if "kafkalat's own cost" in x]
    t.check(len(line) == 1 and "CPU " in line[0] and "BPF programs " in line[0],
            f"text summary: {line}")


if __name__ == "__main__":
    main(test)

#!/usr/bin/python3
"""kafkalat against the reference broker's ground truth, in both I/O styles:
the same number of produce requests (and librdkafka's count), each request's
first-byte and response-end times within 50 us of the broker's own stamps
for >= 99% of requests (and the end always inside the broker's write window);
with acks=0, kafkalat's acks0 count equals the truth's and nothing is
unmatched. The broker runs on CPU 0, everything else on CPU 1."""
import os

from lib import main

TOLERANCE_NS = 50_000
MESSAGES = 12000  # at 4000 msg/s: a broker with CPU to spare, as in production


def within(a, b):
    return abs(a - b) <= TOLERANCE_NS


def compare(t, what, truth, reqs):
    """Joins truth and kafkalat's --requests lines by (client, corr)."""
    ours = {(r["client"], r["corr"]): r for r in reqs}
    t.eq(len(ours), len(reqs), f"{what}: (client, corr) unique in kafkalat's lines")
    missing, first_ok, end_ok = 0, 0, 0
    worst_first = worst_end = 0
    late_end = []  # (kafkalat - truth) for the ends outside the tolerance
    outside_window = 0
    for r in truth:
        k = ours.get((r["client"], r["corr"]))
        if k is None:
            missing += 1
            continue
        d_first = abs(k["t_first_ns"] - r["t_first_ns"])
        d_end = abs(k["t_end_ns"] - r["t_end_ns"])
        first_ok += d_first <= TOLERANCE_NS
        end_ok += d_end <= TOLERANCE_NS
        worst_first = max(worst_first, d_first)
        worst_end = max(worst_end, d_end)
        if d_end > TOLERANCE_NS:
            late_end.append((k["t_end_ns"] - r["t_end_ns"]) // 1000)
        if not r["t_resp_ns"] <= k["t_end_ns"] <= r["t_end_ns"] + TOLERANCE_NS:
            outside_window += 1
    n = len(truth)
    if late_end:
        print(f"  info {what}: t_end outside 50 us, kafkalat minus truth (us): "
              f"{sorted(late_end)[:12]}")
    t.eq(missing, 0, f"{what}: truth requests kafkalat did not report")
    t.check(first_ok >= 0.99 * n,
            f"{what}: t_first within 50 us of the truth for {first_ok}/{n} "
            f"(>= 99%; worst {worst_first / 1000:.1f} us)")
    # kafkalat's t_end is the exit of the write syscall, the broker's stamp
    # comes once back in user space: kafkalat is never later than the window.
    t.eq(outside_window, 0, f"{what}: t_end outside [truth t_resp, truth t_end + 50 us]")
    t.check(end_ok >= 0.99 * n,
            f"{what}: t_end within 50 us of the truth for {end_ok}/{n} "
            f"({100 * end_ok / max(n, 1):.2f}%, >= 99%; worst {worst_end / 1000:.1f} us)")


def one_run(t, io, acks):
    name = f"{io}-acks{acks}"
    print(f"-- --io {io}, acks={acks}")
    broker, port, truth_path = t.truth_broker("broker-" + name, io=io)
    k = t.kafkalat(broker.pid, [port], name="kafkalat-" + name)
    load, _ = t.load(f"127.0.0.1:{port}", "-t", "t", "--partitions", 4, "--count", MESSAGES,
                     "--acks", acks, "--rate", 4000, "-X", "linger.ms=0", "-X", "max.in.flight=5",
                     "-X", "batch.num.messages=20", messages=False, name="load-" + name)
    s, reqs = t.stop_kafkalat(k)
    truth = t.stop_truth_broker(broker, truth_path)
    t.eq(s["lost_events"], 0, f"{name}: lost_events")
    t.eq(s["produce"]["unmatched"], 0, f"{name}: produce.unmatched")
    t.eq(s["produce"]["records"], MESSAGES, f"{name}: produce.records")
    if acks == "0":
        t.eq(s["produce"]["acks0"], len(truth), f"{name}: acks0 == the truth's acks=0 requests")
        t.eq(s["produce"]["requests"], 0, f"{name}: no acks=0 request timed")
        return
    t.eq(s["produce"]["requests"], len(truth), f"{name}: produce requests == the truth's")
    t.eq(s["produce"]["requests"], load["produce_requests"],
         f"{name}: produce requests == librdkafka's")
    compare(t, name, truth, reqs)


def test(t):
    if os.cpu_count() >= 2:
        os.sched_setaffinity(0, {1})  # kafkalat and the client, inherited
    for io in ("jvm", "chunked"):
        one_run(t, io, "1")
    one_run(t, "jvm", "0")


main(test)

#!/usr/bin/python3
"""kafkalat's wire times against a packet capture of the same run. Three
clients that frame and pipeline differently (librdkafka through `kafkalat
load`, kcat, kafka-python) produce in turn to the reference broker on
loopback while kafkalat traces it and dumpcap captures its port. Per produce
request, matched by TCP connection and correlation id (decoded from the
captured bytes): kafkalat's t_complete -> t_sent within max(200 us, 5%) of
the capture's last request segment -> last response segment, for >= 99% of
each client's requests; and >= 99% of them have all three wire times.
On loopback the capture sees a segment as the broker's socket receives it,
so both durations time the same two moments: the request's last byte made
readable, its response's last byte leaving. The capture's clock is
CLOCK_REALTIME and kafkalat's CLOCK_MONOTONIC: durations are compared,
never instants."""
import statistics
import time

import kafka

from lib import check_summary_clean, main, pcap_kafka

N = 3000  # messages per client
TOL_NS, TOL_FRAC = 200_000, 0.05
SHARE = 0.99


def load(t, boot):
    t.load(boot, "-t", "wl", "--count", N, "--rate", 2000, "--partitions", 4,
           "-X", "linger.ms=0", name="load", messages=False)


def kcat(t, boot):
    with open(t.path("kcat.in"), "w") as f:
        f.write("".join(f"message {i:06d}\n" for i in range(N)))
    with open(t.path("kcat.in")) as stdin:
        # kcat reads stdin as fast as it can: small batches make it many
        # pipelined requests rather than a few big ones
        p = t.spawn(["kcat", "-P", "-b", boot, "-t", "wk", "-X", "linger.ms=0",
                     "-X", "batch.num.messages=5"], "kcat", stdin=stdin)
        t.eq(t.wait(p, 30), 0, "kcat exit status", fatal=True)


def kafka_python(t, boot):
    producer = kafka.KafkaProducer(bootstrap_servers=boot, acks=1, linger_ms=0,
                                   max_in_flight_requests_per_connection=5)
    try:
        for i in range(N):
            producer.send("wp", b"%06d" % i + b"x" * 94)
            if i % 10 == 9:
                time.sleep(0.002)  # a steady stream, not one burst
        producer.flush(30)
    finally:
        producer.close(5)


def compare(t, title, reqs, frames):
    """The checks for one client's produce requests."""
    n = len(reqs)
    if not t.check(n >= 200, f"{title}: {n} produce requests traced (>= 200)"):
        return
    wire = [r for r in reqs if None not in (r["t_arrival_ns"], r["t_complete_ns"], r["t_sent_ns"])]
    why = {}
    for r in reqs:
        if r.get("wire") != "known":
            why[r.get("wire")] = why.get(r.get("wire"), 0) + 1
    t.check(len(wire) >= SHARE * n,
            f"{title}: {len(wire)} of {n} produce requests ({100 * len(wire) / n:.2f}%) have "
            f"t_arrival, t_complete and t_sent (>= {100 * SHARE:.0f}%; the others' wire: {why})")
    found, diffs, full, bad = 0, [], [], []
    for r in wire:
        fr = frames.get((r["client"], r["corr"]))
        if not fr or fr.get("api_key") != 0 or "resp_last" not in fr or fr["dups"]:
            continue
        found += 1
        cap = fr["resp_last"] - fr["req_last"]
        ours = r["t_sent_ns"] - r["t_complete_ns"]
        d = ours - cap
        diffs.append(d)
        full.append((r["t_sent_ns"] - r["t_arrival_ns"]) - (fr["resp_last"] - fr["req_first"]))
        if abs(d) > max(TOL_NS, TOL_FRAC * cap):
            bad.append(f"{r['client']} corr {r['corr']}: kafkalat {ours / 1e3:.1f} us, "
                       f"capture {cap / 1e3:.1f} us")
    t.check(found >= SHARE * n, f"{title}: {found} of {n} requests found in the capture "
                                f"with their response (>= {100 * SHARE:.0f}%)")
    ok = found - len(bad)
    t.check(ok >= SHARE * n,
            f"{title}: {ok} of {n} requests ({100 * ok / n:.2f}%) have t_complete->t_sent "
            f"within max(200 us, 5%) of the capture's last request segment -> last "
            f"response segment" + (f" (outside: {bad[:3]})" if bad else ""))
    if diffs:
        ad = sorted(abs(d) for d in diffs)
        af = sorted(abs(d) for d in full)
        print(f"  info {title}: |kafkalat - capture| complete->sent median "
              f"{statistics.median(ad) / 1e3:.1f} us, p99 {ad[int(0.99 * (len(ad) - 1))] / 1e3:.1f} us, "
              f"max {ad[-1] / 1e3:.1f} us; arrival->sent median {statistics.median(af) / 1e3:.1f} us, "
              f"max {af[-1] / 1e3:.1f} us; {len(bad)} outside")


def test(t):
    _, port, _ = t.refbroker(partitions=4)
    pid = t.procs[-1].pid
    boot = f"127.0.0.1:{port}"
    k = t.kafkalat(pid, [port], "--no-causes")
    cap = t.capture(port)
    windows = []
    for title, run in (("librdkafka (kafkalat load)", load), ("kcat", kcat),
                       ("kafka-python", kafka_python)):
        t0 = time.monotonic_ns()
        run(t, boot)
        windows.append((title, t0, time.monotonic_ns()))
    pcap = t.stop_capture(cap)
    summary, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, summary)
    frames = pcap_kafka(pcap, port)
    produce = sum(1 for f in frames.values() if f.get("api_key") == 0)
    t.eq(len(reqs), produce, "--requests lines == produce requests in the capture")
    for title, t0, t1 in windows:
        compare(t, title, [r for r in reqs if t0 <= r["t_first_ns"] <= t1], frames)


main(test)

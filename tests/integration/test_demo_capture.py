#!/usr/bin/python3
"""The demo's slow ext4 (scripts/slowdisk.sh: ext4, commit=1, on throttled
loop devices, with build/pressure writing behind), the reference broker on
it, `kafkalat load` sending one 1 KiB message per produce request, kafkalat
tracing with its causes, and a packet capture of the broker's port. Checked:
- kafkalat's produce p99 and p99.9 (its summary: the wire latency, request
  in the broker's socket -> response out) within 10% of the capture's
  (first request segment -> last response segment, per TCP connection and
  correlation id), and >= 99% of the requests with known wire times;
- the >= p99 band weighed by time (from the --requests lines, and the
  summary's by_time root causes) has the journal as its top root cause,
  part of it reached through head-of-line waits (requests stuck in the
  socket behind a request stalled in the journal);
- the flow-control bound covers the rest of the gap to the producer's own
  p99: kafkalat's p99 plus the longest full-window time before a request's
  arrival (flow_blocked_us, also the summary's produce.flow_blocked.max_us)
  reaches the producer's p99 within 10%.
Prints the producer's, kafkalat's, the capture's and the broker's own p99 and
p99.9. Everything (processes by PID, then the disk by its state file) is
removed on every exit path."""
import os
import shutil
import subprocess
import tempfile

from lib import (BUILD, ROOT, check_summary_clean, hol_of, main, pcap_kafka,
                 quantile, root_time_us, wire_latency_ns)

SLOWDISK = os.path.join(ROOT, "scripts", "slowdisk.sh")
RATE = 1000
SECONDS = 20
TOL = 0.10


def ms(ns):
    return f"{ns / 1e6:.2f}" if ns is not None else "-"


def run(t, base):
    state = os.path.join(base, "disk.state")
    disk = os.path.join(base, "disk")
    up = subprocess.run([SLOWDISK, "up", "--fs", "ext4", "--opts", "commit=1", "--size", "2048",
                         "--image-dir", base, "--dir", disk, "--state", state],
                        capture_output=True, text=True, timeout=120)
    t.eq(up.returncode, 0, f"slowdisk.sh up ({up.stderr.strip()[-200:]!r})", fatal=True)
    try:
        measure(t, disk)
    finally:
        t.cleanup()  # the broker and the pressure writer hold files on the disk
        down = subprocess.run([SLOWDISK, "down", "--state", state], capture_output=True,
                              text=True, timeout=120)
        t.eq(down.returncode, 0, f"slowdisk.sh down ({down.stderr.strip()[-200:]!r})")


def measure(t, disk):
    os.makedirs(os.path.join(disk, "log"))
    os.makedirs(os.path.join(disk, "pressure"))
    broker, port = t._start_refbroker([], "refbroker", "--log-dir", os.path.join(disk, "log"),
                                      "--partitions", 4, "--segment-bytes", 64 << 20)
    t.spawn([os.path.join(BUILD, "pressure"), "--dir", os.path.join(disk, "pressure"),
             "--file-mb", 256, "--keep", 3], "pressure")
    k = t.kafkalat(broker.pid, [port])
    cap = t.capture(port)
    load, _ = t.load(f"127.0.0.1:{port}", "-t", "demo", "--partitions", 4, "--rate", RATE,
                     "--size", 1024, "-d", SECONDS, "-X", "linger.ms=0",
                     "-X", "batch.num.messages=1", messages=False, timeout=SECONDS + 40)
    frames = pcap_kafka(t.stop_capture(cap), port)
    summary, reqs = t.stop_kafkalat(k, timeout=15)
    check_summary_clean(t, summary)

    n = len(reqs)
    t.check(n >= 0.9 * RATE * SECONDS, f"{n} produce requests traced", fatal=True)
    t.eq(sum(1 for r in reqs if sum(p["records"] for p in r["partitions"]) != 1), 0,
         "requests with other than one message")
    wire = sorted(w for w in map(wire_latency_ns, reqs) if w is not None)
    t.check(len(wire) >= 0.99 * n, f"{len(wire)} of {n} requests have known wire times (>= 99%)")
    capl = sorted(f["resp_last"] - f["req_first"] for f in frames.values()
                  if f.get("api_key") == 0 and "resp_last" in f)
    t.check(len(capl) >= 0.99 * n, f"{len(capl)} produce requests answered in the capture")
    lat = summary["produce"]["latency_us"]
    for q, name in ((0.99, "p99"), (0.999, "p999")):
        cq = quantile(capl, q)
        ours = lat[name] * 1000
        t.check(abs(ours - cq) <= TOL * cq,
                f"kafkalat's {name} {ms(ours)} ms within 10% of the capture's {ms(cq)} ms "
                f"(from its --requests lines: {ms(quantile(wire, q))} ms)")

    # the >= p99 band by time, root causes through head-of-line waits
    p99 = lat["p99"]
    band = [r for r in reqs if r["latency_us"] is not None and r["latency_us"] >= p99]
    roots = root_time_us(band)
    total = sum(roots.values()) or 1
    top = sorted(roots.items(), key=lambda kv: -kv[1])
    print("  info >= p99 band by time, root causes: " +
          ", ".join(f"{c} {100 * us / total:.1f}%" for c, us in top[:5]))
    t.check(bool(top) and top[0][0] == "journal",
            f"the >= p99 band's top root cause by time is the journal ({len(band)} requests)")
    via_hol = sum(h[0] for h in map(hol_of, band) if h and h[2] == "journal")
    t.check(via_hol > 0, f"{via_hol / 1e3:.1f} ms of it reached through head-of-line waits "
                         f"behind requests stalled in the journal "
                         f"({100 * via_hol / total:.1f}% of the band's time)")
    bt = summary["bands"]["ge_p99"]["by_time"]
    rc = sorted((bt.get("root_causes_pct") or {}).items(), key=lambda kv: -kv[1])
    t.eq(rc[0][0] if rc else None, "journal",
         f"summary: bands.ge_p99.by_time.root_causes_pct's top ({rc[:3]})")

    # the producer's own, and the flow-control bound
    prod = load["latency_us"]
    fb = sorted(r.get("flow_blocked_us") or 0 for r in reqs)
    flow = summary["produce"].get("flow_blocked") or {}
    t.check(abs(flow.get("max_us", -1) - fb[-1]) <= 0.01,
            f"summary's produce.flow_blocked.max_us {flow.get('max_us')} = the lines' "
            f"longest flow_blocked_us {fb[-1]}")
    # µs: each request's wire latency plus its own flow-control bound
    bounded = sorted(wire_latency_ns(r) / 1e3 + (r.get("flow_blocked_us") or 0) for r in reqs
                     if wire_latency_ns(r) is not None)
    b99, b999 = quantile(bounded, 0.99), quantile(bounded, 0.999)
    broker_own = sorted((r["t_end_ns"] - r["t_first_ns"]) / 1e3 for r in reqs)
    print(f"  info p99 / p99.9 ms: producer {prod['p99'] / 1e3:.2f} / {prod['p999'] / 1e3:.2f}; "
          f"kafkalat {lat['p99'] / 1e3:.2f} / {lat['p999'] / 1e3:.2f} (its lines' wire times "
          f"{ms(quantile(wire, 0.99))} / {ms(quantile(wire, 0.999))}); capture "
          f"{ms(quantile(capl, 0.99))} / {ms(quantile(capl, 0.999))}; with each request's "
          f"flow-control bound {b99 / 1e3:.2f} / {b999 / 1e3:.2f}; broker's own (first read -> "
          f"last write) {quantile(broker_own, 0.99) / 1e3:.2f} / "
          f"{quantile(broker_own, 0.999) / 1e3:.2f}")
    t.check("flow_blocked_us" in reqs[0], "the --requests lines carry flow_blocked_us")
    print(f"  info flow_blocked_us > 0 on {sum(1 for x in fb if x > 0)} requests, max "
          f"{fb[-1] / 1e3:.2f} ms; kernel.arrival_unknown {summary['kernel']['arrival_unknown']}")
    t.check(b99 >= (1 - TOL) * prod["p99"],
            f"the p99 of each request's latency plus its flow-control bound "
            f"{b99 / 1e3:.2f} ms reaches the producer's "
            f"{prod['p99'] / 1e3:.2f} ms within 10%")


def test(t):
    base = tempfile.mkdtemp(prefix="kafkalat-it-demo-", dir="/var/tmp")
    try:
        run(t, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


main(test)

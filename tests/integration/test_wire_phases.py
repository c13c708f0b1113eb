#!/usr/bin/python3
"""The two wire phases around the broker's own: `recv` (the request's first
byte arrived -> its last byte arrived: the client or the network still
sending) and `send_queue` (the response's last write returned -> its last
byte left the socket).

recv: against the reference broker, a client with Nagle on (TCP_NODELAY
off) writes each Produce request in two parts, 30 ms apart (the first part,
a sleep, the rest), and a capture of the broker's port says when each
segment arrived. kafkalat's t_complete - t_arrival, and its recv phase,
must be the capture's first -> last request segment within 3 ms, and no
shorter than the client's own gap between its writes. The broker (Kafka's
way: read 4 bytes, then the rest) reads the first part as soon as it
arrives and then waits for the rest: that wait is the client still sending,
not the broker reading. Nagle holds the second part until the broker's
delayed ACK of the first (about 40 ms after it, measured 43.7-43.9 ms), so
the request is on the wire longer than the client's 30 ms sleep: the capture
is the oracle, not the sleep.

send_queue: against tinybroker's delayed broker (a 4 MiB send buffer, so
its writes return at once), a client with a 4 KiB receive buffer sends K
requests whose responses are 256 KiB each, stops reading for 500 ms, then
reads them all. Every response's last write returned before the client
resumed reading, so none could leave before: t_sent must be known (the
kernel side times a response that leaves after its write), and t_sent -
t_end, the send_queue phase, >= 400 ms for each; t_sent no earlier than the resume (the client's
clock, less 1 ms) and in the order of the responses."""
import socket
import statistics
import time

import tinybroker
from lib import check_summary_clean, main, pcap_kafka
from tinybroker import produce_v3, read_response

GAP_MS = 30
RECV_ROUNDS = 8
K = 4
PAD = 256 << 10
STALL_S = 0.5


def recv_phase(t):
    print("-- recv: requests in two segments, Nagle on")
    _, port, _ = t.refbroker(partitions=4)
    pid = t.procs[-1].pid
    k = t.kafkalat(pid, [port])
    cap = t.capture(port)
    gaps = {}
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        t.eq(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 0, "TCP_NODELAY off")
        time.sleep(0.1)  # accepted with nothing waiting: every arrival is seen
        buf = b""
        for i in range(RECV_ROUNDS):
            req = produce_v3(i, i % 4, 3)
            cut = 20 + i  # inside the header, then inside the body
            s.sendall(req[:cut])
            t0 = time.monotonic_ns()
            time.sleep(GAP_MS / 1000)
            t1 = time.monotonic_ns()
            s.sendall(req[cut:])
            gaps[i] = t1 - t0
            corr, buf = read_response(s, buf)
            t.eq(corr, i, f"request {i} answered", fatal=True)
    frames = pcap_kafka(t.stop_capture(cap), port)
    summary, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, summary)
    t.eq(sorted(r["corr"] for r in reqs), list(range(RECV_ROUNDS)), "request lines")
    errs, holds = [], []
    for r in sorted(reqs, key=lambda r: r["corr"]):
        c = r["corr"]
        if not t.check(r["t_arrival_ns"] is not None and r["t_complete_ns"] is not None,
                       f"corr {c}: t_arrival and t_complete known"):
            continue
        recv = (r["t_complete_ns"] - r["t_arrival_ns"]) / 1e6
        gap = gaps[c] / 1e6
        fr = frames.get((r["client"], c))
        if not t.check(fr is not None and "req_last" in fr, f"corr {c}: in the capture"):
            continue
        wire = (fr["req_last"] - fr["req_first"]) / 1e6
        errs.append(recv - wire)
        holds.append(wire - gap)
        t.check(abs(recv - wire) <= 3.0 and recv >= gap,
                f"corr {c}: recv (t_complete - t_arrival) {recv:.3f} ms, the capture's first -> "
                f"last request segment {wire:.3f} ms: within 3 ms; >= the client's gap "
                f"between its writes {gap:.3f} ms")
        t.check(r["t_complete_ns"] <= r["t_read_ns"],
                f"corr {c}: t_complete <= t_read")
        ph = r.get("phases_us") or {}
        t.check(abs(ph.get("recv", -1e9) / 1e3 - wire) <= 3.0,
                f"corr {c}: phases_us.recv {ph.get('recv')} us is the capture's first -> last "
                f"request segment {wire:.3f} ms within 3 ms (read {ph.get('read')} us: the "
                f"broker read the first part as it came, then waited for the rest)")
    if errs:
        print(f"  info recv - capture: median {statistics.median(errs) * 1e3:.1f} us, "
              f"worst {max(errs, key=abs) * 1e3:.1f} us; the capture's time over the client's "
              f"gap (Nagle's wait for the ACK): median {statistics.median(holds):.3f} ms, "
              f"max {max(holds):.3f} ms")


def send_queue(t):
    print("-- send_queue: a client that stops reading its responses")
    b, port = tinybroker.start_delayed(t, 0, 0, PAD)
    k = t.kafkalat(b.pid, [port])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        time.sleep(0.1)  # accepted with nothing waiting: every arrival is seen
        for i in range(K):
            s.sendall(produce_v3(i, 0, 2))
        time.sleep(STALL_S)
        t_resume = time.monotonic_ns()
        buf = b""
        for i in range(K):
            corr, buf = read_response(s, buf)
            t.eq(corr, i, f"response {i}", fatal=True)
    finally:
        s.close()
    summary, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, summary)
    reqs.sort(key=lambda r: r["corr"])
    t.eq([r["corr"] for r in reqs], list(range(K)), "request lines")
    t.eq(summary["kernel"]["sent_later"], K, "kernel.sent_later (every response)")
    t.check(all(r["t_end_ns"] < t_resume for r in reqs),
            "every response's last write returned before the client resumed reading")
    t.eq([r["corr"] for r in reqs if r["t_sent_ns"] is None], [],
         "responses with t_sent unknown (sent after the write: needs KLT_EV_SENT)")
    sq = []
    for r in reqs:
        if r["t_sent_ns"] is None:
            continue
        q = (r["t_sent_ns"] - r["t_end_ns"]) / 1e6
        sq.append(q)
        t.check(q >= 400, f"corr {r['corr']}: t_sent - t_end {q:.3f} ms >= 400 ms "
                          f"(stalled {STALL_S * 1000:.0f} ms)")
        ph = (r.get("phases_us") or {}).get("send_queue")
        t.check(ph is not None and abs(ph / 1e3 - q) < 0.01,
                f"corr {r['corr']}: phases_us.send_queue {ph} us = t_sent - t_end")
        late = (r["t_sent_ns"] - t_resume) / 1e6
        t.check(late >= -1.0, f"corr {r['corr']}: t_sent {late:.3f} ms after the client "
                              f"resumed reading (>= -1 ms)")
    sent = [r["t_sent_ns"] for r in reqs if r["t_sent_ns"] is not None]
    t.check(sent == sorted(sent), "t_sent in the order of the responses")
    if sq:
        print(f"  info send_queue: median {statistics.median(sq):.3f} ms, "
              f"min {min(sq):.3f} ms, max {max(sq):.3f} ms")


def test(t):
    recv_phase(t)
    send_queue(t)


main(test)

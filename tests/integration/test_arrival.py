#!/usr/bin/python3
"""Wire times against a broker that delays its responses: a client pipelines
K Produce requests at once; the broker (tinybroker's delayed one) waits for
a request to be readable, reads it (4 bytes, then the rest, as the JVM
does), sleeps DELAY_MS, answers, then reads the next. So request i of a
batch waits in the socket about i * DELAY before the broker's first read of
it: the time kafkalat's t_first_ns misses and t_arrival_ns shows. Checked
per request: t_arrival <= t_first (the broker reads only readable data),
t_complete <= t_read, t_sent = t_end (the broker writes with TCP_NODELAY and
a client that reads, so the response leaves during the write) except for a
response too big for a client that reads it late (t_sent when it left,
after the client read); each request of a batch waited in the socket more
than a DELAY longer than the one before it. With the causes traced, request
i of a batch has phases_us.socket_wait = t_first - t_complete >= i * DELAY,
of which the head-of-line part is exactly from its last byte's arrival to
request i - 1's response leaving (>= i * DELAY), behind request i - 1, the
root of that wait followed back to the batch's first request; the rest is
the broker's thread between answering one request and reading the next. A
second connection, accepted before kafkalat attached, has its first batch's
arrivals unknown (null: they were already in the socket when kafkalat first
saw it), and its later batches exact."""
import socket
import statistics
import time

import tinybroker
from lib import check_summary_clean, hol_of, main
from tinybroker import produce_v3, read_response

DELAY_MS = 20
K = 5
ROUNDS = 4
BIG_CORR = 5000  # answered with BIG_PAD more bytes than the client can take
BIG_PAD = 128 << 10
LAZY_S = 0.3  # how long the client with the big response waits to read it


def batch(s, base, together=False):
    """K pipelined requests, each sent on its own (together: in one send, so
    all have arrived before the broker reads the first), then their K
    responses."""
    reqs = [produce_v3(base + i, 0, 2) for i in range(K)]
    for r in [b"".join(reqs)] if together else reqs:
        s.sendall(r)
    buf = b""
    for i in range(K):
        corr, buf = read_response(s, buf)
        if corr != base + i:
            raise RuntimeError(f"response {corr}, want {base + i}")


def client(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def hol_checks(t, rnd, rs, over, gaps):
    """socket_wait and its head-of-line part, per request of a batch: exact
    against the request's and its predecessor's times, and at least i x
    DELAY for request i. over and gaps collect socket_wait - i x DELAY and
    the part that was not head-of-line (the broker's thread between
    answering one request and reading the next)."""
    base = rs[0]["corr"]
    for i, r in enumerate(rs):
        c = r["corr"]
        sw = (r.get("phases_us") or {}).get("socket_wait")
        if not t.check(sw is not None, f"corr {c}: phases_us.socket_wait present"):
            continue
        own = (r["t_first_ns"] - r["t_complete_ns"]) / 1e3
        t.check(abs(sw - own) < 0.01, f"corr {c}: socket_wait {sw} us = t_first - t_complete")
        over.append(sw / 1e3 - i * DELAY_MS)
        h = hol_of(r)
        if i == 0:
            t.eq(h, None, f"corr {c}: no head-of-line wait (nothing in flight before it)")
            continue
        if not t.check(h is not None, f"corr {c}: a head-of-line wait"):
            continue
        prev = rs[i - 1]
        want = (prev["t_sent_ns"] - r["t_complete_ns"]) / 1e3
        t.check(abs(h[0] - want) < 0.01 and h[0] >= i * DELAY_MS * 1000 - 100,
                f"round {rnd}: request {i}: head-of-line {h[0] / 1e3:.3f} ms of its "
                f"{sw / 1e3:.3f} ms socket_wait = its last byte's arrival -> corr {c - 1}'s "
                f"response leaving, >= {i} x {DELAY_MS} ms")
        t.check(h[1] == c - 1 and h[3] == base,
                f"round {rnd}: request {i} behind corr {h[1]} (want {c - 1}), rooted in corr "
                f"{h[3]} (want {base}, the batch's first; root cause {h[2]})")
        gaps.append(sw / 1e3 - h[0] / 1e3)


def test(t):
    b, port = tinybroker.start_delayed(t, DELAY_MS, BIG_CORR, BIG_PAD)

    # accepted, and a batch answered, before kafkalat attaches
    old = client(port)
    batch(old, 1000)
    k = t.kafkalat(b.pid, [port])
    new = client(port)
    time.sleep(0.1)  # accepted with no bytes waiting: every arrival is seen
    for r in range(ROUNDS):
        batch(new, 100 * r)
        batch(old, 1000 + 100 * (r + 1), together=(r == 0))
        time.sleep(0.05)
    # a client with a tiny receive window that reads its response late: the
    # broker's write returns with most of the response still in its socket
    lazy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lazy.connect(("127.0.0.1", port))
    time.sleep(0.1)
    lazy.sendall(produce_v3(BIG_CORR, 0, 2))
    time.sleep(LAZY_S)
    corr, _ = read_response(lazy, b"")
    t.eq(corr, BIG_CORR, "the big response")
    lazy.close()
    new.close()
    old.close()
    summary, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, summary)
    t.eq(len(reqs), 2 * ROUNDS * K + 1, "request lines")
    for r in reqs:
        for f in ("t_arrival_ns", "t_complete_ns", "t_sent_ns"):
            t.check(f in r, f"corr {r['corr']}: {f} present", fatal=True)

    fresh = sorted((r for r in reqs if r["corr"] < 1000), key=lambda r: r["corr"])
    t.eq(len(fresh), ROUNDS * K, "requests of the connection accepted after attach")
    t.eq([r["corr"] for r in fresh if r["t_arrival_ns"] is None or r["t_complete_ns"] is None],
         [], "requests accepted after attach with an unknown arrival")
    for r in reqs:
        c = r["corr"]
        if r["t_arrival_ns"] is not None:
            t.check(r["t_arrival_ns"] <= r["t_complete_ns"] <= r["t_read_ns"],
                    f"corr {c}: t_arrival {r['t_arrival_ns']} <= t_complete "
                    f"{r['t_complete_ns']} <= t_read {r['t_read_ns']}")
            t.check(r["t_arrival_ns"] <= r["t_first_ns"],
                    f"corr {c}: t_arrival {r['t_arrival_ns']} <= t_first {r['t_first_ns']}")
        if c == BIG_CORR:
            late = (r["t_sent_ns"] - r["t_end_ns"]) / 1e6 if r["t_sent_ns"] else None
            t.check(late is not None and late >= LAZY_S * 1000 - 50,
                    f"corr {c}: t_sent {late} ms after t_end (left once the client read, "
                    f"{LAZY_S * 1000:.0f} ms after it sent: >= {LAZY_S * 1000 - 50:.0f} ms)")
        else:
            t.eq(r["t_sent_ns"], r["t_end_ns"], f"corr {c}: t_sent = t_end (sent during the write)")
    # the socket wait grows by at least one delay per request ahead in the
    # batch; by how much more (Python and scheduling, which a loaded machine
    # stretches) is measured, and told apart from the head-of-line wait
    over, gaps = [], []
    for rnd in range(ROUNDS):
        batch_reqs = fresh[rnd * K:(rnd + 1) * K]
        waits = [(r["t_first_ns"] - r["t_arrival_ns"]) / 1e6 for r in batch_reqs]
        t.check(waits[0] < 1.0, f"round {rnd}: first request waited {waits[0]:.3f} ms < 1 ms")
        for i in range(1, K):
            step = waits[i] - waits[i - 1]
            t.check(step > DELAY_MS - 0.1,
                    f"round {rnd}: request {i} waited {waits[i]:.3f} ms, {step:.3f} ms more "
                    f"than request {i - 1} (a {DELAY_MS} ms delay): > {DELAY_MS - 0.1} ms")
        t.check(waits[-1] >= (K - 1) * DELAY_MS - 0.1,
                f"round {rnd}: last request waited {waits[-1]:.3f} ms >= {(K - 1) * DELAY_MS} ms")
        hol_checks(t, rnd, batch_reqs, over, gaps)
    if over and gaps:
        print(f"  info socket_wait - i x {DELAY_MS} ms: median {statistics.median(over):.3f} ms, "
              f"max {max(over):.3f} ms; not head-of-line (the broker between requests): median "
              f"{statistics.median(gaps):.3f} ms, max {max(gaps):.3f} ms")

    # the connection open before attach: its first batch after attach was
    # already waiting (sent at once) when kafkalat first saw the broker read it
    old_reqs = sorted((r for r in reqs if 1000 <= r["corr"] < BIG_CORR), key=lambda r: r["corr"])
    t.eq([r["t_arrival_ns"] for r in old_reqs[:K]], [None] * K,
         "first batch of the connection open before attach: arrival unknown")
    t.eq([r["corr"] for r in old_reqs[K:] if r["t_arrival_ns"] is None], [],
         "its later batches with an unknown arrival")
    # and the summary counts them, and nothing else
    t.eq(summary["kernel"]["arrival_unknown"], K, "kernel.arrival_unknown")
    t.eq(summary["kernel"]["sent_later"], 1, "kernel.sent_later (the big response)")
    t.check(summary["kernel"]["arrivals"] >= 2 * ROUNDS * K - K,
            f"kernel.arrivals {summary['kernel']['arrivals']} >= {2 * ROUNDS * K - K}")


main(test)

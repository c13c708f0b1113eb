#!/usr/bin/python3
"""A socket whose stream is not plain TCP's gets no wire times, and says so.
tinybroker.py --sockmap puts each accepted socket in a BPF sockmap before it
reads it, as a sockmap-based proxy would (kTLS is the other case: the same
check, icsk_ulp_ops, but this kernel has no tls module). kafkalat still frames
and matches every request, flags the connection, counts it, and gives its
requests no arrival or sent time rather than a wrong one."""
import socket

import tinybroker
from lib import check_summary_clean, main
from tinybroker import produce_v3, read_response

REQUESTS = 50


def test(t):
    b, port = tinybroker.start(t, "--sockmap")
    k = t.kafkalat(b.pid, [port])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        buf = b""
        for corr in range(REQUESTS):
            s.sendall(produce_v3(corr, 0, 1, b"sockmap-test"))
            c, buf = read_response(s, buf)
            t.check(c == corr, f"response {corr} in order", fatal=c != corr)
    s, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, s)
    t.eq(s["produce"]["requests"], REQUESTS, "produce.requests: framed and matched")
    t.eq(s["kernel"].get("wire_skipped"), 1, "kernel.wire_skipped: the sockmap connection")
    t.eq(sum(1 for r in reqs if r["t_arrival_ns"] is None and r["t_sent_ns"] is None), REQUESTS,
         "requests without arrival or sent time")


if __name__ == "__main__":
    main(test)

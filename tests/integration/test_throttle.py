#!/usr/bin/python3
"""A quota throttle, named. The delayed tinybroker answers each Produce
request at once with throttle_time_ms = THROTTLE_MS and then reads nothing
from the connection for that long, as Kafka mutes a throttled client's
channel. A client pipelines K requests. Request i > 0 of a batch waits in
the socket behind request i - 1 (head-of-line, up to that response leaving)
and then through i - 1's mute: kafkalat reads the throttle from the end of
each Produce response (the kernel keeps its last bytes), shows it on the
response's line ("throttle_ms"), and counts the next request's wait inside
the mute as throttle_mute, not as the network thread's or unknown."""
import socket

import tinybroker
from lib import check_summary_clean, main
from tinybroker import produce_v3, read_response

THROTTLE_MS = 30
K = 4
ROUNDS = 3


def test(t):
    b, port = tinybroker.start_delayed(t, 0, -1, 0, THROTTLE_MS)
    k = t.kafkalat(b.pid, [port])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for rnd in range(ROUNDS):
            base = 100 * rnd
            s.sendall(b"".join(produce_v3(base + i, 0, 1) for i in range(K)))
            buf = b""
            for i in range(K):
                corr, buf = read_response(s, buf)
                t.check(corr == base + i, f"response {corr} in order", fatal=corr != base + i)
    s, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, s)
    t.eq(len(reqs), K * ROUNDS, "request lines")
    t.eq(sorted({r.get("throttle_ms") for r in reqs}), [THROTTLE_MS],
         "every response's throttle_ms, read from its last bytes")
    by_corr = {r["corr"]: r for r in reqs}
    for rnd in range(ROUNDS):
        for i in range(1, K):
            r = by_corr[100 * rnd + i]
            causes = r.get("causes_us") or {}
            mute = causes.get("throttle_mute", 0)
            wait = (r.get("phases_us") or {}).get("socket_wait", 0)
            other = wait - mute - causes.get("hol", 0)
            # the mute starts when the previous response left: all of it is
            # in this request's socket wait, which the broker ends by reading
            # this request as soon as the mute is over
            t.check(THROTTLE_MS * 1000 * 0.97 <= mute <= THROTTLE_MS * 1000 * 1.2,
                    f"round {rnd} request {i}: throttle_mute {mute / 1e3:.3f} ms of a "
                    f"{THROTTLE_MS} ms throttle (socket_wait {wait / 1e3:.3f} ms)")
            t.check(other <= 3000, f"round {rnd} request {i}: {other / 1e3:.3f} ms of the socket "
                                   f"wait neither head-of-line nor throttle (<= 3 ms)")


if __name__ == "__main__":
    main(test)

#!/usr/bin/python3
"""A pipelined Produce request whose body arrives in two reads, with the
response to the previous request written in between (what the mock cluster
does under load with large batches, made deterministic with tinybroker):
request A and the first part of B (up to and including B's topic name) are
sent together; tinybroker reads them, answers A; then the rest of B is sent.
kafkalat must still report B with its topic and partition."""
import socket

import tinybroker
from lib import check_request_lines, check_summary_clean, main
from tinybroker import produce_v3, read_response

ROUNDS = 20


def test(t):
    broker, port = tinybroker.start(t)
    k = t.kafkalat(broker.pid, [port])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        buf = b""
        for i in range(ROUNDS):
            a = produce_v3(2 * i, 0, 3, topic=b"topic-a")
            b = produce_v3(2 * i + 1, 1, 5, topic=b"topic-b")
            cut = b.index(b"topic-b") + len(b"topic-b") + 2  # into the partition array
            s.sendall(a + b[:cut])
            corr, buf = read_response(s, buf)  # A answered before B is complete
            t.eq(corr, 2 * i, f"round {i}: A answered before B is complete", fatal=True)
            s.sendall(b[cut:])
            corr, buf = read_response(s, buf)
            t.eq(corr, 2 * i + 1, f"round {i}: B answered", fatal=True)
    summary, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, summary)
    t.eq(summary["produce"]["requests"], 2 * ROUNDS, "produce.requests")
    t.eq(check_request_lines(t, reqs, {"topic-a", "topic-b"}), ROUNDS * 8, "records")
    got = sorted((r["corr"], [(p["topic"], p["partition"], p["records"]) for p in r["partitions"]])
                 for r in reqs)
    want = [(c, [("topic-a", 0, 3)] if c % 2 == 0 else [("topic-b", 1, 5)])
            for c in range(2 * ROUNDS)]
    bad = [g for g, w in zip(got, want) if g != w]
    t.check(not bad, f"every request has its own topic and partition"
                     + (f" ({len(bad)} wrong, e.g. {bad[:2]})" if bad else ""))


main(test)

#!/usr/bin/python3
"""(f) IPv6 clients. The mock cluster listens on 127.0.0.1 only, so the broker
here is tinybroker.py (a Kafka-framed server on [::], dual stack). Pipelined
Produce v3 requests (5 in flight) come from an IPv6 client on ::1 and from an
IPv4 client (a v4-mapped address on the IPv6 socket); kafkalat must decode
and match all of them and name each client by its address and port."""
import socket

import tinybroker
from lib import check_request_lines, check_summary_clean, main
from tinybroker import produce_v3, read_response

REQUESTS = 200
IN_FLIGHT = 5


def produce(t, host, port):
    """Sends REQUESTS Produce requests (i % 4 + 1 records each), IN_FLIGHT at a
    time; returns the client address kafkalat should report and the records."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect((host, port))
        local = s.getsockname()
        buf, records, answered = b"", 0, []
        for corr in range(REQUESTS):
            s.sendall(produce_v3(corr, corr % 4, corr % 4 + 1, b"ipv6-test"))
            records += corr % 4 + 1
            if corr >= IN_FLIGHT - 1:
                c, buf = read_response(s, buf)
                answered.append(c)
        while len(answered) < REQUESTS:
            c, buf = read_response(s, buf)
            answered.append(c)
    t.eq(answered, list(range(REQUESTS)), f"{host}: tinybroker answered every request in order")
    addr = f"[{local[0]}]:{local[1]}" if fam == socket.AF_INET6 else f"{local[0]}:{local[1]}"
    return addr, records


def test(t):
    b, port = tinybroker.start(t)
    k = t.kafkalat(b.pid, [port])
    v6_addr, v6_records = produce(t, "::1", port)
    v4_addr, v4_records = produce(t, "127.0.0.1", port)
    s, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, s)
    t.eq(s["produce"]["requests"], 2 * REQUESTS, "produce.requests")
    t.eq(check_request_lines(t, reqs, {"t"}), v6_records + v4_records, "records over --requests")
    clients = {r["client"] for r in reqs}
    t.check(v6_addr in clients, f"IPv6 client named {v6_addr} ({sorted(clients)})")
    v4_named = {v4_addr, f"[::ffff:{v4_addr.split(':')[0]}]:{v4_addr.split(':')[1]}"}
    t.check(bool(v4_named & clients), f"IPv4 client on the dual-stack socket named "
                                      f"{' or '.join(sorted(v4_named))}")
    t.eq(len(clients), 2, "two clients")
    t.check(all(r["api_version"] == 3 and r["acks"] == 1 and r["client_id"] == "ipv6-test"
                and [(p["partition"], p["records"]) for p in r["partitions"]]
                == [(r["corr"] % 4, r["corr"] % 4 + 1)] for r in reqs),
            "every request decoded exactly (version 3, acks 1, client id, partition, records)")


main(test)

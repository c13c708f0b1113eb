#!/usr/bin/python3
"""(d) Non-Kafka bytes (an HTTP request: its first 4 bytes read as a frame size
of ~1.2 GB) and a real TLS ClientHello (Python's ssl module) sent to the
broker's port while a normal producer runs: exactly those two connections are
undecodable, with reasons tls and bad_frame_size/bad_request_header; the
producer's requests are all still decoded; nothing crashes."""
import json
import socket
import ssl
import time

from lib import KAFKALAT, check_request_lines, check_summary_clean, main

N = 10000
RATE = 5000  # 2 s of production: the bad connections arrive in the middle


def tls_hello(port):
    """Sends a real TLS ClientHello; the handshake is abandoned after 0.5 s
    (the broker never answers it)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    with ssl.create_default_context().wrap_socket(raw, server_hostname="broker",
                                                  do_handshake_on_connect=False) as tls:
        try:
            tls.do_handshake()
        except (OSError, ssl.SSLError):  # timeout, or the broker closed it
            pass


def http(port):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: broker\r\n\r\n")
        time.sleep(0.3)


def test(t):
    mc, boot, pid, ports = t.mockcluster()
    k = t.kafkalat(pid, ports)
    load = t.spawn([KAFKALAT, "load", "-b", boot, "-t", "t", "--count", N, "--rate", RATE,
                    "--json", "-q"], "load")
    time.sleep(0.5)
    http(ports[0])
    tls_hello(ports[0])
    t.eq(t.wait(load, 30), 0, "producer exit status (all delivered)")
    t.check(mc.poll() is None, "mock cluster still running")
    out = t.output(load)[0]
    sent = json.loads(out.strip().splitlines()[-1])["produce_requests"]
    s, reqs = t.stop_kafkalat(k)
    u = s["undecodable"]
    t.eq(u["connections"], 2, "undecodable.connections")
    t.eq(u["reasons"].get("tls"), 1, f"undecodable.reasons.tls ({u['reasons']})")
    other = u["reasons"].get("bad_frame_size", 0) + u["reasons"].get("bad_request_header", 0)
    t.eq(other, 1, "undecodable.reasons bad_frame_size + bad_request_header")
    t.eq(sum(u["reasons"].values()), 2, "no other reason")
    s["undecodable"]["connections"] = 0  # checked above; the rest must be clean
    check_summary_clean(t, s)
    t.eq(s["produce"]["requests"], sent, "produce.requests == librdkafka's")
    t.eq(s["produce"]["records"], N, "produce.records")
    t.eq(check_request_lines(t, reqs, {"t"}), N, "records summed over --requests lines")
    t.check(s["connections"]["seen"] >= 3, f"connections.seen {s['connections']['seen']} >= 3")
    print(f"  info reasons {u['reasons']}, {sent} produce requests decoded, "
          f"{s['connections']['seen']} connections")


main(test)

#!/usr/bin/python3
"""A tiny Kafka-framed server for the IPv6 test: it listens on [::] (dual
stack), answers every request frame in order with its correlation id, and
Produce (v3) with a proper response. Usage: tinybroker.py PORT_FILE.
Writes the port to PORT_FILE once listening; runs until killed."""
import os
import socket
import struct
import sys
import threading


def produce_response(body):
    """Produce v3 response body for the topics/partitions of a v3 request."""
    pos = 2 + struct.unpack_from(">h", body, 0)[0] if body[:2] != b"\xff\xff" else 2
    pos += 6  # acks, timeout
    out, (ntopics,) = [], struct.unpack_from(">i", body, pos)
    pos += 4
    out.append(struct.pack(">i", ntopics))
    for _ in range(ntopics):
        (n,) = struct.unpack_from(">h", body, pos)
        name = body[pos + 2:pos + 2 + n]
        pos += 2 + n
        (nparts,) = struct.unpack_from(">i", body, pos)
        pos += 4
        out.append(struct.pack(">h", n) + name + struct.pack(">i", nparts))
        for _ in range(nparts):
            part, size = struct.unpack_from(">ii", body, pos)
            pos += 8 + size
            out.append(struct.pack(">ihqq", part, 0, 0, -1))
    out.append(struct.pack(">i", 0))  # throttle_time_ms
    return b"".join(out)


def serve(conn):
    buf = b""
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while len(buf) >= 4 and len(buf) >= 4 + struct.unpack_from(">i", buf)[0]:
                (size,) = struct.unpack_from(">i", buf)
                frame, buf = buf[4:4 + size], buf[4 + size:]
                api_key, _, corr, cid_len = struct.unpack_from(">hhih", frame)
                body = frame[10 + max(cid_len, 0):]
                resp = struct.pack(">i", corr)
                if api_key == 0:
                    resp += produce_response(body)
                conn.sendall(struct.pack(">i", len(resp)) + resp)


def main():
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind(("::", 0))
    srv.listen(16)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{srv.getsockname()[1]}\n")
    os.rename(tmp, sys.argv[1])
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()

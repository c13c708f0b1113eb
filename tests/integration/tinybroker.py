#!/usr/bin/python3
"""A tiny Kafka-framed broker for tests the mock cluster cannot do: it listens
on [::] (dual stack: IPv6 and v4-mapped clients), answers every request frame
as soon as it is read, in order, with its correlation id, and Produce v3 with
a proper response. Run as `tinybroker.py PORT_FILE` (writes the port there
once listening; runs until killed). With --sockmap, each accepted socket is
put in a BPF sockmap (no programs) before it is read: the kernel then gives it
a psock, as a sockmap-based proxy would. Imported, it gives tests a client
side: start(), produce_v3(), read_response().

`tinybroker.py --delayed PORT_FILE DELAY_MS PAD_FROM PAD THROTTLE_MS`
(start_delayed()) is a broker that times the wire instead: it reads one
request at a time as Kafka does (waits for it to be readable, reads 4 bytes
then the rest), sleeps DELAY_MS, answers, and only then reads the next, so
pipelined requests wait in its socket. Requests with a correlation id >=
PAD_FROM (-1: none) are answered with PAD more bytes, a response its write
leaves in a socket send buffer big enough to take it at once (4 MiB) when
the client does not read. Produce responses carry throttle_time_ms =
THROTTLE_MS, and after each the broker reads nothing for that long, as Kafka
mutes a throttled client's channel."""
import ctypes
import os
import select
import socket
import struct
import sys
import threading
import time


def start(t, *args):
    """Starts the broker under Run t (args: its options); returns (process, port)."""
    port_file = t.path("tinybroker.port")
    b = t.spawn([sys.executable, os.path.abspath(__file__), port_file, *args], "tinybroker")
    return b, t.port_from_file(b, port_file, "tinybroker listens")


def start_delayed(t, delay_ms, pad_from=-1, pad=0, throttle_ms=0):
    """Starts the delayed broker under Run t; returns (process, port)."""
    port_file = t.path("delayed.port")
    b = t.spawn([sys.executable, os.path.abspath(__file__), "--delayed", port_file, delay_ms,
                 pad_from, pad, throttle_ms], "delayed-broker")
    return b, t.port_from_file(b, port_file, "the delayed broker listens")


def record_batch(records):
    """A record batch v2 header (61 bytes up to recordsCount) and filler for
    the records: kafkalat reads only the header."""
    filler = b"\0" * (10 * records)
    rest = struct.pack(">ibihiqqqhii", 0, 2, 0, 0, records - 1, 0, 0, -1, -1, -1, records)
    return struct.pack(">qi", 0, len(rest) + len(filler)) + rest + filler


def produce_v3(corr, partition, records, client_id=b"tinybroker-test", topic=b"t"):
    """One Produce v3 request frame (acks 1), one topic, one partition."""
    batch = record_batch(records)
    body = (struct.pack(">hhi", -1, 1, 30000) + struct.pack(">i", 1) +
            struct.pack(">h", len(topic)) + topic + struct.pack(">i", 1) +
            struct.pack(">ii", partition, len(batch)) + batch)
    frame = struct.pack(">hhih", 0, 3, corr, len(client_id)) + client_id + body
    return struct.pack(">i", len(frame)) + frame


def read_response(sock, buf):
    """Reads one response frame; returns (correlation id, what is left in buf)."""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">i", buf)[0]:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("broker closed the connection")
        buf += data
    size = struct.unpack_from(">i", buf)[0]
    return struct.unpack_from(">i", buf, 4)[0], buf[4 + size:]


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


SO_SNDBUFFORCE = 32


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        data = conn.recv(n - len(buf))
        if not data:
            return None
        buf += data
    return buf


def serve_delayed(conn, delay, pad_from, pad, throttle_ms):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20)
    with conn:
        while True:
            select.select([conn], [], [])  # read only what has arrived
            head = recv_exact(conn, 4)
            if head is None:
                return
            frame = recv_exact(conn, struct.unpack(">i", head)[0])
            if frame is None:
                return
            api_key, _, corr, cid_len = struct.unpack_from(">hhih", frame)
            resp = struct.pack(">i", corr)
            if api_key == 0:
                # Produce v1+ ends with throttle_time_ms
                resp += produce_response(frame[10 + max(cid_len, 0):])[:-4]
                resp += struct.pack(">i", throttle_ms)
            if 0 <= pad_from <= corr:
                resp += b"\0" * pad
            time.sleep(delay)
            conn.sendall(struct.pack(">i", len(resp)) + resp)
            if api_key == 0 and throttle_ms:
                time.sleep(throttle_ms / 1000)  # muted, as Kafka mutes a throttled channel


def delayed(port_file, delay_ms, pad_from, pad, throttle_ms):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(port_file + ".tmp", "w") as f:
        f.write(f"{srv.getsockname()[1]}\n")
    os.rename(port_file + ".tmp", port_file)
    while True:
        select.select([srv], [], [])  # accept() only once a client is there
        conn, _ = srv.accept()
        threading.Thread(target=serve_delayed,
                         args=(conn, delay_ms / 1000, pad_from, pad, throttle_ms),
                         daemon=True).start()


SYS_BPF = 321  # x86_64
BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM = 0, 2
BPF_MAP_TYPE_SOCKMAP = 15


def bpf(cmd, attr):
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.syscall(SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if r < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({cmd}): {os.strerror(err)}")
    return r


def sockmap_create(entries):
    """A BPF sockmap (u32 key, socket fd value) with no programs attached."""
    attr = (ctypes.c_uint32 * 16)()
    attr[0:4] = [BPF_MAP_TYPE_SOCKMAP, 4, 4, entries]
    return bpf(BPF_MAP_CREATE, attr)


def sockmap_put(map_fd, slot, sock_fd):
    key, value = ctypes.c_uint32(slot), ctypes.c_uint32(sock_fd)
    attr = (ctypes.c_uint64 * 6)()
    attr[0] = map_fd
    attr[1] = ctypes.addressof(key)
    attr[2] = ctypes.addressof(value)
    attr[3] = 0  # BPF_ANY
    bpf(BPF_MAP_UPDATE_ELEM, attr)


def main():
    if sys.argv[1] == "--delayed":
        delayed(sys.argv[2], *map(int, sys.argv[3:7]))
        return
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind(("::", 0))
    srv.listen(16)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{srv.getsockname()[1]}\n")
    sockmap = sockmap_create(64) if "--sockmap" in sys.argv[2:] else None
    slot = 0
    os.rename(tmp, sys.argv[1])
    while True:
        conn, _ = srv.accept()
        if sockmap is not None:
            sockmap_put(sockmap, slot % 64, conn.fileno())
            slot += 1
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()

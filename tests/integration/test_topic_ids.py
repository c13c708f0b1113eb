#!/usr/bin/python3
"""Produce v13 names topics by id only (KIP-516). kafkalat learns each id from
the partition directory's partition.metadata, as the reference broker (and
Apache Kafka) writes it, and attributes v13 requests like any other: raw v13
requests, built here with valid record batches, to the reference broker,
all matched to their segment writes under the topic's name, live and in the
replay of the run's dump."""
import base64
import json
import os
import socket
import struct
import subprocess

from lib import KAFKALAT, Failure, crc32c, main

TOPIC = "v13"
WARMUP = 20  # librdkafka's own Produce v7 requests: they create the topic
N = 300      # raw Produce v13 requests


def uvarint(v):
    out = b""
    while True:
        if v < 0x80:
            return out + bytes([v])
        out += bytes([v & 0x7F | 0x80])
        v >>= 7


def varint(v):
    return uvarint((v << 1) ^ (v >> 63))


def record_batch(values):
    """A record batch v2 with a valid CRC-32C, one record per value."""
    recs = b""
    for i, val in enumerate(values):
        body = (b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(val)) + val +
                uvarint(0))
        recs += varint(len(body)) + body
    after_crc = (struct.pack(">hiqqqhii", 0, len(values) - 1, 0, 0, -1, -1, -1, len(values)) +
                 recs)
    head = struct.pack(">ib", 0, 2) + struct.pack(">I", crc32c(after_crc))
    batch = head + after_crc
    return struct.pack(">qi", 0, len(batch)) + batch


def produce_v13(corr, topic_id, partition, batch, client_id=b"v13-test"):
    """One Produce v13 frame (flexible, header v2), acks 1, one partition."""
    header = struct.pack(">hhih", 0, 13, corr, len(client_id)) + client_id + uvarint(0)
    body = (uvarint(0) + struct.pack(">hi", 1, 30000) + uvarint(2) + topic_id + uvarint(2) +
            struct.pack(">i", partition) + uvarint(len(batch) + 1) + batch + uvarint(0) +
            uvarint(0) + uvarint(0))
    frame = header + body
    return struct.pack(">i", len(frame)) + frame


def read_frame(sock, buf):
    while len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">i", buf)[0]:
        data = sock.recv(65536)
        if not data:
            raise Failure("the broker closed the connection")
        buf += data
    size = struct.unpack_from(">i", buf)[0]
    return buf[4:4 + size], buf[4 + size:]


def v13_error(resp, topic_id):
    """The partition error code of a one-topic, one-partition v13 response."""
    # correlation id, header tags, topics array (compact: 2), topic id, partitions (2)
    if resp[4] != 0 or resp[5] != 2 or resp[6:22] != topic_id or resp[22] != 2:
        raise Failure(f"unexpected v13 response layout: {resp[:32].hex()}")
    return struct.unpack_from(">h", resp, 27)[0]


def test(t):
    broker, port, logdir = t.refbroker()
    dump = t.path("run.dump")
    k = t.kafkalat(broker.pid, [port], "--dump-events", dump)
    t.load(f"127.0.0.1:{port}", "-t", TOPIC, "--partitions", 4, "--count", WARMUP,
           "-X", "linger.ms=0", "-X", "batch.num.messages=1", messages=False)
    with open(os.path.join(logdir, f"{TOPIC}-0", "partition.metadata")) as f:
        text = f.read()
    t.check(text.startswith("version: 0\ntopic_id: "), f"partition.metadata as Kafka's: {text!r}",
            fatal=True)
    topic_id = base64.urlsafe_b64decode(text.split("topic_id: ")[1].strip() + "==")
    t.eq(len(topic_id), 16, "topic id bytes", fatal=True)
    errors = out_of_order = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        buf = b""
        for i in range(N):
            batch = record_batch([b"value-%05d" % i] * (1 + i % 3))
            s.sendall(produce_v13(1000 + i, topic_id, i % 4, batch))
            resp, buf = read_frame(s, buf)
            out_of_order += struct.unpack_from(">i", resp)[0] != 1000 + i
            errors += v13_error(resp, topic_id) != 0
    t.eq(out_of_order, 0, "v13 responses out of order")
    t.eq(errors, 0, f"the broker took all {N} v13 requests")
    summary, reqs = t.stop_kafkalat(k)
    att = summary["attribution"]
    t.eq(summary["produce"]["requests"], WARMUP + N, "produce requests seen")
    t.eq(att["requests"], WARMUP + N, "produce requests attributed")
    t.eq(att["unmatched"]["requests"], 0, f"none unmatched ({att['unmatched']})")
    t.check(att["topic_ids"] >= 1, f"topic ids learnt: {att['topic_ids']} >= 1")
    t.eq(att["unknown_topic_ids"], 0, "request topics with an unknown id")
    v13 = [r for r in reqs if r.get("api_version") == 13]
    t.eq(len(v13), N, "v13 request lines")
    named = sum(all(p["topic"] == TOPIC for p in r["partitions"]) for r in v13)
    t.eq(named, N, f"v13 requests reported under the topic's name {TOPIC!r}")
    handled = sum(bool(r.get("handler_tid")) and r.get("attrib") == "matched" for r in v13)
    t.eq(handled, N, "v13 requests matched to a handler's append")
    p = subprocess.run([KAFKALAT, "replay", "-j", dump], capture_output=True, text=True,
                       timeout=60)
    t.eq(p.returncode, 0, f"replay exit status ({p.stderr.strip()[-200:]!r})", fatal=True)
    rep = json.loads(p.stdout.strip().splitlines()[-1])["attribution"]
    t.eq(rep["requests"], att["requests"], "replay: attributed as live")
    t.eq(rep["unmatched"]["requests"], 0, "replay: none unmatched")
    t.eq(rep["topic_ids"], att["topic_ids"], "replay: topic ids from the dump")


if __name__ == "__main__":
    main(test)

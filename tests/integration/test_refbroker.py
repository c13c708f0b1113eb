#!/usr/bin/python3
"""The reference broker (tests/broker/, build/refbroker-san under ASan/UBSan),
without kafkalat attached: in both I/O styles, kafkalat load (acks 1, all, 0),
kcat and kafka-python deliver; every acknowledged message is in the segment
files at its offset (batches read back, CRC-32C checked, record counts and
base offsets cover the acknowledged offsets, offsets contiguous); segments
roll; the ground truth has one line per request with monotonic phase times.
Garbage, bad frame sizes, a TLS ClientHello and abrupt disconnects close only
their connection while a producer alongside delivers everything. Then each
fault flag changes the ground truth as it should."""
import glob
import os
import re
import socket
import statistics
import struct
import threading
import time

import kafka

from lib import crc32c, main, read_jsonl

MS = 1000000


def read_partition(t, pdir, seg_bytes, bad):
    """Batches of one partition directory: [(base, last, records)]; checks CRCs,
    contiguity, segment names and sizes."""
    batches = []
    segs = sorted(glob.glob(os.path.join(pdir, "*.log")))
    for seg in segs:
        name = int(os.path.basename(seg)[:-4])
        with open(seg, "rb") as f:
            data = f.read()
        nseg = 0
        off, first = 0, True
        while off < len(data):
            if len(data) - off < 61:
                bad.append(f"{seg}: trailing {len(data) - off} bytes")
                break
            base, blen = struct.unpack_from(">qi", data, off)
            magic = data[off + 16]
            crc, = struct.unpack_from(">I", data, off + 17)
            last_delta, = struct.unpack_from(">i", data, off + 23)
            nrec, = struct.unpack_from(">i", data, off + 57)
            end = off + 12 + blen
            if magic != 2 or end > len(data):
                bad.append(f"{seg}@{off}: magic {magic} / length {blen}")
                break
            if crc32c(data[off + 21:end]) != crc:
                bad.append(f"{seg}@{off}: CRC mismatch")
            if first and base != name:
                bad.append(f"{seg}: first batch base {base} != file name")
            if batches and base != batches[-1][1] + 1:
                bad.append(f"{seg}@{off}: base {base} after last offset {batches[-1][1]}")
            if nrec != last_delta + 1:
                bad.append(f"{seg}@{off}: {nrec} records, lastOffsetDelta {last_delta}")
            batches.append((base, base + last_delta, nrec))
            first = False
            nseg += 1
            off = end
        # more than --segment-bytes only when one batch is larger than that
        if len(data) > seg_bytes and nseg > 1:
            bad.append(f"{seg}: {len(data)} bytes in {nseg} batches > --segment-bytes")
    return segs, batches


def settle(t, logdir, topic, want, seg_bytes, timeout=10, partitions=4):
    """Waits until the topic's segments hold want records (an acks=0 client
    is done before the broker has read all it sent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sum(b[2] for p in range(partitions)
                  for b in read_partition(t, os.path.join(logdir, f"{topic}-{p}"), seg_bytes,
                                          [])[1])
        if got >= want:
            return
        time.sleep(0.1)


def check_log(t, logdir, topic, acked, produced, seg_bytes, partitions=4):
    """acked: [(partition, offset)] acknowledged; produced: messages sent."""
    bad, nsegs, records, by_part = [], 0, 0, {}
    for p in range(partitions):
        segs, batches = read_partition(t, os.path.join(logdir, f"{topic}-{p}"), seg_bytes, bad)
        nsegs = max(nsegs, len(segs))
        records += sum(b[2] for b in batches)
        by_part[p] = batches
    missing = 0
    for part, off in acked:
        bs = by_part.get(part, [])
        if not any(b[0] <= off <= b[1] for b in bs):
            missing += 1
    t.check(not bad, f"{topic}: batches valid (magic 2, CRC-32C, contiguous offsets, "
                     f"base offset = file name){' ' + str(bad[:3]) if bad else ''}")
    t.eq(records, produced, f"{topic}: records in the segment files")
    t.eq(missing, 0, f"{topic}: acknowledged offsets ({len(acked)}) not in a stored batch")
    return nsegs


# -- ground truth ----------------------------------------------------------------

PHASES = ("t_first_ns", "t_read_ns", "t_dequeue_ns", "lock_ns", "append_start_ns",
          "append_end_ns", "t_resp_enqueue_ns", "t_resp_ns", "t_end_ns")


def phase_times(r):
    """The request's phase boundaries in order (partitions' lock/append spans
    nested in dequeue..enqueue); acks=0 requests have no response times."""
    ts = [r["t_first_ns"], r["t_read_ns"], r["t_dequeue_ns"]]
    for p in r["partitions"]:
        if p["error"] == 0:
            ts += [p["lock_ns"], p["append_start_ns"], p["append_end_ns"]]
    ts.append(r["t_resp_enqueue_ns"])
    if r["t_end_ns"]:  # 0: no response (acks=0, or the connection was closed)
        ts += [r["t_resp_ns"], r["t_end_ns"]]
    return ts


def check_truth(t, lines, produce_requests, records_by_topic):
    bad = [r for r in lines if not all(0 < a <= b for a, b in
                                       zip(phase_times(r), phase_times(r)[1:]))]
    t.check(not bad, f"{len(lines)} truth lines: t_first <= t_read <= t_dequeue <= lock <= "
                     f"append_start <= append_end <= t_resp_enqueue <= t_resp <= t_end"
                     + (f" (bad: {bad[:2]})" if bad else ""))
    prod = [r for r in lines if r["api_key"] == 0]
    t.eq(len(prod), produce_requests, "produce truth lines == produce requests sent")
    t.check(all(r["t_resp_ns"] > 0 and r["t_end_ns"] > 0 for r in prod if r["acks"] != 0),
            "every acks!=0 produce request was answered (t_resp_ns, t_end_ns > 0)")
    acks0 = [r for r in prod if r["acks"] == 0]
    t.check(all(r["t_resp_ns"] == 0 and r["t_end_ns"] == 0 for r in acks0),
            f"{len(acks0)} acks=0 lines have t_resp_ns = t_end_ns = 0")
    for topic, n in records_by_topic.items():
        got = sum(p["records"] for r in prod for p in r["partitions"] if p["topic"] == topic)
        t.eq(got, n, f"truth records of topic {topic}")
    keys = {(r["client"], r["corr"]) for r in lines}
    t.eq(len(keys), len(lines), "(client, corr) unique per truth line")
    t.check(all(re.fullmatch(r"127\.0\.0\.1:\d+", r["client"]) for r in lines),
            "client is IP:PORT")


# -- clients ---------------------------------------------------------------------

def kafka_python(boot, topic, n):
    acked = []
    producer = kafka.KafkaProducer(bootstrap_servers=boot, acks=1, linger_ms=0)
    try:
        futs = [producer.send(topic, b"%06d" % i + b"y" * 60) for i in range(n)]
        producer.flush(30)
        for f in futs:
            md = f.get(5)
            acked.append((md.partition, md.offset))
    finally:
        producer.close(5)
    return acked


def kcat(t, boot, topic, n):
    with open(t.path(topic + ".in"), "w") as f:
        f.write("".join(f"message {i:06d}\n" for i in range(n)))
    with open(t.path(topic + ".in")) as stdin:
        p = t.spawn(["kcat", "-P", "-b", boot, "-t", topic, "-X", "linger.ms=1",
                     "-X", "debug=protocol"], topic, stdin=stdin)
        t.eq(t.wait(p, 30), 0, f"kcat to {topic} exit status")
    return t.output(p)[1].count("Sent ProduceRequest")


# -- bad input, alongside a producer ---------------------------------------------

def bad_clients(port):
    """Each misbehaving client; returns how many the broker closed on us."""
    tls = bytes.fromhex("16030100a5010000a10303") + os.urandom(32) + b"\x00" * 100
    cases = [
        b"garbage garbage garbage garbage!!" * 4,      # size 0x67617262: > 100 MiB
        struct.pack(">i", -5) + b"abcd",               # negative size
        struct.pack(">i", 200 * 1024 * 1024),          # > 100 MiB
        tls,                                           # TLS ClientHello
        struct.pack(">i", 12) + b"\x00\x63\x00\x00" + b"\x00" * 8,  # unknown api key 99
    ]
    closed = 0
    for payload in cases:
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.settimeout(5)
        try:
            s.sendall(payload)
            closed += s.recv(100) == b""
        except (ConnectionResetError, BrokenPipeError):
            closed += 1
        finally:
            s.close()
    # abrupt disconnects: mid-size, mid-body, and RST
    for payload in (b"\x00\x00", struct.pack(">i", 1000) + b"x" * 100):
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.sendall(payload)
        s.close()
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.sendall(struct.pack(">i", 1000) + b"x" * 10)
    s.close()
    return closed, len(cases)


# -- the two I/O styles ------------------------------------------------------------

SEG = 64 * 1024
N = 20000


def io_style(t, io):
    print(f"-- --io {io}: kafkalat load (acks 1, all, 0), kcat, kafka-python, bad input")
    b, port, logdir, truth = t.san_broker(f"broker-{io}", "--io", io,
                                          "--segment-bytes", SEG)
    boot = f"127.0.0.1:{port}"
    small = ["-X", "linger.ms=1", "-X", "batch.num.messages=200"]
    reqs, records = 0, {}
    for acks in ("1", "all", "0"):
        topic = f"load{acks}"
        result = {}
        extra = []
        if acks == "1":  # bad clients run alongside this producer
            th = threading.Thread(target=lambda: result.update(bad=bad_clients(port)))
            th.start()
        s, msgs = t.load(boot, "-t", topic, "--count", N, "--acks", acks, *small,
                         name=f"load-{io}-{acks}")
        if acks == "1":
            th.join(30)
            closed, ncases = result.get("bad", (0, 5))
            t.eq(closed, ncases, "bad clients' connections closed by the broker")
        t.eq(s["delivered"], N, f"acks={acks}: delivered")
        reqs += s["produce_requests"]
        records[topic] = N
        acked = [(m["partition"], m["offset"]) for m in msgs if m["offset"] >= 0]
        t.eq(len(acked), 0 if acks == "0" else N, f"acks={acks}: messages with an offset")
        if acks == "0":  # nothing to wait for: the broker may still be reading
            settle(t, logdir, topic, N, SEG)
        nsegs = check_log(t, logdir, topic, acked, N, SEG)
        if acks == "1":
            t.check(nsegs >= 3, f"segments rolled at {SEG} bytes: {nsegs} segments")
    reqs += kcat(t, boot, "kcat", 2000)
    records["kcat"] = 2000
    check_log(t, logdir, "kcat", [], 2000, SEG)
    acked = kafka_python(boot, "kp", 3000)
    records["kp"] = 3000
    check_log(t, logdir, "kp", acked, 3000, SEG)
    err = t.stop_san_broker(b)
    closes = [ln for ln in err if "closing the connection" in ln]
    t.check(len(closes) >= 8, f"bad connections logged one line each ({len(closes)}): "
                              f"{closes[:8]}")
    lines = read_jsonl(truth)
    kp_reqs = sum(1 for r in lines if r["api_key"] == 0 and any(
        p["topic"] == "kp" for p in r["partitions"]))
    check_truth(t, lines, reqs + kp_reqs, records)
    t.check(os.stat(truth).st_mode & 0o777 == 0o600, "truth file is 0600")


# -- faults -------------------------------------------------------------------------

def fault_run(t, name, args, count=3000, acks="1", partitions=1, extra=()):
    b, port, logdir, truth = t.san_broker(name, *args, partitions=partitions)
    s, _ = t.load(f"127.0.0.1:{port}", "-t", "f", "--count", count, "--acks", acks,
                  "-X", "linger.ms=0", "-X", "batch.num.messages=20", "--size", 100,
                  *extra, name=f"load-{name}", messages=False)
    t.eq(s["delivered"], count, f"{name}: delivered")
    t.stop_san_broker(b)
    return [r for r in read_jsonl(truth) if r["api_key"] == 0], b


def appends(lines):
    return [p for r in lines for p in r["partitions"] if p["error"] == 0]


def faults(t):
    print("-- faults")
    base, _ = fault_run(t, "nofault", [])
    d0 = statistics.median(p["append_end_ns"] - p["append_start_ns"] for p in appends(base))

    # chunked: requests are pipelined, so several wait for the partition lock
    # 6 holds: one at the very end has no request behind it to wait
    lines, _ = fault_run(t, "lockhold", ["--inject-lock-hold", "30:25", "--io", "chunked"],
                         count=3000)
    held = [p for p in appends(lines) if "lock_hold" in p.get("inject", [])]
    t.check(len(held) == len(appends(lines)) // 25 and held and all(
        p["append_end_ns"] - p["append_start_ns"] >= 30 * MS for p in held),
        f"lock hold: {len(held)} of {len(appends(lines))} appends (every 25th) held >= 30 ms")
    # a request dequeued while the holder slept waited for the lock
    waits = []
    for r in lines:
        for p in r["partitions"]:
            for h in held:
                if h["append_start_ns"] < r["t_dequeue_ns"] < h["append_end_ns"] - MS:
                    waits.append((p["lock_ns"] - r["t_dequeue_ns"],
                                  h["append_end_ns"] - r["t_dequeue_ns"]))
    t.check(waits and all(w >= need - MS for w, need in waits),
            f"lock hold: {len(waits)} requests dequeued during a hold waited for the lock "
            f"until it ended")

    lines, _ = fault_run(t, "fsync", ["--inject-fsync-every", 1])
    ap = appends(lines)
    d1 = statistics.median(p["append_end_ns"] - p["append_start_ns"] for p in ap)
    t.check(all("fsync" in p.get("inject", []) for p in ap) and d1 > 3 * d0,
            f"fsync-every 1: every append fsyncs; median append {d1 / 1e3:.0f} us vs "
            f"{d0 / 1e3:.0f} us without")

    lines, _ = fault_run(t, "sleep", ["--inject-sleep", "read:20:7", "--inject-sleep",
                                      "queue:20:11", "--inject-sleep", "append:20:13",
                                      "--inject-sleep", "respond:20:17"], count=1500)
    spans = {"sleep_read": ("t_first_ns", "t_read_ns"),
             "sleep_queue": ("t_read_ns", "t_dequeue_ns"),
             "sleep_respond": ("t_resp_enqueue_ns", "t_resp_ns")}
    for tag, (a, z) in spans.items():
        hit = [r for r in lines if tag in r.get("inject", [])]
        t.check(hit and all(r[z] - r[a] >= 20 * MS for r in hit),
                f"inject-sleep {tag[6:]}: {len(hit)} requests with {z} - {a} >= 20 ms")
    hit = [p for p in appends(lines) if "sleep_append" in p.get("inject", [])]
    t.check(hit and all(p["append_end_ns"] - p["append_start_ns"] >= 20 * MS for p in hit),
            f"inject-sleep append: {len(hit)} appends >= 20 ms")

    lines, _ = fault_run(t, "replica", ["--replica-delay-ms", 25], count=600, acks="all")
    t.check(lines and all(r["t_resp_enqueue_ns"] - r["partitions"][-1]["append_end_ns"]
                          >= 25 * MS for r in lines),
            f"replica-delay 25 ms: {len(lines)} acks=all responses enqueued >= 25 ms "
            f"after the append")

    b, port, _, _ = t.san_broker("hog", "--cpu-hog", "--handlers", 2, partitions=1)
    want = {"kafka-cpu-hog", "kafka-acceptor", "kafka-network-0", "kafka-handler-0",
            "kafka-scheduler"}
    deadline = time.monotonic() + 3  # threads name themselves as they start
    while True:
        comms = set()
        for task in glob.glob(f"/proc/{b.pid}/task/*/comm"):
            with open(task) as f:
                comms.add(f.read().strip())
        if want <= comms or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    t.check(want <= comms, f"threads named by role: {sorted(comms)}")
    s, _ = t.load(f"127.0.0.1:{port}", "-t", "h", "--count", 2000, name="load-hog",
                  messages=False)
    t.eq(s["delivered"], 2000, "cpu hog: delivered")
    t.stop_san_broker(b)


def test(t):
    for io in ("jvm", "chunked"):
        io_style(t, io)
    faults(t)


main(test)

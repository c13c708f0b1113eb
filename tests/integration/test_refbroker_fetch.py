#!/usr/bin/python3
"""The reference broker (build/refbroker-san) serves Fetch and ListOffsets:
what kcat produced comes back identical and in order to kcat -C and to
kafka-python (assign + seek_to_beginning, and auto_offset_reset=earliest);
a long poll (max wait 500 ms) is answered < 100 ms after a record arrives
200 ms into its wait, an empty one after its max wait; a 1 MiB fetch is
sent with sendfile (strace counts the bytes); a raw client checks offset
out of range, unknown topics, KIP-74's one whole batch, fetch sessions,
ListOffsets, and (--io chunked, small segments) that a fetch returns
batches of one segment only."""
import glob
import os
import re
import struct
import subprocess
import time

from lib import Raw, kstr, main, read_jsonl, record_batch

FETCH = 1
LIST_OFFSETS = 2
MIB = 1 << 20


# -- Fetch / ListOffsets on the wire --------------------------------------------------

def fetch_body(v, parts, max_wait=0, min_bytes=1, max_bytes=50 * MIB, session=(0, -1),
               replica_id=-1):
    """Fetch vV (4-11) of parts [(topic, partition, offset, partition max bytes)]."""
    body = struct.pack(">iiiib", replica_id, max_wait, min_bytes, max_bytes, 0)
    if v >= 7:
        body += struct.pack(">ii", *session)
    topics = {}
    for topic, part, off, pmax in parts:
        topics.setdefault(topic, []).append((part, off, pmax))
    body += struct.pack(">i", len(topics))
    for topic, ps in topics.items():
        body += kstr(topic) + struct.pack(">i", len(ps))
        for part, off, pmax in ps:
            body += struct.pack(">i", part)
            if v >= 9:
                body += struct.pack(">i", -1)  # current leader epoch
            body += struct.pack(">q", off)
            if v >= 5:
                body += struct.pack(">q", -1)  # log start offset
            body += struct.pack(">i", pmax)
    if v >= 7:
        body += struct.pack(">i", 0)  # forgotten topics
    if v >= 11:
        body += kstr("")  # rack id
    return body


def parse_fetch(v, resp):
    """(top error, session id, [dict per partition, in response order])."""
    off = 4  # throttle
    err, session = 0, 0
    if v >= 7:
        err, session = struct.unpack_from(">hi", resp, off)
        off += 6
    parts = []
    ntopics, = struct.unpack_from(">i", resp, off)
    off += 4
    for _ in range(ntopics):
        tlen, = struct.unpack_from(">h", resp, off)
        topic = resp[off + 2:off + 2 + tlen].decode()
        off += 2 + tlen
        nparts, = struct.unpack_from(">i", resp, off)
        off += 4
        for _ in range(nparts):
            idx, perr, hw, lso = struct.unpack_from(">ihqq", resp, off)
            off += 22
            d = {"topic": topic, "partition": idx, "error": perr, "hw": hw, "lso": lso}
            if v >= 5:
                d["log_start"], = struct.unpack_from(">q", resp, off)
                off += 8
            naborted, = struct.unpack_from(">i", resp, off)
            off += 4 + 16 * max(naborted, 0)
            d["aborted"] = naborted
            if v >= 11:
                d["preferred"], = struct.unpack_from(">i", resp, off)
                off += 4
            rlen, = struct.unpack_from(">i", resp, off)
            off += 4
            d["records"] = resp[off:off + max(rlen, 0)]
            off += max(rlen, 0)
            parts.append(d)
    return err, session, parts


def batches(data):
    """[(base offset, last offset, size)] of the whole batches; the bytes left over."""
    out, off = [], 0
    while len(data) - off >= 61:
        base, blen = struct.unpack_from(">qi", data, off)
        delta, = struct.unpack_from(">i", data, off + 23)
        if off + 12 + blen > len(data):
            break
        out.append((base, base + delta, 12 + blen))
        off += 12 + blen
    return out, len(data) - off


def fetch(c, parts, v=11, **kw):
    resp = c.call(FETCH, v, fetch_body(v, parts, **kw))
    return parse_fetch(v, resp)


def fetch_one(c, topic, part, offset, pmax=MIB, **kw):
    """The one partition's answer of a fetch of it alone."""
    return fetch(c, [(topic, part, offset, pmax)], **kw)[2][0]


def list_offsets(c, v, topic, part, ts):
    """ListOffsets vV of one partition: (error, offset)."""
    body = struct.pack(">i", -1) + (b"\x00" if v >= 2 else b"")
    body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">ii", 1, part)
    body += (struct.pack(">i", -1) if v >= 4 else b"") + struct.pack(">q", ts)
    resp = c.call(LIST_OFFSETS, v, body)
    off = 4 if v >= 2 else 0
    off += 4 + 2 + len(topic) + 4  # topics, name, partitions
    _idx, err, _ts, offset = struct.unpack_from(">ihqq", resp, off)
    return err, offset


# -- consumers -------------------------------------------------------------------------

def kcat_consume(t, boot, topic, part, name):
    p = t.spawn(["kcat", "-C", "-b", boot, "-t", topic, "-p", part, "-o", "beginning", "-e",
                 "-q", "-f", "%k:%s\\n"], name)
    t.eq(t.wait(p, 20), 0, f"{name}: kcat -C exit status ({t.output(p)[1].strip()[-200:]!r})")
    return t.output(p)[0].splitlines()


def kafka_python_consume(boot, topic, part, n, seek):
    """Up to n records (key:value strings) read with kafka-python, then one more
    poll that must bring nothing."""
    import kafka
    c = kafka.KafkaConsumer(bootstrap_servers=boot, group_id=None, enable_auto_commit=False,
                            auto_offset_reset="earliest", fetch_max_wait_ms=100)
    try:
        tp = kafka.TopicPartition(topic, part)
        c.assign([tp])
        if seek:
            c.seek_to_beginning(tp)
        got, deadline = [], time.monotonic() + 15
        while len(got) < n and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                got += [f"{r.key.decode()}:{r.value.decode()}" for r in recs]
        extra = sum(len(v) for v in c.poll(timeout_ms=300).values())
        return got, extra
    finally:
        c.close()


def consumers(t, boot):
    print("-- kcat -P, then kcat -C and kafka-python read it back")
    n = 3000
    lines = [f"key{i}:value-{i}-" + "x" * (i % 97) for i in range(n)]
    p = t.spawn(["kcat", "-P", "-b", boot, "-t", "cons", "-p", "0", "-K:", "-X",
                 "batch.num.messages=64"], "kcat-p", stdin=subprocess.PIPE)
    p.stdin.write(("\n".join(lines) + "\n").encode())
    p.stdin.close()
    t.eq(t.wait(p, 20), 0, "kcat -P exit status")
    got = kcat_consume(t, boot, "cons", 0, "kcat-c")
    t.eq(len(got), n, "kcat -C: records read")
    t.check(got == lines, "kcat -C: keys and values identical, in order")
    for seek in (True, False):
        what = "assign + seek_to_beginning" if seek else "auto_offset_reset=earliest"
        got, extra = kafka_python_consume(boot, "cons", 0, n, seek)
        t.eq((len(got), extra), (n, 0), f"kafka-python ({what}): records read, then none")
        t.check(got == lines, f"kafka-python ({what}): keys and values identical, in order")


# -- raw cases ---------------------------------------------------------------------------

def long_poll(t, port):
    print("-- long poll: a record produced 200 ms into a 500 ms wait; an empty wait")
    c, prod = Raw(port), Raw(port)
    prod.metadata("lp")
    t.eq(prod.produce("lp", 0, record_batch([b"first"]), acks=1), (0, 0), "lp: first record")
    c.send(FETCH, 11, fetch_body(11, [("lp", 0, 1, MIB)], max_wait=500))
    t_sent = time.monotonic()
    time.sleep(0.2)
    t_prod = time.monotonic()
    t.eq(prod.produce("lp", 0, record_batch([b"late"]), acks=1), (0, 1), "lp: the late record")
    d = parse_fetch(11, c.recv())[2][0]
    t_got = time.monotonic()
    t.eq((d["error"], d["hw"], [b[:2] for b in batches(d["records"])[0]]), (0, 2, [(1, 1)]),
         "long poll: answered with the late record (error, hw, batches)")
    t.check(t_got - t_prod < 0.1, f"long poll: answered {(t_got - t_prod) * 1e3:.1f} ms after "
                                  "the produce was sent (< 100 ms)")
    t.check(t_got - t_sent < 0.45, f"long poll: answered {(t_got - t_sent) * 1e3:.0f} ms after "
                                   "the fetch (< 450: woken, not expired)")
    t0 = time.monotonic()
    d = fetch_one(c, "lp", 0, 2, max_wait=500)
    dt = time.monotonic() - t0
    t.eq((d["error"], d["records"]), (0, b""),
         "empty long poll: no error, no records")
    t.check(0.45 <= dt <= 0.55, f"empty long poll answered after {dt * 1e3:.0f} ms "
                                "(500 +- 50)")
    t0 = time.monotonic()
    d = fetch_one(c, "lp", 0, 0, max_wait=300, min_bytes=100000)
    dt = time.monotonic() - t0
    t.check(0.25 <= dt <= 0.35 and len(batches(d["records"])[0]) == 2,
            f"min_bytes 100000: waited {dt * 1e3:.0f} ms (300 +- 50), then sent the 2 "
            "batches there are")
    clients = {"%s:%d" % c.s.getsockname()[:2]}
    c.s.close()
    prod.s.close()
    return clients


def strace_sendfile(t, pid, action):
    """Runs action() under strace -f -e sendfile attached to pid; returns the bytes
    its sendfile calls returned."""
    st = t.spawn(["strace", "-f", "-e", "trace=sendfile", "-o", t.path("strace.txt"), "-p",
                  pid], "strace")
    deadline = time.monotonic() + 10
    # "Process N attached with M threads" once every thread is traced
    while "attached" not in t.output(st)[1] and time.monotonic() < deadline:
        time.sleep(0.02)
    t.check("attached" in t.output(st)[1], f"strace attached ({t.output(st)[1].strip()!r})",
            fatal=True)
    action()
    st.send_signal(2)
    t.wait(st, 10)
    with open(t.path("strace.txt")) as f:
        calls = re.findall(r"sendfile\(\d+, \d+, .*\) = (\d+)", f.read())
    return sum(int(x) for x in calls), len(calls)


def large(t, port, broker_pid):
    print("-- a 1 MiB fetch, sent with sendfile")
    c = Raw(port)
    c.metadata("big")
    value = b"y" * 1000
    errs = [c.produce("big", 0, record_batch([value] * 16), acks=1)[0] for _ in range(80)]
    t.eq(set(errs), {0}, "big: 80 batches of 16 records of 1000 bytes appended")
    result = {}

    def big_fetch():
        result["d"] = fetch_one(c, "big", 0, 0)

    sent, ncalls = strace_sendfile(t, broker_pid, big_fetch)
    d = result["d"]
    bs, left = batches(d["records"])
    size = len(d["records"])
    t.check(MIB - bs[0][2] < size <= MIB and left == 0,
            f"1 MiB fetch: {size} bytes of {len(bs)} whole batches, within a batch of 1 MiB")
    t.check([b[0] for b in bs] == [16 * i for i in range(len(bs))],
            f"1 MiB fetch: batches at offsets 0, 16, ... {bs[-1][0]}")
    t.eq(sent, size, f"1 MiB fetch: bytes sent by {ncalls} sendfile calls")
    bs, left = batches(fetch_one(c, "big", 0, 21, pmax=100)["records"])
    t.eq(([b[:2] for b in bs], left), ([(16, 31)], 0),
         "partition max 100 bytes: the one whole batch holding offset 21 (KIP-74)")
    _, _, parts = fetch(c, [("big", 0, 0, MIB), ("cons", 0, 0, MIB)], max_bytes=100)
    t.eq((len(batches(parts[0]["records"])[0]), len(parts[1]["records"])),
         (1, 0), "max_bytes 100: one batch in the first partition, none in the second")
    clients = {"%s:%d" % c.s.getsockname()[:2]}
    c.s.close()
    return clients, size


def errors_and_offsets(t, port):
    print("-- out of range, unknown topic, sessions, ListOffsets")
    c = Raw(port)
    _, _, parts = fetch(c, [("big", 0, 1280 + 5, MIB), ("big", 0, -1, MIB), ("nope", 0, 0, MIB),
                            ("big", 7, 0, MIB)])
    got = [(d["error"], d["hw"], d["records"]) for d in parts]
    t.eq(got, [(1, -1, b""), (1, -1, b""), (3, -1, b""), (3, -1, b"")],
         "offsets past the log end and -1: 1 OFFSET_OUT_OF_RANGE; unknown topic, partition: 3")
    t.eq(fetch_one(c, "big", 0, -1, v=4)["error"], 1, "Fetch v4: OFFSET_OUT_OF_RANGE too")
    err, session, parts = fetch(c, [("big", 0, 1280, MIB)], session=(0, 0))
    t.eq((err, session, parts[0]["error"], parts[0]["hw"], parts[0]["records"]),
         (0, 0, 0, 1280, b""),
         "full fetch asking for a session (epoch 0): session id 0 (no session cache)")
    err, session, parts = fetch(c, [("big", 0, 1280, MIB)], session=(77, 1))
    t.eq((err, session, parts), (70, 0, []),
         "incremental fetch (epoch 1): FETCH_SESSION_ID_NOT_FOUND, no partitions")
    for v in (1, 2, 5):
        t.eq([list_offsets(c, v, "big", 0, ts) for ts in (-2, -1, 12345)],
             [(0, 0), (0, 1280), (35, -1)],
             f"ListOffsets v{v}: earliest 0, latest = HW 1280, a timestamp UNSUPPORTED")
    t.eq(list_offsets(c, 1, "nope", 0, -1), (3, -1), "ListOffsets: unknown topic")
    d = fetch_one(c, "big", 0, 1264, replica_id=1)
    t.eq((d["error"], d["hw"], [b[:2] for b in batches(d["records"])[0]]),
         (0, 1280, [(1264, 1279)]),
         "a follower's fetch (replica_id 1): the last batch, up to the log end")
    clients = {"%s:%d" % c.s.getsockname()[:2]}
    c.s.close()
    return clients


def segments(t):
    print("-- --io chunked, --segment-bytes 10000: a fetch stays in one segment")
    b, port, logdir, truth = t.san_broker("roll", "--io", "chunked", "--segment-bytes", 10000,
                                          partitions=1)
    c = Raw(port)
    c.metadata("roll")
    vals = [f"r{i:04d}-".encode() + b"z" * 200 for i in range(120)]
    for i in range(12):
        c.produce("roll", 0, record_batch(vals[10 * i:10 * i + 10]), acks=1)
    files = sorted(glob.glob(os.path.join(logdir, "roll-0", "*.log")))
    bases = [int(os.path.basename(f)[:20]) for f in files]
    t.check(len(bases) >= 3, f"segments rolled: bases {bases}")
    records = fetch_one(c, "roll", 0, 0)["records"]
    bs, _ = batches(records)
    t.eq((bs[0][0], bs[-1][1] + 1, len(records)),
         (0, bases[1], os.path.getsize(files[0])),
         "fetch at 0: the first segment's batches only (first, next offset, bytes)")
    mid = bases[1] + 13
    bs, _ = batches(fetch_one(c, "roll", 0, mid)["records"])
    t.check(bs[0][0] <= mid <= bs[0][1] and bs[-1][1] + 1 == bases[2],
            f"fetch at {mid}: from its batch {bs[0][:2]} to the end of segment 2 "
            f"(next {bs[-1][1] + 1}, want {bases[2]})")
    c.s.close()
    got = kcat_consume(t, f"127.0.0.1:{port}", "roll", 0, "kcat-roll")
    t.check(got == [":" + v.decode() for v in vals],
            f"kcat -C over {len(bases)} segments (--io chunked): 120 values, in order")
    t.stop_san_broker(b)
    fetches = [r for r in read_jsonl(truth) if r["api_key"] == FETCH]
    t.check(fetches and all(r["fetch"]["bytes"] == sum(p["bytes"] for p in r["fetch"]["partitions"])
                            for r in fetches), f"roll truth: {len(fetches)} fetch lines add up")


def check_truth(t, truth, raw_clients, big_size):
    lines = read_jsonl(truth)
    fetches = [r for r in lines if r["api_key"] == FETCH]
    order = ("t_first_ns", "t_read_ns", "t_dequeue_ns", "t_resp_enqueue_ns", "t_resp_ns",
             "t_end_ns")
    bad = [r["corr"] for r in fetches
           if [r[k] for k in order] != sorted(r[k] for k in order)
           or not r["t_dequeue_ns"] <= r["fetch"]["t_fetch_read_ns"] <= r["t_resp_enqueue_ns"]
           or (r["fetch"]["t_wait_start_ns"] and not r["t_dequeue_ns"]
               <= r["fetch"]["t_wait_start_ns"] <= r["fetch"]["t_wait_end_ns"]
               <= r["fetch"]["t_fetch_read_ns"])]
    t.check(fetches and not bad, f"{len(fetches)} fetch truth lines: times in order ({bad[:5]})")
    raw = [r for r in fetches if r["client"] in raw_clients]
    t.eq(len(raw), 11, "truth: one line per raw Fetch")
    follower = [r for r in raw if r["fetch"]["replica_id"] == 1]
    t.check(len(follower) == 1 and follower[0]["fetch"]["bytes"] > 16000,
            "truth: the follower's fetch, replica_id 1")
    late = [p["append_end_ns"] for r in lines if r["api_key"] == 0 for p in r["partitions"]
            if p["topic"] == "lp" and p["base_offset"] == 1]
    woken = [r["fetch"]["t_wait_end_ns"] for r in raw
             if r["fetch"]["partitions"][0]["topic"] == "lp"
             and r["fetch"]["partitions"][0]["fetch_offset"] == 1]
    if t.check(len(late) == 1 and len(woken) == 1, "truth: the late append and the woken fetch"):
        dt = (woken[0] - late[0]) / 1e6
        t.check(0 <= dt < 20, f"truth: the fetch left the purgatory {dt:.3f} ms after the "
                              "append ended (< 20)")
    waited = sorted((r["fetch"]["t_wait_end_ns"] - r["fetch"]["t_wait_start_ns"]) / 1e6
                    for r in raw if r["fetch"]["t_wait_start_ns"])
    t.check(len(waited) == 3 and 150 <= waited[0] <= 400 and 250 <= waited[1] <= 350
            and 450 <= waited[2] <= 550,
            f"truth: 3 waits in the fetch purgatory: {[round(w) for w in waited]} ms "
            "(woken ~200, min_bytes 300, empty 500)")
    big = [r for r in raw if r["fetch"]["bytes"] == big_size]
    t.check(len(big) == 1 and big[0]["fetch"]["partitions"][0]["hw"] == 1280,
            f"truth: the 1 MiB fetch's line says {big_size} bytes, hw 1280")


def test(t):
    b, port, logdir, truth = t.san_broker("broker", partitions=2)
    boot = f"127.0.0.1:{port}"
    consumers(t, boot)
    raw = long_poll(t, port)
    more, big_size = large(t, port, b.pid)
    raw |= more
    raw |= errors_and_offsets(t, port)
    t.stop_san_broker(b)
    check_truth(t, truth, raw, big_size)
    segments(t)


main(test)

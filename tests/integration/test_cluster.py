#!/usr/bin/env python3
"""The reference broker as a 3-broker cluster (refbroker-san, one process per
broker, replication factor 3, acks=all as Kafka's).

Topic r has 2 partitions: partition 0 is led by broker 0, partition 1 by
broker 1, both replicated on all three, so broker 2 follows both. Phases:
a librdkafka idempotent acks=all producer with a consumer reading every
record back (kafkalat load --consumers), a kafka-python acks=all producer,
then a paced acks=all load during which broker 2 is SIGSTOPped for 1.2 s
(4x --replica-lag-time-ms 300): both leaders shrink the ISR without it,
keep answering acks=all requests meanwhile, and take it back after SIGCONT.
Checked: every acknowledged offset is in a batch of every replica, the three
logs hold the same batches (offsets and CRCs), the ground truth's
covered_ns <= hw_ns <= released_ns for every acks=all request, the ISR
events and the latency bound while broker 2 is stopped, NOT_LEADER for a
produce to a follower, kcat reading partition 0 back from its leader and
kafka-python's consumer partition 1 (bootstrapped from the whole cluster)."""
import os
import signal
import struct
import time

from lib import KAFKALAT, Raw, log_batches, main, quantile, read_jsonl, record_batch

LAG_MS = 300
STOP_S = 1.2
TOPIC = "r"

KAFKA_PYTHON_PRODUCER = """
import sys, kafka
p = kafka.KafkaProducer(bootstrap_servers=sys.argv[1], acks="all", linger_ms=0)
fs = [p.send(sys.argv[2], b"k" * 50, partition=i % 2) for i in range(int(sys.argv[3]))]
p.flush(10)
for f in fs:
    m = f.get(10)
    print(m.partition, m.offset)
p.close(5)
"""

KAFKA_PYTHON_CONSUMER = """
import sys, kafka
c = kafka.KafkaConsumer(bootstrap_servers=sys.argv[1], enable_auto_commit=False,
                        consumer_timeout_ms=3000)
tp = kafka.TopicPartition(sys.argv[2], int(sys.argv[3]))
c.assign([tp])
c.seek_to_beginning(tp)
end = int(sys.argv[4])
for m in c:
    print(m.offset)
    if m.offset + 1 >= end:
        break
c.close()
"""


def metadata(port, topic):
    """Metadata v1 for topic (auto-created): {partition: (leader, replicas, isr)}."""
    t = topic.encode()
    buf = Raw(port).call(3, 1, struct.pack(">ih", 1, len(t)) + t)
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from(fmt, buf, off)
        off += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal off
        n = take(">h")
        off += max(n, 0)

    def ints():
        return [take(">i") for _ in range(take(">i"))]

    for _ in range(take(">i")):  # brokers
        take(">i"); string(); take(">i"); string()
    take(">i")  # controller
    out = {}
    for _ in range(take(">i")):
        take(">h"); string(); take(">b")
        for _ in range(take(">i")):
            take(">h")
            idx, leader = take(">i"), take(">i")
            out[idx] = (leader, ints(), ints())
    return out


def batches(logdir, partition):
    """[(base offset, last offset, crc, crc ok)] of a partition's segments (headers only)."""
    return [(b["base"], b["last"], b["crc"], b["crc_ok"])
            for b in log_batches(os.path.join(logdir, f"{TOPIC}-{partition}"))]


def produce_error(port, partition, acks=1, timeout_ms=30000):
    """Error code of a one-partition Produce v3 of one record to the broker on port."""
    rec, t = record_batch([b"x"]), TOPIC.encode()
    body = (struct.pack(">hhi", -1, acks, timeout_ms) + struct.pack(">ih", 1, len(t)) + t +
            struct.pack(">iii", 1, partition, len(rec)) + rec)
    buf = Raw(port).call(0, 3, body)
    # [topic: name, [partition, error, ...]]
    nlen, = struct.unpack_from(">h", buf, 4)
    return struct.unpack_from(">h", buf, 6 + nlen + 4 + 4)[0]


def acked(mpath):
    return [(m["partition"], m["offset"]) for m in read_jsonl(mpath)]


def check_replicas(t, logdirs, offsets):
    for part in (0, 1):
        logs = [batches(d, part) for d in logdirs]
        t.check(all(ok for log in logs for *_, ok in log), f"partition {part}: every CRC ok")
        t.check(logs[0] == logs[1] == logs[2] and logs[0],
                f"partition {part}: the 3 replicas hold the same {len(logs[0])} batches "
                f"(offsets, CRCs): sizes {[len(x) for x in logs]}")
        want = sorted(o for p, o in offsets if p == part)
        for i, log in enumerate(logs):
            ranges = [(b, l) for b, l, _, _ in log]
            missing = [o for o in want if not any(b <= o <= l for b, l in ranges)]
            t.check(not missing, f"partition {part}: the {len(want)} acknowledged offsets "
                    f"are on broker {i}" + (f" (missing {missing[:5]})" if missing else ""))


def produce_lines(truth):
    return [r for r in read_jsonl(truth) if r.get("api_key") == 0 and r.get("acks") == -1]


def check_truth(t, reqs, leader, events):
    """covered_ns <= hw_ns <= released_ns <= t_resp_enqueue, and who released."""
    bad = []
    failed = sorted(r["partitions"][0]["error"] for r in reqs if r["partitions"][0]["error"])
    t.eq(failed, [7, 19] if leader == 0 else [], f"broker {leader}: acks=all errors in the truth")
    timed_out = [r for r in reqs if r["partitions"][0]["error"] == 7]
    t.check(all(r["partitions"][0]["hw_ns"] == 0 and r["released_by"] == -1 and
                r["released_ns"] - r["t_read_ns"] >= 100e6 for r in timed_out),
            "the timed-out request: no hw_ns, released_by -1, released >= 100 ms after t_read")
    reqs = [r for r in reqs if not r["partitions"][0]["error"]]
    for r in reqs:
        p = r["partitions"][0]
        cov = {x["id"]: x["covered_ns"] for x in p["replicas"]}
        ok = (p["error"] == 0 and len(r["partitions"]) == 1 and p["hw_ns"] > 0 and
              p["append_end_ns"] <= p["hw_ns"] <= r["released_ns"] <= r["t_resp_enqueue_ns"] and
              all(p["append_end_ns"] < c <= p["hw_ns"] for c in cov.values() if c))
        by = r["released_by"]
        if by >= 0 and by != leader:
            # a follower's fetch moved the HW: every ISR follower covered it (handlers
            # run fetches in parallel: the releasing one need not have arrived last),
            # or it joined the ISR after the append
            joined = any(by in e["new"] and by not in e["old"] and
                         p["append_end_ns"] <= e["t_ns"] <= p["hw_ns"] for e in events)
            ok = ok and all(cov.values()) and (by in cov or joined)
        elif r["released_by"] == leader:
            ok = ok and not cov  # the leader alone in the ISR
        if not ok:
            bad.append(r)
    t.check(not bad, f"broker {leader}: {len(reqs)} acks=all lines: covered_ns <= hw_ns <= "
            f"released_ns, released by a covering follower"
            + (f" ({len(bad)} bad, first {bad[0]})" if bad else ""))


def isr_events(truth, partition):
    return [e for e in read_jsonl(truth)
            if e.get("event") == "isr" and e["topic"] == TOPIC and e["partition"] == partition]


def check_timeouts(t, brokers, ports):
    """Both followers of partition 0 stopped: acks=all times out while they are
    in the ISR, then is refused under --min-insync-replicas 2; acks=1 works."""
    followers = [brokers[1][0], brokers[2][0]]
    for p in followers:
        p.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        t.eq(produce_error(ports[0], 0, acks=-1, timeout_ms=100), 7,
             "acks=all, followers stopped, timeout 100 ms: REQUEST_TIMED_OUT")
        waited = time.monotonic() - t0
        t.check(0.1 <= waited <= 0.3, f"answered after {waited * 1e3:.0f} ms (timeout 100 ms)")
        isr, t_stop = None, time.monotonic()
        while time.monotonic() - t_stop < 2:  # both out of the ISR
            isr = metadata(ports[0], TOPIC)[0][2]
            if isr == [0]:
                break
            time.sleep(0.02)
        t.eq(isr, [0], "partition 0's ISR with both followers stopped")
        t.eq(produce_error(ports[0], 0, acks=-1), 19,
             "acks=all, ISR [0] < --min-insync-replicas 2: NOT_ENOUGH_REPLICAS")
        t.eq(produce_error(ports[0], 0, acks=1), 0, "acks=1 with the leader alone: appended")
    finally:
        for p in followers:
            p.send_signal(signal.SIGCONT)
    time.sleep(0.5)


def test(t):
    brokers = t.san_cluster(3, "--replica-lag-time-ms", LAG_MS, "--replica-fetch-wait-ms", 100,
                            "--min-insync-replicas", 2, partitions=2)
    ports = [b[1] for b in brokers]
    logdirs = [b[2] for b in brokers]
    boot = ",".join(f"127.0.0.1:{p}" for p in ports)
    for p in ports:  # the topic on every broker at once, as a controller would
        md = metadata(p, TOPIC)
    t.eq({k: v[:2] for k, v in md.items()}, {0: (0, [0, 1, 2]), 1: (1, [1, 2, 0])},
         "Metadata: leaders and replicas of r (ring order)")
    time.sleep(0.3)
    t.eq(produce_error(ports[1], 0), 6, "Produce to a follower: NOT_LEADER_OR_FOLLOWER")
    t.eq(produce_error(ports[2], 1), 6, "Produce to the other follower: NOT_LEADER_OR_FOLLOWER")

    # 1: librdkafka, idempotent (acks=all), a consumer reading every record back
    s1, msgs1 = t.load(boot, "-t", TOPIC, "--acks", "all", "--count", 2000, "--rate", 2000,
                       "--partitions", 2, "-X", "enable.idempotence=true", "--consumers", 1,
                       "--fetch-wait-ms", 100, name="load1", timeout=20)
    t.eq(s1["delivered"], 2000, "librdkafka: all 2000 delivered")
    c1 = s1["consumers"]
    t.check(c1["consumed"] == c1["expected"] == 2000 and c1["missing"] == 0,
            f"kafkalat load --consumers 1: consumed {c1['consumed']} of {c1['expected']} "
            f"(want 2000), missing {c1['missing']}")
    offsets = [(m["partition"], m["offset"]) for m in msgs1]
    t_phase1_end = time.monotonic_ns()

    # 2: kafka-python, acks=all
    kp = t.spawn(["/usr/bin/python3", "-c", KAFKA_PYTHON_PRODUCER, boot, TOPIC, 200],
                 "kafka-python")
    t.eq(t.wait(kp, 20), 0, "kafka-python producer exit status")
    out, _ = t.output(kp)
    kpo = [tuple(map(int, line.split())) for line in out.split("\n") if line.strip()]
    t.eq(len(kpo), 200, "kafka-python: 200 acknowledged offsets")
    offsets += kpo

    # 3: paced acks=all while broker 2 is stopped for 1.2 s
    mpath = t.path("load3.messages.jsonl")
    load = t.spawn([KAFKALAT, "load", "-b", boot, "-t", TOPIC, "--acks", "all", "--rate", 400,
                    "-d", 3, "--partitions", 2, "--json", "-q", "--messages", mpath], "load3")
    time.sleep(0.8)
    stopped = brokers[2][0]
    stopped.send_signal(signal.SIGSTOP)
    t_stop = time.monotonic_ns()
    try:
        time.sleep(STOP_S)
    finally:
        t_cont = time.monotonic_ns()  # before: its first fetch may beat our next clock read
        stopped.send_signal(signal.SIGCONT)
    t.eq(t.wait(load, 20), 0, "paced load exit status")
    offsets += acked(mpath)
    time.sleep(0.5)  # broker 2 catches up and is back in both ISRs
    t_checks = time.monotonic_ns()
    check_timeouts(t, brokers, ports)

    # read partition 0 back from its leader
    kc = t.spawn(["kcat", "-C", "-b", f"127.0.0.1:{ports[0]}", "-t", TOPIC, "-p", "0",
                  "-o", "beginning", "-e", "-q", "-f", "%o\\n"], "kcat")
    t.eq(t.wait(kc, 20), 0, "kcat -C exit status")
    read_back = [int(x) for x in t.output(kc)[0].split()]
    stored1 = sum(last - base + 1 for base, last, _, _ in batches(logdirs[1], 1))
    kpc = t.spawn(["/usr/bin/python3", "-c", KAFKA_PYTHON_CONSUMER, boot, TOPIC, 1, stored1],
                  "kafka-python-consumer")
    t.eq(t.wait(kpc, 30), 0, "kafka-python consumer exit status")
    kp_read = [int(x) for x in t.output(kpc)[0].split()]
    for b in brokers:
        t.stop_san_broker(b[0])
    check_replicas(t, logdirs, offsets)
    stored = sum(last - base + 1 for base, last, _, _ in batches(logdirs[0], 0))
    t.check(read_back == list(range(stored)),
            f"kcat read partition 0's {stored} records in order (got {len(read_back)})")
    t.check(kp_read == list(range(stored1)),
            f"kafka-python's consumer read partition 1's {stored1} records in order "
            f"(got {len(kp_read)})")

    lat_ms, repl_ms = [], []
    for leader in (0, 1):
        reqs = produce_lines(brokers[leader][3])
        check_truth(t, reqs, leader, isr_events(brokers[leader][3], leader))
        for r in reqs:
            p = r["partitions"][0]
            if r["t_read_ns"] < t_phase1_end:
                lat_ms.append((r["t_resp_enqueue_ns"] - r["t_read_ns"]) / 1e6)
                if all(x["covered_ns"] for x in p["replicas"]) and p["replicas"]:
                    repl_ms.append((max(x["covered_ns"] for x in p["replicas"]) -
                                    p["append_end_ns"]) / 1e6)
        # the ISR without broker 2 within lag .. lag * 1.5 (+ slack) of the stop, back after
        ev = [e for e in isr_events(brokers[leader][3], leader) if e["t_ns"] < t_checks]
        full = sorted([0, 1, 2])
        shrink = [e for e in ev if sorted(e["old"]) == full and 2 not in e["new"]]
        expand = [e for e in ev if 2 not in e["old"] and sorted(e["new"]) == full]
        # its last caught-up time is at most one fetch round (<= 100 ms wait) before
        # the stop; the check runs every lag / 2
        t.check(len(shrink) == 1 and t_stop + (LAG_MS - 110) * 1e6 <= shrink[0]["t_ns"] <=
                t_stop + (LAG_MS * 1.5 + 400) * 1e6,
                f"broker {leader}: one ISR shrink without broker 2, "
                f"{(shrink[0]['t_ns'] - t_stop) / 1e6 if shrink else -1:.0f} ms after SIGSTOP "
                f"(lag {LAG_MS} ms, checked every {LAG_MS // 2} ms): {ev}")
        t.check(len(expand) == 1 and expand[0]["t_ns"] > t_cont and
                (not shrink or expand[0]["t_ns"] > shrink[0]["t_ns"]),
                f"broker {leader}: broker 2 back in the ISR after SIGCONT "
                f"({(expand[0]['t_ns'] - t_cont) / 1e6 if expand else -1:.0f} ms)")
        # answered while broker 2 was stopped, without it
        during = [r for r in reqs if t_stop < r["t_read_ns"] and r["released_ns"] < t_cont]
        after_shrink = [(r["released_ns"] - r["t_read_ns"]) / 1e6 for r in during
                        if shrink and r["t_read_ns"] > shrink[0]["t_ns"]]
        waited = [(r["released_ns"] - r["t_read_ns"]) / 1e6 for r in during]
        t.check(len(after_shrink) >= 20,
                f"broker {leader}: {len(during)} acks=all requests answered while broker 2 "
                f"was stopped, {len(after_shrink)} after the shrink")
        if after_shrink:
            p99 = quantile(sorted(after_shrink), 0.99)
            # Waiting for broker 2 would mean waiting out the rest of its stop
            # (hundreds of ms); 200 ms leaves room for a loaded 2-CPU machine,
            # where sanitizer brokers' p99 reached 95 ms.
            t.check(p99 <= 200, f"broker {leader}: acks=all after the shrink: p50 "
                    f"{quantile(sorted(after_shrink), 0.5):.2f} ms, p99 {p99:.2f} ms <= 200 ms")
        if shrink:
            held = [r for r in reqs if shrink[0]["t_ns"] < r["t_read_ns"] < t_cont - 200e6
                    and r["released_ns"] >= t_cont]
            t.check(not held, f"broker {leader}: no request read after the shrink waited "
                    f"for broker 2's return ({len(held)} did)")
            t.check(max(waited) <= LAG_MS * 1.5 + 400,
                    f"broker {leader}: the longest wait while stopped {max(waited):.0f} ms "
                    f"<= lag * 1.5 + 400 ms")
    lat_ms.sort()
    repl_ms.sort()
    print(f"  info acks=all (librdkafka, 2000 msg/s) t_read->response queued: "
          f"p50 {quantile(lat_ms, 0.5):.2f} ms p99 {quantile(lat_ms, 0.99):.2f} ms over "
          f"{len(lat_ms)} requests; replication (append end -> last covering fetch): "
          f"p50 {quantile(repl_ms, 0.5):.2f} ms p99 {quantile(repl_ms, 0.99):.2f} ms")


if __name__ == "__main__":
    main(test)

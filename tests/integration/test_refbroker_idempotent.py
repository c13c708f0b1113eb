#!/usr/bin/python3
"""The reference broker (build/refbroker-san) with idempotent producers:
kafkalat load with enable.idempotence=true (acks=all) delivers 5000 messages
with no failure, after one InitProducerId, and the segment files hold exactly
5000 records of that producer id. Then a raw client checks InitProducerId v0
and v2 (fresh ids, epoch 0) and the sequence checks of Produce v3: the next
sequence is appended, a retried batch is answered with its first offset
without being appended, a gap is OUT_OF_ORDER_SEQUENCE_NUMBER (45), and a new
producer must start at sequence 0."""
import glob
import os

from lib import Raw, log_batches, main, read_jsonl, record_batch

N = 5000
PRODUCER_ID_0 = 1000


def batches_of(logdir, topic):
    """Every stored batch of the topic: [(partition, base offset, records, producer id,
    CRC ok)]."""
    return [(int(pdir.rsplit("-", 1)[1]), b["base"], b["records"], b["pid"], b["crc_ok"])
            for pdir in sorted(glob.glob(os.path.join(logdir, f"{topic}-*")))
            for b in log_batches(pdir)]


def batch(pid, seq, count):
    """count small records of producer pid (epoch 0) from sequence seq."""
    return record_batch([f"v{seq + i}".encode() for i in range(count)], pid=pid, epoch=0,
                        seq=seq)


def raw_checks(t, port, logdir):
    print("-- raw client: InitProducerId v0/v2, duplicate and out-of-order batches")
    c = Raw(port)
    err0, pid0, ep0 = c.init_producer_id(0)
    err2, pid2, ep2 = c.init_producer_id(2)
    t.eq((err0, ep0, err2, ep2), (0, 0, 0, 0), "InitProducerId v0/v2: no error, epoch 0")
    t.check(pid0 >= PRODUCER_ID_0 and pid2 == pid0 + 1,
            f"InitProducerId: fresh, monotonic ids ({pid0}, {pid2})")
    c.metadata("raw")
    pid = pid2
    steps = [  # (what, producer id, sequence, records, want (error, base offset))
        ("first batch (seq 0)", pid, 0, 2, (0, 0)),
        ("the same batch again: a retry", pid, 0, 2, (0, 0)),
        ("a gap (seq 5, next is 2)", pid, 5, 1, (45, -1)),
        ("the next batch (seq 2)", pid, 2, 3, (0, 2)),
        ("the first batch once more (one of the last 5)", pid, 0, 2, (0, 0)),
        ("the last batch again", pid, 2, 3, (0, 2)),
        ("the next batch (seq 5)", pid, 5, 1, (0, 5)),
        ("a new producer starting at seq 3", pid0, 3, 1, (45, -1)),
        ("a new producer at seq 0", pid0, 0, 1, (0, 6)),
    ]
    for what, p, seq, n, want in steps:
        t.eq(c.produce("raw", 0, batch(p, seq, n)), want, f"Produce v3: {what}")
    stored = batches_of(logdir, "raw")
    t.eq(sum(b[2] for b in stored), 7, "raw: records in the segment files (no duplicates)")
    t.eq([b[1] for b in stored], [0, 2, 5, 6], "raw: stored batches' base offsets")
    c.s.close()


def test(t):
    b, port, logdir, truth = t.san_broker("broker")
    print("-- kafkalat load -X enable.idempotence=true --acks all")
    s, msgs = t.load(f"127.0.0.1:{port}", "-t", "idem", "--count", N, "--acks", "all",
                     "-X", "enable.idempotence=true", "-X", "linger.ms=1",
                     "-X", "batch.num.messages=200", name="load-idem")
    t.eq((s["delivered"], s["failed"]), (N, 0), "idempotent load: delivered, failed")
    acked = {(m["partition"], m["offset"]) for m in msgs if m["offset"] >= 0}
    t.eq(len(acked), N, "idempotent load: distinct acknowledged offsets")
    stored = batches_of(logdir, "idem")
    t.eq(sum(x[2] for x in stored), N, "idem: records in the segment files")
    t.check(all(x[4] for x in stored), "idem: every stored batch's CRC-32C is right")
    pids = {x[3] for x in stored}
    t.check(len(pids) == 1 and min(pids) >= PRODUCER_ID_0,
            f"idem: the batches carry the one producer id handed out ({pids})")
    missing = sum(1 for part, off in acked
                  if not any(x[0] == part and x[1] <= off < x[1] + x[2] for x in stored))
    t.eq(missing, 0, "idem: acknowledged offsets not in a stored batch")
    raw_checks(t, port, logdir)
    t.stop_san_broker(b)
    lines = read_jsonl(truth)
    inits = [r for r in lines if r["api_key"] == 22]
    t.eq(len(inits), 3, "truth: InitProducerId requests (load + raw v0, v2)")
    produce = [r for r in lines if r["api_key"] == 0 and
               any(p["topic"] == "idem" for p in r["partitions"])]
    t.check(all(r["acks"] == -1 for r in produce), "truth: the load's produce requests are "
                                                    "acks=all")
    t.check(all(p["error"] == 0 for r in produce for p in r["partitions"]),
            "truth: no partition error for the load")
    dups = sum(1 for r in lines if r["api_key"] == 0 for p in r["partitions"]
               if p.get("duplicate"))
    t.eq(dups, 3, "truth: duplicates marked (the raw client's three retries)")


main(test)

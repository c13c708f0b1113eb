#!/usr/bin/python3
"""kafkalat keeps up with a fetch-heavy mix on the reference broker: 50
producer connections while four kcat consumers long-poll 1 MB fetches
(records by sendfile), then a replica fetcher's Fetch requests v4-v11 (replica_id >= 0,
raw socket) whose responses end in file data. Nothing desynced or
undecodable, >= 99.9% of the produce requests matched, the Fetch requests
framed exactly as the broker's truth counts them, and each follower
partition (replica_id, fetch_offset) as sent and as the broker read it;
every log append's record batch offsets (KLC_EV_BATCH) as the broker
assigned them."""
import signal
import socket
import struct
import time

from lib import (check_summary_clean, dump_batch_writes, dump_fetch_parts, fetch_request, main,
                 read_jsonl)

PARTS = 4
WARM = 6000   # messages of 1000 bytes before the consumers start: 1.5 MB a partition
LIVE = 6000   # while they long-poll
LIVE_PRODUCERS = 50
FOLLOWER_VERSIONS = range(4, 12)  # the reference broker serves Fetch 4-11


def kcat(t, boot, part, count):
    return t.spawn(["kcat", "-C", "-b", boot, "-t", "ff", "-p", part, "-o", "beginning", "-c",
                    count, "-q", "-f", "%o\\n", "-X", "fetch.max.bytes=1048576",
                    "-X", "max.partition.fetch.bytes=1048576", "-X", "fetch.wait.max.ms=300"],
                   f"kcat-{part}")


def follower_fetches(port):
    """One Fetch per version as broker 1's replica fetcher would send, each
    answered before the next; returns what was sent [(topic, part, offset, replica)]."""
    sent = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for i, v in enumerate(FOLLOWER_VERSIONS):
            parts = [(p, 37 * i + p) for p in range(PARTS) if (p + i) % 3]
            s.sendall(fetch_request(v, 100 + i, "broker-1-fetcher-0", 1 + i % 2,
                                    [("ff", parts)]))
            sent += [("ff", p, off, 1 + i % 2) for p, off in parts]
            want, buf = None, b""
            while want is None or len(buf) < want:
                data = s.recv(1 << 20)
                if not data:
                    raise ConnectionError("the broker closed the follower's connection")
                buf += data
                if want is None and len(buf) >= 4:
                    want = 4 + struct.unpack_from(">i", buf)[0]
            if struct.unpack_from(">i", buf, 4)[0] != 100 + i:
                raise ValueError("follower fetch answered out of order")
    return sent


def test(t):
    broker, port, truth = t.truth_broker("broker")
    boot = f"127.0.0.1:{port}"
    dump = t.path("events.dump")
    k = t.kafkalat(broker.pid, [port], "--dump-events", dump)
    load, _ = t.load(boot, "-t", "ff", "--producers", 10, "--count", WARM, "--size", 1000,
                     "--partitions", PARTS, messages=False, name="warm")
    t.eq(load["delivered"], WARM, "warm-up delivered")
    consumers = [kcat(t, boot, p, (WARM + LIVE) // PARTS) for p in range(PARTS)]
    load, _ = t.load(boot, "-t", "ff", "--producers", LIVE_PRODUCERS, "--count", LIVE, "--size", 1000,
                     "--partitions", PARTS, "--rate", 3000, messages=False, name="live")
    t.eq(load["delivered"], LIVE, "live load delivered")
    for p, c in enumerate(consumers):
        t.eq(t.wait(c, 20), 0, f"kcat -C partition {p} exit status")
        t.eq(len(t.output(c)[0].splitlines()), (WARM + LIVE) // PARTS,
             f"kcat -C partition {p}: records read")
    sent = follower_fetches(port)
    # a consumer's last long poll is answered (to a closed socket) when it expires
    time.sleep(0.5)
    s, _ = t.stop_kafkalat(k)
    broker.send_signal(signal.SIGTERM)
    t.eq(t.wait(broker, 20), 0, "broker exit status after SIGTERM")
    lines = read_jsonl(truth)

    check_summary_clean(t, s)
    t.eq(s["desyncs"], 0, "desyncs")
    # at least one connection per producer (warm-up and live) and consumer
    conns = s["connections"]["seen"]
    t.check(conns >= 10 + LIVE_PRODUCERS + PARTS,
            f"connections seen {conns} >= {10 + LIVE_PRODUCERS + PARTS}")
    produce = [r for r in lines if r["api_key"] == 0]
    fetches = [r for r in lines if r["api_key"] == 1]
    t.check(s["produce"]["requests"] >= 0.999 * len(produce),
            f"produce requests matched {s['produce']['requests']} >= 99.9% of the broker's "
            f"{len(produce)}")
    b = s["brokers"][0]
    t.eq(b["produce_requests"], len(produce), "produce requests framed == truth")
    t.eq(b["fetch_requests"], len(fetches), "Fetch requests framed == truth")
    follower = [r for r in fetches if r["fetch"]["replica_id"] >= 0]
    t.eq(b["follower_fetches"], len(follower), "follower Fetch bodies walked == truth")
    t.eq(len(follower), len(FOLLOWER_VERSIONS), "follower fetches in the truth")
    truth_parts = [("ff", p["partition"], p["fetch_offset"], r["fetch"]["replica_id"])
                   for r in follower for p in r["fetch"]["partitions"]]
    got = dump_fetch_parts(dump)
    t.eq(got, sent, "follower partitions in the dump == sent")
    t.eq(got, truth_parts, "follower partitions in the dump == the broker's truth")
    print(f"  info largest fetch responses: {sorted(r['fetch']['bytes'] for r in fetches)[-6:]}")
    # every append's record batch offsets, read by the causes probe from the
    # written buffer, as the broker assigned them
    appended = sorted((f"{p['topic']}-{p['partition']}", p["base_offset"],
                       p["base_offset"] + p["records"] - 1) for r in produce
                      for p in r["partitions"] if p["error"] == 0)
    batches = dump_batch_writes(dump)
    got = sorted((d, base, last) for d, base, last, _ in batches)
    diff = [i for i, (x, y) in enumerate(zip(got, appended)) if x != y][:1]
    t.check(got == appended, f"batch offsets of the {len(got)} appends (KLC_EV_BATCH) == the "
            f"broker's {len(appended)} (first difference at {diff})")
    big = sum(1 for r in fetches if r["fetch"]["bytes"] >= 900000)
    t.check(big >= PARTS, f"{big} fetch responses of 0.9-1 MB of records (sendfile)")
    print(f"  info {len(fetches)} fetches ({big} of 0.9-1 MB), {len(produce)} produce requests")


main(test)

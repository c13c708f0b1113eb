#!/usr/bin/python3
"""(b) kafkalat against the mock cluster with clients that frame and pipeline
differently from `kafkalat load`: kcat (librdkafka, acks=all by default, fed
from stdin) and kafka-python (pure Python, its own framing and batching).
Produce request counts are taken from the clients themselves: kcat's
protocol debug log, and kafka-python's sender (each ProduceRequest it builds)."""
import time

import kafka
import kafka.producer.sender as sender

from lib import check_containment, check_request_lines, check_summary_clean, main

N = 5000


def kcat(t, title, topic, extra=()):
    print(f"-- kcat {title}")
    _, boot, pid, ports = t.mockcluster()
    k = t.kafkalat(pid, ports, name=f"kafkalat-{topic}")
    with open(t.path(f"{topic}.in"), "w") as f:
        f.write("".join(f"message {i:06d}\n" for i in range(N)))
    with open(t.path(f"{topic}.in")) as stdin:
        p = t.spawn(["kcat", "-P", "-b", boot, "-t", topic, "-X", "linger.ms=0",
                     "-X", "debug=protocol", *extra], f"kcat-{topic}", stdin=stdin)
        t.eq(t.wait(p, 30), 0, "kcat exit status", fatal=True)
    sent = t.output(p)[1].count("Sent ProduceRequest")
    s, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, s)
    t.eq(s["produce"]["requests"], sent, "produce.requests == kcat's 'Sent ProduceRequest' lines")
    t.eq(len(reqs), sent, "--requests lines")
    t.eq(s["produce"]["records"], N, "produce.records")
    t.eq(check_request_lines(t, reqs, {topic}), N, "records summed over --requests lines")
    t.check(all(r["acks"] == -1 and r["client_id"] == "rdkafka" for r in reqs),
            "every request has kcat's acks=-1 and client_id 'rdkafka'")
    print(f"  info kcat: {sent} produce requests, {N} records, "
          f"p99 {s['produce']['latency_us']['p99']:.0f} us")


def kafka_python(t):
    print("-- kafka-python (acks=1, linger 0, max in flight 5)")
    _, boot, pid, ports = t.mockcluster()
    k = t.kafkalat(pid, ports, name="kafkalat-kp")
    built = []
    orig = sender.Sender._produce_request

    def counting(self, *a, **kw):
        built.append(1)
        return orig(self, *a, **kw)

    sender.Sender._produce_request = counting
    msgs = []
    producer = kafka.KafkaProducer(bootstrap_servers=boot, acks=1, linger_ms=0,
                                   max_in_flight_requests_per_connection=5)
    try:
        def delivered(t0):
            # runs on kafka-python's sender thread, once the response is read
            return lambda md: msgs.append({"partition": md.partition, "offset": md.offset,
                                           "t_produce_ns": t0, "t_dr_ns": time.monotonic_ns()})
        for i in range(N):
            t0 = time.monotonic_ns()
            producer.send("t3", b"%06d" % i + b"x" * 94).add_callback(delivered(t0))
        producer.flush(30)
    finally:
        producer.close(5)
        sender.Sender._produce_request = orig
    s, reqs = t.stop_kafkalat(k)
    t.eq(len(msgs), N, "messages acknowledged to kafka-python")
    check_summary_clean(t, s)
    t.eq(s["produce"]["requests"], len(built), "produce.requests == ProduceRequests kafka-python built")
    t.eq(len(reqs), len(built), "--requests lines")
    t.eq(s["produce"]["records"], N, "produce.records")
    t.eq(check_request_lines(t, reqs, {"t3"}), N, "records summed over --requests lines")
    t.check(all(r["acks"] == 1 and r["client_id"].startswith("kafka-python") for r in reqs),
            "every request has acks=1 and kafka-python's client_id")
    checked = check_containment(t, reqs, msgs)
    print(f"  info kafka-python: {len(built)} produce requests, {N} records, "
          f"{checked} containment checks, p99 {s['produce']['latency_us']['p99']:.0f} us")


def test(t):
    kcat(t, "as the brief (linger.ms=0)", "t2")
    kcat(t, "small batches (batch.num.messages=50: deep pipelining)", "t2b",
         ("-X", "batch.num.messages=50"))
    kafka_python(t)


main(test)

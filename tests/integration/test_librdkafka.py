#!/usr/bin/python3
"""(a) kafkalat against librdkafka's mock cluster under `kafkalat load`:
pipelined produce (max.in.flight 5, linger 0), acks=1 and acks=0, one and two
brokers. kafkalat's request count must equal librdkafka's, records must add up
exactly, and every request must lie inside the client-side delivery of its
messages (same host, both CLOCK_MONOTONIC)."""
from lib import check_containment, check_request_lines, check_summary_clean, main

N = 20000
PIPELINE = ("-X", "max.in.flight=5", "-X", "linger.ms=0")


def scenario(t, title, load_args, brokers=1, acks0=False):
    print(f"-- {title}")
    args = ("--brokers", brokers) if brokers > 1 else ()
    _, boot, pid, ports = t.mockcluster(*args)
    tag = title.split()[0]
    k = t.kafkalat(pid, ports, name=f"kafkalat-{tag}")
    load, msgs = t.load(boot, "-t", "t", "--count", N, *PIPELINE, *load_args,
                        name=f"load-{tag}")
    s, reqs = t.stop_kafkalat(k)
    t.eq(load["delivered"], N, "load delivered")
    t.eq(len(msgs), N, "--messages lines")
    sent = load["produce_requests"]
    t.check(isinstance(sent, int) and sent > 0, f"librdkafka sent {sent} produce requests")
    check_summary_clean(t, s)
    if acks0:
        t.eq(s["produce"]["acks0"], sent, "produce.acks0 == librdkafka's produce requests")
        t.eq(s["produce"]["requests"], 0, "produce.requests (answered, acks!=0)")
        t.check(all(r["acks"] == 0 for r in reqs), "every request line has acks 0")
    else:
        t.eq(s["produce"]["requests"], sent, "produce.requests == librdkafka's")
        t.eq(s["produce"]["acks0"], 0, "produce.acks0")
    t.eq(len(reqs), sent, "--requests lines")
    t.eq(s["produce"]["records"], N, "produce.records")
    t.eq(check_request_lines(t, reqs, {"t"}, answered=not acks0), N,
         "records summed over --requests lines")
    # the mock cluster picks partition leaders at random: with two brokers the
    # produce traffic may go over one connection or two
    conns = len({r["client"] for r in reqs})
    t.check(1 <= conns <= brokers, f"{conns} client connection(s) carrying produce, "
                                   f"<= {brokers} broker(s)")
    checked = check_containment(t, reqs, msgs, answered=not acks0)
    print(f"  info {sent} requests, {N} records, {checked} containment checks, "
          f"kafkalat p99 {s['produce']['latency_us']['p99']:.0f} us, "
          f"client p99 {load['latency_us']['p99']:.0f} us")


def test(t):
    scenario(t, "acks1 (large batches)", ())
    scenario(t, "acks1-small-batches (--partitions 4, batch.num.messages=20)",
             ("--partitions", 4, "-X", "batch.num.messages=20"))
    scenario(t, "acks0 (mock cluster answers acks=0, unlike Kafka)",
             ("--acks", 0, "--partitions", 4, "-X", "batch.num.messages=50"), acks0=True)
    scenario(t, "two-brokers (both ports traced)",
             ("--partitions", 4, "-X", "batch.num.messages=50"), brokers=2)


main(test)

#!/usr/bin/python3
"""`kafkalat load --producers N` against the reference broker, traced: N
independent librdkafka clients share --count and --rate, each on its own
connection. kafkalat must see N distinct client connections carrying
produce requests, and as many produce requests as the clients' statistics
summed over the producers."""
from lib import check_request_lines, check_summary_clean, main

N = 4000
PRODUCERS = 8
RATE = 2000


def test(t):
    broker, port, _ = t.refbroker()
    boot = f"127.0.0.1:{port}"
    t.load(boot, "-t", "prod", "--count", "200", messages=False)  # topic and segments

    k = t.kafkalat(broker.pid, [port])
    load, msgs = t.load(boot, "-t", "prod", "--producers", PRODUCERS, "--count", N, "--rate",
                        RATE)
    s, reqs = t.stop_kafkalat(k)

    t.eq(load["producers"], PRODUCERS, "the summary's producers")
    t.eq(load["delivered"], N, "load delivered")
    t.eq(load["failed"], 0, "load failed")
    t.eq(len(msgs), N, "--messages lines")
    t.check(load["duration_s"] >= (N - 1) / RATE * 0.95,
            f"paced at the shared rate: {load['duration_s']:.2f} s for {N} at {RATE}/s")
    sent = load["produce_requests"]
    t.check(isinstance(sent, int) and sent > 0,
            f"the producers sent {sent} produce requests (summed statistics)")
    check_summary_clean(t, s)
    t.eq(s["produce"]["requests"], sent, "produce requests matched == the load's")
    t.eq(len(reqs), sent, "--requests lines")
    t.eq(s["produce"]["records"], N, "produce.records")
    t.eq(check_request_lines(t, reqs, {"prod"}), N, "records summed over --requests lines")
    clients = {r["client"] for r in reqs}
    t.eq(len(clients), PRODUCERS, f"distinct client connections carrying produce ({clients})")
    per = {}
    for r in reqs:
        per[r["client"]] = per.get(r["client"], 0) + sum(p["records"] for p in r["partitions"])
    t.eq(sorted(per.values()), [N // PRODUCERS] * PRODUCERS,
         "records per connection (message i goes to producer i mod N)")
    print(f"  info {sent} requests over {len(clients)} connections, "
          f"client p99 {load['latency_us']['p99']:.0f} us")


main(test)

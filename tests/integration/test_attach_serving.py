#!/usr/bin/python3
"""(c) The on-call case: attach to a broker that is already serving. Two
producers (kafkalat load and kafka-python) connect and produce first; kafkalat
attaches 2 s later for 4 s. Their connections must be found as preexisting,
framing must resynchronise on them, and nothing may be mis-parsed: no
unmatched request (but those in flight when -d ends) or response, nothing
undecodable, every request line consistent; requests caught
mid-flight at attach are counted as partial."""
import sys
import time

from lib import KAFKALAT, check_request_lines, check_summary_clean, main

KAFKA_PYTHON_PRODUCER = """
import sys, time, kafka
p = kafka.KafkaProducer(bootstrap_servers=sys.argv[1], acks=1, linger_ms=0,
                        max_in_flight_requests_per_connection=5)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    for _ in range(10):
        p.send("t", b"y" * 100)
    time.sleep(0.01)
p.flush(10)
p.close(5)
"""


def test(t):
    _, boot, pid, ports = t.mockcluster()
    load = t.spawn([KAFKALAT, "load", "-b", boot, "-t", "t", "--rate", 2000, "-d", 8,
                    "--json", "-q"], "load")
    kp = t.spawn([sys.executable, "-c", KAFKA_PYTHON_PRODUCER, boot, 8], "kafka-python")
    time.sleep(2)
    t.check(load.poll() is None and kp.poll() is None, "both producers running before attach",
            fatal=True)
    k = t.kafkalat(pid, ports, "-d", 4)
    s, reqs = t.stop_kafkalat(k, timeout=10, term=False)  # ends after -d 4
    t.check(3.5 <= s["duration_s"] <= 5, f"duration_s {s['duration_s']:.2f} ~ 4")
    t.check(s["connections"]["preexisting"] >= 2,
            f"connections.preexisting {s['connections']['preexisting']} >= 2 (both producers)")
    t.check(s["produce"]["requests"] > 0, f"produce.requests {s['produce']['requests']} > 0")
    # the producers outlive the run: requests still in flight when -d ends
    # are unmatched (in_flight); at most max.in.flight (5) per connection
    check_summary_clean(t, s, in_flight_max=5 * s["connections"]["seen"])
    t.eq(len(reqs), s["produce"]["requests"], "--requests lines")
    records = check_request_lines(t, reqs, {"t"})
    t.eq(records, s["produce"]["records"], "records over --requests lines == produce.records")
    t.check(all(0 <= p["partition"] < 4 for r in reqs for p in r["partitions"]),
            "every partition in 0..3")
    clients = {r["client_id"] for r in reqs}
    t.check({"rdkafka"} <= clients and any(c.startswith("kafka-python") for c in clients),
            f"requests of both producers decoded: {sorted(clients)}")
    # ~2000 msg/s of load plus ~1000 msg/s of kafka-python over 4 s
    t.check(records >= 6000, f"{records} records in 4 s (>= 6000 expected)")
    print(f"  info {s['produce']['requests']} produce requests, {records} records, "
          f"partial {s['partial']}, preexisting {s['connections']['preexisting']}, "
          f"connections {s['connections']['seen']}")
    for p in (load, kp):
        t.eq(t.wait(p, 20), 0, f"{p.name} exit status")


main(test)

#!/usr/bin/python3
"""Attach to connections busy before kafkalat starts: `kafkalat load`
produces to the reference broker continuously (1,000 one-message requests/s
over 4 partitions) while dumpcap captures the broker's port from the start;
kafkalat attaches 2 s into the load. On each connection already open, the
requests whose bytes were in the socket before kafkalat first saw the broker
touch it have an unknown arrival: they must come first on their connection
(no known arrival before an unknown one), be at least one per producing
connection, and be what the summary counts (kernel.arrival_unknown). A
request the broker was reading at attach is not reported at all (`partial`,
its response's request was not seen whole) but its arrival is counted
unknown: with p partial requests, the flagged lines are arrival_unknown - p
to arrival_unknown, and flagged lines and partial requests together at least
one per connection.
Every later request must have all three wire times, in order (t_arrival <=
t_complete <= t_read, t_arrival <= t_first: the broker reads only what
epoll says arrived), and >= 99% of them their arrival -> sent within max(200 us, 5%) of
the capture's first request segment -> last response segment."""
import statistics
import time

from lib import KAFKALAT, check_summary_clean, main, pcap_kafka

RATE = 1000
LOAD_S = 6
ATTACH_AFTER_S = 2
TOL_NS, TOL_FRAC = 200_000, 0.05


def test(t):
    _, port, _ = t.refbroker(partitions=4)
    pid = t.procs[-1].pid
    cap = t.capture(port)
    load = t.spawn([KAFKALAT, "load", "-b", f"127.0.0.1:{port}", "-t", "busy", "--partitions", 4,
                    "--rate", RATE, "-d", LOAD_S, "-X", "linger.ms=0", "--json", "-q"], "load")
    time.sleep(ATTACH_AFTER_S)
    t.check(load.poll() is None, "the load still runs when kafkalat attaches", fatal=True)
    k = t.kafkalat(pid, [port], "--no-causes")
    t.eq(t.wait(load, LOAD_S + 20), 0, "kafkalat load exit status", fatal=True)
    frames = pcap_kafka(t.stop_capture(cap), port)
    summary, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, summary)
    pre = summary["connections"]["preexisting"]
    t.check(pre >= 1, f"connections.preexisting {pre} >= 1")
    t.eq(summary["connections"]["seen"], pre, "every connection seen was open before attach")

    by_conn = {}
    for r in sorted(reqs, key=lambda r: r["t_first_ns"]):
        by_conn.setdefault(r["client"], []).append(r)
    unknown = 0
    for client, rs in sorted(by_conn.items()):
        flags = [r["t_arrival_ns"] is None for r in rs]
        n_unk = sum(flags)
        unknown += n_unk
        t.check(n_unk + summary["partial"] >= 1,
                f"{client}: {n_unk} of its {len(rs)} requests have an unknown arrival, "
                f"{summary['partial']} partial (>= 1 together: it was busy at attach)")
        late = [r["corr"] for r in rs[n_unk:] if r["t_arrival_ns"] is None]
        t.eq(late, [], f"{client}: requests with an unknown arrival after its first "
                       f"{n_unk} (they come first)")
        print(f"  info {client}: first {n_unk} requests flagged, "
              f"{(rs[n_unk - 1]['t_first_ns'] - rs[0]['t_first_ns']) / 1e6 if n_unk else 0:.3f} ms "
              f"of its traffic; {len(rs) - n_unk} exact")
    au = summary["kernel"]["arrival_unknown"]
    t.check(unknown <= au <= unknown + summary["partial"],
            f"kernel.arrival_unknown {au}: the {unknown} requests with t_arrival null, and up "
            f"to the {summary['partial']} partial ones")
    exact = [r for r in reqs if r["t_arrival_ns"] is not None]
    t.check(len(exact) >= 0.9 * RATE * (LOAD_S - ATTACH_AFTER_S - 1),
            f"{len(exact)} requests after the flagged ones")
    bad_null = [r["corr"] for r in exact if r["t_complete_ns"] is None or r["t_sent_ns"] is None]
    t.eq(bad_null, [], "later requests with t_complete or t_sent null")
    bad_order = [r["corr"] for r in exact if r["t_complete_ns"] is not None and not (
        r["t_arrival_ns"] <= r["t_complete_ns"] <= r["t_read_ns"]
        and r["t_arrival_ns"] <= r["t_first_ns"])]
    t.eq(bad_order, [], "later requests out of t_arrival <= t_complete <= t_read, "
                        "t_arrival <= t_first")
    diffs, outside, missing = [], [], 0
    for r in exact:
        fr = frames.get((r["client"], r["corr"]))
        if not fr or "resp_last" not in fr or r["t_sent_ns"] is None:
            missing += 1
            continue
        cap_ns = fr["resp_last"] - fr["req_first"]
        d = (r["t_sent_ns"] - r["t_arrival_ns"]) - cap_ns
        diffs.append(abs(d))
        if abs(d) > max(TOL_NS, TOL_FRAC * cap_ns):
            sent_d = (r["t_sent_ns"] - r["t_complete_ns"]) - (fr["resp_last"] - fr["req_last"])
            outside.append(f"corr {r['corr']}: {d / 1e3:.1f} us off ({sent_d / 1e3:.1f} us of it "
                           f"complete->sent; sent {(r['t_sent_ns'] - r['t_end_ns']) / 1e3:.1f} "
                           f"us after the write)")
    t.eq(missing, 0, "later requests missing from the capture")
    t.check(len(outside) <= 0.01 * len(exact),
            f"{len(exact) - len(outside)} of {len(exact)} later requests have arrival -> sent "
            f"within max(200 us, 5%) of the capture's first request segment -> last response "
            f"segment (>= 99%)" + (f"; outside: {outside[:3]}" if outside else ""))
    if diffs:
        diffs.sort()
        print(f"  info |kafkalat - capture| arrival->sent: median "
              f"{statistics.median(diffs) / 1e3:.1f} us, max {diffs[-1] / 1e3:.1f} us "
              f"over {len(diffs)} requests; arrival_unknown {unknown}, partial "
              f"{summary['partial']}")


main(test)

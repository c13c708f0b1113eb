#!/usr/bin/env python3
"""kafkalat tracing a 3-broker reference cluster (refbroker-san, replication
factor 3, min ISR 2) under a librdkafka acks=all load: the acks=all requests'
post_append is split at the follower fetch that released them, against the
brokers' ground truth.

Checked: the summary counts every acks=all request and releases at least
99% of them; each release names a follower's broker (resolved from /proc),
never the leader; the request lines list replication and response_queue
instead of post_append and their phases add up to the latency; the release
time is within 200 us of the truth's covered_ns of the truth's releasing
follower for at least 99% of the requests, and the releasing follower is
the truth's for at least 95% (measured 96.5-99.6% over fourteen runs: the
rest are near-ties the leader's parallel handlers settle, docs/design.md
"Replication")."""
import json
import time

from lib import main, quantile, read_jsonl

TOPIC = "r"
TIE_NS = 150000


def truth_requests(brokers):
    out = {}
    for b in brokers:
        for r in read_jsonl(b[3]):
            if r.get("api_key") == 0 and r.get("acks") == -1 and not r["partitions"][0]["error"]:
                out[(r["client"], r["corr"])] = r
    return out


def check_lines(t, lines, pids):
    released = [r for r in lines if "replica" in r.get("release", {})]
    bad_broker = [r for r in released if r["release"]["tgid"] not in pids]
    t.check(not bad_broker, f"every release names a traced broker ({len(bad_broker)} do not)")
    split = [r for r in released
             if "post_append" not in r["phases_us"] and "replication" in r["phases_us"]]
    t.eq(len(split), len(released), "released lines list replication, not post_append")
    off = [r for r in released
           if abs(sum(r["phases_us"].values()) - r["latency_us"]) > 0.01]
    t.check(not off, f"released lines' phases add up to the latency ({len(off)} do not)")
    return released


def test(t):
    brokers = t.san_cluster(3, "--replica-fetch-wait-ms", 100, "--min-insync-replicas", 2,
                            partitions=2)
    ports = [b[1] for b in brokers]
    pids = [b[0].pid for b in brokers]
    boot = ",".join(f"127.0.0.1:{p}" for p in ports)
    time.sleep(0.5)
    k = t.kafkalat(pids, ports)
    time.sleep(0.5)  # the followers' fetch connections, open before attach, framed again
    s, _ = t.load(boot, "-t", TOPIC, "--acks", "all", "--count", 1500, "--rate", 500,
                  "--partitions", 2, name="load", timeout=30)
    t.eq(s["delivered"], 1500, "all 1500 messages delivered")
    time.sleep(1.0)  # past the 300 ms hold of the last requests
    k.send_signal(2)
    t.eq(t.wait(k, 20), 0, "kafkalat exit status after SIGINT")
    out, _ = t.output(k)
    for b in brokers:
        t.stop_san_broker(b[0])
    summary = json.loads(out.strip().splitlines()[-1])
    repl = summary.get("replication") or {}
    lines = [r for r in read_jsonl(t.path("kafkalat.jsonl")) if r.get("acks") == -1]
    t.eq(repl.get("requests"), len(lines), "summary: every acks=all request counted")
    t.check(repl.get("released", 0) >= 0.99 * len(lines),
            f"summary: {repl.get('released')} of {len(lines)} released (>= 99%), no release "
            f"{repl.get('no_release')}")
    pairs = {(f["leader_pid"], f["follower_pid"]) for f in repl.get("followers", [])}
    t.eq(len(pairs), 4, f"summary: lags of 2 leaders x 2 followers, brokers known ({pairs})")
    released = check_lines(t, lines, pids)
    truth = truth_requests(brokers)
    near, agree, n, dt, ties, shrinks, all_ties = 0, 0, 0, [], 0, 0, 0
    for r in released:
        tr = truth.get((r["client"], r["corr"]))
        if not tr:
            continue
        n += 1
        cov = {x["id"]: x["covered_ns"] for x in tr["partitions"][0]["replicas"]}
        agree += r["release"]["replica"] == tr["released_by"]
        tie = len(cov) == 2 and 0 not in cov.values() and \
            abs(cov[min(cov)] - cov[max(cov)]) <= TIE_NS
        all_ties += tie
        if r["release"]["replica"] != tr["released_by"]:
            shrinks += r["release"]["t_release_ns"] == r["t_resp_ns"]
            ties += tie
        c = cov.get(tr["released_by"])
        if c:
            d = (r["release"]["t_release_ns"] - c) / 1e3
            dt.append(d)
            near += abs(d) <= 200
    t.check(n >= 0.99 * len(released), f"{n} of {len(released)} released lines in the truth")
    dt.sort()
    if dt:
        print(f"  info release - truth covered_ns: p1 {quantile(dt, 0.01):.1f} us, median "
              f"{quantile(dt, 0.5):.1f} us, p99 {quantile(dt, 0.99):.1f} us")
    t.check(n and near >= 0.99 * n, f"release within 200 us of the truth: {near} of {n}")
    print(f"  info disagreements: {n - agree}, of which near-ties (the truth's covering "
          f"fetches within {TIE_NS // 1000} us) {ties} of {all_ties}, released by an inferred "
          f"shrink {shrinks}")
    t.check(n and agree >= 0.95 * n,
            f"releasing follower the truth's: {agree} of {n} ({100 * agree / max(n, 1):.1f}%)")


if __name__ == "__main__":
    main(test)

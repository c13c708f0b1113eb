#!/usr/bin/python3
"""One kafkalat tracing two reference brokers on two ports: by -p twice
(with -P for each port), then by -P twice alone (every listener of the
ports). Each broker's produce requests, as the summary counts them per
broker, equal that broker's own truth; nothing undecodable or unmatched.
Then a replicated pair (--cluster, replication factor 2, acks=all): each
broker's follower fetches, as the event dump has them (replica id and each
partition's fetch offset), are the ones its truth says it read."""
import os
import time

from lib import check_summary_clean, dump_fetch_requests, main, read_jsonl

N = 600


def start_brokers(t, how):
    brokers = []
    for i in range(2):
        name = f"{how}-b{i}"
        logdir = t.path(name + "-log")
        os.mkdir(logdir)
        truth = t.path(name + "-truth.jsonl")
        p, port = t._start_refbroker([], name, "--log-dir", logdir, "--partitions", 2,
                                     "--truth", truth)
        brokers.append((p, port, truth))
    return brokers


def run_once(t, how):
    """Traces two fresh brokers (how: "pids" or "ports"), loads each, then
    checks the per-broker counts against each broker's truth."""
    brokers = start_brokers(t, how)
    ports = [port for _, port, _ in brokers]
    pids = [p.pid for p, _, _ in brokers] if how == "pids" else []
    k = t.kafkalat(pids, ports, name=f"kafkalat-{how}")
    for i, (_, port, _) in enumerate(brokers):
        load, _ = t.load(f"127.0.0.1:{port}", "-t", f"mb{i}", "--count", N * (i + 1),
                         "--rate", 4000, messages=False, name=f"load-{how}-{i}")
        t.eq(load["delivered"], N * (i + 1), f"{how}: broker {i} delivered")
    s, reqs = t.stop_kafkalat(k)
    check_summary_clean(t, s)
    got = {b["pid"]: b for b in s.get("brokers", [])}
    t.eq(sorted(got), sorted(p.pid for p, _, _ in brokers), f"{how}: the brokers listed")
    for i, (p, port, truth) in enumerate(brokers):
        want = len(t.stop_truth_broker(p, truth))
        b = got.get(p.pid, {})
        t.eq(b.get("ports"), [port], f"{how}: broker {i}'s ports")
        t.eq(b.get("produce_requests"), want, f"{how}: broker {i}'s produce requests == truth")
    t.eq(s["produce"]["requests"], sum(b.get("produce_requests", 0) for b in got.values()),
         f"{how}: produce requests summed over the brokers")
    t.eq(len(reqs), s["produce"]["requests"], f"{how}: --requests lines")


def follower_truth(truth):
    """{(replica_id, corr): [(topic, partition, fetch_offset)]} of a broker's
    follower fetches, with when each was read."""
    out = {}
    for r in read_jsonl(truth):
        if r["api_key"] == 1 and r["fetch"]["replica_id"] >= 0:
            parts = [(p["topic"], p["partition"], p["fetch_offset"])
                     for p in r["fetch"]["partitions"]]
            out[(r["fetch"]["replica_id"], r["corr"])] = (parts, r["t_read_ns"])
    return out


def run_cluster(t):
    brokers = t.san_cluster(2, "--replication-factor", 2, "--replica-fetch-wait-ms", 100)
    pids, ports = [b[0].pid for b in brokers], [b[1] for b in brokers]
    dump = t.path("cluster.dump")
    k = t.kafkalat(pids, ports, "--dump-events", dump, name="kafkalat-cluster")
    boot = ",".join(f"127.0.0.1:{port}" for port in ports)
    load, _ = t.load(boot, "-t", "rep", "--count", N * 2, "--rate", 4000, "--acks", "all",
                     messages=False, name="load-cluster")
    t.eq(load["delivered"], N * 2, "cluster: delivered (acks=all)")
    time.sleep(0.3)  # a few idle follower fetches
    t_stop = time.monotonic_ns()
    s, _ = t.stop_kafkalat(k)
    produce = []
    for p, _, _, truth in brokers:
        t.stop_san_broker(p)
        produce.append(sum(1 for r in read_jsonl(truth) if r["api_key"] == 0))
    truths = [follower_truth(b[3]) for b in brokers]
    t.eq(s["undecodable"]["connections"], 0, "cluster: undecodable connections")
    t.eq(s["desyncs"], 0, "cluster: desyncs")
    got = {b["pid"]: b for b in s["brokers"]}
    fetched = dump_fetch_requests(dump)
    for i, (p, _, _, _) in enumerate(brokers):
        t.eq(got[p.pid]["produce_requests"], produce[i], f"cluster: broker {i}'s produce == truth")
        mine = {(r, corr): parts for _, corr, r, parts in fetched if r == 1 - i}
        before = {key: v[0] for key, v in truths[i].items() if v[1] < t_stop - 50_000_000}
        t.check(len(before) > 10, f"cluster: broker {i} read {len(before)} follower fetches")
        wrong = sorted(key for key in before if mine.get(key) != before[key])
        t.eq(wrong, [], f"cluster: broker {i}'s {len(before)} follower fetches in the dump "
             f"== its truth (replica id, corr, partitions and fetch offsets)")
        t.eq(sorted(set(mine) - set(truths[i])), [],
             f"cluster: follower fetches in the dump not in broker {i}'s truth")


def test(t):
    run_once(t, "pids")
    run_once(t, "ports")
    run_cluster(t)


main(test)

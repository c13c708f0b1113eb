#!/usr/bin/python3
"""One kafkalat tracing two reference brokers on two ports: by -p twice
(with -P for each port), then by -P twice alone (every listener of the
ports). Each broker's produce requests, as the summary counts them per
broker, equal that broker's own truth; nothing undecodable or unmatched."""
import os

from lib import check_summary_clean, main, read_jsonl

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


def test(t):
    run_once(t, "pids")
    run_once(t, "ports")


main(test)

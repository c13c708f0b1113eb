#!/usr/bin/python3
"""kafkalat's cost per produce request on the replicated cluster, as
fetchers are added: prints figures, asserts nothing.

Three reference brokers (scripts/cluster.sh, logs on tmpfs), one topic of
one partition, so that broker 0 leads it and every produce request goes
through broker 0; `kafkalat load` at a fixed rate (BENCH_CLUSTER_RATE
msg/s, acks=all, 100 B, one message per request). Three configurations:
  - rf1: replication factor 1, produce only: no fetcher at all (the
    baseline; brokers 1 and 2 still hold their idle fetcher connections);
  - rf3: replication factor 3, produce only: the two followers fetch from
    the leader, one fetch each per append;
  - rf3+consumers: rf3 plus BENCH_CLUSTER_CONSUMERS consumers
    (--consumer-mode assign, --fetch-wait-ms BENCH_CLUSTER_FETCH_WAIT_MS)
    long-polling the leader.
Each with kafkalat and with the floor (OUT/floor/kafkalat, built with
-DKLT_BENCH_FLOOR: the same hooks, programs that return at once), tracing
the leader (BENCH_CLUSTER_TRACE=leader, the default: the produce path is
the leader's; followers serve no produce request) or all three brokers
(BENCH_CLUSTER_TRACE=all, as one would trace a cluster). Per run, with
kernel.bpf_stats_enabled on (restored after): BPF time per produce request
(all programs and per program: bpftool's run_time_ns of the tracer's
programs over the load; every program runs for every process on the
machine, so other work on it counts too), kafkalat's CPU per produce
request (schedstat's run time of its threads), lost events.
BENCH_CLUSTER_ROUNDS rounds: each starts an rf1 and an rf3 cluster in turn
(order alternating by round) and makes every run of that cluster in random
order. The growth from produce only to with fetchers is taken pairwise
within a round, for kafkalat and for the floor, in ns per produce request
and as a ratio; median and range over the rounds (the machine is noisy).
"""
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile

from bench_split import diff_pairs
from benchlib import cpu_ns, lost_events, prog_stats, start_tracer, stop_tracer
from benchlib import tracer_prog_ids

BUILD = os.environ.get("OUT", "build")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = int(os.environ.get("BENCH_CLUSTER_ROUNDS", "5"))
RUN_S = float(os.environ.get("BENCH_CLUSTER_SECONDS", "4"))
RATE = int(os.environ.get("BENCH_CLUSTER_RATE", "2000"))
CONSUMERS = int(os.environ.get("BENCH_CLUSTER_CONSUMERS", "2"))
FETCH_WAIT_MS = int(os.environ.get("BENCH_CLUSTER_FETCH_WAIT_MS", "500"))
TRACE = os.environ.get("BENCH_CLUSTER_TRACE", "leader")
FLOOR_BUILD = os.path.join(BUILD, "floor")
TOPIC = "bench"
WHO = "bench_cluster"

# (name, replication factor, consumers)
CONFIGS = (("rf1", 1, 0), ("rf3", 3, 0), ("rf3+consumers", 3, CONSUMERS))
MODES = ("kafkalat", "floor")
# (label, from configuration, to configuration)
GROWTHS = (("followers", "rf1", "rf3"), ("consumers", "rf3", "rf3+consumers"),
           ("all fetchers", "rf1", "rf3+consumers"))


class Stop(Exception):
    """SIGTERM or SIGHUP: unwind through every cleanup, as SIGINT does."""


def on_signal(signum, _frame):
    raise Stop(f"signal {signum}")


def free_ports(n):
    """n free ports of 127.0.0.1 (a cluster's --cluster list is fixed)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cluster_sh(*args):
    """scripts/cluster.sh, left to finish its own cleanup if interrupted:
    (exit status, output); the interruption is raised afterwards."""
    env = dict(os.environ, OUT=os.path.realpath(BUILD))
    p = subprocess.Popen([os.path.join(ROOT, "scripts", "cluster.sh"), *args], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pending = None
    while True:
        try:
            out, _ = p.communicate()
            break
        except (KeyboardInterrupt, Stop) as e:
            pending = e
    if pending:
        raise pending
    return p.returncode, out


class Cluster:
    """Three brokers with replication factor rf (cluster.sh up), brought down
    with its state file on every exit path."""

    def __init__(self, tmp, rf, n):
        self.rf = rf
        self.state = os.path.join(tmp, f"cluster-{n}.state")
        self.dir = os.path.join(tmp, f"cluster-{n}")
        self.pids, self.ports = [], []

    def __enter__(self):
        os.makedirs(self.dir)
        try:
            rc, out = cluster_sh("up", "--state", self.state, "--dir", self.dir,
                                 "--ports", ",".join(map(str, free_ports(3))), "--topic", TOPIC,
                                 "--", "--partitions", "1", "--replication-factor", str(self.rf))
            if rc:
                sys.exit(f"{WHO}: cluster.sh up failed ({rc}): {out[-400:]}")
            with open(self.state) as f:
                kv = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
            self.pids = [int(kv[f"PID_{i}"]) for i in range(3)]
            self.ports = [int(kv[f"PORT_{i}"]) for i in range(3)]
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()

    def down(self):
        if not os.path.exists(self.state):
            return
        rc, out = cluster_sh("down", "--state", self.state)
        if rc:
            sys.exit(f"{WHO}: cluster.sh down failed ({rc}): {out[-400:]}; "
                     f"see {self.state}")

    def bootstrap(self):
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def traced(self):
        """(pids, ports) kafkalat traces: broker 0 leads the one partition."""
        if TRACE == "all":
            return self.pids, self.ports
        return self.pids[:1], self.ports[:1]


def run_load(cluster, consumers, seconds):
    args = [f"{BUILD}/kafkalat", "load", "-b", cluster.bootstrap(), "-t", TOPIC,
            "--partitions", "1", "--rate", str(RATE), "--size", "100", "--acks", "all",
            "-d", str(seconds), "-X", "linger.ms=0", "-X", "batch.num.messages=1",
            "-X", "queue.buffering.max.messages=1000", "--json", "-q"]
    if consumers:
        args += ["--consumers", str(consumers), "--consumer-mode", "assign",
                 "--fetch-wait-ms", str(FETCH_WAIT_MS)]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        sys.exit(f"{WHO}: kafkalat load failed ({r.returncode}): {r.stderr[-300:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def one_run(cluster, mode, consumers, tmp):
    """One load under kafkalat or the floor: its figures per produce request."""
    pids, ports = cluster.traced()
    build = FLOOR_BUILD if mode == "floor" else None
    tracer = start_tracer(pids, ports, tmp, WHO, (), build)
    try:
        ids = tracer_prog_ids(tracer.pid)
        t0, s0 = cpu_ns(tracer.pid), prog_stats(ids)
        load = run_load(cluster, consumers, RUN_S)
        s1, t1 = prog_stats(ids), cpu_ns(tracer.pid)
    finally:
        summary = stop_tracer(tracer)
    reqs = load["produce_requests"] or 0
    if not reqs:
        sys.exit(f"{WHO}: no produce request counted ({mode}, {consumers} consumers)")
    leader = next((b for b in summary.get("brokers") or [] if b.get("pid") == pids[0]), {})
    cons = load.get("consumers") or {}
    delta = diff_pairs(s1, s0)
    progs = {k: ns / reqs for k, (ns, _) in delta.items()}
    return {"reqs": reqs, "bpf": sum(progs.values()), "progs": progs,
            "runs": sum(c for _, c in delta.values()) / reqs,
            "cpu_us": (t1 - t0) / reqs / 1e3, "lost": lost_events(summary),
            "fetches": leader.get("fetch_requests", 0) / reqs,
            "follower_fetches": leader.get("follower_fetches", 0) / reqs,
            "failed": load.get("failed", 0), "missing": cons.get("missing", 0)}


def one_round(tmp, rnd, n):
    """Every run of this round: {(config, mode): run}."""
    out = {}
    order = (1, 3) if n % 2 == 0 else (3, 1)
    for rf in order:
        runs = [(c, m) for c in CONFIGS if c[1] == rf for m in MODES]
        rnd.shuffle(runs)
        with Cluster(tmp, rf, f"{n}-rf{rf}") as cluster:
            run_load(cluster, 0, 1)  # warm-up: connections, segments, the followers' fetches
            for (name, _, consumers), mode in runs:
                r = one_run(cluster, mode, consumers, tmp)
                out[(name, mode)] = r
                print(f"round {n + 1}/{ROUNDS} {name:<14} {mode:<8} "
                      f"{r['bpf']:7.0f} ns BPF/request  {r['cpu_us']:5.2f} us CPU/request  "
                      f"{r['reqs']} requests", file=sys.stderr)
    return out


def fmt_spread(values, unit="", digits=0, sign=False):
    """'median unit (min to max)' of a list of numbers."""
    f = f"{{:{'+' if sign else ''}.{digits}f}}"
    med, lo, hi = statistics.median(values), min(values), max(values)
    return f"{f.format(med)}{unit} ({f.format(lo)} to {f.format(hi)})"


def report(rounds):
    who = ("the leader (-p its pid)" if TRACE != "all"
           else "all three brokers (-p repeated)")
    print(f"kafkalat bench (cluster): 3 reference brokers (scripts/cluster.sh, logs on tmpfs), "
          f"one partition led by broker 0, kafkalat tracing {who}; {RATE} msg/s acks=all, "
          f"100 B, 1 message/request; {ROUNDS} rounds of {RUN_S:g} s runs, bpf_stats on; "
          f"median (min to max) over the rounds")
    for name, _, consumers in CONFIGS:
        what = {"rf1": "replication factor 1, no fetcher",
                "rf3": "replication factor 3: 2 followers fetch",
                "rf3+consumers": f"replication factor 3 and {consumers} consumers "
                                 f"(assign, fetch wait {FETCH_WAIT_MS} ms)"}[name]
        k = [r[(name, "kafkalat")] for r in rounds]
        f = [r[(name, "floor")] for r in rounds]
        print(f"  {name}: {what}")
        print(f"      fetch requests at the leader per produce request  "
              f"{fmt_spread([x['fetches'] for x in k], digits=2)} "
              f"(of them followers' {fmt_spread([x['follower_fetches'] for x in k], digits=2)})")
        print(f"      BPF time per produce request  kafkalat {fmt_spread([x['bpf'] for x in k], ' ns')}"
              f", floor {fmt_spread([x['bpf'] for x in f], ' ns')}")
        print(f"      program runs per produce request  kafkalat "
              f"{fmt_spread([x['runs'] for x in k], digits=1)}, floor "
              f"{fmt_spread([x['runs'] for x in f], digits=1)}")
        print(f"      CPU per produce request       kafkalat "
              f"{fmt_spread([x['cpu_us'] for x in k], ' us', 2)}, floor "
              f"{fmt_spread([x['cpu_us'] for x in f], ' us', 2)}")
    print("  growth per produce request, pairwise within each round:")
    for label, a, b in GROWTHS:
        print(f"    {label} ({a} -> {b}):")
        for what, key, unit, digits in (("BPF time", "bpf", " ns", 0),
                                        ("CPU", "cpu_us", " us", 2)):
            d = {m: [r[(b, m)][key] - r[(a, m)][key] for r in rounds] for m in MODES}
            q = {m: [r[(b, m)][key] / r[(a, m)][key] for r in rounds if r[(a, m)][key]]
                 for m in MODES}
            line = ", ".join(f"{m} {fmt_spread(d[m], unit, digits, True)}"
                             + (f" x{fmt_spread(q[m], '', 2)}" if q[m] else "") for m in MODES)
            print(f"      {what:<9} {line}")
        above = [(r[(b, 'kafkalat')]['bpf'] - r[(a, 'kafkalat')]['bpf'])
                 - (r[(b, 'floor')]['bpf'] - r[(a, 'floor')]['bpf']) for r in rounds]
        print(f"      kafkalat's BPF growth minus the floor's  {fmt_spread(above, ' ns', 0, True)}")
    report_programs(rounds)
    lost = sum(r[k]["lost"] for r in rounds for k in r if k[1] == "kafkalat")
    bad = sum(r[k]["failed"] + r[k]["missing"] for r in rounds for k in r)
    print(f"  lost events (default rings)     {lost} over {ROUNDS * len(CONFIGS)} kafkalat runs; "
          f"messages failed or not consumed {bad}")


def report_programs(rounds):
    """Each program's ns per produce request, median over the rounds; growth
    from no fetcher to followers and consumers, pairwise."""
    first, last = CONFIGS[0][0], CONFIGS[-1][0]
    names = sorted({p for r in rounds for k in r for p in r[k]["progs"]},
                   key=lambda p: -statistics.median(
                       r[(last, "kafkalat")]["progs"].get(p, 0) for r in rounds))
    short = {"rf1": "rf1", "rf3": "rf3", "rf3+consumers": "rf3+cons"}
    head = " ".join(f"{short[c[0]]:>8}" for c in CONFIGS) + f" {'growth':>7}"
    print("  per program, ns per produce request (median over the rounds; growth "
          f"{first} -> {last}):")
    print(f"      {'':<20} {'kafkalat':^{len(head)}} | {'floor':^{len(head)}}".rstrip())
    print(f"      {'program':<20} {head} | {head}")
    for p in names:
        cells = []
        for m in MODES:
            med = [statistics.median(r[(c[0], m)]["progs"].get(p, 0) for r in rounds)
                   for c in CONFIGS]
            g = statistics.median(r[(last, m)]["progs"].get(p, 0)
                                  - r[(first, m)]["progs"].get(p, 0) for r in rounds)
            cells.append(" ".join(f"{v:>8.0f}" for v in med) + f" {g:>+7.0f}")
        print(f"      {p:<20} {cells[0]} | {cells[1]}")


def main():
    if os.geteuid() != 0:
        sys.exit(f"{WHO}: needs root (BPF)")
    if TRACE not in ("leader", "all"):
        sys.exit(f"{WHO}: BENCH_CLUSTER_TRACE is leader or all, not '{TRACE}'")
    for b in (BUILD, FLOOR_BUILD):
        if not os.access(f"{b}/kafkalat", os.X_OK):
            sys.exit(f"{WHO}: {b}/kafkalat missing: run make bench (it builds the floor)")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    tmp = tempfile.mkdtemp(prefix="kafkalat-bench-cluster.", dir="/dev/shm")
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_before = f.read().strip()
    rnd = random.Random(42)
    rounds = []
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        for n in range(ROUNDS):
            rounds.append(one_round(tmp, rnd, n))
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_before)
        shutil.rmtree(tmp, ignore_errors=True)
    report(rounds)


if __name__ == "__main__":
    main()

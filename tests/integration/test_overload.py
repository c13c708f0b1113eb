#!/usr/bin/env python3
"""Overload (issue 16): a kafkalat that cannot follow counts what it lost,
marks the intervals, reports no request from half its events, and recovers.

The reference broker (its ground truth on) takes eight producers at their
highest rate (linger.ms 0) while kafkalat, with the smallest rings
(--ringbuf-mb 1), is stopped for a second: the extreme of a CPU throttle,
and the same for every run (this machine's cpu controller is cgroup v1).
Then one producer at 200 msg/s. Checked:
- the summary's losses by kind, per ring, equal kafkalat's own BPF
  counters (bpftool, the per-CPU stats maps of its process) and the sum of
  the intervals' losses;
- intervals with a loss or touched requests are marked ("loss"), and
  intervals without carry no loss count;
- Produce requests matched + unmatched + touched (the loss records' lost
  Produce frames with them) equal the broker truth's exactly;
- every --requests line is a whole request (contract fields, time order,
  partitions of the topic) and no more lines than matched requests;
- after the load drops, the last intervals have requests and no loss, and
  the low-rate phase's requests are all matched.
"""
import json
import os
import signal
import subprocess
import time

import lib

TOPIC = "t"


def kafkalat_stats(pid):
    """Sums of kafkalat's per-CPU stats maps: {value size: {field: sum}}."""
    ids = set()
    fddir = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fddir):
        try:
            with open(os.path.join(fddir, fd)) as f:
                for line in f:
                    if line.startswith("map_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    maps = json.loads(subprocess.run(["bpftool", "-j", "map", "list"], check=True,
                                     capture_output=True, text=True).stdout)
    out = {}
    for m in maps:
        if m["id"] not in ids or m.get("name") != "stats":
            continue
        dump = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "id", str(m["id"])],
                                         check=True, capture_output=True, text=True).stdout)
        total = {}
        for entry in dump:
            vals = entry.get("formatted", entry)["values"]
            for v in vals:
                for k, x in v["value"].items():
                    if isinstance(x, list):
                        old = total.get(k, [0] * len(x))
                        total[k] = [a + b for a, b in zip(old, x)]
                    else:
                        total[k] = total.get(k, 0) + x
        out[m["bytes_value"]] = total
    return out


def kinds(counts, names):
    return {names[i]: n for i, n in enumerate(counts) if n and names[i]}


# KLT_LOST_* and KLC types from 32, as the summary names them
SOCKET_KINDS = [None, "conn", "request", "topic", "partition", "close", "undecodable", "desync",
                "sent", "flow", "arrival", "fetch_partition", None, None, "response",
                "produce_request"]
CAUSE_KINDS = ["file", "futex", "offcpu", "block", "jbd2_commit", "jbd2_run", "jbd2_handle",
               "dirty_throttle", "folio_wait", "file_name", "thread", "batch", "lost",
               None, None, None]


def test(t):
    broker, port, truth = t.truth_broker("broker")
    boot = f"127.0.0.1:{port}"
    kl = t.kafkalat(broker.pid, [port], "--ringbuf-mb", "1", "1")

    # high: eight producers as fast as they go; kafkalat stopped for 1 s
    load = t.spawn([lib.KAFKALAT, "load", "-b", boot, "-t", TOPIC, "-d", "1.5",
                    "--producers", "8", "-X", "linger.ms=0",
                    "-X", "queue.buffering.max.messages=20000", "--json", "-q"], "high")
    time.sleep(0.3)
    os.kill(kl.pid, signal.SIGSTOP)
    try:
        time.sleep(1.0)
    finally:
        os.kill(kl.pid, signal.SIGCONT)
    t.eq(t.wait(load, 30), 0, "high load exit status")
    time.sleep(1.0)
    # low: one producer, 200 msg/s
    t.load(boot, "-t", TOPIC, "-d", "2", "--rate", "200", name="low", messages=False)
    time.sleep(2.5)  # two quiet intervals, and the held requests attributed
    kernel = kafkalat_stats(kl.pid)
    summary, reqs = t.stop_kafkalat(kl, timeout=20)
    produce_truth = t.stop_truth_broker(broker, truth)

    lines = [json.loads(x) for x in t.output(kl)[0].splitlines() if x.startswith("{")]
    ivs = [x for x in lines if x.get("type") == "interval"]
    lost = summary["lost"]
    print(f"  info lost: socket {lost['socket']} {lost['socket_kinds']}, causes "
          f"{lost['causes']} {lost['causes_kinds']}; touched {lost['touched_requests']} "
          f"(Produce {lost['touched_produce']}), unattributed for lost causes "
          f"{lost['unattributed_lost_causes']}; {len(ivs)} intervals")

    # lost > 0, per ring and kind, equal to the BPF counters
    t.check(summary["loss"] and lost["socket"] > 0 and lost["causes"] > 0,
            "records were lost in both rings")
    t.check(lost["socket_kinds"].get("produce_request", 0) > 0,
            "Produce request frames among the socket ring's losses")
    sock = next((v for v in kernel.values() if "arrival_dropped" in v), None)
    cause = next((v for v in kernel.values() if "block_unmatched" in v), None)
    t.check(sock is not None and cause is not None, "kafkalat's two stats maps read", fatal=True)
    t.eq(lost["socket"], sock["ringbuf_drops"], "socket ring: lost = the BPF counter")
    t.eq(lost["socket_kinds"], kinds(sock["drops"], SOCKET_KINDS),
         "socket ring: lost by kind = the BPF counters")
    t.eq(lost["causes"], cause["ringbuf_drops"], "causes ring: lost = the BPF counter")
    t.eq(lost["causes_kinds"], kinds(cause["drops"], CAUSE_KINDS),
         "causes ring: lost by kind = the BPF counters")
    t.eq(summary["lost_events"], lost["socket"], "lost_events = the socket ring's losses")

    # the intervals: marked where a loss fell or requests were touched
    iv_sum = {"socket": 0, "causes": 0, "touched_requests": 0}
    for k in iv_sum:
        iv_sum[k] = sum(iv["lost"][k] for iv in ivs)
    t.eq(iv_sum["socket"], lost["socket"], "intervals' socket losses add up to the summary's")
    t.eq(iv_sum["causes"], lost["causes"], "intervals' cause losses add up to the summary's")
    t.eq(iv_sum["touched_requests"], lost["touched_requests"],
         "intervals' touched requests add up to the summary's")
    marked = [iv for iv in ivs if iv["loss"]]
    unmarked_bad = [iv["time"] for iv in ivs if not iv["loss"] and (
        iv["lost"]["socket"] or iv["lost"]["causes"] or iv["lost"]["touched_requests"]
        or iv["lost"]["unattributed_lost_causes"])]
    t.check(0 < len(marked) < len(ivs), f"{len(marked)} of {len(ivs)} intervals marked")
    t.eq(unmarked_bad, [], "intervals not marked carry no loss")

    # every request accounted for: matched + unmatched + touched = truth
    p = summary["produce"]
    t.check(lost["touched_produce"] > 0, "the loss touched Produce requests")
    t.eq(p["requests"] + p["unmatched"] + lost["touched_produce"], len(produce_truth),
         f"Produce matched {p['requests']} + unmatched {p['unmatched']} + touched "
         f"{lost['touched_produce']} = the broker's truth")
    t.check(len(reqs) <= p["requests"], f"{len(reqs)} request lines <= matched requests")
    lib.check_request_lines(t, reqs, {TOPIC})

    # recovery: after the last marked interval no loss, and the low phase's
    # requests (all sent after the high phase was delivered) all matched
    last = max(i for i, iv in enumerate(ivs) if iv["loss"])
    after = sum(iv["produce"]["requests"] for iv in ivs[last + 1:])
    low_reqs = sum(1 for r in produce_truth if r["client"] == produce_truth[-1]["client"])
    t.check(low_reqs > 0 and after >= low_reqs,
            f"{after} Produce requests matched in the {len(ivs) - last - 1} intervals after "
            f"the last loss >= the low phase's {low_reqs}")
    t.eq(p["unmatched"], 0, "no Produce request unmatched")

if __name__ == "__main__":
    lib.main(test)

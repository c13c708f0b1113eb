#!/usr/bin/python3
"""--follow with two brokers, one of them restarted: A (network thread
stalled before its responses by --inject-sleep respond) is SIGKILLed with
a Produce request read and not answered, then a new process (A2) listens
on A's port, while B takes load throughout. kafkalat -p A -p B --follow
keeps B traced without a gap, counts the stalled request unmatched
(closed) once, in A's first life, and attributes each life's requests;
kafkalat -p A -p B without --follow counts it the same way and traces B
on, and kafkalat -p A alone ends with A, counting it so too. Each run's requests add up to the brokers' truth: B's and A2's truth
files, and for A, whose truth buffer dies with it, the requests its one
raw client sent (each answered but the last)."""
import json
import os
import signal
import time

from lib import KAFKALAT, Raw, main, read_jsonl, record_batch

ANSWERED_A = 20  # Produce requests A answers before the stalled one
COUNT_A2 = 10
COUNT_B, RATE_B = 1500, 500  # 3 s of load on B, across A's exit and A2's start


def start_tracer(t, name, pids, ports, *flags):
    """kafkalat as t.kafkalat starts it, without waiting for it: the
    tracers load side by side."""
    # --nice 0: at the default 19 a busy machine starves the reader, and
    # what is tested here is the following, not the pacing
    argv = [KAFKALAT, "-j", "--requests", t.path(name + ".jsonl"), "--nice", 0]
    for pid in pids:
        argv += ["-p", pid]
    for port in ports:
        argv += ["-P", port]
    return t.spawn([*argv, *flags], name)


def raw_produces(port, n, topic="f"):
    """Metadata (creating the topic), then n Produce requests, each
    answered; returns the connection and how many requests it sent."""
    r = Raw(port)
    r.metadata(topic)
    for i in range(n):
        r.produce(topic, 0, record_batch([b"v%d" % i]))
    return r, 1 + n


def summary_of(t, p, stop=True):
    """The summary and the intervals of tracer p, stopped (stop) or ended."""
    s, _ = t.stop_kafkalat(p, timeout=15, term=stop)
    out = t.output(p)[0].splitlines()
    return s, [json.loads(x) for x in out if '"type":"interval"' in x]


def check_stalled_unmatched(t, how, s):
    t.eq(s["unmatched"]["requests"], 1, f"{how}: one request unmatched")
    t.eq(s["unmatched"]["reasons"], {"closed": 1}, f"{how}: unmatched as closed")
    t.eq(s["produce"]["unmatched"], 1, f"{how}: it is a Produce request")
    t.eq(s["lost_events"], 0, f"{how}: no events lost")
    t.eq(s["unmatched"]["responses"], 0, f"{how}: no response unmatched")


def completed(s):
    return sum(api["requests"] for api in s["apis"].values())


def test(t):
    b, port_b, _ = t.refbroker("--truth", t.path("b-truth.jsonl"), name="broker-b",
                               partitions=2)
    # A's network thread sleeps before its (ANSWERED_A + 2)-th response:
    # that of the Produce request after the Metadata and ANSWERED_A ones
    a, port_a, _ = t.refbroker("--network-threads", 1, "--inject-sleep",
                               f"respond:30000:{ANSWERED_A + 2}", name="broker-a", partitions=1)
    fol = start_tracer(t, "follow", [a.pid, b.pid], [port_a, port_b], "--follow", 1)
    plain = start_tracer(t, "plain", [a.pid, b.pid], [port_a, port_b])
    # A alone, without --follow: its exit ends the run
    solo = start_tracer(t, "solo", [a.pid], [port_a], "--no-causes")
    for p in (fol, plain, solo):
        print(f"  info {p.name} attached in {t.wait_stderr(p, 'Tracing', 30) * 1000:.0f} ms")
    load_b = t.spawn([KAFKALAT, "load", "-b", f"127.0.0.1:{port_b}", "--json", "-q", "-t", "g",
                      "--count", COUNT_B, "--rate", RATE_B], "load-b")

    raw, sent_a = raw_produces(port_a, ANSWERED_A)
    raw.send(0, 3, Raw.produce_body("f", 0, record_batch([b"stalled"])))
    sent_a += 1
    time.sleep(0.5)  # read by A, its response held in the sleep
    a.kill()  # SIGKILL: a crash
    a.wait()
    raw.s.close()
    said = f"broker {a.pid} exited; waiting for a new process on port {port_a}"
    t.wait_stderr(fol, said, 10)
    t.wait_stderr(plain, f"broker {a.pid} exited; tracing the other", 10)
    logdir = t.path("broker-a2-log")
    os.mkdir(logdir)
    a2, port_a2 = t._start_refbroker([], "broker-a2", "--port", port_a, "--log-dir", logdir,
                                     "--partitions", 1, "--truth", t.path("a2-truth.jsonl"))
    t.eq(port_a2, port_a, "A2 listens on A's port", fatal=True)
    found_s = t.wait_stderr(fol, f"following new broker {a2.pid} (refbroker)", 10)
    print(f"  info A2 found {found_s * 1000:.0f} ms after it said PORT=")
    raw2, sent_a2 = raw_produces(port_a, COUNT_A2)
    raw2.s.close()
    t.check(load_b.poll() is None, "B's load ran across A's exit and A2's start")
    t.eq(t.wait(load_b, 30), 0, "load on B exit status")
    t.check(fol.poll() is None and plain.poll() is None, "both tracers still running")
    time.sleep(1.2)  # an interval with both brokers attached

    s, ivs = summary_of(t, fol)
    p, _ = summary_of(t, plain)
    one, _ = summary_of(t, solo, stop=False)
    a2.send_signal(signal.SIGTERM)
    b.send_signal(signal.SIGTERM)
    t.eq(t.wait(a2, 10), 0, "A2 exit status")
    t.eq(t.wait(b, 10), 0, "B exit status")
    truth_b = len(read_jsonl(t.path("b-truth.jsonl")))
    truth_a2 = len(read_jsonl(t.path("a2-truth.jsonl")))
    t.eq(truth_a2, sent_a2, "A2's truth: the requests its client sent")
    print(f"  info requests: A {sent_a} (one stalled), A2 {truth_a2}, B {truth_b}")

    print("-- --follow")
    check_stalled_unmatched(t, "follow", s)
    lives = s.get("lives", [])
    t.eq([(x["broker"], x["pids"]) for x in lives],
         [(1, [a.pid]), (2, [b.pid]), (1, [a2.pid])], "lives: A, B, then A2 as broker 1")
    if len(lives) == 3:
        la, lb, la2 = lives
        t.eq(la["requests"], sent_a - 1, "A's life: its answered requests")
        t.eq(la["exit_unmatched"], 1, "A's life: its exit left the stalled request")
        t.check(la["end_s"] is not None and la2["end_s"] is None
                and la2["start_s"] > la["end_s"], "A ended, A2 began after it, still running")
        t.eq(lb["end_s"], None, "B's one life runs throughout")
        t.eq(lb["requests"], truth_b, "B's life: every request of B's truth matched")
        t.eq(lb["exit_unmatched"], 0, "B's life: nothing unanswered")
        t.eq(la2["requests"], truth_a2, "A2's life: every request of A2's truth")
    t.eq(s["gaps"]["count"], 1, "one gap (broker 1's)")
    t.eq(completed(s) + s["unmatched"]["requests"] + s["produce"]["acks0"],
         sent_a + truth_a2 + truth_b, "matched + unmatched + acks0 == the brokers' truth")
    t.eq(s["requests"], sent_a + truth_a2 + truth_b, "request frames == the brokers' truth")
    t.check(all(iv["broker_gap_s"][1] == 0 for iv in ivs) and ivs,
            f"no interval has a gap of B ({len(ivs)} intervals)")
    t.check(any(iv["broker_gap_s"][0] > 0 and iv["gap"] for iv in ivs),
            "an interval marks broker 1's gap")
    t.check(all(b.pid in iv["broker_pids"] for iv in ivs), "every interval traced B")

    print("-- without --follow")
    check_stalled_unmatched(t, "plain", p)
    t.check("lives" not in p, "no lives without --follow")
    t.eq(completed(p) + p["unmatched"]["requests"] + p["produce"]["acks0"], sent_a + truth_b,
         "matched + unmatched + acks0 == A's and B's truth")
    per = {x["pid"]: x["requests"] for x in p["brokers"]}
    t.eq(per.get(a.pid), sent_a, "A's request frames")
    t.eq(per.get(b.pid), truth_b, "B's request frames == its truth")

    print("-- A alone, without --follow")
    t.eq(t.output(solo)[1].strip().splitlines()[-1], "kafkalat: stopping: the broker exited",
         "A's exit ended the run")
    check_stalled_unmatched(t, "solo", one)
    t.eq(completed(one), sent_a - 1, "solo: A's answered requests matched")
    t.eq(one["requests"], sent_a, "solo: request frames == A's truth")


main(test)

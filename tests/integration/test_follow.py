#!/usr/bin/python3
"""--follow: the broker (A) is killed and another process (B) listens on the
same port; kafkalat and kafkalat record keep running, re-attach to B, mark
the gap in their intervals and list both lives with exactly the requests
each life's load made. A recording reads the gap and the lives back."""
import json
import os
import signal
import subprocess
import time

from lib import KAFKALAT, check_summary_clean, main

COUNT_A, COUNT_B = 600, 900
GAP_S = 2.0  # two intervals (1 s): one of them is all gap on a calm machine


def start_tracers(t, pid, port, rec_path):
    """kafkalat --follow (JSON, a table a second) and kafkalat record
    --follow, loading side by side; the wait allows for a busy machine."""
    # --nice 0: at the default 19 a busy machine starves the reader for
    # seconds, and what is tested here is the following, not the pacing
    live = t.spawn([KAFKALAT, "-j", "--requests", t.path("follow.jsonl"), "--follow", "--nice", 0,
                    "-p", pid, "-P", port, 1], "follow")
    rec = t.spawn([KAFKALAT, "record", "--follow", "--nice", 0, "-I", 1, "-o", rec_path, "-p",
                   pid, "-P", port], "record")
    for p in (live, rec):
        print(f"  info {p.name} attached in "
              f"{t.wait_stderr(p, 'Tracing', 30, p.name) * 1000:.0f} ms")
    return live, rec


def check_lives(t, how, lives, pids, loads):
    t.eq([life["pids"] for life in lives], [[p] for p in pids], f"{how}: each life's pid")
    for i, (life, load) in enumerate(zip(lives, loads)):
        if load["produce_requests"] is None:  # librdkafka's statistics came late
            print(f"  info {how}: life {i + 1}'s load did not count its requests")
        else:
            t.eq(life["produce_requests"], load["produce_requests"],
                 f"{how}: life {i + 1}'s produce requests == its load's")
        t.eq(life["records"], load["delivered"], f"{how}: life {i + 1}'s records == its load's")
        t.eq(life["exit_unmatched"], 0, f"{how}: life {i + 1}: nothing left unanswered")
    if len(lives) == 2:
        # B started GAP_S after kafkalat said A's exit: the lives never touch
        t.check(lives[0]["end_s"] is not None and lives[1]["end_s"] is None
                and lives[1]["start_s"] > lives[0]["end_s"],
                f"{how}: A ended, B still running, a gap between them "
                f"({lives[0]['end_s']} -> {lives[1]['start_s']})")


def test(t):
    a, port, _ = t.refbroker(name="broker-a", partitions=2)
    boot = f"127.0.0.1:{port}"
    rec_path = t.path("follow.data")
    k, rec = start_tracers(t, a.pid, port, rec_path)
    load_a, _ = t.load(boot, "-t", "f", "--count", COUNT_A, "--rate", 1000,
                     messages=False, name="load-a")
    a.kill()  # SIGKILL: a crash
    a.wait()
    said = f"broker {a.pid} exited; waiting for a new process on port {port}"
    t.wait_stderr(k, said, 10, "kafkalat")
    t.wait_stderr(rec, said, 10, "kafkalat record")
    time.sleep(GAP_S)
    logdir = t.path("broker-b-log")
    os.mkdir(logdir)
    b, port_b = t._start_refbroker([], "broker-b", "--port", port, "--log-dir", logdir,
                                   "--partitions", 2)
    t.eq(port_b, port, "broker B listens on A's port", fatal=True)
    found_s = t.wait_stderr(k, f"following new broker {b.pid} (refbroker)", 10, "kafkalat")
    t.wait_stderr(rec, f"following new broker {b.pid}", 10, "kafkalat record")
    print(f"  info B found {found_s * 1000:.0f} ms after it said PORT=")
    load_b, _ = t.load(boot, "-t", "f", "--count", COUNT_B, "--rate", 1000,
                     messages=False, name="load-b")
    time.sleep(1.2)  # an interval of B's alone
    for p in (k, rec):
        p.send_signal(signal.SIGINT)
    s, _ = t.stop_kafkalat(k, timeout=10, term=False)
    t.eq(t.wait(rec, 10), 0, "kafkalat record exit status")
    out, err = t.output(k)

    print("-- the live run")
    t.eq(err.count("exited; waiting"), 1, "stderr says the exit once")
    t.check("stopping" not in err, "the exit did not end the run")
    check_summary_clean(t, s)
    check_lives(t, "summary", s.get("lives", []), [a.pid, b.pid], [load_a, load_b])
    t.eq(s["produce"]["requests"], sum(life["produce_requests"] for life in s["lives"]),
         "summary: produce requests == the lives'")
    # the causes object follows too: B's appends are found like A's
    t.eq(s["attribution"]["requests"], s["produce"]["requests"],
         "summary: every Produce request of both lives attributed")
    t.eq(s["produce"]["records"], COUNT_A + COUNT_B, "summary: records == both loads'")
    t.eq(s["gaps"]["count"], 1, "summary: one gap")
    t.eq(s["broker"]["pid"], b.pid, "summary: the broker is B")
    ivs = [json.loads(x) for x in out.splitlines() if '"type":"interval"' in x]
    t.eq(sum(iv["produce"]["requests"] for iv in ivs), s["produce"]["requests"],
         "intervals' produce requests add up to the summary's")
    # a starved reader (nice 19 on a busy machine) may print its tables
    # late, but each says its own window's share of the gap
    t.check(any(iv["gap"] and iv["gap_s"] > 0 for iv in ivs), "an interval marks the gap")
    t.check(all(abs(iv["gap_s"] - iv["interval_s"]) < 1e-6 for iv in ivs if iv["broker_pids"] == []),
            "intervals with no broker attached are all gap")
    seen = [iv["broker_pids"] for iv in ivs if iv["produce"]["requests"]]
    t.check(ivs and ivs[0]["broker_pids"] == [a.pid] and any(a.pid in p for p in seen)
            and all(set(p) <= {a.pid, b.pid} for p in seen),
            f"the first interval traced A, those with requests A or B: {seen}")
    # a table a second, printed one per poll: a reader that fell behind
    # (a busy machine) has not printed B's seconds when it stops
    if len(ivs) >= int(s["duration_s"]) - 1:
        t.check(any(b.pid in p for p in seen) and not ivs[-1]["gap"]
                and ivs[-1]["broker_pids"] == [b.pid],
                "intervals with requests name B, the last B alone with no gap")
    else:
        print(f"  info the reader fell behind: {len(ivs)} tables in {s['duration_s']:.1f} s")

    print("-- the recording")
    rep = subprocess.run([KAFKALAT, "report", "-f", "json", rec_path], capture_output=True,
                         text=True, timeout=30)
    t.eq(rep.returncode, 0, f"kafkalat report json ({rep.stderr.strip()[-200:]!r})", fatal=True)
    r = json.loads(rep.stdout)
    check_lives(t, "report", r.get("lives", []), [a.pid, b.pid], [load_a, load_b])
    t.eq(r["gaps"]["count"], 1, "report: one gap")
    t.check(r["gaps"].get("intervals", 0) >= 1,
            f"report: the recording's intervals mark the gap ({r['gaps']})")
    t.eq(r["produce"]["records"], COUNT_A + COUNT_B, "report: records == both loads'")
    text = subprocess.run([KAFKALAT, "report", rec_path], capture_output=True, text=True,
                          timeout=30).stdout
    t.check(f"life 1: broker pid {a.pid}," in text and f"life 2: broker pid {b.pid}," in text
            and "gap: no broker attached" in text, "report text names each life's pid and the gap")


main(test)

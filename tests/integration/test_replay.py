#!/usr/bin/python3
"""`kafkalat replay`: a live run's --dump-events file replayed without BPF
gives the live run's summary and attributions; the checked-in golden trace
replays to its known figures; bad dumps and arguments get one clear line."""
import json
import os
import subprocess
import time

from lib import KAFKALAT, ROOT, main, read_jsonl

GOLDEN = os.path.join(ROOT, "tests", "data", "traces", "lockhold.dump")
MESSAGES = 4000


def replay(t, *args):
    p = subprocess.run([KAFKALAT, "replay", *map(str, args)], capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr.strip().splitlines()


def live_vs_replay(t):
    broker, port, _ = t.refbroker()
    dump = t.path("run.dump")
    k = t.kafkalat(broker.pid, [port], "--dump-events", dump)
    t.load(f"127.0.0.1:{port}", "-t", "r", "--partitions", 4, "--count", MESSAGES,
           "--rate", 2000, "-X", "linger.ms=0", "-X", "batch.num.messages=1", messages=False)
    live, live_reqs = t.stop_kafkalat(k)
    t.eq(oct(os.stat(dump).st_mode & 0o777), "0o600", "the dump is created 0600")
    rc, out, err = replay(t, "-j", "--requests", t.path("replay.jsonl"), dump)
    t.eq(rc, 0, f"replay exit status (stderr {err})", fatal=True)
    t.eq(err, [], "replay of a complete dump: nothing on stderr")
    rep = json.loads(out.strip().splitlines()[-1])
    for path in (("produce", "requests"), ("requests",), ("responses",), ("lost_events",),
                 ("attribution", "requests"), ("attribution", "lost_events"),
                 ("attribution", "segment_writes"), ("attribution", "unmatched", "requests")):
        a, b = live, rep
        for key in path:
            a, b = a[key], b[key]
        t.eq(b, a, "replay " + ".".join(path) + " equals the live run's")
    t.eq(rep["attribution"]["requests"], MESSAGES, "every produce request attributed")
    for band in ("lt_p50", "p50_p99", "ge_p99", "ge_p999"):
        t.eq(rep["bands"][band]["requests"], live["bands"][band]["requests"],
             f"band {band}: requests as live")
    rreqs = {(r["client"], r["corr"]): r for r in read_jsonl(t.path("replay.jsonl"))}
    same_handler = same_phases = n = 0
    for r in live_reqs:
        if "attrib" not in r:
            continue
        n += 1
        o = rreqs.get((r["client"], r["corr"]))
        if o is None:
            continue
        same_handler += o.get("handler_tid") == r.get("handler_tid")
        same_phases += o.get("phases_us") == r.get("phases_us")
    t.eq(n, MESSAGES, "live request lines with an attribution")
    t.eq(same_handler, n, "replayed handler tid equals live for every request")
    # the live run attributes a request when its 300 ms hold ends by the
    # clock, the replay by the dump's own times: a thread's oldest history
    # may differ at that moment, never by more than a few requests
    t.check(same_phases >= n * 0.99,
            f"replayed phases equal live for >= 99% of requests: {same_phases}/{n}")
    # --slower 0: every produce request, at the live run's wall-clock times
    rc, out, err = replay(t, "-j", "--slower", 0, dump)
    slow = [json.loads(x) for x in out.strip().splitlines()[:-1]]
    t.eq(rc, 0, "replay --slower exit status")
    t.eq(sum(x.get("type") == "slow" for x in slow), MESSAGES, "replay --slower 0: a line each")
    now = time.time()
    near = 0
    for x in slow:
        hh, mm, ss = x["time"].split(":")
        tod = int(hh) * 3600 + int(mm) * 60 + float(ss)
        local = time.localtime(now)
        now_tod = local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec
        near += abs((now_tod - tod + 43200) % 86400 - 43200) < 300
    t.eq(near, MESSAGES, "replay --slower lines carry the run's wall-clock times (within 5 min)")
    t.eq(sum("attrib" in x for x in slow), MESSAGES, "replay --slower lines carry attributions")


def golden(t):
    rc, out, err = replay(t, "-j", GOLDEN)
    t.eq(rc, 0, "golden replay exit status", fatal=True)
    t.check(len(err) == 1 and "no loss counters" in err[0],
            f"a dump without loss counters says so on one line: {err}")
    s = json.loads(out.strip().splitlines()[-1])
    t.eq(s["attribution"]["requests"], 400, "golden: produce requests attributed")
    t.eq(s["attribution"]["unmatched"]["requests"], 0, "golden: unmatched")
    # a dump of event ABI 1 has no wire times: every request is counted
    # without them, none is in the latency or the bands (the per-request
    # attribution of this trace is unit-tested: test_golden.c)
    t.eq(s["produce"]["wire_unknown_reasons"], {"abi1": 400}, "golden: no wire times (abi1)")
    t.eq(s["produce"]["latency_us"]["max"], 0, "golden: no latency without wire times")
    t.check(s["produce"]["broker_latency_us"]["max"] > 20000,
            f"golden: the broker latency holds the 20 ms lock holds: "
            f"{s['produce']['broker_latency_us']['max']} us")
    t.eq(s["attribution"]["no_wire"], 400, "golden: attributed, not in the bands")
    t.eq(s["bands"]["ge_p99"]["requests"], 0, "golden: >= p99 requests")
    rc, out, _ = replay(t, GOLDEN)
    t.check(rc == 0 and "produce requests without wire times: 400 (abi1 400)" in out,
            "golden: the text summary says the latency needs wire times")


def bad_input(t):
    bad = t.path("bad.dump")
    with open(GOLDEN, "rb") as f:
        data = f.read()
    cases = [
        ([], 2, "no dump file given"),
        (["a", "b"], 2, "one dump file only"),
        (["--nope", GOLDEN], 2, "unrecognized option"),
        (["--slower", "x", GOLDEN], 2, "not a number of milliseconds"),
        ([t.path("missing.dump")], 1, "No such file"),
    ]
    for body, what in ((b"", "empty"), (b"KLTDUMP9" + data[8:], "not a kafkalat dump"),
                       (data[: len(data) // 2 + 3], "not a kafkalat dump")):
        with open(bad, "wb") as f:
            f.write(body)
        rc, out, err = replay(t, bad)
        t.check(rc == 1 and len(err) == 1 and what in err[0] and not out,
                f"replay of a {what!r} file: exit 1, one line, no summary: {rc} {err}")
    for args, want_rc, needle in cases:
        rc, _, err = replay(t, *args)
        t.check(rc == want_rc and needle in " ".join(err),
                f"replay {args}: exit {want_rc}, says {needle!r}: {rc} {err[:1]}")


def test(t):
    golden(t)
    bad_input(t)
    live_vs_replay(t)


if __name__ == "__main__":
    main(test)

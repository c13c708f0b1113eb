#!/usr/bin/python3
"""`kafkalat report` of a real recording (issue 13): `kafkalat record -I 2`
of the reference broker under `kafkalat load` for ~10 s, then
--format prom passes the real `promtool check metrics` (exit 0, nothing
printed: no parse error, no lint problem), on stdout and as an -o file
written by atomic rename (mode 0644, no temporary file left, the same
metrics); its loss families hold the JSON report's "lost" (each ring's
kinds adding up to its total, the touched requests); --format hgrm reads
back as HdrHistogram's percentile distribution of the same latency
histogram (count, max); --format md shows the lost and unmatched counts
and the JSON's loss by kind."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

from lib import KAFKALAT, Failure, main

SECONDS = 10
RATE = 400
HOSTILE = 'a"b\\c'  # a label value promtool must see escaped


def record(t, pid, port, path):
    """kafkalat record for about SECONDS while a load runs, stopped as an SRE
    stops it (Ctrl-C); exit 0."""
    argv = [KAFKALAT, "record", "-p", pid, "-P", port, "-I", 2, "-o", path,
            "--label", "env=test", "--label", "note=" + HOSTILE]
    p = t.spawn(argv, "record")
    # the file's meta record goes out once the probes are attached
    t0 = time.monotonic()
    while not (os.path.exists(path) and os.path.getsize(path) > 16):
        if p.poll() is not None or time.monotonic() - t0 > 10:
            raise Failure(f"kafkalat record did not start its file: "
                          f"{t.output(p)[1].strip()[-300:]}")
        time.sleep(0.05)
    t.load(f"127.0.0.1:{port}", "-t", "r", "--partitions", 4, "--count", SECONDS * RATE,
           "--rate", RATE, "-X", "linger.ms=0", messages=False, timeout=SECONDS + 30)
    if p.poll() is not None:
        raise Failure(f"kafkalat record exited {p.returncode} early: "
                      f"{t.output(p)[1].strip()[-300:]}")
    p.send_signal(signal.SIGINT)
    rc = t.wait(p, 20)
    t.eq(rc, 0, f"kafkalat record exit status (stderr {t.output(p)[1].strip()[-300:]!r})",
         fatal=True)


def report(t, *args):
    p = subprocess.run([KAFKALAT, "report", *map(str, args)], capture_output=True, text=True,
                       timeout=60)
    t.eq(p.returncode, 0, f"report {' '.join(map(str, args[:-1]))}: exit status "
         f"(stderr {p.stderr.strip()[-300:]!r})", fatal=True)
    return p.stdout


def promtool(t, path, what):
    """promtool check metrics reads stdin; it exits non-zero on a parse error
    or a lint problem and prints each: both must be absent."""
    with open(path, "rb") as f:
        p = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True,
                           text=True, timeout=60)
    t.eq(p.returncode, 0, f"promtool check metrics {what}: exit status")
    t.eq((p.stdout + p.stderr).strip(), "", f"promtool check metrics {what}: prints nothing")


def samples(text):
    """{series: value} of the exposition text."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def check_prom(t, text):
    s = samples(text)
    count = s.get("kafkalat_produce_latency_seconds_count", 0)
    t.check(count > 0, f"latency histogram holds the requests ({count:.0f})")
    t.eq(s.get('kafkalat_produce_latency_seconds_bucket{le="+Inf"}'), count,
         "+Inf bucket equals _count")
    buckets = [v for k, v in s.items() if k.startswith("kafkalat_produce_latency_seconds_bucket")]
    t.check(buckets == sorted(buckets), "buckets are cumulative")
    t.check(s.get('kafkalat_requests_total{api="Produce"}', 0) >= count,
            "Produce requests counted")
    t.check('label_note="a\\"b\\\\c"' in text, "the hostile label value is escaped")
    for key in ('kafkalat_lost_events_total{ring="socket"}',
                'kafkalat_lost_events_total{ring="cause"}',
                "kafkalat_recording_start_timestamp_seconds",
                "kafkalat_recording_end_timestamp_seconds",
                "kafkalat_last_success_timestamp_seconds"):
        t.check(key in s, f"{key} present")
    span = s.get("kafkalat_recording_end_timestamp_seconds", 0) - \
        s.get("kafkalat_recording_start_timestamp_seconds", 0)
    t.check(SECONDS * 0.5 <= span <= SECONDS * 3, f"the span is about the run ({span:.1f} s)")
    return s


def check_loss(t, s, summary):
    """The loss families hold the JSON report's "lost": each ring's kinds add up
    to its total, each kind the JSON lists is its series, the touched counts."""
    lost = summary["lost"]
    for ring, label in (("socket", "socket"), ("causes", "cause")):
        prefix = f'kafkalat_lost_events_by_kind_total{{ring="{label}",kind="'
        kinds = {k[len(prefix):-2]: v for k, v in s.items() if k.startswith(prefix)}
        t.check(len(kinds) >= 13, f"every {ring} kind has a series ({len(kinds)})")
        t.eq(sum(kinds.values()), lost[ring], f"{ring} kinds add up to the JSON's lost.{ring}")
        for kind, n in lost[ring + "_kinds"].items():
            t.eq(kinds.get(kind), n, f"lost {ring} {kind}")
    for name, key in (("kafkalat_touched_requests_total", "touched_requests"),
                      ("kafkalat_produce_touched_requests_total", "touched_produce"),
                      ("kafkalat_produce_unattributed_lost_causes_total",
                       "unattributed_lost_causes")):
        t.eq(s.get(name), lost[key], f"{name} is the JSON's lost.{key}")
    t.check("kafkalat_loss_intervals" in s, "kafkalat_loss_intervals present")


def check_file(t, rec, text):
    """-o: the same metrics, 0644, renamed into place over an old file."""
    d = t.path("textfile")
    os.mkdir(d)
    out = os.path.join(d, "kafkalat.prom")
    with open(out, "w") as f:
        f.write("stale\n")
    report(t, "--format", "prom", "-o", out, rec)
    t.eq(oct(os.stat(out).st_mode & 0o777), "0o644", "the -o file is 0644")
    t.eq(os.listdir(d), ["kafkalat.prom"], "no temporary file left beside it")
    with open(out) as f:
        got = f.read()
    last = re.compile(r"^kafkalat_last_success_timestamp_seconds .*$", re.M)
    t.check(last.sub("", got) == last.sub("", text),
            "the file holds the stdout metrics (the last-success time aside)")
    promtool(t, out, "on the -o file")
    report_fail = subprocess.run([KAFKALAT, "report", "--format", "prom", "-o",
                                  os.path.join(d, "missing", "x.prom"), rec],
                                 capture_output=True, text=True, timeout=60)
    t.check(report_fail.returncode != 0 and report_fail.stderr.strip(),
            "-o into a missing directory fails with a message")
    t.eq(os.listdir(d), ["kafkalat.prom"], "and leaves nothing behind")


def check_hgrm(t, rec, s):
    """HdrHistogram's text of the same latency, in ms: count and max agree."""
    text = report(t, "--format", "hgrm", rec)
    rows = [line.split() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "Value"))]
    t.check(len(rows) > 5, f"hgrm rows ({len(rows)})", fatal=True)
    t.eq(rows[-1][1], "1.000000000000", "the last row is at 100%")
    t.eq(float(rows[-1][2]), s["kafkalat_produce_latency_seconds_count"],
         "hgrm total count equals the histogram's")
    top = s.get('kafkalat_produce_latency_quantile_seconds{q="1"}', -1) * 1000
    t.check(abs(float(rows[-1][0]) - top) <= 0.0005 + 1e-9 * top,
            f"hgrm max {rows[-1][0]} ms equals the max gauge ({top:.3f} ms)")
    m = re.search(r"Total count\s+=\s+(\d+)", text)
    t.check(m and float(m.group(1)) == s["kafkalat_produce_latency_seconds_count"],
            "hgrm footer's total count")


def test(t):
    if shutil.which("promtool") is None:
        raise Failure("promtool missing (scripts/deps.sh installs prometheus)")
    broker, port, _ = t.refbroker()
    rec = t.path("run.klt")
    record(t, broker.pid, port, rec)
    text = report(t, "--format", "prom", rec)
    with open(t.path("stdout.prom"), "w") as f:
        f.write(text)
    promtool(t, t.path("stdout.prom"), "on stdout")
    s = check_prom(t, text)
    check_file(t, rec, text)
    check_hgrm(t, rec, s)
    summary = [json.loads(line) for line in report(t, "--format", "json", rec).splitlines()
               if line.startswith("{")][-1]
    check_loss(t, s, summary)
    md = report(t, "--format", "md", rec)
    t.check("**Lost events**" in md and "**Unmatched requests**" in md,
            "the markdown report shows lost events and unmatched requests")
    lost = summary["lost"]
    t.check(f"**Lost records by kind** socket {lost['socket']}" in md and
            f"**Requests the loss touched** {lost['touched_requests']} "
            f"(Produce {lost['touched_produce']})" in md and
            f"**Produce unattributed for lost causes** {lost['unattributed_lost_causes']}"
            in md and "**Intervals with loss** " in md,
            "the markdown report shows the JSON's loss by kind and the touched requests")


if __name__ == "__main__":
    main(test)

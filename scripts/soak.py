#!/usr/bin/python3
"""kafkalat soak: does the nightly recording stay flat over an hour?

The reference broker (log on tmpfs) under `kafkalat load` at SOAK_RATE
msg/s (default 5000) of 100 B, one message per request, for SOAK_SECONDS
(default 3600), recorded as the nightly job does (`kafkalat record`, every
probe, one record per 10 s) with the load as its command. Every
SOAK_SAMPLE_S seconds (default 30) a sample: the recorder's RSS and CPU
time, the broker's Produce requests so far (its truth, read from a FIFO),
the recording's size and what `kafkalat report` reads from it so far
(requests, unmatched, lost events).

At the end: least-squares slopes per hour of RSS (KiB/h), CPU per request
(us/request per hour) and recording bytes per request (B/request per
hour) over the samples after the warm-up, the first and last 10-minute
means, and the accounting: the load's Produce requests (librdkafka's count)
equal the broker's and kafkalat's (matched + acks=0 + unmatched), exactly.
Exits 1 when an account does not add up or a slope passes its bound
(below; docs/soak.md says why). The samples go to SOAK_OUT/soak-samples.csv,
the figures to SOAK_OUT/soak.json (default $OUT/soak), beside the recording
and the load's summary; `soak.py --figures` fits a kept run in SOAK_OUT
again.
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import cpu_s, start_refbroker

BUILD = os.environ.get("OUT", "build")
SECONDS = int(os.environ.get("SOAK_SECONDS", "3600"))
RATE = int(os.environ.get("SOAK_RATE", "5000"))
SAMPLE_S = int(os.environ.get("SOAK_SAMPLE_S", "30"))
OUT_DIR = os.environ.get("SOAK_OUT", os.path.join(BUILD, "soak"))
# Tables, histograms and the allocator's pools fill in the first minutes:
# slopes are fitted after them.
WARMUP_S = min(600, SECONDS // 6)
# Means compared at both ends of the run.
END_WINDOW_S = min(600, SECONDS // 3)
# Bounds on the growth (slopes) over the run's second half (docs/soak.md
# gives the reasons): a leak or a cost that grows with kafkalat's state
# keeps growing through it, where a table or pool that fills once levels
# off before it; only growth fails (the machine's load moves CPU per request
# both ways, and the output per request follows the latency spread: a fall
# in either is not state growing). RSS: any per-request leak, even one 32-byte chunk per 1000 requests, grows
# by > 10 MiB/h at 5000 requests/s; a 4 MiB/h bound catches it and any
# per-interval leak over 11 KiB, and stays above the page-granular noise.
RSS_KIB_PER_H = 4096
# CPU and output per request: a cost that grows with kafkalat's state
# (a table scanned per request, a history kept whole) grows by multiples
# over an hour; the shared machine's noise moves the 30 s windows by tens
# of percent but a fit over half an hour by less.
CPU_REL_PER_H = 0.20
BYTES_REL_PER_H = 0.10
PRODUCE_MARK = b'"api_key":0,'


def rss_kib(pid):
    """VmRSS, or None once the process has exited (a zombie has none)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


class TruthCounter(threading.Thread):
    """Counts the Produce lines of the broker's truth, read from a FIFO (an
    hour of truth would be gigabytes)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        os.mkfifo(path, 0o600)
        self.path, self.produce = path, 0

    def run(self):
        rest = b""
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 20):
                lines, _, rest = (rest + chunk).rpartition(b"\n")
                self.produce += lines.count(PRODUCE_MARK)
        self.produce += rest.count(PRODUCE_MARK)


def report_so_far(data):
    """What `kafkalat report` reads from the recording being written: (size,
    requests, unmatched, lost events), or None between records."""
    for _ in range(3):
        size = os.path.getsize(data)
        r = subprocess.run([f"{BUILD}/kafkalat", "report", "--format", "json", data],
                           capture_output=True, text=True)
        if r.returncode == 0 and os.path.getsize(data) == size:
            s = json.loads(r.stdout)
            return size, s["produce"]["requests"] + s["produce"]["acks0"], \
                s["produce"]["unmatched"], s["lost_events"]
        time.sleep(0.5)
    return None


def sample(t0, recorder, truth, data):
    now = time.time() - t0
    rep = report_so_far(data) if os.path.exists(data) else None
    size, matched, unmatched, lost = rep or (None, None, None, None)
    return {"t_s": round(now, 1), "rss_kib": rss_kib(recorder.pid),
            "cpu_s": cpu_s(recorder.pid), "broker_produce": truth.produce,
            "recording_bytes": size, "kafkalat_produce": matched,
            "kafkalat_unmatched": unmatched, "lost_events": lost}


def run(tmp):
    truth = TruthCounter(os.path.join(tmp, "truth.fifo"))
    truth.start()
    broker, port = start_refbroker(os.path.join(tmp, "log"), 64 << 20, "soak",
                                   extra=("--truth", truth.path))
    data = os.path.join(OUT_DIR, "soak.data")
    err = open(os.path.join(OUT_DIR, "record.err"), "w")
    recorder = subprocess.Popen(
        [f"{BUILD}/kafkalat", "record", "-p", str(broker.pid), "-P", str(port), "-o", data,
         "--", f"{BUILD}/kafkalat", "load", "-b", f"127.0.0.1:{port}", "-t", "soak",
         "--partitions", "4", "--size", "100", "--rate", str(RATE), "-d", str(SECONDS),
         "-X", "linger.ms=0", "-X", "batch.num.messages=1", "--json", "-q"],
        stdout=subprocess.PIPE, stderr=err, text=True)
    procs = [broker, recorder]
    try:
        t0, samples = time.time(), []
        # Samples stop before the load does: the end (the load's last
        # deliveries, the recording's trailer) is no steady state.
        while time.time() - t0 + SAMPLE_S < SECONDS and recorder.poll() is None:
            time.sleep(SAMPLE_S - (time.time() - t0) % SAMPLE_S)
            s = sample(t0, recorder, truth, data)
            if s["rss_kib"] is None:
                break
            samples.append(s)
            s = samples[-1]
            print(f"soak: {s['t_s']:.0f} s: RSS {s['rss_kib'] / 1024:.1f} MiB, CPU "
                  f"{s['cpu_s']:.1f} s, broker {s['broker_produce']}, kafkalat "
                  f"{s['kafkalat_produce']} requests, recording {s['recording_bytes']} B",
                  file=sys.stderr, flush=True)
        out = recorder.communicate()[0]
        load = json.loads(out.strip().splitlines()[-1])
        with open(os.path.join(OUT_DIR, "load.json"), "w") as f:
            json.dump(load, f)
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=60)
        truth.join(timeout=60)
        rep = subprocess.run([f"{BUILD}/kafkalat", "report", "--format", "json", data],
                             capture_output=True, text=True, check=True)
        return samples, load, json.loads(rep.stdout), truth.produce, recorder.returncode
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def windows(samples):
    """Per window between samples: (mid time, RSS, CPU us per request, recording
    bytes per request kafkalat read)."""
    rows = []
    for a, b in zip(samples, samples[1:]):
        reqs = b["broker_produce"] - a["broker_produce"]
        cpu = (b["cpu_s"] - a["cpu_s"]) * 1e6 / reqs if reqs > 0 else None
        got = None
        if None not in (a["recording_bytes"], b["recording_bytes"]):
            seen = b["kafkalat_produce"] - a["kafkalat_produce"]
            if seen > 0:
                got = (b["recording_bytes"] - a["recording_bytes"]) / seen
        rows.append((b["t_s"], b["rss_kib"], cpu, got))
    return rows


def slope_per_h(points):
    """Least-squares slope of (t_s, y) per hour."""
    pts = [(t, y) for t, y in points if y is not None]
    if len(pts) < 3:
        return None
    mt = sum(t for t, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    den = sum((t - mt) ** 2 for t, _ in pts)
    return sum((t - mt) * (y - my) for t, y in pts) / den * 3600 if den else None


def mean(points, lo, hi):
    ys = [y for t, y in points if lo <= t < hi and y is not None]
    return sum(ys) / len(ys) if ys else None


def figures(samples, load, final, broker_produce, recorder_rc):
    rows = windows(samples)
    end = samples[-1]["t_s"]
    series = {"rss_kib": [(t, r) for t, r, _, _ in rows],
              "cpu_us_per_request": [(t, c) for t, _, c, _ in rows],
              "recording_bytes_per_request": [(t, b) for t, _, _, b in rows]}
    out = {"rate": RATE, "seconds": SECONDS, "sample_s": SAMPLE_S, "warmup_s": WARMUP_S,
           "end_window_s": END_WINDOW_S, "samples": len(samples), "series": {}}
    half = max(WARMUP_S, end / 2)
    out["late_from_s"] = half
    for name, pts in series.items():
        steady = [(t, y) for t, y in pts if t >= WARMUP_S]
        out["series"][name] = {
            "slope_per_h": slope_per_h(steady), "mean": mean(steady, WARMUP_S, end + 1),
            # does a growth level off? the same fit over the second half,
            # which the bounds judge
            "late_slope_per_h": slope_per_h([(t, y) for t, y in steady if t >= half]),
            "late_mean": mean(steady, half, end + 1),
            "first_mean": mean(pts, 0, END_WINDOW_S),
            "last_mean": mean(pts, end - END_WINDOW_S, end + 1)}
    prod, unm = final["produce"], final["unmatched"]
    out["accounting"] = {
        "load_messages": load["messages"], "load_delivered": load["delivered"],
        "load_failed": load["failed"], "load_produce_requests": load.get("produce_requests"),
        "broker_produce_requests": broker_produce, "kafkalat_matched": prod["requests"],
        "kafkalat_acks0": prod["acks0"], "kafkalat_unmatched": prod["unmatched"],
        "unmatched_reasons": unm["reasons"], "lost_events": final["lost_events"],
        "cause_lost_events": (final.get("attribution") or {}).get("lost_events", 0),
        "recorder_exit": recorder_rc}
    out["recording_bytes"] = os.path.getsize(os.path.join(OUT_DIR, "soak.data"))
    out["cost"] = final.get("cost")
    return out


def failures(f):
    a, s, bad = f["accounting"], f["series"], []
    sent = a["load_produce_requests"]
    if a["recorder_exit"] != 0:
        bad.append(f"kafkalat record exited {a['recorder_exit']}")
    if a["load_failed"] or a["load_delivered"] != a["load_messages"]:
        bad.append(f"load delivered {a['load_delivered']} of {a['load_messages']}")
    if sent is None:
        bad.append("the load's request count is unknown")
    elif a["broker_produce_requests"] != sent:
        bad.append(f"broker saw {a['broker_produce_requests']} Produce requests, load sent {sent}")
    seen = a["kafkalat_matched"] + a["kafkalat_acks0"] + a["kafkalat_unmatched"]
    if seen != sent:
        bad.append(f"kafkalat accounts for {seen} Produce requests, load sent {sent}")
    bounds = (("rss_kib", RSS_KIB_PER_H, False), ("cpu_us_per_request", CPU_REL_PER_H, True),
              ("recording_bytes_per_request", BYTES_REL_PER_H, True))
    for name, bound, relative in bounds:
        slope, m = s[name]["late_slope_per_h"], s[name].get("late_mean")
        if slope is None or m is None:
            bad.append(f"{name}: too few samples for a slope")
            continue
        limit = bound * m if relative else bound
        if slope > limit:
            bad.append(f"{name}: grows by {slope:+.3g}/h over the second half, "
                       f"more than {limit:.3g}/h")
    return bad


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_figures(f):
    s, a = f["series"], f["accounting"]
    print(f"kafkalat soak: reference broker, {f['rate']} msg/s of 100 B (one per request) "
          f"for {f['seconds']} s, kafkalat record (every probe); {f['samples']} samples every "
          f"{f['sample_s']} s; slopes after {f['warmup_s']} s and over the second half (from "
          f"{f.get('late_from_s', 0):.0f} s: judged), means of the first and last "
          f"{f['end_window_s']} s")
    for name, unit, spec in (("rss_kib", "KiB", ".0f"), ("cpu_us_per_request", "us/request", ".3f"),
                             ("recording_bytes_per_request", "B/request", ".4f")):
        x = s[name]
        rel = (x["slope_per_h"] / x["mean"] * 100
               if x["slope_per_h"] is not None and x["mean"] else None)
        late_rel = (x["late_slope_per_h"] / x["late_mean"] * 100
                    if x["late_slope_per_h"] is not None and x.get("late_mean") else None)
        print(f"  {name:28} slope {fmt(x['slope_per_h'], '+.4g')} {unit}/h "
              f"({fmt(rel, '+.2f')} %/h; second half {fmt(x['late_slope_per_h'], '+.4g')}, "
              f"{fmt(late_rel, '+.2f')} %/h), "
              f"first {fmt(x['first_mean'], spec)}, "
              f"last {fmt(x['last_mean'], spec)} {unit}")
    print(f"  load                         {a['load_messages']} messages, {a['load_delivered']} "
          f"delivered, {a['load_failed']} failed, {a['load_produce_requests']} Produce requests")
    print(f"  broker (truth)               {a['broker_produce_requests']} Produce requests")
    print(f"  kafkalat                     {a['kafkalat_matched']} matched + {a['kafkalat_acks0']} "
          f"acks=0 + {a['kafkalat_unmatched']} unmatched {a['unmatched_reasons']}; lost events "
          f"{a['lost_events']} socket, {a['cause_lost_events']} causes")
    print(f"  recording                    {f['recording_bytes']} B; kafkalat's own cost "
          f"{json.dumps(f['cost'])}")


def kept_run():
    """A kept run's samples and accounts (soak-samples.csv, soak.json,
    load.json, soak.data in SOAK_OUT), for fitting them again."""
    global SECONDS, RATE, SAMPLE_S, WARMUP_S, END_WINDOW_S
    with open(os.path.join(OUT_DIR, "soak.json")) as f:
        old = json.load(f)
    SECONDS, RATE, SAMPLE_S = old["seconds"], old["rate"], old["sample_s"]
    WARMUP_S, END_WINDOW_S = min(600, SECONDS // 6), min(600, SECONDS // 3)
    a = old["accounting"]
    try:
        with open(os.path.join(OUT_DIR, "load.json")) as f:
            load = json.load(f)
    except FileNotFoundError:
        load = {"messages": a["load_messages"], "delivered": a["load_delivered"],
                "failed": a["load_failed"], "produce_requests": a["load_produce_requests"]}
    with open(os.path.join(OUT_DIR, "soak-samples.csv")) as f:
        samples = [{k: float(v) if v else None for k, v in row.items()}
                   for row in csv.DictReader(f)]
    samples = [s for s in samples if s["rss_kib"] and s["t_s"] + SAMPLE_S <= SECONDS]
    rep = subprocess.run([f"{BUILD}/kafkalat", "report", "--format", "json",
                          os.path.join(OUT_DIR, "soak.data")],
                         capture_output=True, text=True, check=True)
    return samples, load, json.loads(rep.stdout), a["broker_produce_requests"], a["recorder_exit"]


def main():
    if sys.argv[1:] == ["--figures"]:
        samples, load, final, broker_produce, rc = kept_run()
    else:
        if os.geteuid() != 0:
            sys.exit("soak: needs root (BPF)")
        os.makedirs(OUT_DIR, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="kafkalat-soak.", dir="/dev/shm")
        try:
            samples, load, final, broker_produce, rc = run(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        with open(os.path.join(OUT_DIR, "soak-samples.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(samples[0]))
            w.writeheader()
            w.writerows(samples)
    fig = figures(samples, load, final, broker_produce, rc)
    fig["failures"] = failures(fig)
    with open(os.path.join(OUT_DIR, "soak.json"), "w") as f:
        json.dump(fig, f, indent=1)
    print_figures(fig)
    for b in fig["failures"]:
        print(f"soak: FAILED: {b}", file=sys.stderr)
    sys.exit(1 if fig["failures"] else 0)


if __name__ == "__main__":
    main()

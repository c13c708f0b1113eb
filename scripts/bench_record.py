#!/usr/bin/python3
"""The size and memory of a recording at the reference broker's highest rate.

Starts build/refbroker, drives it with `kafkalat load` as fast as it goes
(100 B messages, one per request, as bench_causes.py does) and records it
with `kafkalat record -I 10` for RECORD_SECONDS (default 600). Prints the
produce requests/s, the recording's size and its size per hour, the bytes
per interval record, and kafkalat's RSS sampled every 10 s with its slope
(a flat line: memory does not grow with the recording's length).

Needs root. OUT=dir for another build directory.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("OUT", "build")
SECONDS = float(os.environ.get("RECORD_SECONDS", "600"))
SAMPLE_S = 10


def start_broker(tmp):
    log = os.path.join(tmp, "log")
    os.mkdir(log)
    p = subprocess.Popen([f"{BUILD}/refbroker", "--port", "0", "--log-dir", log,
                          "--partitions", "4"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        m = re.match(r"PORT=(\d+)", line)
        if m:
            return p, int(m.group(1))
    sys.exit("bench_record: the reference broker printed no PORT=")


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def main():
    if os.geteuid() != 0:
        sys.exit("bench_record: needs root (it loads BPF programs)")
    tmp = tempfile.mkdtemp(prefix="kafkalat-bench-record-")
    broker = rec = load = None
    try:
        broker, port = start_broker(tmp)
        data = os.path.join(tmp, "bench.data")
        rec = subprocess.Popen([f"{BUILD}/kafkalat", "record", "-P", str(port), "-I", "10",
                                "-o", data, "-d", str(SECONDS + 5)],
                               stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        load = subprocess.Popen([f"{BUILD}/kafkalat", "load", "-b", f"127.0.0.1:{port}",
                                 "-t", "bench", "--partitions", "4", "--size", "100",
                                 "-d", str(SECONDS), "-X", "linger.ms=0",
                                 "-X", "batch.num.messages=1",
                                 "-X", "queue.buffering.max.messages=1000", "--json", "-q"],
                                stdout=subprocess.PIPE, text=True)
        t0, xs, ys = time.time(), [], []
        while load.poll() is None:
            time.sleep(SAMPLE_S)
            kb = rss_kb(rec.pid)
            if kb is not None:
                xs.append(time.time() - t0)
                ys.append(kb)
        out = load.stdout.read().strip().splitlines()
        rec.send_signal(signal.SIGINT)
        err = rec.communicate(timeout=120)[1]
        if rec.returncode != 0:
            sys.exit(f"bench_record: kafkalat record failed: {err[-400:]}")
        import json
        summary = json.loads(out[-1])
        reqs = summary["produce_requests"]
        size = os.path.getsize(data)
        rep = subprocess.run([f"{BUILD}/kafkalat", "report", data, "--format", "json"],
                             capture_output=True, text=True)
        if rep.returncode != 0:
            sys.exit(f"bench_record: report failed: {rep.stderr}")
        secs = summary["duration_s"]
        print(f"load: {reqs} produce requests in {secs:.0f} s, {reqs / secs:.0f} requests/s")
        print(f"recording: {size / 1e6:.2f} MB for {SECONDS:.0f} s: "
              f"{size / 1e6 * 3600 / SECONDS:.1f} MB per hour "
              f"({size / max(1, SECONDS / 10) / 1e3:.1f} kB per 10 s interval)")
        if ys:
            print("kafkalat RSS by minute (MiB): " +
                  " ".join(f"{y / 1024:.1f}" for x, y in zip(xs, ys) if int(x) % 60 < SAMPLE_S))
            half = len(ys) // 2
            print(f"kafkalat RSS slope over the second half: "
                  f"{slope(xs[half:], ys[half:]) * 60 / 1024:+.3f} MiB/min")
            print(f"kafkalat RSS: first {ys[0] / 1024:.1f} MiB, last {ys[-1] / 1024:.1f} MiB, "
                  f"max {max(ys) / 1024:.1f} MiB, slope {slope(xs, ys) * 60 / 1024:+.3f} "
                  f"MiB/min over {len(ys)} samples")
    finally:
        for p in (load, rec, broker):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

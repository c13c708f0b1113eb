#!/usr/bin/python3
"""kafkalat soak: its memory and cost over a long run; prints figures.

The reference broker (log on tmpfs) under `kafkalat load` at SOAK_RATE
msg/s of 100 B (one message per request) for SOAK_SECONDS (default 600),
traced by kafkalat with every probe. Every 10 s: kafkalat's RSS (VmRSS).
At the end: RSS at 1, 5 and 10 minutes and its maximum, kafkalat's CPU
per request, lost events, attributed and unmatched requests.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from benchlib import cpu_s

BUILD = os.environ.get("OUT", "build")
SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
RATE = int(os.environ.get("SOAK_RATE", "5000"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0




def main():
    if os.geteuid() != 0:
        sys.exit("soak: needs root (BPF)")
    tmp = tempfile.mkdtemp(prefix="kafkalat-soak.", dir="/dev/shm")
    procs = []
    os.makedirs(os.path.join(tmp, "log"))
    try:
        broker = subprocess.Popen([f"{BUILD}/refbroker", "--port", "0", "--log-dir",
                                   os.path.join(tmp, "log"), "--partitions", "4",
                                   "--segment-bytes", str(64 << 20)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(broker)
        port = int(broker.stdout.readline().split("=")[1])
        err = open(os.path.join(tmp, "tracer.err"), "w+")
        tracer = subprocess.Popen([f"{BUILD}/kafkalat", "-p", str(broker.pid), "-P", str(port),
                                   "-j"], stdout=subprocess.PIPE, stderr=err, text=True)
        procs.append(tracer)
        time.sleep(2)
        load = subprocess.Popen([f"{BUILD}/kafkalat", "load", "-b", f"127.0.0.1:{port}", "-t",
                                 "soak", "--partitions", "4", "--size", "100", "--rate",
                                 str(RATE), "-d", str(SECONDS), "-X", "linger.ms=0", "-X",
                                 "batch.num.messages=1", "--json", "-q"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(load)
        t0, samples = time.time(), []
        while load.poll() is None:
            time.sleep(10)
            samples.append((time.time() - t0, rss_kib(tracer.pid)))
            print(f"soak: {samples[-1][0]:.0f} s: kafkalat RSS {samples[-1][1] / 1024:.1f} MiB",
                  file=sys.stderr)
        out = json.loads(load.stdout.read().strip().splitlines()[-1])
        cpu = cpu_s(tracer.pid)
        tracer.send_signal(signal.SIGTERM)
        summary = json.loads(tracer.communicate(timeout=60)[0].strip().splitlines()[-1])
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    def at(s):
        return next((r for t, r in samples if t >= s), samples[-1][1]) / 1024

    reqs = summary["produce"]["requests"]
    att = summary.get("attribution") or {}
    print(f"kafkalat soak: reference broker, {RATE} msg/s of 100 B for {SECONDS} s, every probe")
    print(f"  kafkalat RSS                 1 min {at(60):.1f} MiB, 5 min {at(300):.1f} MiB, "
          f"end {samples[-1][1] / 1024:.1f} MiB, max {max(r for _, r in samples) / 1024:.1f} MiB")
    print(f"  kafkalat CPU per request     {cpu / max(reqs, 1) * 1e6:.2f} us ({reqs} requests)")
    print(f"  lost events                  {summary['lost_events']} socket, "
          f"{att.get('lost_events', 0)} causes")
    print(f"  attributed / not attributed  {att.get('requests', 0)} / "
          f"{(att.get('unmatched') or {}).get('requests', 0)}; client delivered "
          f"{out.get('delivered')} of {out.get('messages')}")


if __name__ == "__main__":
    main()

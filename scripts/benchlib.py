"""Pieces shared by kafkalat's benchmark and soak scripts (scripts/bench*.py,
scripts/soak.py): process CPU time, the reference broker, a kafkalat tracer
started and stopped around a run, its BPF programs and maps, a bootstrap
interval."""
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time

BUILD = os.environ.get("OUT", "build")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """User + system CPU seconds of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_refbroker(logdir, segment_bytes, who, extra=()):
    """The reference broker on logdir (created), 4 partitions, more options in
    extra: (Popen, port)."""
    os.makedirs(logdir, exist_ok=True)
    p = subprocess.Popen([f"{BUILD}/refbroker", "--port", "0", "--log-dir", logdir,
                          "--partitions", "4", "--segment-bytes", str(segment_bytes), *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith("PORT="):
        p.kill()
        sys.exit(f"{who}: the broker did not start")
    return p, int(line.split("=")[1])


def start_tracer(broker_pid, port, tmp, who, extra=(), build=None):
    """kafkalat -j on the broker (the one in build, default BUILD), returned
    once it says it is tracing."""
    err = open(os.path.join(tmp, "tracer.err"), "w+")
    t = subprocess.Popen([f"{build or BUILD}/kafkalat", "-p", str(broker_pid), "-P", str(port), "-j",
                          *extra], stdout=subprocess.PIPE, stderr=err, text=True)
    for _ in range(400):
        err.seek(0)
        if "Tracing" in err.read():
            return t
        if t.poll() is not None:
            err.seek(0)
            sys.exit(f"{who}: kafkalat failed: " + err.read())
        time.sleep(0.05)
    t.kill()
    sys.exit(f"{who}: kafkalat did not attach")


def stop_tracer(t):
    """SIGTERM, then its JSON summary (the last stdout line)."""
    t.send_signal(signal.SIGTERM)
    out, _ = t.communicate(timeout=60)
    return json.loads(out.strip().splitlines()[-1])


def _fdinfo_ids(pid, field):
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                ids.update(int(l.split()[1]) for l in f if l.startswith(field))
        except OSError:
            pass
    return ids


def tracer_prog_ids(pid):
    """The BPF programs this kafkalat holds (not other instances')."""
    return _fdinfo_ids(pid, "prog_id:")


def tracer_map_ids(pid):
    """The BPF maps this kafkalat holds."""
    return _fdinfo_ids(pid, "map_id:")


def boot_ci(ratios, n=5000):
    """Bootstrap 90% interval of the median."""
    rnd = random.Random(1)
    meds = sorted(statistics.median(rnd.choices(ratios, k=len(ratios))) for _ in range(n))
    return meds[int(0.05 * n)], meds[int(0.95 * n)]

"""Pieces shared by kafkalat's benchmark and soak scripts (scripts/bench*.py,
scripts/soak.py): process CPU time, the reference broker, a kafkalat tracer
started and stopped around a run, its BPF programs and maps and their
run-time statistics, its lost events, a bootstrap interval."""
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


def cpu_ns(pid):
    """On-CPU nanoseconds of a process's live threads (schedstat's run
    time: exact, where cpu_s counts clock ticks of 10 ms)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that just exited
    return total


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
    once it says it is tracing. broker_pid and port are one each or lists
    (several brokers: -p and -P repeated)."""
    pids = broker_pid if isinstance(broker_pid, (list, tuple)) else [broker_pid]
    ports = port if isinstance(port, (list, tuple)) else [port]
    targets = [a for pid in pids for a in ("-p", str(pid))]
    targets += [a for p in ports for a in ("-P", str(p))]
    err = open(os.path.join(tmp, "tracer.err"), "w+")
    t = subprocess.Popen([f"{build or BUILD}/kafkalat", *targets, "-j", *extra],
                         stdout=subprocess.PIPE, stderr=err, text=True)
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


def prog_stats(ids):
    """{name: (run_time_ns, run_cnt)} of the programs in ids (bpftool; the
    counters move only while kernel.bpf_stats_enabled is 1)."""
    r = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True,
                       check=True)
    out = {}
    for p in json.loads(r.stdout):
        if p.get("id") in ids:
            ns, cnt = out.get(p.get("name"), (0, 0))
            out[p.get("name")] = (ns + p.get("run_time_ns", 0), cnt + p.get("run_cnt", 0))
    return out


def lost_events(summary):
    """Events a kafkalat -j summary says its rings lost, socket and causes."""
    return summary["lost_events"] + (summary.get("attribution") or {}).get("lost_events", 0)


def boot_ci(ratios, n=5000):
    """Bootstrap 90% interval of the median."""
    rnd = random.Random(1)
    meds = sorted(statistics.median(rnd.choices(ratios, k=len(ratios))) for _ in range(n))
    return meds[int(0.05 * n)], meds[int(0.95 * n)]

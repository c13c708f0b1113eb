#!/usr/bin/python3
"""(e) Bad input: unknown pid, a port nobody listens on, malformed arguments,
missing privileges (one clear line, the exit status of man/kafkalat.8's
table), and a broker that exits during the run (summary, exit 0,
promptly). The machine's bad states (no BTF, no tracefs, each capability,
signals during the attach) are test_bad_states.py's."""
import json
import os
import signal
import subprocess
import time

from lib import KAFKALAT, MOCKCLUSTER, main

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def run(args, timeout=15):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.strip().splitlines()


def one_line(t, args, rc_ok, rc_what, needles):
    """args must exit with rc_ok(rc) and exactly one stderr line containing
    one of needles."""
    rc, _, err = run(args)
    shown = " ".join(str(a) for a in args).replace(KAFKALAT, "kafkalat")
    t.check(rc_ok(rc) and len(err) == 1 and any(n in err[0] for n in needles),
            f"`{shown}`: exit {rc} ({rc_what}), one stderr line containing "
            f"{' or '.join(repr(n) for n in needles)}: {err}")


def broker_exit(t, reap_first):
    """kafkalat (no -d) on a broker that dies: the summary within 1 s, exit 0
    within 3 s."""
    mc, boot, pid, ports = t.mockcluster(topic="t", partitions=1)
    name = "kafkalat-" + ("reaped" if reap_first else "zombie")
    k = t.kafkalat(pid, ports, name=name)
    t.load(boot, "-t", "t", "--count", 1000, messages=False, name="load-" + name)
    mc.kill()  # SIGKILL: a crash, no goodbye on the sockets
    t0 = time.monotonic()
    if reap_first:
        mc.wait()
    summary_s = None
    while k.poll() is None and time.monotonic() - t0 < 4:
        if summary_s is None and '"type":"summary"' in t.output(k)[0]:
            summary_s = time.monotonic() - t0
        time.sleep(0.01)
    exit_s = time.monotonic() - t0
    if summary_s is None and '"type":"summary"' in t.output(k)[0]:
        summary_s = exit_s  # printed and exited between two looks
    what = "reaped at once" if reap_first else "a zombie until its parent reaps it"
    shown = "never" if summary_s is None else f"after {summary_s:.2f} s"
    ended = t.check(k.poll() is not None and exit_s < 3 and summary_s is not None
                    and summary_s < 1,
                    f"broker SIGKILLed ({what}): kafkalat printed the summary {shown} "
                    f"(< 1 s) and ended in {exit_s:.2f} s (< 3 s)")
    mc.wait()
    if not ended:
        return
    out, err = t.output(k)
    t.eq(k.returncode, 0, "kafkalat exit status")
    t.check("the broker exited" in err, f"stderr says why it stopped: {err.strip().splitlines()[-1:]}")
    s = json.loads(out.strip().splitlines()[-1])
    t.eq(s["type"], "summary", "last stdout line is the JSON summary")
    t.eq(s["produce"]["records"], 1000, "produce.records before the crash")


def test(t):
    print("-- arguments and targets")
    one_line(t, [KAFKALAT, "-p", 999999], lambda rc: rc == 3, "3", ["999999"])
    one_line(t, [KAFKALAT, "-P", 1], lambda rc: rc == 3, "3", ["port 1"])
    for args, needle in ((["-P", 0], "'0'"), (["-d", "abc"], "'abc'"), ([1, 2, 3], "'3'")):
        one_line(t, [KAFKALAT, *args], lambda rc: rc == 2, "2", [needle])
    rc, out, err = run([KAFKALAT, "--help"])
    t.check(rc == 0 and out.startswith("Usage: kafkalat") and not err,
            f"`kafkalat --help`: exit {rc}, usage on stdout, nothing on stderr")

    print("-- without privileges (uid 65534, no capabilities)")
    _, _, pid, ports = t.mockcluster(topic="t", partitions=1)
    priv = ["missing capabilities CAP_BPF, CAP_PERFMON"]
    one_line(t, [*NOBODY, KAFKALAT, "-P", ports[0], "-d", 1], lambda rc: rc == 4, "4", priv)
    one_line(t, [*NOBODY, KAFKALAT, "-P", ports[0], "-p", pid, "-d", 1], lambda rc: rc == 4,
             "4", priv)
    # a broker the unprivileged user owns: its fds are readable, BPF is not
    home = t.path("nobody")
    os.mkdir(home)
    os.chown(home, 65534, 65534)
    os.chmod(t.dir, 0o755)
    ports_file = os.path.join(home, "ports")
    own = t.spawn([*NOBODY, MOCKCLUSTER, "--topic", "t", "--port-file", ports_file],
                  "mockcluster-nobody")
    port = t.port_from_file(own, ports_file, "mock cluster runs as uid 65534")
    one_line(t, [*NOBODY, KAFKALAT, "-P", port, "-p", own.pid, "-d", 1], lambda rc: rc == 4,
             "4", priv)
    own.send_signal(signal.SIGTERM)
    t.wait(own, 5)

    print("-- --bpf-stats as root without CAP_SYS_ADMIN (tracing itself works without it)")
    no_admin = ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin"]
    one_line(t, [*no_admin, KAFKALAT, "-P", ports[0], "-p", pid, "--bpf-stats", "-d", 1],
             lambda rc: rc == 4, "4", ["CAP_SYS_ADMIN"])

    print("-- the broker exits during the run")
    broker_exit(t, reap_first=True)
    broker_exit(t, reap_first=False)


main(test)

#!/usr/bin/python3
"""Bad states of the machine and of the target, each one stderr line and
the exit status of the table in man/kafkalat.8 (EXIT STATUS), never a hang
or a crash: no kernel BTF (5), no tracefs and no right to mount it (a
warning: the raw syscall tracepoints serve, 0), missing capabilities (4,
each named), a pid that is no broker or not the port's, a port another
process owns (3), two kafkalats on one broker (both trace), `-j | head -1`
(141, quietly), SIGINT during the attach (130) and a broker that exits
during it (3). Mount namespaces die with the process they were made for;
every process is ended by the PID it was started with."""
import json
import os
import signal
import subprocess
import time

from lib import KAFKALAT, main

EXIT = {"ok": 0, "usage": 2, "no_target": 3, "privilege": 4, "kernel": 5,
        "sigint": 130, "sigpipe": 141}


def in_mount_ns(prep, *argv):
    """argv in a private mount namespace that the shell command prep
    prepared (unshare, sh and argv are one process: exec)."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'{prep} && exec "$@"', "sh", *argv]


def drop(caps, *argv):
    """argv as root without caps (bounding and inheritable sets)."""
    spec = ",".join("-" + c for c in caps)
    return ["setpriv", f"--bounding-set={spec}", f"--inh-caps={spec}", *argv]


def run(args, timeout=20):
    t0 = time.monotonic()
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.strip().splitlines(), time.monotonic() - t0


def one_line(t, what, args, rc_want, needle):
    """args exits rc_want with exactly one stderr line containing needle."""
    rc, _, err, secs = run(args)
    t.check(rc == rc_want and len(err) == 1 and needle in err[0],
            f"{what}: exit {rc} (want {rc_want}) in {secs:.2f} s, one stderr line containing "
            f"{needle!r}: {err}")
    return err[0] if err else ""


def no_btf(t, pid, port):
    print("-- no kernel BTF")
    base = [KAFKALAT, "-p", pid, "-P", port, "-d", 1]
    one_line(t, "an empty /sys/kernel/btf", in_mount_ns("mount -t tmpfs none /sys/kernel/btf",
                                                         *base),
             EXIT["kernel"], "kernel BTF not found at /sys/kernel/btf/vmlinux")
    empty = t.path("empty-btf")
    open(empty, "w").close()
    one_line(t, "an empty file over /sys/kernel/btf/vmlinux",
             in_mount_ns(f"mount --bind {empty} /sys/kernel/btf/vmlinux", *base),
             EXIT["kernel"], "kernel BTF not found")


def no_tracefs(t, boot, pid, port):
    """An empty tmpfs over tracefs (and over debugfs, where its tracing
    is) and no CAP_SYS_ADMIN to mount it: one line says so, the raw syscall
    tracepoints serve, every request counts. CAP_SYS_RESOURCE goes too: BPF
    memory is charged to the cgroup."""
    print("-- no tracefs and no right to mount it")
    hide = ("mount -t tmpfs none /sys/kernel/tracing && "
            "{ [ ! -d /sys/kernel/debug/tracing ] || mount -t tmpfs none /sys/kernel/debug; }")
    argv = in_mount_ns(hide,
                       *drop(["sys_admin", "sys_resource"], KAFKALAT, "-j", "-p", pid, "-P",
                             port))
    k = t.spawn(argv, "no-tracefs")
    t0 = time.monotonic()
    while "Tracing" not in t.output(k)[1] and k.poll() is None and time.monotonic() - t0 < 30:
        time.sleep(0.02)
    t.check("Tracing" in t.output(k)[1], "kafkalat traces without tracefs", fatal=True)
    t.load(boot, "-t", "t", "--count", 200, messages=False, name="load-no-tracefs")
    k.send_signal(signal.SIGTERM)
    rc = t.wait(k, 20)
    out, err = t.output(k)
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("Tracing")]
    t.check(rc == 0 and len(lines) == 1 and lines[0].startswith(
        "kafkalat: tracefs not mounted at /sys/kernel/tracing and cannot mount it: "
        "Operation not permitted"), f"exit {rc} (want 0), one line besides Tracing: {lines}")
    t.eq(json.loads(out.strip().splitlines()[-1])["produce"]["records"], 200,
         "produce.records on the raw syscall tracepoints")


def capabilities(t, pid, port):
    print("-- missing capabilities (root, the capability gone from the bounding set)")
    base = [KAFKALAT, "-p", pid, "-P", port, "-d", 1]
    for gone, named in ((["bpf", "sys_admin"], "missing capability CAP_BPF:"),
                        (["perfmon", "sys_admin"], "missing capability CAP_PERFMON:"),
                        (["bpf", "perfmon", "sys_admin"],
                         "missing capabilities CAP_BPF, CAP_PERFMON:")):
        one_line(t, f"without {', '.join(gone)}", drop(gone, *base), EXIT["privilege"], named)
    one_line(t, "without sys_ptrace, -p", drop(["sys_ptrace"], *base), EXIT["privilege"],
             f"cannot read the sockets of pid {pid}: missing CAP_SYS_PTRACE")
    one_line(t, "without sys_ptrace, by port", drop(["sys_ptrace"], KAFKALAT, "-P", port, "-d", 1),
             EXIT["privilege"], "to find the broker: missing CAP_SYS_PTRACE")


def targets(t, mc_pid, port):
    print("-- a pid that is no broker, a port another process owns")
    sleeper = t.spawn(["sleep", 60], "sleep")
    base = [KAFKALAT, "-d", 1]
    one_line(t, "-p of sleep", [*base, "-p", sleeper.pid], EXIT["no_target"],
             f"pid {sleeper.pid} (sleep) listens on no TCP port: not a Kafka broker")
    one_line(t, "-p of sleep, -P of the broker's port", [*base, "-p", sleeper.pid, "-P", port],
             EXIT["no_target"], f"port {port} belongs to pid {mc_pid} (mockcluster), not to "
                                f"pid {sleeper.pid} (sleep): use -p {mc_pid}")
    one_line(t, "-p of the broker, -P of a port nobody listens on",
             [*base, "-p", mc_pid, "-P", 1], EXIT["no_target"],
             f"pid {mc_pid} (mockcluster) does not listen on port 1; it listens on {port}")
    one_line(t, "-p of no process", [*base, "-p", 999999], EXIT["no_target"],
             "no process with pid 999999")
    one_line(t, "-P of a port nobody listens on", [*base, "-P", 1], EXIT["no_target"],
             "no process listens on port 1")
    sleeper.kill()
    sleeper.wait()


def two_tracers(t, boot, pid, port):
    print("-- two kafkalats on one broker")
    a = t.kafkalat(pid, [port], "--no-causes", name="first")
    b = t.kafkalat(pid, [port], name="second")
    t.load(boot, "-t", "t", "--count", 300, messages=False, name="load-two")
    for k in (a, b):
        s, reqs = t.stop_kafkalat(k, timeout=20)
        t.eq(s["produce"]["records"], 300, f"{k.name}: produce.records")
        t.eq(len(reqs), s["produce"]["requests"], f"{k.name}: --requests lines")


def head_one(t, pid, port):
    """`kafkalat -j 0.1 | head -1`: the first interval line, then exit 141
    with nothing more on stderr, soon after head exits."""
    print("-- kafkalat -j 0.1 | head -1")
    err_path = t.path("head-kafkalat.err")
    with open(err_path, "wb") as err:
        k = subprocess.Popen([str(a) for a in (KAFKALAT, "-j", "-p", pid, "-P", port, 0.1)],
                             stdout=subprocess.PIPE, stderr=err)
    k.name = "kafkalat-head"
    t.procs.append(k)
    h = subprocess.Popen(["head", "-1"], stdin=k.stdout, stdout=subprocess.PIPE)
    h.name = "head"
    t.procs.append(h)
    k.stdout.close()  # head holds the pipe's only read end
    out = h.communicate(timeout=60)[0].decode()
    t_head = time.monotonic()
    rc = t.wait(k, 30)
    after = time.monotonic() - t_head
    with open(err_path) as f:
        kl = [ln for ln in f.read().splitlines() if not ln.startswith("Tracing")]
    lines = out.strip().splitlines()
    t.check(len(lines) == 1 and json.loads(lines[0])["type"] == "interval",
            f"head printed one interval line: {[ln[:60] for ln in lines]}")
    t.eq(kl, [], "kafkalat's stderr besides Tracing")
    t.eq(rc, EXIT["sigpipe"], "kafkalat's exit status")
    t.check(after < 5, f"kafkalat ended {after:.2f} s after head (< 5 s)")


def held_progs(pid):
    """The ids of the BPF programs process pid holds (its fds' fdinfo: a
    program's own, a link's program)."""
    ids = set()
    d = f"/proc/{pid}/fdinfo"
    try:
        names = os.listdir(d)
    except OSError:
        return ids
    for fd in names:
        try:
            with open(os.path.join(d, fd)) as f:
                ids |= {int(ln.split()[1]) for ln in f if ln.startswith("prog_id:")}
        except (OSError, ValueError, IndexError):
            pass
    return ids


def still_loaded(ids):
    """Of ids, the programs the kernel still has 2 s after their holder
    exited (freeing waits for a grace period)."""
    t0 = time.monotonic()
    while True:
        p = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                           timeout=20)
        left = sorted(ids & {pr["id"] for pr in json.loads(p.stdout or "[]")})
        if not left or time.monotonic() - t0 > 2:
            return left
        time.sleep(0.1)


def sigint(t, k):
    """SIGINT to k now: (exit status, seconds to its end, stdout, stderr
    lines, the ids of the programs it held when signalled)."""
    progs = held_progs(k.pid)
    t0 = time.monotonic()
    k.send_signal(signal.SIGINT)
    rc = t.wait(k, 20)
    secs = time.monotonic() - t0
    out, err = t.output(k)
    return rc, secs, out, err.strip().splitlines(), progs


def interrupted(t, pid, port):
    """SIGINT while kafkalat attaches: 130, one line, promptly, nothing
    left loaded; after the attach: the summary and 0."""
    print("-- SIGINT during the attach")
    stop = "kafkalat: interrupted (SIGINT) before tracing began"
    hits = 0
    for delay in (0.05, 0.15):
        k = t.spawn([KAFKALAT, "-j", "-p", pid, "-P", port], f"sigint-{delay}")
        time.sleep(delay)
        rc, secs, out, err, progs = sigint(t, k)
        if rc == EXIT["sigint"]:
            hits += 1
            t.check(err == [stop] and not out,
                    f"SIGINT {delay * 1000:.0f} ms in: exit 130 after {secs:.2f} s, one line, "
                    f"no stdout: {err}")
        else:
            t.check(rc == 0 and err[0].startswith("Tracing") and
                    json.loads(out.strip().splitlines()[-1])["type"] == "summary",
                    f"SIGINT {delay * 1000:.0f} ms in, after the attach: exit {rc}, the summary")
        t.check(secs < 10, f"ended {secs:.2f} s after SIGINT (< 10 s)")
        t.eq(still_loaded(progs), [], f"of the {len(progs)} programs it held, those loaded")
    t.check(hits >= 1, f"{hits} of 2 SIGINTs came during the attach (>= 1)")
    # after the socket programs are attached (libbpf's log, -v, says the
    # causes object loads): the signal waits for the step's end
    k = t.spawn([KAFKALAT, "-v", "-j", "-p", pid, "-P", port], "sigint-attached")
    t0 = time.monotonic()
    while ("loading object 'causes_bpf'" not in t.output(k)[1] and k.poll() is None
           and time.monotonic() - t0 < 30):
        time.sleep(0.005)
    rc, secs, out, err, progs = sigint(t, k)
    ours = [ln for ln in err if ln.startswith(("kafkalat:", "Tracing"))]
    t.check(rc == EXIT["sigint"] and ours == [stop] and not out and secs < 10,
            f"SIGINT while the causes load, the socket programs attached: exit {rc} after "
            f"{secs:.2f} s (< 10 s), kafkalat's lines {ours}")
    t.check(len(progs) >= 5, f"it held the socket programs then ({len(progs)})")
    t.eq(still_loaded(progs), [], f"of the {len(progs)} programs it held, those loaded")


def broker_exits(t):
    """The broker SIGKILLed while kafkalat attaches: 3 and one line, or
    (killed after the attach) the summary and 0; no hang."""
    print("-- the broker exits during the attach")
    hits = 0
    for delay in (0.03, 0.12):
        mc, _, pid, ports = t.mockcluster(topic="t", partitions=1)
        k = t.spawn([KAFKALAT, "-j", "-p", pid, "-P", ports[0]], f"gone-{delay}")
        time.sleep(delay)
        mc.kill()
        mc.wait()
        t0 = time.monotonic()
        rc = t.wait(k, 20)
        secs = time.monotonic() - t0
        err = t.output(k)[1].strip().splitlines()
        if rc == EXIT["no_target"]:
            hits += 1
            t.check(len(err) == 1 and (
                err[0] == f"kafkalat: the broker (pid {pid}) exited before tracing began"
                or err[0] == f"kafkalat: no process with pid {pid}"),
                    f"killed {delay * 1000:.0f} ms in: exit 3, one line: {err}")
        else:
            t.check(rc == 0 and err[-1] == "kafkalat: stopping: the broker exited",
                    f"killed {delay * 1000:.0f} ms in, after the attach: exit {rc}: {err[-1:]}")
        t.check(secs < 10, f"ended {secs:.2f} s after the broker (< 10 s)")
    t.check(hits >= 1, f"{hits} of 2 kills came before tracing began (>= 1)")


def test(t):
    _, boot, pid, ports = t.mockcluster(topic="t", partitions=1)
    port = ports[0]
    no_btf(t, pid, port)
    capabilities(t, pid, port)
    targets(t, pid, port)
    no_tracefs(t, boot, pid, port)
    two_tracers(t, boot, pid, port)
    head_one(t, pid, port)
    interrupted(t, pid, port)
    broker_exits(t)


main(test)

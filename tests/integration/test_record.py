#!/usr/bin/python3
"""`kafkalat record` and `kafkalat report` on the reference broker (issue 13).

- `record -I 1 -- kafkalat load ...` records until the load exits: exit 0,
  mode 0600, every produce request the load made is in the recording, one
  record per interval, the report's text and JSON summaries come from the
  live summary's code; recording again renames the first file .old.
- Merging: two recordings report the sum of their requests.
- A killed run (SIGKILL) stays readable up to its last complete record.
- Bad input: truncated, CRC-corrupted, wrong version, empty, a directory,
  another file type: each a one-line error naming the file and the offset
  (where there is one), exit 2.
- Disk full: recording into a tiny loop-mounted ext2 fails with a clear
  error (exit 1), and what was written reads back.
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import time

from lib import KAFKALAT, Failure, main

RATE = 1000
SECONDS = 4


def load_args(port, seconds=SECONDS, rate=RATE):
    return [KAFKALAT, "load", "-b", f"127.0.0.1:{port}", "-t", "rec", "--partitions", "4",
            "--rate", str(rate), "-d", str(seconds), "-X", "linger.ms=0", "--json", "-q"]


def record_with_load(t, port, path, *extra, name="record"):
    """record -- load; returns the load's JSON summary."""
    p = t.spawn([KAFKALAT, "record", "-P", port, "-I", 1, "-o", path, *extra, "--",
                 *load_args(port)], name)
    rc = t.wait(p, SECONDS + 60)
    out, err = t.output(p)
    t.eq(rc, 0, f"{name}: exit status (stderr {err.strip()[-300:]!r})", fatal=True)
    t.check("wrote " + path in err, f"{name}: says what it wrote ({err.strip()[-120:]!r})")
    return json.loads(out.strip().splitlines()[-1])


def report(t, *args, rc=0):
    p = subprocess.run([KAFKALAT, "report", *map(str, args)], capture_output=True, text=True,
                       timeout=60)
    t.eq(p.returncode, rc, f"report {' '.join(map(str, args))}: exit status "
         f"(stderr {p.stderr.strip()[-300:]!r})", fatal=rc == 0)
    return p


def check_recording(t, port, path):
    load = record_with_load(t, port, path, "--label", "run=first")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    t.eq(oct(mode), oct(0o600), "the recording is private (0600)")
    s = json.loads(report(t, path, "--format", "json").stdout.strip().splitlines()[-1])
    t.eq(s["produce"]["requests"], load["produce_requests"],
         "every produce request the load made is in the recording")
    t.eq(s["lost_events"], 0, "no events lost")
    text = report(t, path).stdout
    t.check("Tail composition of produce requests" in text and "Summary: broker pid" in text,
            "the text report is the live summary")
    t.check("(6 intervals)" in text or "(5 intervals)" in text or "(7 intervals)" in text,
            f"one record per 1 s interval ({text.splitlines()[0]!r})")
    return load


def check_old(t, port, path):
    first = os.path.getsize(path)
    record_with_load(t, port, path, name="record2")
    t.check(os.path.exists(path + ".old"), "a second recording renames the first .old")
    t.eq(os.path.getsize(path + ".old"), first, "the .old file is the first recording")
    both = json.loads(report(t, path, path + ".old", "--format", "json").stdout.splitlines()[-1])
    one = json.loads(report(t, path, "--format", "json").stdout.splitlines()[-1])
    old = json.loads(report(t, path + ".old", "--format", "json").stdout.splitlines()[-1])
    t.eq(both["produce"]["requests"], one["produce"]["requests"] + old["produce"]["requests"],
         "two recordings merged count both's requests")


def check_killed(t, port):
    path = t.path("killed.data")
    p = t.spawn([KAFKALAT, "record", "-P", port, "-I", "0.5", "-o", path], "killed")
    lp = t.spawn(load_args(port, seconds=3), "killed-load")
    t.wait(lp, 30)
    p.send_signal(signal.SIGKILL)
    t.wait(p, 10)
    r = report(t, path)
    t.check("cut short" in r.stdout, "the killed run reads back, marked cut short")
    t.check("ends before its trailer" in r.stderr, "and report says why on stderr")


def bad_inputs(t, good):
    with open(good, "rb") as f:
        data = f.read()
    cases = {
        "truncated": (data[:len(data) - 9], "offset"),
        "crc": (data[:-30] + bytes([data[-30] ^ 0x40]) + data[-29:], "CRC"),
        "version": (data[:8] + b"\x09\x00\x00\x00" + data[12:], "offset 8"),
        "empty": (b"", "empty"),
        "other": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a kafkalat recording"),
    }
    for name, (content, what) in cases.items():
        path = t.path(f"bad-{name}.data")
        with open(path, "wb") as f:
            f.write(content)
        check_bad(t, path, what, name)
    os.mkdir(t.path("adir"))
    check_bad(t, t.path("adir"), "directory", "a directory")
    check_bad(t, t.path("missing.data"), "No such file", "a missing file")


def check_bad(t, path, what, name):
    p = report(t, path, rc=2)
    lines = p.stderr.strip().splitlines()
    t.check(len(lines) == 1 and path in lines[0] and what in lines[0] and not p.stdout,
            f"{name}: one line naming the file and {what!r} ({p.stderr.strip()!r})")


def disk_full(t, port):
    img, mnt = t.path("tiny.img"), t.path("tiny")
    os.mkdir(mnt)
    subprocess.run(["truncate", "-s", "400K", img], check=True)
    subprocess.run(["mkfs.ext2", "-q", "-F", img], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
    try:
        path = os.path.join(mnt, "full.data")
        p = t.spawn([KAFKALAT, "record", "-P", port, "-I", "0.2", "--slowest", "2000", "-o",
                     path, "--", *load_args(port, seconds=30, rate=5000)], "full")
        rc = t.wait(p, 90)
        err = t.output(p)[1]
        t.eq(rc, 1, "recording into a full file system fails")
        t.check("No space left on device" in err and path in err,
                f"with a clear error ({err.strip().splitlines()[-1] if err.strip() else ''!r})")
        r = report(t, path)
        t.check("Summary:" in r.stdout, "what was written before the disk filled reads back")
    finally:
        subprocess.run(["umount", mnt], check=False)


def test(t):
    _, port, _ = t.refbroker()
    path = t.path("kafkalat.data")
    check_recording(t, port, path)
    check_old(t, port, path)
    check_killed(t, port)
    bad_inputs(t, path)
    disk_full(t, port)
    p = subprocess.run([KAFKALAT, "record", "--label", "bad key=1"], capture_output=True,
                       text=True)
    t.eq(p.returncode, 2, "a bad --label is a usage error")


if __name__ == "__main__":
    main(test)

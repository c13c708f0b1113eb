#!/usr/bin/python3
"""`make demo-cluster` shortened (scripts/demo-cluster.sh, 8 s of load): three
reference brokers, broker 2 a follower on the slow ext4 under disk pressure,
acks=all from kafkalat load --profile java, all three traced by one kafkalat.
kafkalat's own tail story names broker 2's pid as the follower the >= p99
requests waited for, most of their time replication, most of it in its
appends stuck in the journal (its fetcher's writes: jbd2's
do_get_write_access); the demo removes everything it made."""
import os
import re
import subprocess

from lib import main

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "..", "scripts", "demo-cluster.sh")


def mounts():
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


def test(t):
    # SIGTERM, never SIGKILL, on every way out: the demo's trap unmounts the
    # disk and stops the brokers
    p = subprocess.Popen([DEMO], env={**os.environ, "DEMO_SECONDS": "8"}, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            p.terminate()
            p.communicate(timeout=60)
    t.eq(p.returncode, 0, f"demo-cluster.sh exit status (stderr: {err.strip()[-300:]!r})",
         fatal=True)
    m = re.search(r"brokers: pid (\d+), (\d+), (\d+)", out)
    t.check(m is not None, "the demo names the brokers' pids", fatal=True)
    slow_pid = int(m.group(3))
    story = re.search(r">= p99: (\d+) requests? of .*spent (\d+)% of their time in the "
                      r"(\w+) phase", out)
    t.check(story is not None, "kafkalat tells the tail's story", fatal=True)
    t.eq(story.group(3), "replication", "the >= p99 band's largest phase")
    t.check(int(story.group(2)) >= 50, f"replication is {story.group(2)}% >= 50% of the "
            f">= p99 time ({story.group(1)} requests)")
    rel = re.search(r"(\d+)% of their time was replication waiting for replica (\d+) "
                    r"\(pid (\d+)\), (\d+)% in its appends \((\w+) (\d+)%", out)
    t.check(rel is not None, "the story names the follower and its appends' cause"
            + ("" if rel else f": {out[out.find('Why the tail'):][:600]!r}"), fatal=True)
    waited, replica, pid, append, cause, cause_pct = rel.groups()
    t.eq((int(replica), int(pid)), (2, slow_pid), "the follower waited for: broker 2, its pid")
    t.check(int(waited) >= 50, f"{waited}% of the >= p99 time waited for it (>= 50%)")
    t.eq(cause, "journal", "what its appends were stuck in")
    t.check(int(cause_pct) >= 50, f"its appends' journal time {cause_pct}% of the >= p99 time "
            f"(>= 50%; in its appends {append}%)")
    t.check(re.search(r"The largest cause is journal, \d+%", out) is not None,
            "the >= p99 band's largest cause: journal")
    t.check("do_get_write_access" in out, "the journal's kernel stack is shown")
    t.check("the producers saw" in out, "the demo prints the producers' view")
    print(f"  info >= p99: {story.group(1)} requests, replication {story.group(2)}%, "
          f"waiting for broker 2 {waited}%, in its appends {append}% (journal {cause_pct}%)")
    # the demo's own disk (other tests may mount theirs meanwhile)
    disk = re.search(r"slowdisk: ext4 \(commit=1\) at (\S+)/mnt: .* on (\S+disk\.img)", err)
    t.check(disk is not None, "the demo says where its slow disk is", fatal=True)
    t.check(disk.group(1) + "/mnt" not in mounts(), f"{disk.group(1)}/mnt unmounted")
    left = subprocess.run(["losetup", "-nO", "NAME", "-j", disk.group(2)], capture_output=True,
                          text=True).stdout.strip()
    t.eq(left, "", f"loop devices left on {disk.group(2)}")
    t.check(not os.path.exists(disk.group(1)), f"{disk.group(1)} removed")


main(test)

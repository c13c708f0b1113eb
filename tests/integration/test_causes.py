#!/usr/bin/python3
"""The causes object (bpf/causes.bpf.c) through `kafkalat causes-dump`, on
build/stallgen's provoked waits: a futex wait of a held mutex shows as a
FUTEX event and a blocked OFFCPU interval whose kernel stack is in
futex_wait, woken by the holder; an fsync after 1 MiB writes shows as FILE
events with the right bytes, inode and device, with block I/O completing on
that device; two CPU-bound threads on one CPU show preemptions (not
blocked) with run-queue delay. The journal (jbd2) events are printed, not
checked: the root filesystem here is ext4 without a journal. A second stallgen, not traced, doing the same
at the same time, appears nowhere (the tgid filter)."""
import os
import signal
import subprocess

from lib import BUILD, KAFKALAT, Failure, main, read_jsonl, read_keys

STALLGEN = os.path.join(BUILD, "stallgen")
FUTEX_MS = 200
SPIN_MS = 300
MIB = 1 << 20
NWRITES = 4


def stallgen(t, name):
    argv = [STALLGEN, "--futex", FUTEX_MS, "--fsync", t.dir, "--mib", NWRITES,
            "--sleep", 50, "--spin", SPIN_MS]
    p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.name = name
    t.procs.append(p)
    vals = read_keys(p, ("PID",), 5)
    if vals is None:
        raise Failure(f"{name} did not print PID=")
    return p, int(vals["PID"])


def kdev(s):
    major, minor = s.split(":")
    return int(major), int(minor)


def test(t):
    if not os.path.exists(STALLGEN):
        raise Failure(f"{STALLGEN} missing: run make")
    gen, pid = stallgen(t, "stallgen")
    dump = t.spawn([KAFKALAT, "causes-dump", "-p", pid, "-d", 20], "dump")
    for _ in range(500):
        if "Tracing" in t.output(dump)[1] or dump.poll() is not None:
            break
        subprocess.run(["sleep", "0.02"])
    t.check("Tracing" in t.output(dump)[1],
            f"causes-dump attached (stderr: {t.output(dump)[1].strip()[-300:]!r})", fatal=True)
    other, other_pid = stallgen(t, "other")
    for p in (gen, other):
        p.stdin.write(b"go\n")
        p.stdin.flush()
    keys = ("HOLDER_TID", "FUTEX_TID", "FUTEX_WAITED_US", "FSYNC_TID", "FILE_INO",
            "FILE_DEV", "WRITES", "SPIN_CPU", "SPIN_TID", "SPIN_TID2", "DONE")
    v = read_keys(gen, keys, 15)
    if v is None:
        raise Failure("stallgen did not finish its actions")
    t.eq(v["DONE"], "0", "stallgen's actions succeeded")
    ov = read_keys(other, ("FUTEX_TID", "FSYNC_TID", "SPIN_TID", "DONE"), 15)
    if ov is None:
        raise Failure("the untraced stallgen did not finish")
    other.stdin.close()
    t.wait(other, 5)
    dump.send_signal(signal.SIGTERM)
    t.eq(t.wait(dump, 10), 0, f"causes-dump exit status ({t.output(dump)[1].strip()[-300:]!r})")
    gen.stdin.close()
    t.wait(gen, 5)

    evs = read_jsonl(t.path("dump.out"))
    t.check(bool(evs) and evs[-1].get("type") == "summary", "last line is the summary",
            fatal=True)
    summary, evs = evs[-1], evs[:-1]
    print(f"  info events {summary['events']}, lost {summary['lost_events']}")
    t.eq(summary["lost_events"], 0, "lost_events")
    t.eq(summary["bad_records"], 0, "bad_records")
    for p in summary["progs"]:
        print(f"  info {p['name']}: {p['run_cnt']} runs, {p['verified_insns']} insns verified")
    counts = {}
    for e in evs:
        counts[e["type"]] = counts.get(e["type"], 0) + 1
    t.eq(counts, {k: n for k, n in summary["events"].items() if n},
         "summary counts match the lines")

    # -- the tgid filter --
    mine = {pid, *(int(v[k]) for k in ("HOLDER_TID", "FUTEX_TID", "FSYNC_TID", "SPIN_TID",
                                      "SPIN_TID2"))}
    theirs = {other_pid, *(int(ov[k]) for k in ("FUTEX_TID", "FSYNC_TID", "SPIN_TID"))}
    per_thread = [e for e in evs if e["type"] in ("file", "futex", "offcpu", "jbd2_handle",
                                                  "dirty_throttle", "folio_wait")]
    stray = [e for e in per_thread if e["tid"] not in mine]
    t.check(not stray, f"{len(per_thread)} per-thread events are all of the traced "
                       f"process's threads {sorted(mine)}" + (f" (stray: {stray[:3]})"
                                                             if stray else ""))
    t.check(not any(e["tid"] in theirs for e in per_thread),
            f"none of the untraced stallgen's threads {sorted(theirs)}")

    # -- futex: the waiter blocked for FUTEX_MS on the holder's mutex --
    ftid, htid = int(v["FUTEX_TID"]), int(v["HOLDER_TID"])
    fx = [e for e in evs if e["type"] == "futex" and e["tid"] == ftid]
    longest = max((e["dur_ns"] for e in fx), default=0)
    t.check(longest >= FUTEX_MS * 1e6,
            f"a FUTEX wait of the waiter tid {ftid} >= {FUTEX_MS} ms "
            f"(longest {longest / 1e6:.1f} ms of {len(fx)})")
    fw = max(fx, key=lambda e: e["dur_ns"], default=None)
    if fw:
        t.check(fw["op"] & 0x7f in (0, 9) and fw["ret"] == 0,
                f"it is a FUTEX_WAIT(_BITSET) that returned 0 (op {fw['op']}, ret {fw['ret']})")
    off = [e for e in evs if e["type"] == "offcpu" and e["tid"] == ftid and e["blocked"]
           and e["dur_ns"] >= FUTEX_MS * 1e6 * 0.95]
    t.check(bool(off), f"a blocked OFFCPU interval of tid {ftid} >= {FUTEX_MS} ms")
    if off:
        o = off[0]
        frames = [f.split("+")[0] for f in (o.get("stack") or [])]
        t.check(any(f.startswith("futex_wait") or f == "__futex_wait" for f in frames),
                f"its kernel stack is in futex_wait ({frames[:8]})")
        t.eq(o["waker_tid"], htid, "it was woken by the holder thread")
        t.check(o["runq_ns"] is not None and 0 <= o["runq_ns"] < o["dur_ns"],
                f"run-queue delay after the wake-up {o['runq_ns']} ns")
        if fw:
            t.check(o["t_off_ns"] >= fw["t_start_ns"] and o["t_on_ns"] <= fw["t_end_ns"],
                    "the off-CPU interval lies inside the futex wait")

    # -- file writes and the fsync --
    stid, ino = int(v["FSYNC_TID"]), int(v["FILE_INO"])
    files = [e for e in evs if e["type"] == "file" and e["tid"] == stid]
    writes = [e for e in files if e["kind"] == "write"]
    syncs = [e for e in files if e["kind"] == "fsync"]
    t.eq([e["ret"] for e in writes], [MIB] * int(v["WRITES"]),
         f"the fsync thread's write() byte counts")
    t.eq(len(syncs), 1, "one fsync FILE event")
    t.check(all(e["ino"] == ino and kdev(e["dev"]) == kdev(v["FILE_DEV"]) for e in files),
            f"FILE events carry the file's inode {ino} and device {v['FILE_DEV']}")
    t.check(all(e["offset"] == -1 for e in files), "no offset for write/fsync")
    if syncs and writes:
        s = syncs[0]
        t.check(max(w["t_end_ns"] for w in writes) <= s["t_start_ns"] and s["ret"] == 0,
                f"the writes precede the fsync ({s['dur_ns'] / 1e6:.2f} ms, ret {s['ret']})")
        blk = [b for b in evs if b["type"] == "block"
               and kdev(v["FILE_DEV"]) in (kdev(b["dev"]), kdev(b["part_dev"]))]
        during = [b for b in blk if s["t_start_ns"] <= b["t_complete_ns"] <= s["t_end_ns"]]
        t.check(bool(during), f"block requests on {v['FILE_DEV']} completed during the fsync "
                              f"({len(during)} of {len(blk)}, "
                              f"{sum(b['bytes'] for b in during)} bytes)")
        jc = [j for j in evs if j["type"] == "jbd2_commit"
              and kdev(j["dev"]) == kdev(v["FILE_DEV"])]
        print(f"  info {len(jc)} jbd2 commits on {v['FILE_DEV']}, "
              f"{sum(1 for e in evs if e['type'] == 'jbd2_run')} run stats")
    # stallgen's stdout is a pipe: its KEY=value writes are not FILE events
    t.check(not any(e["type"] == "file" and e["ino"] != ino for e in evs),
            "every FILE event is of stallgen's file (none for its writes to a pipe)")

    # -- two spinners on one CPU: preempted, with run-queue delay --
    spin = {int(v["SPIN_TID"]), int(v["SPIN_TID2"])}
    pre = [e for e in evs if e["type"] == "offcpu" and e["tid"] in spin and not e["blocked"]]
    t.check(len(pre) >= 4, f"the spinners were preempted ({len(pre)} times)")
    t.check(all(e["runq_ns"] == e["dur_ns"] and e["stack_id"] < 0 for e in pre),
            "preempted intervals: runq delay = off-CPU time, no stack")
    runq = sum(e["runq_ns"] for e in pre)
    t.check(runq >= SPIN_MS * 1e6 * 0.5,
            f"their run-queue delay adds up ({runq / 1e6:.0f} ms over two {SPIN_MS} ms spins "
            f"on CPU {v['SPIN_CPU']})")


if __name__ == "__main__":
    main(test)

#!/usr/bin/python3
"""scripts/bench_split.py, the arithmetic of bench_causes' "whose runs"
tables (issue 15), and bpf/bench_split.h's list: exact values from a
made-up bpftool dump and made-up runs; every BPF program of both objects
counts its runs under its own name, once, and the list names each; the
normal build's objects hold no bench_split map. No BPF is loaded."""
import contextlib
import io
import os
import re
import subprocess
import sys

from lib import BUILD, ROOT, main

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import bench_split  # noqa: E402


def dump(cpus):
    """bpftool map dump -j of one bench_split map, values per CPU."""
    return [{"key": ["0x00"] * 4, "values": [],
             "formatted": {"key": 0, "values": [{"cpu": i, "value": v}
                                                for i, v in enumerate(cpus)]}}]


def near(got, want):
    return got is not None and abs(got - want) < 1e-9


def check_row(t, rows, prog, want):
    got = rows[prog]
    ok = all((near(got[k], v) if v is not None else got[k] is None) for k, v in want.items())
    t.check(ok, f"{prog}: {got} is {want}")


def arithmetic(t):
    counts = bench_split.sum_counts([
        dump([{"sock_exit": [5, 7], "sched_switch": [1, 0]},
              {"sock_exit": [10, 20], "sched_switch": [2, 3]}]),
        dump([{"sock_exit": [0, 0], "file_sys_exit": [4, 1]}])])
    t.eq(counts, {"sock_exit": (15, 27), "sched_switch": (3, 3), "file_sys_exit": (4, 1)},
         "counts summed over CPUs and maps")
    t.eq(bench_split.diff_pairs({"a": (10, 5), "b": (3, 3)}, {"a": (4, 1)}),
         {"a": (6, 4), "b": (3, 3)}, "after minus before")
    t.eq(bench_split.sum_pairs([{"a": (1, 2)}, {"a": (3, 4), "b": (5, 6)}]),
         {"a": (4, 6), "b": (5, 6)}, "summed over runs")

    timed = {"sock_exit": (12000, 60), "sched_switch": (9000, 100), "sk_data_ready": (500, 10),
             "jbd2_run_stats": (100, 1), "block_rq_issue": (70, 2), "sock_enter4": (0, 0),
             "folio_wait_writeback": (0, 0)}
    counts = {"sock_exit": (30, 30), "sched_switch": (75, 25), "sk_data_ready": (0, 8),
              "block_rq_issue": (2, 0), "folio_wait_writeback": (3, 0)}
    idle = {"sock_exit": (300, 10), "sched_switch": (4000, 100)}
    rows = bench_split.split(timed, 10, counts, idle)
    t.eq(sorted(rows), sorted(set(timed) - {"sock_enter4"}), "a row per program that ran")
    # half of the 6 runs per request are others', at the idle 30 ns a run
    check_row(t, rows, "sock_exit", {"broker_runs": 3, "other_runs": 3, "other_ns": 90,
                                     "broker_ns": 1110, "exit_ns": 30})
    check_row(t, rows, "sched_switch", {"broker_runs": 2.5, "other_runs": 7.5, "other_ns": 300,
                                        "broker_ns": 600, "exit_ns": 40})
    # only the broker's runs: no early exit needed
    check_row(t, rows, "sk_data_ready", {"broker_runs": 1, "other_runs": 0, "other_ns": 0,
                                         "broker_ns": 50, "exit_ns": None})
    # never counted: nothing known
    check_row(t, rows, "jbd2_run_stats", {"broker_runs": None, "other_runs": None,
                                          "other_ns": None, "broker_ns": None, "exit_ns": None})
    # others' runs but none while idle: runs known, times not
    check_row(t, rows, "block_rq_issue", {"broker_runs": 0, "other_runs": 0.2, "other_ns": None,
                                          "broker_ns": None, "exit_ns": None})
    # counted by the counting build, never run in the timed runs
    check_row(t, rows, "folio_wait_writeback", {"broker_runs": 0, "other_runs": 0,
                                                "other_ns": 0, "broker_ns": 0, "exit_ns": None})
    tot, left = bench_split.totals(rows)
    t.check(near(tot["broker_runs"], 6.5) and near(tot["other_runs"], 10.5) and
            near(tot["broker_ns"], 1760) and near(tot["other_ns"], 390),
            f"totals over the known rows: {tot}")
    t.eq(left, ["block_rq_issue", "jbd2_run_stats"], "rows left out of the totals")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bench_split.report("test", rows)
    lines = out.getvalue().splitlines()
    t.eq(len(lines), 3 + len(rows), "report: a title, a header, a line per program, the total")
    t.check(lines[2].split()[0] == "sock_exit" and "without block_rq_issue" in lines[-1] and "others 18% of the time" in lines[-1],
            f"report: busiest first, unknown rows named: {lines[2]!r} ... {lines[-1]!r}")


def one_list(t):
    with open(os.path.join(ROOT, "bpf", "bench_split.h")) as f:
        listed = re.findall(r"__u64 (\w+)\[2\];", f.read())
    t.eq(len(listed), len(set(listed)), "the list names each program once")
    every = set()
    for obj in ("kafkalat", "causes"):
        with open(os.path.join(ROOT, "bpf", f"{obj}.bpf.c")) as f:
            src = f.read()
        progs = re.findall(r'SEC\("(?:tp_btf|tracepoint|raw_tp|tp)[^"]*"\)\s*\n'
                           r"int (?:BPF_PROG\()?(\w+)", src)
        counted = re.findall(r"BENCH_SPLIT_COUNT\((\w+),", src)
        t.check(len(progs) >= 9, f"{obj}.bpf.c: {len(progs)} programs found")
        t.eq(sorted(counted), sorted(progs), f"{obj}.bpf.c: each program counts once, as itself")
        every.update(progs)
    t.eq(sorted(listed), sorted(every), "bench_split.h lists the programs of both objects")


def normal_build(t):
    for obj in ("kafkalat", "causes"):
        path = os.path.join(BUILD, f"{obj}.bpf.o")
        r = subprocess.run(["bpftool", "btf", "dump", "file", path], capture_output=True,
                           text=True, timeout=30)
        t.check(r.returncode == 0 and "bench_split" not in r.stdout,
                f"{path}: no bench_split in its BTF (rc {r.returncode})")


def test(t):
    arithmetic(t)
    one_list(t)
    normal_build(t)


if __name__ == "__main__":
    main(test)

"""Whose runs kafkalat's BPF time is: the traced broker's, or other
processes' (the load generator on the same host, anything else), which
leave at a program's filter. Used by scripts/bench_causes.py; its arithmetic
is tested by tests/integration/test_bench_split.py.

Three measurements per figure, each exact in its own unit:
  - counts: a kafkalat built with -DKLT_BENCH_SPLIT (bpf/bench_split.h)
    counts each program's runs for a traced broker and for other processes
    into a per-CPU array, the map "bench_split" (one field per program,
    [other, broker]), read here through bpftool's BTF-formatted dump;
  - time and runs: bpf_stats of the unmodified build (kafkalat or the
    floor), the per-program table bench_causes prints;
  - the early exit: bpf_stats ns per run of the same unmodified build
    attached to an idle broker while the load goes to a second, untraced
    one, so that every run is another process's.
Per program: other runs = the counting build's share of other runs times the
timed runs; other ns = other runs times the early exit's ns per run; broker
ns = the timed ns minus other ns. The counting build runs only for its
counts: its own programs are slower by the count.
"""
import json
import subprocess

from benchlib import tracer_map_ids

MAP = "bench_split"


def _bpftool_json(*args):
    r = subprocess.run(["bpftool", *args, "-j"], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def read_counts(pid):
    """{program: (other runs, broker runs)} so far in the bench_split maps
    kafkalat pid holds (one per BPF object); {} if it holds none."""
    ids = tracer_map_ids(pid)
    dumps = [_bpftool_json("map", "dump", "id", str(m["id"]))
             for m in _bpftool_json("map", "show") if m.get("id") in ids and m.get("name") == MAP]
    return sum_counts(dumps)


def sum_counts(dumps):
    """bpftool's JSON dumps of bench_split maps -> {program: (other, broker)},
    summed over the maps and the CPUs."""
    out = {}
    for dump in dumps:
        for entry in dump:
            for cpu in entry["formatted"]["values"]:
                for prog, (other, broker) in cpu["value"].items():
                    o, b = out.get(prog, (0, 0))
                    out[prog] = (o + other, b + broker)
    return out


def diff_pairs(after, before):
    """{k: (a, b)} after minus before, key by key."""
    return {k: (a - before.get(k, (0, 0))[0], b - before.get(k, (0, 0))[1])
            for k, (a, b) in after.items()}


def sum_pairs(dicts):
    """{k: (a, b)} summed over dicts, key by key."""
    out = {}
    for d in dicts:
        for k, (a, b) in d.items():
            x, y = out.get(k, (0, 0))
            out[k] = (x + a, y + b)
    return out


def split(timed, reqs, counts, idle):
    """Per produce request, each program's runs and BPF time for the broker
    and for other processes.

    timed: {program: (ns, runs)} of the unmodified build over reqs produce
    requests; counts: {program: (other runs, broker runs)} of its counting
    build; idle: {program: (ns, runs)} of the unmodified build with no traced
    broker thread active. Returns {program: row} for the programs that
    ran, a row being a dict of
    broker_runs, other_runs, broker_ns, other_ns (per request) and exit_ns
    (per run); a figure that cannot be had is None: the counting build never
    saw the program run (every figure), or others ran it but the idle run
    never did (other_ns, broker_ns, exit_ns)."""
    reqs = max(reqs, 1)
    rows = {}
    for prog, (ns, runs) in timed.items():
        other, broker = counts.get(prog, (0, 0))
        if runs == 0 and other + broker == 0:
            continue  # loaded, never run
        i_ns, i_runs = idle.get(prog, (0, 0))
        exit_ns = i_ns / i_runs if i_runs else None
        row = {"broker_runs": None, "other_runs": None, "broker_ns": None, "other_ns": None,
               "exit_ns": exit_ns}
        rows[prog] = row
        if other + broker == 0:
            continue
        row["other_runs"] = other / (other + broker) * runs / reqs
        row["broker_runs"] = runs / reqs - row["other_runs"]
        if row["other_runs"] == 0:
            row["other_ns"] = 0.0
        elif exit_ns is not None:
            row["other_ns"] = row["other_runs"] * exit_ns
        if row["other_ns"] is not None:
            row["broker_ns"] = ns / reqs - row["other_ns"]
    return rows


def totals(rows):
    """The rows' sums, over the programs whose figures are all known, and
    the names of those left out."""
    known = {p: r for p, r in rows.items() if r["broker_ns"] is not None}
    keys = ("broker_runs", "other_runs", "broker_ns", "other_ns")
    return ({k: sum(r[k] for r in known.values()) for k in keys},
            sorted(p for p in rows if p not in known))


def _f(x, spec):
    return format(x, spec) if x is not None else "?".rjust(int(spec.split(".")[0]))


def report(label, rows):
    """Prints rows (split()'s) under label, busiest first."""
    print(f"  whose runs, {label}:")
    print(f"      {'program':<20} {'broker runs/req':>15} {'ns/req':>7}   "
          f"{'others runs/req':>15} {'ns/req':>7}  {'early exit ns/run':>17}")
    order = sorted(rows.items(), key=lambda kv: -((kv[1]["broker_ns"] or 0) +
                                                  (kv[1]["other_ns"] or 0)))
    for prog, r in order:
        print(f"      {prog:<20} {_f(r['broker_runs'], '15.2f')} {_f(r['broker_ns'], '7.0f')}   "
              f"{_f(r['other_runs'], '15.2f')} {_f(r['other_ns'], '7.0f')}  "
              f"{_f(r['exit_ns'], '17.0f')}")
    t, left = totals(rows)
    share = t["other_ns"] / max(t["broker_ns"] + t["other_ns"], 1e-9) * 100
    print(f"      {'all programs':<20} {t['broker_runs']:15.2f} {t['broker_ns']:7.0f}   "
          f"{t['other_runs']:15.2f} {t['other_ns']:7.0f}  others {share:.0f}% of the time"
          + (f"; without {', '.join(left)}" if left else ""))

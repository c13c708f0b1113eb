#!/usr/bin/python3
"""The produce latency seen from three places, side by side: the producer's
own (`kafkalat load --json`: produce() to delivery report), kafkalat's (the
request's first byte in the broker's socket to its response's last byte
out: what the client waits for at the broker), with kafkalat's flow-control
bound (plus the time the broker's receive window was full before the
request arrived, which no broker-side clock sees), and the broker's own
clock (first read to last write, Kafka's TotalTimeMs); then what separates
them, from kafkalat's --requests lines (docs/json.md).

    client_view.py REQUESTS.jsonl LOAD.json [--json]

Imported by scripts/fs-compare.sh (figures()). Quantiles are nearest rank
over the requests' own times."""
import json
import sys


def _q(xs, q):
    if not xs:
        return None
    return xs[min(len(xs) - 1, max(0, -(-int(q * 1000) * len(xs) // 1000) - 1))]


def _jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def figures(requests_path, load_path):
    """A dict of the figures (µs) and the ≥ p99 band's make-up."""
    reqs = [r for r in _jsonl(requests_path) if r.get("t_end_ns")]
    with open(load_path) as f:
        load = json.loads(f.read().strip().splitlines()[-1])
    known = [r for r in reqs if r.get("t_arrival_ns") is not None
             and r.get("t_sent_ns") is not None]
    wire = sorted((r["t_sent_ns"] - r["t_arrival_ns"]) / 1e3 for r in known)
    has_flow = any("flow_blocked_us" in r for r in reqs)
    flow_max = max((r.get("flow_blocked_us") or 0 for r in reqs), default=0)
    # each request's wait plus its own bound: what it may have waited in all
    bounded = sorted((r["t_sent_ns"] - r["t_arrival_ns"]) / 1e3 + (r.get("flow_blocked_us") or 0)
                     for r in known)
    own = sorted((r["t_end_ns"] - r["t_first_ns"]) / 1e3 for r in reqs)
    ours = {"p99": _q(wire, 0.99), "p999": _q(wire, 0.999)}
    out = {
        "requests": len(reqs), "wire_unknown": len(reqs) - len(known),
        "producer": {"p99": load["latency_us"]["p99"], "p999": load["latency_us"]["p999"]},
        "kafkalat": ours,
        "flow_blocked_max": flow_max if has_flow else None,
        "flow_bound": {"p99": _q(bounded, 0.99), "p999": _q(bounded, 0.999)}
        if has_flow and None not in ours.values() else None,
        "broker_own": {"p99": _q(own, 0.99), "p999": _q(own, 0.999)},
    }
    # the >= p99 band of the wire latency: where its time went
    p99 = out["kafkalat"]["p99"]
    band = [r for r in known if p99 is not None and (r["t_sent_ns"] - r["t_arrival_ns"]) / 1e3 >= p99]
    parts = {"recv": 0.0, "socket_wait": 0.0, "broker": 0.0, "send_queue": 0.0}
    roots, hol_us = {}, 0.0
    for r in band:
        parts["recv"] += r["t_complete_ns"] - r["t_arrival_ns"]
        parts["socket_wait"] += r["t_first_ns"] - r["t_complete_ns"]
        parts["broker"] += r["t_end_ns"] - r["t_first_ns"]
        parts["send_queue"] += r["t_sent_ns"] - r["t_end_ns"]
        hol_us += (r.get("causes_us") or {}).get("hol", 0.0)
        for c, us in (r.get("root_causes_us") or r.get("causes_us") or {}).items():
            roots[c] = roots.get(c, 0.0) + us
    total = sum(parts.values()) or 1
    out["band"] = {"requests": len(band),
                   "pct": {k: 100 * v / total for k, v in parts.items()},
                   "root_causes_pct": {k: 100 * v / (sum(roots.values()) or 1)
                                       for k, v in sorted(roots.items(), key=lambda kv: -kv[1])},
                   "hol_pct": 100 * hol_us / (sum(roots.values()) or 1) if roots else None}
    return out


def _ms(us):
    if us is None:
        return "-"
    x = us / 1000
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def text(f):
    rows = [("producer: produce() -> delivery report (librdkafka)", f["producer"]),
            ("kafkalat: request in the broker's socket -> response out", f["kafkalat"]),
            ("  + each request's flow-control bound (flow_blocked_us)", f["flow_bound"]),
            ("broker's own clock: first read -> last write", f["broker_own"])]
    w = max(len(r[0]) for r in rows)
    lines = [f"{'produce latency, ms':<{w}}  {'p99':>8}  {'p99.9':>8}"]
    for name, v in rows:
        if v is None:
            lines.append(f"{name:<{w}}  {'n/a':>8}  {'n/a':>8}  (this kafkalat reports no "
                         f"flow_blocked_us)")
        else:
            lines.append(f"{name:<{w}}  {_ms(v['p99']):>8}  {_ms(v['p999']):>8}")
    if f["wire_unknown"]:
        lines.append(f"({f['wire_unknown']} of {f['requests']} requests with an unknown "
                     f"arrival or send time are left out of kafkalat's line)")
    b = f["band"]
    if not b["requests"]:
        return "\n".join(lines)
    pct = b["pct"]
    lines += ["", "What separates them:",
              f"- broker's clock -> kafkalat: of the {b['requests']} requests at or above "
              f"kafkalat's p99, {pct['socket_wait']:.0f}% of the time was spent waiting in the "
              f"broker's socket before the broker read them (Kafka reads nothing more from a "
              f"connection while one of its requests is in flight), {pct['broker']:.0f}% in the "
              f"broker, {pct['recv'] + pct['send_queue']:.0f}% arriving or leaving."]
    roots = b["root_causes_pct"]
    if roots:
        top = ", ".join(f"{c} {p:.0f}%" for c, p in list(roots.items())[:3])
        hol = f"; {b['hol_pct']:.0f}% of it waiting head-of-line" if b["hol_pct"] else ""
        lines.append(f"  What that time was stuck behind, by root cause: {top}{hol}.")
    prod, ours, fb = f["producer"], f["kafkalat"], f["flow_bound"]
    if ours["p99"] is not None:
        gap = prod["p99"] - ours["p99"]
        s = (f"- kafkalat -> producer: {_ms(gap)} ms at p99 is spent before the request's "
             f"first byte reached the broker's socket: in the producer's queue, and while the "
             f"broker's receive window was full")
        if fb is not None:
            s += (f"; with each request's flow-control bound (the time the broker's receive "
                  f"window was full before it arrived, up to {_ms(f['flow_blocked_max'])} ms) "
                  f"the p99 is {_ms(fb['p99'])} ms against the producer's {_ms(prod['p99'])}")
        lines.append(s + ".")
    return "\n".join(lines)


def main():
    args = [a for a in sys.argv[1:] if a != "--json"]
    if len(args) != 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    f = figures(*args)
    print(json.dumps(f) if "--json" in sys.argv else text(f))


if __name__ == "__main__":
    main()

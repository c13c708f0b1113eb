#!/usr/bin/python3
"""`kafkalat report --format html` of a real recording, rendered by Debian's
headless chromium: `kafkalat record` (-I 2, ~12 s) traces the reference
broker under `kafkalat load`; the report's page must
- hold every section and chart (in the DOM chromium builds from it);
- make no network request: chromium loads it with a dead proxy, unresolvable
  hosts and a NetLog, and no request the page initiated may appear there
  (the browser's own update and account requests are initiated by no
  origin; a control page with one <img> proves the check sees a page's
  request); the page is loaded twice, as written and with its
  Content-Security-Policy removed, so the CSP is not what keeps it quiet;
- log nothing to the console (no script error, no CSP violation);
- render as a picture: the screenshot (decoded here, zlib only) has many
  colours and much that is not white;
- show the numbers of `kafkalat report --format json` for the same file,
  its "lost" (by ring and kind, the requests touched) among them;
- with --baseline (the same file), draw the baseline and still fetch nothing."""
import json
import os
import re
import struct
import subprocess
import time
import zlib

from lib import KAFKALAT, Failure, main

SECONDS = 12
INTERVAL = 2
RATE = 400
CHROMIUM = "/usr/bin/chromium"
SECTIONS = ("meta", "summary", "spectrum", "over-time", "heatmap", "composition", "flame",
            "tops", "commits", "kafka-metrics")
CHARTS = ("spectrum-chart", "over-time-chart", "heatmap-chart", "commits-chart")
# Only with a tail (the causes traced and the run ended cleanly).
TAIL_CHARTS = ("bands-chart", "tail-time-chart")


def record(t):
    """Records the reference broker under load; returns the recording's path."""
    broker, port, _ = t.refbroker()
    path = t.path("run.kafkalat")
    rec = t.spawn([KAFKALAT, "record", "-p", broker.pid, "-P", port, "-I", INTERVAL,
                   "-d", SECONDS, "-o", path], "record")
    t0 = time.monotonic()
    while "Tracing" not in t.output(rec)[1] and "Recording" not in t.output(rec)[1]:
        if rec.poll() is not None:
            raise Failure(f"record exited {rec.returncode}: {t.output(rec)[1].strip()[-300:]}")
        if time.monotonic() - t0 > 10:
            raise Failure("record did not start tracing within 10 s")
        time.sleep(0.05)
    t.load(f"127.0.0.1:{port}", "-t", "html", "--partitions", 4, "--rate", RATE,
           "-d", SECONDS - 3, messages=False, timeout=SECONDS + 30)
    rc = t.wait(rec, SECONDS + 20)
    t.eq(rc, 0, f"record exit status ({t.output(rec)[1].strip()[-300:]!r})", fatal=True)
    return path


def report(t, path, fmt, *extra):
    p = subprocess.run([KAFKALAT, "report", "--format", fmt, path, *extra], capture_output=True,
                       timeout=60)
    t.eq(p.returncode, 0, f"report --format {fmt} exit status "
         f"({p.stderr.decode(errors='replace').strip()[-300:]!r})", fatal=True)
    return p.stdout.decode()


def chromium(t, page, name, *args):
    """Loads file://page headless with the network dead and a NetLog; returns
    (stdout, stderr lines, page-initiated request URLs)."""
    netlog = t.path(name + ".netlog.json")
    argv = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--user-data-dir=" + t.path(name + ".profile"), "--disable-background-networking",
            "--disable-component-update", "--proxy-server=127.0.0.1:1",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--log-net-log=" + netlog,
            "--net-log-capture-mode=Everything", "--enable-logging=stderr", "--v=0",
            "--hide-scrollbars", *args, "file://" + page]
    p = subprocess.run(argv, capture_output=True, timeout=90)
    t.eq(p.returncode, 0, f"chromium {name} exit status", fatal=True)
    return (p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace").splitlines(),
            page_requests(netlog))


def page_requests(netlog):
    """URLs of the NetLog's requests that a page's origin initiated (the
    browser's own have the initiator "not an origin")."""
    with open(netlog) as f:
        log = json.load(f)
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for e in log["events"]:
        p = e.get("params") or {}
        if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in p \
                and p.get("initiator") != "not an origin":
            urls.append(p["url"])
    return urls


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Failure(f"{path}: not a PNG")
    off, idat, w = 8, b"", 0
    while off < len(data):
        n, kind = struct.unpack_from(">I4s", data, off)
        body = data[off + 8:off + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack_from(">IIBB", body)
            if depth != 8 or ctype not in (2, 6):
                raise Failure(f"{path}: PNG depth {depth} colour type {ctype} not decoded here")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        off += 12 + n
    raw, rows, prev = zlib.decompress(idat), [], bytearray(w * bpp)
    stride = w * bpp
    for y in range(h):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def check_screenshot(t, path):
    w, h, bpp, rows = png_pixels(path)
    colours, inked = set(), 0
    for row in rows[::2]:
        for x in range(0, w * bpp, bpp * 2):
            px = row[x:x + 3]
            colours.add(px)
            inked += px != b"\xff\xff\xff"
    sampled = (h + 1) // 2 * ((w + 1) // 2)
    t.check(len(colours) > 50, f"the screenshot has {len(colours)} colours (> 50)")
    t.check(inked > sampled * 0.05,
            f"{inked * 100 / sampled:.1f}% of the screenshot is not white (> 5%)")


def check_dom(t, dom, tail):
    for s in SECTIONS:
        t.check(f'<section id="{s}">' in dom, f"section {s} in the DOM")
    for c in CHARTS + (TAIL_CHARTS if tail else ()):
        t.check(re.search(rf'<svg [^>]*id="{c}"', dom) is not None, f"chart {c} in the DOM")
    t.check("<script" not in dom.lower(), "no script in the DOM")


def check_static(t, html):
    t.check("<script" not in html.lower(), "no <script in the page")
    urls = re.findall(r"[a-z]+://[^\"' )<]*", html)
    t.eq(sorted(set(urls)), ["http://www.w3.org/2000/svg"],
         "the only URL is the SVG namespace")
    t.check("data:" not in html and "url(" not in html and "@import" not in html,
            "no data: URI, CSS url() or @import")


def attrs(tag):
    return dict(re.findall(r'([a-z-]+)="([^"]*)"', tag))


def check_numbers(t, html, summary):
    """The summary table's data- attributes against the JSON report's."""
    for row, key in (("produce.latency_us", "latency_us"),
                     ("produce.broker_latency_us", "broker_latency_us")):
        m = re.search(rf'<tr data-json="{re.escape(row)}"[^>]*>(.*?)</tr>', html)
        t.check(m is not None, f"summary row {row}", fatal=True)
        for cell in re.findall(r"<td [^>]*>", m.group(1)):
            a = attrs(cell)
            t.eq(float(a["data-us"]), summary["produce"][key][a["data-q"]],
                 f"{row} {a['data-q']}")
    for key, want in (("produce.requests", summary["produce"]["requests"]),
                      ("produce.unmatched", summary["produce"]["unmatched"]),
                      ("produce.acks0", summary["produce"]["acks0"]),
                      ("produce.wire_unknown", summary["produce"]["wire_unknown"]),
                      ("lost_events", summary["lost_events"]),
                      ("unmatched.requests", summary["unmatched"]["requests"])):
        m = re.search(rf'data-key="{re.escape(key)}" data-value="(\d+)"', html)
        t.check(m is not None and int(m.group(1)) == want,
                f"{key}: {m.group(1) if m else None} in the page, {want} in the JSON")
    check_loss(t, html, summary["lost"])


def check_loss(t, html, lost):
    """The loss table is the JSON's "lost", key by key; the charts over time
    mark as many intervals as their captions say."""
    want = {f"lost.{k}": v for k, v in lost.items() if not isinstance(v, dict)}
    for ring in ("socket", "causes"):
        want.update({f"lost.{ring}_kinds.{k}": v for k, v in lost[ring + "_kinds"].items()})
    m = re.search(r'<table id="summary-loss">(.*?)</table>', html, re.S)
    t.check(m is not None, "the loss table", fatal=True)
    got = {k: int(v) for k, v in re.findall(r'data-key="([^"]+)" data-value="(\d+)"', m.group(1))}
    t.eq({k: v for k, v in got.items() if k != "loss_intervals"}, want,
         "the loss table holds the JSON's lost")
    chart = re.search(r'id="over-time-chart".*?</svg>\s*<p class="caption"[^>]*'
                      r'data-loss-marks="(\d+)"', html, re.S)
    t.check(chart is not None, "the over-time caption counts the loss marks", fatal=True)
    t.eq(chart.group(0).count('<rect class="loss"'), int(chart.group(1)),
         "loss marks drawn over time")


def check_detector(t):
    """The request check sees a page's request: a control page with an image."""
    page = t.path("control.html")
    with open(page, "w") as f:
        f.write('<!DOCTYPE html><p>control</p><img src="http://192.0.2.1/x.png">')
    _, _, reqs = chromium(t, page, "control", "--dump-dom")
    t.check(any("192.0.2.1" in u for u in reqs), f"the control page's request is seen ({reqs})")


def test(t):
    if not os.access(CHROMIUM, os.X_OK):
        raise Failure(f"{CHROMIUM} missing (scripts/deps.sh installs chromium)")
    path = record(t)
    summary = [json.loads(line) for line in report(t, path, "json").splitlines()
               if line.startswith("{")][-1]
    html = report(t, path, "html")
    page = t.path("report.html")
    with open(page, "w") as f:
        f.write(html)
    nocsp = t.path("report-nocsp.html")
    with open(nocsp, "w") as f:
        f.write(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html))
    t.check(summary["produce"]["requests"] > RATE, f"{summary['produce']['requests']} "
            "produce requests recorded", fatal=True)
    check_static(t, html)
    check_numbers(t, html, summary)
    check_detector(t)
    dom, err, reqs = chromium(t, page, "dom", "--dump-dom")
    check_dom(t, dom, "bands-chart" in html)
    t.eq(reqs, [], "requests the page made")
    t.eq([l for l in err if "CONSOLE" in l], [], "console messages")
    shot = t.path("report.png")
    _, err, reqs = chromium(t, nocsp, "shot", "--window-size=1100,4000",
                            "--screenshot=" + shot)
    t.eq(reqs, [], "requests the page without its CSP made")
    t.eq([l for l in err if "CONSOLE" in l], [], "console messages without the CSP")
    check_screenshot(t, shot)
    # against itself as the baseline: the overlays and the differential
    # flame graph are drawn, and fetch nothing either
    html = report(t, path, "html", "--baseline", path)
    check_static(t, html)
    t.check('data-series="baseline"' in html, "the baseline's spectrum is drawn")


if __name__ == "__main__":
    main(test)

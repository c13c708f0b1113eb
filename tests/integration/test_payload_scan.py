#!/usr/bin/python3
"""Record keys and values never leave the kernel (issue 16).

Records whose keys and values carry a marker made for this run (16 random
bytes: raw in kafka-python's records, as 32 hex characters in kcat's) go to
build/refbroker-san while three kafkalat processes trace it with every
output on: JSON (-j, interval lines, --slower 0, --requests, --folded,
--dump-events), text (interval tables, --slower 0, --folded) and `kafkalat
record`. Once the marked requests are answered and traced, the memory of
each kafkalat process is scanned: every readable mapping but the read-only
ones of its binary and libraries (heap, anonymous mappings, writable data,
both BPF ring buffers, found by their size), read through /proc/PID/mem.
Then every file the three wrote, their stdout and stderr, the recording's
inflated records, `kafkalat report` of it and `kafkalat replay` of the dump.

A fourth kafkalat traces a broker that writes (no sendfile) a Fetch
response ending in the marker: not even the response's last 5 bytes, which
the kernel keeps of Produce responses only, may reach it.

The marker is searched raw, as lowercase and uppercase hex, and as the hex
of its hex text, and must be found nowhere. The scan can fail: the same
scanner finds the marker in the broker's segment files and in the broker's
memory, and finds the topic name (a second per-run marker, which kafkalat
does read) in each kafkalat's socket ring and --requests. Memory is read in
chunks that overlap by the longest pattern less one byte, checked with the
marker placed across a chunk boundary at every split.
"""
import glob
import json
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

from lib import KAFKALAT, Failure, Raw, main, read_keys
from tinybroker import recv_exact

RING_MB = 4
PAGE = os.sysconf("SC_PAGE_SIZE")
CHUNK = 1 << 20
# The ASan broker's shadow memory reserves terabytes it never touches.
MAX_MAPPING = 1 << 30


def forms(marker):
    """The byte strings that would show marker in any output."""
    text = marker.hex()
    return {"raw": marker, "hex": text.encode(), "HEX": text.upper().encode(),
            "hex-of-hex": text.encode().hex().encode(),
            "HEX-of-hex": text.encode().hex().upper().encode()}


def scan_stream(f, start, end, pats, found, where):
    """Reads f from start to end in CHUNK pieces overlapping by the longest
    pattern less one byte, adding (name, where) to found for each pattern
    seen. Returns the bytes read (stops at the first unreadable byte)."""
    keep = max(len(p) for p in pats.values()) - 1
    tail, pos = b"", start
    while pos < end:
        try:
            f.seek(pos)
            data = f.read(min(CHUNK, end - pos))
        except OSError:
            break
        if not data:
            break
        buf = tail + data
        for name, p in pats.items():
            if p in buf:
                found.add((name, where))
        tail = buf[-keep:]
        pos += len(data)
    return pos - start


def mappings(pid):
    """(start, end, perms, name) of the mappings of pid to scan: readable,
    and not a read-only mapping of a file (the binary, its libraries)."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            start, end = (int(x, 16) for x in parts[0].split("-"))
            perms, name = parts[1], parts[5].strip() if len(parts) > 5 else ""
            file_backed = name.startswith("/") and not name.startswith("/memfd:")
            if perms[0] == "r" and not (file_backed and "w" not in perms):
                out.append((start, end, perms, name))
    return out


def scan_memory(pid, pats, what):
    """Scans pid's memory; returns (found, bytes read, {start: bytes read}
    of its anon_inode:bpf-map mappings, skipped mappings)."""
    found, total, bpf, skipped = set(), 0, {}, []
    with open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for start, end, perms, name in mappings(pid):
            if end - start > MAX_MAPPING:
                skipped.append(f"{name or 'anon'} {end - start} B")
                continue
            n = scan_stream(mem, start, end, pats, found, f"{what} {start:x} {name or 'anon'}")
            total += n
            if name == "anon_inode:bpf-map":
                bpf[start] = (end - start, n)
            elif n < end - start and name not in ("[vvar]", "[vvar_vclock]"):
                skipped.append(f"{name or 'anon'} {start:x}: {n}/{end - start} B")
    return found, total, bpf, skipped


def scan_file(path, pats, found):
    with open(path, "rb") as f:
        return scan_stream(f, 0, os.path.getsize(path), pats, found, os.path.basename(path))


def inflate_all(path):
    """Every zlib stream in the file, inflated: the recording's records
    without knowing its layout. Returns (streams, inflated bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    out, streams = [], 0
    for m in re.finditer(rb"\x78[\x01\x5e\x9c\xda]", data):
        d = zlib.decompressobj()
        try:
            raw = d.decompress(data[m.start():])
        except zlib.error:
            continue
        if d.eof:
            out.append(raw)
            streams += 1
    return streams, b"\0".join(out)


def check_overlap(t, pats):
    """A pattern across a chunk boundary is found at every split."""
    path = t.path("overlap.bin")
    missed = []
    for name, p in pats.items():
        for split in range(1, len(p)):
            with open(path, "wb") as f:
                f.write(b"\0" * (CHUNK - split) + p + b"\0" * 64)
            found = set()
            scan_file(path, {name: p}, found)
            if not found:
                missed.append((name, split))
    t.eq(missed, [], "the scanner finds each form split across a chunk boundary at any byte")
    os.unlink(path)


def start_tracer(t, argv, name):
    t0 = time.monotonic()
    p = t.spawn(argv, name)
    while "Tracing" not in t.output(p)[1]:
        if p.poll() is not None:
            raise Failure(f"{name} exited {p.returncode}: {t.output(p)[1].strip()}")
        if time.monotonic() - t0 > 10:
            raise Failure(f"{name} did not say Tracing within 10 s")
        time.sleep(0.02)
    return p


def produce_marked(t, port, topic, marker):
    """kcat (text records KEY:VALUE, marker in both) and kafka-python (raw
    marker in key and value); returns the number of records."""
    n = 50
    text = marker.hex()
    lines = "".join(f"k{i}-{text}:v{i}-{text}-{'x' * (i * 37 % 300)}\n" for i in range(n))
    with open(t.path("kcat.in"), "w") as f:
        f.write(lines)
    with open(t.path("kcat.in")) as stdin:
        p = t.spawn(["kcat", "-P", "-b", f"127.0.0.1:{port}", "-t", topic, "-K:",
                     "-X", "linger.ms=0"], "kcat", stdin=stdin)
        t.eq(t.wait(p, 20), 0, "kcat exit status", fatal=True)
    os.unlink(t.path("kcat.in"))
    import kafka
    prod = kafka.KafkaProducer(bootstrap_servers=f"127.0.0.1:{port}", acks=1, linger_ms=0)
    try:
        for i in range(n):
            prod.send(topic, key=marker + bytes([i]), value=bytes([i]) * i + marker)
        prod.flush(10)
    finally:
        prod.close(5)
    return 2 * n


def wait_traced(t, path, topic, want):
    """Until the --requests lines count want records of topic (the requests
    are answered, decoded and written)."""
    t0 = time.monotonic()
    while True:
        lines = []
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().split("\n")[:-1]  # the last may be half written
        got = sum(p["records"] for line in lines if topic in line
                  for p in json.loads(line)["partitions"] if p["topic"] == topic)
        if got >= want or time.monotonic() - t0 > 10:
            break
        time.sleep(0.1)
    t.eq(got, want, "records of the marked topic in --requests")


def check_rings(t, name, bpf):
    """Both ring mappings among bpf ({start: (size, bytes read)}), read
    whole; returns {ring: (start, size, bytes read)}."""
    # libbpf maps a ring's producer page and its data pages twice
    ring_maps = {2 * RING_MB * 2**20 + PAGE: "socket ring", RING_MB * 2**20 + PAGE: "causes ring"}
    rings = {ring_maps[size]: (start, size, n) for start, (size, n) in bpf.items()
             if size in ring_maps}
    t.eq(sorted(rings), ["causes ring", "socket ring"],
         f"{name}: both ring mappings found by their size")
    t.check(all(n == size for _, size, n in rings.values()),
            f"{name}: the rings are read whole {sorted(rings.values())}")
    return rings


def check_tracer_memory(t, name, p, pats, topic_pat):
    """No form of the marker in a running kafkalat's memory, read whole,
    rings included (and the topic name found in its socket ring). Returns
    (bytes scanned, of which rings)."""
    t.check(p.poll() is None, f"{name}: kafkalat still running", fatal=True)
    found, total, bpf, skipped = scan_memory(p.pid, {**pats, **topic_pat}, name)
    leaks = sorted(f for f in found if f[0] != "topic")
    t.eq(leaks, [], f"{name}: the marker in kafkalat's memory ({total} bytes scanned)")
    t.eq(skipped, [], f"{name}: mappings not read whole")
    rings = check_rings(t, name, bpf)
    t.check(total >= 3 * RING_MB * 2**20, f"{name}: {total} bytes scanned >= both rings")
    sock = rings.get("socket ring")
    if sock:
        in_ring = any(w.startswith(f"{name} {sock[0]:x} ") for k, w in found if k == "topic")
        t.check(in_ring, f"{name}: the scan finds the topic name in the socket ring")
        # the producer position leads the mapping: up to the ring's size, no
        # record the kernel wrote has been overwritten yet
        with open(f"/proc/{p.pid}/mem", "rb", 0) as mem:
            mem.seek(sock[0])
            prod = int.from_bytes(mem.read(8), "little")
        t.check(0 < prod <= RING_MB * 2**20, f"{name}: the socket ring holds every record "
                f"the kernel wrote ({prod} bytes)")
    return total, sum(size for _, size, _ in rings.values())


def check_controls(t, broker, logdir, topic, pats):
    """The scanner finds the marker where the records are: the broker's
    memory and segments. Returns the broker's bytes scanned."""
    found, total, _, _ = scan_memory(broker.pid, pats, "broker")
    kinds = {k for k, _ in found}
    t.check({"raw", "hex"} <= kinds, f"control: the marker (raw and hex text) is in the "
            f"broker's memory ({total} bytes scanned, found {sorted(kinds)})")
    found = set()
    segs = glob.glob(os.path.join(logdir, topic + "-*", "*.log"))
    seg_bytes = sum(scan_file(s, pats, found) for s in segs)
    kinds = {k for k, _ in found}
    t.check({"raw", "hex"} <= kinds, f"control: the marker (raw and hex text) is in the "
            f"broker's segments ({len(segs)} files, {seg_bytes} bytes, found {sorted(kinds)})")
    return total


def start_tracers(t, pid, port):
    """kafkalat with JSON outputs, with text outputs, and kafkalat record."""
    common = ["-p", pid, "-P", port, "--ringbuf-mb", RING_MB]
    return {
        "json": t.kafkalat(pid, [port], "--ringbuf-mb", RING_MB, "--slower", 0,
                           "--folded", t.path("json.folded"), "--dump-events",
                           t.path("json.dump"), 1, name="json"),
        "text": start_tracer(t, [KAFKALAT, *common, "--slower", 0, "--requests",
                                 t.path("text.jsonl"), "--folded", t.path("text.folded"), 1],
                             "text"),
        "record": start_tracer(t, [KAFKALAT, "record", *common, "-I", 1, "--slowest", 1000,
                                   "-o", t.path("rec.data")], "record"),
    }


def test(t):
    marker = secrets.token_bytes(16)
    topic = "pay-" + secrets.token_hex(8)
    pats = forms(marker)
    topic_pat = {"topic": topic.encode()}
    check_overlap(t, pats)
    check_fetch_tail(t, marker, pats)

    broker, port, logdir, _truth = t.san_broker("refbroker")
    tracers = start_tracers(t, broker.pid, port)
    records = produce_marked(t, port, topic, marker)
    wait_traced(t, t.path("json.jsonl"), topic, records)
    wait_traced(t, t.path("text.jsonl"), topic, records)
    time.sleep(1.2)  # the record process's next interval record

    scanned = {name: check_tracer_memory(t, name, p, pats, topic_pat)
               for name, p in tracers.items()}
    btotal = check_controls(t, broker, logdir, topic, pats)
    for name, p in tracers.items():
        p.send_signal(signal.SIGTERM)
        t.eq(t.wait(p, 10), 0, f"{name}: exit status")
    t.stop_san_broker(broker)

    outputs = scan_outputs(t, pats, topic_pat)
    print(f"  info scanned: kafkalat memory {scanned} (bytes total, of which rings), "
          f"broker memory {btotal}, outputs {outputs}")


def scan_outputs(t, pats, topic_pat):
    """Every file the tracers wrote, the recording inflated, report and
    replay outputs; returns the bytes scanned."""
    for args, name in (((t.path("rec.data"),), "report-text"),
                       ((t.path("rec.data"), "--format", "json"), "report-json")):
        p = t.spawn([KAFKALAT, "report", *args], name)
        t.eq(t.wait(p, 30), 0, f"{name}: exit status")
    p = t.spawn([KAFKALAT, "replay", "-j", t.path("json.dump")], "replay")
    t.eq(t.wait(p, 30), 0, "replay: exit status")
    streams, inflated = inflate_all(t.path("rec.data"))
    t.check(streams >= 3, f"the recording inflates to {streams} records")
    with open(t.path("rec.inflated"), "wb") as f:
        f.write(inflated)
    files = [f for f in sorted(glob.glob(t.path("*")))
             if os.path.basename(f).split(".")[0] in
             ("json", "text", "record", "rec", "report-text", "report-json", "replay")]
    names = {os.path.basename(f) for f in files}
    want = {"json.out", "json.err", "json.jsonl", "json.folded", "json.dump", "text.out",
            "text.err", "text.jsonl", "text.folded", "record.out", "record.err", "rec.data",
            "rec.inflated", "report-text.out", "report-json.out", "replay.out"}
    t.eq(sorted(want - names), [], "output files missing")
    found, total, sizes = set(), 0, {}
    for f in files:
        sizes[os.path.basename(f)] = os.path.getsize(f)
        total += scan_file(f, {**pats, **topic_pat}, found)
    leaks = sorted(f for f in found if f[0] != "topic")
    t.eq(leaks, [], f"the marker in kafkalat's {len(files)} output files ({total} bytes)")
    topic_in = {w for k, w in found if k == "topic"}
    t.check({"json.jsonl", "text.jsonl", "json.out", "rec.inflated"} <= topic_in,
            f"control: the topic name is in the request lines and the recording "
            f"({sorted(topic_in)})")
    print(f"  info output sizes {sizes}")
    return total


def echo_broker():
    """A broker that answers every request with its correlation id and the
    request's last 16 bytes, written (no sendfile): a Fetch response's body
    ends in record bytes that way. Prints PORT=, serves until killed."""
    srv = socket.create_server(("127.0.0.1", 0))
    print(f"PORT={srv.getsockname()[1]}", flush=True)

    def serve(c):
        while (head := recv_exact(c, 4)) and (frame := recv_exact(c, *struct.unpack(">i", head))):
            resp = frame[4:8] + frame[-16:]
            c.sendall(struct.pack(">i", len(resp)) + resp)

    while True:
        threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()


def check_fetch_tail(t, marker, pats):
    """A Fetch response written by the broker, ending in the marker: not
    even its last 5 bytes (a response's kept tail) reach kafkalat."""
    b = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--echo-broker"],
                         stdout=subprocess.PIPE)
    b.name = "echo"
    t.procs.append(b)
    vals = read_keys(b, ("PORT",), 5)
    t.check(vals is not None, "the echo broker listens", fatal=True)
    port = int(vals["PORT"])
    k = t.kafkalat(b.pid, [port], "--ringbuf-mb", RING_MB, "--dump-events",
                   t.path("fetch.dump"), name="fetch")
    raw = Raw(port)
    raw.send(1, 4, b"\0" * 40 + marker)
    t.check(raw.recv().endswith(marker), "the Fetch response ends in the marker")
    raw.send(1, 4, b"\0" * 40 + b"m" * 16)  # the first one is framed, written, consumed
    raw.recv()
    time.sleep(0.3)
    pats = {**pats, "last 5 bytes": marker[-5:]}
    found, total, bpf, _ = scan_memory(k.pid, pats, "fetch")
    t.eq(sorted(found), [], f"the Fetch response's end in kafkalat's memory ({total} bytes)")
    check_rings(t, "fetch", bpf)
    s, _ = t.stop_kafkalat(k)
    t.eq(s["apis"].get("Fetch", {}).get("requests"), 2, "Fetch requests matched")
    found = set()
    size = sum(scan_file(t.path(f"fetch.{x}"), pats, found) for x in ("out", "err", "dump"))
    t.eq(sorted(found), [], f"the Fetch response's end in kafkalat's output ({size} bytes)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--echo-broker"]:
        echo_broker()
    else:
        main(test)

"""Helpers for kafkalat's real-BPF integration tests.

A test is a function taking a Run; `main(test)` runs it and exits 0 or 1.
A Run owns a unique temporary directory and every process the test starts:
on every exit path (pass, failed check, exception, SIGTERM from run.sh's
timeout) each one still running is killed by the PID it was started with
and reaped. Checks print what they verified; a failed check is printed and counted and
the test goes on (so one run shows every failure), unless it is fatal: then
the test ends there.
"""
import glob
import json
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("OUT", os.path.join(ROOT, "build"))
KAFKALAT = os.path.join(BUILD, "kafkalat")
MOCKCLUSTER = os.path.join(BUILD, "mockcluster")

# The fields every --requests line carries (JSON contract of issue 2; wire
# times and the two latencies of issue 12, schema kafkalat/2).
REQUEST_FIELDS = ("client", "corr", "api_version", "acks", "client_id", "partitions",
                  "t_first_ns", "t_read_ns", "t_resp_ns", "t_end_ns", "t_arrival_ns",
                  "t_complete_ns", "t_sent_ns", "latency_us", "broker_latency_us")
PARTITION_FIELDS = ("topic", "partition", "bytes", "records")


class Failure(Exception):
    pass


class Run:
    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"kafkalat-it-{name}-")
        self.procs = []
        self.failed = 0

    # -- checks -------------------------------------------------------------
    def check(self, cond, what, fatal=False):
        if cond:
            print(f"  ok   {what}")
            return True
        if fatal:
            raise Failure(what)
        print(f"  FAIL {what}")
        self.failed += 1
        return False

    def eq(self, got, want, what, fatal=False):
        return self.check(got == want, f"{what}: got {got!r}, want {want!r}", fatal)

    def path(self, name):
        return os.path.join(self.dir, name)

    # -- processes ----------------------------------------------------------
    def spawn(self, args, name, stdin=subprocess.DEVNULL, **kw):
        """Starts args with stdout/stderr in files NAME.out / NAME.err."""
        out = open(self.path(name + ".out"), "wb")
        err = open(self.path(name + ".err"), "wb")
        try:
            p = subprocess.Popen([str(a) for a in args], stdin=stdin, stdout=out,
                                 stderr=err, **kw)
        finally:
            out.close()
            err.close()
        p.name = name
        self.procs.append(p)
        return p

    def port_from_file(self, p, path, what):
        """Waits up to 5 s for process p to write its port as the first line
        of path (written whole: a rename); returns it, or fails the test."""
        for _ in range(100):
            if os.path.exists(path) or p.poll() is not None:
                break
            time.sleep(0.05)
        self.check(os.path.exists(path), what, fatal=True)
        with open(path) as f:
            return int(f.readline())

    def output(self, p):
        with open(self.path(p.name + ".out"), errors="replace") as f:
            out = f.read()
        with open(self.path(p.name + ".err"), errors="replace") as f:
            return out, f.read()

    def wait_stderr(self, p, needle, timeout, what=None):
        """Waits until process p's stderr says needle; returns the seconds
        it took, or fails the test when p exits or timeout passes first."""
        t0 = time.monotonic()
        while needle not in self.output(p)[1]:
            if p.poll() is not None or time.monotonic() - t0 > timeout:
                raise Failure(f"{what or p.name}: stderr never said {needle!r} "
                              f"({self.output(p)[1].strip()[-300:]!r})")
            time.sleep(0.02)
        return time.monotonic() - t0

    def wait(self, p, timeout, what=None):
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"{what or p.name} still running after {timeout} s")

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()  # by the PID we started, never by name
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                print(f"  warn {p.name} (pid {p.pid}) did not die", file=sys.stderr)

    # -- the pieces every test uses -----------------------------------------
    def mockcluster(self, *args, topic="t", partitions=4):
        """Starts build/mockcluster; returns (proc, bootstrap, pid, ports)."""
        argv = [MOCKCLUSTER, "--topic", topic, "--partitions", partitions, *args]
        p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        p.name = "mockcluster"
        self.procs.append(p)
        vals = read_keys(p, ("BOOTSTRAP", "PID"), 10)
        if vals is None:
            raise Failure("mockcluster did not print BOOTSTRAP= and PID=")
        boot = vals["BOOTSTRAP"]
        ports = [int(hp.rsplit(":", 1)[1]) for hp in boot.split(",")]
        return p, boot, int(vals["PID"]), ports

    def refbroker(self, *args, name="refbroker", partitions=4):
        """Starts build/refbroker (not the sanitizer build) with its log in
        NAME-log; returns (proc, port, log dir)."""
        logdir = self.path(name + "-log")
        os.mkdir(logdir)
        p, port = self._start_refbroker([], name, "--log-dir", logdir, "--partitions",
                                        partitions, *args)
        return p, port, logdir

    def _start_refbroker(self, prefix, name, *args):
        """prefix (taskset, nice...) build/refbroker --port 0 args: (proc, port)."""
        argv = [*prefix, os.path.join(BUILD, "refbroker"), "--port", "0", *args]
        p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        p.name = name
        self.procs.append(p)
        vals = read_keys(p, ("PORT",), 10)
        if vals is None:
            raise Failure(f"{name}: no PORT= line")
        return p, int(vals["PORT"])

    def san_broker(self, name, *args, partitions=4, port=0):
        """build/refbroker-san (ASan/UBSan) writing its ground truth, stderr in
        NAME.err, on PORT (0: a free one); returns (proc, port, log dir, truth
        path)."""
        logdir = self.path(name + "-log")
        os.mkdir(logdir)
        truth = self.path(name + "-truth.jsonl")
        err = open(self.path(name + ".err"), "wb")
        p = subprocess.Popen([os.path.join(BUILD, "refbroker-san"), "--port", str(port),
                              "--log-dir", logdir, "--partitions", str(partitions),
                              "--truth", truth, *map(str, args)],
                             stdout=subprocess.PIPE, stderr=err)
        err.close()
        p.name = name
        self.procs.append(p)
        vals = read_keys(p, ("PORT",), 10)
        if vals is None:
            raise Failure(f"{name}: no PORT= line")
        return p, int(vals["PORT"]), logdir, truth

    def san_cluster(self, n, *args, partitions=4):
        """n sanitizer brokers as one --cluster on free fixed ports of
        127.0.0.1, named broker0..; returns [(proc, port, log dir, truth)]."""
        socks = [socket.socket() for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        ports = [s.getsockname()[1] for s in socks]
        for s in socks:
            s.close()
        cluster = ",".join(f"{i}@127.0.0.1:{port}" for i, port in enumerate(ports))
        return [self.san_broker(f"broker{i}", "--broker-id", i, "--cluster", cluster, *args,
                                partitions=partitions, port=ports[i]) for i in range(n)]

    def stop_san_broker(self, p):
        """SIGTERM: exit 0, nothing from the sanitizers; returns the stderr lines."""
        p.send_signal(signal.SIGTERM)
        rc = self.wait(p, 20)
        with open(self.path(p.name + ".err"), errors="replace") as f:
            err = f.read()
        self.eq(rc, 0, f"{p.name}: exit status after SIGTERM")
        clean = not any(s in err for s in ("ERROR: AddressSanitizer", "runtime error",
                                           "LeakSanitizer"))
        self.check(clean, f"{p.name}: sanitizers report nothing"
                   + ("" if clean else f" ({err.strip()[-600:]!r})"))
        return err.strip().splitlines()

    def truth_broker(self, name, *flags, io="jvm", logdir=None, fifo=False):
        """The reference broker writing its ground truth (NAME-truth.jsonl) on
        CPU 0 under nice -15 (fifo: SCHED_FIFO 10). Its stamps are taken in
        user space around its syscalls, kafkalat's in the kernel: sharing a
        CPU with the client and kafkalat, it is often preempted on its way
        back to user space (0.05-1 ms for 1-3% of responses, measured), so it
        gets a CPU of its own, as a production broker has. Not the sanitizer
        build: timing matters. Returns (proc, port, truth path)."""
        if logdir is None:
            logdir = self.path(name + "-log")
        os.mkdir(logdir)
        truth = self.path(name + "-truth.jsonl")
        prio = ["chrt", "-f", "10"] if fifo else ["nice", "-n", "-15"]
        p, port = self._start_refbroker(["taskset", "-c", "0", *prio], name, "--log-dir", logdir,
                                        "--partitions", "4", "--io", io, "--truth", truth,
                                        *flags)
        return p, port, truth

    def stop_truth_broker(self, p, truth):
        """SIGTERM, exit 0, then the truth's produce requests."""
        p.send_signal(signal.SIGTERM)
        self.eq(self.wait(p, 20), 0, f"{p.name}: exit status after SIGTERM")
        return [r for r in read_jsonl(truth) if r["api_key"] == 0]

    def kafkalat(self, pid, ports, *args, name="kafkalat"):
        """Starts the tracer (JSON, --requests NAME.jsonl) and waits until it
        says Tracing; returns the process, with .attach_s set. pid: one, a
        list (-p each), or an empty list (every listener of the ports)."""
        argv = [KAFKALAT, "-j", "--requests", self.path(name + ".jsonl"), *args]
        for one in (pid if isinstance(pid, list) else [pid]):
            argv += ["-p", one]
        for port in ports:
            argv += ["-P", port]
        t0 = time.monotonic()
        p = self.spawn(argv, name)
        while True:
            if "Tracing" in self.output(p)[1]:
                break
            if p.poll() is not None:
                raise Failure(f"kafkalat exited {p.returncode} before tracing: "
                              f"{self.output(p)[1].strip()}")
            if time.monotonic() - t0 > 10:
                raise Failure("kafkalat did not say Tracing within 10 s")
            time.sleep(0.02)
        p.attach_s = time.monotonic() - t0
        print(f"  info kafkalat attached in {p.attach_s * 1000:.0f} ms")
        return p

    def stop_kafkalat(self, p, timeout=5, term=True):
        """SIGTERM (term=False: wait for its own end, as with -d), check exit 0
        and the summary as last stdout line. Returns (summary, request lines)."""
        if term and p.poll() is None:
            p.send_signal(signal.SIGTERM)
        rc = self.wait(p, timeout)
        out, err = self.output(p)
        self.eq(rc, 0, f"kafkalat exit status (stderr: {err.strip()[-300:]!r})")
        lines = out.strip().splitlines()
        self.check(bool(lines), "kafkalat printed a summary", fatal=True)
        summary = json.loads(lines[-1])
        self.eq(summary.get("type"), "summary", "last stdout line is the summary", fatal=True)
        return summary, read_jsonl(self.path(p.name + ".jsonl"))

    def capture(self, port, name="capture"):
        """Starts a packet capture (dumpcap, pcap format) of TCP port PORT on
        loopback into NAME.pcap; returns once packets reach the file. dumpcap
        says "Capturing" before its filter takes packets, so it also captures
        a UDP port of this process, written to until dumpcap counts a
        packet (pcap_kafka reads only TCP)."""
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind(("127.0.0.1", 0))
            probe.setblocking(False)
            argv = ["dumpcap", "-i", "lo", "-f",
                    f"tcp port {port} or udp port {probe.getsockname()[1]}", "-P",
                    "-w", self.path(name + ".pcap")]
            t0 = time.monotonic()
            p = self.spawn(argv, name)
            while not re.search(r"Packets: [1-9]", self.output(p)[1]):
                if p.poll() is not None:
                    raise Failure(f"dumpcap exited {p.returncode}: {self.output(p)[1].strip()}")
                if time.monotonic() - t0 > 10:
                    raise Failure("dumpcap captured nothing within 10 s")
                sender.sendto(b"probe", probe.getsockname())
                time.sleep(0.02)
        finally:
            probe.close()
            sender.close()
        return p

    def stop_capture(self, p):
        """SIGINT (dumpcap then writes out what it holds), exit 0, nothing
        dropped; returns the pcap file's path (for pcap_kafka). The kernel hands
        packets to dumpcap a block at a time, a block at the latest when its
        read timeout (250 ms) passes, and packets still in the kernel when it
        stops are neither written nor counted dropped: the last packets get
        twice that to arrive."""
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        self.eq(self.wait(p, 20), 0, "dumpcap exit status")
        err = self.output(p)[1]
        m = re.search(r"received/dropped on interface '[^']*': (\d+)/(\d+)", err)
        self.check(m is not None and int(m.group(2)) == 0,
                   f"the capture dropped nothing ({m.group(0) if m else err.strip()[-200:]})")
        return self.path(p.name + ".pcap")

    def run_load(self, boot, *args, name="load", timeout=60):
        """Runs `kafkalat load ... --json -q` to the end, whatever its exit
        status; returns (exit status, stdout, stderr, seconds taken)."""
        t0 = time.monotonic()
        p = self.spawn([KAFKALAT, "load", "-b", boot, "--json", "-q", *args], name)
        rc = self.wait(p, timeout)
        out, err = self.output(p)
        return rc, out, err, time.monotonic() - t0

    def load(self, boot, *args, name="load", messages=True, timeout=60):
        """Runs `kafkalat load ... --json [--messages]` to the end; returns
        (summary, messages)."""
        mpath = self.path(name + ".messages.jsonl")
        extra = ["--messages", mpath] if messages else []
        rc, out, err, _ = self.run_load(boot, *args, *extra, name=name, timeout=timeout)
        self.eq(rc, 0, f"kafkalat load exit status (stderr: {err.strip()[-300:]!r})",
                fatal=True)
        return json.loads(out.strip().splitlines()[-1]), (read_jsonl(mpath) if messages else [])


def _uvarint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def fetch_request(version, corr, client_id, replica_id, topics):
    """One Fetch request frame (v4-v14) as a broker's replica fetcher or a
    consumer sends it: topics is [(name, [(partition, fetch_offset)...])],
    name a str (v4-v12) or 16 bytes (the topic id, v13+). Flexible (v12+):
    compact lengths and a tagged field in the header, each topic, partition
    and the body."""
    flex = version >= 12

    def arr(n):
        return _uvarint(n + 1) if flex else struct.pack(">i", n)

    def tags(n):
        return _uvarint(n) + b"".join(_uvarint(i) + _uvarint(1) + b"\x07" for i in range(n))

    def key(name):
        if version >= 13:
            return name
        raw = name.encode()
        return _uvarint(len(raw) + 1) + raw if flex else struct.pack(">h", len(raw)) + raw

    body = struct.pack(">iiiib", replica_id, 500, 1, 1 << 20, 0)
    if version >= 7:
        body += struct.pack(">ii", 0, -1)
    body += arr(len(topics))
    for name, parts in topics:
        body += key(name) + arr(len(parts))
        for part, offset in parts:
            body += struct.pack(">i", part)
            if version >= 9:
                body += struct.pack(">i", 3)
            body += struct.pack(">q", offset)
            if version >= 12:
                body += struct.pack(">i", 2)
            if version >= 5:
                body += struct.pack(">q", 0)
            body += struct.pack(">i", 1 << 20) + (tags(1) if flex else b"")
        body += tags(2) if flex else b""
    if version >= 7:
        body += arr(0)  # forgotten topics
    if version >= 11:
        body += _uvarint(1) if flex else struct.pack(">h", 0)  # rack id ""
    body += tags(1) if flex else b""
    cid = client_id.encode()
    head = struct.pack(">hhih", 1, version, corr, len(cid)) + cid + (tags(1) if flex else b"")
    return struct.pack(">i", len(head) + len(body)) + head + body


def read_dump(path):
    """An event dump (--dump-events) as [(kind, bytes)]: EVDUMP_SOCKET = 1,
    EVDUMP_CAUSE = 2, ...; records after a 16-byte header, 8-byte aligned."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"KLTDUMP1":
        raise Failure(f"{path}: not an event dump")
    out, off = [], 16
    while off + 8 <= len(data):
        kind, n = struct.unpack_from("<II", data, off)
        out.append((kind, data[off + 8:off + 8 + n]))
        off += 8 + n + (8 - n % 8) % 8
    return out


KLT_EV_FRAME, KLT_EV_TOPIC, KLT_EV_FETCH_PART = 2, 3, 11
KLT_TOPIC_IS_ID, KLT_TOPIC_FETCH, KLT_FRAME_FETCH_PARSED = 1, 2, 1 << 8


def dump_fetch_requests(path):
    """The follower Fetch requests of an event dump, in order: [(conn_id,
    corr_id, replica_id, [(topic name or id bytes, partition, fetch_offset)])];
    replica_id None for one without partitions."""
    names, parts, out = {}, {}, []
    for kind, rec in read_dump(path):
        if kind != 1 or len(rec) < 4:
            continue
        typ = struct.unpack_from("<I", rec)[0]
        if typ == KLT_EV_TOPIC:
            flags, conn, idx, nlen = struct.unpack_from("<IQIH", rec, 4)
            if flags & KLT_TOPIC_FETCH:
                name = rec[24:24 + nlen]
                names[(conn, idx)] = name if flags & KLT_TOPIC_IS_ID else name.decode()
        elif typ == KLT_EV_FETCH_PART:
            _, conn, idx, part, offset, replica = struct.unpack_from("<IQIiqi", rec, 4)
            parts.setdefault(conn, []).append((names.get((conn, idx)), part, offset, replica))
        elif typ == KLT_EV_FRAME:
            flags, conn = struct.unpack_from("<IQ", rec, 4)
            api_key, _, corr = struct.unpack_from("<hhi", rec, 48)
            if api_key == 1 and rec[44] == 0 and flags & KLT_FRAME_FETCH_PARSED:
                got = parts.pop(conn, [])
                out.append((conn, corr, got[0][3] if got else None,
                            [(t, p, o) for t, p, o, _ in got]))
    return out


KLC_EV_FILE_NAME, KLC_EV_THREAD, KLC_EV_BATCH = 41, 42, 43


def dump_batch_writes(path):
    """The record batch offsets of the log writes in an event dump:
    [(directory of the file written, base_offset, last_offset, batches)],
    the directory as the kernel named it (topic-partition)."""
    dirs, out = {}, []
    for kind, rec in read_dump(path):
        if kind != 2 or len(rec) < 4:
            continue
        typ = struct.unpack_from("<I", rec)[0]
        if typ == KLC_EV_FILE_NAME:
            fd = struct.unpack_from("<i", rec, 4)[0]
            dirs[fd] = rec[88:88 + 264].split(b"\0")[0].decode(errors="replace")
        elif typ == KLC_EV_BATCH:
            base, last, batches, fd = struct.unpack_from("<qqIi", rec, 16)
            out.append((dirs.get(fd), base, last, batches))
    return out


def dump_fetch_parts(path):
    """The follower Fetch partitions of an event dump, in order:
    [(topic name or id bytes, partition, fetch_offset, replica_id)]."""
    return [(t, p, o, r) for _, _, r, ps in dump_fetch_requests(path) for t, p, o in ps]


def pcap_kafka(path, port):
    """Kafka frames of the TCP connections to PORT in a pcap file (Ethernet
    or Linux cooked, IPv4 or IPv6), reassembled per direction. Returns
    {(client "IP:PORT", corr): frame}, frame a dict: api_key, req_first,
    req_last (CLOCK_REALTIME ns of the segments carrying the request's first
    and last bytes), resp_first, resp_last (the same for its response; absent
    when none was captured), req_bytes, resp_bytes. A correlation id seen
    twice on one connection keeps the first and counts in frame "dups"."""
    frames = {}
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise Failure(f"{path}: not a pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack_from(end + "I", data, 20)[0]
    l2 = {1: 14, 113: 16}.get(linktype)
    if l2 is None:
        raise Failure(f"{path}: link type {linktype}")
    rec = struct.Struct(end + "IIII")
    streams = {}  # (client, to_broker) -> state
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _ = rec.unpack_from(data, pos)
        pkt = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        ts = sec * 1_000_000_000 + (frac if nano else frac * 1000)
        ethertype = struct.unpack_from(">H", pkt, l2 - 2)[0]
        ip = pkt[l2:]
        if ethertype == 0x0800:
            ihl = (ip[0] & 15) * 4
            if ip[9] != 6:
                continue
            total = struct.unpack_from(">H", ip, 2)[0]
            src, dst = socket_ntop(ip[12:16]), socket_ntop(ip[16:20])
            tcp = ip[ihl:total]
        elif ethertype == 0x86DD:
            if ip[6] != 6:
                continue
            plen = struct.unpack_from(">H", ip, 4)[0]
            src, dst = socket_ntop(ip[8:24]), socket_ntop(ip[24:40])
            tcp = ip[40:40 + plen]
        else:
            continue
        sport, dport, seq = struct.unpack_from(">HHI", tcp)
        flags = tcp[13]
        payload = tcp[(tcp[12] >> 4) * 4:]
        if dport == port:
            key = (f"{src}:{sport}", True)
        elif sport == port:
            key = (f"{dst}:{dport}", False)
        else:
            continue
        st = streams.get(key)
        if flags & 0x02:  # SYN: the stream's bytes start at seq + 1
            streams[key] = {"next": (seq + 1) & 0xFFFFFFFF, "hdr": b"", "left": None,
                            "first": 0, "gap": False}
            continue
        if st is None or not payload or st["gap"]:
            continue  # a connection open before the capture is not framed
        off = (seq - st["next"]) & 0xFFFFFFFF
        if off >= 1 << 31:  # starts before what was taken: a retransmission
            skip = (st["next"] - seq) & 0xFFFFFFFF
            payload = payload[skip:] if skip < len(payload) else b""
        elif off:
            st["gap"] = True  # a missing segment: frames after it are unknown
            continue
        st["next"] = (st["next"] + len(payload)) & 0xFFFFFFFF
        _frame_bytes(st, payload, ts, key, frames)
    return frames


def _frame_bytes(st, payload, ts, key, frames):
    """Walks one segment's bytes through a direction's framing state."""
    client, request = key
    hdr_len = 12 if request else 8
    i = 0
    while i < len(payload):
        if st["left"] is None:
            if not st["hdr"]:
                st["first"] = ts
            take = payload[i:i + hdr_len - len(st["hdr"])]
            st["hdr"] += take
            i += len(take)
            if len(st["hdr"]) < hdr_len:
                continue
            size = struct.unpack_from(">i", st["hdr"])[0]
            st["size"] = size
            st["left"] = 4 + size - hdr_len
        take = min(st["left"], len(payload) - i)
        i += take
        st["left"] -= take
        if st["left"]:
            continue
        hdr = st["hdr"]
        if request:
            api_key, corr = struct.unpack_from(">h", hdr, 4)[0], struct.unpack_from(">i", hdr, 8)[0]
            fr = frames.setdefault((client, corr), {"dups": 0})
            if "req_first" in fr:
                fr["dups"] += 1
            else:
                fr.update(api_key=api_key, req_first=st["first"], req_last=ts,
                          req_bytes=4 + st["size"])
        else:
            corr = struct.unpack_from(">i", hdr, 4)[0]
            fr = frames.setdefault((client, corr), {"dups": 0})
            if "resp_first" in fr:
                fr["dups"] += 1
            else:
                fr.update(resp_first=st["first"], resp_last=ts, resp_bytes=4 + st["size"])
        st["hdr"], st["left"] = b"", None


def socket_ntop(addr):
    if len(addr) == 4:
        return socket.inet_ntop(socket.AF_INET, addr)
    a = socket.inet_ntop(socket.AF_INET6, addr)
    return a[7:] if a.startswith("::ffff:") and "." in a else f"[{a}]"


def quantile(xs, q):
    """Nearest rank of sorted xs (kafkalat's histograms are within 0.4% of it)."""
    if not xs:
        return None
    return xs[min(len(xs) - 1, max(0, int(-(-q * len(xs) // 1)) - 1))]


# The wire fields of schema kafkalat/2 (docs/json.md, the --requests line and
# its attribution fields): the tests read them here only, so a rename is one
# edit.


def wire_latency_ns(r):
    """t_sent - t_arrival of a --requests line, None when either is unknown."""
    if r.get("t_sent_ns") is None or r.get("t_arrival_ns") is None:
        return None
    return r["t_sent_ns"] - r["t_arrival_ns"]


def hol_of(r):
    """(us, corr waited behind, root cause, root corr) of an attributed
    request's head-of-line wait; None when it has none."""
    h = r.get("hol")
    if not h:
        return None
    return h["us"], h["behind_corr"], h["root_cause"], h["root_corr"]


def root_time_us(reqs):
    """Each root cause's time over reqs (attributed --requests lines): a
    request's root_causes_us when it waited head-of-line (its wait shared out
    as the root causes of what it waited behind), else its causes_us."""
    out = {}
    for r in reqs:
        for c, us in (r.get("root_causes_us") or r.get("causes_us") or {}).items():
            out[c] = out.get(c, 0.0) + us
    return out


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t.append(c)
    return t


CRC_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), as record batches v2 carry it."""
    crc = 0xFFFFFFFF
    tab = CRC_TABLE
    for b in data:
        crc = tab[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# -- a raw Kafka client (for what real clients never send) -------------------------

def varint(n):
    n = (n << 1) ^ (n >> 63)  # zigzag
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def record_batch(values, keys=None, pid=-1, epoch=-1, seq=-1):
    """A RecordBatch v2 (base offset 0, CRC-32C set) of records with these
    values (bytes) and keys (bytes; None: null keys)."""
    recs = b""
    for i, val in enumerate(values):
        key = keys[i] if keys else None
        body = (b"\x00" + varint(0) + varint(i)
                + (varint(-1) if key is None else varint(len(key)) + key)
                + varint(len(val)) + val + varint(0))
        recs += varint(len(body)) + body
    count = len(values)
    after_crc = struct.pack(">hiqqqhii", 0, count - 1, 0, 0, pid, epoch, seq, count) + recs
    head = struct.pack(">ib", -1, 2) + struct.pack(">I", crc32c(after_crc))
    return struct.pack(">qi", 0, len(head) + len(after_crc)) + head + after_crc


class Raw:
    """One connection, one request at a time (send/recv split for long polls)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.corr = 0

    def send(self, key, ver, body, flexible=False):
        self.corr += 1
        hdr = struct.pack(">hhi", key, ver, self.corr) + kstr("raw")
        if flexible:
            hdr += b"\x00"  # tagged fields
        msg = hdr + body
        self.s.sendall(struct.pack(">i", len(msg)) + msg)

    def recv(self, flexible=False):
        n, = struct.unpack(">i", self._read(4))
        resp = self._read(n)
        corr, = struct.unpack_from(">i", resp)
        if corr != self.corr:
            raise Failure(f"raw client: correlation id {corr}, want {self.corr}")
        return resp[5:] if flexible else resp[4:]

    def call(self, key, ver, body, flexible=False):
        self.send(key, ver, body, flexible)
        return self.recv(flexible)

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.s.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise Failure("raw client: the broker closed the connection")
            buf += chunk
        return bytes(buf)

    def init_producer_id(self, ver):
        if ver >= 2:  # null compact string, timeout, tags
            body = uvarint(0) + struct.pack(">i", 60000) + b"\x00"
        else:
            body = struct.pack(">hi", -1, 60000)
        resp = self.call(22, ver, body, flexible=ver >= 2)
        _throttle, err, pid, epoch = struct.unpack_from(">ihqh", resp)
        return err, pid, epoch

    def metadata(self, topic):
        self.call(3, 0, struct.pack(">i", 1) + kstr(topic))

    @staticmethod
    def produce_body(topic, part, records, acks=-1):
        """A Produce v3 request's body: records to one partition."""
        return (struct.pack(">hhii", -1, acks, 10000, 1) + kstr(topic)
                + struct.pack(">ii", 1, part) + struct.pack(">i", len(records)) + records)

    def produce(self, topic, part, records, acks=-1):
        """Produce v3; returns (error, base offset)."""
        resp = self.call(0, 3, self.produce_body(topic, part, records, acks))
        off = 4
        tlen, = struct.unpack_from(">h", resp, off)
        off += 2 + tlen + 4  # name, partition count
        _idx, err, base = struct.unpack_from(">ihq", resp, off)
        return err, base


def read_keys(p, keys, timeout):
    """Reads KEY=value lines from p.stdout (a pipe) until all keys are seen."""
    vals, buf = {}, b""
    fd = p.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while len(vals) < len(keys) and time.monotonic() < deadline:
        if not sel.select(deadline - time.monotonic()):
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            k, _, v = line.decode().strip().partition("=")
            if k in keys:
                vals[k] = v
    sel.close()
    return vals if len(vals) == len(keys) else None


def log_batches(pdir):
    """The batch headers of a partition directory's segments, in order: dicts with
    base, last (offsets), records, pid, crc and crc_ok (the CRC-32C checks out)."""
    out = []
    for seg in sorted(glob.glob(os.path.join(pdir, "*.log"))):
        with open(seg, "rb") as f:
            data = f.read()
        off = 0
        while len(data) - off >= 61:
            base, blen = struct.unpack_from(">qi", data, off)
            crc, = struct.unpack_from(">I", data, off + 17)
            delta, = struct.unpack_from(">i", data, off + 23)
            pid, = struct.unpack_from(">q", data, off + 43)
            nrec, = struct.unpack_from(">i", data, off + 57)
            end = off + 12 + blen
            out.append({"base": base, "last": base + delta, "records": nrec, "pid": pid,
                        "crc": crc, "crc_ok": crc32c(data[off + 21:end]) == crc})
            off = end
    return out


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def check_summary_clean(t, s, in_flight_max=0):
    """What every healthy run shows: nothing lost, unmatched or undecodable.
    in_flight_max > 0: the run ended while producers were still sending, so
    up to that many requests may be waiting for their response at the end
    (counted unmatched with reason in_flight, honestly); no other reason."""
    t.eq(s["lost_events"], 0, "lost_events")
    reasons = s["unmatched"]["reasons"]
    if in_flight_max:
        t.eq(sorted(set(reasons) - {"in_flight"}), [], "unmatched reasons other than in_flight")
        t.check(s["unmatched"]["requests"] <= in_flight_max,
                f"unmatched.requests {s['unmatched']['requests']} (in flight at the end) "
                f"<= {in_flight_max}")
        t.check(s["produce"]["unmatched"] <= s["unmatched"]["requests"],
                f"produce.unmatched {s['produce']['unmatched']} (in flight at the end)")
    else:
        t.eq(s["produce"]["unmatched"], 0, "produce.unmatched")
        t.eq(s["unmatched"]["requests"], 0, f"unmatched.requests (all APIs; {reasons})")
    t.eq(s["unmatched"]["responses"], 0, "unmatched.responses")
    t.eq(s["undecodable"]["connections"], 0, "undecodable.connections")


def check_request_lines(t, reqs, topics, answered=True):
    """Contract fields and time order of every --requests line; returns the
    sum of their records."""
    bad = []
    for r in reqs:
        missing = [k for k in REQUEST_FIELDS if k not in r]
        missing += [f"partitions[].{k}" for p in r.get("partitions", [])
                    for k in PARTITION_FIELDS if k not in p]
        if missing:
            bad.append(f"corr {r.get('corr')}: missing {missing}")
            continue
        times = [r["t_first_ns"], r["t_read_ns"], r["t_resp_ns"], r["t_end_ns"]]
        if not answered:
            times = times[:2]
            if r["t_resp_ns"] or r["t_end_ns"] or r["latency_us"] is not None:
                bad.append(f"corr {r['corr']}: acks=0 request has response times")
        if not all(0 < a <= b for a, b in zip(times, times[1:])):
            bad.append(f"corr {r['corr']}: times out of order {times}")
        if answered:
            # latency_us is the wire latency, null where it is unknown (wire
            # says why); broker_latency_us the broker's first read -> last write
            w = wire_latency_ns(r)
            if (r["latency_us"] is None) != (w is None) or \
                    (w is not None and abs(r["latency_us"] - w / 1e3) > 0.01):
                bad.append(f"corr {r['corr']}: latency_us {r['latency_us']} != t_sent - "
                           f"t_arrival ({w})")
            if (r.get("wire") == "known") != (w is not None):
                bad.append(f"corr {r['corr']}: wire {r.get('wire')!r} with t_sent - "
                           f"t_arrival {w}")
            if abs(r["broker_latency_us"] - (r["t_end_ns"] - r["t_first_ns"]) / 1e3) > 0.01:
                bad.append(f"corr {r['corr']}: broker_latency_us != t_end - t_first")
        if not r["partitions"] or any(p["topic"] not in topics or p["records"] <= 0
                                      or p["bytes"] <= 0 for p in r["partitions"]):
            bad.append(f"corr {r['corr']}: bad partitions {r['partitions']}")
    t.check(not bad, f"{len(reqs)} request lines have the contract fields, "
                     f"t_first<=t_read<=t_resp<=t_end, latency_us = t_sent - t_arrival, "
                     f"broker_latency_us = t_end - t_first, known topics {sorted(topics)}"
                     + (f" ({len(bad)} bad: {bad[:3]})" if bad else ""))
    return sum(p["records"] for r in reqs for p in r["partitions"])


def check_containment(t, reqs, msgs, answered=True):
    """Every request sits inside the client-side delivery of its messages.

    Per partition, requests in order of arrival carry consecutive offsets
    (one connection per broker, in-order delivery), so the k-th request's n
    records are exactly the next n offsets of that partition. For each of
    them: t_produce <= t_first, and (when answered) t_dr >= t_end. With
    acks=0 offsets are unknown (-1): the messages are taken in produce order.
    """
    by_part = {}
    for m in msgs:
        by_part.setdefault(m["partition"], []).append(m)
    for ms in by_part.values():
        ms.sort(key=lambda m: m["offset"] if answered else m["t_produce_ns"])
    nxt = dict.fromkeys(by_part, 0)
    bad, checked, lead, tail = [], 0, [], []
    for r in sorted(reqs, key=lambda r: r["t_first_ns"]):
        for p in r["partitions"]:
            part, n = p["partition"], p["records"]
            ms = by_part.get(part, [])[nxt.get(part, 0):nxt.get(part, 0) + n]
            nxt[part] = nxt.get(part, 0) + n
            if len(ms) < n:
                bad.append(f"corr {r['corr']} p{part}: {n} records, {len(ms)} messages left")
                continue
            for m in ms:
                checked += 1
                lead.append(r["t_first_ns"] - m["t_produce_ns"])
                if answered:
                    tail.append(m["t_dr_ns"] - r["t_end_ns"])
                if lead[-1] < 0 or (answered and tail[-1] < 0):
                    bad.append(f"corr {r['corr']} p{part} offset {m['offset']}: "
                               f"produce {m['t_produce_ns']} first {r['t_first_ns']} "
                               f"end {r['t_end_ns']} dr {m['t_dr_ns']}")
    left = sum(len(by_part[k]) - nxt[k] for k in by_part)
    t.eq(left, 0, "messages not covered by any request")
    what = "t_produce <= t_first" + (" and t_dr >= t_end" if answered else "")
    t.check(not bad, f"containment of {len(reqs)} requests in their {checked} messages' "
                     f"delivery ({what})" + (f" ({len(bad)} bad: {bad[:3]})" if bad else ""))
    figures = f"min produce->t_first {min(lead) / 1e3:.1f} us" if lead else ""
    if tail:
        figures += f", min t_end->delivery report {min(tail) / 1e3:.1f} us"
    print(f"  info {figures}")
    return checked


def main(test):
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    # run.sh's timeout sends SIGTERM: turn it into an exception so the
    # finally below still kills what the test started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t = Run(name)
    t0 = time.monotonic()
    rc = 1
    try:
        test(t)
        rc = 1 if t.failed else 0
    except Failure as e:
        print(f"  FAIL {e}")
    except Exception as e:  # a bug in the test or an unexpected output shape
        print(f"  FAIL {type(e).__name__}: {e}")
        import traceback
        traceback.print_exc()
    finally:
        t.cleanup()
        if rc == 0 or not os.environ.get("KEEP_TMP"):
            shutil.rmtree(t.dir, ignore_errors=True)
        else:
            print(f"  kept {t.dir}")
    print(f"{'PASS' if rc == 0 else 'FAIL'} {name} ({time.monotonic() - t0:.1f} s)")
    sys.exit(rc)

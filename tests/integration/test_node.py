"""The flowfleet-node daemon end to end: 'flowfleet-node run' on loopback
receiving flow exports, and 'flowfleet-node stats' reading its counters.

Every node runs on its own 127.0.90.x address on ports the kernel picked
free (fflib.free_udp_port), with a temporary state directory; every
process is stopped by PID (fflib.ProcTestCase). Test traffic goes to
127.0.0.0/8 only. Packets the tests craft follow the RFCs they name; each
expected counter value says where it comes from.

  NodeCaptureReplay   (a) the shared captures' UDP payloads replayed to a
                      node give the same totals as the offline decoder
  NodeRealExporters   (b) softflowd and pmacct (nfprobe) exporting a pcap
                      this test builds, as NetFlow v9, IPFIX and v5
  NodeRestart         (c) templates persist across SIGTERM and SIGKILL;
                      a damaged template file is moved aside
  NodeMalformed       (d) malformed input is counted where documented and
                      the node keeps decoding
  NodeSettings        hold-unknown, hold-time, log-level, rcvbuf and the
                      kernel drop counter
  NodeStartup         (e) configuration errors, port in use, the control
                      socket, the stats command, detaching, rcvbuf
"""
import os
import random
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import time
import unittest

import fflib
from fflib import Node, ProcTestCase, binpath, run, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EXPORT_S = 1700000000          # export header clock of crafted packets


# --- crafted exports -----------------------------------------------------

def flowset(set_id, body):
    """A NetFlow v9 flowset / IPFIX set: id, length, body (RFC 3954 5.2,
    RFC 7011 3.3.2)."""
    return struct.pack("!HH", set_id, 4 + len(body)) + body


def template_record(tid, fields):
    """A (v9 or IPFIX) template record: id, field count, (type, length)
    pairs (RFC 3954 5.2, RFC 7011 3.4.1)."""
    return struct.pack("!HH", tid, len(fields)) + b"".join(
        struct.pack("!HH", t, n) for t, n in fields)


def ipfix_message(domain, seq, sets, export_s=EXPORT_S):
    """An IPFIX message: version 10, length, export time, sequence,
    observation domain (RFC 7011 3.1)."""
    body = b"".join(sets)
    return struct.pack("!HHIII", 10, 16 + len(body), export_s, seq,
                       domain) + body


def nf9_message(source_id, seq, flowsets, count, uptime_ms=600000,
                unix_s=EXPORT_S):
    """A NetFlow v9 packet header (RFC 3954 5.1) and its flowsets."""
    return struct.pack("!HHIIII", 9, count, uptime_ms, unix_s, seq,
                       source_id) + b"".join(flowsets)


# IPFIX template: sourceIPv4Address, destinationIPv4Address,
# sourceTransportPort, destinationTransportPort, protocolIdentifier,
# octetDeltaCount, packetDeltaCount, flowStartMilliseconds,
# flowEndMilliseconds (RFC 7012 IE 8, 12, 7, 11, 4, 1, 2, 152, 153).
IPFIX_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 8),
                (152, 8), (153, 8)]
# NetFlow v9 template: IPV4_SRC_ADDR, IPV4_DST_ADDR, L4_SRC_PORT,
# L4_DST_PORT, PROTOCOL, IN_BYTES, IN_PKTS, FIRST_SWITCHED,
# LAST_SWITCHED (RFC 3954 8: 8, 12, 7, 11, 4, 1, 2, 22, 21).
V9_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4),
             (22, 4), (21, 4)]


def ipfix_records(n, seed):
    """n data records for IPFIX_FIELDS; returns (bytes, octets, packets)
    with the sums the records carry."""
    out, octets, packets = b"", 0, 0
    for i in range(n):
        o, p = 1000 + 7 * i + seed, 1 + i
        t0 = EXPORT_S * 1000 - 5000 + i
        out += struct.pack("!4s4sHHBQQQQ",
                           socket.inet_aton("10.%d.0.%d" % (seed, i + 1)),
                           socket.inet_aton("10.%d.1.%d" % (seed, i + 1)),
                           40000 + i, 443, 6, o, p, t0, t0 + 1000)
        octets += o
        packets += p
    return out, octets, packets


def v9_records(n, seed):
    """n data records for V9_FIELDS; returns (bytes, octets, packets)."""
    out, octets, packets = b"", 0, 0
    for i in range(n):
        o, p = 500 + 3 * i + seed, 2 + i
        out += struct.pack("!4s4sHHBIIII",
                           socket.inet_aton("10.%d.2.%d" % (seed, i + 1)),
                           socket.inet_aton("10.%d.3.%d" % (seed, i + 1)),
                           30000 + i, 53, 17, o, p, 590000, 599000)
        octets += o
        packets += p
    return out, octets, packets


def nf5_message(nrecords, count=None, seq=0):
    """A NetFlow v5 packet (Cisco's v5 export format: 24-byte header,
    48-byte records) with nrecords records and header count `count`
    (default: nrecords). Returns (bytes, octets, packets)."""
    if count is None:
        count = nrecords
    hdr = struct.pack("!HHIIIIBBH", 5, count, 600000, EXPORT_S, 0, seq, 0,
                      0, 0)
    recs, octets, packets = b"", 0, 0
    for i in range(nrecords):
        o, p = 800 + i, 3 + i
        recs += struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH",
                            socket.inet_aton("10.5.0.%d" % (i + 1)),
                            socket.inet_aton("10.5.1.%d" % (i + 1)),
                            socket.inet_aton("0.0.0.0"), 1, 2, p, o,
                            590000, 599000, 1234, 80, 0, 0x18, 6, 0, 0, 0,
                            0, 0, 0)
        octets += o
        packets += p
    return hdr + recs, octets, packets


def sflow_datagram(samples, sub_agent=0, seq=1, agent="192.0.2.50"):
    """An sFlow v5 datagram (sflow.org "sFlow Version 5": version, agent
    address type 1 + IPv4, sub-agent id, sequence, uptime, samples)."""
    return (struct.pack("!II", 5, 1) + socket.inet_aton(agent) +
            struct.pack("!IIII", sub_agent, seq, 123456, len(samples)) +
            b"".join(samples))


SFLOW_IP_LEN = 100     # IPv4 total length of the sampled packet


def sflow_flow_sample(rate, seq=1):
    """A compact flow sample (format 1) with one raw packet header record
    (format 1, header protocol 1 = Ethernet) holding Ethernet + IPv4 +
    UDP of an IP packet of SFLOW_IP_LEN bytes."""
    eth = bytes(range(12)) + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, SFLOW_IP_LEN, 1, 0, 64, 17,
                     0, socket.inet_aton("10.9.0.1"),
                     socket.inet_aton("10.9.0.2"))
    udp = struct.pack("!HHHH", 5000, 53, SFLOW_IP_LEN - 20, 0)
    hdr = eth + ip + udp
    pad = b"\0" * (-len(hdr) % 4)
    rec = struct.pack("!IIII", 1, SFLOW_IP_LEN + 14 + 4, 4, len(hdr)) + \
        hdr + pad
    body = struct.pack("!IIIIIIII", seq, 3, rate, rate * seq, 0, 1, 2, 1) + \
        struct.pack("!II", 1, len(rec)) + rec
    return struct.pack("!II", 1, len(body)) + body


def sflow_counter_sample():
    """A compact counter sample (format 2) with one generic interface
    counters record (format 1, 88 bytes)."""
    body = struct.pack("!III", 1, 3, 1) + struct.pack("!II", 1, 88) + \
        b"\0" * 88
    return struct.pack("!II", 2, len(body)) + body


def totals(st):
    t = st["totals"]
    return {"flows": t["flows"], "bytes": t["bytes"],
            "packets": t["packets"]}


# --- (a) captures replayed ------------------------------------------------

def capture_payloads(path):
    """The UDP payloads of a capture, in file order, as node/decode/pcapfile.c
    hands them to the decoder: complete (not cut by the snap length),
    unfragmented UDP datagrams, the payload bounded by the UDP length.
    Returns [(original source address, payload)]."""
    from scapy.all import PcapReader, IP, IPv6, UDP, IPv6ExtHdrFragment
    out = []
    with PcapReader(path) as rd:
        for p in rd:
            wire = getattr(p, "wirelen", None)
            if wire is not None and wire > len(bytes(p)):
                continue
            if UDP not in p:
                continue
            if IP in p:
                ip = p[IP]
                if ip.flags.MF or ip.frag:
                    continue
                src = ip.src
            elif IPv6 in p:
                if IPv6ExtHdrFragment in p:
                    continue
                src = p[IPv6].src
            else:
                continue
            out.append((src, bytes(p[UDP].payload)))
    return out


class NodeCaptureReplay(ProcTestCase):
    """(a) Every shared capture's UDP payloads, replayed in file order to
    a running node (one loopback source address per original source
    address and file, so exporters and their templates stay apart as in
    the file), give the node the totals the offline decoder
    ('flowfleet-node decode --json FILE', one decoder per file, holding
    data without template as the daemon does) reports for the same file:
    the same number of datagrams, flows, bytes and packets.

    The replay sends a file's datagrams within a fraction of a second,
    while the offline decoder measures the hold time of data without
    template in the capture's own clock (node/decode/nf9.c nf9_decode): a data
    set captured more than the hold time (30 s) before its template is
    dropped offline but replayed by the node, which received both at
    once. So the offline decode reads a copy of the file with the
    capture clock compressed as the replay compresses it, every frame at
    the first frame's time ('editcap -S -0 FILE COPY'); the frames, their
    order and their bytes are unchanged. (For the shared captures this
    matters only to graylog-plugin-netflow/nprobe-netflow9-4.pcap: data
    41 s before its template, 8 flows offline from the original, 15 from
    the copy and from the node.)"""

    ADDR = "127.0.90.1"

    def test_replay_equals_offline_decode(self):
        fflib.require_testdata(self)
        files = []
        for root, _, names in os.walk(fflib.TESTDATA):
            for n in names:
                if n.endswith((".pcap", ".pcapng", ".cap")):
                    files.append(os.path.join(root, n))
        files.sort()
        self.assertGreater(len(files), 100, "the shared captures")
        node = Node(self, self.ADDR, name="replay").start()
        dst = (self.ADDR, node.port)
        sent = 0
        before = totals(node.stats())
        nsrc = 0
        mismatches = []
        checked = 0
        for path in files:
            rel = os.path.relpath(path, fflib.TESTDATA)
            replayed = os.path.join(self.tmp, "replayed.pcapng")
            run(["editcap", "-S", "-0", path, replayed])
            flows, summary, _, cp = fflib.decode([replayed], check=False)
            if cp.returncode != 0:
                # unreadable for the offline decoder (link type): skip
                # only with the decoder's own reason
                self.assertIn("not supported", cp.stderr, rel)
                continue
            payloads = capture_payloads(path)
            self.assertEqual(len(payloads), summary["packets"],
                             "%s: datagrams found here vs by pcapfile.c"
                             % rel)
            socks = {}
            for i, (src, data) in enumerate(payloads):
                if src not in socks:
                    nsrc += 1
                    a = "127.91.%d.%d" % (nsrc // 250, nsrc % 250 + 1)
                    socks[src] = fflib.udp_sender(a, dst)
                socks[src].send(data)
                sent += 1
                if i % 200 == 199:
                    node.wait_datagrams(sent)
            for s in socks.values():
                s.close()
            st = node.wait_datagrams(sent)
            after = totals(st)
            got = {k: after[k] - before[k] for k in after}
            want = {"flows": len(flows),
                    "bytes": sum(f["bytes"] for f in flows),
                    "packets": sum(f["packets"] for f in flows)}
            if got != want:
                mismatches.append("%s: node %s, decode %s" % (rel, got,
                                                              want))
            before = after
            checked += 1
        st = node.stats()
        self.assertEqual(st["totals"]["datagrams"], sent)
        self.assertEqual(sum(s["drops"] for s in st["sockets"]), 0,
                         "kernel drops")
        self.assertEqual(mismatches, [])
        self.assertGreater(checked, 100)
        self.assertEqual(node.stop(), 0, node.log())


# --- (b) real exporters ------------------------------------------------------

def build_pcap(path):
    """Write a pcap of TCP, UDP and ICMP/ICMPv6 traffic over IPv4 and
    IPv6: 36 conversations, most with a reply direction. Returns the
    totals computed here from the packets written: packets and IP bytes
    (IPv4 total length; IPv6 40 + payload length) overall and for IPv4
    only, and the number of directed flows (distinct source, destination,
    protocol, ports / ICMP type), overall and IPv4 only."""
    from scapy.all import (Ether, IP, IPv6, TCP, UDP, ICMP,
                           ICMPv6EchoRequest, ICMPv6EchoReply, Raw, wrpcap)
    rng = random.Random(6343)
    convs = []
    for i in range(36):
        v6 = i % 4 == 3
        kind = ("tcp", "udp", "icmp")[i % 3]
        if v6:
            a, b = "2001:db8:10::%x" % (i + 1), "2001:db8:20::%x" % (i + 1)
        else:
            a, b = "10.10.%d.1" % i, "10.20.%d.2" % i
        convs.append((v6, kind, a, b, 2 + i % 9, (i % 5) if i % 6 else 0,
                      i))
    pkts = []
    for v6, kind, a, b, nfwd, nrev, i in convs:
        def l3(src, dst):
            return IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)
        for direction, n in ((0, nfwd), (1, nrev)):
            src, dst = (a, b) if direction == 0 else (b, a)
            for k in range(n):
                if kind == "tcp":
                    sp, dp = (20000 + i, 443) if direction == 0 else \
                        (443, 20000 + i)
                    l4 = TCP(sport=sp, dport=dp, flags="PA" if k else "S")
                elif kind == "udp":
                    sp, dp = (30000 + i, 53) if direction == 0 else \
                        (53, 30000 + i)
                    l4 = UDP(sport=sp, dport=dp)
                elif v6:
                    l4 = (ICMPv6EchoRequest if direction == 0 else
                          ICMPv6EchoReply)(id=i, seq=k)
                else:
                    l4 = ICMP(type=8 if direction == 0 else 0, id=i, seq=k)
                # explicit MACs: else scapy ARPs for every packet
                pkts.append(Ether(src="02:00:00:00:00:01",
                                  dst="02:00:00:00:00:02") / l3(src, dst) /
                            l4 /
                            Raw(b"f" * rng.randint(0, 300)))
    rng.shuffle(pkts)
    t = 1700000000.0
    for p in pkts:
        p.time = t
        t += 0.002
    wrpcap(path, pkts)
    tot = {"packets": 0, "bytes": 0, "flows": 0, "packets4": 0,
           "bytes4": 0, "flows4": 0, "packets6": 0}
    keys = set()
    for p in pkts:
        raw = bytes(p)[14:]
        if raw[0] >> 4 == 4:
            size = struct.unpack("!H", raw[2:4])[0]
            tot["packets4"] += 1
            tot["bytes4"] += size
            proto, src, dst, l4 = raw[9], raw[12:16], raw[16:20], raw[20:]
        else:
            size = 40 + struct.unpack("!H", raw[4:6])[0]
            tot["packets6"] += 1
            proto, src, dst, l4 = raw[6], raw[8:24], raw[24:40], raw[40:]
        tot["packets"] += 1
        tot["bytes"] += size
        ports = l4[0:4] if proto in (6, 17) else l4[0:1]   # ICMP type
        keys.add((src, dst, proto, ports))
    tot["flows"] = len(keys)
    tot["flows4"] = sum(1 for k in keys if len(k[0]) == 4)
    return tot


def session_pids(sid):
    """PIDs of the processes in session sid (a process started with
    start_new_session is its session's leader)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[3]) == sid:   # field 6: session id
            out.append(int(d))
    return out


def stop_session(sid):
    """Stop, by PID, every process left in session sid (pmacct's plugin
    processes can outlive the core process)."""
    for sig in (signal.SIGINT, signal.SIGKILL):
        pids = session_pids(sid)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while session_pids(sid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not session_pids(sid):
            return


class NodeRealExporters(ProcTestCase):
    """(b) softflowd 1.1.0 and pmacct 1.7.7 (pmacctd + nfprobe) read a
    pcap this test builds and export its flows to a running node, as
    NetFlow v9, IPFIX, and (softflowd) NetFlow v5.

    The exporter's totals that the node must equal:
      - the pcap's own totals, computed by build_pcap() from the packets
        it wrote: packets; IP bytes (IPv4 total length, IPv6 40 + payload
        length), which is what both exporters count as flow octets; and
        the number of directed flows (source, destination, protocol,
        ports or ICMP type). Both exporters track a conversation as one
        bidirectional flow but export one record per direction, so
        records = directed flows;
      - for softflowd also its own end-of-run report on stdout ("Flows
        exported: N (M records) in P packets" and the per-protocol Octets
        and Packets table), which must agree with the pcap's totals.
      pmacct prints no such report, so for it the pcap's totals stand
      alone.
    Documented difference: NetFlow v5 cannot carry IPv6, and softflowd
    -v 5 ignores IPv6 packets (its report counts them as "Ignored
    packets ... non-IP"): the v5 totals are the pcap's IPv4-only totals.
    """

    ADDR = "127.0.90.2"

    @classmethod
    def setUpClass(cls):
        cls.dir = __import__("tempfile").mkdtemp(prefix="fftest-pcap-")
        cls.pcap = os.path.join(cls.dir, "traffic.pcap")
        try:
            cls.tot = build_pcap(cls.pcap)
        except BaseException:
            # tearDownClass does not run when setUpClass fails
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def wait_quiet(self, node, quiet=1.0, timeout=20.0):
        """Wait until the node has received something and nothing more
        for `quiet` seconds; return the stats."""
        last = [None, time.monotonic()]

        def settled():
            st = node.stats()
            n = st["totals"]["datagrams"]
            if n != last[0]:
                last[0], last[1] = n, time.monotonic()
                return None
            return st if n > 0 and time.monotonic() - last[1] >= quiet \
                else None
        return wait_for(settled, timeout=timeout, step=0.1,
                        what="exports to stop arriving")

    def test_pcap_totals(self):
        """The generated traffic is what the docstring says."""
        t = self.tot
        self.assertGreaterEqual(t["packets"], 200)
        self.assertGreater(t["packets6"], 0)
        self.assertEqual(t["packets"], t["packets4"] + t["packets6"])
        self.assertGreater(t["flows"], 36)     # replies add flows
        self.assertGreater(t["flows"], t["flows4"])

    def softflowd(self, version):
        fflib.require_tool(self, "softflowd")
        node = Node(self, self.ADDR, name="sf%d" % version).start()
        cp = run(["softflowd", "-r", self.pcap, "-n",
                  "%s:%d" % (self.ADDR, node.port), "-v", str(version),
                  "-d", "-a", "-p", os.path.join(self.tmp, "sf.pid"),
                  # no control socket: with a -c path softflowd 1.1.0
                  # does not exit at the end of the file
                  "-c", "none"], timeout=60)
        out = cp.stdout
        m = re.search(r"Flows exported: (\d+) \((\d+) records\) in (\d+) "
                      r"packets \((\d+) failures\)", out)
        self.assertIsNotNone(m, out)
        records, dgrams, failures = int(m[2]), int(m[3]), int(m[4])
        self.assertEqual(failures, 0, out)
        octets = packets = 0
        table = out[out.index("Per-protocol statistics"):]
        for row in re.finditer(r"^\s*\S+ \(\d+\):\s+(\d+)\s+(\d+)\s", table,
                               re.M):
            octets += int(row[1])
            packets += int(row[2])
        st = node.wait_datagrams(dgrams)
        self.assertEqual(st["totals"]["datagrams"], dgrams)
        return node, st, {"flows": records, "bytes": octets,
                          "packets": packets}, out

    def test_softflowd_v9(self):
        node, st, sf, _ = self.softflowd(9)
        pcap = {k: self.tot[k] for k in ("flows", "bytes", "packets")}
        self.assertEqual(sf, pcap, "softflowd's report vs the pcap")
        self.assertEqual(totals(st), pcap)
        e = fflib.exporter(st, "127.0.0.1", "netflow9")
        self.assertEqual(len(e), 1)
        self.assertEqual(e[0]["flows"], pcap["flows"])
        self.assertEqual(e[0]["malformed"], 0)
        self.assertEqual(e[0]["no_template"], 0)
        self.assertEqual(e[0]["seq_gaps"], 0)
        self.assertEqual(node.stop(), 0, node.log())

    def test_softflowd_ipfix(self):
        node, st, sf, _ = self.softflowd(10)
        pcap = {k: self.tot[k] for k in ("flows", "bytes", "packets")}
        self.assertEqual(sf, pcap, "softflowd's report vs the pcap")
        self.assertEqual(totals(st), pcap)
        e = fflib.exporter(st, "127.0.0.1", "ipfix")
        self.assertEqual(len(e), 1)
        self.assertEqual(e[0]["malformed"], 0)
        self.assertEqual(e[0]["no_template"], 0)
        self.assertEqual(node.stop(), 0, node.log())

    def test_softflowd_v5(self):
        node, st, sf, out = self.softflowd(5)
        v4 = {"flows": self.tot["flows4"], "bytes": self.tot["bytes4"],
              "packets": self.tot["packets4"]}
        self.assertEqual(sf, v4, "softflowd's report vs the pcap's IPv4")
        m = re.search(r"Ignored packets: (\d+) \((\d+) non-IP", out)
        self.assertEqual(int(m[2]), self.tot["packets6"],
                         "softflowd -v 5 ignores the IPv6 packets")
        self.assertEqual(totals(st), v4)
        e = fflib.exporter(st, "127.0.0.1", "netflow5")
        self.assertEqual(len(e), 1)
        self.assertEqual(e[0]["flows"], v4["flows"])
        self.assertEqual(e[0]["malformed"], 0)
        self.assertEqual(e[0]["seq_gaps"], 0)
        self.assertEqual(node.stop(), 0, node.log())

    def pmacct(self, version):
        fflib.require_tool(self, "pmacctd")
        node = Node(self, self.ADDR, name="pm%d" % version).start()
        conf = os.path.join(self.tmp, "pmacctd-%d.conf" % version)
        with open(conf, "w") as f:
            f.write("daemonize: false\n"
                    "pcap_savefile: %s\n"
                    "plugins: nfprobe[ff]\n"
                    "nfprobe_receiver[ff]: %s:%d\n"
                    "nfprobe_version[ff]: %d\n"
                    "aggregate[ff]: src_host, dst_host, src_port, "
                    "dst_port, proto, tos\n"
                    % (self.pcap, self.ADDR, node.port, version))
        p = self.spawn(["pmacctd", "-f", conf],
                       log_name="pmacctd-%d.log" % version)
        try:
            # pmacctd exits by itself at the end of the savefile
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        finally:
            # SIGINT is pmacct's clean stop; then any plugin process
            # left in its session, by PID
            fflib.stop(p, signal.SIGINT)
            stop_session(p.pid)
        self.assertEqual(session_pids(p.pid), [])
        st = self.wait_quiet(node)
        return node, st

    def check_pmacct(self, version, protocol):
        node, st = self.pmacct(version)
        pcap = {k: self.tot[k] for k in ("flows", "bytes", "packets")}
        self.assertEqual(totals(st), pcap, node.log())
        e = fflib.exporter(st, "127.0.0.1", protocol)
        self.assertEqual(len(e), 1)
        self.assertEqual(e[0]["flows"], pcap["flows"])
        self.assertEqual(e[0]["malformed"], 0)
        self.assertEqual(e[0]["no_template"], 0)
        self.assertEqual(node.stop(), 0, node.log())

    def test_pmacct_v9(self):
        self.check_pmacct(9, "netflow9")

    def test_pmacct_ipfix(self):
        self.check_pmacct(10, "ipfix")


# --- (c) restart ---------------------------------------------------------------

class NodeRestart(ProcTestCase):
    """(c) An IPFIX template (crafted: IPFIX_FIELDS as template 300,
    observation domain 77) reaches a node; the node stops (SIGTERM, or
    SIGKILL after the once-a-second save); a new node on the same state
    directory decodes data records for that template although the
    template is never sent again. Expected flows, bytes and packets are
    the sums of the records the test wrote (ipfix_records)."""

    ADDR = "127.0.90.3"
    SRC = "127.92.0.1"

    def template_msg(self):
        return ipfix_message(77, 0, [flowset(2, template_record(
            300, IPFIX_FIELDS))])

    def data_msg(self, n, seed, seq=0):
        recs, o, p = ipfix_records(n, seed)
        return ipfix_message(77, seq, [flowset(300, recs)]), o, p

    def restart_case(self, sig):
        state = os.path.join(self.tmp, "state")
        a = Node(self, self.ADDR, name="first", state_dir=state).start()
        s = fflib.udp_sender(self.SRC, (self.ADDR, a.port))
        s.send(self.template_msg())
        st = a.wait_datagrams(1)
        e = fflib.exporter(st, self.SRC, "ipfix")
        self.assertEqual(e[0]["templates"], 1)
        if sig == signal.SIGKILL:
            # the once-a-second tick writes templates.bin; then no
            # chance to save at exit
            wait_for(lambda: a.stats()["templates"]["saves"] >= 1,
                     timeout=5, what="the template to be saved")
            a.proc.kill()
            a.proc.wait(timeout=10)
            self.assertEqual(a.proc.returncode, -signal.SIGKILL)
        else:
            self.assertEqual(a.stop(sig), 0, a.log())
        self.assertTrue(os.path.exists(os.path.join(state,
                                                    "templates.bin")))
        s.close()

        b = Node(self, self.ADDR, name="second", state_dir=state).start()
        st = b.stats()
        self.assertGreater(st["templates"]["loaded_bytes"], 0)
        self.assertFalse(st["templates"]["load_failed"])
        s = fflib.udp_sender(self.SRC, (b.addr, b.port))
        msg, octets, packets = self.data_msg(12, 4)
        s.send(msg)
        st = b.wait_datagrams(1)
        s.close()
        self.assertEqual(totals(st), {"flows": 12, "bytes": octets,
                                      "packets": packets})
        e = fflib.exporter(st, self.SRC, "ipfix")
        self.assertEqual(e[0]["flows"], 12)
        self.assertEqual(e[0]["no_template"], 0)
        self.assertEqual(e[0]["templates"], 0, "no template was sent")
        self.assertEqual(b.stop(), 0, b.log())

    def test_template_survives_sigterm(self):
        self.restart_case(signal.SIGTERM)

    def test_template_survives_sigkill(self):
        self.restart_case(signal.SIGKILL)

    def test_without_saved_template_data_is_not_decoded(self):
        """The control case: a node with an empty state directory cannot
        decode the same data (counted as no-template), so the cases above
        do test persistence."""
        n = Node(self, self.ADDR, name="fresh",
                 extra="hold-unknown no\n").start()
        s = fflib.udp_sender(self.SRC, (n.addr, n.port))
        msg, _, _ = self.data_msg(12, 4)
        s.send(msg)
        st = n.wait_datagrams(1)
        s.close()
        self.assertEqual(st["totals"]["flows"], 0)
        e = fflib.exporter(st, self.SRC, "ipfix")
        self.assertEqual(e[0]["no_template"], 1)
        self.assertEqual(e[0]["no_template_dropped"], 1)
        self.assertEqual(n.stop(), 0, n.log())

    def test_damaged_template_file(self):
        """A damaged templates.bin is logged, moved aside to
        templates.bin.damaged, and the node runs and learns templates
        again."""
        state = os.path.join(self.tmp, "state")
        os.makedirs(state, mode=0o700)
        junk = b"FFTPLSET" + bytes(range(256)) * 3
        with open(os.path.join(state, "templates.bin"), "wb") as f:
            f.write(junk)
        n = Node(self, self.ADDR, name="damaged", state_dir=state).start()
        st = n.stats()
        self.assertTrue(st["templates"]["load_failed"])
        self.assertEqual(st["templates"]["loaded_bytes"], 0)
        with open(os.path.join(state, "templates.bin.damaged"), "rb") as f:
            self.assertEqual(f.read(), junk)
        self.assertIn("templates.bin is damaged", n.log())
        s = fflib.udp_sender(self.SRC, (n.addr, n.port))
        s.send(self.template_msg())
        msg, octets, packets = self.data_msg(3, 9, seq=0)
        s.send(msg)
        st = n.wait_datagrams(2)
        s.close()
        self.assertEqual(totals(st), {"flows": 3, "bytes": octets,
                                      "packets": packets})
        wait_for(lambda: os.path.exists(os.path.join(state,
                                                     "templates.bin")),
                 timeout=5, what="a new templates.bin")
        self.assertEqual(n.stop(), 0, n.log())


# --- (d) malformed input -----------------------------------------------------

class NodeMalformed(ProcTestCase):
    """(d) Malformed exports sent to a running node are counted in the
    counters their decoder documents (node/decode/nf5.c, node/decode/nf9.c with
    node/decode/template.c, node/decode/sflow.c, node/decode/decode.c), one case at a time,
    each from its own source address so the per-exporter counters are
    its own; valid packets afterwards are still decoded; the node stays
    up and exits 0."""

    ADDR = "127.0.90.4"

    def setUp(self):
        super().setUp()
        self.node = Node(self, self.ADDR, name="malformed").start()
        self.sent = 0
        self.nsrc = 0
        self.last = self.node.stats()

    def send(self, payloads, src=None):
        """Send payloads from a new source address (or src); wait for
        them; return (source address, stats)."""
        if src is None:
            self.nsrc += 1
            src = "127.93.0.%d" % self.nsrc
        s = fflib.udp_sender(src, (self.ADDR, self.node.port))
        for p in payloads:
            s.send(p)
        s.close()
        self.sent += len(payloads)
        st = self.node.wait_datagrams(self.sent)
        return src, st

    def delta(self, st, section, key):
        d = st[section][key] - self.last[section][key]
        return d

    def check(self, st, **want):
        """Global counter deltas since the last check (decoder section),
        and no flows."""
        for k, v in want.items():
            self.assertEqual(self.delta(st, "decoder", k), v, k)
        self.last = st

    def exp(self, st, src, proto):
        e = fflib.exporter(st, src, proto)
        self.assertEqual(len(e), 1, "%s %s in %s" % (src, proto,
                                                      st["exporters"]))
        return e[0]

    def test_malformed_inputs(self):
        # 1. zero-length datagram: decode.c rejects payloads under 4
        #    bytes, globally (no exporter can be named).
        src, st = self.send([b""])
        self.check(st, malformed=1, unknown_version=0, flows=0)
        self.assertEqual(fflib.exporter(st, src, "netflow5"), [])

        # 2. truncated v5 header (10 of 24 bytes): nf5.c rejects it
        #    before naming an exporter: global malformed only.
        src, st = self.send([struct.pack("!HH", 5, 1) + b"\0" * 6])
        self.check(st, malformed=1, flows=0)
        self.assertEqual(fflib.exporter(st, src, "netflow5"), [])

        # 3. v5 count past the end: count 20, one record present. nf5.c:
        #    "the count must describe exactly the records present".
        msg, _, _ = nf5_message(1, count=20)
        src, st = self.send([msg])
        self.check(st, malformed=1, flows=0)
        e = self.exp(st, src, "netflow5")
        self.assertEqual((e["malformed"], e["packets"], e["flows"]),
                         (1, 0, 0))

        # 4. truncated v9 header (12 of 20 bytes): global only.
        src, st = self.send([struct.pack("!HH", 9, 1) + b"\0" * 8])
        self.check(st, malformed=1, flows=0)
        self.assertEqual(fflib.exporter(st, src, "netflow9"), [])

        # 5. v9 flowset whose length runs past the end of the packet.
        body = template_record(260, V9_FIELDS)
        bad = struct.pack("!HH", 0, 4 + len(body) + 40) + body
        src, st = self.send([nf9_message(1, 0, [bad], 1)])
        self.check(st, malformed=1, flows=0)
        e = self.exp(st, src, "netflow9")
        self.assertEqual((e["malformed"], e["templates"]), (1, 0))

        # 6. IPFIX message length past the end of the datagram.
        msg = ipfix_message(5, 0, [flowset(2, template_record(
            300, IPFIX_FIELDS))])
        msg = msg[:2] + struct.pack("!H", len(msg) + 100) + msg[4:]
        src, st = self.send([msg])
        self.check(st, malformed=1, flows=0)
        e = self.exp(st, src, "ipfix")
        self.assertEqual((e["malformed"], e["templates"]), (1, 0))

        # 7. IPFIX set of length 0 (below the 4-byte set header), not
        #    zero padding: malformed, the rest of the message unread.
        msg = ipfix_message(5, 0, [struct.pack("!HH", 300, 0) + b"\x01" * 8])
        src, st = self.send([msg])
        self.check(st, malformed=1, flows=0)
        self.assertEqual(self.exp(st, src, "ipfix")["malformed"], 1)

        # 8. IPFIX template with a huge field count (65535 fields in 16
        #    bytes): rejected before any allocation (template.c), counted.
        rec = struct.pack("!HH", 301, 65535) + struct.pack("!HH", 8, 4) * 4
        src, st = self.send([ipfix_message(5, 0, [flowset(2, rec)])])
        self.check(st, malformed=1, flows=0)
        e = self.exp(st, src, "ipfix")
        self.assertEqual((e["malformed"], e["templates"]), (1, 0))

        # 9. zero field counts: v9 has no withdrawal, so a template with
        #    no field is malformed; in IPFIX a field count of 0 withdraws
        #    template 302 (RFC 7011 8.1), which is valid.
        src, st = self.send([nf9_message(1, 0, [flowset(
            0, struct.pack("!HH", 261, 0))], 1)])
        self.check(st, malformed=1, flows=0)
        self.assertEqual(self.exp(st, src, "netflow9")["malformed"], 1)
        src, st = self.send([ipfix_message(5, 0, [flowset(
            2, struct.pack("!HH", 302, 0))])])
        self.check(st, malformed=0, flows=0)
        e = self.exp(st, src, "ipfix")
        self.assertEqual((e["malformed"], e["templates_withdrawn"]), (0, 1))

        # 10. template ids below 256 (reserved for set ids, RFC 7011
        #     3.4.1 / RFC 3954 5.2): rejected and counted, in both.
        src, st = self.send([ipfix_message(5, 0, [flowset(
            2, template_record(100, IPFIX_FIELDS))])])
        self.check(st, malformed=1, flows=0)
        e = self.exp(st, src, "ipfix")
        self.assertEqual((e["malformed"], e["templates"]), (1, 0))
        src, st = self.send([nf9_message(1, 0, [flowset(
            0, template_record(255, V9_FIELDS))], 1)])
        self.check(st, malformed=1, flows=0)
        e = self.exp(st, src, "netflow9")
        self.assertEqual((e["malformed"], e["templates"]), (1, 0))

        # 11. absurd sampling rate in a v9 options record:
        #     SAMPLING_INTERVAL (34) = 2^31 - 1, above the decoder's
        #     maximum of 2^24 (decode.h DEF_MAX_SAMPLING): counted in
        #     sampling_bad and not applied; data after it is unscaled.
        #     Options template 400: scope System (1, 4 bytes), option
        #     SAMPLING_INTERVAL (34, 4) and SAMPLING_ALGORITHM (35, 1)
        #     (RFC 3954 6.1).
        otpl = struct.pack("!HHHHHHHHH", 400, 4, 8, 1, 4, 34, 4, 35, 1) + \
            b"\0\0"
        odata = struct.pack("!IIB", 0, 0x7fffffff, 2) + b"\0" * 3
        recs, octets, packets = v9_records(4, 6)
        src, st = self.send([nf9_message(9, 0, [
            flowset(1, otpl), flowset(400, odata),
            flowset(0, template_record(270, V9_FIELDS)),
            flowset(270, recs)], 7)])
        self.assertEqual(self.delta(st, "totals", "bytes"), octets)
        self.assertEqual(self.delta(st, "totals", "packets"), packets)
        self.check(st, malformed=0, flows=4)
        e = self.exp(st, src, "netflow9")
        self.assertEqual((e["sampling_bad"], e["options_records"],
                          e["templates"], e["flows"]), (1, 1, 2, 4))

        # 12. sFlow flow samples with sampling rate 0 and 2^31 - 1:
        #     dropped and counted in sampling_bad (sflow.c); a counter
        #     sample and a valid sample (rate 10) in the same datagram
        #     still count: 1 flow, 10 packets, 10 * SFLOW_IP_LEN bytes.
        src, st = self.send([sflow_datagram([
            sflow_flow_sample(0, 1), sflow_flow_sample(0x7fffffff, 2),
            sflow_counter_sample(), sflow_flow_sample(10, 3)])])
        self.assertEqual(self.delta(st, "totals", "packets"), 10)
        self.assertEqual(self.delta(st, "totals", "bytes"),
                         10 * SFLOW_IP_LEN)
        self.check(st, malformed=0, flows=1)
        e = self.exp(st, src, "sflow5")
        self.assertEqual((e["sampling_bad"], e["counter_samples"],
                          e["flows"], e["malformed"]), (2, 1, 1, 0))

        # 13. sFlow sample whose length runs past the datagram: its only
        #     sample is malformed, so the datagram is rejected: counted on
        #     the exporter and globally (sflow.c).
        dg = sflow_datagram([sflow_flow_sample(10, 1)])[:-20]
        src, st = self.send([dg])
        self.check(st, malformed=1, flows=0)
        e = self.exp(st, src, "sflow5")
        self.assertEqual((e["malformed"], e["flows"]), (1, 0))

        # 14. garbage of random lengths whose first byte (0xee) is no
        #     known version: under 4 bytes is malformed, the rest is
        #     unknown_version (decode.c).
        rng = random.Random(9996)
        garbage = [bytes([0xee]) + bytes(rng.getrandbits(8) for _ in
                                         range(rng.randint(0, 1400)))
                   for _ in range(150)]
        garbage += [b"", b"\xee", b"\xee\x01", b"\xee\x01\x02"]
        short = sum(1 for g in garbage if len(g) < 4)
        src, st = self.send(garbage)
        self.check(st, malformed=short, unknown_version=len(garbage) - short,
                   flows=0)

        # 15. fully random bytes: whatever they are, the node counts
        #     them as datagrams and keeps going.
        rng = random.Random(2055)
        noise = [bytes(rng.getrandbits(8) for _ in
                       range(rng.randint(0, 2000))) for _ in range(300)]
        src, st = self.send(noise)
        self.last = st

        # Valid exports afterwards are decoded: IPFIX, v9, v5, sFlow.
        recs, o1, p1 = ipfix_records(5, 11)
        msg = ipfix_message(6, 0, [flowset(2, template_record(
            310, IPFIX_FIELDS)), flowset(310, recs)])
        v9recs, o2, p2 = v9_records(3, 12)
        v9 = nf9_message(6, 0, [flowset(0, template_record(280, V9_FIELDS)),
                                flowset(280, v9recs)], 4)
        v5, o3, p3 = nf5_message(2)
        sf = sflow_datagram([sflow_flow_sample(10, 1)])
        src, st = self.send([msg, v9, v5, sf])
        self.assertEqual(self.delta(st, "totals", "flows"), 5 + 3 + 2 + 1)
        self.assertEqual(self.delta(st, "totals", "bytes"),
                         o1 + o2 + o3 + 10 * SFLOW_IP_LEN)
        self.assertEqual(self.delta(st, "totals", "packets"),
                         p1 + p2 + p3 + 10)

        # Every datagram arrived and was counted on the socket; the node
        # is alive and stops cleanly.
        self.assertEqual(st["sockets"][0]["datagrams"], self.sent)
        self.assertEqual(st["sockets"][0]["errors"], 0)
        self.assertEqual(st["sockets"][0]["truncated"], 0)
        self.assertIsNone(self.node.proc.poll())
        self.assertEqual(self.node.stop(), 0, self.node.log())


# --- configuration reaching the decoder and the sockets -------------------

class NodeSettings(ProcTestCase):
    """hold-unknown, hold-time, log-level and rcvbuf as the node applies
    them, and the kernel drop counter of a socket."""

    ADDR = "127.0.90.6"

    def send(self, node, src, payloads):
        s = fflib.udp_sender(src, (node.addr, node.port))
        for p in payloads:
            s.send(p)
        s.close()

    def test_held_data_replayed_when_template_arrives(self):
        """Default hold-unknown yes: IPFIX data before its template is
        held, then decoded when the template comes (nf9.c replay)."""
        n = Node(self, self.ADDR, name="hold").start()
        recs, octets, packets = ipfix_records(6, 21)
        self.send(n, "127.94.0.1", [ipfix_message(8, 0, [flowset(
            320, recs)])])
        st = n.wait_datagrams(1)
        e = fflib.exporter(st, "127.94.0.1", "ipfix")[0]
        self.assertEqual((e["no_template"], e["flows"]), (1, 0))
        self.send(n, "127.94.0.1", [ipfix_message(8, 6, [flowset(
            2, template_record(320, IPFIX_FIELDS))])])
        st = n.wait_datagrams(2)
        e = fflib.exporter(st, "127.94.0.1", "ipfix")[0]
        self.assertEqual((e["held_replayed"], e["no_template_dropped"],
                          e["flows"]), (1, 0, 6))
        self.assertEqual(totals(st), {"flows": 6, "bytes": octets,
                                      "packets": packets})
        self.assertEqual(n.stop(), 0, n.log())

    def test_hold_time_expires(self):
        """hold-time 1s: held data is dropped (and counted) by the
        once-a-second tick after a second; a template arriving later
        finds nothing to replay."""
        n = Node(self, self.ADDR, name="expire",
                 extra="hold-time 1s\n").start()
        recs, _, _ = ipfix_records(2, 22)
        self.send(n, "127.94.0.2", [ipfix_message(8, 0, [flowset(
            321, recs)])])
        n.wait_datagrams(1)
        st = wait_for(lambda: (lambda s: s if fflib.exporter(
            s, "127.94.0.2", "ipfix")[0]["no_template_dropped"] else None)(
                n.stats()), timeout=5, what="held data to expire")
        e = fflib.exporter(st, "127.94.0.2", "ipfix")[0]
        self.assertEqual((e["no_template"], e["no_template_dropped"]),
                         (1, 1))
        self.send(n, "127.94.0.2", [ipfix_message(8, 2, [flowset(
            2, template_record(321, IPFIX_FIELDS))])])
        st = n.wait_datagrams(2)
        e = fflib.exporter(st, "127.94.0.2", "ipfix")[0]
        self.assertEqual((e["held_replayed"], e["flows"]), (0, 0))
        self.assertEqual(n.stop(), 0, n.log())

    def test_log_level(self):
        n = Node(self, self.ADDR, name="quiet",
                 extra="log-level warn\n").start()
        self.assertEqual(n.stop(), 0)
        self.assertNotIn("listening on UDP", n.log())
        n = Node(self, self.ADDR, name="chatty",
                 extra="log-level debug\n").start()
        self.send(n, "127.94.0.3", [ipfix_message(8, 0, [flowset(
            2, template_record(330, IPFIX_FIELDS))])])
        n.wait_datagrams(1)
        wait_for(lambda: "templates: wrote" in n.log(), timeout=5,
                 what="the debug line of the template save")
        self.assertIn("listening on UDP", n.log())
        self.assertEqual(n.stop(), 0)

    def test_kernel_drops_counted(self):
        """With the node stopped (SIGSTOP) and rcvbuf 4K, the kernel
        drops what does not fit in the socket buffer. After SIGCONT the
        node reports the kernel's drop count for its socket (from
        /proc/net/udp): every datagram sent was either received or
        dropped, and some were dropped."""
        n = Node(self, self.ADDR, name="drops", extra="rcvbuf 4K\n").start()
        sent = 300
        os.kill(n.proc.pid, signal.SIGSTOP)
        try:
            self.send(n, "127.94.0.4", [b"\xee" * 500] * sent)
        finally:
            os.kill(n.proc.pid, signal.SIGCONT)
        st = wait_for(lambda: (lambda s: s if s["sockets"][0]["datagrams"] +
                               s["sockets"][0]["drops"] == sent else None)(
                                   n.stats()),
                      timeout=10, what="received + dropped == sent")
        sock = st["sockets"][0]
        self.assertGreater(sock["drops"], 0)
        self.assertGreater(sock["datagrams"], 0)
        self.assertEqual(st["decoder"]["unknown_version"], sock["datagrams"])
        self.assertEqual(sock["rcvbuf"], 2 * 4096)
        self.assertEqual(n.stop(), 0, n.log())


# --- (e) start-up, configuration, control socket -------------------------

class NodeStartup(ProcTestCase):
    """(e) What an operator sees at start-up and from the local commands:
    configuration errors with file:line, a port in use, a second node on
    one state directory, the control socket's mode and stale-socket
    handling, 'stats' exit codes, detaching, the rcvbuf warning, and the
    example configuration."""

    ADDR = "127.0.90.5"
    NODE = None

    def node_bin(self, *args, **kw):
        return run([binpath("flowfleet-node"), *args], check=False, **kw)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_bad_config(self):
        bad = self.write("bad.conf", "# comment\nrcvbuf 8M\nbogus yes\n")
        cp = self.node_bin("run", "-n", "-c", bad)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("%s:3: unknown keyword 'bogus'" % bad, cp.stderr)
        # the daemon itself refuses to start the same way
        cp = self.node_bin("run", "-f", "-c", bad, timeout=20)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("%s:3: unknown keyword 'bogus'" % bad, cp.stderr)
        bad = self.write("bad2.conf", "listen netflow [::1:2055\n")
        cp = self.node_bin("run", "-n", "-c", bad)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("%s:1: listen: '[::1:2055': missing ']'" % bad,
                      cp.stderr)
        cp = self.node_bin("run", "-n", "-c",
                           os.path.join(self.tmp, "absent.conf"))
        self.assertEqual(cp.returncode, 1)
        self.assertIn("absent.conf: No such file or directory", cp.stderr)

    def test_check_and_print(self):
        good = self.write("good.conf", "listen sflow [::1]:6343\n"
                          "rcvbuf 1048576\nhold-time 90\n")
        cp = self.node_bin("run", "-n", "-c", good)
        self.assertEqual((cp.returncode, cp.stdout), (0, ""))
        self.assertIn("configuration OK", cp.stderr)
        cp = self.node_bin("run", "-n", "-v", "-c", good)
        self.assertEqual(cp.returncode, 0)
        lines = [l for l in cp.stdout.splitlines() if not l.startswith("#")]
        # every keyword with its value (other keywords' defaults too)
        for want in ("state-dir /var/lib/flowfleet", "rcvbuf 1M",
                     "hold-unknown yes", "hold-time 90s", "log-level info"):
            self.assertIn(want, lines)
        self.assertEqual([l for l in lines if l.startswith("listen ")],
                         ["listen sflow [::1]:6343"])
        # and it reads back the same
        again = self.write("again.conf", cp.stdout)
        cp2 = self.node_bin("run", "-n", "-v", "-c", again)
        self.assertEqual(cp2.returncode, 0, cp2.stderr)
        self.assertEqual([l for l in cp2.stdout.splitlines()
                          if not l.startswith("#")], lines)

    def test_example_config_documents_defaults(self):
        """deploy/flowfleet-node.conf parses to the defaults, and shows
        each keyword's default as a commented '# keyword value' line:
        every line of the normalized defaults (run -n -v on an empty
        file) appears there."""
        example = os.path.join(REPO, "deploy", "flowfleet-node.conf")
        empty = self.write("empty.conf", "")
        want = self.node_bin("run", "-n", "-v", "-c", empty)
        got = self.node_bin("run", "-n", "-v", "-c", example)
        self.assertEqual(got.returncode, 0, got.stderr)
        strip = [l for l in want.stdout.splitlines()
                 if not l.startswith("#")]
        self.assertEqual([l for l in got.stdout.splitlines()
                          if not l.startswith("#")], strip)
        with open(example) as f:
            text = f.read()
        self.assertGreaterEqual(len(strip), 13)
        for line in strip:
            self.assertIn("\n# %s\n" % line, text)

    def test_port_in_use(self):
        held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        held.bind((self.ADDR, 0))
        port = held.getsockname()[1]
        try:
            n = Node(self, self.ADDR, name="busy",
                     listen=[("netflow", "%s:%d" % (self.ADDR, port))])
            cp = run([binpath("flowfleet-node"), "run", "-f", "-c", n.conf],
                     check=False, timeout=20)
        finally:
            held.close()
        with open(n.conf) as f:
            line = f.read().splitlines().index(
                "listen netflow %s:%d" % (self.ADDR, port)) + 1
        self.assertEqual(cp.returncode, 1)
        self.assertIn("cannot listen on UDP %s:%d (netflow, config line %d): "
                      "bind: address already in use" % (self.ADDR, port,
                                                        line), cp.stderr)
        self.assertFalse(os.path.exists(n.sock))

    def test_one_node_per_state_dir(self):
        a = Node(self, self.ADDR, name="a").start()
        b = Node(self, self.ADDR, name="b", state_dir=a.state_dir)
        cp = run([binpath("flowfleet-node"), "run", "-f", "-c", b.conf],
                 check=False, timeout=20)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("another flowfleet-node is running with state "
                      "directory %s" % a.state_dir, cp.stderr)
        self.assertIsNotNone(a.try_stats(), "the first node is unharmed")
        self.assertEqual(a.stop(signal.SIGINT), 0, a.log())

    def test_control_socket(self):
        n = Node(self, self.ADDR, name="ctl")
        os.makedirs(n.state_dir, mode=0o700)
        # a stale socket left by a dead node: bound, never listened on
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(n.sock)
        s.close()
        n.start()
        self.assertIn("removed stale control socket", n.log())
        mode = os.stat(n.sock).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(n.state_dir).st_mode), 0o700)
        # an unknown request gets an error line
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(n.sock)
        c.sendall(b"bogus\n")
        reply = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            reply += d
        c.close()
        self.assertTrue(reply.startswith(b"error: unknown request 'bogus'"))
        # stats through -s, as a table
        cp = run([binpath("flowfleet-node"), "stats", "-s", n.sock])
        self.assertRegex(cp.stdout, r"(?m)^node +pid %d, up " % n.proc.pid)
        self.assertRegex(cp.stdout, r"(?m)^totals +datagrams 0, flows 0, "
                         r"bytes 0, packets 0$")
        self.assertRegex(cp.stdout, r"(?m)^SOCKET +PROTO +DATAGRAMS +BYTES "
                         r"+KERNEL-DROPS +TRUNCATED +ERRORS +REFUSED +RCVBUF$")
        self.assertRegex(cp.stdout, r"(?m)^%s:%d +any +0 +0 +0 +0 +0 +0 +\d+$"
                         % (re.escape(self.ADDR), n.port))
        self.assertIn("no exporters yet", cp.stdout)
        self.assertEqual(n.stop(), 0, n.log())
        self.assertFalse(os.path.exists(n.sock), "removed at exit")

    def test_not_a_socket(self):
        n = Node(self, self.ADDR, name="file")
        os.makedirs(n.state_dir, mode=0o700)
        with open(n.sock, "w") as f:
            f.write("not a socket")
        cp = run([binpath("flowfleet-node"), "run", "-f", "-c", n.conf],
                 check=False, timeout=20)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("%s exists and is not a socket" % n.sock, cp.stderr)
        with open(n.sock) as f:
            self.assertEqual(f.read(), "not a socket")

    def test_stats_exit_codes(self):
        gone = os.path.join(self.tmp, "nowhere", "node.sock")
        cp = self.node_bin("stats", "-s", gone)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("cannot connect to %s: No such file or directory "
                      "(is the node running?)" % gone, cp.stderr)
        n = Node(self, self.ADDR, name="unreached")
        cp = self.node_bin("stats", "-c", n.conf, "--json")
        self.assertEqual(cp.returncode, 1)
        self.assertIn(n.sock, cp.stderr)
        self.assertEqual(self.node_bin("stats", "--bogus").returncode, 2)
        self.assertEqual(self.node_bin("stats", "-c", n.conf, "-s",
                                       gone).returncode, 2)
        self.assertEqual(self.node_bin("stats", "extra").returncode, 2)
        self.assertEqual(self.node_bin("run", "--bogus").returncode, 2)
        for args in (["help"], ["--help"], ["run", "--help"],
                     ["stats", "--help"], ["help", "stats"]):
            cp = self.node_bin(*args)
            self.assertEqual(cp.returncode, 0, args)
            self.assertIn("usage: flowfleet-node", cp.stdout)
        self.assertIn("  run ", self.node_bin("help").stdout)
        self.assertIn("  stats ", self.node_bin("help").stdout)

    def test_detach(self):
        """Without -f the node detaches: the command returns 0 and the
        node keeps running under another PID, which stats names and the
        pid file holds; SIGTERM to that PID stops it."""
        n = Node(self, self.ADDR, name="daemon")
        cp = run([binpath("flowfleet-node"), "run", "-c", n.conf],
                 check=False, timeout=20)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        st = wait_for(n.try_stats, timeout=10, what="the detached node")
        pid = st["pid"]
        self.addCleanup(self.kill_pid, pid)
        with open(os.path.join(n.state_dir, "node.pid")) as f:
            self.assertEqual(int(f.read()), pid)
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        self.assertEqual(int(fields[3]), pid, "its own session")
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                 open("/proc/%d/stat" % pid).read().split(") ")[1][0] == "Z",
                 timeout=10, what="the detached node to exit")
        self.assertFalse(os.path.exists(n.sock))

    @staticmethod
    def kill_pid(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def test_rcvbuf_granted_and_warning(self):
        """rcvbuf is asked with SO_RCVBUFFORCE when permitted (root here:
        the kernel grants twice the request); without CAP_NET_ADMIN
        (setpriv drops it from the bounding set) SO_RCVBUF is capped at
        net.core.rmem_max and the node warns with the numbers."""
        with open("/proc/sys/net/core/rmem_max") as f:
            rmem_max = int(f.read())
        ask = 4 * rmem_max
        if ask > 1 << 30:
            self.skipTest("net.core.rmem_max is too large to go past")
        if os.geteuid() != 0:
            self.skipTest("needs root for SO_RCVBUFFORCE")
        n = Node(self, self.ADDR, name="forced",
                 extra="rcvbuf %d\n" % ask).start()
        st = n.stats()
        self.assertEqual(st["sockets"][0]["rcvbuf"], 2 * ask)
        self.assertNotIn("rcvbuf: asked", n.log())
        self.assertEqual(n.stop(), 0)
        fflib.require_tool(self, "setpriv")
        n = Node(self, self.ADDR, name="capped",
                 extra="rcvbuf %d\n" % ask)
        n.start(wrapper=["setpriv", "--bounding-set", "-net_admin"])
        st = n.stats()
        self.assertEqual(st["sockets"][0]["rcvbuf"], 2 * rmem_max)
        self.assertIn("rcvbuf: asked for %d bytes on %s:%d, the kernel "
                      "granted %d (%d usable; it reports twice the usable "
                      "size and caps SO_RCVBUF at net.core.rmem_max = %d)"
                      % (ask, self.ADDR, n.port, 2 * rmem_max, rmem_max,
                         rmem_max), n.log())
        self.assertEqual(n.stop(), 0)

    def test_ipv6_listener_and_sigint(self):
        n = Node(self, "::1", name="v6").start()
        s = fflib.udp_sender(None, ("::1", n.port))
        msg, octets, packets = nf5_message(3)
        s.send(msg)
        s.close()
        st = n.wait_datagrams(1)
        self.assertEqual(totals(st), {"flows": 3, "bytes": octets,
                                      "packets": packets})
        self.assertEqual(st["sockets"][0]["address"], "[::1]:%d" % n.port)
        self.assertEqual(len(fflib.exporter(st, "::1", "netflow5")), 1)
        self.assertEqual(n.stop(signal.SIGINT), 0, n.log())
        self.assertIn("stopping (SIGINT): 1 datagrams, 3 flows", n.log())


if __name__ == "__main__":
    unittest.main()

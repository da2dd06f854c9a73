"""The exporter table under made-up exporters, the exporter allow-list,
and sFlow agents behind a relay.

  ExporterFlood    a flood of bare NetFlow v9 headers with random source
                   ids from one address, with the default configuration:
                   a real exporter sending afterwards from another address
                   has all its flows stored; the node logs the refusals
                   and counts them in stats; after a restart only the
                   real exporter is back (from its saved templates).
                   Idle exporters expire (exporter-idle-time).
  ExporterAllow    'exporter-allow': datagrams from other addresses are
                   counted per socket and never decoded; a bad prefix is
                   a config error naming file and line.
  SflowRelay       two sFlow agents with the same sub-agent id sent from
                   one UDP source: 'flowfleet-node decode --exporters'
                   lists two "sflow" exporters (the relay's address, each
                   with its agent), without sequence gaps; the flows'
                   exporter stays the relay (the UDP source).

Datagrams are built here, field by field, from RFC 3954 (NetFlow v9) and
sflow.org's "sFlow Version 5"; every expected count follows from what
the test sent.
"""
import json
import os
import random
import re
import socket
import struct
import time

import fflib
from fflib import Node, ProcTestCase, run, udp_sender, wait_for

# node/decode/decode.c: the table's size and the share of one source
# address (exporter-max-per-source's default).
MAX_EXPORTERS = 65536
MAX_PER_SOURCE = 1024

# The real exporter's v9 template 256: IPv4 source and destination, ports,
# protocol, bytes, packets, first and last switched (sysUptime ms).
TPL_ID = 256
TPL = ((8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4), (22, 4),
       (21, 4))
REC_LEN = sum(l for _, l in TPL)


def v9_header(count, seq, source_id, uptime=3600000, export_s=None):
    """The 20-byte NetFlow v9 header."""
    if export_s is None:
        export_s = int(time.time())
    return struct.pack("!HHIIII", 9, count, uptime, export_s, seq,
                       source_id)


def v9_exporter(nflows, per_packet, source_id=7):
    """A real exporter's datagrams: the template, then data sets of
    per_packet records, nflows in all. Returns the list of datagrams."""
    uptime = 3600000
    tpl = struct.pack("!HH", TPL_ID, len(TPL)) + b"".join(
        struct.pack("!HH", t, l) for t, l in TPL)
    tset = struct.pack("!HH", 0, 4 + len(tpl)) + tpl
    out = [v9_header(1, 0, source_id, uptime) + tset]
    seq, i = 1, 0
    while i < nflows:
        n = min(per_packet, nflows - i)
        recs = b""
        for k in range(i, i + n):
            recs += struct.pack(
                "!4s4sHHBIIII",
                socket.inet_aton("10.1.%d.%d" % (k // 250, k % 250 + 1)),
                socket.inet_aton("10.2.0.1"), 40000 + k, 443, 6,
                1000 + k, 2, uptime - 5000, uptime - 1000)
        dset = struct.pack("!HH", TPL_ID, 4 + len(recs)) + recs
        out.append(v9_header(n, seq, source_id, uptime) + dset)
        seq += 1
        i += n
    return out


def send_paced(tc, node, sock, datagrams, chunk=4000):
    """Send datagrams in chunks, each only after the node has received
    the one before (so the kernel's socket buffer never overflows)."""
    got0 = sum(s["datagrams"] for s in node.stats()["sockets"])
    sent = 0
    for i in range(0, len(datagrams), chunk):
        for d in datagrams[i:i + chunk]:
            sock.send(d)
        sent += len(datagrams[i:i + chunk])

        def received():
            st = node.stats()
            return sum(s["datagrams"] for s in st["sockets"]) >= \
                got0 + sent
        wait_for(received, timeout=60, step=0.05,
                 what="the node to receive %d datagrams" % sent)


class ExporterNode(Node):
    def query_flows(self):
        """Flows in the node's store, as 'flowfleet-node query' counts
        them."""
        cp = run(self.cmd("query", "-c", self.conf, "--json"), timeout=60)
        return json.loads(cp.stdout)["totals"]["flows"]

    def wait_settled(self, datagrams, timeout=30.0):
        """Wait until the decoder has seen `datagrams` datagrams and the
        store has committed every flow decoded; return the stats."""
        def ok():
            st = self.stats()
            s = st["store"]
            return st if (st["decoder"]["packets"] >= datagrams and
                          s["pending"] == 0 and s["queued"] == 0 and
                          s["committed"] == st["totals"]["flows"]) \
                else None
        return wait_for(ok, timeout=timeout, step=0.1,
                        what="%s to decode %d datagrams and commit their "
                        "flows" % (self.name, datagrams))


class ExporterFlood(ProcTestCase):
    ADDR = "127.0.94.1"
    JUNK = "127.0.94.2"
    REAL = "127.0.94.3"
    # More made-up exporters than the table holds: with no bound per
    # source they fill it, and a new exporter has no room.
    NJUNK = MAX_EXPORTERS + 4464    # 70,000

    def test_junk_flood_does_not_lock_out_a_real_exporter(self):
        n = ExporterNode(self, self.ADDR, name="flood",
                         extra="store-sync no\n").start()
        rng = random.Random(20240501)
        ids = rng.sample(range(1, 1 << 32), self.NJUNK)
        junk = [v9_header(0, 0, i) for i in ids]
        js = udp_sender(self.JUNK, (self.ADDR, n.port))
        rs = udp_sender(self.REAL, (self.ADDR, n.port))
        try:
            send_paced(self, n, js, junk)
            real = v9_exporter(100, 25)
            send_paced(self, n, rs, real)
        finally:
            js.close()
            rs.close()
        st = n.wait_settled(len(junk) + len(real))
        # every flow of the real exporter is stored
        self.assertEqual(n.query_flows(), 100, "flows stored of the 100 "
                         "sent; decoder: %s" % st["decoder"])
        self.assertEqual(st["totals"]["flows"], 100)
        mine = fflib.exporter(st, self.REAL, "netflow9")
        self.assertEqual(len(mine), 1)
        self.assertEqual((mine[0]["flows"], mine[0]["templates"]), (100, 1))
        # the junk address had its share; the rest was refused, counted
        d = st["decoder"]
        refused = self.NJUNK - MAX_PER_SOURCE
        self.assertEqual(d["exporters_refused_source"], refused)
        self.assertEqual(d["exporters_refused_full"], 0)
        self.assertEqual(d["exporters_dropped"], refused)
        self.assertEqual(d["exporters"], MAX_PER_SOURCE + 1)
        self.assertEqual(len(st["exporters"]), MAX_PER_SOURCE + 1)
        # ... and logged, naming the address and the reason
        line = wait_for(
            lambda: re.search(r"exporters: refused (\d+) new exporters, "
                              r"their datagrams not decoded \((\d+): "
                              r"their source address had "
                              r"exporter-max-per-source %d;.*, the last "
                              r"from %s;" % (MAX_PER_SOURCE,
                                              re.escape(self.JUNK)),
                              n.log()),
            timeout=10, what="the log line about refused exporters")
        self.assertEqual(int(line.group(1)), int(line.group(2)))
        self.assertGreater(int(line.group(1)), 0)
        # the table view of stats shows the counters too
        cp = run(n.cmd("stats", "-c", n.conf))
        self.assertRegex(cp.stdout, r"(?m)^exporters +%d known; new ones "
                         r"refused %d \(per-source limit %d, table full 0\)"
                         % (MAX_PER_SOURCE + 1, refused, refused))
        # after a restart only the exporter with templates comes back
        self.assertEqual(n.stop(), 0, n.log()[-2000:])
        n.start()
        st = n.stats()
        self.assertEqual([(e["address"], e["protocol"], e["domain"])
                          for e in st["exporters"]],
                         [(self.REAL, "netflow9", 7)])
        self.assertEqual(st["decoder"]["exporters"], 1)
        self.assertEqual(n.stop(), 0, n.log()[-2000:])

    def test_idle_exporters_expire(self):
        n = ExporterNode(self, self.ADDR, name="idle",
                         extra="exporter-idle-time 2s\n").start()
        js = udp_sender(self.JUNK, (self.ADDR, n.port))
        rs = udp_sender(self.REAL, (self.ADDR, n.port))
        try:
            for i in range(3):
                js.send(v9_header(0, 0, 1000 + i))
            for d in v9_exporter(10, 10):
                rs.send(d)
        finally:
            js.close()
            rs.close()
        n.wait_datagrams(5)
        self.assertEqual(n.stats()["decoder"]["exporters"], 4)
        st = wait_for(lambda: (lambda s: s if s["decoder"]["exporters"] == 0
                               else None)(n.stats()),
                      timeout=15, what="the idle exporters to expire")
        self.assertEqual(st["decoder"]["exporters_expired"], 4)
        self.assertEqual(st["exporters"], [])
        self.assertEqual(n.stop(), 0, n.log()[-2000:])


class ExporterAllow(ProcTestCase):
    ADDR = "127.0.94.21"
    ALLOWED = "127.0.94.22"
    OTHER = "127.0.94.23"

    def test_only_allowed_sources_are_decoded(self):
        n = ExporterNode(self, self.ADDR, name="allow",
                         extra="exporter-allow 10.0.0.0/8 "
                         "2001:db8::/32\nexporter-allow %s/32\n"
                         % self.ALLOWED).start()
        real = v9_exporter(60, 20)
        junk = [v9_header(0, 0, i) for i in range(50)]
        good = udp_sender(self.ALLOWED, (self.ADDR, n.port))
        bad = udp_sender(self.OTHER, (self.ADDR, n.port))
        try:
            for d in real + junk:
                bad.send(d)
            for d in real:
                good.send(d)
        finally:
            good.close()
            bad.close()
        nbad, ngood = len(real) + len(junk), len(real)

        def all_in():
            st = n.stats()
            return st if st["sockets"][0]["datagrams"] >= nbad + ngood \
                else None
        st = wait_for(all_in, timeout=20, what="every datagram")
        sock = st["sockets"][0]
        self.assertEqual(sock["refused"], nbad)
        # the decoder saw only the allowed source's datagrams
        self.assertEqual(st["totals"]["datagrams"], ngood)
        self.assertEqual(st["decoder"]["packets"], ngood)
        self.assertEqual([(e["address"], e["flows"])
                          for e in st["exporters"]], [(self.ALLOWED, 60)])
        n.wait_settled(ngood)
        self.assertEqual(n.query_flows(), 60)
        cp = run(n.cmd("stats", "-c", n.conf))
        self.assertRegex(cp.stdout, r"(?m)^SOCKET +PROTO +DATAGRAMS +BYTES "
                         r"+KERNEL-DROPS +TRUNCATED +ERRORS +REFUSED "
                         r"+RCVBUF$")
        self.assertRegex(cp.stdout, r"(?m)^%s:%d +any +%d +\d+ +\d+ +0 +0 "
                         r"+%d +\d+$" % (re.escape(self.ADDR), n.port,
                                         nbad + ngood, nbad))
        self.assertEqual(n.stop(), 0, n.log()[-2000:])

    def test_bad_prefix_is_a_config_error(self):
        conf = os.path.join(self.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("log-level info\nexporter-allow 192.0.2.0/24 "
                    "10.1.2.3/8\n")
        cp = run([fflib.binpath("flowfleet-node"), "run", "-n", "-c", conf],
                 check=False)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("%s:2: exporter-allow: '10.1.2.3/8' has bits set past "
                      "its prefix length (did you mean 10.0.0.0/8?)" % conf,
                      cp.stderr)


def sflow_datagram(agent, sub_agent, seq, nflows):
    """An sFlow v5 datagram from agent (IPv4) with nflows compact flow
    samples, each with one IPv4 data record (sampling rate 10)."""
    samples = b""
    for k in range(nflows):
        rec = struct.pack("!II4s4sIIII", 1000, 6,
                          socket.inet_aton("10.3.0.%d" % (k + 1)),
                          socket.inet_aton("10.4.0.1"), 50000 + k, 80,
                          0x18, 0)
        body = struct.pack("!IIIIIIII", seq * 10 + k, 3, 10, 1000, 0, 1, 2,
                           1) + struct.pack("!II", 3, len(rec)) + rec
        samples += struct.pack("!II", 1, len(body)) + body
    return struct.pack("!II4sIIII", 5, 1, socket.inet_aton(agent),
                       sub_agent, seq, 123456, nflows) + samples


class SflowRelay(ProcTestCase):
    RELAY = "192.0.2.50"
    AGENTS = ("198.51.100.1", "198.51.100.2")

    def test_agents_behind_one_relay(self):
        from scapy.all import Ether, IP, UDP, Raw, wrpcap
        pkts, t = [], 1700000000.0
        for i in range(20):
            for a, agent in enumerate(self.AGENTS):
                p = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                     IP(src=self.RELAY, dst="192.0.2.1") /
                     UDP(sport=6343, dport=6343) /
                     Raw(sflow_datagram(agent, 0, 1000 * a + i, 2)))
                p.time = t
                t += 0.01
                pkts.append(p)
        path = os.path.join(self.tmp, "relay.pcap")
        wrpcap(path, pkts)
        flows, summary, exporters, cp = fflib.decode([path])
        # two exporters, each a consecutive sequence: no gap, no reset
        self.assertEqual(sorted((e.get("agent"), e["seq_gaps"],
                                 e["seq_resets"]) for e in exporters),
                         [(a, 0, 0) for a in self.AGENTS])
        self.assertEqual(sorted((e["exporter"], e["agent"], e["protocol"],
                                 e["domain"], e["packets"], e["flows"])
                                for e in exporters),
                         [(self.RELAY, a, "sflow", 0, 20, 40)
                          for a in self.AGENTS])
        # the flows' exporter (the router field) is the UDP source
        self.assertEqual(len(flows), 80)
        self.assertEqual({f["exporter"] for f in flows}, {self.RELAY})
        # the text form: "sflow" (not "v5"), and the agent
        cp = run([fflib.binpath("flowfleet-node"), "decode", "--exporters",
                  path])
        lines = [l for l in cp.stderr.splitlines()
                 if l.startswith("exporter ")]
        self.assertEqual(len(lines), 2, cp.stderr)
        for a in self.AGENTS:
            self.assertIn("exporter %s sflow agent %s domain 0: packets 20 "
                          "flows 40 " % (self.RELAY, a), cp.stderr)
        for l in lines:
            self.assertIn(" seq-gaps 0 (missing 0) seq-resets 0 ", l)

"""Flow fields as exporters send them and as the fleet answers them.

One controller and one node ("fields", 127.0.47.1, standard ports 2055,
2210, 4210), enrolled and up, per test.

OutOfRangeTest — a NetFlow v5 datagram whose records hold fields out of
the range the store and the wire accept: prefix lengths 40 and 200 on an
IPv4 flow (at most 32), an end before the start. The node stores them
clamped (an out-of-range prefix length is unknown, 0; the end becomes
the start) and counts them ("clamped" in 'flowfleet-node stats', per
exporter and in all), and the fleet's 'flowfleet query --list' answers
with them. Before the clamp existed the node stored dst_mask 200 as is,
its local listing showed it, and every fleet listing that included it
failed for that node: the controller's parser of partial results
(store/query/pack.c) rejects a prefix length over 128.

AbsentAddressTest — the Cisco WLC capture of the shared test data
(logstash-codec-netflow/wrapped/netflow9_cisco_wlc.pcap: template 261,
whose only address is staIPv4Address, IE 366, with flowDirection, IE 61;
19 records of station 192.168.20.121) sent datagram for datagram to the
node, and a NetFlow v9 record whose IPv4 next hop is 0.0.0.0. The
station is the source of what the access point received from it
(ingress) and the destination of what it sent to it (egress); the other
address of each record is absent: the fleet's listing shows "-" (JSON
null), not "::", and the top 10 by source or destination address has no
"::" row (a record without the address is left out). Before, every
record was stored with :: for both addresses and "::" was the top
source and destination; the zero IPv4 next hop listed as "::".
"""
import json
import socket
import struct
import time
import unittest

import fflib
from fflib import Controller, Node, pcap_payloads, run, wait_for

ADDR = "127.0.47.1"
SENDER = "127.0.47.9"
WLC = "logstash-codec-netflow/wrapped/netflow9_cisco_wlc.pcap"
STATION = "192.168.20.121"



def v5_datagram(records, unix_secs):
    """NetFlow v5 (Cisco's export format): records are dicts with src,
    dst, nexthop, first, last (sysUptime ms), src_mask, dst_mask."""
    uptime = 100000
    hdr = struct.pack("!HHIIIIBBH", 5, len(records), uptime, unix_secs, 0,
                      0, 0, 0, 0)
    body = b""
    for r in records:
        body += socket.inet_aton(r["src"]) + socket.inet_aton(r["dst"]) + \
            socket.inet_aton(r["nexthop"]) + struct.pack(
                "!HHIIIIHHBBBBHHBBH", 3, 4, 10, 1460, r["first"], r["last"],
                51000, 443, 0, 0x1b, 6, 0, 64500, 64501, r["src_mask"],
                r["dst_mask"], 0)
    return hdr + body


def v9_datagram(unix_secs):
    """NetFlow v9 (RFC 3954): a template of src, dst, next hop (IE 15),
    bytes, packets, and one record whose next hop is 0.0.0.0."""
    fields = [(8, 4), (12, 4), (15, 4), (1, 4), (2, 4)]
    tpl = struct.pack("!HH", 300, len(fields)) + b"".join(
        struct.pack("!HH", t, n) for t, n in fields)
    rec = socket.inet_aton("198.51.100.7") + \
        socket.inet_aton("203.0.113.8") + socket.inet_aton("0.0.0.0") + \
        struct.pack("!II", 1500, 3)
    sets = struct.pack("!HH", 0, 4 + len(tpl)) + tpl + \
        struct.pack("!HH", 300, 4 + len(rec)) + rec
    return struct.pack("!HHIIII", 9, 2, 100000, unix_secs, 0, 7) + sets


class FleetCase(fflib.ProcTestCase):
    """A controller and one enrolled node, both up."""

    def setUp(self):
        super().setUp()
        self.ctl = Controller(self, "ctl").start()
        fp = self.ctl.fingerprint()
        self.node = Node(self, ADDR, name="fields",
                         listen=[("any", ADDR + ":2055")],
                         extra="name fields\ncontrol-listen %s:2210\n"
                         "query-listen %s:4210\ncontroller-fingerprint %s\n"
                         % (ADDR, ADDR, fp))
        self.ctl.cli("nodes", "add", "fields", ADDR, "--fingerprint",
                     fflib.node_fingerprint(self.node.conf), check=True)
        self.node.start()
        self.ctl.wait_state("fields", "up", timeout=20, query="up")

    def send(self, datagrams, flows):
        """Send datagrams to the node; wait until it stored flows."""
        s = fflib.udp_sender(SENDER, (ADDR, 2055))
        try:
            for d in datagrams:
                s.send(d)
        finally:
            s.close()
        self.node.wait_datagrams(len(datagrams))

        def stored():
            st = self.node.stats()
            return st if st["store"]["committed"] >= flows else None
        return wait_for(stored, timeout=20, what="%d flows stored" % flows)

    def fleet(self, *args):
        """flowfleet query --json ARGS over the fleet: its answer (the
        store's JSON form); fails, with what the CLI said, unless the
        answer is complete."""
        cp = self.ctl.cli("query", "--json", *args, timeout=60)
        self.assertEqual(cp.returncode, 0, "flowfleet query %s exited %d:"
                         "\n%s\n%s" % (" ".join(args), cp.returncode,
                                       cp.stdout, cp.stderr))
        j = json.loads(cp.stdout)
        self.assertTrue(j["complete"], cp.stdout)
        return j["answer"]

    def local(self, *args):
        """flowfleet-node query on the node's own store."""
        cp = run(self.node.cmd("query", "-c", self.node.conf, *args),
                 timeout=60)
        return cp.stdout


class OutOfRangeTest(FleetCase):

    def test_v5_out_of_range_fields(self):
        now = int(time.time())
        good = {"src": "198.51.100.1", "dst": "203.0.113.2",
                "nexthop": "192.0.2.254", "first": 40000, "last": 99000,
                "src_mask": 24, "dst_mask": 16}
        masks = dict(good, src="198.51.100.2", src_mask=40, dst_mask=200)
        order = dict(good, src="198.51.100.3", first=99000, last=40000)
        self.send([v5_datagram([good, masks, order], now)], 3)

        j = self.fleet("--list", "10")
        flows = {f["src"]: f for f in j["flows"]}
        self.assertEqual(len(flows), 3, j)
        # the good record as sent: 60 s and 1 s before the export
        g = flows["198.51.100.1"]
        self.assertEqual((g["src_mask"], g["dst_mask"]), (24, 16))
        self.assertEqual(g["last_ms"] - g["first_ms"], 59000)
        # prefix lengths beyond 32 on an IPv4 flow: unknown
        m = flows["198.51.100.2"]
        self.assertEqual((m["src_mask"], m["dst_mask"]), (0, 0))
        # an end before its start: the start (1 s before the export)
        o = flows["198.51.100.3"]
        self.assertEqual(o["first_ms"], now * 1000 - 1000)
        self.assertEqual(o["last_ms"], o["first_ms"])
        # the node's own listing says the same
        local = json.loads(self.local("--list", "10", "--json"))
        self.assertEqual(sorted(local["flows"], key=lambda f: f["src"]),
                         sorted(j["flows"], key=lambda f: f["src"]))

        # two records clamped, on the exporter and in all
        st = self.node.stats()
        self.assertEqual(st["decoder"]["clamped"], 2)
        ex = fflib.exporter(st, SENDER, "netflow5")
        self.assertEqual(len(ex), 1, st["exporters"])
        self.assertEqual(ex[0]["clamped"], 2)
        self.assertEqual(ex[0]["flows"], 3)
        cp = run(self.node.cmd("stats", "-c", self.node.conf), timeout=30)
        self.assertRegex(cp.stdout, r"(?m)^decoder .*clamped 2$")
        self.assertRegex(cp.stdout, r"(?m)^EXPORTER .*CLAMPED")


class AbsentAddressTest(FleetCase):

    def setUp(self):
        fflib.require_testdata(self)
        super().setUp()

    def test_wlc_station_and_absent_addresses(self):
        wlc = pcap_payloads(fflib.testdata(WLC))
        self.assertEqual(len(wlc), 2)   # template, then 19 records
        self.send(wlc + [v9_datagram(int(time.time()))], 20)

        j = self.fleet("--list", "100")
        flows = j["flows"]
        self.assertEqual(len(flows), 20)
        unspec = [f for f in flows if "::" in (f["src"], f["dst"])]
        self.assertEqual(unspec, [], "%d of 20 listed flows show :: as an "
                         "address" % len(unspec))
        wl = [f for f in flows if f["nexthop"] is None]
        self.assertEqual(len(wl), 19, flows)
        ingress = [f for f in wl if f["src"] == STATION]
        egress = [f for f in wl if f["dst"] == STATION]
        self.assertEqual(len(ingress) + len(egress), 19)
        self.assertTrue(ingress and egress)
        self.assertTrue(all(f["dst"] is None for f in ingress))
        self.assertTrue(all(f["src"] is None for f in egress))
        # the first record (tshark: ingress, 83 packets, 3320 bytes)
        self.assertIn((83, 3320), [(f["packets"], f["bytes"])
                                   for f in ingress])
        # a zero IPv4 next hop is 0.0.0.0
        nh = [f for f in flows if f["src"] == "198.51.100.7"]
        self.assertEqual(len(nh), 1)
        self.assertEqual(nh[0]["nexthop"], "0.0.0.0")

        # the table: "-" for the absent address
        cp = self.ctl.cli("query", "--list", "100", timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertRegex(cp.stdout, r"(?m)\s%s\s+0\s+-\s+0\s"
                         % STATION.replace(".", r"\."))
        self.assertRegex(cp.stdout, r"(?m)\s-\s+0\s+%s\s+0\s"
                         % STATION.replace(".", r"\."))
        self.assertNotRegex(cp.stdout, r"(?m)\s::\s")

        # top sources and destinations: the station, and no "::"
        for key, side in (("srcip", ingress), ("dstip", egress)):
            t = self.fleet("--top", "10", "--by", key)
            keys = [r["key"] for r in t["rows"]]
            self.assertNotIn("::", keys, t)
            self.assertIn(STATION, keys, t)
            row = t["rows"][keys.index(STATION)]
            self.assertEqual(row["flows"], len(side))
            self.assertEqual(row["bytes"], sum(f["bytes"] for f in side))
            self.assertEqual(row["packets"],
                             sum(f["packets"] for f in side))
            cp = self.ctl.cli("query", "--top", "10", "--by", key,
                              timeout=60)
            self.assertNotRegex(cp.stdout, r"(?m)^\s*\d+\s+::\s")
        # the node's own answer agrees
        loc = json.loads(self.local("--top", "10", "--by", "srcip",
                                    "--json"))
        self.assertNotIn("::", [r["key"] for r in loc["rows"]])


if __name__ == "__main__":
    unittest.main()

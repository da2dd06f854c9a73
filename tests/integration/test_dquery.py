"""Distributed queries: `flowfleet query` over a fleet of real processes.

DistributedOracleTest — exactness. One seeded flow set of 2 million
NetFlow v9 flows in four parts (flowgen, seeds SEED..SEED+3, 500 000 flows each,
10% IPv6 datagrams; each part with another --host-salt, so the parts
share their hosts but not their heavy hitters) goes, datagram for
datagram, to its own node (n1..n4 on 127.0.44.1-4, standard ports 2210
and 4210), and all of it to a fifth node holding the whole set ("whole",
127.0.44.5, not in the controller's inventory) and to nfdump's nfcapd.
Then crafted flows (a NetFlow v9 encoder below) are added so that
merging each node's own top 10 would be wrong, and so that the top-10
boundary falls inside a tie:

  * spread keys 198.18.0.1-3: on every node 1, 4 and 7 below that
    node's 10th value, for bytes, packets and flows at once (as many
    flows as that node's 10th flow count less 1, 4, 7), so they are in
    no node's top 10 and, summed over four nodes, high in the fleet's;
  * tie keys 198.18.1.1 and 198.18.1.2: equal byte totals strictly
    between the fleet's 9th and 10th values after the spread keys, a
    quarter on each node: the 10th place goes to the smaller key.

The test asserts that the naive merge of the per-node top 10s differs
from the exact answer (so the data does catch a wrong method), and
then, for totals, the top 10 by src ip, dst ip and dst port under
bytes, packets and flows (method auto, and forced tput and full), three
filters, a series and a listing: the distributed answer equals the
whole node's, and the whole node's equals nfdump's (with the
differences docs/QUERY.md documents, asserted as in
test_query_oracle.py: ICMP type/code in dst port, ties ordered by key).

FaultTest — a stopped node and a node frozen with SIGSTOP: the query
returns when its deadline gives up on the frozen node (not before that
node's round was due, and while the CLI was still waiting, by this
test's own clock), names the node and the reason, exits 6 (partial),
and prints the partial answer only with --allow-partial. (How soon after
the deadline the answer comes is a figure of tests/bench/bench_dquery.sh.)

CancelTest — Ctrl-C on a long query: the CLI exits 130 and every node's
scan stops, cancelled and not answered, as the nodes' query counters
show.

LimitsTest — a node's query limits fail the query on that node with an
error naming the limit; the answer is partial, the other node answers.
"""
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import unittest

import fflib
from fflib import Controller, Node, pcap_payloads, binpath, run, stop, wait_for
# a module, not its names: unittest would run QueryOracleTest here too
import test_query_oracle as tqo
from test_query_oracle import key_of, udp_port_bound

NET = "127.0.44."
PARTS = 4
PART_FLOWS = 500000
SEED = 20261204
PACE = 8000         # datagrams per second to each receiver
SPREAD = ["198.18.0.%d" % i for i in (1, 2, 3)]
TIES = ["198.18.1.1", "198.18.1.2"]
ORDERS = ("bytes", "packets", "flows")


def flowgen_path():
    return os.path.join(os.path.dirname(os.path.abspath(fflib.BIN)),
                        "bench", "flowgen")



# --- a NetFlow v9 encoder for the crafted flows ------------------------------

TPL_ID = 300
# (field type, length): src addr, dst addr, src port, dst port, protocol,
# IN_BYTES, IN_PKTS, FIRST_SWITCHED, LAST_SWITCHED (RFC 3954 section 8)
TPL = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 8), (22, 4),
       (21, 4)]
UPTIME = 3600000


def v9_datagrams(records, source_id, unix_secs, seq0=0):
    """records: (src, dst, sport, dport, proto, bytes, packets). One
    template FlowSet first, then data FlowSets of up to 30 records."""
    tpl = struct.pack("!HH", TPL_ID, len(TPL)) + b"".join(
        struct.pack("!HH", t, l) for t, l in TPL)
    out = []
    seq = seq0
    first = last = UPTIME - 1000        # 1 s before the export
    chunks = [records[i:i + 30] for i in range(0, len(records), 30)] or [[]]
    for n, chunk in enumerate(chunks):
        sets = b""
        count = 0
        if n == 0:
            sets += struct.pack("!HH", 0, 4 + len(tpl)) + tpl
            count += 1
        body = b"".join(
            socket.inet_aton(s) + socket.inet_aton(d) +
            struct.pack("!HHBQQII", sp, dp, pr, by, pk, first, last)
            for s, d, sp, dp, pr, by, pk in chunk)
        if body:
            pad = (-len(body)) % 4
            sets += struct.pack("!HH", TPL_ID, 4 + len(body) + pad) + \
                body + b"\0" * pad
            count += len(chunk)
        out.append(struct.pack("!HHIIII", 9, count, UPTIME, unix_secs, seq,
                               source_id) + sets)
        seq += 1
    return out


def split(total, parts):
    """total as parts positive integers (the first ones one larger)."""
    q, r = divmod(total, parts)
    return [q + (1 if i < r else 0) for i in range(parts)]


def fleet_node(owner, i, name, ctl_fp, extra=""):
    addr = NET + str(i)
    return Node(owner, addr, name=name, listen=[("any", addr + ":2055")],
                extra="name %s\ncontrol-listen %s:2210\nquery-listen "
                "%s:4210\ncontroller-fingerprint %s\nrcvbuf 32M\n%s"
                % (name, addr, addr, ctl_fp, extra))


def enroll(ctl, node, *labels):
    fp = fflib.node_fingerprint(node.conf)
    args = ["nodes", "add", node.name, node.addr, "--fingerprint", fp]
    for lab in labels:
        args += ["--label", lab]
    ctl.cli(*args, check=True)


def dquery(ctl, *args, timeout=120):
    """flowfleet query --json ARGS: (exit code, the JSON object)."""
    cp = ctl.cli("query", "--json", *args, timeout=timeout)
    try:
        return cp.returncode, json.loads(cp.stdout)
    except ValueError:
        raise AssertionError("flowfleet query %s exited %d, no JSON:\n%s\n%s"
                             % (" ".join(args), cp.returncode, cp.stdout,
                                cp.stderr))


def node_query(node, *args):
    """flowfleet-node query -c CONF --json ARGS on a running node."""
    cp = run(node.cmd("query", "-c", node.conf, "--json", *args),
             timeout=120, env=dict(os.environ, TZ="UTC"))
    return json.loads(cp.stdout)


def answer_of(a):
    """The parts of a store answer that must be equal: totals and rows
    (or the listing, or the distinct count), not the cost figures."""
    return {k: a.get(k) for k in ("totals", "rows", "flows", "distinct")}


def rows_of(a):
    return [(key_of(str(r["key"])), r["flows"], r["packets"], r["bytes"])
            for r in a["rows"]]


class DistributedOracleTest(unittest.TestCase):
    IDX = tqo.QueryOracleTest.IDX
    owner = None

    @classmethod
    def setUpClass(cls):
        for tool in ("nfcapd", "nfdump"):
            if shutil.which(tool) is None:
                raise AssertionError("%s is not installed; 'make deps' "
                                     "installs it" % tool)
        cls.owner = fflib.ProcOwner("fftest-dquery-", "test_dquery")
        try:
            cls.build()
        except BaseException:
            cls.owner.close()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.owner is not None:
            cls.owner.close()

    # --- the fixture ------------------------------------------------------

    @classmethod
    def build(cls):
        o = cls.owner
        cls.ctl = Controller(o, "ctl").start()
        fp = cls.ctl.fingerprint()
        cls.nodes = [fleet_node(o, i + 1, "n%d" % (i + 1), fp)
                     for i in range(PARTS)]
        for i, n in enumerate(cls.nodes):
            enroll(cls.ctl, n, "part=%d" % (i + 1),
                   "half=%s" % ("a" if i < 2 else "b"))
            n.start()
        # the whole set, for comparison: a node of its own
        cls.whole = fleet_node(o, 5, "whole", fp).start()
        cls.nfdir = os.path.join(o.tmp, "nfcapd")
        os.mkdir(cls.nfdir)
        cls.nfport = fflib.free_udp_port("127.0.0.1")
        cls.nfcapd = o.spawn(["nfcapd", "-w", cls.nfdir, "-b", "127.0.0.1",
                              "-p", str(cls.nfport), "-B", str(16 << 20),
                              "-t", "86400"], log_name="nfcapd.log")
        wait_for(lambda: udp_port_bound(cls.nfport) or
                 cls.nfcapd.poll() is not None, timeout=10,
                 what="nfcapd to bind")
        for n in cls.nodes:
            cls.ctl.wait_state(n.name, "up", timeout=20, query="up")

        # the four parts
        cls.expect = [0] * PARTS
        cls.sent = 0
        for k in range(PARTS):
            pcap = os.path.join(o.tmp, "part%d.pcap" % k)
            cp = run([flowgen_path(), "--pcap", pcap, "-n", str(PART_FLOWS),
                      "--pool", "20000", "--v6", "10", "-s", str(SEED + k),
                      "--host-salt", str(k + 1), "--json"], timeout=300)
            cls.expect[k] = json.loads(cp.stdout)["flows"]
            cls.send(k, pcap_payloads(pcap), NET + str(101 + k))
        cls.settle()

        # spread keys: one below each node's 10th, for every order
        recs = [[] for _ in range(PARTS)]
        for k, n in enumerate(cls.nodes):
            tenth = {}
            for order in ORDERS:
                rc, j = dquery(cls.ctl, "--nodes", n.name, "--top", "10",
                               "--by", "srcip", "--order", order)
                assert rc == 0, j
                r = j["answer"]["rows"][9]
                tenth[order] = r[order]
            for j, s in enumerate(SPREAD):
                # one below this node's 10th (near-ties at every node's
                # boundary), the keys 3 apart so that they do not tie
                nflows = tenth["flows"] - 1 - 3 * j
                assert nflows >= 1, tenth
                by = split(tenth["bytes"] - 1 - 3 * j, nflows)
                pk = split(tenth["packets"] - 1 - 3 * j, nflows)
                assert min(pk) >= 1 and min(by) >= pk[0], (tenth, nflows)
                for f in range(nflows):
                    recs[k].append((s, "10.99.0.%d" % (k + 1),
                                    40000 + f % 1000, 443, 6, by[f], pk[f]))
        for k in range(PARTS):
            cls.expect[k] += len(recs[k])
            cls.send(k, v9_datagrams(recs[k], 7000 + k, int(time.time())),
                     NET + str(110 + k))
        cls.settle()

        # ties strictly between the 9th and the 10th byte totals
        rc, j = dquery(cls.ctl, "--top", "10", "--by", "srcip")
        assert rc == 0, j
        v9, v10 = (j["answer"]["rows"][8]["bytes"],
                   j["answer"]["rows"][9]["bytes"])
        assert v9 > v10 + 1, (v9, v10)
        x = v10 + 1
        recs = [[] for _ in range(PARTS)]
        for t in TIES:
            for k, b in enumerate(split(x, PARTS)):
                recs[k].append((t, "10.98.0.1", 50000, 80, 6, b, 1))
        for k in range(PARTS):
            cls.expect[k] += len(recs[k])
            cls.send(k, v9_datagrams(recs[k], 7100 + k, int(time.time())),
                     NET + str(120 + k))
        cls.settle()
        time.sleep(1.0)
        rc = stop(cls.nfcapd, timeout=20)     # writes its file on stop
        if rc != 0:
            raise AssertionError("nfcapd exited %d" % rc)
        got = tqo.QueryOracleTest.nfdump_totals_of(cls.nfdir)[0]
        if got != sum(cls.expect):
            raise AssertionError("nfcapd holds %d of %d flows (kernel "
                                 "drops at its socket?)" % (
                                     got, sum(cls.expect)))

    @classmethod
    def send(cls, k, payloads, src):
        """Send datagrams from src to node k, to the whole node and to
        nfcapd, paced."""
        dests = [(cls.nodes[k].addr, 2055), (cls.whole.addr, 2055),
                 ("127.0.0.1", cls.nfport)]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((src, 0))
            t0 = time.monotonic()
            for i, p in enumerate(payloads):
                for d in dests:
                    s.sendto(p, d)
                ahead = i / PACE - (time.monotonic() - t0)
                if ahead > 0.002:
                    time.sleep(ahead)
        cls.sent += len(payloads)

    @classmethod
    def settle(cls):
        """Wait until every node's store holds what it was sent."""
        want = {n.name: cls.expect[k] for k, n in enumerate(cls.nodes)}
        want["whole"] = sum(cls.expect)
        for n in cls.nodes + [cls.whole]:
            def stored(n=n):
                return node_query(n)["totals"]["flows"] >= want[n.name]
            try:
                wait_for(stored, timeout=90, step=0.3,
                         what="node %s to store %d flows" % (n.name,
                                                            want[n.name]))
            except AssertionError:
                raise AssertionError("node %s stored %d of %d flows; its "
                                     "counters:\n%s" % (
                                         n.name, node_query(n)["totals"]
                                         ["flows"], want[n.name],
                                         json.dumps(n.stats())))
            got = node_query(n)["totals"]["flows"]
            if got != want[n.name]:
                raise AssertionError("node %s stored %d flows, sent %d"
                                     % (n.name, got, want[n.name]))

    # --- helpers ------------------------------------------------------------

    nfdump_csv = staticmethod(tqo.QueryOracleTest.nfdump_csv)

    def nfdump_top(self, key, order, filt=None, n=10):
        return tqo.QueryOracleTest.nfdump_top(self, key, order, filt, n)

    def nfdump_totals(self, filt=None):
        return tqo.QueryOracleTest.nfdump_totals_of(self.nfdir, filt)

    def assert_top_equal(self, ours, theirs, order, everything, what):
        tqo.QueryOracleTest.assert_top_equal(self, ours, theirs, order,
                                         everything, what)

    def both(self, *args, method=None):
        """The distributed answer (complete) and the whole node's."""
        extra = ["--method", method] if method else []
        rc, d = dquery(self.ctl, *args, *extra)
        self.assertEqual(rc, 0, d)
        self.assertTrue(d["complete"])
        self.assertEqual(d["answered"], PARTS)
        return d, node_query(self.whole, *args)

    def everything(self, key, order, filt=None):
        args = ["--top", "1000000", "--by", key, "--order", order]
        if filt:
            args += ["--filter", filt]
        return rows_of(node_query(self.whole, *args))

    # --- the tests ----------------------------------------------------------

    def test_data_defeats_naive_merging(self):
        """The per-node top 10s merged are not the answer: the spread
        keys are missing from them and in the exact answer."""
        for order in ORDERS:
            with self.subTest(order=order):
                naive = {}
                for n in self.nodes:
                    rc, j = dquery(self.ctl, "--nodes", n.name, "--top",
                                   "10", "--by", "srcip", "--order", order)
                    self.assertEqual(rc, 0)
                    for r in j["answer"]["rows"]:
                        naive[r["key"]] = naive.get(r["key"], 0) + r[order]
                naive_top = sorted(naive, key=lambda k: (-naive[k],
                                                         key_of(k)))[:10]
                d, _ = self.both("--top", "10", "--by", "srcip", "--order",
                                 order)
                exact = [r["key"] for r in d["answer"]["rows"]]
                self.assertNotEqual(naive_top, exact)
                self.assertTrue(set(SPREAD) & set(exact), exact)
                self.assertFalse(set(SPREAD) & set(naive_top))

    def test_tie_at_the_boundary(self):
        d, w = self.both("--top", "10", "--by", "srcip")
        rows = d["answer"]["rows"]
        self.assertEqual(rows[9]["key"], TIES[0])
        rc, d11 = dquery(self.ctl, "--top", "11", "--by", "srcip")
        self.assertEqual(d11["answer"]["rows"][10]["key"], TIES[1])
        self.assertEqual(d11["answer"]["rows"][10]["bytes"],
                         rows[9]["bytes"])

    def test_totals(self):
        d, w = self.both()
        self.assertEqual(answer_of(d["answer"]), answer_of(w))
        t = d["answer"]["totals"]
        self.assertEqual((t["flows"], t["packets"], t["bytes"]),
                         self.nfdump_totals())
        self.assertEqual(t["flows"], sum(self.expect))
        self.assertEqual(d["method"], "full")

    def test_top_n_every_key_and_order(self):
        for key in ("srcip", "dstip", "dstport"):
            for order in ORDERS:
                for method in ("auto", "tput", "full"):
                    with self.subTest(key=key, order=order, method=method):
                        d, w = self.both("--top", "10", "--by", key,
                                         "--order", order, method=method)
                        self.assertEqual(answer_of(d["answer"]),
                                         answer_of(w))
                        want = {"tput": "tput", "full": "full"}.get(method)
                        if want:
                            self.assertEqual(d["method"], want)
                with self.subTest(key=key, order=order, oracle="nfdump"):
                    w = rows_of(node_query(self.whole, "--top", "10",
                                           "--by", key, "--order", order))
                    if key == "dstport":
                        # nfdump sees ICMP at port 0: compare without it
                        f = "not (%s)" % tqo.QueryOracleTest.ICMP
                        w = rows_of(node_query(
                            self.whole, "--top", "10", "--by", key,
                            "--order", order, "--filter", f))
                        self.assert_top_equal(
                            w, self.nfdump_top(key, order, f), order,
                            self.everything(key, order, f), key + order)
                    else:
                        self.assert_top_equal(
                            w, self.nfdump_top(key, order), order,
                            self.everything(key, order), key + order)

    def test_auto_method_per_key(self):
        """auto: TPUT for addresses (many keys per node), complete
        aggregates for protocols (few); the bytes on the wire say why."""
        d, _ = self.both("--top", "10", "--by", "srcip")
        self.assertEqual(d["method"], "tput")
        full, _ = self.both("--top", "10", "--by", "srcip", method="full")
        self.assertLess(d["wire_bytes"], full["wire_bytes"])
        d, _ = self.both("--top", "10", "--by", "proto")
        self.assertEqual(d["method"], "full")

    FILTERS = ("proto tcp and dst port 443",
               "net 10.0.0.0/8 and not (port 53 or proto icmp)",
               "bytes > 100000 or (proto udp and not src net 10.0.0.0/8)")

    def test_filters(self):
        for f in self.FILTERS:
            with self.subTest(filter=f):
                d, w = self.both("--filter", f)
                self.assertEqual(answer_of(d["answer"]), answer_of(w))
                t = w["totals"]
                self.assertEqual((t["flows"], t["packets"], t["bytes"]),
                                 self.nfdump_totals(f))
                d, w = self.both("--filter", f, "--top", "10", "--by",
                                 "dstip")
                self.assertEqual(answer_of(d["answer"]), answer_of(w))
                self.assert_top_equal(
                    rows_of(w), self.nfdump_top("dstip", "bytes", f),
                    "bytes", self.everything("dstip", "bytes", f), f)

    def test_series_listing_distinct(self):
        first = node_query(self.whole, "--list", "1")["flows"][0]
        t0 = first["first_ms"] // 60000 * 60000
        t1 = (int(time.time()) // 60 + 2) * 60000
        win = ["--from", "@%d" % (t0 // 1000), "--to", "@%d" % (t1 // 1000)]
        d, w = self.both("--series", "1m", *win)
        self.assertEqual(answer_of(d["answer"]), answer_of(w))
        self.assertEqual(sum(r["flows"] for r in d["answer"]["rows"]),
                         sum(self.expect))
        d, w = self.both("--list", "100")
        self.assertEqual(answer_of(d["answer"]), answer_of(w))
        self.assertEqual(len(d["answer"]["flows"]), 100)
        d, w = self.both("--distinct", "dstip")
        self.assertEqual(answer_of(d["answer"]), answer_of(w))

    def test_selection_by_label_and_name(self):
        rc, a = dquery(self.ctl, "--label", "half=a")
        self.assertEqual(rc, 0)
        self.assertEqual(sorted(n["name"] for n in a["nodes"]), ["n1", "n2"])
        self.assertEqual(a["answer"]["totals"]["flows"],
                         self.expect[0] + self.expect[1])
        rc, b = dquery(self.ctl, "--nodes", "n3,n4")
        self.assertEqual(b["answer"]["totals"]["flows"],
                         self.expect[2] + self.expect[3])
        cp = self.ctl.cli("query", "--nodes", "nosuch")
        self.assertEqual(cp.returncode, 5)
        self.assertIn("no node named 'nosuch'", cp.stderr)
        cp = self.ctl.cli("query", "--label", "part=9")
        self.assertEqual(cp.returncode, 5)
        self.assertIn("no node matches", cp.stderr)
        cp = self.ctl.cli("query", "--filter", "proto tcpx")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("column 7", cp.stderr)

    def test_table_footer(self):
        cp = self.ctl.cli("query", "--top", "5", "--by", "srcip",
                          "--verbose")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("-- complete: 4/4 nodes answered", cp.stdout)
        for n in self.nodes:
            self.assertRegex(cp.stdout, r"--\s+%s\s+answered" % n.name)


def small_store(path, seed, flows, *extra):
    """Fill the flow store at path with flowgen; returns the flows stored
    (flowgen stops at the first datagram boundary at or past flows)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cp = run([flowgen_path(), "--dry-run", "--store", path, "-n",
              str(flows), "-s", str(seed), "--json", *extra], timeout=300)
    return json.loads(cp.stdout)["stored"]


class FaultTest(fflib.ProcTestCase):
    """Three nodes with stores filled beforehand (flowgen --store)."""

    def setUp(self):
        super().setUp()
        self.ctl = Controller(self, "ctl").start()
        fp = self.ctl.fingerprint()
        self.nodes = []
        self.stored = []
        for i in range(3):
            n = fleet_node(self, 11 + i, "f%d" % (i + 1), fp)
            self.stored.append(small_store(os.path.join(n.state_dir,
                                                        "flows"),
                                           50 + i, 100000))
            enroll(self.ctl, n)
            self.nodes.append(n.start())
        for n in self.nodes:
            self.ctl.wait_state(n.name, "up", timeout=20, query="up")

    def test_stopped_node(self):
        self.nodes[2].stop()
        self.ctl.wait_state("f3", "down", timeout=15)
        cp = self.ctl.cli("query", "--top", "5", "--by", "srcip",
                          timeout=60)
        self.assertEqual(cp.returncode, 6, cp.stderr)
        self.assertIn("PARTIAL: 2/3 nodes answered", cp.stdout)
        self.assertRegex(cp.stdout, r"missing f3: offline: offline at the "
                         r"start: \S")
        self.assertIn("ranking is not guaranteed", cp.stdout)
        self.assertNotRegex(cp.stdout, r"(?m)^rank\s+srcip")  # no answer
        self.assertIn("--allow-partial", cp.stderr)
        cp = self.ctl.cli("query", "--top", "5", "--by", "srcip",
                          "--allow-partial")
        self.assertEqual(cp.returncode, 6)
        self.assertRegex(cp.stdout, r"(?m)^rank\s+srcip")
        rc, j = dquery(self.ctl, "--allow-partial")
        self.assertEqual(rc, 6)
        self.assertFalse(j["complete"])
        self.assertEqual(j["answered"], 2)
        st = {n["name"]: n["status"] for n in j["nodes"]}
        self.assertEqual(st, {"f1": "answered", "f2": "answered",
                              "f3": "offline"})
        self.assertEqual(j["answer"]["totals"]["flows"],
                         self.stored[0] + self.stored[1])

    def test_frozen_node(self):
        timeout_ms = 3000
        p = self.nodes[1].proc
        os.kill(p.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            rc, j = dquery(self.ctl, "--top", "5", "--by", "dstip",
                           "--timeout", "%dms" % timeout_ms,
                           "--allow-partial", timeout=30)
            cli_ms = (time.monotonic() - t0) * 1000
        finally:
            os.kill(p.pid, signal.SIGCONT)
        self.assertEqual(rc, 6)
        st = {n["name"]: (n["status"], n["reason"]) for n in j["nodes"]}
        self.assertEqual(st["f2"][0], "timeout")
        m = re.fullmatch(r"no answer within (\d+) ms \(round (\d+) of the "
                         r"query\)", st["f2"][1])
        self.assertIsNotNone(m, st["f2"][1])
        waited, rnd = int(m.group(1)), int(m.group(2))
        # The frozen node never answered its QUERY: it was given up in
        # round 1, whose deadline is 3/4 of the query's time
        # (controller/dquery.c), and not before it; the answer came after
        # that, and the CLI, which this test timed, waited for it (+1: the
        # controller's clock counts whole ms).
        self.assertEqual(rnd, 1)
        self.assertGreaterEqual(waited, timeout_ms * 3 // 4)
        self.assertLessEqual(waited, j["elapsed_ms"])
        self.assertLessEqual(j["elapsed_ms"], cli_ms + 1)
        self.assertEqual(st["f1"][0], "answered")
        self.assertFalse(j["bound_known"])
        self.assertEqual(len(j["answer"]["rows"]), 5)
        # the node comes back and answers again
        wait_for(lambda: dquery(self.ctl, "--timeout", "5s")[0] == 0,
                 timeout=30, step=0.5, what="a complete answer again")


class CancelTest(fflib.ProcTestCase):
    """Two nodes with a listing that takes seconds to scan (4 million
    IPv6 flows each, one scan thread)."""

    def test_ctrl_c_cancels_on_every_node(self):
        ctl = Controller(self, "ctl").start()
        fp = ctl.fingerprint()
        nodes = []
        for i in range(2):
            n = fleet_node(self, 21 + i, "c%d" % (i + 1), fp,
                           extra="query-threads 1\n")
            small_store(os.path.join(n.state_dir, "flows"), 70 + i,
                        4000000, "--v6", "100", "--hosts", "1000000",
                        "--zipf", "0.5", "--pool", "40000")
            enroll(ctl, n)
            nodes.append(n.start())
        for n in nodes:
            ctl.wait_state(n.name, "up", timeout=20, query="up")
        cli = subprocess.Popen([binpath("flowfleet"), "-s", ctl.sock,
                                "query", "--list", "1000000"],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        try:
            for n in nodes:
                wait_for(lambda n=n: n.stats()["queries"]["running"] == 1,
                         timeout=20, step=0.02,
                         what="%s to be scanning" % n.name)
            cli.send_signal(signal.SIGINT)
            for n in nodes:
                wait_for(lambda n=n: n.stats()["queries"]["running"] == 0,
                         timeout=30, step=0.02,
                         what="%s to stop scanning" % n.name)
            _, err = cli.communicate(timeout=10)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        self.assertEqual(cli.returncode, 130, err)
        self.assertIn("cancel", err)
        for n in nodes:
            q = n.stats()["queries"]
            self.assertEqual(q["cancelled"], 1, q)
            self.assertEqual(q["answered"], 0, q)


class LimitsTest(fflib.ProcTestCase):
    """A node's query limits (query-max-rows, query-max-result): the query
    fails on that node with an error that names the limit, the other
    nodes answer, the CLI reports each node's reason and exits 6."""

    def test_limits_name_the_node_and_the_limit(self):
        ctl = Controller(self, "ctl").start()
        fp = ctl.fingerprint()
        nodes = [fleet_node(self, 31, "rows", fp,
                            extra="query-max-rows 1000\n"),
                 fleet_node(self, 32, "result", fp,
                            extra="query-max-result 1M\n"),
                 fleet_node(self, 33, "roomy", fp)]
        for i, n in enumerate(nodes):
            small_store(os.path.join(n.state_dir, "flows"), 90 + i, 100000)
            enroll(ctl, n)
            n.start()
        for n in nodes:
            ctl.wait_state(n.name, "up", timeout=20, query="up")

        def statuses(*args):
            rc, j = dquery(ctl, "--allow-partial", *args)
            st = {n["name"]: (n["status"], n["reason"]) for n in j["nodes"]}
            self.assertEqual(rc, 6, st)
            self.assertEqual(st["roomy"], ("answered", ""))
            return st, j

        st, j = statuses("--distinct", "srcip")
        self.assertEqual(st["rows"][0], "error")
        self.assertIn("exceeds its limit of 1000 rows", st["rows"][1])
        self.assertEqual(st["result"][0], "answered")
        self.assertGreater(j["answer"]["distinct"], 1000)
        # 10000 flows of 130 bytes each: over 1M, and over 1000 rows
        st, _ = statuses("--list", "10000")
        self.assertIn("more rows than its limit of 1000", st["rows"][1])
        self.assertEqual(st["result"][0], "error")
        self.assertRegex(st["result"][1], r"the answer is \d+ bytes, over "
                         r"the node's query-max-result of 1048576 bytes")
        # within its limits a node answers
        rc, j = dquery(ctl, "--top", "5", "--by", "proto")
        self.assertEqual(rc, 0, [n["reason"] for n in j["nodes"]])
        for n, failed in zip(nodes, (2, 1, 0)):
            q = n.stats()["queries"]
            self.assertEqual((q["failed"], q["running"]), (failed, 0),
                             (n.name, q))


class BoundTest(fflib.ProcTestCase):
    """A TPUT node that answers round 1 and then fails: the partial top N
    states an error bound, its first key's value (what the node could
    add to any key at most), instead of "not guaranteed".

    The flows are crafted so that the failure is certain: every node
    holds over 4096 src ip keys (a TPUT answer for a top 5); t3's keys
    have one flow each except two with 9 and 3 flows, and t1's and t2's
    have one each, so the round-2 threshold (the 5th largest round-1
    sum, 1, divided by the three nodes, rounded down) is 0 and t3 must
    send all its 300002 keys, over its query-max-result of 1 MiB (120000
    keys packed into some 840 KB), while its round-1 answer (5 rows)
    fits."""

    def send(self, node, records, source_id, src):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((src, 0))
            t0 = time.monotonic()
            dgrams = v9_datagrams(records, source_id, int(time.time()))
            for i, p in enumerate(dgrams):
                s.sendto(p, (node.addr, 2055))
                ahead = i / PACE - (time.monotonic() - t0)
                if ahead > 0.002:
                    time.sleep(ahead)
        wait_for(lambda: node_query(node)["totals"]["flows"] ==
                 len(records), timeout=60, step=0.3,
                 what="%s to store its %d flows" % (node.name, len(records)))

    def test_error_bound_from_round_one(self):
        ctl = Controller(self, "ctl").start()
        fp = ctl.fingerprint()
        nodes = [fleet_node(self, 41, "t1", fp),
                 fleet_node(self, 42, "t2", fp),
                 fleet_node(self, 43, "t3", fp,
                            extra="query-max-result 1M\n")]
        for n in nodes:
            enroll(ctl, n)
            n.start()
        for n in nodes:
            ctl.wait_state(n.name, "up", timeout=20, query="up")

        def rec(base, i):
            return (str(ipaddress.IPv4Address(base) + i), "192.0.2.1",
                    1024 + i % 60000, 443, 6, 100, 1)

        heavy = {"10.3.255.1": 9, "10.3.255.2": 3}
        recs = {
            "t1": [rec("10.1.0.0", i) for i in range(6000)],
            "t2": [rec("10.2.0.0", i) for i in range(6000)],
            "t3": [rec("10.8.0.0", i) for i in range(300000)] +
                  [(ip, "192.0.2.1", 2000 + f, 443, 6, 100, 1)
                   for ip, c in heavy.items() for f in range(c)],
        }
        for k, n in enumerate(nodes):
            self.send(n, recs[n.name], 7200 + k, NET + str(140 + k))

        rc, j = dquery(ctl, "--top", "5", "--by", "srcip", "--order",
                       "flows", "--allow-partial")
        st = {n["name"]: (n["status"], n["reason"]) for n in j["nodes"]}
        self.assertEqual(rc, 6, json.dumps(j["nodes"]))
        self.assertEqual(st["t1"], ("answered", ""))
        self.assertEqual(st["t2"], ("answered", ""))
        self.assertEqual(st["t3"][0], "error")
        self.assertIn("over the node's query-max-result", st["t3"][1])
        self.assertEqual(j["method"], "tput")
        # round 1, round 2, round 2 again without t3; T = 0 there, so
        # the sums of round 2 are exact and no key is looked up
        self.assertEqual((j["rounds"], j["threshold"], j["candidates"]),
                         (3, 0, 0))
        # t3's largest key holds 9 flows: what its round-1 answer said
        self.assertTrue(j["bound_known"])
        self.assertEqual(j["bound"], max(heavy.values()))
        rc3, j3 = dquery(ctl, "--nodes", "t3", "--top", "1", "--by",
                         "srcip", "--order", "flows")
        self.assertEqual(rc3, 0, j3)
        self.assertEqual(j3["answer"]["rows"][0]["flows"], j["bound"])
        # the partial answer is exactly t1 and t2's
        rc12, j12 = dquery(ctl, "--nodes", "t1,t2", "--top", "5", "--by",
                           "srcip", "--order", "flows")
        self.assertEqual(rc12, 0, j12)
        self.assertEqual(answer_of(j["answer"]), answer_of(j12["answer"]))
        cp = ctl.cli("query", "--top", "5", "--by", "srcip", "--order",
                     "flows", "--allow-partial")
        self.assertEqual(cp.returncode, 6, cp.stderr)
        self.assertIn("PARTIAL: 2/3 nodes answered", cp.stdout)
        self.assertIn("-- error bound: the missing nodes could add at "
                      "most 9 flows (9) to any key", cp.stdout)
        self.assertNotIn("not guaranteed", cp.stdout)


class BigMergeTest(fflib.ProcTestCase):
    """A distinct count over two nodes of nearly a million different IPv6
    src addresses each (2 million flows, a quarter of the addresses on
    both): the controller merges answers of some 15 MB while it keeps
    serving (the merge once turned quadratic and held its loop for
    longer than the nodes' heartbeats allow, so both nodes were marked
    down and the query failed). The answer equals the distinct count of
    one store holding both parts (flowfleet-node query --store)."""

    def test_distinct_of_millions_of_keys(self):
        ctl = Controller(self, "ctl").start()
        fp = ctl.fingerprint()
        whole = os.path.join(self.tmp, "whole")
        args = ("--v6", "100", "--hosts", "4000000", "--zipf", "0.3",
                "--pool", "70000")
        nodes = []
        for i in range(2):
            n = fleet_node(self, 51 + i, "m%d" % (i + 1), fp)
            small_store(os.path.join(n.state_dir, "flows"), 60 + i,
                        2000000, *args)
            small_store(whole, 60 + i, 2000000, *args)
            enroll(ctl, n)
            nodes.append(n.start())
        for n in nodes:
            ctl.wait_state(n.name, "up", timeout=20, query="up")
        cp = run([binpath("flowfleet-node"), "query", "--store", whole,
                  "--distinct", "srcip", "--json"], timeout=300)
        want = json.loads(cp.stdout)["distinct"]
        per_node = [node_query(n, "--distinct", "srcip")["distinct"]
                    for n in nodes]
        self.assertGreater(min(per_node), 900000)
        rc, j = dquery(ctl, "--distinct", "srcip", "--timeout", "120s",
                       timeout=300)
        self.assertEqual(rc, 0, json.dumps(j["nodes"]))
        self.assertTrue(j["complete"])
        self.assertEqual(j["answer"]["distinct"], want)
        # nothing went down while the controller merged
        self.assertNotIn("channel down", ctl.log())
        for n in nodes:
            self.assertEqual(ctl.node(n.name)["state"], "up")


if __name__ == "__main__":
    unittest.main()

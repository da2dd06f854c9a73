"""Query answers against nfdump (the oracle), and the query command.

QueryOracleTest: one seeded flow set of 1.2 million flows (flowgen NetFlow
v9, Zipf-skewed hosts, 10% of the datagrams IPv6, 4 exporters) is sent
over loopback, datagram for datagram the same stream (flowgen --tee), to
nfdump's nfcapd and to a running node daemon ('flowfleet-node run',
which decodes it and stores it through its writer thread in
STATE_DIR/flows; it is stopped with SIGTERM once it has committed every
flow). Then flowfleet-node query and nfdump answer the same questions: totals; the top 10 src ip, dst ip and dst port by
bytes, packets and flows; totals and top 10 under several filters; a time
window. Answers must be equal, except where docs/QUERY.md documents a
semantic difference, and then the test asserts that difference exactly:

  * ICMP: nfcapd 1.7.1 takes ICMP type/code only from the ICMP_TYPE
    element, so flowgen's ICMP flows (type/code in L4_DST_PORT, as Cisco
    exports them) reach nfdump with dst port 0; we keep type * 256 +
    code in dst port. nfdump's port statistics and port filters see 0.
  * Time window: we count a flow in [t0, t1) when t0 <= first < t1;
    nfdump -t counts it only when t0 <= first and last <= t1.
  * Ties: nfdump orders keys with equal metrics arbitrarily; we order
    them by key. A tie group cut by the top-10 boundary is checked as a
    group.

QueryCommandTest: the command line itself (exit codes, errors, limits,
the -c configuration path, formats) on a small store. That store is made
by flowgen --store (the node's decoder and store, in flowgen's process)
rather than by a daemon: these tests are about the command, and one of
them damages the store file on purpose, which wants no writer around.
"""
import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import fflib
from fflib import binpath, run, stop, wait_for

FLOWS = 1200000
SEED = 20231114


def flowgen_path():
    """flowgen is built next to the binaries (make integration builds
    it): FF_BIN/../bench/flowgen."""
    return os.path.join(os.path.dirname(os.path.abspath(fflib.BIN)),
                        "bench", "flowgen")


def udp_port_bound(port):
    """True when a UDP socket is bound to port (any address)."""
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    local = line.split()[1]
                    if int(local.rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


def key_of(text):
    """A comparable key: ip_address for addresses, int for numbers."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return ipaddress.ip_address(text)


def sort_key(k):
    """Our key order: 16-byte order with IPv4 mapped (::ffff:a.b.c.d)."""
    if isinstance(k, int):
        return (0, k)
    if k.version == 4:
        return (1, int(ipaddress.IPv6Address("::ffff:" + str(k))))
    return (1, int(k))


class QueryOracleTest(unittest.TestCase):
    nfdir = store = tmp = None

    @classmethod
    def setUpClass(cls):
        for tool in ("nfcapd", "nfdump"):
            if shutil.which(tool) is None:
                raise AssertionError("%s is not installed; 'make deps' "
                                     "installs it" % tool)
        if not os.access(flowgen_path(), os.X_OK):
            raise AssertionError("%s is missing: make integration builds "
                                 "it" % flowgen_path())
        cls.tmp = tempfile.mkdtemp(prefix="fftest-oracle-")
        try:
            cls.load()
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def load(cls, fps=250000):
        """Send the flow set to nfcapd and to a node daemon; both must
        hold every flow flowgen sent. One retry at a lower rate if either
        lost datagrams (kernel socket drops are a property of the
        machine)."""
        for attempt in range(2):
            cls.nfdir = os.path.join(cls.tmp, "nf%d" % attempt)
            state = os.path.join(cls.tmp, "state%d" % attempt)
            cls.store = os.path.join(state, "flows")
            os.mkdir(cls.nfdir)
            port = fflib.free_udp_port("127.0.0.1")
            nport = fflib.free_udp_port("127.0.0.1")
            conf = os.path.join(cls.tmp, "node%d.conf" % attempt)
            with open(conf, "w") as f:
                f.write('state-dir "%s"\n' % state)
                f.write("listen 127.0.0.1:%d\n" % nport)
                for kw in ("control-listen", "query-listen"):
                    f.write("%s 127.0.0.1:%d\n" % (
                        kw, fflib.free_tcp_port("127.0.0.1")))
                f.write("store-sync no\nretention-age none\n"
                        "retention-size none\n")
            log = open(os.path.join(cls.tmp, "nfcapd.log"), "ab")
            nfcapd = subprocess.Popen(
                ["nfcapd", "-w", cls.nfdir, "-b", "127.0.0.1", "-p",
                 str(port), "-B", str(8 << 20), "-t", "86400"],
                stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
            log.close()
            log = open(os.path.join(cls.tmp, "node.log"), "ab")
            node = subprocess.Popen(
                [binpath("flowfleet-node"), "run", "-f", "-c", conf],
                stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
            log.close()
            try:
                wait_for(lambda: udp_port_bound(port) or
                         nfcapd.poll() is not None, timeout=10,
                         what="nfcapd to bind")
                if nfcapd.poll() is not None:
                    raise AssertionError("nfcapd exited %d at start" %
                                         nfcapd.returncode)
                wait_for(lambda: cls.node_stats(conf) or
                         node.poll() is not None, timeout=20,
                         what="the node to answer")
                if node.poll() is not None:
                    raise AssertionError("the node exited %d at start" %
                                         node.returncode)
                cp = run([flowgen_path(), "--send", "127.0.0.1", "-p",
                          str(port), "--tee", str(nport), "-n",
                          str(FLOWS), "--pool", "40000", "--exporters",
                          "4", "--v6", "10", "-s", str(SEED), "--fps",
                          str(fps), "-t", "120", "--json"], timeout=180)
                cls.gen = json.loads(cp.stdout)
                time.sleep(1.0)
                # Every flow the node decoded is committed: the counts
                # stop moving with nothing queued or pending.
                st = wait_for(lambda: cls.node_settled(conf), timeout=60,
                              step=0.25,
                              what="the node to commit its flows")
            finally:
                # nfcapd writes its file when it stops; the node commits.
                rc = stop(nfcapd, timeout=20)
                nrc = stop(node, timeout=60)
            if rc != 0:
                raise AssertionError("nfcapd exited %d" % rc)
            if nrc != 0:
                raise AssertionError("the node exited %d" % nrc)
            got = cls.nfdump_totals_of(cls.nfdir)
            if (got[0] == cls.gen["flows"] and
                    st["totals"]["flows"] == cls.gen["flows"]):
                if st["store"]["committed"] != cls.gen["flows"]:
                    raise AssertionError("the node stored %d of %d flows" %
                                         (st["store"]["committed"],
                                          cls.gen["flows"]))
                return
            fps //= 2
        raise AssertionError("nfcapd received %d and the node %d of %d "
                             "flows twice (kernel drops?)" % (
                                 got[0], st["totals"]["flows"],
                                 cls.gen["flows"]))

    @staticmethod
    def node_stats(conf):
        cp = run([binpath("flowfleet-node"), "stats", "-c", conf,
                  "--json"], check=False, timeout=30)
        return json.loads(cp.stdout) if cp.returncode == 0 else None

    _last = None

    @classmethod
    def node_settled(cls, conf):
        """The stats once the node decoded what the kernel gave it and
        committed it all (two equal snapshots in a row), else None."""
        st = cls.node_stats(conf)
        if st is None:
            return None
        s = st["store"]
        key = (st["totals"]["datagrams"], st["totals"]["flows"],
               s["committed"])
        done = (s["queued"] == 0 and s["pending"] == 0 and
                s["committed"] + s["dropped"] == st["totals"]["flows"])
        same = key == cls._last
        cls._last = key
        return st if done and same else None

    # --- running the two ------------------------------------------------

    @staticmethod
    def nfdump_csv(args):
        cp = run(["nfdump", *args], env=dict(os.environ, TZ="UTC"),
                 timeout=300)
        return cp.stdout.splitlines()

    @classmethod
    def nfdump_totals_of(cls, nfdir, filt=None, twin=None):
        """(flows, packets, bytes) from nfdump's CSV summary."""
        args = ["-R", nfdir, "-o", "csv", "-s", "proto/flows", "-n", "1"]
        if twin:
            args += ["-t", twin]
        if filt:
            args.append(filt)
        lines = cls.nfdump_csv(args)
        i = lines.index("Summary")
        hdr = lines[i + 1].split(",")
        val = lines[i + 2].split(",")
        d = dict(zip(hdr, val))
        return (int(d["flows"]), int(d["packets"]), int(d["bytes"]))

    def nfdump_totals(self, filt=None, twin=None):
        return self.nfdump_totals_of(self.nfdir, filt, twin)

    def nfdump_top(self, key, order, filt=None, n=10):
        """nfdump -s key/order: [(key, flows, packets, bytes)]."""
        args = ["-R", self.nfdir, "-o", "csv", "-s", "%s/%s" % (key, order),
                "-n", str(n)]
        if filt:
            args.append(filt)
        lines = self.nfdump_csv(args)
        hdr = lines[0].split(",")
        rows = []
        for line in lines[1:]:
            if not line.strip():
                break
            d = dict(zip(hdr, line.split(",")))
            pk = d.get("pkt", d.get("ipkt"))
            by = d.get("byt", d.get("ibyt"))
            rows.append((key_of(d["val"]), int(d["fl"]), int(pk), int(by)))
        return rows

    def ours(self, *args):
        cp = run([binpath("flowfleet-node"), "query", "--store", self.store,
                  "--json", *args], timeout=300,
                 env=dict(os.environ, TZ="UTC"))
        return json.loads(cp.stdout)

    def ours_totals(self, filt=None, *window):
        args = list(window)
        if filt:
            args += ["--filter", filt]
        t = self.ours(*args)["totals"]
        return (t["flows"], t["packets"], t["bytes"])

    def ours_top(self, key, order, filt=None, n=10):
        args = ["--top", str(n), "--by", key, "--order", order]
        if filt:
            args += ["--filter", filt]
        return [(key_of(str(r["key"])), r["flows"], r["packets"],
                 r["bytes"]) for r in self.ours(*args)["rows"]]

    # --- comparing top-N -------------------------------------------------

    IDX = {"flows": 1, "packets": 2, "bytes": 3}

    def assert_top_equal(self, ours, theirs, order, everything, what):
        """ours, theirs: top-N rows; everything: our rows for every key
        (to know the whole tie group at the boundary)."""
        i = self.IDX[order]
        self.assertEqual(len(ours), len(theirs), what)
        # The metric column is the same sequence.
        self.assertEqual([r[i] for r in ours], [r[i] for r in theirs], what)
        if not ours:
            return
        last = ours[-1][i]
        group = sorted((r for r in everything if r[i] == last),
                       key=lambda r: sort_key(r[0]))
        ours_by_key = {r[0]: r for r in ours}
        theirs_by_key = {r[0]: r for r in theirs}
        # Above the boundary value: the same keys with the same metrics.
        above_o = {k: r for k, r in ours_by_key.items() if r[i] > last}
        above_t = {k: r for k, r in theirs_by_key.items() if r[i] > last}
        self.assertEqual(above_o, above_t, what)
        # At the boundary: ours are the smallest keys of the tie group, in
        # key order; nfdump's are members of it with the same metrics.
        at_o = [r for r in ours if r[i] == last]
        at_t = [r for r in theirs if r[i] == last]
        self.assertEqual(at_o, group[:len(at_o)], what + ": ties by key")
        gset = {r[0]: r for r in group}
        for r in at_t:
            self.assertEqual(gset.get(r[0]), r, what + ": nfdump's tie")
        # Rows of equal metric come in key order in ours.
        for a, b in zip(ours, ours[1:]):
            if a[i] == b[i]:
                self.assertLess(sort_key(a[0]), sort_key(b[0]), what)

    def our_all(self, key, order, filt=None):
        return self.ours_top(key, order, filt, n=1000000)

    # --- the tests ---------------------------------------------------------

    def test_totals(self):
        ours = self.ours_totals()
        self.assertEqual(ours, self.nfdump_totals())
        # ... and what flowgen says it sent.
        self.assertEqual(ours, (self.gen["flows"], self.gen["flow_packets"],
                                self.gen["bytes"]))

    def test_top_addresses(self):
        for key in ("srcip", "dstip"):
            for order in ("bytes", "packets", "flows"):
                with self.subTest(key=key, order=order):
                    self.assert_top_equal(
                        self.ours_top(key, order),
                        self.nfdump_top(key, order), order,
                        self.our_all(key, order), "%s/%s" % (key, order))

    ICMP = "proto icmp or proto icmp6"

    def nfdump_view_of_ports(self, order, filt=None):
        """Our dst port aggregates as nfdump sees them: every ICMP flow
        at port 0 (see the module docstring)."""
        base = "not (%s)" % self.ICMP
        f1 = "(%s) and %s" % (filt, base) if filt else base
        f2 = "(%s) and (%s)" % (filt, self.ICMP) if filt else self.ICMP
        rows = {r[0]: list(r) for r in self.our_all("dstport", order, f1)}
        icmp = self.ours_totals(f2)
        if icmp[0] > 0:
            r = rows.setdefault(0, [0, 0, 0, 0])
            for j in range(3):
                r[j + 1] += icmp[j]
        i = self.IDX[order]
        out = sorted((tuple(r) for r in rows.values()),
                     key=lambda r: (-r[i], r[0]))
        return out

    def test_top_dstport(self):
        for order in ("bytes", "packets", "flows"):
            with self.subTest(order=order):
                view = self.nfdump_view_of_ports(order)
                self.assert_top_equal(view[:10], self.nfdump_top(
                    "dstport", order), order, view, "dstport/" + order)
                # Without ICMP, ours and nfdump's are the same answer.
                f = "not (%s)" % self.ICMP
                self.assert_top_equal(
                    self.ours_top("dstport", order, f),
                    self.nfdump_top("dstport", order, f), order,
                    self.our_all("dstport", order, f),
                    "dstport/%s without ICMP" % order)
        # The difference is real: flowgen's ICMP echo requests (type 8)
        # are port 2048 here and port 0 in nfdump.
        ours = {r[0]: r for r in self.our_all("dstport", "flows",
                                              "proto icmp")}
        self.assertIn(2048, ours)
        self.assertEqual(self.nfdump_totals("proto icmp and icmp-type 8")[0],
                         0)

    # (filter, the same filter for ICMP flows as nfdump reads them: with
    # every port 0; None when the filter has no port term)
    FILTERS = [
        ("net 10.0.0.0/8", None),
        ("src net 10.64.0.0/10", None),
        ("net 2a00::/8 or net 2001:db8::/32", None),
        ("proto udp", None),
        ("not proto tcp", None),
        ("bytes > 10000", None),
        ("packets < 3 and bytes >= 100", None),
        ("dst port 443", "proto icmp and not proto icmp"),
        ("dst port > 1023 and dst port < 5000",
         "proto icmp and not proto icmp"),
        ("src net 10.0.0.0/8 or dst port 53", "src net 10.0.0.0/8"),
        ("not (dst port 443 or dst port 80) and proto tcp", None),
        ("src port 443 or (proto udp and not dst port 53)",
         "proto udp"),
    ]

    def test_filters(self):
        for filt, icmp_equiv in self.FILTERS:
            with self.subTest(filter=filt):
                theirs = self.nfdump_totals(filt)
                if icmp_equiv is None:
                    self.assertEqual(self.ours_totals(filt), theirs)
                else:
                    # Not ICMP: equal. ICMP: nfdump's answer is ours for
                    # the filter with ports read as 0.
                    no = "not (%s)" % self.ICMP
                    self.assertEqual(
                        self.ours_totals("(%s) and %s" % (filt, no)),
                        self.nfdump_totals("(%s) and %s" % (filt, no)))
                    self.assertEqual(
                        self.nfdump_totals("(%s) and (%s)" % (filt,
                                                              self.ICMP)),
                        self.ours_totals("(%s) and (%s)" % (icmp_equiv,
                                                            self.ICMP)))
                self.assertGreater(theirs[0], 0, "a filter that matches")
                self.assertLess(theirs[0], self.gen["flows"],
                                "a filter that filters")
                if icmp_equiv is None:
                    self.assert_top_equal(
                        self.ours_top("srcip", "bytes", filt),
                        self.nfdump_top("srcip", "bytes", filt), "bytes",
                        self.our_all("srcip", "bytes", filt),
                        "srcip/bytes '%s'" % filt)

    def test_window(self):
        """The window semantics, checked against every flow as nfdump
        decoded it (first and last to the millisecond)."""
        lines = self.nfdump_csv(["-R", self.nfdir, "-q", "-o",
                                 "fmt:%ts|%te"])
        flows = []
        for line in lines:
            a, b = line.split("|")
            flows.append((self.ms(a), self.ms(b)))
        self.assertEqual(len(flows), self.gen["flows"])
        last = max(f[1] for f in flows)
        for back, length in ((20, 15), (8, 6), (120, 60)):
            t0 = (last // 1000 - back) * 1000
            t1 = t0 + length * 1000
            want_ours = sum(1 for f, l in flows if t0 <= f < t1)
            want_nfdump = sum(1 for f, l in flows if f >= t0 and l <= t1)
            with self.subTest(t0=t0, t1=t1):
                ours = self.ours_totals(None, "--from", self.iso(t0),
                                        "--to", self.iso(t1))
                self.assertEqual(ours[0], want_ours)
                # The nfdump time format, read as local time.
                ours2 = self.ours_totals(None, "--from", self.nf(t0),
                                         "--to", self.nf(t1))
                self.assertEqual(ours2, ours)
                theirs = self.nfdump_totals(
                    twin="%s-%s" % (self.nf(t0), self.nf(t1)))
                self.assertEqual(theirs[0], want_nfdump)
                # The windows differ in what they count: long flows that
                # start inside and end after t1 are ours, not nfdump's.
                self.assertNotEqual(want_ours, want_nfdump)

    @staticmethod
    def ms(text):
        d = datetime.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S.%f")
        return int(round(d.replace(tzinfo=datetime.timezone.utc)
                         .timestamp() * 1000))

    @staticmethod
    def iso(ms):
        return datetime.datetime.fromtimestamp(
            ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def nf(ms):
        # Local time as nfdump reads it: the tests run nfdump with TZ=UTC
        # and so run flowfleet-node.
        return datetime.datetime.fromtimestamp(
            ms / 1000, datetime.timezone.utc).strftime("%Y/%m/%d.%H:%M:%S")


class QueryCommandTest(fflib.ProcTestCase):
    """flowfleet-node query on a small store: exit codes, messages,
    formats, the configuration path, limits."""

    def setUp(self):
        super().setUp()
        if not os.access(flowgen_path(), os.X_OK):
            self.fail("%s is missing: make integration builds it" %
                      flowgen_path())
        self.state = os.path.join(self.tmp, "state")
        self.store = os.path.join(self.state, "flows")
        os.mkdir(self.state)
        cp = run([flowgen_path(), "--store", self.store, "-n", "60000",
                  "--pool", "2000", "-s", "5", "--json"])
        self.gen = json.loads(cp.stdout)
        self.conf = os.path.join(self.tmp, "node.conf")
        with open(self.conf, "w") as f:
            f.write('state-dir "%s"\n' % self.state)

    def q(self, *args, check=False):
        return run([binpath("flowfleet-node"), "query", *args],
                   check=check, env=dict(os.environ, TZ="UTC"))

    def test_totals_every_way(self):
        want = (self.gen["flows"], self.gen["flow_packets"],
                self.gen["bytes"])
        a = json.loads(self.q("--store", self.store, "--json",
                              check=True).stdout)["totals"]
        self.assertEqual((a["flows"], a["packets"], a["bytes"]), want)
        # Through the node's configuration: STATE_DIR/flows.
        b = self.q("-c", self.conf, "--csv", check=True).stdout
        self.assertEqual(b, "flows,packets,bytes\n%d,%d,%d\n" % want)
        # The table: human-readable figures.
        t = self.q("--store", self.store, check=True).stdout
        self.assertIn("60.0 K flows", t)
        self.assertIn("GiB" if self.gen["bytes"] >= 1 << 30 else "MiB", t)

    def test_kinds(self):
        top = json.loads(self.q("--store", self.store, "--json", "--top",
                                "3", "--by", "dstport", check=True).stdout)
        self.assertEqual(len(top["rows"]), 3)
        self.assertEqual([r["rank"] for r in top["rows"]], [1, 2, 3])
        b = [r["bytes"] for r in top["rows"]]
        self.assertEqual(b, sorted(b, reverse=True))
        csv = self.q("--store", self.store, "--csv", "--top", "5", "--by",
                     "srcnet/16", check=True).stdout.splitlines()
        self.assertEqual(csv[0], "rank,srcnet,flows,packets,bytes")
        self.assertEqual(len(csv), 6)
        for line in csv[1:]:
            net = line.split(",")[1]
            # IPv4 keys are /16 networks, IPv6 ones /64 (the default).
            self.assertTrue(net.endswith(".0.0/16") or
                            (":" in net and net.endswith("::/64")), net)
        lst = json.loads(self.q("--store", self.store, "--json", "--list",
                                "7", check=True).stdout)
        firsts = [f["first_ms"] for f in lst["flows"]]
        self.assertEqual(len(firsts), 7)
        self.assertEqual(firsts, sorted(firsts))
        d = json.loads(self.q("--store", self.store, "--json", "--distinct",
                              "proto", check=True).stdout)
        self.assertGreaterEqual(d["distinct"], 4)   # TCP UDP ICMP ESP
        s = json.loads(self.q("--store", self.store, "--json", "--series",
                              "10s", check=True).stdout)
        self.assertEqual(sum(r["flows"] for r in s["rows"]),
                         self.gen["flows"])
        self.assertTrue(all(r["t_ms"] % 10000 == 0 for r in s["rows"]))

    def test_errors(self):
        cp = self.q("--store", self.store, "--filter", "proto tcp and")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("column", cp.stderr)
        cp = self.q("--store", self.store, "--top", "5")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("--top needs --by", cp.stderr)
        cp = self.q("--store", self.store, "--by", "nosuchkey")
        self.assertEqual(cp.returncode, 2)
        cp = self.q("--store", self.store, "--from", "2024-13-01")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("bad time", cp.stderr)
        cp = self.q("--store", self.store, "--list", "5", "--series", "1m")
        self.assertEqual(cp.returncode, 2)
        cp = self.q("--store", os.path.join(self.tmp, "missing"))
        self.assertEqual(cp.returncode, 1)
        cp = self.q("--help")
        self.assertEqual(cp.returncode, 0)
        self.assertIn("Exit status", cp.stdout)
        cp = run([binpath("flowfleet-node"), "help", "query"])
        self.assertIn("--distinct KEY", cp.stdout)

    def test_limits(self):
        cp = self.q("--store", self.store, "--top", "5", "--by", "srcip",
                    "--max-rows", "10")
        self.assertEqual(cp.returncode, 3)
        self.assertIn("limit of 10 rows", cp.stderr)
        cp = self.q("--store", self.store, "--top", "5", "--by", "srcip",
                    "--max-mem", "64K")
        self.assertEqual(cp.returncode, 3)
        self.assertIn("memory limit", cp.stderr)
        self.assertEqual(cp.stdout, "")

    def test_damaged_block(self):
        """A block that cannot be decoded is left out, counted, and makes
        the exit status 4; the rest is answered."""
        path = os.path.join(self.store, "data.mdb")
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            # Column data is zstd-compressed: break the first frame.
            i = data.find(b"\x28\xb5\x2f\xfd")
            self.assertGreater(i, 0, "no zstd frame in the store")
            for k in range(i + 4, i + 40):
                data[k] ^= 0x5A
            f.seek(0)
            f.write(data)
        cp = self.q("--store", self.store, "--list", "1")
        self.assertEqual(cp.returncode, 4, cp.stderr)
        self.assertIn("1 damaged block of the store could not be read",
                      cp.stderr)
        self.assertIn("1 DAMAGED, left out", cp.stdout)
        j = json.loads(self.q("--store", self.store, "--list", "1",
                              "--json").stdout)
        self.assertEqual(j["meta"]["blocks_damaged"], 1)
        self.assertLess(j["totals"]["flows"], self.gen["flows"])
        self.assertGreater(j["totals"]["flows"], 0)

    def test_window_empty_and_since(self):
        # Everything was generated now: the last hour holds it all, a
        # window in 2001 holds nothing.
        a = json.loads(self.q("--store", self.store, "--json", "--since",
                              "1h", check=True).stdout)["totals"]
        self.assertEqual(a["flows"], self.gen["flows"])
        b = json.loads(self.q("--store", self.store, "--json", "--from",
                              "2001/01/01.00:00:00", "--to",
                              "2001-01-02T00:00:00Z",
                              check=True).stdout)["totals"]
        self.assertEqual(b["flows"], 0)


if __name__ == "__main__":
    unittest.main()

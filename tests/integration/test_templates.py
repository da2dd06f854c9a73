"""Template memory and template persistence of a running node.

TemplateFlood     a flood of 1,024-field NetFlow v9 and IPFIX templates
                  from thousands of source ids that send no data, while
                  flowgen sends generated NetFlow v9 and a crafted IPFIX
                  exporter sends data: the node's memory stays within
                  template-memory plus a stated margin, every generated
                  and crafted flow is stored, and after a restart the
                  crafted exporter's template is there (its data decodes
                  without a template being sent again).
TemplateFileDamage  templates.bin damaged in the middle, or cut short:
                  a restarted node loses the templates of the damaged
                  part only.

Sizes: a 1,024-field template takes 4,100 bytes as sent (v9 and IPFIX
alike: 4 bytes per field, 4 of header) and about 10 KiB in a node
(its field program: 6 bytes per field here, every field being a counter);
FLOOD templates are more than 40 MB of them, ten times BUDGET.
"""
import os
import socket
import struct
import time

import fflib
from fflib import Node, ProcTestCase, run, wait_for

EXPORT_S = 1700000000

BUDGET_MB = 4               # template-memory of the flooded node
# The node's RSS may grow during the flood by the templates (BUDGET_MB),
# the snapshot of them being written (a copy: at most BUDGET_MB more)
# and MARGIN_MB for the rest: flowgen's intake alone grows a node by
# about 8 MiB, however many flows it sends (the store writer's batches
# and thread, the thread pool, the store's pages), and the flood adds
# the exporter table's entries for its 4,000 sources and the allocator's
# (and AddressSanitizer's) slack. Measured: 18 to 20 MiB in all, with or
# without AddressSanitizer; a node without a template budget grows by
# some 65 MiB.
MARGIN_MB = 20
FLOOD = 4000                # templates in the flood, one per source id
FLOOD_BATCH = 100           # sent back to back, then FLOOD_PAUSE
FLOOD_PAUSE = 0.05

# IPFIX template of the crafted exporter (RFC 7012): sourceIPv4Address,
# destinationIPv4Address, sourceTransportPort, destinationTransportPort,
# protocolIdentifier, octetDeltaCount, packetDeltaCount.
FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 8)]
TPL_ID = 300


def set_(set_id, body):
    """A v9 flowset / IPFIX set (RFC 3954 5.2, RFC 7011 3.3.2)."""
    return struct.pack("!HH", set_id, 4 + len(body)) + body


def template_record(tid, fields):
    """A template record: id, field count, (type, length) pairs."""
    return struct.pack("!HH", tid, len(fields)) + b"".join(
        struct.pack("!HH", t, n) for t, n in fields)


def ipfix(domain, seq, sets):
    """An IPFIX message (RFC 7011 3.1)."""
    body = b"".join(sets)
    return struct.pack("!HHIII", 10, 16 + len(body), EXPORT_S, seq,
                       domain) + body


def nf9(source_id, seq, sets):
    """A NetFlow v9 packet (RFC 3954 5.1), one record per set."""
    return struct.pack("!HHIIII", 9, len(sets), 600000, EXPORT_S, seq,
                       source_id) + b"".join(sets)


def records(n, seed):
    """n data records for FIELDS."""
    return b"".join(struct.pack(
        "!4s4sHHBQQ", socket.inet_aton("10.%d.0.%d" % (seed % 250, i + 1)),
        socket.inet_aton("10.%d.1.%d" % (seed % 250, i + 1)), 40000 + i,
        443, 6, 1000 + i, 1 + i) for i in range(n))


# The flood's template: 1,024 counters (octetDeltaCount, packetDeltaCount
# in turn, 4 bytes each), the most fields a node accepts.
WIDE = [(1 + i % 2, 4) for i in range(1024)]


def wide_template(i):
    """Flood packet i: template 256 = WIDE, source id 1000 + i; v9 and
    IPFIX in turn."""
    rec = template_record(256, WIDE)
    if i % 2:
        return ipfix(1000 + i, 0, [set_(2, rec)])
    return nf9(1000 + i, 0, [set_(0, rec)])


def rss_kb(pid):
    """VmRSS of process pid, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def flowgen_cmd(*args):
    path = os.path.join(os.path.dirname(os.path.abspath(fflib.BIN)),
                        "bench", "flowgen")
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is missing: make integration builds it"
                             % path)
    return [path, *args, "--json"]


def knows_template_memory(tc):
    """Whether this build has the template-memory keyword ('run -n'
    checks a configuration)."""
    conf = os.path.join(tc.tmp, "probe.conf")
    with open(conf, "w") as f:
        f.write('state-dir "%s"\ntemplate-memory %dM\n' % (
            os.path.join(tc.tmp, "probe"), BUDGET_MB))
    return run([fflib.binpath("flowfleet-node"), "run", "-n", "-c", conf],
               check=False).returncode == 0


class TplNode(Node):
    def query_totals(self):
        cp = run(self.cmd("query", "-c", self.conf, "--json"), timeout=60,
                 env=dict(os.environ, TZ="UTC"))
        import json
        t = json.loads(cp.stdout)["totals"]
        return t["flows"]

    def wait_flows(self, n, timeout=60.0):
        """Wait until n flows are decoded and committed; return stats."""
        def ok():
            st = self.stats()
            s = st.get("store", {})
            return st if (st["totals"]["flows"] >= n and
                          s.get("queued") == 0 and
                          s.get("pending") == 0) else None
        return wait_for(ok, timeout=timeout, step=0.1,
                        what="%s to store %d flows" % (self.name, n))


class QuarantineOff(ProcTestCase):
    """Under AddressSanitizer, freed memory is kept aside (quarantine,
    256 MB by default) instead of being reused, which an RSS bound on
    evicting code cannot survive: the nodes of these tests run with a
    small quarantine. Without ASan this changes nothing."""

    def setUp(self):
        super().setUp()
        old = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = ((old + ":") if old else "") + \
            "quarantine_size_mb=1"

        def restore():
            if old is None:
                os.environ.pop("ASAN_OPTIONS", None)
            else:
                os.environ["ASAN_OPTIONS"] = old
        self.addCleanup(restore)


class TemplateFlood(QuarantineOff):
    ADDR = "127.0.94.1"
    FLOOD_SRC = "127.94.0.1"
    LEGIT_SRC = "127.94.1.1"
    DOMAIN = 77

    def test_flood_within_budget_intake_whole_templates_kept(self):
        state = os.path.join(self.tmp, "state")
        # An older build has no template-memory: it runs with its
        # defaults and must meet the same bounds.
        extra = "store-sync no\n"
        if knows_template_memory(self):
            extra += "template-memory %dM\n" % BUDGET_MB
        n = TplNode(self, self.ADDR, name="flooded", state_dir=state,
                    extra=extra).start()
        pid = n.proc.pid
        legit = fflib.udp_sender(self.LEGIT_SRC, (self.ADDR, n.port))
        flood = fflib.udp_sender(self.FLOOD_SRC, (self.ADDR, n.port))
        # the crafted exporter: its template, then data
        legit.send(ipfix(self.DOMAIN, 0, [set_(2, template_record(
            TPL_ID, FIELDS)), set_(TPL_ID, records(10, 0))]))
        legit_flows = 10
        n.wait_datagrams(1)
        base = rss_kb(pid)

        # generated intake, all through the flood
        fg = self.spawn(flowgen_cmd("--send", self.ADDR, "-p", str(n.port),
                                    "-n", "60000", "--fps", "15000",
                                    "-s", "5", "-t", "60"),
                        log_name="flowgen.log")
        wait_for(lambda: n.stats()["totals"]["flows"] > legit_flows,
                 timeout=20, what="flowgen's first flows")
        peak = rss_kb(pid)
        seq = 1
        for i in range(FLOOD):
            flood.send(wide_template(i))
            if i % FLOOD_BATCH == FLOOD_BATCH - 1:
                time.sleep(FLOOD_PAUSE)
                peak = max(peak, rss_kb(pid))
                # the crafted exporter keeps sending data
                legit.send(ipfix(self.DOMAIN, seq, [set_(
                    TPL_ID, records(5, seq))]))
                seq += 5
                legit_flows += 5
        self.assertEqual(fg.wait(timeout=90), 0, self.log_text(fg))
        import json
        gen = json.loads(open(fg.log_path).read())
        self.assertEqual(gen["refused"], 0)
        st = n.wait_flows(gen["flows"] + legit_flows)
        peak = max(peak, rss_kb(pid))
        grew_mb = (peak - base) / 1024.0

        # every flow sent is stored: flowgen's and the crafted ones
        self.assertEqual(st["totals"]["flows"], gen["flows"] + legit_flows)
        self.assertEqual(n.query_totals(), gen["flows"] + legit_flows)
        self.assertLessEqual(
            grew_mb, 2 * BUDGET_MB + MARGIN_MB,
            "RSS grew by %.1f MiB during the flood (from %.1f MiB); "
            "template-memory %d MiB" % (grew_mb, base / 1024.0,
                                        BUDGET_MB))
        tp = st["templates"]
        self.assertLessEqual(tp["bytes"], BUDGET_MB << 20)
        self.assertGreater(tp["evicted"], 0)
        mine = fflib.exporter(st, self.LEGIT_SRC, "ipfix")[0]
        self.assertEqual((mine["no_template"], mine["flows"]),
                         (0, legit_flows))
        gens = [e for e in st["exporters"] if e["protocol"] == "netflow9"
                and e["address"] != self.FLOOD_SRC]
        self.assertEqual(sum(e["no_template"] for e in gens), 0)
        self.assertEqual(sum(e["flows"] for e in gens), gen["flows"])
        legit.close()
        flood.close()

        # the template file is bounded like the memory
        self.assertEqual(n.stop(), 0, n.log())
        size = os.path.getsize(os.path.join(state, "templates.bin"))
        self.assertLessEqual(size, BUDGET_MB << 20)

        # restarted: the crafted exporter's data decodes at once
        b = TplNode(self, self.ADDR, name="restarted", state_dir=state,
                    extra=extra).start()
        s = fflib.udp_sender(self.LEGIT_SRC, (self.ADDR, b.port))
        s.send(ipfix(self.DOMAIN, seq, [set_(TPL_ID, records(7, 99))]))
        st = b.wait_datagrams(1)
        s.close()
        self.assertEqual(st["totals"]["flows"], 7)
        mine = fflib.exporter(st, self.LEGIT_SRC, "ipfix")[0]
        self.assertEqual((mine["no_template"], mine["templates"]), (0, 0))
        self.assertFalse(st["templates"]["load_failed"])
        self.assertEqual(st["templates"]["load_damaged"], 0)
        self.assertEqual(b.stop(), 0, b.log())


class TemplateFileDamage(QuarantineOff):
    """EXPORTERS crafted IPFIX exporters (observation domains 1..N) send
    a template each; the node stops and saves them; templates.bin is
    damaged; a new node on the state directory gets data from every
    exporter without a template: the exporters whose templates were in
    the damaged bytes are the only ones that cannot be decoded."""

    ADDR = "127.0.94.2"
    SRC = "127.94.2.1"
    EXPORTERS = 40
    PER = 4                 # records per data packet

    def saved_state(self):
        state = os.path.join(self.tmp, "state")
        n = Node(self, self.ADDR, name="first", state_dir=state).start()
        s = fflib.udp_sender(self.SRC, (self.ADDR, n.port))
        for d in range(1, self.EXPORTERS + 1):
            s.send(ipfix(d, 0, [set_(2, template_record(TPL_ID, FIELDS))]))
        n.wait_datagrams(self.EXPORTERS)
        s.close()
        self.assertEqual(n.stop(), 0, n.log())
        path = os.path.join(state, "templates.bin")
        self.assertTrue(os.path.exists(path))
        return state, path

    def decoded_after_restart(self, state):
        """Start a node on state; send PER records from every exporter
        (no template); return (stats, exporters decoded)."""
        n = Node(self, self.ADDR, name="second", state_dir=state).start()
        s = fflib.udp_sender(self.SRC, (self.ADDR, n.port))
        for d in range(1, self.EXPORTERS + 1):
            s.send(ipfix(d, 0, [set_(TPL_ID, records(self.PER, d))]))
        st = n.wait_datagrams(self.EXPORTERS)
        s.close()
        self.assertEqual(n.stop(), 0, n.log())
        ok = [e for e in st["exporters"] if e["flows"] == self.PER]
        self.assertEqual(st["totals"]["flows"], self.PER * len(ok))
        return st, len(ok)

    def test_bytes_flipped_in_the_middle(self):
        state, path = self.saved_state()
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            mid = len(data) // 2
            for i in range(mid, mid + 16):
                data[i] ^= 0xff
            f.seek(0)
            f.write(data)
        st, ok = self.decoded_after_restart(state)
        # 16 bytes touch at most two records: one template lost at most
        self.assertGreaterEqual(ok, self.EXPORTERS - 1)
        self.assertLess(ok, self.EXPORTERS + 1)
        tp = st["templates"]
        self.assertFalse(tp["load_failed"])
        self.assertEqual(tp["load_damaged"], 1)
        self.assertEqual(tp["loaded_templates"], ok)

    def test_cut_short(self):
        state, path = self.saved_state()
        size = os.path.getsize(path)
        os.truncate(path, size * 2 // 3)
        st, ok = self.decoded_after_restart(state)
        # about two thirds of the templates survive (the records are of
        # equal size); the one cut through is lost
        self.assertGreaterEqual(ok, self.EXPORTERS * 2 // 3 - 2)
        self.assertLess(ok, self.EXPORTERS)
        tp = st["templates"]
        self.assertFalse(tp["load_failed"])
        self.assertEqual(tp["load_damaged"], 1)
        self.assertEqual(tp["loaded_templates"], ok)

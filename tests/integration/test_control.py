"""The secure control plane: flowfleet-controller, the nodes'
control (2210) and query (4210) channels over mutual TLS, enrollment by
fingerprint and by join token, the inventory, and the flowfleet CLI.

Real processes on loopback: each node on its own 127.0.42.x address with
the standard ports 2210 and 4210; the controller's socket and state in
the test's directory. Misbehaving peers are played by the test in Python
(fflib.tls_client, fflib.FakeNode), speaking the protocol from
wire/PROTOCOL.md independently of the C code. Every process is stopped by
PID at tearDown; every wait is bounded.
"""
import json
import os
import re
import signal
import socket
import ssl
import stat
import time

from fflib import (ERROR, HELLO, PING, PONG, STATUS_GET, Controller,
                   FakeNode, Node, ProcTestCase, WirePeer, binpath,
                   controller_hello, node_fingerprint, run, tls_client,
                   wait_for)

NET = "127.0.42."
CTL_CAP = 1 << 20      # WIRE_MAX_FRAME_CONTROL
QUERY_CAP = 16 << 20   # WIRE_MAX_FRAME_QUERY
CHANNELS = (("control", 2210, CTL_CAP), ("query", 4210, QUERY_CAP))
PEER_TICK_MS = 100     # the controller's tick (controller/controller.h)


def proc_state(pid):
    """The state letter of process pid (R, S, T...), from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class ControlCase(ProcTestCase):
    """Helpers: a controller, and nodes on 127.0.42.i:2210/4210."""

    def controller(self, name="ctl", extra=""):
        return Controller(self, name, extra).start()

    def node(self, i, name, trust=None, token=None, state_dir=None):
        addr = NET + str(i)
        extra = ("name %s\ncontrol-listen %s:2210\nquery-listen %s:4210\n"
                 % (name, addr, addr))
        if trust:
            extra += "controller-fingerprint %s\n" % trust
        if token:
            extra += "join-token %s\n" % token
        return Node(self, addr, name=name, extra=extra, state_dir=state_dir)

    def enrolled(self, c, i, name, *labels):
        """A running node enrolled in c by its fingerprint; returns
        (node, its fingerprint)."""
        n = self.node(i, name, trust=c.fingerprint())
        fp = node_fingerprint(n.conf)
        args = ["nodes", "add", name, n.addr, "--fingerprint", fp]
        for lab in labels:
            args += ["--label", lab]
        c.cli(*args, check=True)
        n.start()
        return n, fp

    def wait_log(self, proc_log, pattern, timeout=15.0, what=None):
        """Wait until the log (a function returning text) matches the
        regular expression; return the match."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(proc_log()), timeout=timeout,
                        step=0.1, what=what or "log line /%s/" % pattern)


# --- enrollment --------------------------------------------------------------

class JoinTokenTest(ControlCase):

    def test_join_token_works_once(self):
        c = self.controller()
        cfp = c.fingerprint()
        addr = NET + "1"
        cp = c.cli("nodes", "add", "n1", addr, "--label", "site=a",
                   check=True)
        token = cp.stdout.strip()
        # PROTOCOL.md: ffj1.<controller fingerprint hex>.<43-char secret>
        self.assertRegex(token, r"^ffj1\.[0-9a-f]{64}\.[A-Za-z0-9_-]{43}$")
        self.assertEqual(token.split(".")[1], cfp[len("sha256:"):])
        self.assertIn("can be used once", cp.stderr)
        n = c.node("n1")
        self.assertEqual(n["state"], "pending")
        self.assertEqual(n["fingerprint"], "")
        self.assertEqual(n["token"]["state"], "unused")

        node = self.node(1, "n1", token=token).start()
        nfp = node_fingerprint(node.conf)
        n = c.wait_state("n1", "up", timeout=15, query="up")
        self.assertEqual(n["fingerprint"], nfp)
        self.assertEqual(n["token"]["state"], "used")
        self.assertEqual(n["token"]["used_by"], nfp)
        self.assertEqual(n["labels"], ["site=a"])
        self.assertIn("node n1: enrolled with key %s (join token)" % nfp,
                      c.log())
        self.assertIn("accepted our join token: enrolled as n1", node.log())
        with open(os.path.join(node.state_dir, "controller.pin")) as f:
            pin = f.read()
        self.assertIn("controller %s\n" % cfp, pin)
        self.assertRegex(pin, r"\njoined [0-9a-f]{64}\n")

        # The same node restarts with the same configuration: it knows the
        # token is spent, does not send it, and is up on its pinned key.
        node.stop()
        node.start()
        c.wait_state("n1", "up", timeout=15, query="up")
        self.assertIn("join token in the configuration was used already",
                      node.log())

        # Second use: another key (a fresh state directory) at the same
        # address with the same token.
        node.stop()
        other = self.node(1, "n1b", token=token).start()
        ofp = node_fingerprint(other.conf)
        self.assertNotEqual(ofp, nfp)
        self.wait_log(c.log, r"node n1: control channel: refused "
                      r"%s:2210 \(key %s\): join "
                      r"token refused: used" % (re.escape(addr), ofp))
        self.wait_log(other.log, r"refused our join token \(-12\): join "
                      r"token refused: used")
        n = c.node("n1")
        self.assertEqual(n["fingerprint"], nfp)
        self.assertNotEqual(n["state"], "up")

    def test_wrong_and_expired_tokens_are_refused(self):
        c = self.controller()
        t2 = c.cli("nodes", "add", "n2", NET + "2", check=True).stdout.strip()
        # a well-formed secret that is not n2's: the secret of another
        # token (node n9's), with n2's token's controller part
        t9 = c.cli("nodes", "add", "n9", NET + "9", check=True).stdout.strip()
        c.cli("nodes", "remove", "n9", check=True)
        wrong = t2[:70] + t9[70:]
        self.assertNotEqual(wrong, t2)
        node = self.node(2, "n2", token=wrong).start()
        nfp = node_fingerprint(node.conf)
        self.wait_log(c.log, r"node n2: control channel: refused "
                      r"%s:2210 \(key %s\): join "
                      r"token refused: wrong" % (re.escape(NET + "2"), nfp))
        self.wait_log(node.log, r"refused our join token \(-12\): join "
                      r"token refused: wrong")
        n = c.node("n2")
        self.assertEqual(n["fingerprint"], "")
        self.assertEqual(n["token"]["state"], "unused")

        t3 = c.cli("nodes", "add", "n3", NET + "3", "--ttl", "1s",
                   check=True).stdout.strip()
        c.wait_state("n3", "token-expired", timeout=5)
        node3 = self.node(3, "n3", token=t3).start()
        fp3 = node_fingerprint(node3.conf)
        self.wait_log(c.log, r"node n3: control channel: refused "
                      r"%s:2210 \(key %s\): join "
                      r"token refused: expired" % (re.escape(NET + "3"), fp3))
        self.wait_log(node3.log, r"join token refused: expired")
        self.assertEqual(c.node("n3")["fingerprint"], "")


# --- refusals ----------------------------------------------------------------

class RefusalTest(ControlCase):
    """Peers without the right key are refused on both ports, and the
    refusing side logs the peer's address and key."""

    def setUp(self):
        super().setUp()
        self.c = self.controller()
        self.cfp = self.c.fingerprint()
        self.a, self.afp = self.enrolled(self.c, 1, "a")
        self.since = self.c.wait_state("a", "up", timeout=15,
                                       query="up")["control"]["since_ms"]

    def assert_a_undisturbed(self):
        """Node a's session with the controller never dropped."""
        n = self.c.node("a")
        self.assertEqual(n["state"], "up")
        self.assertEqual(n["query"]["state"], "up")
        self.assertEqual(n["control"]["since_ms"], self.since)

    def test_unenrolled_node_key_is_refused_on_both_ports(self):
        # b trusts the controller, but the controller pinned another key
        # for it (that of a node that never runs).
        scratch = self.node(9, "scratch")
        xfp = node_fingerprint(scratch.conf)
        b = self.node(2, "b", trust=self.cfp).start()
        bfp = node_fingerprint(b.conf)
        self.c.cli("nodes", "add", "b", b.addr, "--fingerprint", xfp,
                   check=True)
        for ch, port, _ in CHANNELS:
            self.wait_log(self.c.log, r"node b: %s channel: refused "
                          r"%s:%d: its key %s is not the enrolled key %s"
                          % (ch, re.escape(b.addr), port, bfp, xfp))
        n = self.c.node("b")
        self.assertEqual(n["state"], "down")
        self.assertEqual(n["query"]["state"], "down")
        self.assertIn("is not the enrolled key", n["control"]["error"])
        self.assert_a_undisturbed()

    def test_controller_with_wrong_key_is_refused_on_both_ports(self):
        c2 = self.controller(name="ctl2")
        c2fp = c2.fingerprint()
        self.assertNotEqual(c2fp, self.cfp)
        c2.cli("nodes", "add", "a", self.a.addr, "--fingerprint", self.afp,
               check=True)
        for ch, port, _ in CHANNELS:
            self.wait_log(self.a.log, r"%s %s:%d: refused 127\.0\.0\.1:\d+ "
                          r"\(key %s\)" % (ch, re.escape(self.a.addr), port,
                                           c2fp))
        n = wait_for(lambda: (lambda x: x if x["control"]["failures"] > 0
                              and x["query"]["failures"] > 0 else None)(
            c2.node("a")), what="ctl2's attempts to fail")
        self.assertNotEqual(n["state"], "up")
        self.assertIn("does the node trust this controller's key?",
                      n["control"]["error"])
        self.assert_a_undisturbed()

    def test_plain_tcp_client_is_refused_on_both_ports(self):
        for ch, port, _ in CHANNELS:
            s = socket.create_connection((self.a.addr, port), timeout=10)
            local = s.getsockname()[1]
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            got = b""
            try:
                while True:    # until the node closes (bounded by timeout)
                    d = s.recv(4096)
                    if not d:
                        break
                    got += d
            except ConnectionResetError:
                pass           # closed with our bytes unread: a reset
            s.close()
            self.assertNotIn(b"HTTP", got)
            self.wait_log(self.a.log, r"%s %s:%d: refused 127\.0\.0\.1:%d "
                          r"\(key none presented\): TLS handshake" % (
                              ch, re.escape(self.a.addr), port, local))
        self.assert_a_undisturbed()

    def test_tls_client_without_certificate_is_refused_on_both_ports(self):
        for ch, port, _ in CHANNELS:
            raw = socket.create_connection((self.a.addr, port), timeout=10)
            local = raw.getsockname()[1]
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            answered = None
            try:
                ts = ctx.wrap_socket(raw)
                ts.sendall(b"\x00\x00\x00\x01\x90")
                answered = ts.recv(4096)   # the node's alert or EOF
                ts.close()
            except (ssl.SSLError, ConnectionError):
                raw.close()
            self.assertFalse(answered)
            self.wait_log(self.a.log, r"%s %s:%d: refused 127\.0\.0\.1:%d "
                          r"\(key none presented\): TLS handshake.*no "
                          r"certificate" % (ch, re.escape(self.a.addr), port,
                                            local))
        self.assert_a_undisturbed()

    def test_connections_in_handshake_are_bounded(self):
        # SESS_MAX_HANDSHAKES_SOURCE (node/session.h): 8 per address and
        # listener. An idle TCP connection would hold its slot until the
        # 10 s handshake deadline; a 9th from the same address pushes out
        # the oldest of them, not itself.
        idle = []
        try:
            for _ in range(8):
                idle.append(socket.create_connection((self.a.addr, 2210),
                                                     timeout=10))
                time.sleep(0.05)    # accepted in this order
            time.sleep(0.5)         # let the node accept all 8
            self.assertNotIn("to make room", self.a.log())
            oldest = idle[0].getsockname()[1]
            extra = socket.create_connection((self.a.addr, 2210),
                                             timeout=10)
            idle.append(extra)
            self.wait_log(self.a.log, r"control %s:2210: closed "
                          r"127\.0\.0\.1:%d \(key none presented\) after "
                          r"\d+ ms in the TLS handshake, to make room for a "
                          r"new connection: 9 connections from 127\.0\.0\.1 "
                          r"in TLS handshake \(at most 8 per address\)"
                          % (re.escape(self.a.addr), oldest))
            try:
                self.assertEqual(idle[0].recv(16), b"")  # closed
            except ConnectionResetError:
                pass
            extra.setblocking(False)
            with self.assertRaises(BlockingIOError):    # still waited on
                extra.recv(16)
        finally:
            for s in idle:
                s.close()
        self.assert_a_undisturbed()

    def test_node_without_pin_refuses_everyone(self):
        lone = self.node(3, "lone").start()
        self.assertIn("no controller key is pinned and there is no join "
                      "token: every connection on the control and query "
                      "ports will be refused", lone.log())
        self.c.cli("nodes", "add", "lone", lone.addr, "--fingerprint",
                   node_fingerprint(lone.conf), check=True)
        for ch, port, _ in CHANNELS:
            self.wait_log(lone.log, r"%s %s:%d: refused 127\.0\.0\.1:\d+ "
                          r"\(key %s\)" % (ch, re.escape(lone.addr), port,
                                           self.cfp))
        self.assertNotEqual(self.c.node("lone")["state"], "up")


# --- bad frames --------------------------------------------------------------

def garbage(p):
    """A frame whose payload is not msgpack (0xc1 is never used)."""
    p.send_raw(b"\x00\x00\x00\x08" + b"\xc1" * 8)


def truncated(p):
    """A frame header announcing 100 bytes, 10 of them, then EOF."""
    p.send_raw((100).to_bytes(4, "big") + b"x" * 10)
    p.sock.shutdown(socket.SHUT_WR)


def over_cap(cap):
    def send(p):
        p.send_raw((cap + 1).to_bytes(4, "big") + b"\x00" * 16)
    return send


class BadFramesTest(ControlCase):
    """Garbage, a truncated frame, a frame over the cap and a frame of an
    unknown type cost only that connection (or get an ERROR reply): the
    daemon keeps serving its other peers."""

    def setUp(self):
        super().setUp()
        self.c = self.controller()
        self.a, self.afp = self.enrolled(self.c, 1, "a")
        self.since = self.c.wait_state("a", "up", timeout=15,
                                       query="up")["control"]["since_ms"]

    def session_to_a(self, ch, port):
        """A second controller session to node a, with the controller's
        own key (the node accepts it), past the HELLO exchange."""
        p = WirePeer(tls_client(self.a.addr, port, self.c.cert, self.c.key))
        p.send(HELLO, 0, controller_hello(ch))
        m = p.recv()
        self.assertEqual(m[0], HELLO)
        self.assertEqual(m[2]["role"], "node")
        self.assertEqual(m[2]["channel"], ch)
        self.assertEqual(m[2]["name"], "a")
        return p, p.sock.getsockname()[1]

    def assert_a_serves_controller(self):
        """a's session with the real controller is the same one as at the
        start, and a still answers it (a fresh STATUS arrives)."""
        n = self.c.node("a")
        self.assertEqual(n["state"], "up")
        self.assertEqual(n["query"]["state"], "up")
        self.assertEqual(n["control"]["since_ms"], self.since)
        before = n["counters_ms"]
        # status-interval is 5 s by default
        wait_for(lambda: self.c.node("a")["counters_ms"] > before,
                 timeout=12, what="a fresh STATUS from a")

    def test_node_drops_only_the_bad_connection(self):
        for ch, port, cap in CHANNELS:
            where = r"%s %s:%d" % (ch, re.escape(self.a.addr), port)
            p, local = self.session_to_a(ch, port)
            garbage(p)
            self.assertIsNone(p.recv())
            self.wait_log(self.a.log, r"%s: session with 127\.0\.0\.1:%d "
                          r"\(key %s\) lost: undecodable message" % (
                              where, local, self.c.fingerprint()))

            p, local = self.session_to_a(ch, port)
            truncated(p)
            self.assertIsNone(p.recv())
            self.wait_log(self.a.log, r"%s: session with 127\.0\.0\.1:%d "
                          r"\(key \S+\) lost: closed by peer in the middle "
                          r"of a frame \(14 of 104 bytes\)" % (where, local))

            p, local = self.session_to_a(ch, port)
            over_cap(cap)(p)
            self.assertIsNone(p.recv())
            self.wait_log(self.a.log, r"%s: session with 127\.0\.0\.1:%d "
                          r"\(key \S+\) lost: frame of %d bytes is over the "
                          r"%d-byte cap" % (where, local, cap + 1, cap))

            p, local = self.session_to_a(ch, port)
            p.send(99, 7, {})
            m = p.recv()
            self.assertEqual((m[0], m[1], m[2]["code"]), (ERROR, 7, -17))
            # the same connection still serves
            p.send(PING, 8, {"t1": 12345})
            m = p.recv()
            self.assertEqual((m[0], m[1], m[2]["t1"]), (PONG, 8, 12345))
            p.close()
            self.wait_log(self.a.log, r"%s: 127\.0\.0\.1:%d sent a message "
                          r"of unknown type 99" % (where, local))
            self.assert_a_serves_controller()

        # a control message on the query channel is a protocol error: an
        # ERROR (-5) and that connection closes
        p, local = self.session_to_a("query", 4210)
        p.send(STATUS_GET, 3, {})
        m = p.recv()
        self.assertEqual((m[0], m[1], m[2]["code"]), (ERROR, 3, -5))
        self.assertIsNone(p.recv())
        self.assert_a_serves_controller()
        self.assertIsNone(self.a.proc.poll())

    def test_controller_drops_only_the_bad_connection(self):
        replies = []

        def unknown(p):
            p.send(99, 5, {})
            replies.append(p.recv())

        def closed(fn):
            def run_(p):
                fn(p)
                self.assertIsNone(p.recv())
            return run_

        fake = FakeNode(self, NET + "9", self.c.cert, scripts={
            "control": [closed(garbage), closed(truncated),
                        closed(over_cap(CTL_CAP)), unknown]}).start()
        self.c.cli("nodes", "add", "fake", fake.addr, "--fingerprint",
                   fake.fp, check=True)
        for pat in (r"undecodable message",
                    r"closed by peer in the middle of a frame \(14 of 104 "
                    r"bytes\)",
                    r"frame of %d bytes is over the %d-byte cap" % (
                        CTL_CAP + 1, CTL_CAP)):
            self.wait_log(self.c.log, r"node fake: control channel down: "
                          + pat, timeout=20)
        n = self.c.wait_state("fake", "up", timeout=20, query="up")
        self.assertEqual(n["version"], "0.0.0-fake")
        wait_for(lambda: replies, what="the reply to the unknown type")
        self.assertEqual((replies[0][0], replies[0][1],
                          replies[0][2]["code"]), (ERROR, 5, -17))
        self.assertIn("node fake: control channel: message of unknown type "
                      "99: answered with an error", self.c.log())
        # the fake's fourth control connection stayed up after the ERROR
        self.assertEqual(fake.conns["control"], 4)
        self.assert_a_serves_controller()
        self.assertIsNone(self.c.proc.poll())


# --- heartbeats and clocks ---------------------------------------------------

class ClockTest(ControlCase):

    def test_clock_offset_is_measured_and_warned_of(self):
        # Both ends read the same clock, so the true offset is the skew
        # the fake adds (0 for a real node). With t1..t4 in whole ms
        # (t1 <= t2 <= t3 <= t4 in real time), a sample's error is at most
        # half its round trip rtt = (t4 - t1) - (t3 - t2), rounded up as
        # the controller halves in whole ms. So each offset is checked
        # against the round trip the controller reports with it, not
        # against a fixed time.
        skew = 5000
        c = self.controller(extra="clock-warn 1s\n")
        a, _ = self.enrolled(c, 1, "a")
        # a node whose clock is 5 s ahead (it stamps PONG t2/t3 so)
        fake = FakeNode(self, NET + "9", c.cert, skew_ms=skew).start()
        t_add = time.monotonic()
        c.cli("nodes", "add", "fake", fake.addr, "--fingerprint", fake.fp,
              check=True)
        c.wait_state("fake", "up", timeout=15)
        n = wait_for(lambda: (lambda x: x if "clock_offset_ms" in x
                              else None)(c.node("fake")),
                     what="an offset for fake")
        self.assertLessEqual(abs(n["clock_offset_ms"] - skew),
                             (n["rtt_ms"] + 1) // 2, n)
        self.assertTrue(n["clock_warning"])
        m = self.wait_log(c.log, r"node fake: its clock is (\d+) ms ahead "
                          r"of the controller's")
        # the warned sample's round trip lies within the time since the
        # node was added, as this test measured it (+1: whole ms)
        since_add_ms = (time.monotonic() - t_add) * 1000
        self.assertLessEqual(abs(int(m.group(1)) - skew),
                             since_add_ms / 2 + 1)
        na = wait_for(lambda: (lambda x: x if "clock_offset_ms" in x
                               else None)(c.node("a")),
                      what="an offset for a")
        self.assertLessEqual(abs(na["clock_offset_ms"]),
                             (na["rtt_ms"] + 1) // 2, na)
        self.assertFalse(na["clock_warning"])
        out = c.cli("status").stdout
        row = [l for l in out.splitlines() if l.startswith("fake ")][0]
        self.assertRegex(row, r"\s!\+\d+ms\s")
        # PING every 2 s: the fake saw PINGs on both channels
        self.assertTrue(fake.messages("control", PING))
        wait_for(lambda: fake.messages("query", PING),
                 what="a PING on the query channel")


# --- the fleet ---------------------------------------------------------------

def status_rows(text):
    """name -> row cells of 'flowfleet status' (the table after the blank
    line; cells are separated by at least two blanks, and may hold one,
    as in "3s ago")."""
    lines = text.split("\n\n", 1)[1].strip().splitlines()
    hdr = re.split(r"\s{2,}", lines[0].strip())
    rows = [re.split(r"\s{2,}", l.strip()) for l in lines[1:]]
    for r in rows:
        assert len(r) == len(hdr), (hdr, r)
    return {r[0]: dict(zip(hdr, r)) for r in rows}


class FleetTest(ControlCase):

    def inventory(self, c):
        """The persistent part of each node's record."""
        return {name: (n["address"], n["fingerprint"], n["labels"],
                       n["added_ms"], n["enrolled_ms"],
                       n.get("token", {}).get("state"))
                for name, n in c.nodes().items()}

    def test_five_nodes_down_up_and_controller_restart(self):
        c = self.controller()
        nodes = {}
        for i in (1, 2, 3):     # enrolled by join token
            name = "n%d" % i
            tok = c.cli("nodes", "add", name, NET + str(10 + i), "--label",
                        "group=tok", check=True).stdout.strip()
            nodes[name] = self.node(10 + i, name, token=tok).start()
        for i in (4, 5):        # enrolled by fingerprint
            nodes["n%d" % i], _ = self.enrolled(c, 10 + i, "n%d" % i,
                                                "group=fp", "site=x")
        for name in nodes:
            c.wait_state(name, "up", timeout=15, query="up")
        inv = self.inventory(c)
        self.assertEqual(sorted(inv), ["n1", "n2", "n3", "n4", "n5"])
        self.assertTrue(all(v[1].startswith("sha256:") for v in inv.values()))

        cp = c.cli("status")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("nodes: 5, up 5, not up 0", cp.stdout)

        # kill a node: down within 10 s
        nodes["n2"].stop(signal.SIGKILL)
        c.wait_state("n2", "down", timeout=10, query="down")
        # HEALTH and the rates come from a node's STATUS ('-' until the
        # controller has the first one): wait for it, not for time
        wait_for(lambda: all(n["counters_ms"] for name, n in
                             c.nodes().items() if name != "n2"),
                 timeout=15, step=0.1,
                 what="a STATUS from every node that is up")
        cp = c.cli("status")
        self.assertEqual(cp.returncode, 4)     # some node is not up
        self.assertIn("nodes: 5, up 4, not up 1", cp.stdout)
        rows = status_rows(cp.stdout)
        self.assertEqual(rows["n2"]["STATE"], "down")
        self.assertEqual(rows["n2"]["QUERY"], "down")
        for name in ("n1", "n3", "n4", "n5"):
            self.assertEqual(rows[name]["STATE"], "up", cp.stdout)
            self.assertEqual(rows[name]["QUERY"], "up")
            self.assertEqual(rows[name]["VERSION"], "0.1.0")
            self.assertEqual(rows[name]["HEALTH"], "ok")
        js = json.loads(c.cli("--json", "status").stdout)
        self.assertEqual({n["name"]: n["state"] for n in js["nodes"]},
                         {"n1": "up", "n2": "down", "n3": "up", "n4": "up",
                          "n5": "up"})

        # restart it: up within 10 s of its start
        nodes["n2"].start()
        c.wait_state("n2", "up", timeout=10, query="up")

        # a node that stops answering without closing (SIGSTOP): the
        # missing PONGs take it down within 10 s (2 s x 3 by default)
        os.kill(nodes["n3"].proc.pid, signal.SIGSTOP)
        try:
            c.wait_state("n3", "down", timeout=10)
            self.assertRegex(c.log(), r"node n3: control channel down: no "
                             r"PONG for \d+ ms \(3 pings\)")
        finally:
            os.kill(nodes["n3"].proc.pid, signal.SIGCONT)
        c.wait_state("n3", "up", timeout=10, query="up")

        # restart the controller: inventory and pins intact, every node
        # reconnects
        self.assertEqual(c.stop(), 0)
        c.start()
        self.assertEqual(self.inventory(c), inv)
        for name in nodes:
            c.wait_state(name, "up", timeout=10, query="up")
        self.assertEqual(c.cli("status").returncode, 0)
        for name in ("n1", "n2", "n3"):
            self.assertEqual(c.node(name)["token"]["state"], "used")

        # and after a crash (SIGKILL: no clean stop, a stale socket left
        # behind): the pins were durable when they were made
        c.stop(signal.SIGKILL)
        c.start()
        self.assertEqual(self.inventory(c), inv)
        for name in nodes:
            c.wait_state(name, "up", timeout=10, query="up")


# --- the CLI and the socket --------------------------------------------------

class CliTest(ControlCase):

    def flowfleet(self, *args, sock=None):
        return run([binpath("flowfleet"), "-s",
                    sock or os.path.join(self.tmp, "none.sock"), *args],
                   check=False)

    def test_help_and_usage_errors(self):
        for args in (["--help"], ["help"], ["status", "--help"],
                     ["nodes", "add", "--help"], ["nodes", "list", "--help"],
                     ["nodes", "show", "--help"],
                     ["nodes", "remove", "--help"], ["help", "status"],
                     ["help", "nodes", "add"]):
            cp = self.flowfleet(*args)
            self.assertEqual(cp.returncode, 0, args)
            self.assertIn("usage: flowfleet", cp.stdout)
            self.assertIn("Exit status", cp.stdout)
        for args in (["nodes"], ["nodes", "add", "x"], ["bogus"],
                     ["nodes", "add", "bad name", "10.0.0.1"],
                     ["nodes", "add", "x", "10.0.0.1", "--fingerprint",
                      "zz"], ["nodes", "list", "extra"],
                     ["status", "--label", "x"]):
            cp = self.flowfleet(*args)
            self.assertEqual(cp.returncode, 2, (args, cp.stderr))
            self.assertIn("usage:", cp.stderr)
        for cmd in (["--help"], ["run", "--help"], ["fingerprint", "--help"]):
            cp = run([binpath("flowfleet-controller"), *cmd])
            self.assertIn("usage: flowfleet-controller", cp.stdout)
        cp = run([binpath("flowfleet-node"), "fingerprint", "--help"])
        self.assertIn("usage: flowfleet-node fingerprint", cp.stdout)

    def test_exit_codes_and_socket(self):
        cp = self.flowfleet("status")
        self.assertEqual(cp.returncode, 3)
        self.assertIn("cannot reach the controller", cp.stderr)

        # a stale socket (its owner died) is replaced
        path = os.path.join(self.tmp, "ctl.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.close()
        c = self.controller()
        self.assertIn("removed stale control socket", c.log())
        st = os.lstat(c.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        # a second controller on the same socket and state is refused
        cp = run([binpath("flowfleet-controller"), "run", "-f", "-c",
                  c.conf], check=False, timeout=30)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("another controller is running", cp.stderr)

        cp = c.cli("status")
        self.assertEqual(cp.returncode, 0)     # no nodes: all (none) up
        self.assertIn("nodes: 0, up 0, not up 0", cp.stdout)
        self.assertEqual(c.cli("nodes", "show", "x").returncode, 5)
        self.assertEqual(c.cli("nodes", "remove", "x").returncode, 5)
        fp = "sha256:" + "ab" * 32
        c.cli("nodes", "add", "x", NET + "7", "--fingerprint", fp,
              "--label", "a", "--label", "b", check=True)
        cp = c.cli("nodes", "add", "x", NET + "8", "--fingerprint", fp)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("exists already", cp.stderr)
        cp = c.cli("nodes", "add", "y", NET + "8", "--fingerprint", fp)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("has that key already", cp.stderr)
        cp = c.cli("nodes", "add", "z", "10.0.0.1:99999")
        self.assertEqual(cp.returncode, 1)
        self.assertIn("bad address", cp.stderr)
        cp = c.cli("nodes", "list")
        self.assertRegex(cp.stdout, r"(?m)^NAME\s+ADDRESS\s+STATE\s+KEY\s+"
                         r"LABELS\s+ADDED$")
        self.assertRegex(cp.stdout, r"(?m)^x\s+127\.0\.42\.7\s+\S+\s+"
                         r"sha256:abababababababab\.\.\.\s+a,b\s+")
        show = json.loads(c.cli("--json", "nodes", "show", "x").stdout)
        self.assertEqual(show["fingerprint"], fp)
        self.assertEqual(show["labels"], ["a", "b"])
        cp = c.cli("nodes", "remove", "x")
        self.assertEqual(cp.returncode, 0)
        self.assertIn("node x removed", cp.stdout)
        self.assertEqual(c.nodes(), {})

    def test_controller_config_errors_name_file_and_line(self):
        bad = os.path.join(self.tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("# comment\nping-interval 5 parsecs\n")
        cp = run([binpath("flowfleet-controller"), "run", "-n", "-c", bad],
                 check=False)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("bad.conf:2: ping-interval takes one argument",
                      cp.stderr)
        with open(bad, "w") as f:
            f.write("reconnect-min 10s\nreconnect-max 1s\n")
        cp = run([binpath("flowfleet-controller"), "run", "-n", "-c", bad],
                 check=False)
        self.assertIn("bad.conf:2: reconnect-max is shorter than "
                      "reconnect-min", cp.stderr)
        good = os.path.join(self.tmp, "good.conf")
        with open(good, "w") as f:
            f.write("ping-interval 500ms\nstate-dir /x/y/\n")
        cp = run([binpath("flowfleet-controller"), "run", "-n", "-v", "-c",
                  good])
        self.assertIn("ping-interval 500ms\n", cp.stdout)
        self.assertIn("state-dir /x/y\n", cp.stdout)


class StallTest(ControlCase):
    """A controller that does not run for longer than the heartbeats'
    dead window (SIGSTOP for 8 s; the window is 3 pings of 2 s): on
    SIGCONT its timers run before it reads the PONGs waiting in its
    sockets. The time it did not run is not counted against the nodes:
    they stay up, and the log says how long the controller was held."""

    def test_held_controller_keeps_its_nodes(self):
        c = self.controller()
        nodes = [self.enrolled(c, 60 + i, "h%d" % i)[0] for i in (1, 2)]
        for n in nodes:
            c.wait_state(n.name, "up", timeout=15, query="up")
        os.kill(c.proc.pid, signal.SIGSTOP)
        try:
            # stopped by now at the latest: from here to SIGCONT the
            # controller cannot tick
            wait_for(lambda: proc_state(c.proc.pid) == "T", timeout=5,
                     step=0.01, what="the controller to stop")
            t_stopped = time.monotonic()
            time.sleep(8)
        finally:
            t_cont = time.monotonic()
            os.kill(c.proc.pid, signal.SIGCONT)
        held_ms = (t_cont - t_stopped) * 1000
        time.sleep(1.5)         # ticks and pings after it
        for n in nodes:
            st = c.node(n.name)
            self.assertEqual((st["state"], st["query"]["state"]),
                             ("up", "up"), st)
        self.assertNotIn("channel down", c.log())
        m = re.search(r"the controller did not run for (\d+) ms", c.log())
        self.assertIsNotNone(m, c.log())
        # its last tick came before it stopped, the next after SIGCONT:
        # the gap it reports (less one tick period) covers the time this
        # test held it (-1: the controller's clock counts whole ms)
        self.assertGreaterEqual(int(m.group(1)),
                                held_ms - PEER_TICK_MS - 1)

"""The ways into a node and a controller that an unauthenticated local or
remote party can reach, and what they must not be able to do:

- hold the node's TLS ports (2210 control, 4210 query) with connections
  that never finish their handshake, so that the real controller cannot
  get back in (and the controller's word when a node closes a
  connection in the handshake without saying why);
- swap the files a daemon trusts (its state directory, key, pinned
  controller key) when their modes let other users write them;
- keep the flowfleet CLI waiting past its deadline with a controller
  that does not answer.

Real processes on loopback, nodes on 127.0.46.x with the standard ports.
Every process is stopped by PID at tearDown; every wait is bounded.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time

from fflib import (Controller, Node, ProcTestCase, binpath,
                   node_fingerprint, wait_for)

NET = "127.0.46."
PORTS = (2210, 4210)
IDLE = 40              # idle connections per port (over the cap of 32)
PER_ADDRESS = 8        # SESS_MAX_HANDSHAKES_SOURCE (node/session.h)
HEARTBEAT_S = 2.0      # the controller's ping-interval default (2s)


class ChannelCase(ProcTestCase):

    def controller(self, name="ctl", extra=""):
        return Controller(self, name, extra).start()

    def node(self, i, name, trust=None, state_dir=None, extra=""):
        addr = NET + str(i)
        extra = ("name %s\ncontrol-listen %s:2210\nquery-listen %s:4210\n"
                 % (name, addr, addr)) + extra
        if trust:
            extra += "controller-fingerprint %s\n" % trust
        return Node(self, addr, name=name, extra=extra, state_dir=state_dir)


# --- A. the handshake slots ---------------------------------------------------

class HandshakeSlotTest(ChannelCase):
    """Connections that sit in the TLS handshake without sending a byte
    (from one address, or spread over several) must not keep the
    controller out: it is back "up" within one heartbeat interval of its
    restart while they are all still open."""

    def setUp(self):
        super().setUp()
        self.c = self.controller()
        self.n = self.node(1, "a", trust=self.c.fingerprint())
        fp = node_fingerprint(self.n.conf)
        self.c.cli("nodes", "add", "a", self.n.addr, "--fingerprint", fp,
                   check=True)
        self.n.start()
        self.c.wait_state("a", "up", timeout=15, query="up")
        self.idle = []
        self.addCleanup(self.close_idle)

    def close_idle(self):
        for s in self.idle:
            s.close()
        self.idle = []

    def open_idle(self, sources, per_source):
        """per_source idle connections from each source address to each
        of the node's ports; send nothing."""
        for port in PORTS:
            for src in sources:
                for _ in range(per_source):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.bind((src, 0))
                    s.settimeout(5)
                    s.connect((self.n.addr, port))
                    self.idle.append(s)

    def closed_by_node(self):
        """How many of the idle connections the node has closed."""
        n = 0
        for s in self.idle:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    n += 1
            except BlockingIOError:
                pass
            except ConnectionResetError:
                n += 1
        return n

    def restart_controller_and_wait(self):
        """Restart the controller; return how long after the restart the
        node was up on both channels (None: not within a heartbeat)."""
        t0 = time.monotonic()
        self.c.start()
        try:
            self.c.wait_state("a", "up", timeout=HEARTBEAT_S, query="up")
        except AssertionError:
            return None
        return time.monotonic() - t0

    def check_back_in(self, sources, per_source, evicted_rx):
        self.c.stop()
        self.open_idle(sources, per_source)
        time.sleep(0.5)     # let the node accept them all
        took = self.restart_controller_and_wait()
        n = self.c.node("a")
        self.assertIsNotNone(took, "the controller was not back in within "
                             "%.1f s of its restart; node a: %s / %s"
                             % (HEARTBEAT_S, n["control"], n["query"]))
        # ... while every idle connection is still open on our side
        for s in self.idle:
            self.assertNotEqual(s.fileno(), -1)
        self.assertRegex(self.n.log(), evicted_rx)
        return took

    def test_one_address_cannot_hold_the_ports(self):
        took = self.check_back_in(["127.0.0.1"], IDLE,
                                  r"closed 127\.0\.0\.1:\d+ \(key none "
                                  r"presented\) after \d+ ms in the TLS "
                                  r"handshake, to make room for a new "
                                  r"connection: 9 connections from "
                                  r"127\.0\.0\.1 in TLS handshake")
        # 8 per address and port stay pending; the rest were closed
        self.assertGreaterEqual(self.closed_by_node(),
                                len(PORTS) * (IDLE - PER_ADDRESS))
        print("back up %.2f s after the controller's restart" % took)

    def test_many_addresses_cannot_hold_the_ports(self):
        # 5 addresses x 8 = 40 per port: under the per-address cap, over
        # the listener's cap of 32
        srcs = ["127.0.0.%d" % i for i in range(2, 7)]
        took = self.check_back_in(srcs, IDLE // len(srcs),
                                  r"to make room for a new connection: 33 "
                                  r"connections in TLS handshake \(at most "
                                  r"32\)")
        print("back up %.2f s after the controller's restart" % took)


class SilentCloseTest(ChannelCase):
    """A "node" that closes (or resets) the connection in the handshake
    without a TLS alert: the controller says so, without guessing that
    the node does not trust its key."""

    def serve(self, addr, reset):
        """Accept on addr:2210 and addr:4210; read the ClientHello, then
        close (reset: with a TCP reset)."""
        stop = threading.Event()
        socks = []
        for port in PORTS:
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((addr, port))
            ls.listen(8)
            ls.settimeout(0.2)
            socks.append(ls)

        def loop(ls):
            while not stop.is_set():
                try:
                    s, _ = ls.accept()
                except socket.timeout:
                    continue
                s.settimeout(2)
                try:
                    s.recv(4096)
                except OSError:
                    pass
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
        threads = [threading.Thread(target=loop, args=(ls,), daemon=True)
                   for ls in socks]
        for t in threads:
            t.start()

        def done():
            stop.set()
            for t in threads:
                t.join(5)
            for ls in socks:
                ls.close()
        self.addCleanup(done)

    def test_close_in_handshake_is_reported_as_such(self):
        c = self.controller()
        for i, reset in ((2, False), (3, True)):
            self.serve(NET + str(i), reset)
            c.cli("nodes", "add", "x%d" % i, NET + str(i), "--fingerprint",
                  "sha256:" + "%02x" % i * 32, check=True)
        for i in (2, 3):
            n = wait_for(lambda: (lambda x: x if x["control"]["failures"]
                                  > 0 else None)(c.node("x%d" % i)),
                         timeout=15, what="x%d's attempts to fail" % i)
            err = n["control"]["error"]
            self.assertEqual(err, "the node closed the connection during "
                             "the TLS handshake without saying why (its "
                             "log may tell)")
            self.assertNotIn("trust", err)
        self.assertRegex(c.log(), r"node x2: control channel: the node "
                         r"closed the connection during the TLS handshake")


# --- B. the state directory and what the daemons trust in it -------------------

class StateDirModeTest(ChannelCase):
    """A daemon refuses a state directory, key or pin file that another
    user could change (and says which chmod or chown fixes it), and
    starts once it is fixed."""

    def refused(self, args, log_name):
        """Start the daemon; it must exit non-zero at start. Returns its
        output."""
        p = self.spawn(args, log_name=log_name)
        try:
            rc = p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            rc = None
        with open(p.log_path, errors="replace") as f:
            out = f.read()
        self.assertIsNotNone(rc, "the daemon started and is running:\n"
                             + out)
        self.assertNotEqual(rc, 0, out)
        return out

    def test_node_world_writable_state_dir(self):
        d = os.path.join(self.tmp, "n-state")
        os.mkdir(d)
        os.chmod(d, 0o777)
        n = self.node(4, "n", state_dir=d)
        out = self.refused(n.cmd("run", "-f", "-c", n.conf), "n-1.log")
        self.assertIn("%s is writable by everyone (mode 0777): other users "
                      "could change what this daemon trusts (chmod go-w %s)"
                      % (d, d), out)
        os.chmod(d, 0o700)
        n.start()

    def test_node_group_writable_pin(self):
        c = self.controller()
        cfp = c.fingerprint()
        d = os.path.join(self.tmp, "n-state")
        os.mkdir(d, 0o700)
        pin = os.path.join(d, "controller.pin")
        with open(pin, "w") as f:
            f.write("controller %s\n" % cfp)
        os.chmod(pin, 0o660)
        n = self.node(5, "n", state_dir=d)
        out = self.refused(n.cmd("run", "-f", "-c", n.conf), "n-1.log")
        self.assertIn("%s is writable by its group (mode 0660): other "
                      "users could change what this daemon trusts "
                      "(chmod go-w %s)" % (pin, pin), out)
        os.chmod(pin, 0o600)
        n.start()
        self.assertIn("trusting controller key %s (learned from a join "
                      "token, %s)" % (cfp, pin), n.log())

    def test_controller_group_writable_state_dir(self):
        c = Controller(self, "ctl")
        os.mkdir(c.state_dir)
        os.chmod(c.state_dir, 0o770)
        out = self.refused([binpath("flowfleet-controller"), "run", "-f",
                            "-c", c.conf], "ctl-1.log")
        self.assertIn("%s is writable by its group (mode 0770)"
                      % c.state_dir, out)
        os.chmod(c.state_dir, 0o700)
        c.start()

    def test_key_owned_by_another_user(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give a file to another user")
        n = self.node(6, "n")
        n.start()
        n.stop()
        key = os.path.join(n.state_dir, "key.pem")
        os.chown(key, 65534, -1)
        out = self.refused(n.cmd("run", "-f", "-c", n.conf), "n-2.log")
        self.assertRegex(out, r"%s is owned by \S+ \(uid 65534\), not by "
                         r"\S+ \(uid 0\) who runs this daemon: another "
                         r"user could change what it trusts \(chown \S+ %s\)"
                         % (re.escape(key), re.escape(key)))


# --- C. the CLI's deadline ------------------------------------------------------

CLI_TIMEOUT_S = 15     # CLI_TIMEOUT_MS (controller/cli/cli.h): nodes, status
ANSWER_S = 1           # query: the deadline and this long for the answer
MARGIN_S = 1.0         # process start and exit, on a loaded machine


class CliDeadlineTest(ChannelCase):
    """With the controller stopped (SIGSTOP: it holds its socket but
    answers nothing), every CLI command ends by its deadline with exit 3
    and says the controller did not answer, whether the connection was
    taken (the kernel queues it) or the socket's queue is full."""

    def setUp(self):
        super().setUp()
        self.c = self.controller()
        os.kill(self.c.proc.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, self.c.proc.pid, signal.SIGCONT)
        self.fill = []
        self.addCleanup(lambda: [s.close() for s in self.fill])

    def fill_backlog(self):
        """Connect to the stopped controller until its listen queue is
        full (a further connect would wait)."""
        for _ in range(256):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(self.c.sock)
            except BlockingIOError:
                s.close()
                return len(self.fill)
            self.fill.append(s)
        self.fail("the controller's socket took 256 connections")

    def cli(self, *args):
        return subprocess.Popen([binpath("flowfleet"), "-s", self.c.sock,
                                 *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def finish(self, p, t0, bound):
        """Wait for p (at most bound + 5 s); return (seconds, rc, stderr)."""
        try:
            _, err = p.communicate(timeout=max(0.1, t0 + bound + 5 -
                                               time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return time.monotonic() - t0, None, "(killed: still running)"
        return time.monotonic() - t0, p.returncode, err

    def check(self, what, took, rc, err, bound, within):
        self.assertLessEqual(took, bound, "%s took %.1f s: %s"
                             % (what, took, err))
        self.assertEqual(rc, 3, "%s: %s" % (what, err))
        self.assertIn("the controller did not answer within %s (is it "
                      "stopped or stuck?)" % within, err, what)

    def test_every_command_ends_by_its_deadline(self):
        t0 = time.monotonic()
        procs = [
            ("query --timeout 3s", self.cli("query", "--top", "3", "--by",
                                            "srcip", "--timeout", "3s"),
             3 + ANSWER_S, "4 s"),
            ("status", self.cli("status"), CLI_TIMEOUT_S, "15 s"),
            ("nodes list", self.cli("nodes", "list"), CLI_TIMEOUT_S, "15 s"),
        ]
        time.sleep(0.5)     # they are connected (queued): now fill it
        queued = self.fill_backlog()
        t1 = time.monotonic()
        procs += [
            ("status, queue full", self.cli("status"), CLI_TIMEOUT_S,
             "15 s"),
            ("nodes list, queue full", self.cli("nodes", "list"),
             CLI_TIMEOUT_S, "15 s"),
        ]
        results = []
        for i, (what, p, deadline, within) in enumerate(procs):
            start = t0 if i < 3 else t1
            took, rc, err = self.finish(p, start, deadline + MARGIN_S)
            results.append((what, took, rc, err, deadline + MARGIN_S,
                            within))
        for what, took, rc, err, bound, within in results:
            print("%s: %.2f s, exit %s" % (what, took, rc))
        for r in results:
            self.check(*r)
        self.assertIn("it had the query's 3s and 1 s more for its answer",
                      results[0][3])
        self.assertGreater(queued, 0)

    def test_timeout_option(self):
        t0 = time.monotonic()
        took, rc, err = self.finish(self.cli("status", "--timeout", "2s"),
                                    t0, 2 + MARGIN_S)
        self.check("status --timeout 2s", took, rc, err, 2 + MARGIN_S,
                   "2 s")


class NodeStatsDeadlineTest(ChannelCase):
    """'flowfleet-node stats' against a stopped node whose control socket's
    listen queue is full ends by its own deadline with a message, rather
    than waiting in connect() for as long as the node stays stopped."""

    STATS_TIMEOUT_S = 10   # STATS_TIMEOUT_MS (node/cmd_stats.c)

    def test_stats_ends_by_its_deadline(self):
        n = self.node(1, "stopped").start()
        os.kill(n.proc.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, n.proc.pid, signal.SIGCONT)
        fill = []
        self.addCleanup(lambda: [s.close() for s in fill])
        for _ in range(256):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(n.sock)
            except BlockingIOError:
                s.close()
                break
            fill.append(s)
        else:
            self.fail("the node's control socket took 256 connections")
        t0 = time.monotonic()
        p = subprocess.Popen(n.cmd("stats", "-c", n.conf),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        bound = self.STATS_TIMEOUT_S + MARGIN_S
        try:
            _, err = p.communicate(timeout=bound + 5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("stats still running after %.0f s" % (bound + 5))
        took = time.monotonic() - t0
        self.assertLessEqual(took, bound, "stats took %.1f s: %s"
                             % (took, err))
        self.assertNotEqual(p.returncode, 0, err)
        self.assertIn("did not take the connection within", err)

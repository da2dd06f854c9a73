"""Shared helpers for flowfleet's integration tests.

Every process a test starts is tracked and stopped by PID when the test
ends; every loop is bounded in count and time.
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("FF_BIN", "")
# the shared captures: FF_TESTDATA, by default ../shared/testdata/flows
# beside the top of the tree (as the Makefile's TESTDATA)
TESTDATA_DEFAULT = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
    "testdata", "flows"))
TESTDATA = os.environ.get("FF_TESTDATA") or TESTDATA_DEFAULT


def binpath(name):
    """Path of a built flowfleet binary."""
    return os.path.join(BIN, name)


def testdata(rel):
    """Path of a file under ../shared/testdata/flows."""
    return os.path.join(TESTDATA, rel)


def testdata_missing():
    """Why the shared captures cannot be used, or None when they can."""
    if os.path.isdir(TESTDATA):
        return None
    return ("the shared captures are missing: %s is not a directory "
            "(FF_TESTDATA names it; default %s)" % (TESTDATA,
                                                     TESTDATA_DEFAULT))


def require_testdata(tc):
    """Fail tc, naming the path, when the shared captures are absent: a
    test that needs them never passes by skipping them."""
    why = testdata_missing()
    if why is not None:
        tc.fail(why)


def require_tool(tc, tool):
    if shutil.which(tool) is None:
        tc.fail("%s is not installed; 'make deps' installs it" % tool)


def wait_for(pred, timeout=10.0, step=0.05, what="condition"):
    """Poll pred() until it returns a true value or timeout seconds pass;
    return that value or raise AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(step)


def run(args, timeout=120, check=True, **kw):
    """Run a command to completion; return CompletedProcess (text)."""
    cp = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True, timeout=timeout, **kw)
    if check and cp.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(args), cp.returncode, cp.stdout[-4000:],
            cp.stderr[-4000:]))
    return cp


def decode(files, *extra, check=True):
    """Run 'flowfleet-node decode --json' on files; return (flows, summary,
    exporters, completed process)."""
    cp = run([binpath("flowfleet-node"), "decode", "--json", "--exporters",
              *extra, *files], check=check)
    flows = [json.loads(l) for l in cp.stdout.splitlines() if l.strip()]
    summary, exporters = None, []
    for l in cp.stderr.splitlines():
        if l.startswith('{"summary"'):
            summary = json.loads(l)["summary"]
        elif l.startswith('{"exporter"'):
            exporters.append(json.loads(l))
    return flows, summary, exporters, cp


class ProcOwner:
    """A temporary directory and the processes started in it, all stopped
    by PID by close(). What fflib's Node and Controller need of their
    owner: tmp, spawn() and id(); a test case is one (ProcTestCase), and
    so is a fixture a whole class shares (setUpClass)."""

    def __init__(self, prefix="fftest-", name="fixture"):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self._procs = []
        self._name = name

    def id(self):
        return self._name

    def spawn(self, args, log_name=None, **kw):
        """Start a background process; it is stopped by close()."""
        log = open(os.path.join(self.tmp, log_name or
                                (os.path.basename(args[0]) + ".log")), "ab")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, **kw)
        p.log_path = log.name
        log.close()
        self._procs.append(p)
        return p

    def close(self):
        for p in reversed(self._procs):
            stop(p)
        shutil.rmtree(self.tmp, ignore_errors=True)


class ProcTestCase(unittest.TestCase):
    """A TestCase that owns a temporary directory and stops, by PID, every
    process it started."""

    def setUp(self):
        self._owner = ProcOwner(name=self.id())
        self.tmp = self._owner.tmp
        # a cleanup, not tearDown: it also runs when setUp fails after
        # starting processes
        self.addCleanup(self._owner.close)

    def spawn(self, args, log_name=None, **kw):
        """Start a background process; it is stopped at the test's end."""
        return self._owner.spawn(args, log_name, **kw)

    def log_text(self, p):
        with open(p.log_path, errors="replace") as f:
            return f.read()


def stop(p, sig=signal.SIGTERM, timeout=10.0):
    """Stop process p by PID: sig, then SIGKILL after timeout seconds.
    Returns its exit status."""
    if p.poll() is not None:
        return p.returncode
    try:
        os.kill(p.pid, sig)
    except ProcessLookupError:
        return p.wait()
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        return p.wait(timeout=5)


# --- flowfleet-node processes ------------------------------------------------

def free_udp_port(addr):
    """A UDP port that is free on addr right now (the kernel's pick)."""
    import socket
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def free_tcp_port(addr):
    """A TCP port that is free on addr right now (the kernel's pick)."""
    import socket
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


class Node:
    """A 'flowfleet-node run -f' process with its own configuration file
    and state directory under the test's temporary directory.

    listen: list of (label, "ADDRESS:PORT") for the config's listen lines;
    by default one 'any' socket on addr at a free port (self.port).
    extra: more configuration lines. The process is started with
    tc.spawn(), so the test case stops it by PID at tearDown."""

    def __init__(self, tc, addr, name="node", listen=None, extra="",
                 state_dir=None):
        self.tc = tc
        self.addr = addr
        self.name = name
        self.proc = None
        self.state_dir = state_dir or os.path.join(tc.tmp, name + "-state")
        self.conf = os.path.join(tc.tmp, name + ".conf")
        self.sock = os.path.join(self.state_dir, "node.sock")
        if listen is None:
            self.port = free_udp_port(addr)
            host = "[%s]" % addr if ":" in addr else addr
            listen = [("any", "%s:%d" % (host, self.port))]
        self.listen = listen
        with open(self.conf, "w") as f:
            f.write("# written by fflib.Node for %s\n" % tc.id())
            f.write('state-dir "%s"\n' % self.state_dir)
            for label, a in listen:
                f.write("listen %s %s\n" % (label, a))
            # The control plane's TCP listeners: free ports on addr
            # unless extra sets them (the defaults, 0.0.0.0:2210 and
            # 0.0.0.0:4210, would collide between nodes and test runs).
            h = "[%s]" % addr if ":" in addr else addr
            for kw in ("control-listen", "query-listen"):
                if kw not in extra:
                    f.write("%s %s:%d\n" % (kw, h, free_tcp_port(addr)))
            f.write(extra)

    def cmd(self, *args):
        """The flowfleet-node command line with this node's config."""
        return [binpath("flowfleet-node"), *args]

    def start(self, timeout=10.0, wrapper=()):
        """Start the node and wait until its control socket answers.
        wrapper: a command prefix (e.g. setpriv ...)."""
        self.proc = self.tc.spawn([*wrapper, *self.cmd("run", "-f", "-c",
                                                        self.conf)],
                                  log_name=self.name + ".log")

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("node %s exited %d at start:\n%s" % (
                    self.name, self.proc.returncode, self.log()))
            return self.try_stats() is not None
        wait_for(up, timeout=timeout, what="node %s to answer" % self.name)
        return self

    def try_stats(self):
        """The node's counters (stats --json) or None if unreachable."""
        cp = run(self.cmd("stats", "-c", self.conf, "--json"), check=False,
                 timeout=30)
        if cp.returncode != 0:
            return None
        return json.loads(cp.stdout)

    def stats(self):
        st = self.try_stats()
        if st is None:
            raise AssertionError("node %s does not answer stats:\n%s" % (
                self.name, self.log()))
        return st

    def wait_datagrams(self, n, timeout=20.0):
        """Wait until the node has received n datagrams in total (all
        sockets); return the stats."""
        def got():
            st = self.stats()
            return st if st["totals"]["datagrams"] >= n else None
        return wait_for(got, timeout=timeout, step=0.05,
                        what="node %s to receive %d datagrams" % (
                            self.name, n))

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stop the node by PID; return its exit status."""
        return stop(self.proc, sig, timeout)

    def log(self):
        try:
            with open(os.path.join(self.tc.tmp, self.name + ".log"),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def pcap_payloads(path):
    """The UDP payloads of a classic little-endian Ethernet/IPv4/UDP pcap
    (what flowgen --pcap writes, and some of the shared captures), in
    order."""
    out = []
    with open(path, "rb") as f:
        hdr = f.read(24)
        if struct.unpack("<I", hdr[:4])[0] != 0xa1b2c3d4:
            raise AssertionError("%s: not a little-endian pcap" % path)
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                break
            incl = struct.unpack("<I", rh[8:12])[0]
            frame = f.read(incl)
            ihl = (frame[14] & 0x0f) * 4
            out.append(frame[14 + ihl + 8:])
    return out


def udp_sender(src, dst):
    """A UDP socket bound to the loopback source address src, connected
    to dst (address, port)."""
    import socket
    fam = socket.AF_INET6 if ":" in dst[0] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    if src is not None:
        s.bind((src, 0))
    s.connect(dst)
    return s


def exporter(stats, address, protocol):
    """The exporter entries of a stats snapshot with this address and
    protocol ('netflow5', 'netflow9', 'ipfix', 'sflow5')."""
    return [e for e in stats["exporters"]
            if e["address"] == address and e["protocol"] == protocol]


# --- control plane: controller, CLI, and wire peers played in Python --------
#
# The wire protocol (wire/PROTOCOL.md) is spoken here independently of the
# C code: a small msgpack codec, frames, and TLS through Python's ssl module
# (OpenSSL), so that tests can act as a misbehaving controller or node.

def mp_pack(o):
    """Encode o (None, bool, int, str, bytes, list, dict) as msgpack."""
    import struct
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 128:
            return bytes([o])
        if -32 <= o < 0:
            return struct.pack("b", o)
        if 0 <= o < 2 ** 64:
            return b"\xcf" + struct.pack(">Q", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, str):
        b = o.encode()
        return b"\xdb" + struct.pack(">I", len(b)) + b
    if isinstance(o, bytes):
        return b"\xc6" + struct.pack(">I", len(o)) + o
    if isinstance(o, (list, tuple)):
        return b"\xdd" + struct.pack(">I", len(o)) + b"".join(
            mp_pack(x) for x in o)
    if isinstance(o, dict):
        return b"\xdf" + struct.pack(">I", len(o)) + b"".join(
            mp_pack(k) + mp_pack(v) for k, v in o.items())
    raise TypeError(type(o))


def mp_unpack(b):
    """Decode one msgpack object from bytes b (the subset the wire uses);
    returns it, or raises ValueError."""
    import struct

    def one(i):
        t = b[i]
        if t < 0x80:
            return t, i + 1
        if t >= 0xe0:
            return t - 256, i + 1
        if 0x80 <= t <= 0x8f or t in (0xde, 0xdf):
            if t <= 0x8f:
                n, i = t & 15, i + 1
            elif t == 0xde:
                n, i = struct.unpack_from(">H", b, i + 1)[0], i + 3
            else:
                n, i = struct.unpack_from(">I", b, i + 1)[0], i + 5
            d = {}
            for _ in range(n):
                k, i = one(i)
                v, i = one(i)
                d[k] = v
            return d, i
        if 0x90 <= t <= 0x9f or t in (0xdc, 0xdd):
            if t <= 0x9f:
                n, i = t & 15, i + 1
            elif t == 0xdc:
                n, i = struct.unpack_from(">H", b, i + 1)[0], i + 3
            else:
                n, i = struct.unpack_from(">I", b, i + 1)[0], i + 5
            a = []
            for _ in range(n):
                v, i = one(i)
                a.append(v)
            return a, i
        if 0xa0 <= t <= 0xbf or t in (0xd9, 0xda, 0xdb):
            if t <= 0xbf:
                n, i = t & 31, i + 1
            else:
                w = {0xd9: 1, 0xda: 2, 0xdb: 4}[t]
                n = int.from_bytes(b[i + 1:i + 1 + w], "big")
                i += 1 + w
            if i + n > len(b):
                raise ValueError("truncated string")
            return b[i:i + n].decode(errors="replace"), i + n
        if t in (0xc4, 0xc5, 0xc6):
            w = {0xc4: 1, 0xc5: 2, 0xc6: 4}[t]
            n = int.from_bytes(b[i + 1:i + 1 + w], "big")
            i += 1 + w
            return bytes(b[i:i + n]), i + n
        fixed = {0xc0: (None, 1), 0xc2: (False, 1), 0xc3: (True, 1)}
        if t in fixed:
            return fixed[t][0], i + fixed[t][1]
        ints = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q",
                0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q"}
        if t in ints:
            v = struct.unpack_from(ints[t], b, i + 1)[0]
            return v, i + 1 + struct.calcsize(ints[t])
        raise ValueError("msgpack type 0x%02x" % t)

    try:
        v, end = one(0)
    except (IndexError, struct.error) as e:
        raise ValueError(str(e))
    if end != len(b):
        raise ValueError("trailing bytes")
    return v


# Message types (wire/wire.h).
HELLO, ERROR, PING, PONG = 1, 2, 3, 4
STATUS_GET, STATUS, JOIN, JOIN_OK = 10, 11, 12, 13


def wire_frame(mtype, mid, body):
    """One frame: 4-byte big-endian length, msgpack [type, id, body]."""
    p = mp_pack([mtype, mid, body])
    return len(p).to_bytes(4, "big") + p


class WirePeer:
    """Frames over a connected (TLS) socket, with timeouts."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, mtype, mid, body):
        self.sock.sendall(wire_frame(mtype, mid, body))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=10.0):
        """The next message as (type, id, body), or None when the peer
        closed the connection. Raises on timeout."""
        import socket
        import ssl
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 4:
                n = int.from_bytes(self.buf[:4], "big")
                if len(self.buf) >= 4 + n:
                    m = mp_unpack(self.buf[4:4 + n])
                    self.buf = self.buf[4 + n:]
                    return m[0], m[1], m[2]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no message within %.1fs" % timeout)
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ssl.SSLError, ConnectionError, OSError):
                return None
            if not d:
                return None
            self.buf += d

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tls_client(addr, port, cert=None, key=None, timeout=10.0):
    """A TLS 1.2 client connection to addr:port, presenting cert/key
    when given. The server's key is not checked (tests pin by reading
    logs); raises ssl.SSLError or OSError when refused."""
    import socket
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    s = socket.create_connection((addr, port), timeout=timeout)
    try:
        return ctx.wrap_socket(s)
    except Exception:
        s.close()
        raise


def controller_hello(channel, enroll=False):
    """The body of a controller's HELLO (PROTOCOL.md)."""
    b = {"proto_min": 1, "proto_max": 1, "role": "controller",
         "channel": channel, "name": "test", "version": "0.0.0",
         "features": [], "time_ms": int(time.time() * 1000)}
    if channel == "control":
        b["enroll"] = enroll
    return b


def node_hello(channel, name="fake"):
    """The body of a node's HELLO."""
    return {"proto_min": 1, "proto_max": 1, "role": "node",
            "channel": channel, "name": name, "version": "0.0.0-fake",
            "features": [], "time_ms": int(time.time() * 1000)}


def node_fingerprint(conf):
    """'flowfleet-node fingerprint -c conf' (makes the key if needed)."""
    return run([binpath("flowfleet-node"), "fingerprint", "-c", conf],
               timeout=30).stdout.strip()


class Controller:
    """A 'flowfleet-controller run -f' process with its own configuration,
    state directory and control socket under the test's directory;
    stopped by PID at tearDown."""

    def __init__(self, tc, name="ctl", extra=""):
        self.tc = tc
        self.name = name
        self.proc = None
        self.state_dir = os.path.join(tc.tmp, name + "-state")
        self.sock = os.path.join(tc.tmp, name + ".sock")
        self.conf = os.path.join(tc.tmp, name + ".conf")
        self.log_path = os.path.join(tc.tmp, name + ".log")
        with open(self.conf, "w") as f:
            f.write("# written by fflib.Controller for %s\n" % tc.id())
            f.write('state-dir "%s"\n' % self.state_dir)
            f.write('socket "%s"\n' % self.sock)
            f.write("name %s\n" % name)
            f.write(extra)

    @property
    def key(self):
        return os.path.join(self.state_dir, "key.pem")

    @property
    def cert(self):
        return os.path.join(self.state_dir, "cert.pem")

    def fingerprint(self):
        return run([binpath("flowfleet-controller"), "fingerprint", "-c",
                    self.conf], timeout=30).stdout.strip()

    def start(self, timeout=10.0):
        """Start the controller and wait until its socket answers."""
        self.proc = self.tc.spawn([binpath("flowfleet-controller"), "run",
                                   "-f", "-c", self.conf],
                                  log_name=self.name + ".log")

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("controller exited %d at start:\n%s"
                                     % (self.proc.returncode, self.log()))
            return self.cli("status").returncode in (0, 4)
        wait_for(up, timeout=timeout, what="controller %s" % self.name)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        return stop(self.proc, sig, timeout)

    def cli(self, *args, check=False, timeout=30):
        """Run 'flowfleet -s SOCKET args...'; returns the completed
        process."""
        return run([binpath("flowfleet"), "-s", self.sock, *args],
                   check=check, timeout=timeout)

    def nodes(self):
        """name -> node object of 'flowfleet --json nodes list'."""
        cp = self.cli("--json", "nodes", "list", check=True)
        return {n["name"]: n for n in json.loads(cp.stdout)["nodes"]}

    def node(self, name):
        return self.nodes()[name]

    def wait_state(self, name, state, timeout=10.0, query=None):
        """Wait until node name has this state (and its query channel
        the state query, when given); return the node object."""
        def ok():
            n = self.nodes().get(name)
            if n is None or n["state"] != state:
                return None
            if query is not None and n["query"]["state"] != query:
                return None
            return n
        return wait_for(ok, timeout=timeout, step=0.1,
                        what="node %s to be %s (query %s)" % (
                            name, state, query))

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class FakeNode:
    """A node played by the test over real TLS: listens on addr:2210 and
    addr:4210 (or cport/qport) with the key and certificate in state_dir
    (made by 'flowfleet-node fingerprint' from conf, so self.fp is its
    fingerprint), requires the client certificate ctl_cert (the
    controller's self-signed certificate is its own trust anchor), answers
    HELLO, PING (its clock skew_ms off) and STATUS_GET.

    scripts maps a channel ("control", "query") to a list of functions;
    the n-th connection on that channel runs the n-th function after the
    HELLO exchange, with its WirePeer, instead of behaving (None:
    behave). Every connection and message is recorded in self.events.
    Threads stop at stop(), which the test case calls at tearDown."""

    def __init__(self, tc, addr, ctl_cert, name="fake", skew_ms=0,
                 scripts=None, cport=2210, qport=4210):
        import threading
        self.tc = tc
        self.addr = addr
        self.name = name
        self.ctl_cert = ctl_cert
        self.skew_ms = skew_ms
        self.scripts = scripts or {}
        self.ports = {"control": cport, "query": qport}
        self.state_dir = os.path.join(tc.tmp, name + "-state")
        self.conf = os.path.join(tc.tmp, name + ".conf")
        with open(self.conf, "w") as f:
            f.write('state-dir "%s"\n' % self.state_dir)
        self.fp = node_fingerprint(self.conf)
        self.events = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []
        self.listeners = []
        self.conns = {"control": 0, "query": 0}
        tc.addCleanup(self.stop)

    def event(self, *e):
        with self.lock:
            self.events.append(e)

    def start(self):
        import socket
        import threading
        for ch, port in self.ports.items():
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((self.addr, port))
            ls.listen(16)
            ls.settimeout(0.2)
            self.listeners.append(ls)
            t = threading.Thread(target=self._accept, args=(ls, ch),
                                 daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stopping.set()
        for t in list(self.threads):
            t.join(timeout=5)
        for ls in self.listeners:
            ls.close()
        self.listeners = []

    def _accept(self, ls, ch):
        import socket
        import threading
        while not self.stopping.is_set():
            try:
                s, peer = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                idx = self.conns[ch]
                self.conns[ch] += 1
            t = threading.Thread(target=self._serve, args=(s, ch, idx),
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, s, ch, idx):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(self.state_dir, "cert.pem"),
                            os.path.join(self.state_dir, "key.pem"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(self.ctl_cert)
        s.settimeout(10)
        try:
            ts = ctx.wrap_socket(s, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.event(ch, idx, "tls-failed", str(e))
            s.close()
            return
        p = WirePeer(ts)
        try:
            m = p.recv(timeout=10)
            if m is None or m[0] != HELLO:
                self.event(ch, idx, "no-hello", m)
                return
            self.event(ch, idx, "hello", m[2])
            p.send(HELLO, 0, node_hello(ch, self.name))
            script = self.scripts.get(ch, [])
            fn = script[idx] if idx < len(script) else None
            if fn is not None:
                self.event(ch, idx, "script")
                fn(p)
                self.event(ch, idx, "script-done")
            self._behave(p, ch, idx)
        except (ssl.SSLError, OSError, AssertionError, ValueError) as e:
            self.event(ch, idx, "error", str(e))
        finally:
            p.close()
            self.event(ch, idx, "closed")

    def _behave(self, p, ch, idx):
        while not self.stopping.is_set():
            try:
                m = p.recv(timeout=0.5)
            except AssertionError:
                continue
            if m is None:
                return
            self.event(ch, idx, "msg", m)
            mtype, mid, body = m
            now = int(time.time() * 1000) + self.skew_ms
            if mtype == PING:
                p.send(PONG, mid, {"t1": body["t1"], "t2": now,
                                   "t3": now, "health": "ok"})
            elif mtype == STATUS_GET:
                p.send(STATUS, mid, {
                    "name": self.name, "version": "0.0.0-fake",
                    "uptime_ms": 1000, "time_ms": now, "health": "ok",
                    "problems": [],
                    "intake": {"datagrams": 7, "flows": 42},
                    "rates": {"window_ms": 10000, "flows_per_s": 4,
                              "drops_per_s": 0}})

    def messages(self, ch, mtype):
        """Messages of type mtype received on channel ch."""
        with self.lock:
            return [e[3] for e in self.events
                    if e[0] == ch and e[2] == "msg" and e[3][0] == mtype]

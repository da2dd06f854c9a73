"""The node's flow store on a full filesystem, and retention by age with
exporters whose clocks are far behind, end to end with real processes:
'flowfleet-node run' on its own 127.0.97.x address, flows from flowgen
or from NetFlow v5 datagrams built here, the store's counters from
'flowfleet-node stats --json', stored flows counted with
'flowfleet-node query'. Every process is stopped by PID.

  StoreFullFilesystem  the node's state directory on a small tmpfs
                  (mounted here; root only, skipped otherwise)
    test_full_is_reported_until_a_write_succeeds
                  another file fills the filesystem: while flows keep
                  coming, stats says failing and store full the whole
                  time, the failed writes and dropped flows are counted,
                  the log names it "store full" with the store's path and
                  sizes; once the file is gone the next writes succeed
                  without a restart, failing ends and the new flows are
                  queryable
    test_store_fills_filesystem
                  the store itself fills the filesystem long before
                  retention-size: retention deletes the oldest blocks to
                  make room, every flow is stored (none dropped), the
                  data file stays within the filesystem, the log says so
  RetentionByStoredTime  retention-age 30d (the default)
    test_old_clock_flows_are_kept
                  flows dated two years back, alone in their blocks and
                  beside current ones, are all kept through maintenance
                  passes and a restart; once their blocks were stored more
                  than 30 days ago (the stored time rewritten in the
                  store's index, as time passing would) the running node
                  deletes them

Waits are upper bounds (fflib.wait_for) except where a test lets the
node's maintenance run (every WRITER_MAINT_MS, 1 s): it then waits a
few periods, and the result must hold after them.
"""
import ctypes
import ctypes.util
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

import fflib
from fflib import Node, ProcTestCase, run, wait_for

MAINT_S = 1.0               # node/writer.h WRITER_MAINT_MS
MIB = 1 << 20


def flowgen_path():
    path = os.path.join(os.path.dirname(os.path.abspath(fflib.BIN)),
                        "bench", "flowgen")
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is missing: make integration builds it"
                             % path)
    return path


def flowgen(*args, timeout=120):
    """Run flowgen with --json; return its report."""
    return json.loads(run([flowgen_path(), *args, "--json"],
                          timeout=timeout).stdout)


class StoreNode(Node):
    def query(self, *args):
        cp = run(self.cmd("query", "-c", self.conf, "--json", *args),
                 timeout=60, env=dict(os.environ, TZ="UTC"))
        return json.loads(cp.stdout)

    def flows(self, *args):
        return self.query(*args)["totals"]["flows"]

    def wait_store(self, pred, what, timeout=30.0):
        def ok():
            st = self.stats()
            return st if pred(st["store"], st) else None
        return wait_for(ok, timeout=timeout, step=0.05, what=what)

    def wait_settled(self, decoded, timeout=30.0):
        """The node decoded `decoded` flows and its writer has nothing
        left (queue empty, nothing pending)."""
        return self.wait_store(
            lambda s, st: st["totals"]["flows"] >= decoded and
            s["queued"] == 0 and s["pending"] == 0 and
            s["appended"] == s["queue_flows"],
            "%s to decode %d flows and write them" % (self.name, decoded),
            timeout)


def mount_tmpfs(tc, path, size):
    """Mount a tmpfs of `size` at path; unmounted at the test's end, after
    the node is stopped. Skips (loudly) when not root."""
    if os.geteuid() != 0:
        msg = ("NOT RUN: mounting a tmpfs needs root; the full-filesystem "
               "behaviour is not checked")
        print("\n*** %s: %s ***" % (tc.id(), msg), file=sys.stderr)
        tc.skipTest(msg)
    os.makedirs(path)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % size,
                    "tmpfs", path], check=True, timeout=30)

    def umount():
        for n in getattr(tc, "nodes", []):
            n.stop()
        if subprocess.run(["umount", path], timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", path], timeout=30)
    tc.addCleanup(umount)


def fill(path, leave):
    """Write a file at path that leaves `leave` bytes free on its
    filesystem; return its size."""
    vfs = os.statvfs(os.path.dirname(path))
    n = vfs.f_bavail * vfs.f_frsize - leave
    chunk = b"\0" * MIB
    with open(path, "wb") as f:
        left = n
        while left > 0:
            left -= f.write(chunk[:min(left, len(chunk))])
    return n


class StoreFullFilesystem(ProcTestCase):
    ADDR = "127.0.97.1"

    def node(self, size):
        state = os.path.join(self.tmp, "state")
        mount_tmpfs(self, state, size)
        n = StoreNode(self, self.ADDR, name="full", state_dir=state,
                      extra="store-sync no\nretention-age none\n")
        self.nodes = [n]
        return n.start()

    def test_full_is_reported_until_a_write_succeeds(self):
        n = self.node(24 * MIB)
        store_dir = os.path.join(n.state_dir, "flows")
        # Another file takes all but 64 KiB: not even an empty store
        # would hold a block, so retention has nothing to gain.
        filler = os.path.join(n.state_dir, "filler")
        fill(filler, 64 * 1024)

        # Flows keep coming for a few seconds (batches of at most 4096
        # flows, most of them only buffered by the store); the writer
        # is failing the whole time, not only right after a failed
        # write.
        gen = self.spawn([flowgen_path(), "--send", self.ADDR, "-p",
                          str(n.port), "-n", "120000", "--fps", "30000",
                          "-s", "11", "-t", "30", "--json"],
                         log_name="flowgen1.log")
        n.wait_store(lambda s, st: s["write_errors"] > 0,
                     "a write to fail")
        samples = []
        while gen.poll() is None and len(samples) < 400:
            st = n.stats()
            samples.append((st["totals"]["flows"], st["store"]["failing"]))
            time.sleep(0.01)
        self.assertEqual(fflib.stop(gen), 0)
        sent = json.loads(open(gen.log_path).read())["flows"]
        self.assertGreaterEqual(len(samples), 5)
        # flows arrived while sampling
        self.assertGreater(samples[-1][0], samples[0][0])
        self.assertEqual([f for f, failing in samples if not failing], [],
                         "stats said failing: false while every write "
                         "failed (decoded-flow counts listed)")
        st = n.wait_settled(sent)
        s = st["store"]
        self.assertTrue(s["failing"])
        self.assertTrue(s["store_full"])
        self.assertEqual(s["committed"], 0)
        self.assertGreater(s["write_errors"], 0)
        self.assertEqual(s["write_dropped"] + s["queue_dropped"], sent)
        self.assertEqual(s["dropped"], sent)
        self.assertEqual(s["expired_flows"], 0)
        self.assertLess(s["fs_free"], 1 * MIB)
        log = n.log()
        m = re.search(r"flow store: (write|commit) failed: store full: "
                      r"(\S+): (\S+ \S+) used \(data file (\S+ \S+)\) of a "
                      r"(\S+ \S+) map, (\S+ \S+) free on its filesystem",
                      log)
        self.assertIsNotNone(m, log)
        self.assertEqual(m.group(2), store_dir)
        self.assertNotIn("flow store: writes succeed again", log)

        # Room again, without a restart: the next writes succeed.
        errors, dropped, qdropped = (s["write_errors"], s["write_dropped"],
                                     s["queue_dropped"])
        os.unlink(filler)
        gen2 = flowgen("--send", self.ADDR, "-p", str(n.port), "-n",
                       "50000", "--fps", "100000", "-s", "12", "-t", "30")
        st = n.wait_settled(sent + gen2["flows"])
        s = st["store"]
        self.assertEqual(s["write_dropped"], dropped)
        self.assertEqual(s["committed"] + s["queue_dropped"] - qdropped,
                         gen2["flows"])
        self.assertGreater(s["committed"], 0)
        self.assertFalse(s["failing"])
        self.assertFalse(s["store_full"])
        self.assertEqual(s["write_errors"], errors)
        self.assertEqual(n.flows(), s["committed"])
        self.assertIn("flow store: writes succeed again", n.log())
        self.assertEqual(n.stop(), 0, n.log())

    def test_store_fills_filesystem(self):
        size = 16 * MIB
        n = self.node(size)
        sent = 0
        # About 24 bytes a flow: 1.2 million flows are more than twice
        # what the filesystem holds, far below retention-size (16G).
        for seed in (21, 22, 23):
            gen = flowgen("--send", self.ADDR, "-p", str(n.port), "-n",
                          "400000", "--fps", "200000", "--pool", "20000",
                          "-s", str(seed), "-t", "60")
            sent += gen["flows"]
            st = n.wait_settled(sent, timeout=60)
        s = st["store"]
        # Every flow decoded was stored; none dropped by a failed write.
        self.assertEqual(s["write_errors"], 0, n.log())
        self.assertEqual(s["write_dropped"], 0)
        self.assertEqual(s["committed"] + s["queue_dropped"], sent)
        self.assertFalse(s["failing"])
        self.assertFalse(s["store_full"])
        # The oldest blocks were deleted to make room, before
        # retention-size.
        self.assertGreater(s["room_expired_blocks"], 0)
        self.assertEqual(s["room_expired_flows"], s["expired_flows"])
        self.assertEqual(s["flows"] + s["expired_flows"], s["committed"])
        self.assertLessEqual(s["file_bytes"], size)
        self.assertLessEqual(os.path.getsize(
            os.path.join(n.state_dir, "flows", "data.mdb")), size)
        # What is left is queryable, and holds the newest flows.
        self.assertEqual(n.flows(), s["flows"])
        self.assertGreater(s["flows"], 200000)
        self.assertRegex(n.log(), r"flow store: store full: \S+: .* free on "
                         r"its filesystem; deleted the oldest \d+ blocks "
                         r"\(\d+ flows\) to make room")
        self.assertEqual(n.stop(), 0, n.log())


def v5_packet(n, export_s, seq, net):
    """A NetFlow v5 export of n TCP flows from net.x.y.z that started 10 s
    and ended 1 s before export_s (the exporter's clock); returns the
    datagram."""
    hdr = struct.pack("!HHIIIIBBH", 5, n, 600000, export_s, 0, seq * n, 0,
                      0, 0)
    recs = b""
    for i in range(n):
        recs += struct.pack(
            "!4s4s4sHHIIIIHHBBBBHHBBH",
            socket.inet_aton("%d.%d.%d.%d" % (net, seq // 250, seq % 250,
                                              i + 1)),
            socket.inet_aton("10.8.0.%d" % (i + 1)),
            socket.inet_aton("0.0.0.0"), 1, 2, 2 + i, 1000 + 10 * i,
            590000, 599000, 40000 + i, 443, 0, 0x18, 6, 0, 0, 0, 0, 0, 0)
    return hdr + recs


class Lmdb:
    """The system's liblmdb (the library the node links), to rewrite the
    stored times in a store's index while the node is stopped."""

    class Val(ctypes.Structure):
        _fields_ = [("mv_size", ctypes.c_size_t),
                    ("mv_data", ctypes.c_void_p)]

    MDB_FIRST, MDB_NEXT = 0, 8

    def __init__(self):
        name = ctypes.util.find_library("lmdb") or "liblmdb.so.0"
        self.lib = lib = ctypes.CDLL(name)
        P = ctypes.c_void_p
        PP = ctypes.POINTER(ctypes.c_void_p)
        V = ctypes.POINTER(self.Val)
        lib.mdb_env_create.argtypes = [PP]
        lib.mdb_env_set_maxdbs.argtypes = [P, ctypes.c_uint]
        lib.mdb_env_open.argtypes = [P, ctypes.c_char_p, ctypes.c_uint,
                                     ctypes.c_int]
        lib.mdb_env_close.argtypes = [P]
        lib.mdb_txn_begin.argtypes = [P, P, ctypes.c_uint, PP]
        lib.mdb_txn_commit.argtypes = [P]
        lib.mdb_txn_abort.argtypes = [P]
        lib.mdb_dbi_open.argtypes = [P, ctypes.c_char_p, ctypes.c_uint,
                                     ctypes.POINTER(ctypes.c_uint)]
        lib.mdb_cursor_open.argtypes = [P, ctypes.c_uint, PP]
        lib.mdb_cursor_close.argtypes = [P]
        lib.mdb_cursor_get.argtypes = [P, V, V, ctypes.c_int]
        lib.mdb_put.argtypes = [P, ctypes.c_uint, V, V, ctypes.c_uint]

    def set_stored_ms(self, path, ms):
        """Set every idx entry's committed_ms (u64 LE at byte 48 of the
        56-byte entry, store/storage.h) to ms; return how many."""
        lib = self.lib
        env, txn, cur = ctypes.c_void_p(), ctypes.c_void_p(), \
            ctypes.c_void_p()
        dbi = ctypes.c_uint()
        assert lib.mdb_env_create(ctypes.byref(env)) == 0
        try:
            lib.mdb_env_set_maxdbs(env, 4)
            assert lib.mdb_env_open(env, path.encode(), 0, 0o640) == 0
            assert lib.mdb_txn_begin(env, None, 0, ctypes.byref(txn)) == 0
            ok = False
            try:
                assert lib.mdb_dbi_open(txn, b"idx", 0,
                                        ctypes.byref(dbi)) == 0
                assert lib.mdb_cursor_open(txn, dbi, ctypes.byref(cur)) == 0
                ents = []
                k, v = self.Val(), self.Val()
                op = self.MDB_FIRST
                while lib.mdb_cursor_get(cur, ctypes.byref(k),
                                         ctypes.byref(v), op) == 0:
                    ents.append((ctypes.string_at(k.mv_data, k.mv_size),
                                 ctypes.string_at(v.mv_data, v.mv_size)))
                    op = self.MDB_NEXT
                lib.mdb_cursor_close(cur)
                for key, val in ents:
                    assert len(val) == 56
                    val = val[:48] + struct.pack("<Q", ms)
                    kb = ctypes.create_string_buffer(key, len(key))
                    vb = ctypes.create_string_buffer(val, len(val))
                    k = self.Val(len(key), ctypes.cast(kb, ctypes.c_void_p))
                    v = self.Val(len(val), ctypes.cast(vb, ctypes.c_void_p))
                    assert lib.mdb_put(txn, dbi, ctypes.byref(k),
                                       ctypes.byref(v), 0) == 0
                ok = True
            finally:
                if ok:
                    assert lib.mdb_txn_commit(txn) == 0
                else:
                    lib.mdb_txn_abort(txn)
        finally:
            lib.mdb_env_close(env)
        return len(ents)


class RetentionByStoredTime(ProcTestCase):
    ADDR = "127.0.97.2"

    def send(self, n, packets):
        """Send (export_s, seq, net) datagrams of 30 flows each."""
        s = fflib.udp_sender(None, (self.ADDR, n.port))
        try:
            for export_s, seq, net in packets:
                s.send(v5_packet(30, export_s, seq, net))
                time.sleep(0.0005)
        finally:
            s.close()
        return 30 * len(packets)

    def test_old_clock_flows_are_kept(self):
        # retention-age left at its default, 30d
        n = StoreNode(self, self.ADDR, name="age",
                      extra="store-sync no\n").start()
        now = int(time.time())
        old = now - 2 * 365 * 86400
        # Flows two years old, alone in their blocks...
        alone = self.send(n, [(old, i, 20) for i in range(40)])
        n.wait_settled(alone)
        # ... and beside current ones in the same blocks.
        mixed = [(old if i % 2 else now, i, 21 if i % 2 else 22)
                 for i in range(40)]
        total = alone + self.send(n, mixed)
        old_flows = alone + 20 * 30
        st = n.wait_settled(total)
        self.assertEqual(st["store"]["committed"], total)
        # Let maintenance run a few times: nothing goes.
        time.sleep(3 * MAINT_S)
        s = n.stats()["store"]
        self.assertEqual(s["expired_flows"], 0)
        self.assertEqual(s["flows"], total)
        window = ("--from", "@%d" % (old - 3600), "--to", "@%d" % (old + 60))
        self.assertEqual(n.flows(*window), old_flows)
        self.assertEqual(n.flows("--filter", "src net 20.0.0.0/8"), alone)
        self.assertEqual(n.flows(), total)
        # And after a restart (the rule is in the stored index).
        self.assertEqual(n.stop(), 0, n.log())
        n.start()
        time.sleep(3 * MAINT_S)
        self.assertEqual(n.stats()["store"]["expired_flows"], 0)
        self.assertEqual(n.flows(*window), old_flows)
        self.assertEqual(n.flows(), total)

        # Stored 31 days ago: the running node deletes them all.
        self.assertEqual(n.stop(), 0, n.log())
        blocks = Lmdb().set_stored_ms(os.path.join(n.state_dir, "flows"),
                                      (now - 31 * 86400) * 1000)
        self.assertGreater(blocks, 0)
        n.start()
        st = n.wait_store(lambda s, st: s["flows"] == 0,
                          "the blocks stored 31 days ago to expire")
        self.assertEqual(st["store"]["expired_flows"], total)
        self.assertEqual(n.flows(), 0)
        self.assertEqual(n.stop(), 0, n.log())


if __name__ == "__main__":
    import unittest
    unittest.main()

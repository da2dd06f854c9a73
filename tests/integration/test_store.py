"""The node daemon's flow store, end to end with real processes: flows
sent over loopback to 'flowfleet-node run', committed by its writer
thread, read back with 'flowfleet-node query -c CONF' while the node runs,
and the store's counters in 'flowfleet-node stats --json' (the "store"
section). Every node runs on its own 127.0.91.x address on ports the
kernel picked free; every process is stopped by PID.

  StoreEndToEnd   a seeded flowgen set (NetFlow v9, 4 exporters, 10%
                  IPv6) through a running node: query totals and the
                  exporter counters equal what flowgen sent; flows sent
                  later show up in a query while the node runs; SIGTERM
                  commits what is still pending
  StoreStartup    a store that cannot be opened stops the start, with
                  the reason, also when the node detaches
  StoreCrash      kill -9 during steady intake: the store opens again,
                  every flow the node reported committed before the kill
                  is there, the loss is within the bound README.md states
                  (about a second of intake), and the restarted node goes
                  on storing; a trickle committed by the 1 s timer alone
                  survives a second kill -9
  StoreBackPressure  the writer blocked (this test holds LMDB's write
                  lock on the store): full batches are dropped and
                  counted, the node keeps answering, and once the lock is
                  released every decoded flow is either stored or counted
                  as dropped; a controller the node is enrolled in sees
                  the same store counters in STATUS
  StoreFull       a store map too small for the flows: failed writes are
                  counted and logged once (rate-limited), the node keeps
                  running, what was committed stays readable
  StoreRetention  retention by size (the store stays below retention-size
                  while intake goes on; stored + expired = committed);
                  retention by age, by when flows were stored, and a full
                  filesystem are in test_store_full.py

Durations in these tests are only upper bounds of waits (fflib.wait_for);
pass/fail depends on counts.
"""
import ctypes
import ctypes.util
import json
import os
import re
import signal

import fflib
from fflib import Node, ProcTestCase, run, wait_for

INGEST_BATCH = 4096         # node/ingest.h: flows per batch
COMMIT_S = 1.0              # node/writer.h WRITER_COMMIT_MS
FLUSH_S = 0.25              # node/ingest.h INGEST_FLUSH_MS


def flowgen(*args, timeout=120):
    """Run flowgen (built next to the binaries) with --json; return its
    report."""
    path = os.path.join(os.path.dirname(os.path.abspath(fflib.BIN)),
                        "bench", "flowgen")
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is missing: make integration builds it"
                             % path)
    return json.loads(run([path, *args, "--json"], timeout=timeout).stdout)


def flowgen_cmd(*args):
    return [os.path.join(os.path.dirname(os.path.abspath(fflib.BIN)),
                         "bench", "flowgen"), *args, "--json"]


class StoreNode(Node):
    """A Node with helpers for its store."""

    def query(self, *args, check=True):
        cp = run(self.cmd("query", "-c", self.conf, "--json", *args),
                 check=check, timeout=60, env=dict(os.environ, TZ="UTC"))
        return json.loads(cp.stdout) if cp.returncode == 0 else cp

    def totals(self, *args):
        t = self.query(*args)["totals"]
        return (t["flows"], t["packets"], t["bytes"])

    def store(self):
        return self.stats()["store"]

    def wait_store(self, pred, what, timeout=30.0):
        """Poll stats until pred(stats) holds; return the stats."""
        def ok():
            st = self.stats()
            return st if pred(st) else None
        return wait_for(ok, timeout=timeout, step=0.05, what=what)

    def wait_settled(self, decoded, timeout=30.0):
        """Wait until the node decoded `decoded` flows and the writer has
        nothing left: no batch queued, nothing pending in the store."""
        return self.wait_store(
            lambda st: st["totals"]["flows"] >= decoded and
            st["store"]["queued"] == 0 and st["store"]["pending"] == 0 and
            st["store"]["appended"] == st["store"]["queue_flows"],
            "%s to decode %d flows and commit them" % (self.name, decoded),
            timeout)


class LmdbWriteLock:
    """Holds the write lock of an LMDB environment from this process, with
    the system's liblmdb (the library the node links): a write
    transaction begun and left open until release(). The node's writer
    thread blocks in its next mdb_txn_begin meanwhile."""

    def __init__(self, path):
        name = ctypes.util.find_library("lmdb") or "liblmdb.so.0"
        self.lib = lib = ctypes.CDLL(name)
        lib.mdb_env_create.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        lib.mdb_env_set_maxdbs.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.mdb_env_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                     ctypes.c_uint, ctypes.c_int]
        lib.mdb_txn_begin.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                      ctypes.c_uint,
                                      ctypes.POINTER(ctypes.c_void_p)]
        lib.mdb_txn_abort.argtypes = [ctypes.c_void_p]
        lib.mdb_env_close.argtypes = [ctypes.c_void_p]
        self.env = ctypes.c_void_p()
        self.txn = None
        if lib.mdb_env_create(ctypes.byref(self.env)) != 0:
            raise AssertionError("mdb_env_create failed")
        lib.mdb_env_set_maxdbs(self.env, 4)
        rc = lib.mdb_env_open(self.env, path.encode(), 0, 0o640)
        if rc != 0:
            lib.mdb_env_close(self.env)
            raise AssertionError("mdb_env_open %s: %d" % (path, rc))

    def acquire(self):
        txn = ctypes.c_void_p()
        rc = self.lib.mdb_txn_begin(self.env, None, 0, ctypes.byref(txn))
        if rc != 0:
            raise AssertionError("mdb_txn_begin: %d" % rc)
        self.txn = txn

    def release(self):
        if self.txn is not None:
            self.lib.mdb_txn_abort(self.txn)
            self.txn = None

    def close(self):
        self.release()
        if self.env:
            self.lib.mdb_env_close(self.env)
            self.env = None


class StoreEndToEnd(ProcTestCase):
    ADDR = "127.0.91.1"

    def test_sent_flows_are_stored_and_queried(self):
        n = StoreNode(self, self.ADDR, name="e2e",
                      extra="store-sync no\n").start()
        gen = flowgen("--send", self.ADDR, "-p", str(n.port), "-n",
                      "300000", "--fps", "150000", "--exporters", "4",
                      "--v6", "10", "--pool", "3000", "-s", "20240501",
                      "-t", "60")
        self.assertEqual(gen["refused"], 0)
        st = n.wait_settled(gen["flows"])
        # What the node counted: exactly what flowgen says went out.
        t = st["totals"]
        self.assertEqual((t["datagrams"], t["flows"], t["packets"],
                          t["bytes"]), (gen["packets"], gen["flows"],
                                        gen["flow_packets"], gen["bytes"]))
        self.assertEqual(sum(s["drops"] for s in st["sockets"]), 0)
        exps = [e for e in st["exporters"] if e["protocol"] == "netflow9"]
        self.assertEqual(sorted(e["domain"] for e in exps), [0, 1, 2, 3])
        self.assertEqual(sum(e["packets"] for e in exps), gen["packets"])
        self.assertEqual(sum(e["flows"] for e in exps), gen["flows"])
        self.assertEqual(sum(e["malformed"] + e["no_template"]
                             for e in exps), 0)
        s = st["store"]
        self.assertEqual((s["committed"], s["flows"], s["dropped"],
                          s["write_errors"]), (gen["flows"], gen["flows"],
                                               0, 0))
        # The store as a query sees it, from another process, while the
        # node runs.
        want = (gen["flows"], gen["flow_packets"], gen["bytes"])
        self.assertEqual(n.totals(), want)
        q = n.query("--top", "4", "--by", "exporter", "--order", "flows")
        self.assertEqual(sum(r["flows"] for r in q["rows"]), gen["flows"])
        self.assertEqual(q["meta"]["blocks_damaged"], 0)

        # Flows sent now reach a query without a stats call (which would
        # flush the partial batch): the 250 ms flush and the 1 s commit.
        more = flowgen("--send", self.ADDR, "-p", str(n.port), "-n",
                       "1000", "-s", "99", "-t", "30")
        want2 = (want[0] + more["flows"], want[1] + more["flow_packets"],
                 want[2] + more["bytes"])
        wait_for(lambda: n.totals() == want2, timeout=15, step=0.1,
                 what="the query to see the flows sent later")

        # SIGTERM: what is decoded but not committed yet is committed.
        last = flowgen("--send", self.ADDR, "-p", str(n.port), "-n",
                       "5000", "-s", "100", "-t", "30")
        n.wait_store(lambda st: st["totals"]["flows"] ==
                     want2[0] + last["flows"], "the last flows decoded")
        self.assertEqual(n.stop(), 0, n.log())
        want3 = (want2[0] + last["flows"], want2[1] + last["flow_packets"],
                 want2[2] + last["bytes"])
        self.assertEqual(n.totals(), want3)
        self.assertIn("flow store: %d flows committed, %d stored" % (
            want3[0], want3[0]), n.log())


class StoreStartup(ProcTestCase):
    ADDR = "127.0.91.6"

    def test_unusable_store_stops_start_up(self):
        """A store that cannot be opened stops the node at start with the
        reason, in the foreground and when detaching (the starting
        process waits for the detached one and exits with its status)."""
        n = StoreNode(self, self.ADDR, name="bad")
        os.makedirs(n.state_dir, mode=0o700)
        with open(os.path.join(n.state_dir, "flows"), "w") as f:
            f.write("not a store\n")
        for args in (("run", "-f", "-c", n.conf), ("run", "-c", n.conf)):
            cp = run(n.cmd(*args), check=False, timeout=30)
            self.assertEqual(cp.returncode, 1, cp.stderr)
            self.assertIn("cannot open the flow store: %s/flows: not a "
                          "directory" % n.state_dir, cp.stderr)
            self.assertIsNone(n.try_stats())


class StoreCrash(ProcTestCase):
    ADDR = "127.0.91.2"
    RATE = 10000        # flows/s of the steady intake

    def test_kill9_keeps_every_committed_flow(self):
        n = StoreNode(self, self.ADDR, name="crash").start()
        fg = self.spawn(flowgen_cmd("--send", self.ADDR, "-p", str(n.port),
                                    "-n", "1000000", "--fps",
                                    str(self.RATE), "--exporters", "2",
                                    "-s", "3", "-t", "60"),
                        log_name="flowgen.log")
        # Steady intake for a while, then kill -9 right after a stats
        # snapshot.
        snap = n.wait_store(lambda st: st["store"]["committed"] >= 25000,
                            "25000 flows committed", timeout=30)
        os.kill(n.proc.pid, signal.SIGKILL)
        n.proc.wait(timeout=10)
        fflib.stop(fg)
        decoded, s = snap["totals"]["flows"], snap["store"]
        self.assertEqual(s["dropped"], 0)

        # Restart on the same state directory: the store opens, and holds
        # every flow committed before the kill.
        n.start()
        st = n.store()
        self.assertGreaterEqual(st["flows"], s["committed"])
        stored = n.totals()[0]
        self.assertEqual(stored, st["flows"])
        self.assertGreaterEqual(stored, s["committed"])
        # The loss is within the stated bound: what was decoded up to the
        # snapshot and is not in the store is at most the flows of the
        # last commit interval and the last partial batch (twice the rate,
        # for pacing bursts), plus what was queued for the writer. Stored
        # flows are always a prefix of the decoded ones (one writer, in
        # order), so this bounds the loss among them.
        bound = (2 * self.RATE * (COMMIT_S + FLUSH_S) + INGEST_BATCH +
                 s["queued"] * INGEST_BATCH)
        self.assertLessEqual(decoded - stored, bound,
                             "decoded %d, committed %d at the snapshot; "
                             "stored after restart %d" % (
                                 decoded, s["committed"], stored))
        # Not damaged: every block reads back.
        q = n.query("--list", "5")
        self.assertEqual(q["meta"]["blocks_damaged"], 0)
        self.assertEqual(len(q["flows"]), 5)

        # The restarted node goes on storing, and a trickle far smaller
        # than a block is committed by the timer alone; it survives a
        # second kill -9.
        more = flowgen("--send", self.ADDR, "-p", str(n.port), "-n", "300",
                       "-s", "4", "-t", "30")
        n.wait_store(lambda st: st["store"]["committed"] == more["flows"],
                     "the trickle committed")
        os.kill(n.proc.pid, signal.SIGKILL)
        n.proc.wait(timeout=10)
        n.start()
        self.assertEqual(n.totals()[0], stored + more["flows"])
        self.assertEqual(n.stop(), 0, n.log())


class StoreBackPressure(ProcTestCase):
    ADDR = "127.0.91.3"

    def test_queue_full_drops_are_counted(self):
        ctl = fflib.Controller(self, extra="status-interval 1s\n").start()
        n = StoreNode(self, self.ADDR, name="bp", extra=(
            "store-sync no\nstore-queue 2\ncontroller-fingerprint %s\n" %
            ctl.fingerprint()))
        with open(n.conf) as f:
            ports = dict(l.split()[0:2] for l in f if l.startswith((
                "control-listen", "query-listen")))
        addr = "%s:%s:%s" % (self.ADDR,
                             ports["control-listen"].rsplit(":", 1)[1],
                             ports["query-listen"].rsplit(":", 1)[1])
        ctl.cli("nodes", "add", "bp", addr, "--fingerprint",
                fflib.node_fingerprint(n.conf), check=True)
        n.start()
        ctl.wait_state("bp", "up")
        lock = LmdbWriteLock(os.path.join(n.state_dir, "flows"))
        self.addCleanup(lock.close)
        lock.acquire()
        try:
            gen = flowgen("--send", self.ADDR, "-p", str(n.port), "-n",
                          "100000", "--fps", "100000", "-s", "5", "-t",
                          "30")
            # The loop thread goes on decoding and answering while the
            # writer waits for the lock: the queue (2 batches) is full and
            # the rest is dropped, counted.
            st = n.wait_store(
                lambda st: st["totals"]["flows"] == gen["flows"],
                "the node to decode everything with its writer blocked")
            s = st["store"]
            self.assertEqual(s["committed"], 0)
            self.assertLessEqual(s["queued"], 2)
            self.assertGreater(s["queue_dropped"], 0)
            self.assertEqual(s["queue_dropped"] + s["queue_flows"],
                             gen["flows"])
            # Taken: what the store buffers before its first write (one
            # block, 32768 rows) and the two batches of the queue.
            self.assertLessEqual(s["queue_flows"],
                                 32768 + 2 * INGEST_BATCH)
        finally:
            lock.release()
        # Released: every decoded flow is stored or counted as dropped.
        st = n.wait_settled(gen["flows"])
        s = st["store"]
        self.assertEqual(s["committed"] + s["queue_dropped"], gen["flows"])
        self.assertEqual(s["dropped"], s["queue_dropped"])
        self.assertEqual(n.totals()[0], s["committed"])
        # The controller's STATUS: the same store, the same drops.
        def seen():
            k = ctl.node("bp")["counters"]
            return k if (k["store"] and k["store_flows"] == s["flows"] and
                         k["flows"] == gen["flows"]) else None
        k = wait_for(seen, timeout=20, step=0.2,
                     what="the controller to see the node's store")
        self.assertEqual(k["store_dropped"], s["queue_dropped"])
        self.assertEqual(n.stop(), 0, n.log())


class StoreFull(ProcTestCase):
    ADDR = "127.0.91.4"

    def test_map_full_is_counted_not_fatal(self):
        n = StoreNode(self, self.ADDR, name="full", extra=(
            "store-sync no\nretention-age none\nretention-size none\n"
            "store-map-size 1M\n")).start()
        gen = flowgen("--send", self.ADDR, "-p", str(n.port), "-n", "200000",
                      "--fps", "200000", "--pool", "20000", "-s", "6",
                      "-t", "30")
        st = n.wait_settled(gen["flows"])
        s = st["store"]
        self.assertGreater(s["write_errors"], 0)
        self.assertGreater(s["write_dropped"], 0)
        self.assertEqual(s["committed"] + s["write_dropped"] +
                         s["queue_dropped"], gen["flows"])
        self.assertLessEqual(s["bytes_used"], 1 << 20)
        self.assertEqual(n.totals()[0], s["committed"])
        # Logged once, not once per failure (at most once a minute).
        log = n.log()
        self.assertEqual(len(re.findall(r"flow store: (write|commit) "
                                        r"failed: store full: ", log)), 1,
                         log)
        self.assertIsNotNone(n.try_stats())
        self.assertEqual(n.stop(), 0, log)


class StoreRetention(ProcTestCase):
    ADDR = "127.0.91.5"

    def test_retention_by_size(self):
        limit = 1 << 20
        n = StoreNode(self, self.ADDR, name="size", extra=(
            "store-sync no\nretention-age none\nretention-size 1M\n")).start()
        sent = 0
        expired = []
        for seed in (7, 8):
            gen = flowgen("--send", self.ADDR, "-p", str(n.port), "-n",
                          "300000", "--fps", "150000", "--pool", "20000",
                          "-s", str(seed), "-t", "60")
            sent += gen["flows"]
            st = n.wait_store(
                lambda st: st["store"]["committed"] == sent and
                st["store"]["pending"] == 0 and
                st["store"]["bytes_used"] <= limit,
                "the store to shrink below 1 MiB after %d flows" % sent)
            s = st["store"]
            self.assertEqual(st["totals"]["flows"], sent)
            self.assertEqual(s["flows"] + s["expired_flows"], s["committed"])
            self.assertGreater(s["expired_blocks"], 0)
            self.assertGreater(s["flows"], 0)
            self.assertEqual(n.totals()[0], s["flows"])
            expired.append(s["expired_flows"])
        # The second round expired more: retention runs continuously.
        self.assertGreater(expired[1], expired[0])
        self.assertEqual(n.stop(), 0, n.log())


if __name__ == "__main__":
    import unittest
    unittest.main()

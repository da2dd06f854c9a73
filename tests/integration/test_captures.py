"""Acceptance: every capture in ../shared/testdata/flows decodes, with as
many flow records as tshark finds and the same field values.

The expected values are in captures_expected.json, written by
gen_capture_expect.py from tshark 4.0.17's decode (each case keeps the
exact commands that produced it); this test needs no tshark. Each case
runs 'flowfleet-node decode --json --no-hold --exporters' over its files
(several files share one decoder, in order) and checks:

  - the number of flow records equals tshark's;
  - every sampled tshark record is found among ours with equal fields,
    after the documented normalizations below;
  - the exporter counters agree with what tshark saw (data sets without
    template, options records, sFlow counter samples) and nothing was
    counted malformed where tshark found nothing malformed.

Files with data that precedes its template are decoded a second time with
holding on (no --no-hold): the held sets are replayed when the template
arrives, and exactly those are counted in held_replayed.

Normalizations (tshark shows raw values; our flow record is normalized,
store/store.h):
  - bytes and packets are multiplied by the sampling rate, and the rate
    is stored in 'sampling' (1 when none is known);
  - for ICMP/ICMPv6, sport is 0 and dport is type * 256 + code;
  - times are absolute UTC ms: NetFlow sysUptime stamps are taken
    relative to the export header's clock, IPFIX uptime stamps relative
    to systemInitTimeMilliseconds, absolute times are cut to the ms;
  - sFlow: packets = sampling rate, bytes = the sampled packet's IP
    length (IPv4 total length, IPv6 payload length + 40) times the rate,
    first = last = the capture time of the datagram;
  - IPFIX records whose packet information is a dataLinkFrameSection
    (IE 315): the fields the record lacks come from the frame as tshark
    dissects it (outer IP header for a tunnel), and a record without
    counters counts that one packet, as for sFlow (packets = rate, bytes
    = IP length times the rate).
"""
import calendar
import ipaddress
import json
import os
import re
import sys
import unittest

import fflib

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECT = os.path.join(HERE, "captures_expected.json")

with open(EXPECT) as _f:
    DOC = json.load(_f)
CASES = DOC["cases"]

# decoder_opts_t hold_max_ms default (node/decode/decode.c DEF_HOLD_MS), the
# "hold it for up to 30 s" of 'flowfleet-node decode --help'.
HOLD_MS = 30000

# Decoder precedence when a template carries several counters or times
# (node/decode/template.c tpl_compile: octetDeltaCount over octetTotalCount over
# postOctetDeltaCount; the best time encoding first).
BYTES_FIELDS = ["cflow.octets", "cflow.permanent_octets", "cflow.post_octets"]
PACKETS_FIELDS = ["cflow.packets", "cflow.permanent_packets",
                  "cflow.post_packets"]
START_IES = [152, 150, 154, 156, 158, 22]
END_IES = [153, 151, 155, 157, 159, 21]

# Cases whose files are malformed on purpose (testdata README, "Files
# tshark flags as malformed / known-bad"). What the decoder does with
# them is what its code documents; the expectations are stated here with
# their reasons and override tshark's count.
MALFORMED = {
    # node/decode/nf5.c: "The count must describe exactly the records present":
    # a v5 header whose count needs more bytes than the datagram holds is
    # rejected whole (tshark decodes the 30 records that are there).
    # 55582 records exceed the v5 maximum, 163 need 7848 bytes > 1464.
    "logstash-codec-netflow/wrapped/netflow5_invalid01.pcap":
        {"flows": 0, "malformed": 1, "exporter_packets": 0},
    "logstash-codec-netflow/wrapped/netflow5_invalid02.pcap":
        {"flows": 0, "malformed": 1, "exporter_packets": 0},
    # The UDP header says 16 bytes, so the datagram is 8 bytes of sFlow
    # (version 5, agent type IPv4, then the end; the kernel would trim
    # the same way). node/decode/sflow.c: a datagram too short to name its
    # sub-agent is counted only in the decoder's global malformed counter
    # and makes no exporter.
    "tcpdump/sflow_print-segv.pcap":
        {"flows": 0, "malformed": 1, "exporters": 0},
}

MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}


def abs_ms(s):
    """tshark's 'Mon DD, YYYY HH:MM:SS.nnnnnnnnn UTC' to ms, cut down."""
    m = re.match(r"(\w{3})\s+(\d+), (\d{4}) (\d\d):(\d\d):(\d\d)\.(\d+) UTC",
                 s)
    if not m:
        raise ValueError("unexpected tshark time %r" % s)
    mon, day, year, hh, mm, ss, frac = m.groups()
    secs = calendar.timegm((int(year), MONTHS[mon], int(day), int(hh),
                            int(mm), int(ss)))
    return secs * 1000 + int((frac + "000")[:3])


def secs_ms(s):
    """tshark's 'SSS.nnnnnnnnn' (seconds) to ms, cut down."""
    whole, _, frac = s.partition(".")
    return int(whole) * 1000 + int((frac + "000")[:3])


def is_epoch(s):
    return s.startswith("Jan  1, 1970 00:00:00.000")


def uptime_abs(export_ms, sysuptime_ms, stamp_ms):
    """Absolute time of a sysUptime stamp: the stamp lies (sysuptime -
    stamp) ms before the export, computed mod 2^32 as both counters
    wrap (node/decode/decode_int.h uptime_to_ms)."""
    delta = (sysuptime_ms - stamp_ms) & 0xffffffff
    if delta >= 0x80000000:
        delta -= 1 << 32
    if delta > 0 and delta > export_ms:
        return 0
    return export_ms - delta


def addr(s):
    """Canonical text of an address; IPv4-mapped IPv6 as IPv4."""
    a = ipaddress.ip_address(s)
    if a.version == 6 and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return str(a)


def num(s):
    return int(s, 0)


def rate_of(ev):
    """The sampling rate tshark shows (the generator's 'sampling' entry:
    the rate fields of the record itself or of the options record that
    applies), as node/decode/nf9.c record_rate() reads them: samplingPopulation
    / samplingSize (RFC 5477 n-out-of-N), else (samplingPacketInterval +
    samplingPacketSpace) / samplingPacketInterval (systematic count-based
    sampling), else samplingInterval / samplerRandomInterval (1-in-N);
    0 means unsampled."""
    if ev is None:
        return 1
    f = ev["rate"]
    size = num(f.get("cflow.sampling_size", "0"))
    if "cflow.sampling_population" in f and size:
        return num(f["cflow.sampling_population"]) // size
    if "cflow.sampling_packet_interval" in f:
        iv = num(f["cflow.sampling_packet_interval"])
        sp = num(f.get("cflow.sampling_packet_space", "0"))
        return (iv + sp) // iv if iv else 1
    for k in ("cflow.sampler_random_interval", "cflow.sampling_interval"):
        if k in f:
            return num(f[k]) or 1
    return 1


def first_of(rec, names):
    for n in names:
        if n in rec:
            return rec[n]
    return None


def icmp_dport(rec, proto):
    """ICMP type * 256 + code: from icmpTypeCode, else from icmpType and
    icmpCode, of the record's address family; else exporters put it in
    the destination port (or, for a few, the source port)."""
    fam = "ipv4" if proto == 1 else "ipv6"
    tc = rec.get("cflow.icmp_type_code_" + fam)
    if tc is not None:
        return num(tc)
    t = rec.get("cflow.icmp_%s_type" % fam)
    c = rec.get("cflow.icmp_%s_code" % fam)
    if t is not None or c is not None:
        return num(t or "0") * 256 + num(c or "0")
    dp = num(rec.get("cflow.dstport", "0"))
    return dp if dp else num(rec.get("cflow.srcport", "0"))


def expect_netflow(rec):
    """Our normalized fields for one tshark NetFlow v5/v9/IPFIX record;
    only fields tshark showed unambiguously."""
    e = {"exporter": addr(rec["exporter"])}
    hdr = rec["header"]
    amb = set(rec.get("ambiguous", []))

    # addresses: a template may carry both families; the decoder takes
    # the one that is not zero (node/decode/template.c both_af)
    for side, v4, v6 in (("src", "cflow.srcaddr", "cflow.srcaddrv6"),
                         ("dst", "cflow.dstaddr", "cflow.dstaddrv6")):
        if v4 in amb or v6 in amb:
            continue
        a4, a6 = rec.get(v4), rec.get(v6)
        if a4 is not None and a6 is not None:
            if a4 != "0.0.0.0":
                e[side] = addr(a4)
            elif a6 != "::":
                e[side] = addr(a6)
            else:
                e[side] = "::"
        elif a4 is not None:
            e[side] = addr(a4)
        elif a6 is not None:
            e[side] = addr(a6)

    proto = rec.get("cflow.protocol")
    if proto is not None and "cflow.protocol" not in amb:
        proto = num(proto)
        e["proto"] = proto
    if proto in (1, 58):
        # ICMP: sport 0, dport type * 256 + code (store/store.h)
        e["sport"] = 0
        e["dport"] = icmp_dport(rec, proto)
    else:
        for k, n in (("sport", "cflow.srcport"), ("dport", "cflow.dstport")):
            if n in rec and n not in amb:
                e[k] = num(rec[n])

    # sampling: v5 from the header's 14-bit interval, v9/IPFIX from the
    # record or the options record tshark shows for its sampler
    if rec["kind"] == "v5":
        rate = num(hdr.get("cflow.samplerate", "0")) or 1
    else:
        rate = rate_of(rec.get("sampling"))
    e["sampling"] = rate
    for k, names in (("bytes", BYTES_FIELDS), ("packets", PACKETS_FIELDS)):
        if amb.intersection(names):
            continue
        v = first_of(rec, names)
        if v is not None:
            e[k] = num(v) * rate

    # IPFIX dataLinkFrameSection (IE 315): the record describes a sampled
    # frame; its addresses, protocol and ports are those of the frame as
    # tshark dissects it (the record itself carries none), and when the
    # record has no counter it reports that one packet: packets 1, bytes
    # the frame's IP length (node/decode/nf9.c section())
    if "data_link_frame" in rec:
        pk, iplen = expect_packet(rec["data_link_frame"])
        for k, v in pk.items():
            e.setdefault(k, v)
        if iplen is not None and "bytes" not in e and "packets" not in e \
                and not amb.intersection(BYTES_FIELDS + PACKETS_FIELDS):
            e["bytes"] = iplen * rate
            e["packets"] = rate

    t = expect_times(rec)
    if t is not None:
        e["first_ms"], e["last_ms"] = t
    return e


def expect_times(rec):
    """(first_ms, last_ms) from tshark's times, or None when tshark gives
    no absolute time to compare with."""
    hdr = rec["header"]
    amb = set(rec.get("ambiguous", []))
    if rec["kind"] == "v5":
        export = int(hdr["cflow.unix_secs"]) * 1000 + \
            int(hdr.get("cflow.unix_nsecs", "0")) // 1000000
        up = secs_ms(hdr["cflow.sysuptime"])
        return (uptime_abs(export, up, secs_ms(rec["cflow.timestart"])),
                uptime_abs(export, up, secs_ms(rec["cflow.timeend"])))
    ies = rec.get("time_ies", [])
    if rec["kind"] == "v9":
        export = int(hdr["cflow.unix_secs"]) * 1000
        up = secs_ms(hdr["cflow.sysuptime"])
    else:
        export = int(hdr["cflow.exporttime"]) * 1000
        up = None
    if not ies:
        # no time in the record: node/decode/nf9.c finish() stamps it with its
        # packet's export time (the header's, as tshark shows it)
        return export, export
    if amb.intersection({"cflow.timestart", "cflow.timeend",
                         "cflow.abstimestart", "cflow.abstimeend"}):
        return None
    start = next((i for i in START_IES if i in ies), None)
    end = next((i for i in END_IES if i in ies), None)
    init = rec.get("cflow.sys_init_time") or \
        (rec.get("sys_init_time") or {}).get("value")

    def one(ie, rel, absn):
        if ie is None:
            return 0
        if ie in (21, 22):
            # sysUptime ms; tshark shows a stamp of 0 as the epoch
            if rel in rec:
                stamp = secs_ms(rec[rel])
            elif absn in rec and is_epoch(rec[absn]):
                stamp = 0
            else:
                return None
            if rec["kind"] == "v9":
                return uptime_abs(export, up, stamp)
            if init is None:
                return None     # IPFIX uptime without systemInitTime
            return abs_ms(init) + stamp
        if absn not in rec:
            return None
        return abs_ms(rec[absn])

    first = one(start, "cflow.timestart", "cflow.abstimestart")
    last = one(end, "cflow.timeend", "cflow.abstimeend")
    if first is None or last is None:
        return None
    # node/decode/nf9.c finish(): a missing start is the end, else the export
    # time; a missing end is the start
    if first == 0:
        first = last if last else export
    if last == 0:
        last = first
    return first, last


def expect_packet(p):
    """(fields, IP length) of a packet tshark dissected inside a record
    (its outermost IP header and the transport header right after it;
    for a tunnel, IP in IP or SRv6, the outer addresses only)."""
    e = {}
    l3 = p.get("l3")
    if l3 == "ip":
        e["src"], e["dst"] = addr(p["ip.src"]), addr(p["ip.dst"])
        iplen = int(p["ip.len"])
    elif l3 == "ipv6":
        e["src"], e["dst"] = addr(p["ipv6.src"]), addr(p["ipv6.dst"])
        iplen = int(p["ipv6.plen"]) + 40
    else:
        return e, None
    l4 = p.get("l4")
    if l4 in ("tcp", "udp"):
        e["proto"] = 6 if l4 == "tcp" else 17
        e["sport"] = int(p[l4 + ".srcport"])
        e["dport"] = int(p[l4 + ".dstport"])
    elif l4 in ("icmp", "icmpv6"):
        e["proto"] = 1 if l4 == "icmp" else 58
        e["sport"] = 0
        e["dport"] = int(p[l4 + ".type"]) * 256 + int(p[l4 + ".code"])
    elif l3 == "ip" and "tunnel" not in p:
        e["proto"] = int(p["ip.proto"])
    return e, iplen


def expect_sflow(rec):
    rate = int(rec["sflow.flow_sample.sampling_rate"])
    t = secs_ms(rec["frame.time_epoch"])
    e = {"exporter": addr(rec["exporter"]), "sampling": rate,
         "packets": rate, "first_ms": t, "last_ms": t}
    pk, iplen = expect_packet(rec)
    e.update(pk)
    if iplen is not None:
        e["bytes"] = iplen * rate
    return e


def expect(rec):
    return expect_sflow(rec) if rec["kind"] == "sflow" else \
        expect_netflow(rec)


def ours(f):
    """The comparable fields of one of our JSON flow records (an address
    the export did not report is null: no tshark field matches it)."""
    return {"exporter": addr(f["exporter"]),
            "src": addr(f["src"]) if f["src"] is not None else None,
            "dst": addr(f["dst"]) if f["dst"] is not None else None,
            "sport": f["sport"], "dport": f["dport"],
            "proto": f["proto"], "bytes": f["bytes"],
            "packets": f["packets"], "sampling": f["sampling"],
            "first_ms": f["first_ms"], "last_ms": f["last_ms"]}


def match_sample(tc, sample, flows):
    """Find each expected record among flows (each of ours used once)."""
    mine = [ours(f) for f in flows]
    used = set()
    for rec in sample:
        exp = expect(rec)
        hit = None
        for i, o in enumerate(mine):
            if i not in used and all(o[k] == v for k, v in exp.items()):
                hit = i
                break
        if hit is not None:
            used.add(hit)
            continue
        # the nearest of ours, to show what differs
        best, bscore = None, -1
        for i, o in enumerate(mine):
            score = sum(o[k] == v for k, v in exp.items())
            if score > bscore:
                best, bscore = i, score
        diff = {k: (v, mine[best][k]) for k, v in exp.items()
                if mine[best][k] != v} if best is not None else exp
        tc.fail("tshark record (frame %s) not found among our %d records;\n"
                "expected %s\nnearest of ours differs in {field: (tshark, "
                "ours)} %s\ntshark record: %s" % (
                    rec["frame"], len(mine), exp, diff,
                    json.dumps(rec, sort_keys=True)))


def total(exporters, key):
    return sum(e[key] for e in exporters)


class CaptureTests(unittest.TestCase):
    """One test per case of captures_expected.json (added below)."""

    @classmethod
    def setUpClass(cls):
        why = fflib.testdata_missing()
        if why is not None:
            sys.stderr.write("\n*** test_captures: %s: the %d capture "
                             "acceptance cases FAIL. ***\n"
                             % (why, len(CASES)))

    def setUp(self):
        fflib.require_testdata(self)
        if not os.access(fflib.binpath("flowfleet-node"), os.X_OK):
            self.fail("no flowfleet-node in FF_BIN=%r" % fflib.BIN)

    def decode(self, case, *extra):
        files = [fflib.testdata(f) for f in case["files"]]
        for f in files:
            if not os.path.exists(f):
                self.fail("%s is missing from FF_TESTDATA" % f)
        flows, summary, exporters, cp = fflib.decode(files, *extra)
        self.assertIsNotNone(summary, "no JSON summary on stderr:\n%s"
                             % cp.stderr[-2000:])
        self.assertEqual(len(flows), summary["flows"],
                         "records printed != summary flows")
        return flows, summary, exporters

    def run_case(self, case):
        flows, summary, exporters = self.decode(case, "--no-hold")
        mal = MALFORMED.get(case["name"])
        if mal is not None:
            self.check_malformed(case, mal, flows, summary, exporters)
            return
        # A case with "unrepaired" is one where tshark stops early on
        # well-formed data (a NetFlow v9 header count below the records
        # present, a field length tshark cannot dissect); its
        # expectations come from tshark's decode of a repaired copy, as
        # the case's commands say (gen_capture_expect.py, repairs).
        self.assertEqual(len(flows), case["count"],
                         "flow records: ours %d, tshark %d (%s)" % (
                             len(flows), case["count"],
                             "; ".join(case["commands"])))
        match_sample(self, case["sample"], flows)

        self.assertEqual(total(exporters, "flows"), case["count"],
                         "exporters' flows counter")
        self.assertEqual(total(exporters, "options_records"),
                         case["options_records"],
                         "options records: ours vs tshark's")
        self.assertEqual(total(exporters, "counter_samples"),
                         case["counter_samples"],
                         "sFlow counter samples: ours vs tshark's")
        # --no-hold: every data set without a template is dropped at once
        self.assertEqual(total(exporters, "no_template"),
                         case["no_template_sets"],
                         "data sets without template: ours vs tshark's")
        self.assertEqual(total(exporters, "no_template_dropped"),
                         case["no_template_sets"],
                         "--no-hold drops every set without template")
        self.assertEqual(total(exporters, "held_replayed"), 0)
        if case["malformed_frames"] == 0:
            self.assertEqual(summary["malformed"], 0,
                             "malformed where tshark found nothing wrong")
        self.assertEqual(summary["unknown_version"], 0)
        cut = any("cut short" in l for l in case.get("tshark_stderr", []))
        self.assertEqual(summary["truncated_files"], 1 if cut else 0,
                         "truncated file reported iff tshark says so")

    def check_malformed(self, case, mal, flows, summary, exporters):
        self.assertEqual(len(flows), mal["flows"],
                         "flows from a malformed file (tshark: %d)"
                         % case["count"])
        self.assertEqual(summary["malformed"], mal["malformed"],
                         "malformed counter")
        if "exporters" in mal:
            self.assertEqual(len(exporters), mal["exporters"])
        if "exporter_packets" in mal:
            self.assertEqual(total(exporters, "packets"),
                             mal["exporter_packets"])
            self.assertEqual(total(exporters, "malformed"),
                             mal["malformed"])

    def run_held(self, case):
        """Decode with holding on: the sets held while their template
        was missing are replayed when it arrives, if it arrives within
        the hold time, and counted in held_replayed."""
        held = case["held"]
        replay = [s for s in held["replayable_sets"]
                  if secs_ms(s["template_frame.time_epoch"]) -
                  secs_ms(s["frame.time_epoch"]) <= HOLD_MS]
        extra = sum(s["records"] for s in replay)
        flows, summary, exporters = self.decode(case)
        self.assertEqual(len(flows), case["count"] + extra,
                         "records with holding: tshark's %d + %d replayed "
                         "from %s" % (case["count"], extra, replay))
        self.assertEqual(total(exporters, "held_replayed"), len(replay),
                         "held_replayed counts the replayed sets")
        self.assertEqual(total(exporters, "no_template"),
                         case["no_template_sets"])
        self.assertEqual(total(exporters, "no_template_dropped"),
                         case["no_template_sets"] - len(replay),
                         "held sets never replayed are dropped at the end")


def _name(s):
    return re.sub(r"[^0-9A-Za-z]+", "_", s).strip("_")


def _add(case):
    def t(self):
        self.run_case(case)
    t.__doc__ = "%s: %d records (tshark)" % (case["name"], case["count"])
    setattr(CaptureTests, "test_" + _name(case["name"]), t)
    if "held" in case:
        def h(self):
            self.run_held(case)
        h.__doc__ = "%s: held data replayed" % case["name"]
        setattr(CaptureTests, "test_held_" + _name(case["name"]), h)


for _c in CASES:
    _add(_c)

if __name__ == "__main__":
    unittest.main()

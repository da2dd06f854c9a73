#!/usr/bin/python3
"""Generate tests/integration/captures_expected.json: what tshark 4.0.17
decodes from every capture in ../shared/testdata/flows.

Usage: gen_capture_expect.py [TESTDATA_DIR] [-o OUT.json]
       (TESTDATA_DIR defaults to $FF_TESTDATA, then ../shared/testdata/flows)

One test case per .pcap (the .dat payload dumps are covered by their
pcaps in */wrapped/), except the akvorado template/data pairs, which are
replayed as one ordered group in the order the testdata README gives. A
group is concatenated with 'mergecap -a' (no reordering by time) and
tshark reads the result.

For every case the JSON records the exact commands that were run and, from
tshark's decode:
  count             flow records: NetFlow v5 records, NetFlow v9 / IPFIX
                    data records of non-options templates, sFlow flow
                    samples (plain and expanded)
  no_template_sets  v9/IPFIX data sets tshark could not decode because no
                    template preceded them in the file
  options_records   data records of options templates
  counter_samples   sFlow counter samples
  malformed_frames  frames tshark marked "Malformed Packet"
  sample            up to 10 records, spread evenly over the file, with
                    the tshark fields as tshark shows them (strings) plus
                    the packet context needed to normalize them (export
                    header clock, frame time, exporter address, the
                    sampling rate tshark shows for the record and where).
  held              for single files with data sets that precede their
                    template: the file is read twice in a row ('mergecap
                    -a F F'); in the second copy every template of the
                    file is known, so the sets tshark skipped in the
                    first copy and decodes in the second are those a
                    collector that holds data until its template arrives
                    can replay: replayable_sets lists them with their
                    record counts, capture times and the frame (and its
                    time) where their template first appears.
  unrepaired        for files where tshark stops early on well-formed
                    data (see "repairs" below): what tshark says of the
                    file as it is; the case's own values then come from
                    a repaired copy, and its first command says how it
                    was made.

Nothing here normalizes values: the test (test_captures.py) applies the
documented transformations (sampling, ICMP type/code, absolute times).
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DEFAULT = os.path.join(HERE, "captures_expected.json")

# Ports the cflow dissector does not claim by default (testdata README);
# every file is read with all of them given to cflow.
NONSTD_PORTS = [2057, 2100, 8096, 9500, 9990, 9991, 9992, 9995]
TSHARK_PREFS = ["-o", "cflow.max_template_fields:1000"]
TSHARK_OUT = ["-T", "json", "-J",
              "frame ip ipv6 udp cflow sflow _ws.malformed"]
SAMPLE_MAX = 10

# akvorado template/data pairs, replayed in the README's order.
GROUPS = [
    ("akvorado/netflow/options(template,data)", [
        "akvorado/netflow/options-template.pcap",
        "akvorado/netflow/options-data.pcap",
        "akvorado/netflow/template.pcap",
        "akvorado/netflow/data.pcap"]),
    ("akvorado/netflow/multiplesamplingrates(template,data)", [
        "akvorado/netflow/multiplesamplingrates-options-template.pcap",
        "akvorado/netflow/multiplesamplingrates-options-data.pcap",
        "akvorado/netflow/multiplesamplingrates-template.pcap",
        "akvorado/netflow/multiplesamplingrates-data.pcap"]),
    ("akvorado/netflow/datalink(template,data)", [
        "akvorado/netflow/datalink-template.pcap",
        "akvorado/netflow/datalink-data.pcap"]),
    ("akvorado/netflow/ethernet-over-mpls-with-control-word(template,data)", [
        "akvorado/netflow/ethernet-over-mpls-with-control-word-template.pcap",
        "akvorado/netflow/ethernet-over-mpls-with-control-word-data.pcap"]),
    ("akvorado/netflow/icmp(template,data)", [
        "akvorado/netflow/icmp-template.pcap",
        "akvorado/netflow/icmp-data.pcap"]),
    ("akvorado/netflow/ipfix-srv6(template,data)", [
        "akvorado/netflow/ipfix-srv6-template.pcap",
        "akvorado/netflow/ipfix-srv6-data.pcap"]),
    ("akvorado/netflow/ipfixprobe(templates,data)", [
        "akvorado/netflow/ipfixprobe-templates.pcap",
        "akvorado/netflow/ipfixprobe-data.pcap"]),
    ("akvorado/netflow/juniper-cpid(template,data)", [
        "akvorado/netflow/juniper-cpid-template.pcap",
        "akvorado/netflow/juniper-cpid-data.pcap"]),
    ("akvorado/netflow/samplingrate(template,data)", [
        "akvorado/netflow/samplingrate-template.pcap",
        "akvorado/netflow/samplingrate-data.pcap"]),
]

# tshark field names of the IANA elements whose values the test compares,
# so that a record's value can be told from an RFC 5103 reverse field
# (PEN 29305), which tshark shows under the same name.
IE_FIELD = {
    1: "cflow.octets", 2: "cflow.packets", 4: "cflow.protocol",
    7: "cflow.srcport", 8: "cflow.srcaddr", 11: "cflow.dstport",
    12: "cflow.dstaddr", 23: "cflow.post_octets", 24: "cflow.post_packets",
    27: "cflow.srcaddrv6", 28: "cflow.dstaddrv6",
    32: "cflow.icmp_type_code_ipv4", 85: "cflow.permanent_octets",
    86: "cflow.permanent_packets", 139: "cflow.icmp_type_code_ipv6",
    176: "cflow.icmp_ipv4_type", 177: "cflow.icmp_ipv4_code",
    178: "cflow.icmp_ipv6_type", 179: "cflow.icmp_ipv6_code",
    160: "cflow.sys_init_time",
}
# Other elements tshark shows under the same names (udp/tcp ports).
IE_ALIAS = {180: "cflow.srcport", 182: "cflow.srcport",
            181: "cflow.dstport", 183: "cflow.dstport"}
# Fields kept in a v9/IPFIX sample record (tshark names).
FLOW_KEEP = sorted(set(IE_FIELD.values()))
# Time elements: tshark shows 21/22 as cflow.timestart/timeend (seconds
# of sysUptime, or cflow.abstime* when the value is 0), every other time
# element as cflow.abstimestart/abstimeend.
TIME_IES = {21, 22, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159}
# Sampling: in a data record, or in options records keyed by sampler id.
# samplingInterval (34), samplerRandomInterval (50), RFC 5477
# samplingPacketInterval/Space (305/306), samplingSize/Population (309/310).
RATE_FIELDS = ["cflow.sampling_interval", "cflow.sampler_random_interval",
               "cflow.sampling_packet_interval",
               "cflow.sampling_packet_space", "cflow.sampling_size",
               "cflow.sampling_population"]
SAMPLER_ID_FIELDS = ["cflow.sampler_id", "cflow.selector_id"]


def pairs_hook(p):
    """Keep tshark's JSON objects as ordered (key, value) lists: the same
    key may occur several times in one object."""
    return p


def get(obj, key, default=None):
    """First value of key in a pairs list."""
    if isinstance(obj, list):
        for k, v in obj:
            if k == key:
                return v
    return default


def get_all(obj, key):
    return [v for k, v in obj if k == key] if isinstance(obj, list) else []


def flatten(obj, out=None):
    """All (key, scalar value) of a cflow record, depth first, in order,
    without descending into embedded packets (keys not 'cflow.')."""
    if out is None:
        out = []
    for k, v in obj:
        if isinstance(v, list):
            if k.startswith("cflow.") or k.startswith("Flow") or \
                    k.startswith("pdu"):
                flatten(v, out)
        else:
            out.append((k, v))
    return out


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          **kw)


def show_cmd(cmd, tdir, tmp):
    """A command line for the JSON: testdata paths as $FF_TESTDATA/...,
    temporary files as $TMP/..."""
    out = []
    for a in cmd:
        if a.startswith(tdir + "/"):
            a = "$FF_TESTDATA/" + a[len(tdir) + 1:]
        elif tmp and a.startswith(tmp + "/"):
            a = "$TMP/" + a[len(tmp) + 1:]
        if re.search(r"[\s'\"$()]", a) and not a.startswith("$"):
            a = "'" + a + "'"
        out.append(a)
    return " ".join(out)


def tshark_cmd(path):
    cmd = ["tshark", "-n", "-r", path] + TSHARK_PREFS
    for p in NONSTD_PORTS:
        cmd += ["-d", "udp.port==%d,cflow" % p]
    return cmd + TSHARK_OUT


def tshark_json(cmd):
    cp = run(cmd)
    if not cp.stdout.strip():
        sys.exit("tshark gave no output: %s\n%s" % (" ".join(cmd),
                                                     cp.stderr.decode()))
    return json.loads(cp.stdout, object_pairs_hook=pairs_hook), \
        cp.stderr.decode(errors="replace").strip()


# --- walking tshark's decode -------------------------------------------------

def template_fields(tobj):
    """[(ie, pen)] of a template record (data fields, then scope fields
    appear with pen -1 so they never match an IANA element)."""
    fields = []
    for k, v in tobj:
        if not (isinstance(v, list) and k.startswith("Field")):
            continue
        if "[Scope]" in k:
            fields.append((-1, -1))
            continue
        t = get(v, "cflow.template_field_type")
        if t is None:
            t = get(v, "cflow.template_ipfix_field_type")
        pen = get(v, "cflow.template_ipfix_field_pen")
        if t is None:
            # enterprise field that tshark names by vendor (e.g. Juniper)
            fields.append((-1, int(pen) if pen else -1))
            continue
        fields.append((int(t), int(pen) if pen else 0))
    return fields


class Walker:
    """Walk tshark's frames in order, keeping the templates per frame and
    the sampler tables per exporter, and collecting the records."""

    def __init__(self):
        self.templates = {}     # (frame, template id) -> (options, fields)
        self.samplers = {}      # (exporter, domain) -> {id: (rate, src)}
        self.sysinit = {}       # (exporter, domain) -> (value, frame)
        self.records = []
        self.count = 0
        self.no_template_sets = []  # (frame index, set index)
        self.nt_info = []           # per no-template set: details
        self.tpl_defs = []          # (frame, exporter key, template id)
        self.decoded_sets = {}      # (frame index, set index) -> flows
        self.options_records = 0
        self.counter_samples = 0
        self.malformed_frames = 0
        self.versions = set()
        self.frame_times = []       # frame.time_epoch of every frame
        self.sets_per_frame = {}    # frame number -> v9/IPFIX sets shown

    def walk(self, frames):
        for idx, fr in enumerate(frames):
            layers = get(get(fr, "_source"), "layers")
            num = int(get(get(layers, "frame"), "frame.number"))
            if get(layers, "_ws.malformed") is not None:
                self.malformed_frames += 1
            ctx = self.frame_ctx(layers, num)
            self.frame_times.append(ctx["frame.time_epoch"])
            for cf in get_all(layers, "cflow"):
                self.cflow(cf, ctx, idx)
            for sf in get_all(layers, "sflow"):
                self.sflow(sf, ctx)

    @staticmethod
    def frame_ctx(layers, num):
        fr = get(layers, "frame")
        ip = get(layers, "ip")
        ip6 = get(layers, "ipv6")
        udp = get(layers, "udp")
        if ip is not None:
            exp = get(ip, "ip.src")
        elif ip6 is not None:
            exp = get(ip6, "ipv6.src")
        else:
            exp = None
        return {"frame": num, "frame.time_epoch": get(fr, "frame.time_epoch"),
                "exporter": exp,
                "udp.srcport": get(udp, "udp.srcport") if udp else None}

    # NetFlow ----------------------------------------------------------------

    def cflow(self, cf, ctx, idx):
        version = int(get(cf, "cflow.version"))
        self.versions.add(version)
        hdr = {"cflow.version": str(version)}
        for k in ("cflow.sysuptime", "cflow.source_id", "cflow.od_id",
                  "cflow.samplingmode", "cflow.samplerate"):
            v = get(cf, k)
            if v is not None:
                hdr[k] = v
        ts = get(cf, "cflow.timestamp_tree") or []
        for k in ("cflow.unix_secs", "cflow.unix_nsecs", "cflow.exporttime"):
            v = get(ts, k)
            if v is not None:
                hdr[k] = v
        if version == 5:
            for k, v in cf:
                if k.startswith("pdu ") and isinstance(v, list):
                    self.v5_record(v, ctx, hdr)
            return
        if version not in (9, 10):
            return
        domain = hdr.get("cflow.source_id", hdr.get("cflow.od_id", "0"))
        xkey = (ctx["exporter"], domain)
        setno = 0
        for k, v in cf:
            if not (isinstance(v, list) and
                    (k.startswith("FlowSet ") or k.startswith("Set "))):
                continue
            setno += 1
            self.sets_per_frame[ctx["frame"]] = setno
            sid = int(get(v, "cflow.flowset_id"))
            if sid in (0, 1, 2, 3):
                for tk, tv in v:
                    m = re.match(r"(Options )?Template \(Id = (\d+)", tk)
                    if m and isinstance(tv, list):
                        self.templates[(ctx["frame"], int(m.group(2)))] = (
                            m.group(1) is not None, template_fields(tv))
                        self.tpl_defs.append((ctx["frame"], xkey,
                                              int(m.group(2))))
                continue
            if sid < 256:
                continue
            tf = get(v, "cflow.template_frame")
            if tf is None:
                self.no_template_sets.append((idx, setno))
                self.nt_info.append({
                    "frame": ctx["frame"], "set": setno, "set_id": sid,
                    "frame.time_epoch": ctx["frame.time_epoch"],
                    "xkey": xkey})
                continue
            tpl = self.templates.get((int(tf), sid))
            if tpl is None:
                sys.exit("frame %d: template %d of frame %s not seen"
                         % (ctx["frame"], sid, tf))
            options, fields = tpl
            nflows = 0
            for rk, rv in v:
                if not (rk.startswith("Flow ") and isinstance(rv, list)):
                    continue
                if options:
                    self.options_records += 1
                    self.options_record(rv, xkey, ctx)
                else:
                    nflows += 1
                    self.v9_record(rv, fields, ctx, hdr, xkey, sid)
            self.decoded_sets[(idx, setno)] = nflows

    def options_record(self, rec, xkey, ctx):
        flat = dict(flatten(rec))
        rate = rate_fields(flat)
        if "cflow.sys_init_time" in flat:
            self.sysinit[xkey] = (flat["cflow.sys_init_time"], ctx["frame"])
        if rate is None:
            return
        sid = None
        for f in SAMPLER_ID_FIELDS:
            if f in flat:
                sid = (f, flat[f])
                break
        tbl = self.samplers.setdefault(xkey, {})
        tbl[sid[1] if sid else None] = (rate, "options record in frame %d%s"
                                        % (ctx["frame"], " (%s %s)" % sid
                                           if sid else ""))

    def v5_record(self, pdu, ctx, hdr):
        self.count += 1
        rec = {"kind": "v5", "frame": ctx["frame"],
               "exporter": ctx["exporter"], "header": dict(hdr)}
        fl = dict(flatten(pdu))
        for k in ("cflow.srcaddr", "cflow.dstaddr", "cflow.srcport",
                  "cflow.dstport", "cflow.protocol", "cflow.octets",
                  "cflow.packets", "cflow.timestart", "cflow.timeend"):
            if k in fl:
                rec[k] = fl[k]
        self.records.append(rec)

    def v9_record(self, flow, fields, ctx, hdr, xkey, tid):
        self.count += 1
        flat = flatten(flow)
        rec = {"kind": "v%d" % int(hdr["cflow.version"]),
               "frame": ctx["frame"], "exporter": ctx["exporter"],
               "template": tid, "header": dict(hdr)}
        ambiguous = []
        # Which occurrence of a field name is the IANA element's value:
        # tshark shows an RFC 5103 reverse field (PEN 29305) and a few
        # other elements (IE_ALIAS) under the same name, in record order.
        names = {}
        for ie, pen in fields:
            name = IE_FIELD.get(ie) or IE_ALIAS.get(ie)
            if name and pen in (0, 29305):
                names.setdefault(name, []).append(
                    (ie, pen) if IE_FIELD.get(ie) == name else None)
        for name in FLOW_KEEP:
            vals = [v for k, v in flat if k == name]
            if not vals:
                continue
            occ = names.get(name, [])
            own = [i for i, o in enumerate(occ) if o is not None and
                   o[1] == 0]
            if len(vals) == len(occ) and len(own) == 1:
                rec[name] = vals[own[0]]
            else:
                ambiguous.append(name)
        # Times: the elements the template carries, and tshark's values.
        ies = [ie for ie, pen in fields if pen == 0 and ie in TIME_IES]
        if ies:
            rec["time_ies"] = ies
            for name in ("cflow.timestart", "cflow.timeend",
                         "cflow.abstimestart", "cflow.abstimeend"):
                vals = [v for k, v in flat if k == name]
                if len(vals) == 1:
                    rec[name] = vals[0]
                elif vals:
                    ambiguous.append(name)
        if hdr["cflow.version"] == "10" and (21 in ies or 22 in ies):
            if "cflow.sys_init_time" not in rec and xkey in self.sysinit:
                rec["sys_init_time"] = {
                    "value": self.sysinit[xkey][0],
                    "from": "options record in frame %d"
                            % self.sysinit[xkey][1]}
        # IPFIX dataLinkFrameSection (IE 315): tshark dissects the frame
        dl = find_key(flow, "cflow.data_link_frame_section_tree")
        if dl is not None:
            rec["data_link_frame"] = embedded_packet(dl)
        if ambiguous:
            rec["ambiguous"] = sorted(ambiguous)
        rec["sampling"] = self.record_rate(dict(flat), xkey)
        self.records.append(rec)

    def record_rate(self, flat, xkey):
        """The sampling rate tshark shows for a record: in the record,
        else in the options record of its sampler id, else in an options
        record without sampler id (exporter-wide); None if none."""
        rate = rate_fields(flat)
        if rate is not None:
            return {"rate": rate, "from": "the record"}
        tbl = self.samplers.get(xkey, {})
        for f in SAMPLER_ID_FIELDS:
            if f in flat and flat[f] in tbl:
                r, src = tbl[flat[f]]
                return {"rate": r, "from": "%s %s -> %s" % (f, flat[f], src)}
        if None in tbl:
            r, src = tbl[None]
            return {"rate": r, "from": src}
        return None

    # sFlow ------------------------------------------------------------------

    def sflow(self, sf, ctx):
        self.versions.add("sflow")
        agent = get(sf, "sflow_245.agent") or get(sf, "sflow_245.agent.ipv6")
        for k, v in sf:
            if not isinstance(v, list):
                continue
            if k.startswith("Counters sample") or \
                    k.startswith("Expanded counters sample"):
                self.counter_samples += 1
            elif k.startswith("Flow sample") or \
                    k.startswith("Expanded flow sample"):
                self.count += 1
                self.records.append(self.sflow_record(k, v, ctx, agent))

    @staticmethod
    def sflow_record(name, smp, ctx, agent):
        rec = {"kind": "sflow", "frame": ctx["frame"],
               "exporter": ctx["exporter"], "agent": agent,
               "sample": name.split(",")[0],
               "frame.time_epoch": ctx["frame.time_epoch"],
               "sflow.flow_sample.sampling_rate":
                   get(smp, "sflow.flow_sample.sampling_rate")}
        hdr = get(smp, "Raw packet header")
        tree = get(hdr, "sflow_245.header_tree") if hdr else None
        if tree is None:
            return rec
        rec["sflow_245.header.frame_length"] = get(
            hdr, "sflow_245.header.frame_length")
        rec.update(embedded_packet(tree))
        return rec


def embedded_packet(tree):
    """The outermost IP header of a packet tshark dissected inside a flow
    record (sFlow raw packet header, IPFIX dataLinkFrameSection) and the
    transport header right after it, as tshark shows them. When another
    IP header comes first (IP in IP, SRv6), "tunnel" says so and the
    inner transport header is not taken."""
    rec = {}
    seen_ip = False
    for k, v in tree:
        if not isinstance(v, list):
            continue
        if seen_ip and k in ("ip", "ipv6"):
            rec["tunnel"] = k
            break
        if not seen_ip and k in ("ip", "ipv6"):
            seen_ip = True
            rec["l3"] = k
            for f in ("ip.src", "ip.dst", "ip.len", "ip.proto",
                      "ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.nxt"):
                x = get(v, f)
                if x is not None:
                    rec[f] = x
        elif seen_ip and k in ("tcp", "udp", "icmp", "icmpv6"):
            rec["l4"] = k
            for f in ("tcp.srcport", "tcp.dstport", "udp.srcport",
                      "udp.dstport", "icmp.type", "icmp.code",
                      "icmpv6.type", "icmpv6.code"):
                x = get(v, f)
                if x is not None:
                    rec[f] = x
            break
    return rec


def find_key(obj, key):
    """The first value of key anywhere in a pairs tree (depth first)."""
    if not isinstance(obj, list):
        return None
    for k, v in obj:
        if k == key:
            return v
        if isinstance(v, list) and k.startswith("cflow."):
            r = find_key(v, key)
            if r is not None:
                return r
    return None


def rate_fields(flat):
    """The sampling fields of a record as tshark shows them, or None."""
    r = {f: flat[f] for f in RATE_FIELDS if f in flat}
    return r or None


def pick_sample(records):
    n = len(records)
    if n <= SAMPLE_MAX:
        return list(records)
    return [records[i * n // SAMPLE_MAX] for i in range(SAMPLE_MAX)]


def analyse(paths, tdir, tmp, tag):
    """Run tshark on paths (merged with mergecap -a when several); return
    (commands, Walker, stderr)."""
    cmds = []
    if len(paths) == 1:
        src = paths[0]
    else:
        src = os.path.join(tmp, tag + ".pcap")
        mc = ["mergecap", "-a", "-F", "pcap", "-w", src] + paths
        cp = run(mc)
        if cp.returncode != 0:
            sys.exit("mergecap failed: %s" % cp.stderr.decode())
        cmds.append(show_cmd(mc, tdir, tmp))
    tc = tshark_cmd(src)
    frames, err = tshark_json(tc)
    cmds.append(show_cmd(tc, tdir, tmp))
    w = Walker()
    w.walk(frames)
    return cmds, w, err


# --- repairs: where tshark stops early on valid data ----------------------
#
# Two kinds of export packets make tshark 4.0.17 stop before the end while
# the sets that follow are well formed and a collector decodes them:
#  - a NetFlow v9 header whose record count is lower than the records
#    present (RFC 3954 5.1 defines Count, but the flowsets carry their own
#    lengths, and several exporters get Count wrong); tshark stops after
#    Count records;
#  - a template field that tshark dissects as an IPv4 address while the
#    template gives it 2 bytes (H3C's IPV4_ROUTER_SC, IE 43): tshark
#    throws "Trying to fetch an IPv4 address with length 2" and drops the
#    rest of the packet.
# For such files the expectations come from a repaired copy that tshark
# decodes to the end: the v9 count set to 65535 in the frames where tshark
# stopped early, IE 43 of length != 4 renamed to IE 0 (unknown, skipped by
# length, as by any collector), and the UDP checksum set to 0 (none). The
# case keeps what tshark says of the file as it is under "unrepaired".

def pcap_records(data):
    """(endian, [(offset of the frame data, caplen)]) of a classic pcap."""
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif data[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None, []
    recs, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        if off + 16 + incl > len(data):
            break
        recs.append((off + 16, incl))
        off += 16 + incl
    return e, recs


def udp_of(data, off, caplen):
    """(UDP header offset, payload offset, payload length) of an
    Ethernet/IPv4/UDP frame, else None."""
    end = off + caplen
    p = off + 12
    etype = struct.unpack(">H", data[p:p + 2])[0]
    p += 2
    while etype in (0x8100, 0x88a8) and p + 4 <= end:
        etype = struct.unpack(">H", data[p + 2:p + 4])[0]
        p += 4
    if etype != 0x0800 or p + 20 > end or data[p + 9] != 17:
        return None
    u = p + (data[p] & 0x0f) * 4
    if u + 8 > end:
        return None
    ulen = struct.unpack(">H", data[u + 4:u + 6])[0]
    if ulen < 8 or u + ulen > end:
        return None
    return u, u + 8, ulen - 8


def v9_sets(pl):
    """Offsets and (id, length) of the flowsets of a v9 payload, walked by
    their lengths up to the end or a zero-filled tail."""
    out, off = [], 20
    while len(pl) - off >= 4:
        sid, slen = struct.unpack(">HH", pl[off:off + 4])
        if slen < 4 or off + slen > len(pl):
            break
        out.append((off, sid, slen))
        off += slen
    return out


def repairs_needed(path, w):
    """{frame number: [what]} for the frames of path that tshark did not
    decode to the end although their sets are well formed."""
    with open(path, "rb") as f:
        data = f.read()
    e, recs = pcap_records(data)
    need = {}
    for i, (off, caplen) in enumerate(recs):
        u = udp_of(data, off, caplen)
        if u is None:
            continue
        pl = data[u[1]:u[1] + u[2]]
        if len(pl) < 20 or pl[:2] != b"\x00\x09":
            continue
        sets = v9_sets(pl)
        if len(sets) > w.sets_per_frame.get(i + 1, 0):
            need.setdefault(i + 1, []).append("count")
        for so, sid, slen in sets:
            if sid != 0:
                continue
            for fo in template_field_offsets(pl, so, slen):
                t, ln = struct.unpack(">HH", pl[fo:fo + 4])
                if t == 43 and ln != 4:
                    need.setdefault(i + 1, []).append("ie43")
    return need


def template_field_offsets(pl, so, slen):
    """Offsets of the field specifiers of a v9 template flowset."""
    out, off, end = [], so + 4, so + slen
    while end - off >= 4:
        tid, n = struct.unpack(">HH", pl[off:off + 4])
        if tid < 256 or off + 4 + 4 * n > end:
            break
        out.extend(off + 4 + 4 * k for k in range(n))
        off += 4 + 4 * n
    return out


def write_repaired(src, dst, need):
    with open(src, "rb") as f:
        data = bytearray(f.read())
    e, recs = pcap_records(bytes(data))
    for i, (off, caplen) in enumerate(recs):
        what = need.get(i + 1)
        if not what:
            continue
        u, po, plen = udp_of(bytes(data), off, caplen)
        pl = data[po:po + plen]
        if "count" in what:
            pl[2:4] = b"\xff\xff"
        if "ie43" in what:
            for so, sid, slen in v9_sets(bytes(pl)):
                if sid != 0:
                    continue
                for fo in template_field_offsets(bytes(pl), so, slen):
                    t, ln = struct.unpack(">HH", pl[fo:fo + 4])
                    if t == 43 and ln != 4:
                        pl[fo:fo + 2] = b"\x00\x00"
        data[po:po + plen] = pl
        data[u + 6:u + 8] = b"\x00\x00"
    with open(dst, "wb") as f:
        f.write(data)


def describe_repair(need):
    parts = []
    for fr in sorted(need):
        what = []
        if "count" in need[fr]:
            what.append("NetFlow v9 header count set to 65535")
        if "ie43" in need[fr]:
            what.append("template field IE 43 (length != 4) renamed to IE 0")
        parts.append("frame %d: %s" % (fr, ", ".join(what)))
    return "; ".join(parts) + "; UDP checksum of those frames set to 0"


def make_case(name, rels, tdir, tmp):
    paths = [os.path.join(tdir, r) for r in rels]
    cmds, w, err = analyse(paths, tdir, tmp, "case")
    unrepaired = None
    if len(rels) == 1:
        need = repairs_needed(paths[0], w)
        if need:
            unrepaired = {"commands": cmds, "count": w.count,
                          "malformed_frames": w.malformed_frames}
            fixed = os.path.join(tmp, "repaired.pcap")
            write_repaired(paths[0], fixed, need)
            paths = [fixed]
            cmds, w, err = analyse(paths, tdir, tmp, "case")
            cmds = ["(gen_capture_expect.py write_repaired) copy "
                    "$FF_TESTDATA/%s to $TMP/repaired.pcap with %s"
                    % (rels[0], describe_repair(need))] + cmds
            unrepaired["why"] = (
                "tshark stops early in frames whose later sets are well "
                "formed (see gen_capture_expect.py, repairs); the "
                "expectations come from the repaired copy")
    case = {
        "name": name,
        "files": rels,
        "commands": cmds,
        "versions": sorted(str(v) for v in w.versions),
        "count": w.count,
        "no_template_sets": len(w.no_template_sets),
        "options_records": w.options_records,
        "counter_samples": w.counter_samples,
        "malformed_frames": w.malformed_frames,
        "sample": pick_sample(w.records),
    }
    if unrepaired:
        case["unrepaired"] = unrepaired
    err = [l for l in err.splitlines() if not l.startswith("Running as")]
    if err:
        case["tshark_stderr"] = err[:5]
    if w.no_template_sets and len(rels) == 1:
        # Read the file twice: sets tshark skips in the first copy and
        # decodes in the second are the ones a holding collector replays.
        dcmds, dw, _ = analyse(paths * 2, tdir, tmp, "held")
        nfr = len(w.frame_times)
        times = w.frame_times
        sets = []
        for (i, s), info in zip(w.no_template_sets, w.nt_info):
            n = dw.decoded_sets.get((i + nfr, s))
            # the first definition of its template at or after the set
            later = [f for f, x, t in w.tpl_defs
                     if x == info["xkey"] and t == info["set_id"] and
                     f >= info["frame"]]
            if (n is None) != (not later):
                sys.exit("%s: set %d of frame %d: second copy %s, template "
                         "later in file %s" % (name, s, info["frame"], n,
                                               later))
            if n is None:
                continue
            sets.append({
                "frame": info["frame"], "set": s, "set_id": info["set_id"],
                "frame.time_epoch": info["frame.time_epoch"],
                "template_frame": later[0],
                "template_frame.time_epoch": times[later[0] - 1],
                "records": n})
        case["held"] = {
            "commands": dcmds,
            "frames_per_copy": nfr,
            "replayable_sets": sets,
            "note": "data sets without a preceding template that tshark "
                    "decodes in the second copy of the file, with the "
                    "frame (and its capture time) where their template "
                    "first appears later in the file",
        }
    return case


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("testdata", nargs="?",
                    default=os.environ.get("FF_TESTDATA") or os.path.join(
                        HERE, "..", "..", "..", "shared", "testdata",
                        "flows"))
    ap.add_argument("-o", "--out", default=OUT_DEFAULT)
    a = ap.parse_args()
    tdir = os.path.realpath(a.testdata)
    for tool in ("tshark", "mergecap"):
        if shutil.which(tool) is None:
            sys.exit("%s is not installed (Debian package tshark)" % tool)
    ver = run(["tshark", "--version"]).stdout.decode().splitlines()[0]

    pcaps = []
    for root, dirs, files in os.walk(tdir):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".pcap"):
                pcaps.append(os.path.relpath(os.path.join(root, f), tdir))
    pcaps.sort()
    grouped = {f for _, fs in GROUPS for f in fs}
    missing = grouped - set(pcaps)
    if missing:
        sys.exit("group files missing from %s: %s" % (tdir, sorted(missing)))

    cases = []
    with tempfile.TemporaryDirectory(prefix="ffgen-") as tmp:
        for name, files in GROUPS:
            print("group", name, file=sys.stderr)
            cases.append(make_case(name, files, tdir, tmp))
        for rel in pcaps:
            if rel in grouped:
                continue
            print("file ", rel, file=sys.stderr)
            cases.append(make_case(rel, [rel], tdir, tmp))
    cases.sort(key=lambda c: c["name"])
    doc = {
        "generated_by": "tests/integration/gen_capture_expect.py",
        "tool": ver,
        "how": "for each case: the commands below, run over "
               "$FF_TESTDATA (../shared/testdata/flows); $TMP is a "
               "scratch directory. Values are tshark's, as it shows "
               "them; test_captures.py normalizes them.",
        "cases": cases,
    }
    with open(a.out + ".tmp", "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(a.out + ".tmp", a.out)
    print("wrote %s: %d cases, %d records" % (
        a.out, len(cases), sum(c["count"] for c in cases)), file=sys.stderr)


if __name__ == "__main__":
    main()

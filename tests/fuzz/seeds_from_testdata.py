#!/usr/bin/python3
"""Write fuzzing seeds for one libFuzzer target, taken at run time from the
shared captures (../shared/testdata/flows). The seeds go to a scratch
corpus directory, never into the repository (the captures' licences
vary).

usage: seeds_from_testdata.py TARGET OUTDIR TESTDATA

TARGET is the fuzzer's name; each wants the UDP payloads of one protocol
in its own input format (see tests/fuzz/fuzz_*.c):

  fuzz_nf5    NetFlow v5 payloads, several joined by the separator "NXTP"
  fuzz_sflow  sFlow v5 datagrams, several joined by "NXTP"
  fuzz_nf9    NetFlow v9 payloads: one option byte (0: hold data without
              template), then each packet as a 2-byte big-endian length
              and its bytes
  fuzz_ipfix  IPFIX messages, in the fuzz_nf9 format
  fuzz_roundtrip  the payloads of every protocol, in the fuzz_nf9 format

For every capture file (classic pcap or pcapng; Ethernet with VLAN tags,
Linux cooked, raw IP or BSD loopback; IPv4 or IPv6; whole UDP datagrams
only) the payloads of the target's protocol become: one seed per distinct
datagram (the first PER_FILE of the file), and one "stream" seed holding
the file's datagrams in order (up to STREAM_PKTS datagrams or STREAM_BYTES
bytes), so that templates precede their data. The akvorado template and
data files of one test are also joined (template files first) into
streams. Other targets get no seeds (exit 0). Prints one summary line.
Exits non-zero, saying why, when a flow decoder's seeds cannot be made:
TESTDATA is not a directory, or holds no capture of its protocol.
"""
import hashlib
import os
import struct
import sys

PER_FILE = 24           # single-datagram seeds per capture file
STREAM_PKTS = 24        # datagrams per stream seed
STREAM_BYTES = 16384    # bytes per stream seed
MAX_SEEDS = 600         # per target
SEP = b"NXTP"

LINK_NULL, LINK_ETHER, LINK_RAW, LINK_SLL = 0, 1, 101, 113


def proto_of(p):
    """'nf5', 'nf9', 'ipfix', 'sflow' or None for a UDP payload."""
    if len(p) < 4:
        return None
    v16 = struct.unpack(">H", p[:2])[0]
    if v16 == 5:
        return "nf5"
    if v16 == 9:
        return "nf9"
    if v16 == 10:
        return "ipfix"
    if struct.unpack(">I", p[:4])[0] == 5 and len(p) >= 8 and \
            struct.unpack(">I", p[4:8])[0] in (1, 2):
        return "sflow"
    return None


def udp_payload(frame, link):
    """The UDP payload of a frame, or None (not UDP, a fragment, cut)."""
    off = 0
    if link == LINK_ETHER:
        if len(frame) < 14:
            return None
        etype = struct.unpack(">H", frame[12:14])[0]
        off = 14
        while etype in (0x8100, 0x88a8, 0x9100) and len(frame) >= off + 4:
            etype = struct.unpack(">H", frame[off + 2:off + 4])[0]
            off += 4
    elif link == LINK_SLL:
        if len(frame) < 16:
            return None
        etype = struct.unpack(">H", frame[14:16])[0]
        off = 16
    elif link == LINK_NULL:
        if len(frame) < 4:
            return None
        fam = struct.unpack("<I", frame[:4])[0]
        if fam > 0xffff:
            fam = struct.unpack(">I", frame[:4])[0]
        etype = 0x0800 if fam == 2 else 0x86dd
        off = 4
    elif link in (LINK_RAW, 12, 14, 228, 229):
        if not frame:
            return None
        etype = 0x0800 if frame[0] >> 4 == 4 else 0x86dd
    else:
        return None
    ip = frame[off:]
    if etype == 0x0800:
        if len(ip) < 20 or ip[0] >> 4 != 4:
            return None
        ihl = (ip[0] & 0x0f) * 4
        frag = struct.unpack(">H", ip[6:8])[0]
        if ip[9] != 17 or frag & 0x3fff:
            return None
        udp = ip[ihl:]
    elif etype == 0x86dd:
        if len(ip) < 40 or ip[6] != 17:
            return None
        udp = ip[40:]
    else:
        return None
    if len(udp) < 8:
        return None
    ulen = struct.unpack(">H", udp[4:6])[0]
    if ulen < 8 or ulen > len(udp):
        return None
    return bytes(udp[8:ulen])


def frames(path):
    """(link type, frame bytes) of every frame of a classic pcap or
    pcapng file; a cut-off last frame is left out."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    elif magic == b"\x0a\x0d\x0d\x0a":
        yield from pcapng_frames(data)
        return
    else:
        return
    link = struct.unpack(e + "I", data[20:24])[0] & 0x0fffffff
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        if off + 16 + incl > len(data):
            return
        yield link, data[off + 16:off + 16 + incl]
        off += 16 + incl


def pcapng_frames(data):
    links = []
    off, e = 0, "<"
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0a0d0d0a:
            e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" \
                else ">"
            btype = 0x0a0d0d0a
            links = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(data):
            return
        body = data[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 2:
            links.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            ifc = struct.unpack(e + "I", body[:4])[0]
            cap = struct.unpack(e + "I", body[12:16])[0]
            if ifc < len(links) and 20 + cap <= len(body):
                yield links[ifc], body[20:20 + cap]
        elif btype == 3 and len(body) >= 4 and links:
            yield links[0], body[4:]
        off += blen


def payloads(path, want):
    out = []
    for link, fr in frames(path):
        p = udp_payload(fr, link)
        if p is not None and (proto_of(p) == want or
                              (want == "any" and proto_of(p))):
            out.append(p)
    return out


def encode(target, pkts):
    if target in ("fuzz_nf5", "fuzz_sflow"):
        return SEP.join(pkts)
    out = bytearray(b"\x00")
    for p in pkts:
        out += struct.pack(">H", len(p)) + p
    return bytes(out)


def stream(pkts):
    """The first datagrams of pkts within the stream bounds."""
    out, size = [], 0
    for p in pkts:
        if len(out) == STREAM_PKTS or (out and size + len(p) > STREAM_BYTES):
            break
        out.append(p)
        size += len(p)
    return out


TARGETS = {"fuzz_nf5": "nf5", "fuzz_nf9": "nf9", "fuzz_ipfix": "ipfix",
           "fuzz_sflow": "sflow", "fuzz_roundtrip": "any"}


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: seeds_from_testdata.py TARGET OUTDIR TESTDATA")
    target, outdir, tdir = sys.argv[1:]
    want = TARGETS.get(target)
    if want is None:
        print("%s: no seeds from the captures (not a flow decoder)"
              % target)
        return
    if not os.path.isdir(tdir):
        sys.exit("the shared captures are missing: %s is not a directory "
                 "(FF_TESTDATA names it; default ../shared/testdata/flows)"
                 % tdir)
    os.makedirs(outdir, exist_ok=True)
    seeds = []
    groups = {}
    nfiles = 0
    for root, dirs, files in os.walk(tdir):
        dirs.sort()
        for name in sorted(files):
            if not (name.endswith(".pcap") or name.endswith(".pcapng")):
                continue
            path = os.path.join(root, name)
            pk = payloads(path, want)
            if not pk:
                continue
            nfiles += 1
            seeds.extend(encode(target, [p]) for p in pk[:PER_FILE])
            seeds.append(encode(target, stream(pk)))
            # akvorado: <test>-template*.pcap goes with <test>-data.pcap
            for tag in ("-options-template", "-options-data",
                        "-templates", "-template", "-data"):
                if name.endswith(tag + ".pcap"):
                    key = (root, name[:-len(tag + ".pcap")])
                    rank = 0 if "template" in tag else 1
                    groups.setdefault(key, []).append((rank, name, pk))
                    break
    for key in sorted(groups):
        parts = sorted(groups[key])
        if len(parts) > 1:
            seeds.append(encode(target, stream(
                [p for _, _, pk in parts for p in pk])))
    written, seen = 0, set()
    for s in seeds:
        h = hashlib.sha1(s).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        if written == MAX_SEEDS:
            break
        with open(os.path.join(outdir, "td-" + h), "wb") as f:
            f.write(s)
        written += 1
    if written == 0:
        sys.exit("%s: no %s capture under %s" % (target, want, tdir))
    print("%s: %d seeds from %d capture files (%s)" % (
        target, written, nfiles, tdir))


if __name__ == "__main__":
    main()

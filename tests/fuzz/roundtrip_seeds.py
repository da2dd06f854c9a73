#!/usr/bin/python3
"""Write the committed seeds of fuzz_roundtrip: the committed seeds of the
flow decoders' fuzzers (fuzz_nf5, fuzz_nf9, fuzz_ipfix, fuzz_sflow; all
hand-built, nothing from the shared captures) in fuzz_roundtrip's input
format, and a few hand-built datagrams with fields out of the range the
store and the wire accept (a NetFlow v5 record with prefix lengths 33
and 200 and an end before its start; a v9 template with only a station
address, as Cisco WLCs export).

usage: roundtrip_seeds.py [CORPUS_DIR]   (default: tests/fuzz/corpus)

Input format (tests/fuzz/fuzz_roundtrip.c): one option byte, then each
datagram as a 2-byte big-endian length and its bytes.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = 1700000000
SEP = b"NXTP"


def seed(pkts, opt=0):
    out = bytearray([opt])
    for p in pkts:
        out += struct.pack(">H", len(p)) + p
    return bytes(out)


def v5(records):
    hdr = struct.pack(">HHIIIIBBH", 5, len(records), 100000, EXPORT, 0, 0,
                      0, 0, 0)
    return hdr + b"".join(records)


def v5_record(src_mask, dst_mask, first=40000, last=99000):
    return struct.pack(">4s4s4sHHIIIIHHBBBBHHBBH",
                       bytes([198, 51, 100, 1]), bytes([203, 0, 113, 2]),
                       bytes([0, 0, 0, 0]), 3, 4, 10, 14600, first, last,
                       51000, 443, 0, 0x1b, 6, 0, 64500, 64501, src_mask,
                       dst_mask, 0)


def wlc():
    """A v9 template of station address, direction, bytes, packets, and
    two records (ingress, egress)."""
    fl = [(366, 4), (61, 1), (1, 8), (2, 8)]
    tpl = struct.pack(">HH", 261, len(fl)) + \
        b"".join(struct.pack(">HH", t, n) for t, n in fl)
    tset = struct.pack(">HH", 0, 4 + len(tpl)) + tpl
    recs = b"".join(bytes([192, 168, 20, 121]) + bytes([d]) +
                    struct.pack(">QQ", 3320, 83) for d in (0, 1))
    dset = struct.pack(">HH", 261, 4 + len(recs)) + recs
    body = tset + dset
    return struct.pack(">HHIIII", 9, 2, 100000, EXPORT, 1, 0) + body


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(HERE, "corpus")
    out = os.path.join(corpus, "fuzz_roundtrip")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "v5_out_of_range": seed([v5([v5_record(24, 16),
                                     v5_record(33, 200),
                                     v5_record(24, 16, 99000, 40000)])]),
        "v9_wlc_station": seed([wlc()], opt=0x02),
    }
    for target, split in (("fuzz_nf5", True), ("fuzz_sflow", True),
                          ("fuzz_nf9", False), ("fuzz_ipfix", False)):
        d = os.path.join(corpus, target)
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            if split:
                s = seed([p for p in data.split(SEP) if p])
            else:
                s = data        # already one option byte + datagrams
            seeds["%s_%s" % (target[5:], name)] = s
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), out))


if __name__ == "__main__":
    main()

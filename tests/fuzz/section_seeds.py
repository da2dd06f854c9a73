#!/usr/bin/python3
"""Write the committed seeds of fuzz_nf9 and fuzz_ipfix for records that
carry a packet section (node/decode/template.c: dataLinkFrameSection 315,
layer2packetSectionData 104, ipHeaderPacketSection 313), so the fuzzers
start inside the packet parser (node/decode/packet.c) rather than having to find
it. Hand-built (RFC 7011 / RFC 3954 layouts; frames after RFC 894, 802.1Q,
RFC 3032 MPLS, RFC 4385 control word, RFC 791, RFC 8200, RFC 768, RFC
9293); nothing is taken from the shared captures.

usage: section_seeds.py [CORPUS_DIR]   (default: tests/fuzz/corpus)

Input format of both targets (tests/fuzz/fuzz_nf9.c): one option byte,
then each packet as a 2-byte big-endian length and its bytes.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = 1700000000


def eth(etype):
    return bytes.fromhex("02000000000a02000000000b") + struct.pack(">H", etype)


def ipv4(proto, total, tos=0):
    return struct.pack(">BBHHHBBH4s4s", 0x45, tos, total, 1, 0x4000, 64,
                       proto, 0, bytes([198, 51, 100, 1]),
                       bytes([198, 51, 100, 2]))


def ipv6(nxt, plen):
    return struct.pack(">IHBB", 6 << 28, plen, nxt, 64) + \
        bytes.fromhex("20010db8000000000000000000000011") + \
        bytes.fromhex("20010db8000000000000000000000022")


def udp(sp, dp):
    return struct.pack(">HHHH", sp, dp, 8, 0)


def tcp(sp, dp, flags):
    return struct.pack(">HHIIBBHI", sp, dp, 1, 2, 5 << 4, flags, 512, 0)


def mpls(label, bos):
    return struct.pack(">I", label << 12 | bos << 8 | 255)


def varlen(b):
    if len(b) < 255:
        return bytes([len(b)]) + b
    return b"\xff" + struct.pack(">H", len(b)) + b


def fields(fl):
    return b"".join(struct.pack(">HH", t, l) for t, l in fl)


def ipfix(sets):
    body = b"".join(struct.pack(">HH", sid, len(b) + 4) + b
                    for sid, b in sets)
    return struct.pack(">HHIII", 10, 16 + len(body), EXPORT, 0, 1) + body


def v9(sets):
    body = b"".join(struct.pack(">HH", sid, len(b) + 4) + b
                    for sid, b in sets)
    return struct.pack(">HHIIII", 9, len(sets), 3600000, EXPORT, 0, 1) + body


def seed(pkts, opt=0):
    return bytes([opt]) + b"".join(struct.pack(">H", len(p)) + p
                                   for p in pkts)


def frames():
    """Frames that take the parser down each path."""
    yield eth(0x8100) + struct.pack(">HH", 231, 0x0800) + \
        ipv4(17, 96) + udp(55501, 11777)
    yield eth(0x8847) + mpls(300012, 0) + mpls(17, 1) + b"\0\0\0\0" + \
        eth(0x0800) + ipv4(6, 1500, 0x20) + tcp(443, 28911, 0x10)
    yield eth(0x8847) + mpls(17, 1) + eth(0x86dd) + ipv6(58, 8) + \
        bytes([128, 0, 0, 0])
    yield eth(0x86dd) + ipv6(43, 64) + bytes([4, 2, 4, 0, 0, 0, 0, 0]) + \
        bytes(16) + ipv4(1, 28) + bytes([8, 0, 0, 0, 0, 1, 0, 1])
    yield eth(0x0806) + bytes(28)
    yield b""


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    fr = list(frames())
    # IPFIX: template 400 (ingressInterface, flowDirection,
    # dataLinkFrameSection varlen), template 401 (ipHeaderPacketSection
    # varlen, octetDeltaCount), then their data
    t400 = struct.pack(">HH", 400, 3) + fields([(10, 4), (61, 1),
                                                (315, 65535)])
    t401 = struct.pack(">HH", 401, 2) + fields([(313, 65535), (1, 4)])
    d400 = b"".join(struct.pack(">IB", 7, 0) + varlen(f) for f in fr)
    d401 = varlen(ipv4(6, 40) + tcp(1, 2, 2)) + struct.pack(">I", 99) + \
        varlen(ipv6(17, 8) + udp(53, 5353)) + struct.pack(">I", 98)
    ipfix_seed = seed([ipfix([(2, t400 + t401)]),
                       ipfix([(400, d400), (401, d401)])])
    # v9: template 300 (inputSnmp, layer2packetSectionData of 96 bytes)
    t300 = struct.pack(">HH", 300, 2) + fields([(10, 2), (104, 96)])
    d300 = b"".join(struct.pack(">H", 3) + (f + bytes(96))[:96]
                    for f in fr)
    v9_seed = seed([v9([(0, t300)]), v9([(300, d300)])])
    for target, name, data in (("fuzz_ipfix", "sections", ipfix_seed),
                               ("fuzz_nf9", "sections", v9_seed)):
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        print("%s/%s: %d bytes" % (target, name, len(data)))


if __name__ == "__main__":
    main()

"""TCP segments (RFC 9293 §3.1): the header, the MSS and window-scale options, the checksum.

``parse`` returns None for a segment that is too short, has a data offset outside the
segment or a bad checksum (the caller counts it); options other than MSS and window scale
(RFC 7323 §2.2) are skipped.  Pure.
Sequence numbers are 32-bit and compared with ``seqlt``/``seqle`` (modular arithmetic).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lp49fs.servants.inet import pkt

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
TCPHDR = 20
_HDR = struct.Struct("!HHIIBBHHH")
MASK = 0xFFFFFFFF


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 5x, twice per segment (sent, parsed)
class Seg:
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    wnd: int
    mss: int  # 0: no MSS option
    data: bytes
    ws: int = -1  # window scale shift; -1: no option

    def seglen(self) -> int:
        """SEG.LEN: data plus one for each of SYN and FIN."""
        return len(self.data) + (1 if self.flags & SYN else 0) + (1 if self.flags & FIN else 0)


def parse(src: bytes, dst: bytes, b: bytes) -> Seg | None:
    if len(b) < TCPHDR:
        return None
    sport, dport, seq, ack, off, flags, wnd, _ck, _urg = _HDR.unpack_from(b)
    hl = (off >> 4) * 4
    if hl < TCPHDR or hl > len(b):
        return None
    if pkt.cksum(b, pkt.sum16(pkt.pseudo(src, dst, pkt.PROTO_TCP, len(b)))) != 0:
        return None
    mss, ws, i = 0, -1, TCPHDR
    while i < hl:
        kind = b[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= hl or b[i + 1] < 2:
            return None
        if kind == 2 and b[i + 1] == 4 and i + 4 <= hl:
            mss = int.from_bytes(b[i + 2 : i + 4], "big")
        elif kind == 3 and b[i + 1] == 3 and i + 3 <= hl:
            ws = b[i + 2]
        i += b[i + 1]
    return Seg(sport, dport, seq, ack, flags & 0x3F, wnd, mss, bytes(b[hl:]), ws)


def build(src: bytes, dst: bytes, s: Seg) -> bytes:
    opts = b"\x02\x04" + s.mss.to_bytes(2, "big") if s.mss else b""
    if s.ws >= 0:
        opts += bytes((1, 3, 3, s.ws))  # NOP, window scale: the header stays 4-byte aligned
    off = (TCPHDR + len(opts)) // 4 << 4
    hdr = _HDR.pack(s.sport, s.dport, s.seq & MASK, s.ack & MASK, off, s.flags, s.wnd, 0, 0)
    seg = hdr + opts + s.data
    ck = pkt.cksum(seg, pkt.sum16(pkt.pseudo(src, dst, pkt.PROTO_TCP, len(seg))))
    return seg[:16] + ck.to_bytes(2, "big") + seg[18:]


def seqlt(a: int, b: int) -> bool:
    return (a - b) & MASK > 1 << 31


def seqle(a: int, b: int) -> bool:
    return a == b or seqlt(a, b)

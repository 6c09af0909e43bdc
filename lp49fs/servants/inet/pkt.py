"""Wire formats of the own IP stack: Ethernet, ARP (RFC 826), IPv4 (RFC 791), ICMP (RFC 792),
UDP (RFC 768), and the Internet checksum.  Pure functions over bytes, no state.

Every parser returns None for bytes it cannot take (too short, a length field that
disagrees with the bytes, a bad checksum, options we do not carry) and never raises, so a
bad frame costs one counter increment in the caller and nothing else.

Addresses are 4-byte ``bytes`` inside the stack; ``ipstr``/``ipbytes`` convert at the file
boundary.  Integers on the wire are big-endian (network order).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

ETHER_IP, ETHER_ARP = 0x0800, 0x0806
PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
ETHERHDR = 14
IPHDR = 20
BCAST = b"\xff" * 6
ZERO4 = bytes(4)
MINFRAME = 60  # an Ethernet frame without FCS is padded to this

_IP = struct.Struct("!BBHHHBBH4s4s")
_ARP = struct.Struct("!HHBBH6s4s6s4s")


def cksum(data: bytes | memoryview, init: int = 0) -> int:
    """The Internet checksum (RFC 1071) of ``data``: 0 when data carries a right one.

    The one's complement sum of 16-bit words is the number the bytes spell, big-endian,
    modulo 0xFFFF (2**16 is 1 modulo 0xFFFF), so one ``int.from_bytes`` does the adding in
    C; the only care is that a nonzero sum divisible by 0xFFFF is 0xFFFF, not 0.
    """
    x = int.from_bytes(data, "big") << (8 if len(data) & 1 else 0)
    x += init
    s = x % 0xFFFF
    if s == 0 and x:
        s = 0xFFFF
    return ~s & 0xFFFF


def pseudo(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    """The pseudo-header that UDP and TCP checksums cover."""
    return src + dst + struct.pack("!BBH", 0, proto, length)


def ipstr(a: bytes) -> str:
    return str(ipaddress.IPv4Address(a))


def ipbytes(s: str) -> bytes:
    """``10.0.0.1`` -> 4 bytes (ValueError otherwise)."""
    return ipaddress.IPv4Address(s).packed


# ---- Ethernet -------------------------------------------------------------------------------


def ether(dst: bytes, src: bytes, etype: int, payload: bytes) -> bytes:
    f = dst + src + etype.to_bytes(2, "big") + payload
    return f + bytes(MINFRAME - len(f)) if len(f) < MINFRAME else f


# ---- ARP ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arp:
    op: int  # 1 request, 2 reply
    sha: bytes  # sender hardware address
    spa: bytes  # sender protocol (IP) address
    tha: bytes
    tpa: bytes


def arp_parse(b: bytes) -> Arp | None:
    if len(b) < _ARP.size:
        return None
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(b)
    if (htype, ptype, hlen, plen) != (1, ETHER_IP, 6, 4) or op not in (1, 2):
        return None
    return Arp(op, sha, spa, tha, tpa)


def arp_build(a: Arp) -> bytes:
    return _ARP.pack(1, ETHER_IP, 6, 4, a.op, a.sha, a.spa, a.tha, a.tpa)


# ---- IPv4 -----------------------------------------------------------------------------------


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 5x, once per datagram received
class Ip:
    src: bytes
    dst: bytes
    proto: int
    ttl: int
    ident: int
    payload: bytes
    frag: int = 0  # flags and fragment offset (MF, FRAGOFF): nonzero for a fragment


MF, FRAGOFF = 0x2000, 0x1FFF  # more fragments; offset in 8-byte units


def ip_parse(b: bytes) -> Ip | None:
    """An IPv4 datagram or fragment (``frag``), or None (bad version, length or checksum)."""
    if len(b) < IPHDR:
        return None
    vihl, _tos, total, ident, frag, ttl, proto, _ck, src, dst = _IP.unpack_from(b)
    hl = (vihl & 0xF) * 4
    if vihl >> 4 != 4 or hl < IPHDR or total < hl or total > len(b):
        return None
    if cksum(b[:hl]) != 0:
        return None
    return Ip(src, dst, proto, ttl, ident, b[hl:total], frag & (MF | FRAGOFF))


def ip_build(
    src: bytes, dst: bytes, proto: int, payload: bytes, ident: int, ttl: int = 64,
    frag: int = 0x4000,
) -> bytes:
    """A datagram; ``frag`` is the flags and offset field (default DF: we never fragment)."""
    hdr = _IP.pack(0x45, 0, IPHDR + len(payload), ident & 0xFFFF, frag, ttl, proto, 0, src, dst)
    ck = cksum(hdr)
    return hdr[:10] + ck.to_bytes(2, "big") + hdr[12:] + payload


# ---- ICMP -----------------------------------------------------------------------------------

ECHOREPLY, UNREACH, ECHO = 0, 3, 8


def icmp_build(typ: int, code: int, rest: bytes) -> bytes:
    """An ICMP message: type, code, checksum, then ``rest`` (id/seq and data for echo)."""
    body = bytes([typ, code, 0, 0]) + rest
    return body[:2] + cksum(body).to_bytes(2, "big") + body[4:]


def icmp_ok(b: bytes) -> bool:
    return len(b) >= 8 and cksum(b) == 0


# ---- UDP ------------------------------------------------------------------------------------

UDPHDR = 8


def udp_parse(src: bytes, dst: bytes, b: bytes) -> tuple[int, int, bytes] | None:
    """(source port, destination port, payload), or None."""
    if len(b) < UDPHDR:
        return None
    sport, dport, length, ck = struct.unpack_from("!HHHH", b)
    if length < UDPHDR or length > len(b):
        return None
    if ck and cksum(b[:length], sum16(pseudo(src, dst, PROTO_UDP, length))) != 0:
        return None
    return sport, dport, b[UDPHDR:length]


def udp_build(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    length = UDPHDR + len(data)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + data
    ck = cksum(seg, sum16(pseudo(src, dst, PROTO_UDP, length))) or 0xFFFF
    return seg[:6] + ck.to_bytes(2, "big") + seg[8:]


def sum16(b: bytes) -> int:
    """The unfolded sum of ``b`` as ``cksum`` adds it, to seed ``cksum`` with a pseudo-header."""
    return int.from_bytes(b, "big")

"""IPv4 reassembly (RFC 791 §3.2, RFC 815): fragments in, whole datagrams out (Plan 9 ip.c).

A datagram is identified by (source, destination, protocol, identification).  ``Reasm.add``
takes one fragment and returns the whole datagram once every byte from offset 0 to the end
of the fragment with MF clear has arrived, else None.  Holes are found by sorting the
fragments by offset (RFC 815's hole list, computed when asked).

Rules
  1. A datagram not complete within ``TIMEOUT`` seconds of its first fragment is dropped
     (counted in ``ReasmFails`` when a later fragment finds it expired).
  2. At most ``MAXDGRAMS`` datagrams are under reassembly; a fragment of one more is dropped
     (``ReasmFails``).  A datagram may not grow past 65535 bytes of IP (``ReasmFails``).
  3. Overlapping fragments: the fragment with the lower offset gives the bytes they share;
     of two at the same offset the longer is kept.
  4. Counters follow the MIB: ``ReasmReqds`` per fragment, ``ReasmOKs`` per datagram made.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from lp49fs.servants.inet import pkt

TIMEOUT = 30.0  # seconds (Rule 1; RFC 791 suggests 15, Linux uses 30)
MAXDGRAMS = 64  # datagrams under reassembly at once (Rule 2)
MAXIP = 65535 - pkt.IPHDR  # the most payload a datagram can carry

Key = tuple[bytes, bytes, int, int]  # src, dst, proto, ident


@dataclass
class Partial:
    """One datagram being reassembled."""

    first: float  # when its first fragment arrived
    frags: dict[int, bytes] = field(default_factory=dict)  # offset in bytes -> data
    end: int | None = None  # payload length, known once the fragment with MF clear arrived


class Reasm:
    """The reassembly queue of one stack (see the module docstring)."""

    def __init__(self, stats: Counter[str]) -> None:
        self.stats = stats
        self.q: dict[Key, Partial] = {}

    def _expire(self, now: float) -> None:
        for k in [k for k, p in self.q.items() if now - p.first > TIMEOUT]:
            del self.q[k]
            self.stats["ReasmFails"] += 1

    def add(self, d: pkt.Ip, now: float) -> pkt.Ip | None:
        """Fragment ``d`` (``d.frag`` has MF or an offset); the whole datagram or None."""
        self.stats["ReasmReqds"] += 1
        self._expire(now)
        key = (d.src, d.dst, d.proto, d.ident)
        p = self.q.get(key)
        if p is None:
            if len(self.q) >= MAXDGRAMS:
                self.stats["ReasmFails"] += 1
                return None
            p = self.q[key] = Partial(now)
        off, more = (d.frag & pkt.FRAGOFF) * 8, bool(d.frag & pkt.MF)
        top = off + len(d.payload)
        if top > MAXIP or (more and len(d.payload) % 8) or (p.end is not None and top > p.end):
            del self.q[key]  # Rule 2, or a fragment that contradicts the datagram's end
            self.stats["ReasmFails"] += 1
            return None
        if not more:
            p.end = top
        if off not in p.frags or len(p.frags[off]) < len(d.payload):
            p.frags[off] = d.payload
        whole = self._whole(p)
        if whole is None:
            return None
        del self.q[key]
        self.stats["ReasmOKs"] += 1
        return pkt.Ip(d.src, d.dst, d.proto, d.ttl, d.ident, whole)

    @staticmethod
    def _whole(p: Partial) -> bytes | None:
        """The payload if no hole is left (Rule 3), else None."""
        if p.end is None:
            return None
        out = bytearray()
        for off in sorted(p.frags):
            data = p.frags[off]
            if off > len(out):
                return None  # a hole before this fragment
            out += data[len(out) - off :]
        return bytes(out) if len(out) >= p.end else None

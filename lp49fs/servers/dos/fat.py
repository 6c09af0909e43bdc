"""The file allocation table: cluster chains, allocation, free space, write-through.

Theory of operation: the first FAT copy is read whole into ``raw`` when the volume is
attached (a FAT32 volume of 1 GiB with 4 KiB clusters has a 1 MiB FAT), and entries are read
and changed there.  Entry ``n`` is 12 bits at byte ``n * 3 // 2`` (the high nibble of the
pair for odd ``n``), 16 bits at ``2n`` or the low 28 bits of 32 at ``4n`` (the high four bits
are kept as they were).  A change marks the FAT sectors it touched; ``flush`` writes each
marked sector to every FAT copy before the operation that made it is answered.

Rules:

1. 0 is a free cluster; values >= ``eoc`` (0xFF8, 0xFFF8, 0x0FFFFFF8) end a chain; 1 and
   the bad-cluster mark never appear inside a chain; any other value is the next cluster
   and must be a valid cluster number.  A chain that breaks these rules, or is longer than
   the volume, raises ``Error(Ecorrupt)`` and nothing is changed because of it.
2. ``alloc(n)`` either takes ``n`` free clusters (linked into one chain, ending in EOC) or
   raises ``Error(Efull)`` having taken none.  The search starts after the last cluster
   handed out (FSInfo's "next free" hint), wrapping around once.
3. ``free`` counts free clusters exactly; on FAT32 the FSInfo sector's free count and hint
   are rewritten by ``flush`` when they changed (fatgen103: both are only hints).
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Awaitable, Callable

from lp49fs.errors import Ecorrupt, Efull, Error
from lp49fs.servers.dos.bpb import FAT12, FAT32, Bpb

Write = Callable[[int, bytes], Awaitable[None]]  # (byte offset, data) on the partition
FSI_FREE = 488  # FSInfo: free cluster count; next free at 492


class Fat:
    """One volume's FAT (see the module docstring)."""

    def __init__(self, bpb: Bpb, raw: bytes) -> None:
        self.bpb = bpb
        self.raw = bytearray(raw[: bpb.fatsize])
        self.eoc = {FAT12: 0xFF8, 16: 0xFFF8, FAT32: 0x0FFFFFF8}[bpb.fattype]
        self.max = bpb.nclusters + 2  # cluster numbers are 2 .. max-1
        self.dirty: set[int] = set()  # FAT sector indexes changed since the last flush
        self.words: array[int] | None = None
        if bpb.fattype != FAT12:  # entries as an array, for fast counting and searching
            n = self.max * (bpb.fattype // 8)
            self.words = array("H" if bpb.fattype == 16 else "I")
            self.words.frombytes(bytes(self.raw[:n]))
        if self.words is not None:
            self.free = self.words[2 : self.max].count(0)
        else:
            self.free = sum(1 for n in range(2, self.max) if self.get(n) == 0)
        self.hint = 2  # where alloc looks first
        self.fsinfo_dirty = False
        self.fsinfo = bytearray()  # the FSInfo sector as read (FAT32), rewritten whole

    def get(self, n: int) -> int:
        if self.words is not None:
            v = self.words[n]
            return v & 0x0FFFFFFF if self.bpb.fattype == FAT32 else v
        off = n + n // 2
        v = self.raw[off] | self.raw[off + 1] << 8
        return v >> 4 if n & 1 else v & 0xFFF

    def set(self, n: int, value: int) -> None:
        ss = self.bpb.secsize
        if self.bpb.fattype == FAT12:
            off = n + n // 2
            v = self.raw[off] | self.raw[off + 1] << 8
            v = (v & 0x000F) | value << 4 if n & 1 else (v & 0xF000) | value
            self.raw[off : off + 2] = struct.pack("<H", v & 0xFFFF)
            self.dirty.update((off // ss, (off + 1) // ss))
            return
        assert self.words is not None
        if self.bpb.fattype == FAT32:
            value = (self.words[n] & 0xF0000000) | value
            struct.pack_into("<I", self.raw, 4 * n, value)
            self.dirty.add(4 * n // ss)
        else:
            struct.pack_into("<H", self.raw, 2 * n, value)
            self.dirty.add(2 * n // ss)
        self.words[n] = value

    def chain(self, first: int) -> list[int]:
        """The clusters of the chain starting at ``first`` (0: the empty chain) (Rule 1)."""
        out: list[int] = []
        n = first
        while n:
            if not 2 <= n < self.max or len(out) >= self.bpb.nclusters:
                raise Error(Ecorrupt)
            out.append(n)
            n = self.get(n)
            if n >= self.eoc:
                break
        return out

    def alloc(self, count: int, after: int = 0) -> list[int]:
        """Take ``count`` free clusters as one chain, appended to cluster ``after`` if
        non-zero (Rule 2)."""
        if count > self.free:
            raise Error(Efull)
        got: list[int] = []
        n = self.hint
        while len(got) < count:
            n = self._nextfree(n)
            k = self._freerun(n, count - len(got))
            got.extend(range(n, n + k))
            n += k
        self._link(got)
        if got:
            if after:
                self.set(after, got[0])
            self.free -= count
            self.hint = got[-1] + 1
            self.fsinfo_dirty = True
        return got

    def _freerun(self, n: int, most: int) -> int:
        """How many clusters from ``n`` (free) on are free, up to ``most``."""
        if self.words is None:
            k = 1
            while k < most and n + k < self.max and self.get(n + k) == 0:
                k += 1
            return k
        seg = self.words[n : min(n + most, self.max)].tobytes()
        return (len(seg) - len(seg.lstrip(b"\0"))) // self.words.itemsize or 1

    def _link(self, got: list[int]) -> None:
        """Each cluster of ``got`` points at the next, the last is the end of the chain."""
        end = 0x0FFFFFFF if self.bpb.fattype == FAT32 else self.eoc | 7
        i = 0
        while i < len(got):
            j = i + 1
            while j < len(got) and got[j] == got[j - 1] + 1:
                j += 1
            a, b = got[i], got[j - 1]  # a run a..b of consecutive clusters
            if self.words is not None and b > a:
                w = self.words
                w[a:b] = array(w.typecode, range(a + 1, b + 1))  # free entries: high bits 0
                size = w.itemsize
                self.raw[a * size : b * size] = w[a:b].tobytes()
                ss = self.bpb.secsize
                self.dirty.update(range(a * size // ss, (b * size - 1) // ss + 1))
            else:
                for c in range(a, b):
                    self.set(c, c + 1)
            self.set(b, got[j] if j < len(got) else end)
            i = j

    def _nextfree(self, start: int) -> int:
        for lo, hi in ((max(start, 2), self.max), (2, self.max)):
            if self.words is not None:
                try:
                    return self.words.index(0, lo, hi)
                except ValueError:
                    continue
            for n in range(lo, hi):
                if self.get(n) == 0:
                    return n
        raise Error(Efull)  # unreachable while self.free is right

    def release(self, clusters: list[int], keep: int = 0) -> None:
        """Free ``clusters``; if ``keep`` is non-zero it becomes the chain's new end."""
        if keep:
            self.set(keep, 0x0FFFFFFF if self.bpb.fattype == FAT32 else self.eoc | 7)
        for n in clusters:
            self.set(n, 0)
        self.free += len(clusters)
        self.fsinfo_dirty = self.fsinfo_dirty or bool(clusters)

    async def flush(self, write: Write) -> None:
        """Write the changed FAT sectors to every copy, then FSInfo (Rule 3)."""
        b, ss = self.bpb, self.bpb.secsize
        for run in _runs(sorted(self.dirty)):
            data = bytes(self.raw[run[0] * ss : (run[-1] + 1) * ss])
            for copy in range(b.nfats):
                await write(b.fat + copy * b.fatsize + run[0] * ss, data)
        self.dirty.clear()
        if self.fsinfo_dirty and b.fsinfo and self.fsinfo:
            struct.pack_into("<II", self.fsinfo, FSI_FREE, self.free, self.hint)
            await write(b.fsinfo, bytes(self.fsinfo))
        self.fsinfo_dirty = False


def _runs(sectors: list[int]) -> list[list[int]]:
    """Consecutive sector numbers grouped, so each run is one write per copy."""
    out: list[list[int]] = []
    for s in sectors:
        if out and out[-1][-1] + 1 == s:
            out[-1].append(s)
        else:
            out.append([s])
    return out

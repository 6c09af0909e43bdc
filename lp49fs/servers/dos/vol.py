"""One FAT volume: its partition, its FAT, the nodes served, and file contents.

Theory of operation: a ``Volume`` reads the partition through a ``Disk`` (in dossrv, the
partition file opened with system calls: ``pread``/``pwrite`` of ``/dev/sdC0/dos``).  Each
file or directory that a client has walked to is a ``Node``, kept for the life of the
volume so its qid stays the same however it is reached (a rename keeps the Node; a remove
drops it).  Its qid path is where its entry was when it was first walked (its place: its
directory's first cluster and the entry's slot), so a restarted dossrv gives every file the
qid it had and ``#M`` recovery finds the same files again; a place still held by a live Node
(one renamed away, and a new file in its old slot) gets a number past every place.
A directory's contents are read once into ``Node.buf`` and parsed into
``Node.ents`` (by case-folded name); the server changes both in step with the disk
(``dirs.py``).  File contents are never cached: reads and writes go to the disk in runs of
contiguous clusters.

Rules (write-through, in an order ``fsck.fat`` can repair after a crash at any point):

1. Growing a file: new clusters are taken in memory, the data (and zeros for any gap) is
   written, then the FAT sectors, then the directory entry with the new length.
2. Shrinking or removing: the directory entry is written first, then the freed clusters go
   back in the FAT (a crash leaves lost clusters, never a chain that two files share).
3. Every change is on the disk before the request that made it is answered; a disk error
   fails the request (``Error(Eio)``), and the server keeps running.
4. A file may not grow past 4 GiB - 1 bytes (``Error(Efbig)``), FAT's limit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

from lp49fs.errors import Efbig, Eio, Error
from lp49fs.servers.dos import dirent as de
from lp49fs.servers.dos.bpb import FAT32, Bpb, parse
from lp49fs.servers.dos.fat import Fat

MAXFILE = 0xFFFFFFFF
ZCHUNK = 1 << 20  # bytes of zeros written at a time
ROOTPATH = 1  # the root's qid path (a place is at least 1 << 16)
PLACES = 1 << 48  # qid paths from here on are numbers, not places (a FAT32 place is < 1 << 45)


class Disk(Protocol):
    """A partition: bytes at any offset (``read`` may return less only at the end)."""

    size: int

    async def read(self, offset: int, count: int) -> bytes: ...

    async def write(self, offset: int, data: bytes) -> None: ...


@dataclass(eq=False)
class Node:
    """A file or directory of the volume (the module docstring's lifetime rule)."""

    qpath: int  # qid.path: its first place (unique for the life of the volume)
    parent: Node | None  # None for the root
    dent: de.Dent  # its entry as on disk (the root's is made up)
    vers: int = 0  # qid.vers: bumped by every change of contents
    removed: bool = False
    buf: bytearray | None = None  # a directory's bytes, once read
    ents: dict[str, de.Dent] = field(default_factory=dict)  # a directory's entries by key
    kids: dict[int, Node] = field(default_factory=dict)  # Nodes made, by short-entry index
    chain: list[int] | None = None  # its clusters, once walked
    shorts: set[bytes] = field(default_factory=set)  # a directory's short names in use
    freehint: int = 0  # a directory has no free slot below this index

    @property
    def isdir(self) -> bool:
        return self.dent.isdir


class Volume:
    """The FAT volume on ``disk`` (attach with ``await Volume.open(disk)``)."""

    def __init__(self, disk: Disk, bpb: Bpb, fat: Fat) -> None:
        self.disk, self.bpb, self.fat = disk, bpb, fat
        self.lastpath = PLACES  # numbers past every place
        rootent = de.Dent("/", b" " * 11, de.ATTR_DIR, bpb.rootclus, 0, 0, 0, -1, -1)
        self.root = Node(ROOTPATH, None, rootent)
        self.byqpath: dict[int, Node] = {ROOTPATH: self.root}

    @classmethod
    async def open(cls, disk: Disk) -> Volume:
        bpb = parse(await disk.read(0, 512), disk.size)
        fat = Fat(bpb, await disk.read(bpb.fat, bpb.fatsize))
        if bpb.fsinfo:
            fsi = await disk.read(bpb.fsinfo, bpb.secsize)
            if fsi[:4] != b"RRaA" or fsi[484:488] != b"rrAa":
                bpb = fat.bpb = dataclasses.replace(bpb, fsinfo=0)
            fat.fsinfo = bytearray(fsi)
        return cls(disk, bpb, fat)

    def newpath(self, d: Node, index: int) -> int:
        """The qid path for entry ``index`` of directory ``d`` (the module docstring)."""
        q = (d.dent.cluster + 1) << 16 | index  # a directory holds at most 65536 entries
        held = self.byqpath.get(q)
        if held is not None and not held.removed:
            self.lastpath += 1
            q = self.lastpath
        return q

    def fixedroot(self, n: Node) -> bool:
        return n.parent is None and self.bpb.fattype != FAT32

    # ---- raw I/O ---------------------------------------------------------------------

    async def read(self, offset: int, count: int) -> bytes:
        data = await self.disk.read(offset, count)
        if len(data) != count:
            raise Error(Eio)
        return data

    async def write(self, offset: int, data: bytes) -> None:
        await self.disk.write(offset, data)

    def chain(self, n: Node) -> list[int]:
        if n.chain is None:
            n.chain = self.fat.chain(n.dent.cluster)
        return n.chain

    def runs(self, clusters: list[int], start: int, count: int) -> list[tuple[int, int]]:
        """(disk offset, length) pieces for bytes ``[start, start+count)`` of a chain, one
        per run of consecutive clusters."""
        cs, data = self.bpb.clustersize, self.bpb.data
        out: list[tuple[int, int]] = []
        pos, end = start, start + count
        last = (end - 1) // cs  # index of the last cluster needed
        ci = pos // cs
        while pos < end:
            cj = ci + 1
            while cj <= last and clusters[cj] == clusters[cj - 1] + 1:
                cj += 1
            n = min(end, cj * cs) - pos
            out.append((data + (clusters[ci] - 2) * cs + pos % cs, n))
            pos += n
            ci = cj
        return out

    # ---- directories (contents cached, see dirs.py for changes) ----------------------

    async def loaddir(self, n: Node) -> bytearray:
        if n.buf is None:
            if self.fixedroot(n):
                n.buf = bytearray(await self.read(self.bpb.rootdir, self.bpb.rootents * 32))
            else:
                cl = self.chain(n)
                pieces = self.runs(cl, 0, len(cl) * self.bpb.clustersize)
                n.buf = bytearray(b"".join([await self.read(o, c) for o, c in pieces]))
            fat32 = self.bpb.fattype == FAT32
            for d in de.scan(n.buf):
                if not fat32:
                    d.cluster &= 0xFFFF
                n.shorts.add(d.short)
                if d.name not in (".", ".."):
                    n.ents[de.key(d.name)] = d
        return n.buf

    async def writeslots(self, n: Node, first: int, data: bytes) -> None:
        """Put ``data`` (whole 32-byte slots) at slot ``first`` of directory ``n``.  The
        whole sectors around them go out (the cache holds them), so ``#S`` writes without
        reading first."""
        buf = await self.loaddir(n)
        lo = first * 32
        buf[lo : lo + len(data)] = data
        ss = self.bpb.secsize
        lo, hi = lo - lo % ss, min(len(buf), -(-(lo + len(data)) // ss) * ss)
        if self.fixedroot(n):
            await self.write(self.bpb.rootdir + lo, bytes(buf[lo:hi]))
            return
        for off, cnt in self.runs(self.chain(n), lo, hi - lo):
            await self.write(off, bytes(buf[lo : lo + cnt]))
            lo += cnt

    async def child(self, d: Node, name: str) -> Node | None:
        """The Node of entry ``name`` of directory ``d``, or None."""
        await self.loaddir(d)
        ent = d.ents.get(de.key(name))
        if ent is None:
            return None
        node = d.kids.get(ent.index)
        if node is None:
            node = d.kids[ent.index] = Node(self.newpath(d, ent.index), d, ent)
            self.byqpath[node.qpath] = node
        return node

    # ---- file contents (Rules 1, 3, 4) -----------------------------------------------

    async def readfile(self, n: Node, offset: int, count: int) -> bytes:
        size = n.dent.size
        if offset >= size or count <= 0:
            return b""
        count = min(count, size - offset)
        return b"".join([await self.read(o, c) for o, c in self.runs(self.chain(n), offset, count)])

    async def grow(self, n: Node, size: int) -> None:
        """Give ``n`` clusters for ``size`` bytes (FAT changed in memory only)."""
        if size > MAXFILE:
            raise Error(Efbig)
        cs = self.bpb.clustersize
        have = self.chain(n)
        need = -(-size // cs) - len(have)
        if need > 0:
            got = self.fat.alloc(need, have[-1] if have else 0)
            if not have:
                n.dent.cluster = got[0]
            have.extend(got)

    async def writefile(self, n: Node, offset: int, data: bytes, mtime: int) -> None:
        end = offset + len(data)
        old = n.dent.size
        if end > old:
            await self.grow(n, end)
        if offset > old:
            await self.zero(n, old, offset)  # Rule 1: the gap reads as zeros
        pos = 0
        for o, c in self.runs(self.chain(n), offset, len(data)):
            await self.write(o, data[pos : pos + c])
            pos += c
        await self.setsize(n, max(old, end), mtime)

    async def zero(self, n: Node, start: int, stop: int) -> None:
        """Zeros in bytes ``[start, stop)`` of ``n``'s clusters, ZCHUNK at a time (so a
        length wstat of gigabytes never holds gigabytes)."""
        for pos in range(start, stop, ZCHUNK):
            count = min(ZCHUNK, stop - pos)
            for o, c in self.runs(self.chain(n), pos, count):
                await self.write(o, bytes(c))

    async def setsize(self, n: Node, size: int, mtime: int) -> None:
        """The FAT, then the entry with the new length (Rule 1's last two steps)."""
        await self.fat.flush(self.write)
        n.dent.size = size
        n.dent.mtime = mtime
        n.vers += 1
        await self.putdent(n)

    async def truncate(self, n: Node, size: int, mtime: int) -> None:
        old = n.dent.size
        if size > old:
            await self.grow(n, size)
            await self.zero(n, old, size)
            await self.setsize(n, size, mtime)
            return
        cs = self.bpb.clustersize
        have = self.chain(n)
        keep = -(-size // cs)
        n.dent.size = size
        n.dent.mtime = mtime
        if keep == 0:
            n.dent.cluster = 0
        n.vers += 1
        await self.putdent(n)  # Rule 2: the entry first
        freed = have[keep:]
        del have[keep:]
        self.fat.release(freed, have[-1] if have and freed else 0)
        await self.fat.flush(self.write)

    async def putdent(self, n: Node) -> None:
        """Rewrite ``n``'s short entry from ``n.dent`` (keeping its creation time)."""
        d, p = n.dent, n.parent
        if p is None:
            return
        buf = await self.loaddir(p)
        old = buf[d.index * 32 : d.index * 32 + 32]
        raw = bytearray(de.pack(d.short, d.attr, d.cluster, 0 if d.isdir else d.size, d.mtime,
                                d.mtime))  # fmt: skip
        raw[12:18] = old[12:18]  # NTRes and the creation time stay
        adate = de.dostime(d.atime)[0] if d.atime else int.from_bytes(old[18:20], "little")
        raw[18:20] = adate.to_bytes(2, "little")  # the access date (a day, in FAT)
        await self.writeslots(p, d.index, bytes(raw))

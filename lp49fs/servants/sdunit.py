"""One ``#S`` unit: its identity, its partition table and its ctl language (Plan 9 ``devsd``).

A unit ``sdCu`` always has the partition ``data`` (the whole disk).  Further partitions are
``part name start end`` lines written to ``ctl`` (sector range ``[start, end)``), normally by
``fdisk -p`` at boot; ``delpart name`` removes one that is not open.  The kernel does not read
partition tables itself.

Each partition gets a qid path of its own that is never reused on this unit, so a Chan left on
a deleted partition can not reach a newer one of the same name.

Rules (``part``): the name is non-empty, has no ``/`` or space, is not ``ctl``, ``raw`` or
``data`` and not taken -> else ``Error(Eexist)`` / ``Error(Ebadarg)``; ``start < end <=
sectors`` -> else ``Error(Ebadarg)``.  ``delpart`` of ``data`` or of a missing name ->
``Error(Enonexist)`` / ``Error(Eperm)``; of an open one -> ``Error(Einuse)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lp49fs.errors import Ebadarg, Eexist, Einuse, Eio, Enonexist, Eperm, Error
from lp49fs.servants.sdata import Ata, Ident

RESERVED = ("ctl", "raw", "data")
MAXPART = 16  # partitions per unit besides data (Plan 9 SDnpart)


@dataclass(slots=True)
class Part:
    """A partition: sectors ``[start, end)`` of the unit."""

    name: str
    start: int
    end: int
    id: int  # qid path part, unique on this unit
    nopen: int = 0  # open Chans on it

    @property
    def sectors(self) -> int:
        return self.end - self.start


@dataclass
class SdUnit:
    """A probed unit of a channel."""

    name: str  # "sdC0"
    ata: Ata  # the channel's driver
    unit: int  # 0 or 1 on the channel
    ident: Ident
    readonly: bool
    secsize: int = 512
    parts: list[Part] = field(default_factory=list)
    nextid: int = 1

    def __post_init__(self) -> None:
        if not self.parts:
            self.parts.append(Part("data", 0, self.ident.sectors, 0))

    def part(self, name: str) -> Part | None:
        for p in self.parts:
            if p.name == name:
                return p
        return None

    def byid(self, pid: int) -> Part | None:
        for p in self.parts:
            if p.id == pid:
                return p
        return None

    def ctltext(self) -> str:
        """What a read of ``ctl`` gives."""
        i = self.ident
        lines = [f"inquiry {i.model}", f"config serial {i.serial} firmware {i.firmware}"
                 + (" ro" if self.readonly else ""),
                 f"geometry {i.sectors} {self.secsize}"]  # fmt: skip
        lines += [f"part {p.name} {p.start} {p.end}" for p in self.parts]
        return "".join(line + "\n" for line in lines)

    def ctl(self, text: str) -> None:
        """Run the ctl commands in ``text`` (one per line)."""
        for line in text.splitlines():
            f = line.split()
            if not f:
                continue
            if f[0] == "part" and len(f) == 4:
                self.addpart(f[1], _num(f[2]), _num(f[3]))
            elif f[0] == "delpart" and len(f) == 2:
                self.delpart(f[1])
            else:
                raise Error(Ebadarg)

    def addpart(self, name: str, start: int, end: int) -> Part:
        if not name or "/" in name or name in RESERVED or len(self.parts) > MAXPART:
            raise Error(Ebadarg)
        if self.part(name) is not None:
            raise Error(Eexist)
        if not 0 <= start < end <= self.ident.sectors:
            raise Error(Ebadarg)
        p = Part(name, start, end, self.nextid)
        self.nextid += 1
        self.parts.append(p)
        return p

    def delpart(self, name: str) -> None:
        p = self.part(name)
        if p is None:
            raise Error(Enonexist)
        if p.name == "data":
            raise Error(Eperm)
        if p.nopen:
            raise Error(Einuse)
        self.parts.remove(p)

    # ---- byte I/O on a partition, any offset and length ---------------------------------

    async def read(self, p: Part, count: int, offset: int) -> bytes:
        size = p.sectors * self.secsize
        if offset >= size or count <= 0:
            return b""
        count = min(count, size - offset)
        ss = self.secsize
        first, last = offset // ss, (offset + count + ss - 1) // ss
        data = await self.ata.read(self.unit, p.start + first, last - first)
        skip = offset - first * ss
        return data[skip : skip + count]

    async def write(self, p: Part, data: bytes, offset: int) -> int:
        """Write ``data`` at byte ``offset`` of ``p`` (read-modify-write of partial sectors);
        a write past the end is cut there; one wholly past it -> ``Error(Eio)``."""
        size = p.sectors * self.secsize
        if offset >= size and data:
            raise Error(Eio)
        data = data[: size - offset]
        if not data:
            return 0
        ss = self.secsize
        first, last = offset // ss, (offset + len(data) + ss - 1) // ss
        head, tail = offset - first * ss, last * ss - (offset + len(data))
        async with self.ata.lock_unit(self.unit):
            if head or tail:
                buf = bytearray(len(data) + head + tail)
                if head:
                    buf[:ss] = await self.ata.read(self.unit, p.start + first, 1)
                if tail and (last - 1 != first or not head):
                    buf[-ss:] = await self.ata.read(self.unit, p.start + last - 1, 1)
                buf[head : head + len(data)] = data
                await self.ata.write(self.unit, p.start + first, bytes(buf))
            else:
                await self.ata.write(self.unit, p.start + first, data)
        return len(data)


def _num(s: str) -> int:
    try:
        n = int(s, 0)
    except ValueError:
        raise Error(Ebadarg) from None
    if n < 0:
        raise Error(Ebadarg)
    return n

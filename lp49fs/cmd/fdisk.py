"""fdisk -p DISK: print a disk's MBR partitions as ``part`` lines for its ctl (Plan 9 fdisk(8)).

``fdisk -p /dev/sdC0/data`` reads sector 0 of the unit's whole-disk file and prints one line
``part NAME START END`` (sectors, END exclusive, as ``#S`` ctl takes them) per partition; the
boot sends the output to ``/dev/sdC0/ctl``, so each partition becomes a file beside ``data``
(``lp49fs.node.disks``).  The kernel never reads partition tables itself.

Theory of operation (the MBR layout of the IBM PC, as fdisk/sfdisk write it): sector 0 ends
in the signature 0x55 0xAA and holds four 16-byte entries at byte 446; each entry has a boot
flag (0x00 or 0x80), a type byte at +4, the first sector (LBA) at +8 and the sector count at
+12, little-endian.  An extended partition (types 0x05, 0x0f, 0x85) holds a chain of EBRs:
each EBR is an MBR-shaped sector whose first entry is one logical partition (relative to that
EBR) and whose second entry links the next EBR (relative to the extended partition's start).

Rules:

1. Names come from the type (``NAMES``): FAT types 0x01 0x04 0x06 0x0b 0x0c 0x0e are ``dos``,
   0x83 ``linux``; other known types have their Plan 9 names, unknown ones ``typeXX``.  The
   second partition of a name is ``NAME1``, the third ``NAME2`` ...; order is the table's
   (primaries 1-4, then the logical ones in chain order).
2. A disk without a valid MBR prints nothing (the unit keeps only ``data``).  Sector 0 is
   not an MBR when the signature is missing, a boot flag is neither 0x00 nor 0x80, or it is
   the boot sector of a FAT volume written on the whole disk (a jump and ``FAT`` in the BPB).
3. An entry that runs past the end of the disk, starts at sector 0, or overlaps an earlier
   one is not printed; fdisk says why on fd 2 and goes on.  An EBR chain is followed at most
   MAXLOGICAL links and never back to a sector already seen.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lp49fs import lib
from lp49fs.cmd._util import eprint, fatal, getflags, usage
from lp49fs.errors import Error
from lp49fs.ninep import OREAD

USAGE = "fdisk -p disk"
SECTOR = 512
EXTENDED = (0x05, 0x0F, 0x85)
MAXLOGICAL = 64  # EBR links followed at most
FAT = {0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E}
NAMES = {**dict.fromkeys(FAT, "dos"), 0x83: "linux", 0x82: "linuxswap", 0x39: "plan9",
         0x07: "ntfs", 0xA5: "bsd", 0xEE: "gpt", 0xEF: "efi"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Entry:
    """One partition: sectors ``[start, end)`` of the disk."""

    type: int
    start: int
    end: int


def entries(sector: bytes) -> list[tuple[int, int, int, int]] | None:
    """The four (flag, type, lba, count) entries of an MBR-shaped sector, or None (Rule 2)."""
    if len(sector) < SECTOR or sector[510:512] != b"\x55\xaa":
        return None
    out = []
    for i in range(4):
        e = sector[446 + 16 * i : 462 + 16 * i]
        flag, ptype = e[0], e[4]
        lba, count = struct.unpack_from("<II", e, 8)
        if flag not in (0x00, 0x80):
            return None
        out.append((flag, ptype, lba, count))
    return out


def isfat(sector: bytes) -> bool:
    """Sector 0 is a FAT boot sector (a volume on the whole disk, no partition table)."""
    return sector[0] in (0xEB, 0xE9) and (sector[54:57] == b"FAT" or sector[82:85] == b"FAT")


class Table:
    """The partitions found so far, with Rule 3's checks."""

    def __init__(self, disksectors: int) -> None:
        self.disk = disksectors
        self.parts: list[Entry] = []
        self.complaints: list[str] = []

    def add(self, ptype: int, start: int, count: int) -> None:
        if ptype == 0 or count == 0:
            return
        end = start + count
        why = ""
        if start == 0:
            why = "starts at sector 0"
        elif end > self.disk:
            why = f"ends at {end}, past the disk's {self.disk} sectors"
        elif any(start < p.end and p.start < end for p in self.parts):
            why = "overlaps another partition"
        if why:
            self.complaints.append(f"partition type {ptype:#04x} at {start}: {why}")
            return
        self.parts.append(Entry(ptype, start, end))


async def read_table(fd: int, disksectors: int) -> Table:
    """Primaries first, then the logical partitions of each extended one (Rule 1's order)."""
    t = Table(disksectors)
    sector0 = await lib.pread(fd, SECTOR, 0)
    ents = None if isfat(sector0) else entries(sector0)
    if ents is None:
        return t
    for _, ptype, lba, count in ents:
        if ptype not in EXTENDED:
            t.add(ptype, lba, count)
    for _, ptype, lba, count in ents:
        if ptype in EXTENDED and 0 < lba < disksectors:
            await logical(fd, t, lba, count)
    return t


async def logical(fd: int, t: Table, base: int, size: int) -> None:
    """Follow the EBR chain of the extended partition at ``base`` (Rule 3's bounds)."""
    seen: set[int] = set()
    ebr = base
    while ebr not in seen and len(seen) < MAXLOGICAL and base <= ebr < min(base + size, t.disk):
        seen.add(ebr)
        ents = entries(await lib.pread(fd, SECTOR, ebr * SECTOR))
        if ents is None:
            t.complaints.append(f"no EBR at sector {ebr}")
            return
        _, ptype, lba, count = ents[0]
        if ptype and ptype not in EXTENDED:
            t.add(ptype, ebr + lba, count)
        _, ntype, nlba, _ = ents[1]
        if ntype not in EXTENDED or nlba == 0:
            return
        ebr = base + nlba


def partlines(parts: list[Entry]) -> list[str]:
    """``part NAME START END`` for each partition, named by Rule 1."""
    used: dict[str, int] = {}
    out = []
    for p in parts:
        base = NAMES.get(p.type, f"type{p.type:02x}")
        n = used.get(base, 0)
        used[base] = n + 1
        out.append(f"part {base if n == 0 else f'{base}{n}'} {p.start} {p.end}")
    return out


async def main(argv: list[str]) -> None:
    flags, args = await getflags(argv, "p", USAGE)
    if "p" not in flags or len(args) != 1:
        await usage(USAGE)
    disk = args[0]
    try:
        fd = await lib.open(disk, OREAD)
    except Error as e:
        await fatal("fdisk", f"can't open {disk}: {e.ename}")
    try:
        size = (await lib.fstat(fd)).length
        table = await read_table(fd, size // SECTOR)
    except Error as e:
        await fatal("fdisk", f"{disk}: {e.ename}")
    finally:
        await lib.close(fd)
    for why in table.complaints:
        await eprint(f"fdisk: {disk}: {why}\n")
    for line in partlines(table.parts):
        await lib.print(line + "\n")

"""FAT directory entries: the 32-byte short entry, VFAT long-name slots, 8.3 names, times.

A short entry (fatgen103 §6): Name[11] (8 + 3, space padded, OEM code page 437), Attr @11,
NTRes @12 (0x08: the base is lower case, 0x10: the extension), CrtTimeTenth @13, CrtTime
@14, CrtDate @16, LstAccDate @18, FstClusHI @20, WrtTime @22, WrtDate @24, FstClusLO @26,
FileSize @28.  Name[0] 0xE5 marks a free entry, 0x00 a free entry with none after it, 0x05
stands for a real 0xE5.  A long name is stored in slots before its short entry, last piece
first: each slot has Ord @0 (1-based, 0x40 on the last piece), 5 UCS-2 units @1, Attr 0x0F
@11, the short name's checksum @13, 6 units @14, 0 @26 and 2 units @28; the name ends in
0x0000 and the rest of the last slot is 0xFFFF.

Rules:

1. A long name is used only if its slots are in order, complete and carry the checksum of
   the short entry that follows; otherwise the short name is the name (as fsck.fat and
   Windows do).
2. Names are compared case-insensitively (``key``), as every FAT implementation does; a
   name keeps the case it was created with.
3. ``valid`` refuses what no FAT can hold: empty, ``.``/``..``, a control character or one of
   ``"*/:<>?\\|``, a trailing space or dot, more than 255 UTF-16 units.
4. A new name that is already a valid upper-case 8.3 name gets only a short entry; any
   other gets long-name slots and a generated short name ``BASIS~N.EXT`` (N 1-4, then a
   hash of the long name, ``BAXXXX~1``, so a directory of thousands of similar names does
   not try thousands of tails) unique in its directory (``shortname``).
5. Times are local time, 2-second resolution, 1980-2107, as DOS keeps them.
"""

from __future__ import annotations

import itertools
import struct
import time
import zlib
from dataclasses import dataclass

from lp49fs.errors import Ebadchar, Elongname, Error

ENTRY = 32
ATTR_RO, ATTR_HIDDEN, ATTR_SYSTEM, ATTR_VOLUME, ATTR_DIR, ATTR_ARCHIVE = 1, 2, 4, 8, 16, 32
ATTR_LFN = 0x0F
FREE, END = 0xE5, 0x00
BAD = set('"*/:<>?\\|')
SHORTOK = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789$%'-_@~`!(){}^#&")
UNITS = 13  # UTF-16 units per long-name slot


@dataclass(slots=True)
class Dent:
    """One directory entry as read: where its slots are and what its short entry says."""

    name: str  # the long name, or the short name shown as 8.3
    short: bytes  # the 11 bytes of the short name
    attr: int
    cluster: int  # first cluster (0: none)
    size: int
    mtime: int  # Unix seconds
    atime: int
    first: int  # index of its first slot (a long-name slot, or the short entry)
    index: int  # index of its short entry in the directory

    @property
    def isdir(self) -> bool:
        return bool(self.attr & ATTR_DIR)


def key(name: str) -> str:
    return name.upper()


def checksum(short: bytes) -> int:
    s = 0
    for b in short:
        s = (((s & 1) << 7) + (s >> 1) + b) & 0xFF
    return s


def valid(name: str) -> str:
    """``name`` if a FAT directory can hold it (Rule 3)."""
    if len(name.encode("utf-16-le")) // 2 > 255:
        raise Error(Elongname)
    if name in ("", ".", "..") or name[-1] in " ." or any(c in BAD or ord(c) < 32 for c in name):
        raise Error(Ebadchar)
    return name


def showshort(short: bytes, ntres: int) -> str:
    raw = bytes([0xE5]) + short[1:] if short[0] == 0x05 else short
    base = raw[:8].decode("cp437").rstrip(" ")
    ext = raw[8:].decode("cp437").rstrip(" ")
    base = base.lower() if ntres & 0x08 else base
    ext = ext.lower() if ntres & 0x10 else ext
    return f"{base}.{ext}" if ext else base


def plainshort(name: str) -> bytes | None:
    """The short name bytes if ``name`` already is an upper-case 8.3 name (Rule 4)."""
    base, dot, ext = name.partition(".")
    if not 1 <= len(base) <= 8 or len(ext) > 3 or (dot and not ext) or "." in ext:
        return None
    if not all(c in SHORTOK for c in base + ext):
        return None
    return (base.ljust(8) + ext.ljust(3)).encode("ascii")


def shortname(name: str, taken: set[bytes]) -> bytes:
    """A generated short name for long name ``name``, not in ``taken`` (Rule 4): its
    upper-case form when that is an 8.3 name, else ``BASIS~N.EXT``."""
    plain = plainshort(name.upper())
    if plain is not None and plain not in taken:
        return plain
    up = "".join(c if c in SHORTOK else ("" if c in " ." else "_") for c in name.upper())
    stem, _, ext = name.upper().rpartition(".")
    if not stem:
        stem, ext = name.upper(), ""
    base = "".join(c if c in SHORTOK else "_" for c in stem if c not in " .") or up[:8] or "_"
    ext = "".join(c if c in SHORTOK else "_" for c in ext if c not in " .")[:3]
    h = zlib.crc32(name.encode("utf-8")) & 0xFFFF
    cands = itertools.chain((base[:6] + f"~{n}" for n in range(1, 5)),
                            (base[:2] + f"{(h + k) & 0xFFFF:04X}~1" for k in range(0x10000)))
    for cand in cands:  # ~1..~4, then a hash of the name, as Windows does past four
        raw = (cand.ljust(8) + ext.ljust(3)).encode("ascii")
        if raw not in taken:
            return raw
    raise Error(Elongname)


def lfnslots(name: str, short: bytes) -> list[bytes]:
    """The long-name slots for ``name``, in on-disk order (last piece first)."""
    units = name.encode("utf-16-le")
    n = len(units) // 2
    if n % UNITS:
        units += b"\0\0" + b"\xff\xff" * (UNITS - n % UNITS - 1)
    pieces = [units[i : i + 2 * UNITS] for i in range(0, len(units), 2 * UNITS)]
    ck = checksum(short)
    out = []
    for i, p in enumerate(pieces, 1):
        ordv = i | (0x40 if i == len(pieces) else 0)
        out.append(struct.pack("<B10sBBB12sH4s", ordv, p[:10], ATTR_LFN, 0, ck, p[10:22], 0,
                               p[22:26]))  # fmt: skip
    return out[::-1]


def pack(short: bytes, attr: int, cluster: int, size: int, mtime: int, ctime: int) -> bytes:
    """A short entry (creation time ``ctime``, write time ``mtime``)."""
    cd, ct = dostime(ctime)
    md, mt = dostime(mtime)
    return struct.pack("<11sBBBHHHHHHHI", short, attr, 0, 0, ct, cd, md, cluster >> 16, mt, md,
                       cluster & 0xFFFF, size)  # fmt: skip


def dostime(t: int) -> tuple[int, int]:
    """(date, time) of Unix time ``t`` (Rule 5)."""
    tm = time.localtime(t)
    year = min(max(tm.tm_year, 1980), 2107)
    date = (year - 1980) << 9 | tm.tm_mon << 5 | tm.tm_mday
    return date, tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec // 2


def unixtime(date: int, tod: int = 0) -> int:
    if not date:
        return 0
    day, mon, year = date & 31, date >> 5 & 15, (date >> 9) + 1980
    tm = (year, max(mon, 1), max(day, 1), tod >> 11, tod >> 5 & 63, (tod & 31) * 2, 0, 0, -1)
    return int(time.mktime(tm))


def scan(buf: bytes | bytearray) -> list[Dent]:
    """Every entry in directory bytes ``buf`` (volume labels and deleted ones left out)."""
    out: list[Dent] = []
    lfn: dict[int, bytes] = {}
    want, ck, first = 0, -1, -1
    for i in range(len(buf) // ENTRY):
        e = buf[i * ENTRY : (i + 1) * ENTRY]
        if e[0] == END:
            break
        if e[0] == FREE:
            want, lfn = 0, {}
            continue
        if e[11] & 0x3F == ATTR_LFN:
            o = e[0] & 0x3F
            if e[0] & 0x40:
                want, ck, first, lfn = o, e[13], i, {}
            elif o != want - len(lfn) or e[13] != ck:
                want, lfn = 0, {}
                continue
            lfn[o] = bytes(e[1:11] + e[14:26] + e[28:32])
            continue
        short = bytes(e[:11])
        attr = e[11]
        if attr & ATTR_VOLUME:
            want, lfn = 0, {}
            continue
        name = showshort(short, e[12])
        start = i
        if want and len(lfn) == want and ck == checksum(short) and min(lfn) == 1:
            units = b"".join(lfn[k] for k in sorted(lfn))
            text = units.decode("utf-16-le", "replace")
            name, start = text.split("\0", 1)[0], first
        want, lfn = 0, {}
        (_, _, _, _, _, _, adate, hi, mt, md, lo, size) = struct.unpack("<11sBBBHHHHHHHI", e)
        out.append(Dent(name, short, attr, hi << 16 | lo, size, unixtime(md, mt),
                        unixtime(adate), start, i))  # fmt: skip
    return out

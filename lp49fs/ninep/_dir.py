"""Qid and Dir, the two value types inside 9P messages, and their Plan 9 renderings.

``Qid(type, vers, path)`` is the server's identity of a file: the same ``path`` is the same
file.  ``Dir`` is one stat entry (stat(5)), also the unit of a directory read.  In a Twstat,
a field holding its "don't touch" value (all ones for integers, ``qid.type`` 0xFF, the empty
string) is left alone; ``Dir.nulldir()`` has every field so, and sending it asks the server
to commit the file to stable storage.  Both are frozen; ``Qid`` is hashable and is used as
a key (mount tables, inode maps).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ._constants import (
    DMAPPEND,
    DMAUTH,
    DMDIR,
    DMEXCL,
    NOTOUCH16,
    NOTOUCH32,
    NOTOUCH64,
    NOTOUCHQT,
    QTAPPEND,
    QTAUTH,
    QTDIR,
    QTEXCL,
)

DUMPL = 64  # bytes of data shown by a trace line, as in fcallfmt.c


@dataclass(frozen=True, slots=True)
class Qid:
    """The server's identity of a file: same ``path`` is the same file."""

    type: int  # QT* bits, mode >> 24
    vers: int  # version, usually bumped on each change
    path: int  # unique among the files of one server

    def __str__(self) -> str:
        t = "".join(c for bit, c in _QIDTYPE if self.type & bit)
        return f"({self.path:016x} {self.vers} {t})"


_QIDTYPE = ((QTDIR, "d"), (QTAPPEND, "a"), (QTEXCL, "l"), (QTAUTH, "A"))
NULLQID = Qid(NOTOUCHQT, NOTOUCH32, NOTOUCH64)


@dataclass(frozen=True, slots=True)
class Dir:
    """One stat entry (stat(5)); also the unit of a directory read."""

    type: int = 0  # server type (kernel use)
    dev: int = 0  # server subtype (kernel use)
    qid: Qid = Qid(0, 0, 0)  # unique id from the server
    mode: int = 0  # permissions and DM* bits
    atime: int = 0  # last read time, seconds since the epoch
    mtime: int = 0  # last write time
    length: int = 0  # file length in bytes, 0 for directories
    name: str = ""  # last element of the path
    uid: str = ""  # owner name
    gid: str = ""  # group name
    muid: str = ""  # last modifier name

    @classmethod
    def nulldir(cls) -> Dir:
        """A Dir whose every field is "don't touch" (a Twstat with it commits to storage)."""
        return _NULLDIR

    def dont_touch(self, field: str) -> bool:
        """True if ``field`` holds its don't-touch value (all ones, or the empty string)."""
        return bool(getattr(self, field) == getattr(_NULLDIR, field))

    def touched(self) -> tuple[str, ...]:
        """The names of the fields a Twstat with this Dir asks to change."""
        return tuple(f for f in _DIRFIELDS if not self.dont_touch(f))

    def is_null(self) -> bool:
        """True if no field is to be changed (a Twstat sync request)."""
        return not self.touched()

    def __str__(self) -> str:
        return (
            f"'{self.name}' '{self.uid}' '{self.gid}' '{self.muid}' q {self.qid} "
            f"m 0{self.mode:o} at {self.atime} mt {self.mtime} l {self.length} "
            f"t {self.type} d {self.dev}"
        )


_NULLDIR = Dir(NOTOUCH16, NOTOUCH32, NULLQID, NOTOUCH32, NOTOUCH32, NOTOUCH32, NOTOUCH64)
_DIRFIELDS = tuple(f.name for f in fields(Dir))


def dirmode(m: int) -> str:
    """Plan 9's ``%M`` (dirmodefmt, ``ls -l``): ``d-rwxr-xr-x``, 11 characters.

    The first character is ``d`` for DMDIR, else ``a`` for DMAPPEND, else ``A`` for DMAUTH;
    the second is ``l`` for DMEXCL; then the permission triples from a 512-entry table.
    """
    kind = "d" if m & DMDIR else "a" if m & DMAPPEND else "A" if m & DMAUTH else "-"
    return kind + ("l" if m & DMEXCL else "-") + _PERMS[m & 0o777]


def _rwx(p: int) -> str:
    return ("r" if p & 4 else "-") + ("w" if p & 2 else "-") + ("x" if p & 1 else "-")


_PERMS = tuple(_rwx(p >> 6) + _rwx(p >> 3) + _rwx(p) for p in range(0o1000))


def dumpsome(data: bytes) -> str:
    """fcallfmt.c's ``dumpsome``: the first 64 bytes, as text if printable, else hex."""
    b = bytes(data[:DUMPL])
    if all(32 <= c <= 127 or c in (9, 10) for c in b):
        return "'" + b.decode("latin-1") + "'"
    return "'" + " ".join(b[i : i + 4].hex() for i in range(0, len(b), 4)) + "'"

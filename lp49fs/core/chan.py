"""Chan: the handle that names one file of one servant instance (the paper's objH).

A Chan is what a walk produces, what a file descriptor holds, and what a mount table maps
from and to.  It says which servant serves the file (``type``, the ``#`` letter, and ``sv``,
that servant object of this node), which instance (``dev``), which file (``qid``), and, once
opened, the open mode and the file offset.  For a proxy of a mounted 9P server the servant is
``#M`` and ``mchan`` is the server link.

Rules:

1. Reference counts.  ``ref`` counts the holders: fd table slots, mount table entries, a
   proc's ``slash``/``dot``, a walk in progress.  ``incref`` adds one; ``cclose`` drops one
   and, on the last reference, calls the servant's ``close`` exactly once if the Chan was open
   (``COPEN``), or always if the servant asks for it (``closeall``, e.g. ``#M`` clunks the fids
   of walked but unopened Chans).  A Chan whose count reached zero is dead: using it again is
   a bug that ``cclose`` reports.
2. ``cclone`` makes a new, unopened Chan on the same file: the servant walk with no names.
3. ``path`` is a ``Path``: the name as evaluated (``/dev/cons``, ``#c/cons``) plus, for each
   element, the mount point Chan that was crossed to reach it (or None).  ``namec`` uses those
   crossings to make ``..`` lexical (as Plan 9's namec does); nothing else interprets them.
4. ``eqchantdqid`` is file identity for the mount table: type, dev and qid.path; qid.vers is
   ignored, so a directory that changes stays the same mount point.
5. A reference held across calls that may fail is held by ``closeonerror(c)``: if the block
   fails in any way (an Error, a cancellation), the reference it holds then is dropped and
   the failure goes on; Plan 9 writes ``if(waserror()){ cclose(c); nexterror(); }``.

The servant object is reached through ``c.sv`` (Plan 9's ``devtab[c->type]``); the core does
not import ``lp49fs.servants`` (layering), so ``sv`` is typed by the ``Dev`` protocol below,
which is the part of the Servant API the core calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from lp49fs import trace as _t
from lp49fs.ninep import OREAD, QTDIR, Dir, Qid

if TYPE_CHECKING:
    from lp49fs.core.mount import Mhead

# Chan.flag bits (Plan 9 portdat.h)
COPEN = 0x0001  # for i/o
CMSG = 0x0002  # the message channel for a mount
CCEXEC = 0x0008  # close on exec
CFREE = 0x0010  # not in use
CRCLOSE = 0x0020  # remove on close
CCACHE = 0x0080  # client cache
CCREATE = 0x0100  # made by create (not only a walk)
CBUS = 0x0200  # a service-bus channel was granted for it (core/bus.py): close waits


class Dev(Protocol):
    """What the core calls on a servant (lp49fs.core.dev.Servant implements it)."""

    dc: ClassVar[str]
    name: ClassVar[str]
    closeall: ClassVar[bool]

    def reset(self) -> None: ...
    def init(self) -> None: ...
    def shutdown(self) -> None: ...
    async def attach(self, spec: str) -> Chan: ...
    async def walk(self, c: Chan, names: Sequence[str]) -> Walkqid: ...
    async def stat(self, c: Chan) -> Dir: ...
    async def open(self, c: Chan, omode: int) -> Chan: ...
    async def walkopen(self, c: Chan, names: Sequence[str], omode: int) -> Chan | None: ...
    async def create(self, c: Chan, name: str, omode: int, perm: int) -> Chan: ...
    async def close(self, c: Chan) -> None: ...
    async def read(self, c: Chan, count: int, offset: int) -> bytes: ...
    async def write(self, c: Chan, data: bytes, offset: int) -> int: ...
    async def remove(self, c: Chan) -> None: ...
    async def wstat(self, c: Chan, d: Dir) -> None: ...
    def busend(self, c: Chan) -> tuple[int, int] | None: ...  # lp49fs.core.bus
    def busfid(self, c: Chan) -> tuple[Chan, int] | None: ...


@dataclass(frozen=True, slots=True)
class Path:
    """A name as evaluated, with the mount crossings of each element (Plan 9 ``Path``)."""

    s: str  # "/dev/cons", "#c/cons", "#c"
    mtpt: tuple[Chan | None, ...] = ()  # per element: the mount point crossed to reach it

    def elems(self) -> list[str]:
        """The elements after the root ("/", "#c" or "."), in order."""
        return [e for e in self.s.split("/")[1:] if e] if "/" in self.s else []

    def addelem(self, name: str, crossed: Chan | None = None) -> Path:
        """This path extended by ``name``; ``crossed`` is the mount point left behind."""
        if name == "..":
            return self.dotdot()
        sep = "" if self.s.endswith("/") else "/"
        return Path(self.s + sep + name, (*self.mtpt, crossed))

    def dotdot(self) -> Path:
        """This path minus its last element (the root stays the root)."""
        if "/" not in self.s or self.s in ("/",) or self.s.rstrip("/") == "":
            return self
        head = self.s.rsplit("/", 1)[0] or "/"
        return Path(head, self.mtpt[:-1])

    def last(self) -> str:
        """The last element, or the whole name for a root ("/", "#c")."""
        if self.s == "/":
            return "/"
        return self.s.rsplit("/", 1)[-1] if "/" in self.s else self.s


@dataclass(slots=True, eq=False)
class Chan:
    """One file of one servant instance; see the module rules for ownership."""

    type: str  # servant letter, the x of #x (Plan 9: index into devtab)
    dev: int  # servant instance (#S0 vs #S1, a mount's number)
    qid: Qid  # the file, as the servant names it
    sv: Dev = field(repr=False)  # the servant object: this node's devtab[type]
    mode: int = OREAD  # open mode (OREAD/OWRITE/ORDWR), valid with COPEN
    flag: int = 0  # COPEN, CMSG, CCREATE, CRCLOSE, CCEXEC ...
    offset: int = 0  # file offset for read/write without one
    path: Path = Path("")  # name as evaluated, for fd2path and lexical ..
    aux: Any = None  # servant private state
    mchan: Chan | None = None  # #M proxies: the server link
    umh: Mhead | None = None  # open union directory: the mount head being read; or the
    # union a walked fd's Chan was crossed into (lp49fs.core.sysat Rule 3)
    umc: Chan | None = None  # union read: the open member being read
    uri: int = 0  # union read: index of that member in umh.mounts
    iounit: int = 0  # largest useful i/o, 0 = unknown
    ref: int = 1  # holders; see Rule 1

    def isdir(self) -> bool:
        return bool(self.qid.type & QTDIR)

    def __repr__(self) -> str:
        return f"Chan(#{self.type}{self.dev} {self.qid} {self.path.s!r} ref={self.ref})"


@dataclass(slots=True)
class Walkqid:
    """A servant walk's answer (Plan 9 ``Walkqid``).

    ``qids`` holds one qid per name walked.  If all names were walked, ``clone`` is the new
    Chan at the end; if fewer, ``clone`` is None.  A failure on the first name raises.
    """

    clone: Chan | None
    qids: list[Qid]


def incref(c: Chan) -> Chan:
    """Add a holder of ``c`` and return it."""
    if c.ref <= 0:
        raise AssertionError(f"incref of a dead chan {c!r}")
    c.ref += 1
    return c


async def cclose(c: Chan | None, *, clunked: bool = False) -> None:
    """Drop one holder; on the last one close the servant side (Rule 1).

    ``clunked``: the servant already let go of this Chan (``remove`` does, like 9P Tremove),
    so no ``close`` is called for it.
    """
    if c is None:
        return
    if c.ref <= 0:
        raise AssertionError(f"cclose of a dead chan {c!r}")
    c.ref -= 1
    if c.ref > 0:
        return
    umc, c.umc, c.umh = c.umc, None, None
    try:
        if not clunked and (c.flag & COPEN or c.sv.closeall):
            await (_t.svcall("clerk", c, "close", c.sv.close(c)) if _t.on else c.sv.close(c))
    finally:
        c.flag |= CFREE
        await cclose(umc)


class Held:
    """The reference a ``closeonerror`` block holds (Rule 5); ``c`` is the Chan it is on.

        async with closeonerror(c) as h:
            ...                    # a failure here drops h.c and goes on
            await h.replace(nc)    # now the block holds nc; the old reference is dropped
        return h.c                 # success: the reference passes to the caller
    """

    __slots__ = ("c",)

    def __init__(self, c: Chan) -> None:
        self.c = c

    async def replace(self, nc: Chan) -> None:
        """Hold ``nc`` (a reference the caller made) instead; drop the one held so far."""
        old, self.c = self.c, nc
        await cclose(old)

    async def __aenter__(self) -> Held:
        return self

    async def __aexit__(self, etype: type[BaseException] | None, *_: object) -> None:
        if etype is not None:
            await cclose(self.c)


def closeonerror(c: Chan) -> Held:
    """Hold the reference ``c`` for an ``async with`` block that drops it if it fails."""
    return Held(c)


async def cclone(c: Chan) -> Chan:
    """A new unopened Chan on the same file as ``c`` (Plan 9: port/chan.c:/^cclone)."""
    wq = await c.sv.walk(c, [])
    if wq.clone is None:
        raise AssertionError(f"servant {c.sv.name} cannot clone {c!r}")
    nc = wq.clone
    nc.path = c.path
    return nc


def eqchantdqid(c: Chan, type: str, dev: int, qid: Qid, skipvers: bool = True) -> bool:
    """Whether ``c`` is the file (type, dev, qid); qid.vers is compared only if asked."""
    return (
        c.type == type
        and c.dev == dev
        and c.qid.path == qid.path
        and (skipvers or c.qid.vers == qid.vers)
    )


def mhkey(c: Chan) -> tuple[str, int, int]:
    """The mount table key of ``c``: (servant letter, dev, qid.path)."""
    return (c.type, c.dev, c.qid.path)

"""u9fs identities: which Linux user an attach acts as, and acting as it (setfsuid).

Plan 9's u9fs, run as root, serves each attach as the Unix user of the attach name and
refuses names it does not know ("unknown user") and root itself; ``-u user`` treats every
attach as coming from ``user``.  Here:

1. ``Idents.of(uname)`` is the ``Ident`` an attach acts as, or None for the server's own
   identity:
   - ``-u USER`` (``force``): every attach acts as Linux USER (run as root), or, run as
     USER, as itself;
   - ``--owner NAME``: attaches by NAME act as the server's own user (a node passes its
     host owner, so the node's own mounts act as the user who runs the node);
   - run as root: the passwd entry of ``uname`` (``none`` is ``nobody``); a name without
     one, or one whose uid is 0, is refused ``unknown user``: a remote user never acts as
     root;
   - run as anyone else: only attaches by that user's own name (it cannot act as others).
2. ``acting(ident)`` sets the calling *thread's* fsuid, fsgid and supplementary groups for
   the block and restores root's afterwards.  Linux keeps these per thread, and the kernel
   drops CAP_DAC_OVERRIDE, CAP_FOWNER and the other file capabilities while the fsuid is
   not 0, so every open, walk, create, remove and wstat is checked as that user.  glibc's
   ``setgroups`` would change every thread, so the raw system call is used.  Reads and
   writes on an open fd need no identity (the open was checked).
3. Permission questions (``os.access``) must be asked with ``effective_ids=True``
   (faccessat AT_EACCESS), which uses the fsuid; plain access(2) asks as the real uid.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import platform
import pwd
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from lp49fs.errors import Error, Eunknownuser

SYS_SETGROUPS = {"x86_64": 116, "aarch64": 159}.get(platform.machine())
NONE = "none"  # Plan 9's unauthenticated user, Linux's nobody
NOBODY = "nobody"

_libc = ctypes.CDLL(None, use_errno=True)
_now = threading.local()  # .who: the Ident this thread acts as now, if any


@dataclass(frozen=True)
class Ident:
    """A Linux identity an attach acts as."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def ident(pw: pwd.struct_passwd) -> Ident:
    return Ident(pw.pw_name, pw.pw_uid, pw.pw_gid,
                 tuple(os.getgrouplist(pw.pw_name, pw.pw_gid)))  # fmt: skip


class Idents:
    """Rule 1: the identity of each attach."""

    def __init__(self, force: str | None = None, owner: str | None = None) -> None:
        self.root = os.geteuid() == 0
        self.me = pwd.getpwuid(os.geteuid()).pw_name
        self.owner = owner
        self.force: Ident | None = None
        if force is not None and self.root:
            self.force = ident(self._passwd(force, allow_root=True))
        elif force is not None and force != self.me:
            raise Error(Eunknownuser)  # run as another user, it cannot act as ``force``
        self.forced = force is not None
        if self.root and SYS_SETGROUPS is None:
            raise OSError(errno.ENOSYS, f"no per-thread setgroups known on {platform.machine()}")

    def of(self, uname: str) -> Ident | None:
        if self.forced:
            return self.force
        if uname == self.owner or (not self.root and uname == self.me):
            return None
        if not self.root:
            raise Error(Eunknownuser)
        return ident(self._passwd(NOBODY if uname == NONE else uname))

    @staticmethod
    def _passwd(name: str, allow_root: bool = False) -> pwd.struct_passwd:
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            raise Error(Eunknownuser) from None
        if pw.pw_uid == 0 and not allow_root:
            raise Error(Eunknownuser)  # never root by name (Plan 9 u9fs)
        return pw


def _setgroups(groups: tuple[int, ...]) -> None:
    arr = (ctypes.c_uint * max(1, len(groups)))(*groups)
    if _libc.syscall(SYS_SETGROUPS, len(groups), arr) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


@contextlib.contextmanager
def acting(who: Ident | None) -> Iterator[None]:
    """Rule 2: the calling thread acts as ``who`` (None: as itself) for the block; a block
    inside one for the same ``who`` changes nothing."""
    if who is None or getattr(_now, "who", None) == who:
        yield
        return
    saved = os.getgroups()
    _setgroups(who.groups)
    _libc.setfsgid(who.gid)
    _libc.setfsuid(who.uid)
    _now.who = who
    try:
        yield
    finally:
        _now.who = None
        _libc.setfsuid(os.geteuid())
        _libc.setfsgid(os.getegid())
        _setgroups(tuple(saved))


class _Acts(Protocol):
    who: Ident | None


S = TypeVar("S", bound=_Acts)
P = ParamSpec("P")
R = TypeVar("R")


Method = Callable[Concatenate[S, P], Coroutine[Any, Any, R]]


def as_caller(fn: Method[S, P, R]) -> Method[S, P, R]:
    """Run a method that never suspends (u9fs Rule 9) as its ``self.who``."""

    @functools.wraps(fn)
    async def run(self: S, /, *args: P.args, **kw: P.kwargs) -> R:
        with acting(self.who):
            return await fn(self, *args, **kw)

    return run

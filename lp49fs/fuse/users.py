"""Per-caller identity: each Linux uid using the view acts as its own LP49 user.

The view is ``allow_other`` when mounted by root, so requests come from any host user.  A
request must then be checked by the node exactly as a program of that user inside it would
be.  ``Callers`` keeps one LP49 process per distinct caller:

Rule 1. Names.  A caller's LP49 user is the name the ``users=`` mount option gives its uid
        (``-o users=1000=alice:1001=bob``), else its passwd name (``pwd.getpwuid``); a uid
        neither knows is ``none``.  Owner display (``attr.Owners``) maps names back through
        the same table first, then the passwd, so a file alice creates shows as uid 1000.
Rule 2. Who is the bridge itself.  The mounting user's uid and root (uid 0) act as the
        bridge process, i.e. as the node's own user (its host owner).  The host's
        administrator already owns the mount process and everything the node holds, so
        giving root less inside the view would protect nothing; any other uid never acts as
        the host owner.
Rule 3. Processes.  On a caller's first request the bridge spawns ``CALLER`` (RFPROC|RFFDG|
        RFNOWAIT), which becomes the user (``lib.become``: cap(3), or ``none`` through
        ``#c/user``) and then only lends its L4 thread to that caller's requests.  It is
        kept for the life of the view; concurrent first requests of one uid wait for the
        one spawn.
Rule 3a. Name space.  A 9P server knows a user by the uname of the Tattach that made the
        mount, so a process sharing the bridge's mounts would reach every server as the
        host owner.  As in Plan 9, where a new user attaches afresh, the caller's process
        copies the view's name space (RFNAMEG) and mounts each posted server (``/srv/X``
        or ``#s/X`` in its ``/proc/N/ns``) again, as itself, at the same place with the
        same flags (``reattach``).  Any other mount (an import's link to a remote) would
        keep the host owner's identity, so a caller's process fails closed on it (Rule 5).
        Servants (#c, #p, ...) check the process's user directly.
Rule 3b. Later binds.  The copy is made from the view's name space at one moment; binds
        and mounts made in the shown process later must reach it too.  Every mount and
        unmount moves the name space's version (the qid.vers of ``#p/N/ns``); at most every
        ``REFRESH`` seconds a caller's request compares the view's version with the one its
        copy was made from, and if it moved, a new caller process is made (a fresh copy,
        attached again) and used from then on.  The old one keeps serving the files it has
        open and ends once it has none (``inuse``, set by the view).
Rule 4. Open files belong to the process that opened them (its fd table), so ``read``,
        ``write`` and ``release`` run as the opener (``OpenFile.ut``), whoever sends them.
Rule 5. A caller process that fails to become its user (a cap refused) or to attach again
        is not used: the request answers EACCES and the failure is logged; the next
        request tries again.
"""

from __future__ import annotations

import errno
import logging
import os
import pwd
from collections.abc import Callable

import pyfuse3
import trio

from lp49fs import lib
from lp49fs.lib import MAFTER, MBEFORE, MCACHE, MCREATE, uctx
from lp49fs.ninep import ORDWR, OREAD

log = logging.getLogger(__name__)

CALLER = "fusecaller"  # the program name of a caller's process, as ps shows it
REFRESH = 0.5  # seconds between looks at the view's name space version, per caller (Rule 3b)
NOBODY = "none"  # the LP49 user of a uid the host passwd does not know (Rule 1)


def username(uid: int, table: dict[int, str] | None = None) -> str:
    """Rule 1: the LP49 user of host ``uid`` (``table``: the users= option)."""
    if table and uid in table:
        return table[uid]
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return NOBODY


def remounts(ns: list[str]) -> list[tuple[str, str, int, str]]:
    """Rule 3a: the (src, old, flag, spec) of each mount in ``ns`` (lines of /proc/N/ns).
    A mount of anything but a posted server (an import's link) cannot be attached again as
    the caller and would keep the host owner's identity: ValueError (never a request's
    error: ``serve`` logs it and the caller fails closed)."""
    out = []
    for line in ns:
        w = line.split()
        if not w or w[0] != "mount":
            continue
        flags = w[1][1:] if w[1].startswith("-") else ""
        args = w[2:] if w[1].startswith("-") else w[1:]
        src, old, spec = args[0], args[1], args[2] if len(args) > 2 else ""
        if not src.startswith(("/srv/", "#s/")):
            raise ValueError(f"cannot attach {src} on {old} as another user")
        flag = (MAFTER if "a" in flags else MBEFORE if "b" in flags else 0) | (
            MCREATE if "c" in flags else 0) | (MCACHE if "C" in flags else 0)
        out.append((src, old, flag, spec))
    return out


async def reattach() -> None:
    """Rule 3a: copy the name space and mount each posted server again as this process's
    user, so the server's own permission checks and owners are this user's."""
    await lib.rfork(lib.RFNAMEG)
    fd = await lib.open(f"#p/{await lib.getpid()}/ns", OREAD)
    try:
        lines = []
        while line := (await lib.read(fd, 1024)).decode():  # one line per read
            lines.append(line)
    finally:
        await lib.close(fd)
    for src, old, flag, spec in remounts(lines):
        if flag & (MAFTER | MBEFORE):
            await lib.unmount(src, old)  # MREPL replaces the old mount by itself
        srv = await lib.open(src, ORDWR)
        try:
            await lib.mount(srv, -1, old, flag, spec)
        finally:
            await lib.close(srv)


class Callers:
    """The caller processes of one view (module docstring)."""

    def __init__(self, mounter: int | None = None,
                 table: tuple[tuple[int, str], ...] = ()) -> None:  # fmt: skip
        self.mounter = os.getuid() if mounter is None else mounter
        self.table = dict(table)  # the users= option (Rule 1)
        self.inuse: Callable[[uctx.UThread], bool] = lambda ut: False  # has open files
        self._viewpid = 0  # the bridge's pid: its #p/N/ns is the view's name space
        self._vers: dict[str, int] = {}  # the version each caller's copy was made from
        self._looked: dict[str, float] = {}  # when each caller's version was compared
        self._retired: dict[int, trio.Event] = {}  # by id(UThread): replaced (Rule 3b)
        self._threads: dict[str, uctx.UThread] = {}
        self._arrived: dict[str, trio.Event] = {}  # set once the user's process is up or failed

    def own(self, uid: int) -> bool:
        """Rule 2: does ``uid`` act as the bridge itself?"""
        return uid in (0, self.mounter)

    async def thread(self, bridge: uctx.UThread, uid: int) -> uctx.UThread:
        """The L4 thread requests of ``uid`` run on (spawning its process on first use)."""
        if self.own(uid):
            return bridge
        user = username(uid, self.table)
        ut = self._threads.get(user)
        if ut is not None:
            if not await self._moved(user):
                return ut
            self._retire(user, ut)  # Rule 3b: a fresh copy from here on
        arrived = self._arrived.get(user)
        if arrived is None:
            arrived = self._arrived[user] = trio.Event()
            self._vers[user] = await self.version()
            self._looked[user] = trio.current_time()
            try:
                await lib.spawn(CALLER, [CALLER, user], lib.RFPROC | lib.RFFDG | lib.RFNOWAIT)
            except BaseException:
                del self._arrived[user]
                arrived.set()
                raise
        await arrived.wait()
        ut = self._threads.get(user)
        if ut is None:  # Rule 5: the next request tries again
            self._arrived.pop(user, None)
            raise pyfuse3.FUSEError(errno.EACCES)
        return ut

    async def version(self) -> int:
        """The view's name space version (Rule 3b), as the bridge."""
        if not self._viewpid:
            self._viewpid = await lib.getpid()
        return (await lib.stat(f"#p/{self._viewpid}/ns")).qid.vers

    async def _moved(self, user: str) -> bool:
        """Rule 3b: has the view's name space changed since ``user``'s copy (looked at
        most every REFRESH seconds)?"""
        now = trio.current_time()
        if now - self._looked.get(user, now) < REFRESH:
            return False
        self._looked[user] = now
        return await self.version() != self._vers.get(user)

    def _retire(self, user: str, ut: uctx.UThread) -> None:
        del self._threads[user]
        self._arrived.pop(user, None)
        retired = self._retired.get(id(ut))
        if retired is not None:
            retired.set()

    async def serve(self, argv: list[str]) -> None:
        """``CALLER``'s ``main``: become ``argv[1]``, then lend this thread for ever."""
        user = argv[1]
        try:
            await lib.become(user)
            await reattach()
        except Exception as e:  # Rule 5: any refusal; the request says EACCES
            log.warning("fuse: cannot act as %s: %s", user, e)
            self._arrived[user].set()
            return
        ut = uctx.current()
        retired = self._retired[id(ut)] = trio.Event()
        self._threads[user] = ut
        self._arrived[user].set()
        await retired.wait()  # Rule 3b: replaced; end once no open file is ours
        while self.inuse(ut):
            await trio.sleep(REFRESH)
        del self._retired[id(ut)]

"""import's re-dial after a broken link (the idea of Plan 9's aan(8), on #M recovery).

An import does not mount its connection directly: it posts it in ``/srv`` under a name
starting with ``PREFIX`` (``import.PID``), opens that entry and mounts it, so the mount gets
``#M``'s recovering session (``servants/mntrecover.py``), which keeps the path of every fid.
A *re-dialler* process (``import -R name ...``, started by import with RFNOWAIT, sharing its
name space, with ``/dev/null`` for fds 0-2: its reports go to the node's log) then watches the
entry:

1. When the link breaks (the exporter died: end of file; or froze: no answer to the ping
   within ``[node] peer_timeout``), the recovering session removes the stale ``/srv`` entry
   of a ``PREFIX`` name (mntrecover Rule 7).  The re-dialler sees the entry gone (it looks
   every ``POLL`` seconds).
2. It dials the same address again with backoff (the restart budget's first wait, doubling
   up to its longest: ``node.budget.Budget``), redoes TLS (``#a``) and the exportfs
   handshake for the same tree, each try bounded by ``HANDSHAKE`` seconds, and posts the new
   connection under the same name.  The recovering session takes it, attaches again, walks
   every held fid anew and resumes: no re-import by hand.
3. It gives up when the exporter has not come back within ``mntrecover.WAIT`` seconds (the
   recovering session has given up by then too); the mount then fails as a plain one does.
4. It ends when the mount is gone: at each look it also reads its own ``/proc/PID/ns`` (the
   name space it shares with import), and once the mount point (``-m``) that it has seen
   mounted there is mounted no more (``unmount``) it removes the entry, which hangs up the
   link unless a file still open on the import holds it (that file then goes on without
   recovery), and exits.  (The ns names the mount by its point: its source is the link,
   which a re-dial replaces.)
"""

from __future__ import annotations

import logging

import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.lib import RFCFDG, RFNOWAIT, RFPROC
from lp49fs.ninep import ORDWR, OREAD, OWRITE
from lp49fs.node.budget import Budget
from lp49fs.servants.mntrecover import PREFIX, WAIT

from . import hs as exportfs_hs
from . import net

log = logging.getLogger(__name__)

POLL = 0.05  # seconds between looks at the /srv entry (Rule 1)
HANDSHAKE = 10.0  # seconds one dial + TLS + handshake may take (a frozen exporter, Rule 2)


async def connect(addr: str, tree: str, period: float, auth: tuple[str, str] | None) -> int:
    """A connection to the exporter at ``addr`` that passed the handshake for ``tree``."""
    fd = await net.dialfd(addr, period)
    if auth is not None:
        fd = await net.tlsfd(fd, addr, *auth)
    try:
        await exportfs_hs.request(lib.FdLink(fd), tree)
    except BaseException:
        await lib.close(fd)
        raise
    return fd


async def post(fd: int, name: str) -> None:
    """Post ``fd`` as ``/srv/name`` (create, then write the fd number: srv(3))."""
    sfd = await lib.create(f"/srv/{name}", OWRITE, 0o600)
    try:
        await lib.write(sfd, str(fd).encode())
    finally:
        await lib.close(sfd)


async def mount(fd: int, mtpt: str, flag: int) -> str:
    """Post ``fd`` as ``/srv/import.PID`` and mount that entry on ``mtpt`` (Rule 1's
    recovering session); returns the entry's name."""
    name = f"{PREFIX}{await lib.getpid()}"
    await post(fd, name)
    try:
        sfd = await lib.open(f"/srv/{name}", ORDWR)
        try:
            await lib.mount(sfd, -1, mtpt, flag, "")
        finally:
            await lib.close(sfd)
    except BaseException:
        await lib.remove(f"/srv/{name}")
        raise
    return name


async def start(name: str, addr: str, tree: str, period: float,
                auth: tuple[str, str] | None, mtpt: str = "") -> int:  # fmt: skip
    """The re-dialler process for ``/srv/name`` mounted on ``mtpt``; returns its pid."""
    argv = ["import", "-R", name, "-k", str(period), *(["-m", mtpt] if mtpt else [])]
    if auth is not None:
        argv += ["-A", auth[0], "-u", auth[1]]
    argv += [addr, tree]
    return await lib.spawn("import", argv, RFPROC | RFNOWAIT | RFCFDG)


async def _posted(name: str) -> bool:
    try:
        await lib.stat(f"/srv/{name}")
        return True
    except Error:
        return False


async def _mounted(mtpt: str) -> bool:
    """Rule 4: whether this name space has a mount on ``mtpt``."""
    fd = await lib.open(f"/proc/{await lib.getpid()}/ns", OREAD)
    try:
        ns = (await lib.readall(fd)).decode()
    finally:
        await lib.close(fd)
    for line in ns.splitlines():
        words = [w for w in line.split() if not w.startswith("-")]
        if len(words) >= 3 and words[0] == "mount" and words[2] in (mtpt, f"'{mtpt}'"):
            return True
    return False


async def _again(addr: str, tree: str, period: float, auth: tuple[str, str] | None) -> int | None:
    """Rule 2: dial until the exporter answers, with backoff; None after ``WAIT`` seconds."""
    b = Budget(addr)
    delay = b.backoff
    deadline = trio.current_time() + WAIT
    while trio.current_time() < deadline:
        with trio.move_on_after(HANDSHAKE):
            try:
                return await connect(addr, tree, period, auth)
            except Error as e:
                log.info("import: re-dial %s %s: %s", addr, tree, e.ename)
        await lib.sleep(round(delay * 1000))
        delay = min(delay * 2, b.maxbackoff)
    return None


async def redialer(name: str, addr: str, tree: str, period: float,
                   auth: tuple[str, str] | None, mtpt: str = "") -> None:  # fmt: skip
    """Rules 1-4: keep ``/srv/name`` posted with a live connection to the exporter while
    ``mtpt`` is mounted (no ``mtpt``: for good)."""
    assert name.startswith(PREFIX), name
    for _ in range(3):  # fds 0-2: it runs in the background, its reports go to the log
        await lib.open("/dev/null", ORDWR)
    seen = False  # Rule 4: the mount was seen, so its absence means an unmount
    while True:
        while await _posted(name):
            if mtpt and await _mounted(mtpt):
                seen = True
            elif seen:
                log.info("import: %s %s unmounted: the re-dialler ends", addr, tree)
                try:
                    await lib.remove(f"/srv/{name}")
                except Error:
                    pass  # gone meanwhile
                return
            await lib.sleep(round(POLL * 1000))
        if seen and not await _mounted(mtpt):
            return
        log.info("import: link to %s %s broke: re-dialling", addr, tree)
        fd = await _again(addr, tree, period, auth)
        if fd is None:
            log.warning("import: %s %s did not come back within %.0f s", addr, tree, WAIT)
            return
        try:
            await post(fd, name)
        finally:
            await lib.close(fd)
        log.info("import: %s %s re-dialled", addr, tree)

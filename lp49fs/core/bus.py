"""The service bus, core side: open, create and unmount grant and revoke direct channels.

Theory of operation (docs/servicebus.md; the paper's §9.1): names are resolved and
permissions checked in the core as always, but once a file of a local 9P server is open, its
reads and writes need not cross the core.  So:

1. A server process that serves 9P on one end of a ``#|`` pipe registers an L4 thread of its
   own as that connection's *bus endpoint* (``Sys.BUSSERVE(fd)``, made by that thread; the
   caller's thread id is the endpoint, so nobody can register a thread of another process).
2. ``open``/``create`` of a plain file through ``#M`` whose link is the other end of such a
   pipe makes the clerk send the endpoint ``Bus.GRANT(fid, badge)``: ``fid`` is the 9P fid
   of the open proxy Chan, ``badge`` a fresh 64-bit random number.  The clerk sends it on
   the Mngr's behalf (X.2 propagation inside the core's space), so the server knows it
   comes from the core: a process cannot send as the Mngr.  The open's reply carries
   ``(fd, endpoint, fid, badge)`` and the library reads and writes that fd by IPC to the
   endpoint (``lp49fs.lib.bus``), without the core.
3. The channel is a capability for that one fid: the server honours a request only with the
   fid's badge, only while that very fid is open on that connection (a Tclunk from ``close``
   ends it, and the close of a granted Chan (``CBUS``) returns only once the Rclunk is
   in; a new fid with the same number is not the old one), and only until the core
   revokes it; ``unmount`` sends ``Bus.REVOKE`` to the endpoint of every link the unmount
   removed from the name space.  A server restart ends it too: its endpoint thread dies, so
   the IPC fails (NO_PARTNER).
4. Nothing here waits for a server for long: a grant that cannot be delivered within
   ``GRANTWAIT`` seconds is not given (the fd then uses the classic path), and is sent
   shielded, so an interrupted open never loses its fd.

``[node] bus = false`` (``Bus.on``) keeps every read and write on the classic path;
``LP49_BUS=0`` in the environment makes that the default (the test suite runs both ways).
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING

import trio

from kernel.types import IpcError, Msg, ThreadId
from lp49fs import trace as _t
from lp49fs.core import sysfile
from lp49fs.core.chan import CBUS, Chan
from lp49fs.core.prochandlers import OKMSG, _ok, _strs
from lp49fs.errors import Enobus, Error
from lp49fs.syscall import Bus as B

if TYPE_CHECKING:
    from lp49fs.core.clerk import Clerk
    from lp49fs.core.procmgr import PInfo

BUS = os.environ.get("LP49_BUS", "1") != "0"  # the default of [node] bus
GRANTWAIT = 0.5  # seconds a grant may wait for the server's endpoint (Rule 4)


class Bus:
    """The core's table of bus endpoints."""

    def __init__(self, on: bool = BUS) -> None:
        self.on = on  # [node] bus
        self.ends: dict[tuple[int, int], ThreadId] = {}  # served link end -> its endpoint

    def register(self, c: Chan, tid: ThreadId) -> None:
        """Thread ``tid`` serves 9P on link end ``c`` (Rule 1)."""
        end = c.sv.busend(c)
        if not self.on or end is None:
            raise Error(Enobus)
        self.ends[end] = tid

    def endpoint(self, link: Chan) -> tuple[tuple[int, int], ThreadId] | None:
        """The endpoint serving the far end of ``link``, a mount's link Chan."""
        end = link.sv.busend(link)
        if end is None:
            return None
        far = (end[0], 1 - end[1])
        tid = self.ends.get(far)
        return None if tid is None else (far, tid)


async def _tell(c: Clerk, tid: ThreadId, msg: Msg) -> bool:
    """Send ``msg`` to endpoint ``tid`` as the Mngr, shielded and bounded (Rule 4)."""
    assert c.thread is not None and c.mngr.tid is not None
    with trio.CancelScope(shield=True):
        try:
            await c.thread.send(tid, msg, GRANTWAIT, propagate=c.mngr.tid)
        except IpcError:
            return False
    return True


async def grant(c: Clerk, pi: PInfo, fd: int) -> tuple[int, ...]:
    """The channel words of fd ``fd`` just opened, or () for the classic path (Rule 2)."""
    bus: Bus = c.mngr.core.bus
    if not bus.on or not bus.ends:
        return ()
    ch = pi.proc.fgrp.get(fd)
    bf = None if ch.isdir() else ch.sv.busfid(ch)
    ep = None if bf is None else bus.endpoint(bf[0])
    if bf is None or ep is None:
        return ()
    far, tid = ep
    badge = secrets.randbits(64)
    if not await _tell(c, tid, Msg(B.GRANT, (bf[1], badge))):
        if bus.ends.get(far) == tid and tid not in c.mngr.procmgr.bytid:
            del bus.ends[far]  # the server is gone
        return ()
    ch.flag |= CBUS  # its close waits for the Rclunk that ends the grant (Rule 3)
    if _t.on:
        _t.ev("clerk", "bus", f"grant fid {bf[1]} of {ch.path.s} to pid {pi.proc.pid}")
    return (int(tid), bf[1], badge)


async def sys_open(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    fd = await sysfile.open(pi.proc, _strs(m)[0], m.words[0])
    return _ok(fd, *await grant(c, pi, fd))


async def sys_create(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    fd = await sysfile.create(pi.proc, _strs(m)[0], m.words[0], m.words[1])
    return _ok(fd, *await grant(c, pi, fd))


async def sys_busserve(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    assert c.caller is not None
    c.mngr.core.bus.register(pi.proc.fgrp.get(m.words[0]), c.caller)
    return OKMSG


def _links(pi: PInfo) -> set[Chan]:
    return {
        mt.to.mchan
        for mh in pi.proc.pgrp.mnthash.values()
        for mt in mh.mounts
        if mt.to.mchan is not None
    }


async def sys_unmount(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    """unmount(2), then Rule 3: revoke the channels of every link it took away."""
    s = _strs(m)
    before = _links(pi)
    await sysfile.unmount(pi.proc, s[0] if m.words[0] else None, s[-1])
    bus: Bus = c.mngr.core.bus
    for link in before - _links(pi):
        ep = bus.endpoint(link)
        if ep is not None:
            await _tell(c, ep[1], Msg(B.REVOKE))
    return OKMSG

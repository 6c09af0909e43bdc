"""The service bus, server side: the endpoint thread of one served 9P connection.

Theory of operation (docs/servicebus.md, ``lp49fs.core.bus``): ``lp49fs.lib9p.srv.serve`` on an
``FdLink`` starts ``endpoint`` beside its reader.  It takes one L4 thread of the server
process (an idle worker, driven by this task as ``workers.drive`` does) and registers it with
the core as the connection's endpoint (``Sys.BUSSERVE``); the core refuses when the bus is
off or the fd is not one end of a pipe, and then nothing more happens here.  Otherwise the
thread serves, one message at a time:

* ``Bus.GRANT(fid, badge)`` -- only from the Mngr (the core sends it on the Mngr's behalf; no
  process can): records that ``badge`` opens that fid, if the fid is open on this
  connection, names no directory and its File never blocks (``mayblock`` False: the
  endpoint serves requests inline, one at a time, as the reader serves such Files).
* ``Bus.REVOKE`` -- only from the Mngr: forgets every grant.
* ``Bus.READ``/``Bus.WRITE(seq, fid, badge, offset, addr, n)`` from anyone: honoured only
  with the badge of a grant whose Fid is still the open fid of that number on this
  connection (a Tclunk ends it), and only for the fid's open mode; the bytes move through
  the caller's buffer pages, mapped into this thread's window (``BUSBASE``) by the call, as
  a clerk's window receives a system call's buffer.

Rules:
1. A refused request is answered ``no such bus channel`` (lp49fs.lib.bus Rule 3), a backend
   failure with its error; nothing a caller sends ends the endpoint.
2. Windows: the k-th endpoint of a process receives at ``BUSBASE + k * WINDOW``, below the
   threads' buffer regions (``BUFBASE``), so a caller's pages never land where the thread's
   own calls put data; they are flushed from the window when the endpoint ends.
3. The endpoint ends with the connection (``serve``'s nursery is cancelled) or the process.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

from kernel.space import PageFault
from kernel.types import NILPAGE, NILTHREAD, Acceptor, Fpage, IpcError, MapItem, Msg, StringItem
from lp49fs import trace as _t
from lp49fs.errors import Ebadarg, Ebadusefd, Eio, Enobus, Error
from lp49fs.lib.uctx import UThread, WEvent, current
from lp49fs.lib.workers import UProc, drive
from lp49fs.ninep import OEXEC, OPEN, ORDWR, OREAD, OWRITE, QTDIR, Fid
from lp49fs.syscall import ERR, MAXSTR, OK, WINDOW, WINDOW_LOG2, Sys
from lp49fs.syscall import Bus as B

if TYPE_CHECKING:
    from lp49fs.lib9p.srv import Srv

log = logging.getLogger(__name__)

BUSBASE = 0x2000_0000  # endpoint windows: [512 MiB, 1 GiB), below BUFBASE (Rule 2)
MAXENDPOINTS = 512  # windows in that range
_windows: weakref.WeakKeyDictionary[UProc, set[int]] = weakref.WeakKeyDictionary()


def _window(up: UProc) -> int | None:
    used = _windows.setdefault(up, set())
    for k in range(MAXENDPOINTS):
        if k not in used:
            used.add(k)
            return k
    return None


async def endpoint(fd: int, srv: Srv) -> None:
    """Serve the bus for connection ``srv`` on link fd ``fd`` (returns at once if refused)."""
    up = current().uproc
    w = up.idle.pop() if up.idle else await up.worker()
    k = _window(up)
    if k is None:
        up.release(w)
        return
    try:
        try:
            await drive(w, lambda ut: ut.call(Msg(Sys.BUSSERVE, (fd,))))
        except Error:
            return  # the bus is off, or fd is no pipe end
        window = Fpage(BUSBASE + k * WINDOW, WINDOW_LOG2)
        w.step(WEvent.CALL)  # not IDLE while it serves: no call is lent to it
        w.thread.acceptor = Acceptor(window, MAXSTR)
        w.thread.name = "bus"  # its lane in lp49fs.trace
        try:
            await Endpoint(w, srv, window).run()
        finally:
            w.thread.name = ""
            w.thread.acceptor = Acceptor(NILPAGE, MAXSTR)
            if w.thread.alive:
                w.thread.unmap([window], flush=True)  # Rule 2
            w.step(WEvent.END)
    finally:
        _windows[up].discard(k)
        up.release(w)


def _err(seq: int, ename: str) -> Msg:
    return Msg(ERR, (seq,), (StringItem(ename.encode()),))


class Endpoint:
    """The grants and the message loop of one endpoint thread."""

    def __init__(self, w: UThread, srv: Srv, window: Fpage) -> None:
        self.w = w
        self.srv = srv
        self.window = window
        self.grants: dict[int, tuple[Fid, int]] = {}  # fid number -> (its Fid, badge)

    async def run(self) -> None:
        th = self.w.thread
        reply: Msg | None = None
        sender = NILTHREAD
        while th.alive:
            try:
                if reply is None:
                    sender, msg = await th.wait()
                else:
                    sender, msg = await th.reply_wait(sender, reply)
            except IpcError:  # the caller went away, or sent a malformed message (Rule 1)
                reply = None
                continue
            reply = await self.handle(sender, msg)

    async def handle(self, sender: int, msg: Msg) -> Msg | None:
        core = sender == self.w.uproc.mngr
        if msg.label == B.GRANT and core and len(msg.words) == 2:
            self.grant(*msg.words)
        elif msg.label == B.REVOKE and core:
            self.grants.clear()
        elif msg.label in (B.READ, B.WRITE) and len(msg.words) == 6:
            return await self.rw(msg)
        return None

    def grant(self, fid: int, badge: int) -> None:
        f = self.srv.conn.fids.get(fid)
        file = getattr(f.aux, "file", None) if f is not None else None
        if (f is None or f.state is not OPEN or f.qid is None or f.qid.type & QTDIR
                or file is None or file.mayblock):  # fmt: skip
            self.grants.pop(fid, None)
            return
        self.grants[fid] = (f, badge)

    async def rw(self, msg: Msg) -> Msg:
        seq, fid, badge, offset, addr, n = msg.words
        g = self.grants.get(fid)
        f = self.srv.conn.fids.get(fid)
        if g is None or g[1] != badge or f is not g[0] or f.state is not OPEN:
            return _err(seq, Enobus)
        item = next((it for it in msg.items if isinstance(it, MapItem)), None)
        local = None if item is None else item.local(addr, n, self.window)
        if local is None or offset < 0:
            return _err(seq, Ebadarg)
        mode = f.omode & 3
        space = self.w.thread.space
        assert space is not None
        file = f.aux.file
        if _t.on:
            _t.ev("bus", "server", f"{type(self.srv.fs).__name__} serves {B(msg.label).name}")
        try:
            if msg.label == B.READ:
                if mode not in (OREAD, ORDWR, OEXEC):
                    raise Error(Ebadusefd)
                data = await file.read(offset, n)
                space.write(local, data)
                if _t.on:
                    _t.ev("server", "bus", f"{len(data)} bytes {data[:16]!r}")
                return Msg(OK, (seq, len(data)))
            if mode not in (OWRITE, ORDWR):
                raise Error(Ebadusefd)
            return Msg(OK, (seq, await file.write(offset, space.read(local, n))))
        except Error as e:
            if _t.on:
                _t.ev("server", "bus", f"error {e.ename!r}")
            return _err(seq, e.ename)
        except PageFault:
            return _err(seq, Ebadarg)
        except Exception:
            log.exception("bus: %s of fid %d", B(msg.label).name, fid)
            return _err(seq, Eio)

"""A clerk: one L4 thread of the core that runs one system call at a time.

Theory of operation: an idle clerk waits until it leads, then drives the Mngr's receive
(``lp49fs.core.mngr``); with a call in hand it finds the caller's process (``ProcMgr.bytid``),
decodes the call (layouts in ``lp49fs.syscall``), runs the ``sysfile`` function or process-
manager operation with the caller's Proc, and replies to the caller on the Mngr's behalf.
Buffers: the caller's pages were mapped into this clerk's window when the Mngr received the
call; the clerk reads or writes them with plain loads and stores of its own space
(``copyin``/``copyout``). It leaves them mapped (Rule 5): the next call from the same thread
and buffer maps the same pages onto the same place, which the mapping database treats as no
change (kernel.mapdb Rule 5), so a loop of calls pays for no map or unmap after the first.

Rules:
1. Each call runs inside the clerk's cancel scope, registered with the process manager for
   the call only, so a note to the caller (or its exit) interrupts it: the reply is
   ``interrupted``.  The scope lives across calls (cheaper than one per call) and is replaced
   once cancelled, so a cancel never reaches a later call.
2. An ``Error`` becomes an ERR reply with its string; any other exception is logged and
   answered with ``the front fell off`` -- a call never kills the clerk or the node.
3. A reply that cannot be delivered (the caller was deleted meanwhile, e.g. by ``exits``)
   is dropped.
4. ``Sys.INTERRUPT(tid)`` (made by another thread of the same process, when the task that
   borrowed thread ``tid`` was cancelled) cancels the scope of ``tid``'s call if a clerk has
   it (mngr Rule 3), even before the scope exists: the call then replies ``interrupted``.
5. A previous caller's pages may still be mapped in the window.  A call's buffer is only
   ever reached through its own MapItem: ``_local`` refuses (``bad arg``) a buffer that is
   not inside the fpage of that item and inside the window, so no call can touch pages some
   other caller left there.  A later map onto the same window pages replaces them (kernel.mapdb
   Rule 3), and the mapping database revokes them when their owner unmaps them or its space
   dies.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import trio

from kernel.space import PageFault
from kernel.thread import Thread
from kernel.types import IpcError, MapItem, Msg, StringItem, ThreadId
from lp49fs import trace as _t
from lp49fs.core import bus, sysat, sysfile
from lp49fs.core.chan import Path, cclose
from lp49fs.core.proc import psstate, stopgate
from lp49fs.core.prochandlers import (
    OKMSG,
    _err,
    _exits,
    _getpid,
    _interrupt,
    _newthread,
    _notify,
    _ok,
    _postnote,
    _rfork,
    _seg,
    _sleep,
    _spawn,
    _strs,
    _wait,
)
from lp49fs.errors import Ebadarg, Egreg, Eintr, Eperm, Error
from lp49fs.ninep import ORDWR, Dir, decode_dirs, encode_dir
from lp49fs.syscall import OK, Sys

if TYPE_CHECKING:
    from lp49fs.core.mngr import Mngr
    from lp49fs.core.procmgr import PInfo

log = logging.getLogger(__name__)

Handler = Callable[["Clerk", "PInfo", Msg], Awaitable[Msg]]


class Clerk:
    """One clerk thread of the pool."""

    def __init__(self, mngr: Mngr, index: int) -> None:
        self.mngr = mngr
        self.index = index  # position in the pool; chooses the window
        self.window = mngr.window(index)  # where callers' buffers land (mngr Rule 1)
        self.tid: ThreadId | None = None
        self.thread: Thread | None = None
        self.ready = trio.Event()  # set once the thread runs
        self.caller: ThreadId | None = None  # the call handed over by the Mngr
        self.msg: Msg | None = None
        self.scope: trio.CancelScope | None = None  # the running call's scope (Rule 1)
        self.intr = False  # Rule 4: the current call was interrupted
        self.lead = trio.Event()  # set when it is to drive the Mngr's receive

    def interrupt(self) -> None:
        """Cancel the call in progress, or the one about to start (Rule 4)."""
        self.intr = True
        if self.scope is not None:
            self.scope.cancel()

    def wake(self) -> None:
        """The Mngr made this clerk the leader (mngr Rule 4)."""
        self.lead.set()

    async def run(self, thread: Thread) -> None:
        self.thread = thread
        thread.name = "clerk"
        mngr = self.mngr
        mngr.release(self)
        self.ready.set()
        while True:  # Rule 1: one scope for many calls, a new one after each cancel
            cs = trio.CancelScope()
            with cs:
                while not cs.cancel_called:
                    while mngr.leader is not self:
                        await self.lead.wait()
                        self.lead = trio.Event()
                    try:
                        got = await mngr.receive(self)
                    except IpcError:  # the Mngr is gone: the node is stopping
                        return
                    if got is None:
                        continue
                    caller, msg = got
                    if _t.on:
                        _t.ev("Mngr", "clerk", f"clerk {self.index} took the call")
                    reply = await self.serve(cs, caller, msg)
                    await self.finish(caller, msg, reply)
            cut, cutmsg = self.caller, self.msg
            if cut is not None and cutmsg is not None:  # the cancel cut a call short
                await self.finish(cut, cutmsg, _err(Eintr))

    async def finish(self, caller: ThreadId, msg: Msg, reply: Msg | None) -> None:
        """Reply to ``caller`` for the Mngr (Rule 3) and go back to the pool."""
        self.caller = self.msg = None
        mngr = self.mngr
        mngr.serving.pop(caller, None)
        if reply is not None:
            assert self.thread is not None and mngr.tid is not None
            try:
                await self.thread.reply(caller, reply, propagate=mngr.tid)
            except IpcError:
                pass  # Rule 3
            if _t.on:
                _t.syscall_out(caller)
        mngr.release(self)

    async def serve(self, cs: trio.CancelScope, caller: ThreadId, msg: Msg) -> Msg | None:
        """Run one call under the clerk's scope ``cs`` (a Cancelled leaves through it)."""
        pi = self.mngr.procmgr.bytid.get(caller)
        if pi is None:
            return _err(Eperm)
        h = HANDLERS.get(msg.label)
        if h is None:
            return _err(Ebadarg)
        self.scope = cs
        if self.intr:
            cs.cancel()
        pi.calls.add(cs)
        try:
            await stopgate(pi.proc)  # /proc/N/ctl stop halts it here
            pi.proc.state = psstate(Sys(msg.label).name)  # what ps shows while it waits
            return await h(self, pi, msg)
        except Error as e:
            return _err(e.ename)
        except Exception:
            log.exception("system call %s of pid %d", msg.label, pi.proc.pid)
            return _err(Egreg)
        finally:
            pi.calls.discard(cs)
            if not pi.calls and not pi.proc.exited:
                pi.proc.state = "Running"
            self.scope = None

    # -- buffers --
    def _local(self, msg: Msg) -> tuple[int, int]:
        """(address in our window, length) of the call's buffer, checked (Rule 5)."""
        addr, n = msg.words[-2], msg.words[-1]
        for it in msg.items:
            if isinstance(it, MapItem):
                local = it.local(addr, n, self.window)
                if local is None:
                    break
                return local, n
        raise Error(Ebadarg)

    def copyin(self, msg: Msg) -> bytes:
        addr, n = self._local(msg)
        assert self.thread is not None and self.thread.space is not None
        try:
            return self.thread.space.read(addr, n)
        except PageFault:
            raise Error(Ebadarg) from None

    def copyout(self, msg: Msg, data: bytes) -> int:
        addr, n = self._local(msg)
        if len(data) > n:
            raise Error(Ebadarg)
        assert self.thread is not None and self.thread.space is not None
        try:
            self.thread.space.write(addr, data)
        except PageFault:
            raise Error(Ebadarg) from None
        return len(data)


# -- the handlers, one per system call (layouts: lp49fs.syscall.Sys) --
async def _read(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    c._local(m)  # a bad buffer fails before the read consumes anything
    return _ok(c.copyout(m, await sysfile.read(pi.proc, m.words[0], m.words[-1])))


async def _pread(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    c._local(m)
    return _ok(c.copyout(m, await sysfile.pread(pi.proc, m.words[0], m.words[-1], m.words[1])))


async def _write(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return _ok(await sysfile.write(pi.proc, m.words[0], c.copyin(m)))


async def _pwrite(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return _ok(await sysfile.pwrite(pi.proc, m.words[0], c.copyin(m), m.words[1]))


async def _close(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    await sysfile.close(pi.proc, m.words[0])
    return OKMSG


async def _seek(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return _ok(await sysfile.seek(pi.proc, m.words[0], m.words[1], m.words[2]))


async def _stat(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return _ok(c.copyout(m, encode_dir(await sysfile.stat(pi.proc, _strs(m)[0]))))


async def _fstat(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return _ok(c.copyout(m, encode_dir(await sysfile.fstat(pi.proc, m.words[0]))))


def _onedir(b: bytes) -> Dir:
    try:
        (d,) = decode_dirs(b)
    except Exception:
        raise Error(Ebadarg) from None
    return d


async def _wstat(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    await sysfile.wstat(pi.proc, _strs(m)[0], _onedir(c.copyin(m)))
    return OKMSG


async def _fwstat(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    await sysfile.fwstat(pi.proc, m.words[0], _onedir(c.copyin(m)))
    return OKMSG


async def _remove(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    await sysfile.remove(pi.proc, _strs(m)[0])
    return OKMSG


async def _chdir(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    await sysfile.chdir(pi.proc, _strs(m)[0])
    return OKMSG


async def _getwd(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return Msg(OK, (), (StringItem(pi.proc.dot.path.s.encode()),))


async def _bind(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    new, old = _strs(m)
    return _ok(await sysfile.bind(pi.proc, new, old, m.words[0]))


async def _mount(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    old, aname = _strs(m)
    fd, afd, flag = m.words[:3]
    return _ok(await sysfile.mount(pi.proc, fd, afd, old, flag, aname))


async def _pipe(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    """pipe(2): attach ``#|`` once, open its data and data1 ORDWR."""
    p = pi.proc
    with p.running():
        d = await p.core.attach("|")
        ends = []
        try:
            for name in ("data", "data1"):
                wq = await d.sv.walk(d, [name])
                assert wq.clone is not None
                wq.clone.path = Path(f"#|/{name}")
                ends.append(await wq.clone.sv.open(wq.clone, ORDWR))
        except BaseException:
            for e in ends:
                await cclose(e)
            raise
        finally:
            await cclose(d)
        fd0 = p.fgrp.newfd(ends[0])
        return _ok(fd0, p.fgrp.newfd(ends[1]))


async def _dup(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return _ok(await sysfile.dup(pi.proc, m.words[0], m.words[1]))


async def _fd2path(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return Msg(OK, (), (StringItem((await sysfile.fd2path(pi.proc, m.words[0])).encode()),))


HANDLERS: dict[int, Handler] = {
    Sys.OPEN: bus.sys_open, Sys.CREATE: bus.sys_create, Sys.READ: _read, Sys.PREAD: _pread,
    Sys.WRITE: _write, Sys.PWRITE: _pwrite, Sys.CLOSE: _close, Sys.SEEK: _seek,
    Sys.STAT: _stat, Sys.FSTAT: _fstat, Sys.WSTAT: _wstat, Sys.FWSTAT: _fwstat,
    Sys.REMOVE: _remove, Sys.CHDIR: _chdir, Sys.GETWD: _getwd, Sys.BIND: _bind,
    Sys.MOUNT: _mount, Sys.UNMOUNT: bus.sys_unmount, Sys.PIPE: _pipe, Sys.DUP: _dup,
    Sys.FD2PATH: _fd2path, Sys.RFORK: _rfork, Sys.SPAWN: _spawn, Sys.EXITS: _exits,
    Sys.WAIT: _wait, Sys.SLEEP: _sleep, Sys.POSTNOTE: _postnote, Sys.GETPID: _getpid,
    Sys.NEWTHREAD: _newthread, Sys.INTERRUPT: _interrupt, Sys.NOTIFY: _notify,
    Sys.SEGATTACH: _seg,
    Sys.BUSSERVE: bus.sys_busserve, Sys.WALK: sysat.sys_walk, Sys.OPENAT: sysat.sys_openat,
    Sys.CREATEAT: sysat.sys_createat, Sys.REMOVEAT: sysat.sys_removeat,
}  # fmt: skip

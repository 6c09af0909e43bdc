"""The system calls that manage processes and threads, and the reply helpers of every handler.

Each handler takes (clerk, caller's PInfo, request) and returns the reply (layouts in
``lp49fs.syscall``); ``lp49fs.core.clerk`` keeps the table (``HANDLERS``) and the file-system
calls.  Process creation, exit and wait themselves live in ``lp49fs.core.procmgr``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from kernel.types import Msg, StringItem, ThreadId
from lp49fs.core.proc import RFPROC, postnote, rfork
from lp49fs.errors import Ebadarg, Enoproc, Eperm, Error
from lp49fs.syscall import ERR, OK, Sys

if TYPE_CHECKING:
    from lp49fs.core.clerk import Clerk
    from lp49fs.core.procmgr import PInfo

OKMSG = Msg(OK)


def _err(ename: str) -> Msg:
    return Msg(ERR, (), (StringItem(ename.encode()),))


def _ok(*words: int) -> Msg:
    return Msg(OK, words) if words else OKMSG


def _strs(msg: Msg) -> list[str]:
    return [it.data.decode() for it in msg.items if isinstance(it, StringItem)]


async def _rfork(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    if m.words[0] & RFPROC:
        raise Error(Ebadarg)  # a new process is made with spawn
    with pi.proc.running():
        await rfork(pi.proc, m.words[0])
    return _ok(0)


async def _spawn(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    prog, argv = _strs(m)
    w = m.words
    fds = {w[i]: w[i + 1] for i in range(1, len(w) - 1, 2)} if len(w) > 1 else None
    pm = c.mngr.procmgr
    return _ok(await pm.spawn(pi.proc, prog, argv.split("\0") if argv else [], w[0], fds))


async def _exits(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    s = _strs(m)
    await c.mngr.procmgr.exits(pi, s[0] if s else "")
    return OKMSG  # undeliverable: the caller is gone (Rule 3)


async def _wait(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    w = await c.mngr.procmgr.wait(pi)
    return Msg(OK, (w.pid, w.utime, w.stime, w.rtime), (StringItem(w.msg.encode()),))


async def _sleep(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    await trio.sleep(m.words[0] / 1000)
    return OKMSG


async def _postnote(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    target = c.mngr.core.procs.get(m.words[0])
    if target is None:
        raise Error(Enoproc)
    postnote(target, _strs(m)[0])
    return OKMSG


async def _notify(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    pi.proc.notify = bool(m.words[0]) if m.words else False
    return OKMSG


async def _getpid(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return _ok(pi.proc.pid)


async def _newthread(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return _ok(int(c.mngr.procmgr.add_thread(pi)))


async def _interrupt(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    """Rule 4: only a thread of the same process may interrupt a call."""
    tid = ThreadId(m.words[0]) if m.words else ThreadId(0)
    if c.mngr.procmgr.bytid.get(tid) is not pi:
        raise Error(Eperm)
    target = c.mngr.serving.get(tid)
    if target is not None and target is not c:
        target.interrupt()
    return OKMSG


async def _seg(c: Clerk, pi: PInfo, m: Msg) -> Msg:
    return _ok(*await c.mngr.procmgr.segment(pi, Sys(m.label), _strs(m), m.words))

"""``/proc/N/trace`` and the ctl ``trace`` message: tracing one process's system calls.

Theory of operation (after Plan 9's ``/proc/N/ctl`` ``trace`` and ratrace(1)): ctl ``trace``
gives the process a ``TraceLog`` (``Proc.tracelog``); from then on the Mngr starts a
``lp49fs.trace.Trace`` for each of its calls, the layers add their arrows, and the clerk's
reply ends it into the log.  Children spawned while it is traced report to the same log.
A read of ``trace`` returns the finished traces as ``lp49fs.tracefmt.text`` lines, blocking
until one is there; the text of one batch is kept on the open Chan (``aux``) until read.

Rules:
1. ``trace`` toggles; ``trace 1`` / ``trace 0`` set; anything else is a bad arg.
2. A read returns end of file when the process is not traced, or when its log is closed
   (tracing turned off, or every process reporting to it exited) and everything is read.
   An open of a traced process's ``trace`` takes its log at once, so what it logged is read
   even if it exits before the first read.
3. A process being traced counts once in ``lp49fs.trace.users`` (``TraceLog.hold``), so
   tracing is off again once no process is traced.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from lp49fs.core.chan import Chan
from lp49fs.core.proc import Proc
from lp49fs.errors import Ebadarg, Error
from lp49fs.trace import TraceLog
from lp49fs.tracefmt import text


def ctl(p: Proc, fields: list[str]) -> None:
    """ctl ``trace [0|1]`` for ``p`` (Rule 1)."""
    if len(fields) > 2 or (len(fields) == 2 and fields[1] not in ("0", "1")):
        raise Error(Ebadarg)
    want = p.tracelog is None if len(fields) == 1 else fields[1] == "1"
    if want and p.tracelog is None:
        p.tracelog = TraceLog().hold()
    elif not want and p.tracelog is not None:
        log, p.tracelog = p.tracelog, None
        log.release()


@dataclass
class _Reader:
    log: TraceLog
    buf: bytes = b""  # text taken from the log, not yet read


def bind(c: Chan, p: Proc) -> None:
    """At open: the reader of ``c`` takes ``p``'s log if it is traced (Rule 2)."""
    if p.tracelog is not None:
        c.aux = _Reader(p.tracelog)


async def read(c: Chan, p: Proc | None, count: int) -> bytes:
    """The next ``count`` bytes of trace text (Rule 2)."""
    st = c.aux
    if not isinstance(st, _Reader):
        if p is None or p.tracelog is None:
            return b""
        st = c.aux = _Reader(p.tracelog)
    while not st.buf:
        done = st.log.take()
        if done:
            st.buf = text(done).encode()
        elif st.log.closed:
            return b""
        else:
            ev = trio.Event()
            st.log.waiters.append(ev)
            await ev.wait()
    out, st.buf = st.buf[:count], st.buf[count:]
    return out

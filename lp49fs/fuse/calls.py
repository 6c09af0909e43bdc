"""How one FUSE request runs as the bridge process, and what the log says about it.

``syscall`` wraps every handler of ``Operations`` that reaches the name space:

Rule 1. The handler's trio task is bound to the bridge's L4 thread first (``uctx.bind``),
        then to the thread of the process that acts for this request (``Bridge.actor``:
        the caller's own LP49 user, users.py), so its ``lib`` calls are system calls of
        that process, checked by the node as any program of that user.
Rule 2. Failures become ``FUSEError`` in this one place: ``Error`` through the one table
        (``errno.errno_of``), an unknown inode ENOENT, an interrupted stream call EINTR.
        A ``FUSEError`` raised by the handler itself passes as is.
Rule 3. Every EIO is logged at WARNING with the request and the error string behind it,
        so a daemon whose stdio is /dev/null still says what went wrong (its log file,
        syslog or the journal; ``lp49fs.host.mount`` sets the handler up).
Rule 4. With ``-o debug`` (logger ``lp49fs.fuse.trace`` at DEBUG) each request is traced:
        its name and arguments, each system call it made with the result or error, and the
        reply or errno, one line each.  The system calls come from ``lp49fs.trace``: the
        request runs under a ``Trace`` whose ``watch`` logs them (the library has one hook).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import pyfuse3

from lp49fs import trace as _t
from lp49fs.errors import Error
from lp49fs.fuse import tracectl
from lp49fs.fuse.errno import errno_of
from lp49fs.fuse.intr import Interrupted
from lp49fs.lib import uctx

log = logging.getLogger(__name__)
trace = logging.getLogger("lp49fs.fuse.trace")  # Rule 4



class Bridge(Protocol):
    ut: uctx.UThread | None  # the bridge's main L4 thread, once serving

    async def actor(self, op: str, args: tuple[object, ...]) -> uctx.UThread:
        """The thread request ``op(*args)`` runs on (Rule 1)."""
        ...


B = TypeVar("B", bound=Bridge)
P = ParamSpec("P")
R = TypeVar("R")
Handler = Callable[Concatenate[B, P], Coroutine[Any, Any, R]]

_seq = iter(range(1, 1 << 62))  # request numbers in the trace


def _short(v: object) -> str:
    if isinstance(v, bytes) and len(v) > 40:
        return f"<{len(v)} bytes>"
    if isinstance(v, pyfuse3.RequestContext):
        return f"uid={v.uid} pid={v.pid}"
    if isinstance(v, pyfuse3.EntryAttributes):
        return f"ino {v.st_ino} mode {v.st_mode:o} size {v.st_size}"
    if isinstance(v, pyfuse3.FileInfo):
        return f"fh {v.fh}{' direct_io' if v.direct_io else ''}"
    if isinstance(v, tuple):
        return "(" + ", ".join(map(_short, v)) + ")"
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(op: str, args: tuple[object, ...], code: int, why: str) -> pyfuse3.FUSEError:
    if code == errno.EIO:  # Rule 3
        log.warning("%s%s: EIO: %s", op, tuple(_short(a) for a in args), why)
    return pyfuse3.FUSEError(code)


def syscall(f: Handler[B, P, R]) -> Handler[B, P, R]:
    """Run handler ``f`` as the bridge process, translating failures (Rules 1-4)."""
    op = f.__name__

    @wraps(f)
    async def handler(self: B, /, *args: P.args, **kw: P.kwargs) -> R:
        if self.ut is None:
            raise _fail(op, args, errno.EIO, "the view is not serving yet")
        uctx.bind(self.ut)
        tracing = trace.isEnabledFor(logging.DEBUG)
        n = next(_seq) if tracing else 0
        if tracing:
            trace.debug("%d> %s(%s)", n, op, ", ".join(_short(a) for a in args))
        result: R
        try:
            uctx.bind(await self.actor(op, args))
            if tracing:
                result = await _watched(self, f, n, op, args, kw)
            elif _t.on:  # lp49 trace (lp49fs.fuse.tracectl)
                result = await tracectl.traced(self, f, args, kw)
            else:
                result = await f(self, *args, **kw)
        except Error as e:
            code = errno_of(e)
            if tracing:
                trace.debug("%d< %s %r", n, errno.errorcode.get(code, code), e.ename)
            raise _fail(op, args, code, repr(e.ename)) from None
        except KeyError:
            if tracing:
                trace.debug("%d< ENOENT (unknown inode)", n)
            raise pyfuse3.FUSEError(errno.ENOENT) from None
        except Interrupted:
            if tracing:
                trace.debug("%d< EINTR", n)
            raise pyfuse3.FUSEError(errno.EINTR) from None
        except pyfuse3.FUSEError as e:
            if tracing:
                trace.debug("%d< %s", n, errno.errorcode.get(e.errno, e.errno))
            raise
        if tracing:
            trace.debug("%d< %s", n, _short(result))
        return result

    return handler


async def _watched(self: B, f: Handler[B, P, R], n: int, op: str, args: tuple[object, ...],
                   kw: dict[str, Any]) -> R:  # fmt: skip
    """Rule 4: run request ``n`` under a Trace that logs each system call it makes."""
    tr = _t.Trace(f"FUSE {op}", watch=lambda line: trace.debug("%d  %s", n, line))
    _t.enable()
    tok = _t.begin(tr)
    try:
        r: R = await tracectl.traced(self, f, args, kw)  # lp49 trace too, if it asks
        return r
    finally:
        _t.end(tr, tok)
        _t.disable()

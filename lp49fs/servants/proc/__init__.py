"""#p proc: every process of the node as a directory of control and status files (devproc.c).

Theory of operation
-------------------
``#p`` lists one directory per live process of the core's proc table, named by pid; each
holds ``args ctl fd note ns status wait trace segment``.  Files are computed from the
``Proc`` when read; the formats are in ``procfmt`` (pure, table-tested).

Rules
  1. Qid paths: ``pid << QSHIFT | Q``; the ``#p`` root is path 0.  A Chan on a process that
     has exited gets ``process exited``.
  2. ``status`` is the 176-byte record; real time is measured from ``Proc.start``.
  3. ``ns`` returns **one line per read** (Plan 9 proc(3)), mounts in mountid order, then
     ``cd <dot>``, then 0 bytes.  The lines are taken at the first read of an open Chan.
     A line is a ``mount`` only when the mounted Chan is a mount's root (path ``#M``, as
     Plan 9's devproc checks); any other Chan -- a directory of a mounted server too -- is a
     ``bind`` of its path.  A mount's source is ``#s/name`` if its server link is posted in
     ``#s``, else its path.
  4. ``ctl`` takes ``kill`` (the core's ``postnote(p, "kill")`` hook), ``close N``,
     ``closefiles``, ``pri N`` (0..19; above 10 only for the host owner: the process's
     threads run at L4 priority N*10, kernel.sched) and accepts ``hang nohang noswap
     private`` as no-ops; anything else is ``unknown control message "..."`` as Plan 9's
     ``cmderror`` words it.
  5. ``note``: a write posts a note; a read takes the oldest (NUL-terminated), 0 bytes if none.
  6. ``wait``: each read takes the oldest wait record of the process from the process
     manager (``Core.waitfor``, the same queue as the ``wait`` system call), blocking while
     a child is alive, and returns it as ``pid utime stime rtime msg`` (msg %q-quoted);
     ``no living children`` if no record can come.
  7. ``trace`` (lp49fs.servants.proc.trace): ctl ``trace`` toggles tracing of the process's
     system calls, ``trace 1``/``trace 0`` set it; a read of ``trace`` gives the next
     traced call as text, blocking until one ends; end of file once tracing is off.
  8. ``ctl stop`` halts the process at its next system call (state ``Stopped``), ``waitstop``
     blocks until it is halted, ``start`` lets it go on; ``start`` or ``waitstop`` of a
     process not stopped is ``process not stopped``.
  9. ``segment`` lists the process's retained segments (``lp49fs.hvm.retain``) in Plan 9's
     layout (class, two flag columns, base, top, pages in RAM) plus the region's name.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from lp49fs.core import cputime
from lp49fs.core.chan import COPEN, Chan, cclose
from lp49fs.core.dev import Dirtab, Servant, openmode
from lp49fs.core.proc import NPRIORITY, PRINORMAL, ProcStop, postnote, procfdprint
from lp49fs.core.proc import Proc as ProcStruct
from lp49fs.errors import ERRMAX, Eisdir, Enochild, Enotstopped, Eperm, Eprocdied, Error, Etoobig
from lp49fs.ninep import DMDIR, OREAD, QTDIR, QTFILE, Dir, Qid
from lp49fs.servants.proc import fmt as procfmt
from lp49fs.servants.proc import trace as proctrace

if TYPE_CHECKING:
    from lp49fs.core.mount import Mount

QSHIFT = 5


class Q(IntEnum):
    DIR = 0  # #p itself (pid 0)
    PDIR = 1  # /proc/N
    ARGS = 2
    CTL = 3
    FD = 4
    NOTE = 5
    NS = 6
    STATUS = 7
    WAIT = 8
    TRACE = 9
    SEGMENT = 10


def _f(name: str, q: Q, length: int, perm: int) -> Dirtab:
    return Dirtab(name, Qid(QTFILE, 0, q), length, perm)


DIRTAB = (
    Dirtab(".", Qid(QTDIR, 0, Q.DIR), 0, DMDIR | 0o555),
    _f("args", Q.ARGS, 0, 0o660),
    _f("ctl", Q.CTL, 0, 0o640),
    _f("fd", Q.FD, 0, 0o444),
    _f("note", Q.NOTE, 0, 0o640),
    _f("ns", Q.NS, 0, 0o444),
    _f("status", Q.STATUS, procfmt.STATSIZE, 0o444),
    _f("wait", Q.WAIT, 0, 0o400),
    _f("trace", Q.TRACE, 0, 0o400),
    _f("segment", Q.SEGMENT, 0, 0o444),
)

# ctl messages: name -> field count (0 = any), as Plan 9's proccmd table
CTLMSGS = {"kill": 1, "close": 2, "closefiles": 1, "hang": 1, "nohang": 1, "noswap": 1,
           "private": 1, "pri": 2, "trace": 0, "stop": 1, "start": 1, "waitstop": 1}


def qpid(q: Qid) -> int:
    return q.path >> QSHIFT


def qkind(q: Qid) -> int:
    return q.path & ((1 << QSHIFT) - 1)


def cmderror(fields: list[str], s: str) -> Error:
    """Plan 9 cmderror: ``s "field field ..."`` with each field %q-quoted."""
    return Error(f'{s} "{" ".join(procfmt.quote(f) for f in fields)}"')


class Proc(Servant):
    """``#p``: a directory per process of the node."""

    dc = "p"
    name = "proc"
    dirtab = DIRTAB

    def _proc(self, c: Chan) -> ProcStruct:
        p = self.core.procs.get(qpid(c.qid))
        if p is None or p.exited:
            raise Error(Eprocdied)
        return p

    # ---- directory structure (one gen rule) ---------------------------------------------------

    def gen(self, c: Chan, i: int) -> Dir | None:
        if c.qid.path == Q.DIR:
            pids = sorted(self.core.procs)
            if i >= len(pids):
                return None
            p = self.core.procs[pids[i]]
            qid = Qid(QTDIR, 0, p.pid << QSHIFT | Q.PDIR)
            return self.devdir(c, qid, str(p.pid), 0, p.user, DMDIR | 0o555)
        if qkind(c.qid) != Q.PDIR or i + 1 >= len(DIRTAB):
            return None
        owner = self.core.procs.get(qpid(c.qid))
        if owner is None:
            return None
        t = DIRTAB[i + 1]
        vers = owner.pgrp.vers if t.qid.path == Q.NS else 0  # moves with the name space
        qid = Qid(QTFILE, vers, owner.pid << QSHIFT | t.qid.path)
        return self.devdir(c, qid, t.name, t.length, owner.user, t.perm)

    def parent(self, c: Chan) -> Qid:
        if qkind(c.qid) in (Q.DIR, Q.PDIR):
            return DIRTAB[0].qid
        return Qid(QTDIR, 0, qpid(c.qid) << QSHIFT | Q.PDIR)

    async def stat(self, c: Chan) -> Dir:
        if c.qid.path != Q.DIR:
            self._proc(c)
        return self.devstat(c)

    async def open(self, c: Chan, omode: int) -> Chan:
        if c.qid.path == Q.DIR:
            return self.devopen(c, omode)
        self._proc(c)
        if qkind(c.qid) in (Q.FD, Q.NS, Q.STATUS, Q.SEGMENT) and openmode(omode) != OREAD:
            raise Error(Eperm)
        p = self._proc(c)
        c = self.devopen(c, omode)
        c.aux = None  # ns: the lines, taken at the first read (Rule 3)
        if qkind(c.qid) == Q.TRACE:  # the log is bound at open: the process may exit first
            proctrace.bind(c, p)
        return c

    async def close(self, c: Chan) -> None:
        c.aux = None

    # ---- i/o ----------------------------------------------------------------------------------

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        if c.isdir():
            return self.devdirread(c, count, offset)
        if qkind(c.qid) == Q.TRACE:  # read to the end even after the process exited
            return await proctrace.read(c, self.core.procs.get(qpid(c.qid)), count)
        p = self._proc(c)
        k = qkind(c.qid)
        if k == Q.NS:
            return self.nsread(c, p)[:count]
        if k == Q.NOTE:
            if not p.notes:
                return b""
            return p.notes.pop(0).encode()[: max(count - 1, 0)] + b"\0"
        if k == Q.WAIT:
            return (await self.waitread(p)).encode()[:count]
        if k == Q.STATUS:
            text = self.status(p)
        elif k == Q.ARGS:
            text = procfmt.argstext(p.args).encode()
        elif k == Q.FD:
            text = self.fdtext(p)
        elif k == Q.SEGMENT:
            text = procfmt.segments(self.core.segments(p.pid) if self.core.segments else [])
        else:
            raise Error(Eperm)
        return text[offset : offset + count]

    def status(self, p: ProcStruct) -> bytes:
        memkb = self.core.memkb(p) if self.core.memkb is not None else 0
        return procfmt.status(p.name, p.user, p.state, cputime.ms(p), memkb, 10, 10)

    def fdtext(self, p: ProcStruct) -> bytes:
        lines = [p.dot.path.s + "\n"]
        for fd, fc in enumerate(p.fgrp.fd):
            if fc is not None:
                lines.append(procfdprint(fc, fd, 3))
        return "".join(lines).encode()

    def nslines(self, p: ProcStruct) -> list[str]:
        """The whole of ``/proc/N/ns`` for ``p``, one string per line (Rule 3)."""
        mounts: list[tuple[int, int, str, Mount]] = []
        for mh in p.pgrp.heads():
            for m in mh.mounts:
                mounts.append((m.mountid, len(mounts), mh.from_.path.s, m))
        lines = []
        for _, _, old, m in sorted(mounts, key=lambda t: (t[0], t[1])):
            if m.to.path.s == "#M":  # a mount's root, not any Chan of a mounted server
                link = m.to.mchan
                src = self.srvname(link) if link is not None else None
                src = src or (link.path.s if link is not None else m.to.path.s)
                lines.append(procfmt.mountline(m.flag, src, old, m.spec))
            else:
                lines.append(procfmt.bindline(m.flag, m.to.path.s, old))
        lines.append(procfmt.cdline(p.dot.path.s))
        return lines

    def srvname(self, c: Chan) -> str | None:
        srv = self.core.devtab.get("s")
        fn = getattr(srv, "srvname", None)
        return fn(c) if fn is not None else None

    def nsread(self, c: Chan, p: ProcStruct) -> bytes:
        if c.aux is None:
            c.aux = [line.encode() for line in self.nslines(p)]
        lines: list[bytes] = c.aux
        return lines.pop(0) if lines else b""

    async def waitread(self, p: ProcStruct) -> str:
        """The next wait record of ``p`` (Rule 6)."""
        if self.core.waitfor is None:  # no process manager: no records can come
            raise Error(Enochild)
        pid, utime, stime, rtime, msg = await self.core.waitfor(p)
        return procfmt.waitline(pid, utime, stime, rtime, msg)

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        if c.isdir():
            raise Error(Eisdir)
        if not c.flag & COPEN:
            raise Error(Eperm)
        p = self._proc(c)
        k = qkind(c.qid)
        if k == Q.CTL:
            await self.ctl(p, data.decode(errors="replace").split())
        elif k == Q.NOTE:
            if len(data) >= ERRMAX - 1:
                raise Error(Etoobig)
            postnote(p, data.decode(errors="replace").rstrip("\0"))
        else:
            raise Error(Eperm)
        return len(data)

    async def stopctl(self, p: ProcStruct, what: str) -> None:
        """stop: halt ``p`` at its next system call; waitstop: wait until it is halted;
        start: let it go on (Rule 7, core.proc Rule 5)."""
        if what == "stop":
            if p.stop is None:
                p.stop = ProcStop()
        elif what == "waitstop":
            if p.stop is None:
                raise Error(Enotstopped)
            await p.stop.stopped.wait()
        else:
            if p.stop is None:
                raise Error(Enotstopped)
            st, p.stop = p.stop, None
            st.started.set()

    def setpri(self, p: ProcStruct, fields: list[str]) -> None:
        """``pri N``: Plan 9 procctlreq CMpri; above PRINORMAL only for the host owner."""
        try:
            pri = int(fields[1])
        except ValueError:
            raise cmderror(fields, "bad arg in system call") from None
        if not 0 <= pri < NPRIORITY:
            raise cmderror(fields, "bad arg in system call")
        if pri > PRINORMAL and self.user() != self.core.eve:
            raise Error(Eperm)
        if self.core.setpri is not None:
            self.core.setpri(p, pri)

    async def ctl(self, p: ProcStruct, fields: list[str]) -> None:
        """One ctl message (Rule 4)."""
        if not fields:
            raise Error("empty control message")
        nf = CTLMSGS.get(fields[0])
        if nf is None:
            raise cmderror(fields, "unknown control message")
        if nf and nf != len(fields):
            raise cmderror(fields, "wrong #args in control message")
        if fields[0] == "kill":
            postnote(p, "kill")
        elif fields[0] == "trace":
            proctrace.ctl(p, fields)
        elif fields[0] in ("stop", "waitstop", "start"):
            await self.stopctl(p, fields[0])
        elif fields[0] == "close":
            try:
                await cclose(p.fgrp.take(int(fields[1])))
            except ValueError:
                raise cmderror(fields, "bad arg in system call") from None
        elif fields[0] == "pri":
            self.setpri(p, fields)
        elif fields[0] == "closefiles":
            for fd, fc in enumerate(p.fgrp.fd):
                if fc is not None:
                    await cclose(p.fgrp.take(fd))

"""#f floppy: the machine's floppy drive as files (Plan 9 floppy(3), ``devfloppy.c``).

Tree::

    #f/fd0disk     the whole 1.44 MB disk, read and written at any offset and length
    #f/fd0ctl      read: the form factor, ``3½HD``; write: ``reset``, ``eject``

Theory of operation.  ``reset`` finds the ``hwsim.fdc.FloppyController`` on the machine's bus
and makes its driver (``fddrv.Fd``).  The boot makes a driver thread for the controller's
interrupt line, which calls ``interrupt(line)`` for each interrupt IPC, and then awaits
``probe()``, which resets the controller (that needs interrupts).  A read or write of
``fd0disk`` becomes whole sectors; a partial sector at either end is read first and written
back with the new bytes (read-modify-write, under ``rmw`` so two writers cannot interleave).
After ``eject`` the disk is gone: ``fd0disk`` has length 0 and its reads and writes fail with
``Error(Eio)``, as a real drive without a medium does.

Without a controller the directory is empty.  Qid paths: 0 the directory, 1 fd0disk,
2 fd0ctl.  A drive whose image is read-only has fd0disk mode 0440 and refuses writes with
``Error(Ewprotect)``.
"""

from __future__ import annotations

from enum import IntEnum

import trio

from hwsim.fdc import DISKSIZE, SECTOR, FloppyController
from lp49fs.core.chan import Chan
from lp49fs.core.dev import Dirtab, Servant
from lp49fs.errors import Ebadctl, Eio, Eisdir, Error, Ewprotect
from lp49fs.ninep import DMDIR, QTDIR, QTFILE, Dir, Qid
from lp49fs.servants.fddrv import Fd

FORMFACTOR = "3½HD"


class Q(IntEnum):
    DIR = 0
    DISK = 1
    CTL = 2


DIRTAB = (
    Dirtab(".", Qid(QTDIR, 0, Q.DIR), 0, DMDIR | 0o555),
    Dirtab("fd0disk", Qid(QTFILE, 0, Q.DISK), DISKSIZE, 0o660),
    Dirtab("fd0ctl", Qid(QTFILE, 0, Q.CTL), 0, 0o660),
)


class Floppy(Servant):
    """``#f``: drive 0 of the machine's floppy controller."""

    dc = "f"
    name = "floppy"
    dirtab = DIRTAB

    def reset(self) -> None:
        self.ctlr: FloppyController | None = None
        self.fd: Fd | None = None
        self.probed = False
        self.rmw = trio.Lock()
        machine = self.core.machine
        if machine is not None:
            for _, ctlr in machine.bus.find(FloppyController):
                self.ctlr, self.fd = ctlr, Fd(ctlr)
                break

    def interrupt(self, line: int) -> None:
        """The driver thread's call for an interrupt IPC of ``line``."""
        if self.fd is not None and self.ctlr is not None and self.ctlr.line == line:
            self.fd.interrupt()

    async def probe(self) -> None:
        """Reset the controller (needs the driver thread running)."""
        if self.fd is not None and not self.probed:
            self.probed = True
            await self.fd.reset()

    def present(self) -> bool:
        return self.ctlr is not None and self.ctlr.drives[0].present

    def gen(self, c: Chan, i: int) -> Dir | None:
        if self.ctlr is None or c.qid.path != Q.DIR or i > 1:
            return None
        t = DIRTAB[1 + i]
        length = DISKSIZE if t.qid.path == Q.DISK and self.present() else 0
        ro = t.qid.path == Q.DISK and self.ctlr.drives[0].readonly
        return self.devdir(c, t.qid, t.name, length, self.core.eve, 0o440 if ro else t.perm)

    async def attach(self, spec: str) -> Chan:
        await self.probe()
        return self.devattach(spec)

    async def read(self, c: Chan, count: int, offset: int) -> bytes:
        q = c.qid.path
        if q == Q.DIR:
            return self.devdirread(c, count, offset)
        if q == Q.CTL:
            return (FORMFACTOR + "\n").encode()[offset : offset + count]
        fd = self._drive()
        if offset >= DISKSIZE or count <= 0:
            return b""
        count = min(count, DISKSIZE - offset)
        first, last = offset // SECTOR, (offset + count + SECTOR - 1) // SECTOR
        data = await fd.read(first, last - first)
        skip = offset - first * SECTOR
        return data[skip : skip + count]

    async def write(self, c: Chan, data: bytes, offset: int) -> int:
        q = c.qid.path
        if q == Q.DIR:
            raise Error(Eisdir)
        if q == Q.CTL:
            await self._ctl(data.decode("utf-8", "replace").strip())
            return len(data)
        fd = self._drive()
        assert self.ctlr is not None
        if self.ctlr.drives[0].readonly:
            raise Error(Ewprotect)
        if offset >= DISKSIZE and data:
            raise Error(Eio)
        data = data[: DISKSIZE - offset]
        n = len(data)
        if not n:
            return 0
        first, last = offset // SECTOR, (offset + n + SECTOR - 1) // SECTOR
        head = offset - first * SECTOR
        async with self.rmw:
            if head or (offset + n) % SECTOR:
                buf = bytearray(await fd.read(first, last - first))
                buf[head : head + n] = data
                data = bytes(buf)
            await fd.write(first, data)
        return n

    def _drive(self) -> Fd:
        if self.fd is None or not self.present():
            raise Error(Eio)
        return self.fd

    async def _ctl(self, cmd: str) -> None:
        if self.fd is None or self.ctlr is None:
            raise Error(Eio)
        if cmd == "reset":
            await self.fd.reset()
        elif cmd == "eject":
            self.ctlr.eject(0)
        else:
            raise Error(Ebadctl)

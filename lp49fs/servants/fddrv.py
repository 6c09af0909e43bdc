"""The floppy driver of ``#f`` (Plan 9 ``pc/devfloppy.c`` in spirit): commands through the
FIFO of an ``hwsim.fdc.FloppyController``, completion by interrupt IPC.

Theory of operation.  ``reset`` pulses DOR nRESET (interrupts and drive 0's motor on), waits
for the reset interrupt, clears it with SENSE INTERRUPT STATUS and sends SPECIFY with ND set
(non-DMA: data moves through the FIFO).  A transfer works a track at a time: the head is
moved with SEEK (interrupt, then SENSE INTERRUPT STATUS) if it is not on the cylinder, then
READ DATA or WRITE DATA for sectors R..EOT of that track; a read waits for the "data ready"
interrupt, takes the data from the FIFO and waits for the result interrupt; a write gives the
data and waits for the result.  The interrupt arrives as IPC at the controller's driver thread
(``lp49fs.node.boot``), which calls ``interrupt()``; the waiting command then continues.

Errors: ST0 abnormal termination -> ``Error(Ewprotect)`` when ST1 says not writable, else
``Error(Eio)``; no interrupt within ``TIMEOUT`` -> ``Error(Eio)``.  One command at a time
(``lock``).
"""

from __future__ import annotations

import trio

from hwsim.fdc import (
    DOR,
    FIFO,
    HEADS,
    IRQEN,
    MFM,
    MSR,
    NOTWRITABLE,
    NRESET,
    READ,
    SECTOR,
    SECTS,
    SEEK,
    SENSEINT,
    SPECIFY,
    WRITE,
    FloppyController,
)
from lp49fs.errors import Eio, Error, Ewprotect

TIMEOUT = 10.0  # seconds to wait for an interrupt
MOTOR0 = 0x10


class Fd:
    """The driver of one floppy controller (drive 0)."""

    def __init__(self, ctlr: FloppyController) -> None:
        self.ctlr = ctlr
        self.lock = trio.Lock()
        self.event: trio.Event | None = None  # set by interrupt()
        self.cyl = -1  # where the driver put the head (-1: unknown)
        self.interrupts = 0

    def interrupt(self) -> None:
        self.interrupts += 1
        if self.event is not None:
            self.event.set()

    async def _wait(self) -> None:
        assert self.event is not None
        with trio.move_on_after(TIMEOUT):
            await self.event.wait()
            self.event = trio.Event()
            return
        raise Error(Eio)

    def _send(self, *cmd: int) -> None:
        for b in cmd:
            self.ctlr.outb(FIFO, b)

    def _results(self, n: int) -> bytes:
        return bytes(self.ctlr.inb(FIFO) for _ in range(n))

    async def reset(self) -> None:
        async with self.lock:
            self.event = trio.Event()
            self.ctlr.outb(DOR, 0)
            self.ctlr.outb(DOR, NRESET | IRQEN | MOTOR0)
            await self._wait()
            for _ in range(4):  # one SENSE INTERRUPT STATUS per drive, as after any reset
                self._send(SENSEINT)
                self._results(2)
            self._send(SPECIFY, 0xDF, 0x03)  # step rate, head unload/load; ND: non-DMA
            self.cyl = -1

    async def _seek(self, cyl: int) -> None:
        if self.cyl == cyl:
            return
        self._send(SEEK, 0, cyl)
        await self._wait()
        self._send(SENSEINT)
        st0, pcn = self._results(2)
        if st0 & 0xC0 or pcn != cyl:
            self.cyl = -1
            raise Error(Eio)
        self.cyl = cyl

    def _check(self, res: bytes) -> None:
        if len(res) != 7 or res[0] & 0xC0:
            raise Error(Ewprotect if len(res) > 1 and res[1] & NOTWRITABLE else Eio)

    async def _track(self, op: int, lba: int, n: int, data: bytes = b"") -> bytes:
        """Sectors ``lba .. lba+n-1`` of one track (read, or write ``data``)."""
        cyl, head, r = lba // (SECTS * HEADS), lba // SECTS % HEADS, lba % SECTS + 1
        async with self.lock:
            if self.event is None:
                raise Error(Eio)  # never reset
            await self._seek(cyl)
            self._send(op | MFM, head << 2, cyl, head, r, 2, r + n - 1, 0x1B, 0xFF)
            out = b""
            if op == READ:
                await self._wait()
                if self.ctlr.inb(MSR) & 0x20:  # NDMA: the data is there
                    out = self.ctlr.data_in(n * SECTOR)
                    await self._wait()
            elif self.ctlr.inb(MSR) & 0x20:
                self.ctlr.data_out(data)
                await self._wait()
            else:
                await self._wait()
            self._check(self._results(7))
            return out

    async def read(self, lba: int, count: int) -> bytes:
        out = bytearray()
        while count > 0:
            n = min(count, SECTS - lba % SECTS)
            out += await self._track(READ, lba, n)
            lba, count = lba + n, count - n
        return bytes(out)

    async def write(self, lba: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = min(len(view) // SECTOR, SECTS - lba % SECTS)
            await self._track(WRITE, lba, n, bytes(view[: n * SECTOR]))
            view, lba = view[n * SECTOR :], lba + n

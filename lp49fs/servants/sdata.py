"""The ATA driver of ``#S`` (Plan 9 ``sdata.c`` in spirit): commands through the registers of
an ``hwsim.ata.AtaController``, completion by interrupt IPC.

Theory of operation.  One ``Ata`` per channel.  A transfer takes the channel's lock (one
command at a time, as the hardware demands), loads the command block registers (count, LBA,
device with the unit bit) and writes the command register.  The controller raises its
interrupt line when data is ready or the command is done; the kernel turns that into an IPC
from the interrupt thread to the channel's driver thread (made at boot, see
``lp49fs.node.boot``), which calls ``interrupt()`` here: it reads STATUS (acknowledging the
device), wakes the waiting transfer and then acknowledges the interrupt thread, re-enabling
the line.  The transfer then moves the data through the data port.

A PIO write sets DRQ without an interrupt; the driver writes the data and waits for the
completion interrupt.  One command moves at most ``MAXSECT`` (256) sectors; longer transfers
are split.  Errors: ERR with UNC (host I/O error) or IDNF -> ``Error(Eio)``, ABRT on a
read-only unit -> ``Error(Ewprotect)``, no interrupt within ``TIMEOUT`` -> ``Error(Eio)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from hwsim.ata import (
    ABRT,
    COMMAND,
    COUNT,
    DEV_LBA,
    DEV_UNIT,
    DEVICE,
    DRQ,
    ERR,
    FLUSH,
    IDENTIFY,
    LBA0,
    LBA1,
    LBA2,
    READ,
    SECTOR,
    WRITE,
    AtaController,
)
from lp49fs.errors import Eio, Error, Ewprotect

MAXSECT = 256  # sectors per command (count register 0)
TIMEOUT = 10.0  # seconds to wait for a completion interrupt before giving up


@dataclass(frozen=True, slots=True)
class Ident:
    """What IDENTIFY DEVICE told about a unit."""

    model: str
    serial: str
    firmware: str
    sectors: int  # LBA28 capacity


def _atastr(block: bytes, first: int, words: int) -> str:
    raw = block[2 * first : 2 * (first + words)]
    swapped = bytes(b for i in range(0, len(raw), 2) for b in (raw[i + 1], raw[i]))
    return swapped.decode("ascii", "replace").strip()


def parse_identify(block: bytes) -> Ident:
    """The fields of a 512-byte IDENTIFY DEVICE block."""
    w = [int.from_bytes(block[2 * i : 2 * i + 2], "little") for i in range(256)]
    return Ident(_atastr(block, 27, 20), _atastr(block, 10, 10), _atastr(block, 23, 4),
                 w[60] | w[61] << 16)  # fmt: skip


class Ata:
    """The driver of one ATA channel."""

    def __init__(self, ctlr: AtaController) -> None:
        self.ctlr = ctlr
        self.lock = trio.Lock()  # one command on the channel at a time
        self.unitlocks = (trio.Lock(), trio.Lock())  # a read-modify-write per unit at a time
        self.done: trio.Event | None = None  # set by interrupt() for the command in flight
        self.status = 0  # STATUS as read by the last interrupt
        self.interrupts = 0  # completion interrupts taken

    def lock_unit(self, unit: int) -> trio.Lock:
        """The lock that keeps a unit's read-modify-write sequences apart."""
        return self.unitlocks[unit]

    def interrupt(self) -> None:
        """Called by the driver thread for each interrupt IPC of this channel's line."""
        self.status = self.ctlr.inb(COMMAND)  # STATUS read: acknowledges the device
        self.interrupts += 1
        if self.done is not None:
            self.done.set()

    async def _wait(self) -> int:
        """Wait for the interrupt of the command in flight; its status."""
        assert self.done is not None
        with trio.move_on_after(TIMEOUT):
            await self.done.wait()
            self.done = None
            return self.status
        self.done = None
        raise Error(Eio)

    def _issue(self, unit: int, cmd: int, lba: int = 0, count: int = 0) -> None:
        c = self.ctlr
        self.done = trio.Event()
        c.outb(COUNT, count & 0xFF)
        c.outb(LBA0, lba & 0xFF)
        c.outb(LBA1, lba >> 8 & 0xFF)
        c.outb(LBA2, lba >> 16 & 0xFF)
        c.outb(DEVICE, 0xA0 | DEV_LBA | (DEV_UNIT if unit else 0) | lba >> 24 & 0x0F)
        c.outb(COMMAND, cmd)

    def _check(self, status: int) -> None:
        if status & ERR:
            err = self.ctlr.error
            raise Error(Ewprotect if err == ABRT else Eio)

    async def identify_block(self, unit: int) -> bytes:
        """The 512-byte IDENTIFY DEVICE block of ``unit``, as the device sends it."""
        async with self.lock:
            self._issue(unit, IDENTIFY)
            self._check(await self._wait())
            return self.ctlr.data_in(SECTOR)

    async def identify(self, unit: int) -> Ident:
        return parse_identify(await self.identify_block(unit))

    async def read(self, unit: int, lba: int, count: int) -> bytes:
        """``count`` sectors from ``lba``."""
        out = bytearray()
        while count > 0:
            n = min(count, MAXSECT)
            async with self.lock:
                self._issue(unit, READ, lba, n)
                status = await self._wait()
                self._check(status)
                if not status & DRQ:
                    raise Error(Eio)
                out += self.ctlr.data_in(n * SECTOR)
            lba += n
            count -= n
        return bytes(out)

    async def write(self, unit: int, lba: int, data: bytes) -> None:
        """Whole sectors ``data`` at ``lba``; returns when the controller has written them."""
        view = memoryview(data)
        while view:
            n = min(len(view) // SECTOR, MAXSECT)
            async with self.lock:
                self._issue(unit, WRITE, lba, n)
                if not self.ctlr.status & DRQ:  # refused at once: its interrupt says why
                    self._check(await self._wait())
                    raise Error(Eio)
                self.ctlr.data_out(bytes(view[: n * SECTOR]))
                self._check(await self._wait())
            view = view[n * SECTOR :]
            lba += n

    async def flush(self, unit: int) -> None:
        async with self.lock:
            self._issue(unit, FLUSH)
            self._check(await self._wait())

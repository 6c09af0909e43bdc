"""An FDC-style floppy controller (the PC's 82077AA in non-DMA mode) with 1.44 MB drives.

Registers (offsets from the controller's base, as at I/O ports 0x3F0-0x3F7 of a PC):

====  ==========================  ================================================
reg   read                        write
====  ==========================  ================================================
2     DOR                         DOR: bits 0-1 drive select, bit 2 nRESET (0 holds
                                  the controller in reset), bit 3 interrupts on,
                                  bits 4-7 motor on
4     MSR: RQM 0x80, DIO 0x40     DSR (data rate: ignored)
      (controller to CPU), NDMA
      0x20 (execution phase),
      CB 0x10 (command busy)
5     FIFO: result bytes, data    FIFO: command bytes, data
7     DIR: bit 7 disk changed     CCR (ignored)
====  ==========================  ================================================

A 1.44 MB disk has 80 cylinders, 2 heads and 18 sectors of 512 bytes per track; the byte
offset of (C, H, S) in the image is ``((C * 2 + H) * 18 + S - 1) * 512``.

Commands (first byte; MT 0x80, MFM 0x40, SK 0x20 are option bits of the first byte):

=======================  =====  =======  ========================================
command                  bytes  result   interrupt
=======================  =====  =======  ========================================
SPECIFY 0x03             3      none     no (bit 0 of byte 3 = ND: non-DMA)
SENSE DRIVE STATUS 0x04  2      ST3      no
WRITE DATA 0x05          9      7 bytes  when the data is taken, then at the result
READ DATA 0x06           9      7 bytes  when the data is ready, and at the result
RECALIBRATE 0x07         2      none     when done: then SENSE INTERRUPT STATUS
SENSE INTERRUPT 0x08     1      ST0 PCN  no
SEEK 0x0F                3      none     when done: then SENSE INTERRUPT STATUS
=======================  =====  =======  ========================================

READ/WRITE DATA take ``cmd, head<<2|drive, C, H, R, N, EOT, GPL, DTL`` and move sectors R to
EOT of head H (continuing on head 1 with MT) of the cylinder the head is on; the result is
``ST0 ST1 ST2 C H R N``.  As in ``hwsim.ata``, the data port is string I/O (``data_in`` /
``data_out``: a driver's ``rep insb``), so one command moves a track with two interrupts.

Rules:

1. A command is taken only when RQM is set and DIO clear (the command phase); bytes written
   at other times are ignored, and a byte read when no result waits reads 0.
2. Errors end the command with ST0 bit 6 (abnormal termination) and the cause in ST1: 0x04
   no data (sector or cylinder outside the disk), 0x02 not writable (a read-only image or
   drive), 0x20 data error (a host I/O error); ST0 bit 3 (not ready) when no disk is in the
   drive.  A failed command still raises its interrupt, so a driver never waits for ever.
3. A write is in the image file (``os.pwrite``) before its result interrupt.
4. Leaving reset (DOR nRESET 0 -> 1) raises the interrupt once; SENSE INTERRUPT STATUS then
   answers ST0 0xC0.  An invalid command answers ST0 0x80 as its one result byte.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hwsim.irq import InterruptController

SECTOR = 512
CYLS, HEADS, SECTS = 80, 2, 18
DISKSIZE = CYLS * HEADS * SECTS * SECTOR  # 1,474,560 bytes
NDRIVES = 4
DOR, MSR, FIFO, DIR = 2, 4, 5, 7
RQM, DIO, NDMA, CB = 0x80, 0x40, 0x20, 0x10
NRESET, IRQEN = 0x04, 0x08
SPECIFY, SENSEDRIVE, WRITE, READ, RECAL, SENSEINT, SEEK = 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0F
MT, MFM = 0x80, 0x40
CMDLEN = {SPECIFY: 3, SENSEDRIVE: 2, WRITE: 9, READ: 9, RECAL: 2, SENSEINT: 1, SEEK: 3}
ABNORMAL, NOTREADY = 0x40, 0x08  # ST0
NODATA, NOTWRITABLE, DATAERROR = 0x04, 0x02, 0x20  # ST1


@dataclass
class Drive:
    """A drive with a disk in it (an image file), or empty."""

    fd: int = -1  # the image, -1: no disk
    readonly: bool = False
    cyl: int = 0  # where the head is
    changed: bool = True  # DIR bit 7 until a seek

    @property
    def present(self) -> bool:
        return self.fd >= 0


@dataclass
class FloppyController:
    """The controller on interrupt line ``line`` of ``irqc``."""

    irqc: InterruptController | None = None
    line: int = 6
    drives: list[Drive] = field(default_factory=lambda: [Drive() for _ in range(NDRIVES)])
    dor: int = 0
    msr: int = RQM
    cmd: bytearray = field(default_factory=bytearray)  # command bytes so far
    result: bytearray = field(default_factory=bytearray)  # result bytes not yet read
    buf: bytearray = field(default_factory=bytearray)  # data of the execution phase
    pos: int = 0
    pending: tuple[int, ...] | None = None  # a write's (drive, head, cyl, first lba, r, eot)
    sense: list[tuple[int, int]] = field(default_factory=list)  # (ST0, cyl) for SENSE INT
    res: tuple[int, int, int, int] = (0, 0, 0, 0)  # a read's (drive, head, cyl, next R)
    commands: int = 0

    def attach(self, drive: int, path: str, readonly: bool = False) -> Drive:
        """Put the image ``path`` (exactly 1.44 MB) in ``drive``."""
        if not readonly and not os.access(path, os.W_OK):
            readonly = True
        if os.path.getsize(path) != DISKSIZE:
            raise ValueError(f"{path}: a 1.44 MB floppy image has {DISKSIZE} bytes")
        d = self.drives[drive]
        if d.present:
            raise ValueError(f"floppy drive {drive} not empty")
        d.fd = os.open(path, os.O_RDONLY if readonly else os.O_RDWR)
        d.readonly, d.changed = readonly, True
        return d

    def eject(self, drive: int) -> None:
        d = self.drives[drive]
        if d.present:
            os.close(d.fd)
            d.fd, d.changed = -1, True

    def close(self) -> None:
        for i in range(NDRIVES):
            self.eject(i)

    # -- port I/O ---------------------------------------------------------------------------
    def inb(self, reg: int) -> int:
        if reg == MSR:
            return self.msr
        if reg == DOR:
            return self.dor
        if reg == DIR:
            return 0x80 if self.drives[self.dor & 3].changed else 0
        if reg == FIFO:
            if self.msr & NDMA:
                got = self.data_in(1)
                return got[0] if got else 0
            if self.result:
                b = self.result.pop(0)
                if not self.result:
                    self.msr = RQM
                return b
        return 0

    def outb(self, reg: int, value: int) -> None:
        value &= 0xFF
        if reg == DOR:
            leaving_reset = not self.dor & NRESET and value & NRESET
            self.dor = value
            if not value & NRESET:
                self._reset()
            elif leaving_reset:
                self.sense = [(0xC0 | d, self.drives[d].cyl) for d in range(NDRIVES)]
                self._interrupt()
        elif reg == FIFO:
            if self.msr & NDMA:
                self.data_out(bytes((value,)))
            elif self.msr & RQM and not self.msr & DIO and self.dor & NRESET:  # Rule 1
                self.cmd.append(value)
                need = CMDLEN.get(self.cmd[0] & 0x1F, 1)
                self.msr = RQM | CB
                if len(self.cmd) >= need:
                    cmd, self.cmd = bytes(self.cmd), bytearray()
                    self._run(cmd)

    def data_in(self, n: int) -> bytes:
        """Read ``n`` bytes of a READ DATA's execution phase (less at its end)."""
        if not self.msr & NDMA or self.pending is not None:
            return b""
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += len(out)
        if self.pos >= len(self.buf):
            self.buf = bytearray()
            self._result()
        return out

    def data_out(self, data: bytes) -> int:
        """Write bytes of a WRITE DATA's execution phase; the last one starts the write."""
        if not self.msr & NDMA or self.pending is None:
            return 0
        take = data[: len(self.buf) - self.pos]
        self.buf[self.pos : self.pos + len(take)] = take
        self.pos += len(take)
        if self.pos >= len(self.buf):
            drive, head, cyl, lba, r, eot = self.pending
            self.pending = None
            try:
                os.pwrite(self.drives[drive].fd, self.buf, lba * SECTOR)
                self._result(drive, head, cyl, eot + 1)
            except OSError:
                self._result(drive, head, cyl, r, ABNORMAL, DATAERROR)  # Rule 2
            self.buf = bytearray()
        return len(take)

    # -- commands ---------------------------------------------------------------------------
    def _run(self, cmd: bytes) -> None:
        self.commands += 1
        op = cmd[0] & 0x1F
        if op == SPECIFY:
            self.msr = RQM
        elif op == SENSEDRIVE:
            d = self.drives[cmd[1] & 3]
            st3 = cmd[1] & 7 | 0x20 | (0x10 if d.cyl == 0 else 0) | (0x40 if d.readonly else 0)
            self._answer(bytes((st3,)))
        elif op == SENSEINT:
            st0, cyl = self.sense.pop(0) if self.sense else (0x80, 0)
            self._answer(bytes((st0, cyl)) if st0 != 0x80 else b"\x80")
        elif op in (RECAL, SEEK):
            drive = cmd[1] & 3
            d = self.drives[drive]
            d.cyl = 0 if op == RECAL else min(cmd[2], CYLS - 1)
            d.changed = d.changed and not d.present
            self.sense = [(0x20 | drive | (cmd[1] & 4), d.cyl)]  # seek end, replacing the rest
            self.msr = RQM
            self._interrupt()
        elif op in (READ, WRITE):
            self._transfer(op, cmd)
        else:
            self._answer(b"\x80")  # Rule 4

    def _transfer(self, op: int, cmd: bytes) -> None:
        drive, head = cmd[1] & 3, cmd[1] >> 2 & 1
        c, r, eot = cmd[2], cmd[4], cmd[6]
        d = self.drives[drive]
        if not d.present:
            self._result(drive, head, c, r, ABNORMAL | NOTREADY)
            return
        last = eot + (SECTS if cmd[0] & MT and head == 0 else 0)
        if c != d.cyl or c >= CYLS or not 1 <= r <= eot <= SECTS or cmd[5] != 2:
            self._result(drive, head, c, r, ABNORMAL, NODATA)
            return
        lba = (c * HEADS + head) * SECTS + r - 1
        count = last - r + 1
        if op == WRITE:
            if d.readonly:
                self._result(drive, head, c, r, ABNORMAL, NOTWRITABLE)
                return
            self.buf, self.pos = bytearray(count * SECTOR), 0
            self.pending = (drive, head, c, lba, r, last)
            self.msr = RQM | NDMA | CB
            return
        try:
            data = os.pread(d.fd, count * SECTOR, lba * SECTOR)
        except OSError:
            data = b""
        if len(data) != count * SECTOR:
            self._result(drive, head, c, r, ABNORMAL, DATAERROR)
            return
        self.buf, self.pos = bytearray(data), 0
        self.res = (drive, head, c, last + 1)
        self.msr = RQM | DIO | NDMA | CB
        self._interrupt()

    def _result(self, drive: int = -1, head: int = 0, cyl: int = 0, r: int = 0,
                st0: int = 0, st1: int = 0) -> None:  # fmt: skip
        if drive < 0:  # the end of a read: the position was kept in self.res
            drive, head, cyl, r = self.res
        self._answer(bytes((st0 | head << 2 | drive, st1, 0, cyl, head, r, 2)))
        self._interrupt()

    def _answer(self, data: bytes) -> None:
        self.result = bytearray(data)
        self.msr = RQM | DIO | CB

    def _reset(self) -> None:
        self.msr, self.cmd, self.result = RQM, bytearray(), bytearray()
        self.buf, self.pos, self.pending, self.sense = bytearray(), 0, None, []

    def _interrupt(self) -> None:
        if self.irqc is not None and self.dor & IRQEN:
            self.irqc.raise_line(self.line)

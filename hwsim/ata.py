"""An ATA-style disk controller: one channel, up to two units, each a raw image file on the host.

Register model (offsets from the channel's command block, as at I/O ports 0x1F0-0x1F7 of a PC;
the control block is ``CTL``, as at 0x3F6):

====  =========================  ==========================================================
reg   read                       write
====  =========================  ==========================================================
0     data port (``data_in``)    data port (``data_out``)
1     error                      features (ignored)
2     sector count               sector count (0 means 256)
3     LBA bits 0-7               LBA bits 0-7
4     LBA bits 8-15              LBA bits 8-15
5     LBA bits 16-23             LBA bits 16-23
6     device: 0xE0 | unit<<4 | LBA bits 24-27 (bit 6 = LBA mode, bit 4 = unit select)
7     status (clears INTRQ)      command (starts it)
CTL   alternate status           device control: bit 1 nIEN (no interrupts), bit 2 SRST
====  =========================  ==========================================================

Status bits: BSY 0x80, DRDY 0x40, DF 0x20, DRQ 0x08, ERR 0x01.  Error bits: UNC 0x40
(host I/O error), IDNF 0x10 (sector outside the unit), ABRT 0x04 (unknown command, write to a
read-only unit, no such unit).

Commands (LBA28 only): IDENTIFY DEVICE 0xEC, READ SECTORS 0x20, WRITE SECTORS 0x30,
FLUSH CACHE 0xE7.  The data port is string I/O (``rep insw``/``outsw`` of a real driver):
``data_in(n)``/``data_out(b)`` move whole runs of bytes, so one command moves up to 256 sectors
with a single interrupt (the READ/WRITE MULTIPLE behaviour with the block size set to the
count), which keeps PIO fast enough that the model needs no bus-master DMA.

Theory of operation.  Writing the command register runs the command at once (the host file
I/O is the "seek"): a read fills the sector buffer from the image, sets DRQ and raises the
interrupt line; a write sets DRQ and waits for ``count*512`` bytes on the data port, then
writes them to the image with ``os.pwrite`` (so an acknowledged write is in the image file,
write-through) and raises the line; FLUSH CACHE runs ``os.fsync``.  Reading the status
register acknowledges the device's interrupt (INTRQ); the interrupt controller's own in-service
state is ended by the driver's acknowledge IPC (see ``kernel.interrupt``).  A failure sets ERR
and the error register and still raises the line, so a driver is never left waiting.

Rules:
1. Registers are bytes; a command with BSY or DRQ set is refused (ABRT) — one at a time.
2. A unit is read-only when its image file is (no write permission) or when it was opened
   with ``readonly=True``; a write command to it fails with ABRT and writes nothing.
3. Only whole sectors move; the image is used up to its last whole sector.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hwsim.irq import InterruptController

SECTOR = 512
NUNITS = 2
CTL = 8  # the control block register (alternate status / device control)

# registers
DATA, ERROR, COUNT, LBA0, LBA1, LBA2, DEVICE, STATUS = range(8)
FEATURES, COMMAND = ERROR, STATUS
# status bits
BSY, DRDY, DF, DRQ, ERR = 0x80, 0x40, 0x20, 0x08, 0x01
# error bits
UNC, IDNF, ABRT = 0x40, 0x10, 0x04
# device control bits
NIEN, SRST = 0x02, 0x04
# device register bits
DEV_LBA, DEV_UNIT = 0x40, 0x10
# commands
IDENTIFY, READ, WRITE, FLUSH = 0xEC, 0x20, 0x30, 0xE7

MODEL = "LP49 HWSIM DISK"
FIRMWARE = "1.0"


@dataclass
class Unit:
    """One drive: an open image file."""

    path: str
    fd: int
    readonly: bool
    sectors: int  # whole sectors in the image

    @classmethod
    def open(cls, path: str, readonly: bool = False) -> Unit:
        """Open ``path``; read-only when asked or when the file cannot be written."""
        if not readonly and not os.access(path, os.W_OK):
            readonly = True
        fd = os.open(path, os.O_RDONLY if readonly else os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
        except OSError:
            os.close(fd)
            raise
        return cls(path, fd, readonly, size // SECTOR)

    def identify(self, serial: str) -> bytes:
        """The 256-word IDENTIFY DEVICE block (ATA strings are byte-swapped per word)."""
        w = [0] * 256
        w[0] = 0x0040  # fixed device
        w[47] = 0x8000 | 0xFF  # READ/WRITE MULTIPLE up to 256 sectors (rule: one IRQ/command)
        w[49] = 1 << 9  # LBA supported
        n = min(self.sectors, (1 << 28) - 1)
        w[60], w[61] = n & 0xFFFF, n >> 16
        w[83] = 1 << 12 | 1 << 14  # FLUSH CACHE supported
        for first, text, words in ((10, serial, 10), (23, FIRMWARE, 4), (27, MODEL, 20)):
            b = text.encode("ascii").ljust(2 * words)[: 2 * words]
            for i in range(words):
                w[first + i] = b[2 * i] << 8 | b[2 * i + 1]
        return b"".join(x.to_bytes(2, "little") for x in w)


@dataclass
class AtaController:
    """One ATA channel on interrupt line ``line`` of ``irqc``."""

    irqc: InterruptController | None = None
    line: int = 14
    units: list[Unit | None] = field(default_factory=lambda: [None] * NUNITS)
    regs: bytearray = field(default_factory=lambda: bytearray(8))
    status: int = DRDY
    error: int = 0
    control: int = 0
    intrq: bool = False  # the device's interrupt request (cleared by reading STATUS)
    buf: bytearray = field(default_factory=bytearray)  # sector buffer of a data transfer
    pos: int = 0  # next byte of buf on the data port
    pending: tuple[int, int] | None = None  # (unit, lba) of a write waiting for its data
    commands: int = 0  # commands run (tests, statistics)

    def attach(self, unit: int, path: str, readonly: bool = False) -> Unit:
        """Plug image ``path`` in as ``unit`` (0 or 1)."""
        if not 0 <= unit < NUNITS or self.units[unit] is not None:
            raise ValueError(f"ata unit {unit} not free")
        u = self.units[unit] = Unit.open(path, readonly)
        return u

    def close(self) -> None:
        """Close every image file."""
        for i, u in enumerate(self.units):
            if u is not None:
                os.close(u.fd)
                self.units[i] = None

    # -- port I/O ------------------------------------------------------------------------------
    def inb(self, reg: int) -> int:
        """Read register ``reg`` (0..7, or CTL)."""
        if reg == STATUS:
            self.intrq = False
            return self.status
        if reg == CTL:
            return self.status
        if reg == ERROR:
            return self.error
        if reg == DATA:
            return self.data_in(1)[0] if self.status & DRQ else 0
        return self.regs[reg]

    def outb(self, reg: int, value: int) -> None:
        """Write ``value`` (a byte) to register ``reg``."""
        value &= 0xFF
        if reg == COMMAND:
            self._command(value)
        elif reg == CTL:
            self.control = value
            if value & SRST:
                self._reset()
        elif reg == DATA:
            self.data_out(bytes((value,)))
        else:
            self.regs[reg] = value

    def data_in(self, n: int) -> bytes:
        """Read ``n`` bytes from the data port (less if the transfer ends first)."""
        if not self.status & DRQ or self.pending is not None:
            return b""
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += len(out)
        if self.pos >= len(self.buf):
            self.status &= ~DRQ
            self.buf = bytearray()
        return out

    def data_out(self, data: bytes) -> int:
        """Write bytes to the data port; the last byte of a write command starts the write."""
        if not self.status & DRQ or self.pending is None:
            return 0
        take = data[: len(self.buf) - self.pos]
        self.buf[self.pos : self.pos + len(take)] = take
        self.pos += len(take)
        if self.pos >= len(self.buf):
            unit, lba = self.pending
            self.pending = None
            self.status &= ~DRQ
            u = self.units[unit]
            assert u is not None
            try:
                os.pwrite(u.fd, self.buf, lba * SECTOR)
            except OSError:
                self._fail(UNC)
            self.buf = bytearray()
            self._interrupt()
        return len(take)

    # -- commands ------------------------------------------------------------------------------
    def _command(self, cmd: int) -> None:
        self.commands += 1
        if self.status & (BSY | DRQ):
            self._fail(ABRT)
            return
        self.status, self.error = DRDY, 0
        unit = 1 if self.regs[DEVICE] & DEV_UNIT else 0
        u = self.units[unit]
        if u is None:
            self._fail(ABRT)
            return
        count = self.regs[COUNT] or 256
        lba = (self.regs[DEVICE] & 0x0F) << 24 | self.regs[LBA2] << 16
        lba |= self.regs[LBA1] << 8 | self.regs[LBA0]
        if cmd == IDENTIFY:
            self._datain(u.identify(f"SD{id(self) & 0xFFFF:04X}U{unit}"))
        elif cmd in (READ, WRITE):
            if not self.regs[DEVICE] & DEV_LBA:
                self._fail(ABRT)  # CHS addressing is not modelled
            elif lba + count > u.sectors:
                self._fail(IDNF)
            elif cmd == READ:
                try:
                    data = os.pread(u.fd, count * SECTOR, lba * SECTOR)
                except OSError:
                    self._fail(UNC)
                    return
                if len(data) != count * SECTOR:
                    self._fail(UNC)
                    return
                self._datain(data)
            elif u.readonly:
                self._fail(ABRT)
            else:
                self.buf, self.pos, self.pending = bytearray(count * SECTOR), 0, (unit, lba)
                self.status |= DRQ  # PIO out: no interrupt before the first block
        elif cmd == FLUSH:
            try:
                if not u.readonly:
                    os.fsync(u.fd)
            except OSError:
                self._fail(UNC)
                return
            self._interrupt()
        else:
            self._fail(ABRT)

    def _datain(self, data: bytes) -> None:
        self.buf, self.pos = bytearray(data), 0
        self.status |= DRQ
        self._interrupt()

    def _fail(self, err: int) -> None:
        self.status = DRDY | ERR
        self.error = err
        self.buf, self.pos, self.pending = bytearray(), 0, None
        self._interrupt()

    def _reset(self) -> None:
        self.status, self.error = DRDY, 0
        self.buf, self.pos, self.pending, self.intrq = bytearray(), 0, None, False

    def _interrupt(self) -> None:
        self.intrq = True
        if self.irqc is not None and not self.control & NIEN:
            self.irqc.raise_line(self.line)

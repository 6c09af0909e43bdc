"""A register-level Ethernet card: descriptor rings in RAM, a MAC address, two interrupts.

The model is a cut-down Intel 8254x ("e1000") with its legacy descriptors, small enough to
read in one sitting.  A driver programs it only through 32-bit registers (``inl``/``outl``)
and the descriptor rings it puts in RAM frames; the card moves frame bytes by DMA
(``Ram.read``/``Ram.write``) and tells the driver what happened with an interrupt.

Registers (byte offsets)::

    CTRL   0x00  bit 0 RXEN receive on, bit 1 TXEN transmit on, bit 2 PROMISC, bit 31 RST
    STATUS 0x04  bit 0 LINK (a backend is attached)
    MACLO  0x08  MAC bytes 0-3 (byte 0 lowest)      MACHI 0x0C  MAC bytes 4-5
    ICR    0x10  interrupt causes; reading it clears them: bit 0 RXDONE, bit 1 TXDONE,
                 bit 2 RXMISS (a frame arrived with no free receive descriptor)
    IMS    0x14  interrupt mask: a cause interrupts only if its bit is set here
    RDBA   0x20  receive ring physical base     RDLEN 0x24  ring size in descriptors
    RDH    0x28  receive head (the card's)      RDT   0x2C  receive tail (the driver's)
    TDBA   0x30  transmit ring physical base    TDLEN 0x34  ring size in descriptors
    TDH    0x38  transmit head (the card's)     TDT   0x3C  transmit tail (the driver's)
    RXOK 0x40, RXMISSED 0x44, RXERR 0x48, TXOK 0x4C: counters (read only)

A descriptor is 16 bytes, little-endian: ``addr[8] length[2] status[2] pad[4]``; status bit
0 is DD (descriptor done), bit 1 EOP (end of packet; every frame fits one buffer here).

Rules
  1. Receive: the card owns descriptors [RDH, RDT) (ring order); it writes an arriving
     frame into the buffer of descriptor RDH, sets length and DD|EOP, advances RDH and
     raises RXDONE.  RDH == RDT means no free descriptor: the frame is dropped and counted
     (RXMISSED, cause RXMISS).  The driver hands buffers back by
     clearing DD and advancing RDT; it keeps one descriptor unused so a full ring is
     distinguishable from an empty one.
  2. Transmit: a write of TDT makes the card send every descriptor in [TDH, TDT): read
     ``length`` bytes at ``addr``, hand them to the backend, set DD, advance TDH; then raise
     TXDONE once.
  3. Frames shorter than 14 bytes (no Ethernet header) or longer than MAXFRAME (1514, no
     FCS) are errors: counted in RXERR on receive and in RXERR (as a driver error) on
     transmit, and never delivered.  Unless PROMISC, a received frame is taken only if its
     destination is this card's MAC or a group (multicast/broadcast) address.
  4. An interrupt is raised when a cause is set whose IMS bit is set; the line itself
     coalesces (``hwsim.irq``), the driver reads ICR to learn all causes at once.
  5. A register the model does not have reads 0 and ignores writes (as unmapped I/O space).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from hwsim.irq import InterruptController
from hwsim.ram import Ram

CTRL, STATUS, MACLO, MACHI, ICR, IMS = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14
RDBA, RDLEN, RDH, RDT = 0x20, 0x24, 0x28, 0x2C
TDBA, TDLEN, TDH, TDT = 0x30, 0x34, 0x38, 0x3C
RXOK, RXMISSED, RXERR, TXOK = 0x40, 0x44, 0x48, 0x4C

CTRL_RXEN, CTRL_TXEN, CTRL_PROMISC, CTRL_RST = 1, 2, 4, 1 << 31
STATUS_LINK = 1
ICR_RXDONE, ICR_TXDONE, ICR_RXMISS = 1, 2, 4
DD, EOP = 1, 2

DESC = struct.Struct("<QHHI")  # addr length status pad
DESCSIZE = DESC.size  # 16
ETHERHDR = 14  # dst[6] src[6] type[2]
MINFRAME = ETHERHDR
MAXFRAME = 1514  # header + 1500 bytes of payload, no FCS
MAXRING = 4096  # descriptors per ring

Transmit = Callable[[bytes], None]


class Nic:
    """One Ethernet card on interrupt line ``line`` of ``irqc``, doing DMA into ``ram``."""

    def __init__(self, ram: Ram, irqc: InterruptController | None, line: int, mac: bytes) -> None:
        if len(mac) != 6:
            raise ValueError("a MAC address is 6 bytes")
        self.ram = ram  # where the rings and buffers live
        self.irqc = irqc  # None: a card nobody wired (polled use in tests)
        self.line = line  # the interrupt line it raises
        self.mac = bytes(mac)  # the burned-in address (MACLO/MACHI read it)
        self.backend: Transmit | None = None  # where transmitted frames go (Rule 2)
        self.regs: dict[int, int] = {}
        self.reset()

    # -- the cable --
    def attach(self, transmit: Transmit) -> None:
        """Plug a backend in: ``transmit(frame)`` is called for every frame sent."""
        self.backend = transmit
        self.regs[STATUS] = STATUS_LINK

    def detach(self) -> None:
        """Unplug the backend: the link goes down, transmitted frames are lost."""
        self.backend = None
        self.regs[STATUS] = 0

    # -- registers --
    def reset(self) -> None:
        """Power-on state: everything 0 but STATUS and the MAC."""
        link = STATUS_LINK if self.backend is not None else 0
        self.regs = dict.fromkeys(range(0, 0x50, 4), 0)
        self.regs[STATUS] = link

    def inl(self, off: int) -> int:
        """Read the 32-bit register at ``off`` (Rule 5); reading ICR clears it."""
        if off == MACLO:
            return int.from_bytes(self.mac[:4], "little")
        if off == MACHI:
            return int.from_bytes(self.mac[4:], "little")
        v = self.regs.get(off, 0)
        if off == ICR:
            self.regs[ICR] = 0
        return v

    def outl(self, off: int, val: int) -> None:
        """Write the 32-bit register at ``off``; TDT starts transmission (Rule 2)."""
        val &= 0xFFFFFFFF
        if off == CTRL:
            if val & CTRL_RST:
                self.reset()
                return
            self.regs[CTRL] = val
        elif off == IMS:
            self.regs[IMS] = val
            self._cause(0)
        elif off in (RDBA, TDBA):
            self.regs[off] = val
        elif off in (RDLEN, TDLEN):
            self.regs[off] = min(val, MAXRING)
        elif off in (RDT, TDT, RDH, TDH):
            n = self.regs[RDLEN if off in (RDT, RDH) else TDLEN]
            self.regs[off] = val % n if n else 0
            if off == TDT:
                self._transmit()

    # -- the wire side --
    def receive(self, frame: bytes) -> bool:
        """A frame arrives from the backend (Rule 1, 3); True if it reached the ring."""
        r = self.regs
        if not r[CTRL] & CTRL_RXEN:
            return False
        if not MINFRAME <= len(frame) <= MAXFRAME:
            r[RXERR] += 1
            return False
        dst = frame[:6]
        if not r[CTRL] & CTRL_PROMISC and dst != self.mac and not dst[0] & 1:
            return False  # not for us: a real card filters without counting
        n = r[RDLEN]
        if n == 0 or r[RDH] == r[RDT]:
            r[RXMISSED] += 1
            self._cause(ICR_RXMISS)
            return False
        at = r[RDBA] + r[RDH] * DESCSIZE
        addr, _, _, _ = DESC.unpack(self.ram.read(at, DESCSIZE))
        self.ram.write(addr, frame)
        self.ram.write(at, DESC.pack(addr, len(frame), DD | EOP, 0))
        r[RDH] = (r[RDH] + 1) % n
        r[RXOK] += 1
        self._cause(ICR_RXDONE)
        return True

    def _transmit(self) -> None:
        r = self.regs
        n = r[TDLEN]
        sent = False
        while n and r[TDH] != r[TDT]:
            at = r[TDBA] + r[TDH] * DESCSIZE
            addr, length, status, _ = DESC.unpack(self.ram.read(at, DESCSIZE))
            if r[CTRL] & CTRL_TXEN and MINFRAME <= length <= MAXFRAME:
                frame = self.ram.read(addr, length)
                r[TXOK] += 1
                if self.backend is not None:
                    self.backend(frame)
            else:
                r[RXERR] += 1
            self.ram.write(at, DESC.pack(addr, length, status | DD, 0))
            r[TDH] = (r[TDH] + 1) % n
            sent = True
        if sent:
            self._cause(ICR_TXDONE)

    def _cause(self, bits: int) -> None:
        self.regs[ICR] |= bits
        if self.regs[ICR] & self.regs[IMS] and self.irqc is not None:
            self.irqc.raise_line(self.line)


def macstr(mac: bytes) -> str:
    """The 12 hex digits Plan 9 writes for a MAC address."""
    return mac.hex()


def parsemac(s: str) -> bytes:
    """``0a1b2c3d4e5f`` or ``0a:1b:2c:3d:4e:5f`` -> 6 bytes (ValueError otherwise)."""
    b = bytes.fromhex(s.replace(":", ""))
    if len(b) != 6:
        raise ValueError(f"bad MAC address {s!r}")
    return b

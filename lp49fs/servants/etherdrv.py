"""The card-specific half of ``#l``: programming ``hwsim.nic.Nic`` (Plan 9's ether8254x.c).

Plan 9 splits an Ethernet driver in two: ``devether.c`` is the file tree and the fan-out of
frames to connections, ``etherXXX.c`` knows one card's registers.  This module is the
second half.  It owns physical frames handed to it at boot (``frames``): frame 0 holds both
descriptor rings, the others are cut into ``BUFSIZE`` buffers, one per descriptor.

Theory of operation
-------------------
``init`` resets the card, writes the ring bases and sizes, fills every receive descriptor
with a buffer, gives the card all but one of them (RDT = NRX - 1: ``hwsim.nic`` Rule 1),
unmasks RXDONE | RXMISS and turns receive and transmit on.  It reads the MAC address once
(``ea``), as a real driver reads the EEPROM once.

``interrupt`` runs in the driver thread after the interrupt IPC: it reads ICR (which clears
it), then takes every receive descriptor the card has completed (DD set), in ring order,
copying the frame out and handing the descriptor straight back by writing RDT; it also
reclaims completed transmit descriptors.  It returns the frames taken.

``transmit`` copies a frame into the next transmit buffer, fills the descriptor and writes
TDT, which makes the card send it.  A full transmit ring (every descriptor still waiting for
the card) makes it unmask TXDONE and wait for it; the interrupt handler masks TXDONE
again.  So a transmit costs no interrupt unless a transmitter is waiting (a frame per
interrupt would double the interrupts of a TCP transfer: every data segment and every ACK).

Rules
  1. The driver touches the card only through ``inl``/``outl`` and RAM: never its fields.
  2. One descriptor of each ring stays unused, so head == tail always means empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import trio

from hwsim import nic as n
from hwsim.ram import PAGE_BITS, PAGE_SIZE, Ram

BUFSIZE = 2048  # one buffer per descriptor: holds a MAXFRAME frame
NRX = 64  # receive descriptors
NTX = 64  # transmit descriptors
PERFRAME = PAGE_SIZE // BUFSIZE
NFRAMES = 1 + (NRX + NTX) // PERFRAME  # frames the driver needs (ring frame + buffers)
RXMASK = n.ICR_RXDONE | n.ICR_RXMISS  # the causes that always interrupt


class EtherDriver:
    """Driver state for one ``Nic`` using the physical ``frames`` (NFRAMES of them)."""

    def __init__(self, nic: n.Nic, ram: Ram, frames: Sequence[int]) -> None:
        if len(frames) < NFRAMES:
            raise ValueError(f"the ether driver needs {NFRAMES} frames")
        self.nic = nic  # the card (registers only: Rule 1)
        self.ram = ram  # for copying frames in and out of the buffers
        ring = frames[0] << PAGE_BITS
        self.rdba = ring  # receive ring, NRX descriptors
        self.tdba = ring + NRX * n.DESCSIZE  # transmit ring, NTX descriptors
        bufs = [(f << PAGE_BITS) + i * BUFSIZE for f in frames[1:NFRAMES] for i in range(PERFRAME)]
        self.rxbuf = bufs[:NRX]  # buffer address of receive descriptor i
        self.txbuf = bufs[NRX : NRX + NTX]  # buffer address of transmit descriptor i
        self.rxnext = 0  # next receive descriptor the card will complete
        self.txnext = 0  # next free transmit descriptor (our TDT)
        self.txdone = trio.Event()  # set on TXDONE, for a transmitter waiting on a full ring
        self.misses = 0  # RXMISS causes seen (the card counts frames in RXMISSED)
        self.intrs = 0  # interrupts served
        self.ea = bytes(6)  # the MAC address, read from the card by init

    def mac(self) -> bytes:
        return (
            self.nic.inl(n.MACLO).to_bytes(4, "little")
            + self.nic.inl(n.MACHI).to_bytes(4, "little")[:2]
        )

    def init(self) -> None:
        """Program the card (see the module docstring)."""
        c = self.nic
        c.outl(n.CTRL, n.CTRL_RST)
        self.ea = self.mac()
        for i, addr in enumerate(self.rxbuf):
            self.ram.write(self.rdba + i * n.DESCSIZE, n.DESC.pack(addr, 0, 0, 0))
        for i, addr in enumerate(self.txbuf):
            self.ram.write(self.tdba + i * n.DESCSIZE, n.DESC.pack(addr, 0, n.DD, 0))
        c.outl(n.RDBA, self.rdba)
        c.outl(n.RDLEN, NRX)
        c.outl(n.RDH, 0)
        c.outl(n.RDT, NRX - 1)
        c.outl(n.TDBA, self.tdba)
        c.outl(n.TDLEN, NTX)
        c.outl(n.TDH, 0)
        c.outl(n.TDT, 0)
        c.outl(n.IMS, RXMASK)
        c.outl(n.CTRL, n.CTRL_RXEN | n.CTRL_TXEN)

    def promiscuous(self, on: bool) -> None:
        ctrl = self.nic.inl(n.CTRL)
        self.nic.outl(n.CTRL, ctrl | n.CTRL_PROMISC if on else ctrl & ~n.CTRL_PROMISC)

    def interrupt(self) -> list[bytes]:
        """Serve one interrupt: the frames received since the last one, in order."""
        icr = self.nic.inl(n.ICR)
        self.intrs += 1
        if icr & n.ICR_RXMISS:
            self.misses += 1
        if icr & n.ICR_TXDONE:
            self.nic.outl(n.IMS, RXMASK)  # nobody waits any more
            self.txdone.set()
            self.txdone = trio.Event()
        got: list[bytes] = []
        mv = self.ram.mv  # descriptors are read and written in place (no copies)
        while True:
            at = self.rdba + self.rxnext * n.DESCSIZE
            addr, length, status, _ = n.DESC.unpack_from(mv, at)
            if not status & n.DD:
                break
            got.append(self.ram.read(addr, length))
            n.DESC.pack_into(mv, at, addr, 0, 0, 0)
            self.nic.outl(n.RDT, self.rxnext)  # hand it back (Rule 2: it becomes the spare)
            self.rxnext = (self.rxnext + 1) % NRX
        return got

    async def transmit(self, frame: bytes) -> None:
        """Queue ``frame`` (header included) on the card; waits while the ring is full."""
        if not n.MINFRAME <= len(frame) <= n.MAXFRAME:
            raise ValueError("frame size out of range")
        while (self.txnext + 1) % NTX == self.nic.inl(n.TDH):
            done = self.txdone
            self.nic.outl(n.IMS, RXMASK | n.ICR_TXDONE)
            await done.wait()  # the card still owns every other descriptor
        i = self.txnext
        addr = self.txbuf[i]
        self.ram.write(addr, frame)
        n.DESC.pack_into(self.ram.mv, self.tdba + i * n.DESCSIZE, addr, len(frame), 0, 0)
        self.txnext = (i + 1) % NTX
        self.nic.outl(n.TDT, self.txnext)

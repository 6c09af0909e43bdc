"""hwsim.nic, its backends and the hub, driven by the real ring driver (servants.etherdrv).

Two cards on an in-process hub exchange frames through descriptor rings in RAM; the card's
checks (short, long, foreign frames, an exhausted ring) are counted; the hub's faults are
seen; and over a TAP device in a network namespace made here, Linux answers the card's ARP
request.
"""

from __future__ import annotations

import os
import struct
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import trio

from hwsim import nic as n
from hwsim.hub import Hub
from hwsim.irq import InterruptController
from hwsim.netback import HubPort, TapPort, backend
from hwsim.ram import Ram
from lp49fs.servants.etherdrv import NFRAMES, NRX, EtherDriver
from tests.waiting import await_until

BCAST = b"\xff" * 6


@dataclass
class Card:
    nic: n.Nic
    drv: EtherDriver
    irqc: InterruptController
    got: list[bytes]


def card(mac: bytes, line: int = 5) -> Card:
    """A NIC with its driver; interrupts are served at once (receive + acknowledge)."""
    ram = Ram(1 << 20)
    irqc = InterruptController(16)
    nic = n.Nic(ram, irqc, line, mac)
    drv = EtherDriver(nic, ram, range(10, 10 + NFRAMES))
    got: list[bytes] = []

    def interrupt(line: int) -> None:
        got.extend(drv.interrupt())
        irqc.eoi(line)

    irqc.connect(interrupt)
    drv.init()
    return Card(nic, drv, irqc, got)


def frame(dst: bytes, src: bytes, etype: int, payload: bytes) -> bytes:
    return dst + src + etype.to_bytes(2, "big") + payload


@asynccontextmanager
async def hub_with(path: str, cards: list[Card], **faults: float) -> AsyncIterator[Hub]:
    hub = Hub(path, **faults)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.serve)
        for c in cards:
            nursery.start_soon(HubPort(path).run, c.nic)
        await await_until(lambda: len(hub.ports) == len(cards), "ports to connect")
        yield hub
        nursery.cancel_scope.cancel()


MA, MB = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


async def test_two_cards_on_a_hub(tmp_path: os.PathLike[str]) -> None:
    a, b = card(MA), card(MB)
    assert a.drv.mac() == MA
    async with hub_with(f"{tmp_path}/hub", [a, b]):
        for i in range(3 * NRX):  # more than one ring's worth: descriptors are recycled
            await a.drv.transmit(frame(MB, MA, 0x88B5, i.to_bytes(4, "big") * 10))
        await await_until(lambda: len(b.got) == 3 * NRX, "every frame at b")
        assert [int.from_bytes(f[14:18], "big") for f in b.got] == list(range(3 * NRX))
        assert b.nic.inl(n.RXOK) == 3 * NRX and a.nic.inl(n.TXOK) == 3 * NRX
        assert b.irqc.count[5] >= 1 and a.got == []
        # a frame for someone else is filtered; a broadcast is taken; promiscuous takes all
        await a.drv.transmit(frame(b"\x02" * 6, MA, 0x88B5, b"x" * 46))
        await a.drv.transmit(frame(BCAST, MA, 0x88B5, b"y" * 46))
        await await_until(lambda: len(b.got) == 3 * NRX + 1, "the broadcast")
        assert b.got[-1][14:15] == b"y"
        b.drv.promiscuous(True)
        await a.drv.transmit(frame(b"\x02" * 6, MA, 0x88B5, b"z" * 46))
        await await_until(lambda: b.got[-1][14:15] == b"z", "the foreign frame")
    assert not os.path.exists(f"{tmp_path}/hub")


def test_bad_frames_and_a_full_ring_are_counted() -> None:
    b = card(MB)
    b.irqc.connect(lambda line: None)  # the driver is slow: nothing is taken off the ring
    assert not b.nic.receive(b"short")
    assert not b.nic.receive(frame(MB, MA, 0x800, bytes(1501)))
    assert b.nic.inl(n.RXERR) == 2
    for _ in range(NRX - 1):
        assert b.nic.receive(frame(MB, MA, 0x800, bytes(46)))
    assert not b.nic.receive(frame(MB, MA, 0x800, bytes(46)))
    assert b.nic.inl(n.RXMISSED) == 1
    assert len(b.drv.interrupt()) == NRX - 1 and b.drv.misses == 1
    assert b.nic.receive(frame(MB, MA, 0x800, bytes(46)))  # descriptors are back
    # registers the card does not have read 0 and ignore writes
    b.nic.outl(0x400, 7)
    assert b.nic.inl(0x400) == 0


async def test_hub_faults(tmp_path: os.PathLike[str]) -> None:
    for fault, expect in (("loss", 0), ("dup", 2)):
        a, b = card(MA), card(MB)
        async with hub_with(f"{tmp_path}/hub", [a, b], **{fault: 1.0}) as hub:
            await a.drv.transmit(frame(MB, MA, 0x88B5, b"q" * 46))
            await await_until(lambda: hub.counts["frames"] == 1, "the hub to see the frame")
            if expect:
                await await_until(lambda b=b: len(b.got) == 2, "both copies")
            await trio.testing.wait_all_tasks_blocked()
            assert len(b.got) == expect
    a, b = card(MA), card(MB)
    async with hub_with(f"{tmp_path}/hub", [a, b], reorder=0.5, seed=3) as hub:
        for i in range(40):
            await a.drv.transmit(frame(MB, MA, 0x88B5, bytes([i]) * 46))
        await await_until(lambda: len(b.got) == 40, "all 40 frames")
        order = [f[14] for f in b.got]
        assert sorted(order) == list(range(40)) and order != list(range(40))
        assert hub.counts["reordered"] > 0


def test_backend_specs() -> None:
    assert isinstance(backend("tap:lp49t0"), TapPort)
    assert isinstance(backend("hub:/tmp/x"), HubPort)
    with pytest.raises(ValueError, match="tap:NAME or hub:PATH"):
        backend("vde:/x")


def arp_request(smac: bytes, sip: bytes, tip: bytes) -> bytes:
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x800, 6, 4, 1, smac, sip, bytes(6), tip)
    return frame(BCAST, smac, 0x806, body + bytes(18))


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


async def test_tap_linux_answers_arp(require_root: None) -> None:
    """The card's cable is a TAP device moved into a namespace made here; Linux there owns
    10.77.0.1 and answers the card's ARP request for it."""
    ns, tap = f"lp49-{os.getpid()}-nic", f"lp49n{os.getpid() % 100000}"
    ip("netns", "add", ns)
    try:
        port = TapPort(tap)
        port.open()  # creates the interface in our namespace, then it moves
        ip("link", "set", tap, "netns", ns)
        ip("-n", ns, "addr", "add", "10.77.0.1/24", "dev", tap)
        ip("-n", ns, "link", "set", tap, "up")
        a = card(MA)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(port.run, a.nic)
            await await_until(lambda: a.nic.inl(n.STATUS) & n.STATUS_LINK, "the link")
            await a.drv.transmit(arp_request(MA, bytes([10, 77, 0, 2]), bytes([10, 77, 0, 1])))

            def reply() -> bool:
                return any(f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02" for f in a.got)

            await await_until(reply, "Linux's ARP reply")
            nursery.cancel_scope.cancel()
        r = next(f for f in a.got if f[12:14] == b"\x08\x06")
        assert r[:6] == MA and r[28:32] == bytes([10, 77, 0, 1])
        assert r[38:42] == bytes([10, 77, 0, 2])
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)

"""hwsim: RAM frames, interrupt lines, the timer on trio's clock, the UART and its consoles."""

from __future__ import annotations

import os
import pathlib

import pytest
import trio
import trio.testing

from hwsim import PAGE_SIZE, Machine, Uart
from hwsim.bus import Bus
from hwsim.console import open_pty, serve_unix
from hwsim.irq import InterruptController
from hwsim.ram import Ram
from tests.waiting import DEADLINE, await_until


def test_ram_frames_are_views_of_one_buffer() -> None:
    ram = Ram(3 * PAGE_SIZE + 1)
    assert ram.nframes == 4 and ram.size == 4 * PAGE_SIZE
    ram.frame(2)[0:3] = b"abc"
    assert ram.read(2 * PAGE_SIZE, 3) == b"abc"
    ram.write(PAGE_SIZE - 1, b"xy")  # straddles frames 0 and 1
    assert bytes(ram.frame(1)[:1]) == b"y"
    ram.zero_frame(2)
    assert ram.read(2 * PAGE_SIZE, 3) == bytes(3)
    with pytest.raises(IndexError):
        ram.frame(4)
    with pytest.raises(IndexError):
        ram.read(ram.size - 1, 2)


def test_irq_in_service_coalesces_until_eoi() -> None:
    irqc = InterruptController(8)
    seen: list[int] = []
    irqc.raise_line(3)  # nobody connected: stays pending
    irqc.connect(seen.append)
    irqc.raise_line(3)
    assert seen == [3]
    irqc.raise_line(3)
    irqc.raise_line(3)
    assert seen == [3]  # in service: coalesced
    irqc.eoi(3)
    assert seen == [3, 3]  # the coalesced raise is delivered at eoi
    irqc.eoi(3)
    assert seen == [3, 3]
    irqc.disable(5)
    irqc.raise_line(5)
    assert seen == [3, 3]
    irqc.enable(5)
    assert seen == [3, 3, 5]
    with pytest.raises(IndexError):
        irqc.raise_line(8)


async def test_timer_ticks_on_trio_clock(autojump_clock: trio.testing.MockClock) -> None:
    m = Machine(ram_size=1 << 20, timer_period=0.5)
    lines: list[int] = []
    m.irqc.connect(lambda n: (lines.append(n), m.irqc.eoi(n)))
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(m.timer.run)
        await trio.sleep(2.25)
        nursery.cancel_scope.cancel()
    assert m.timer.ticks == 4 and lines == [0, 0, 0, 0]
    assert trio.current_time() - start == pytest.approx(2.25)


def test_uart_tx_sinks_and_rx_fifo_with_interrupt() -> None:
    irqc = InterruptController(8)
    irqs: list[int] = []
    irqc.connect(irqs.append)
    u = Uart(irqc, line=4, fifo_size=4)
    out1: list[bytes] = []
    out2: list[bytes] = []
    u.write(b"lost")  # nothing attached: dropped
    detach = u.attach_output(out1.append)
    u.attach_output(out2.append)
    u.putc(ord("h"))
    u.write(b"i\n")
    detach()
    u.write(b"!")
    assert out1 == [b"h", b"i\n"] and out2 == [b"h", b"i\n", b"!"]
    assert u.tx_count == 8
    assert u.getc() is None and u.rx_pending() == 0
    u.feed(b"ab")
    assert irqs == [4] and u.rx_pending() == 2
    u.feed(b"cdef")  # FIFO holds 4: two dropped; line in service, no new delivery
    assert irqs == [4] and u.overruns == 2
    got = []
    while (c := u.getc()) is not None:
        got.append(c)
    assert bytes(got) == b"abcd"
    irqc.eoi(4)
    assert irqs == [4, 4]  # the raise made while in service arrives after eoi


def test_bus_plug_find_and_machine_wiring() -> None:
    m = Machine(ram_size=1 << 20)
    assert m.bus.get("uart0") is m.uart and m.bus.irq_of("uart0") == 4
    assert m.bus.find(Uart) == [("uart0", m.uart)]
    n = m.alloc_irq()
    assert n not in (0, 4)
    with pytest.raises(ValueError):
        m.bus.plug("uart0", object())
    b = Bus()
    b.plug("x", 1)
    b.unplug("x")
    with pytest.raises(KeyError):
        b.get("x")


async def test_unix_socket_console(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "cons")
    irqc = InterruptController(8)
    irqc.connect(lambda n: None)
    u = Uart(irqc)
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_unix, u, path)
        stream = await trio.open_unix_socket(path)
        await stream.send_all(b"echo hi\npart")
        await await_until(lambda: u.rx_pending() >= 8, "the line in the rx FIFO")
        assert bytes(u.rx) == b"echo hi\n"
        u.write(b"hi\n")
        with trio.fail_after(DEADLINE):
            assert await stream.receive_some() == b"hi\n"
        await stream.aclose()
        await await_until(lambda: u.rx_pending() >= 12, "the unterminated tail, fed at EOF")
        nursery.cancel_scope.cancel()


async def test_pty_console() -> None:
    u = Uart(None)
    path, serve = open_pty(u)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"ls\n")
            await await_until(lambda: u.rx_pending() >= 3, "the typed line")
            assert bytes(u.rx) == b"ls\n"
            u.write(b"ok")
            with trio.fail_after(DEADLINE):
                await trio.lowlevel.wait_readable(fd)
            assert os.read(fd, 10) == b"ok"
        finally:
            os.close(fd)
        nursery.cancel_scope.cancel()

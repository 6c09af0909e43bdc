"""A UART console: a transmit side that feeds attached sinks and a receive FIFO with an IRQ.

Theory of operation:
- Transmit: ``putc``/``write`` hand the bytes to every sink attached with ``attach_output``
  (the daemon's terminal, a pty, a unix-socket peer, a test's list), in attach order.  A UART
  with no sink drops output, like a serial line with nothing plugged in; ``tx_count`` counts.
- Receive: the host side calls ``feed(data)`` with bytes "typed at the console".  They enter
  the RX FIFO and the UART raises its interrupt line.  A driver waits for that interrupt (as
  IPC from the interrupt thread, see ``kernel``), drains with ``getc`` until it returns None,
  then replies to re-enable the line.

Rules:
1. ``getc`` never blocks: it pops one byte or returns None.
2. Every ``feed`` of non-empty data raises the line once; the interrupt controller coalesces
   raises while the driver is still serving an earlier one, so a driver that drains the FIFO
   completely before re-enabling never loses bytes.
3. The FIFO is bounded by ``fifo_size``; bytes fed beyond it are dropped and counted in
   ``overruns`` (a real 16550 loses them too).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from hwsim.irq import InterruptController

Sink = Callable[[bytes], None]


class Uart:
    """A serial console device on interrupt line ``line`` of ``irqc``."""

    def __init__(
        self, irqc: InterruptController | None = None, line: int = 4, fifo_size: int = 1 << 16
    ) -> None:
        self.irqc = irqc  # None: a UART not wired to any interrupt (polled use, tests)
        self.line = line  # interrupt line raised when bytes arrive
        self.fifo_size = fifo_size  # RX FIFO bound in bytes
        self.rx: deque[int] = deque()  # received bytes not yet read by getc
        self.sinks: list[Sink] = []  # output callbacks, called in attach order
        self.tx_count = 0  # bytes transmitted
        self.overruns = 0  # bytes dropped because the RX FIFO was full

    # -- transmit (machine side) --
    def putc(self, c: int) -> None:
        """Transmit one byte ``c`` (0..255)."""
        self.write(bytes((c,)))

    def write(self, data: bytes) -> None:
        """Transmit ``data``: every attached sink is called with it."""
        if not data:
            return
        data = bytes(data)
        self.tx_count += len(data)
        for sink in list(self.sinks):
            sink(data)

    def attach_output(self, callback: Sink) -> Callable[[], None]:
        """Send future output to ``callback``; returns a function that detaches it."""
        self.sinks.append(callback)

        def detach() -> None:
            if callback in self.sinks:
                self.sinks.remove(callback)

        return detach

    # -- receive (host side feeds, machine side reads) --
    def feed(self, data: bytes) -> None:
        """Host side: ``data`` was typed at the console; queue it and raise the interrupt."""
        if not data:
            return
        room = self.fifo_size - len(self.rx)
        if len(data) > room:
            self.overruns += len(data) - room
            data = data[:room]
        self.rx.extend(data)
        if self.irqc is not None:
            self.irqc.raise_line(self.line)

    def rx_pending(self) -> int:
        """Bytes waiting in the RX FIFO."""
        return len(self.rx)

    def getc(self) -> int | None:
        """Pop one received byte, or None if the FIFO is empty (never blocks)."""
        return self.rx.popleft() if self.rx else None

"""Interrupt lines and the interrupt controller (a PIC in spirit).

Theory of operation: a device calls ``raise_line(n)``.  The line becomes *pending*.  If the
line is enabled and not already *in service*, the controller delivers it at once: it marks the
line in service, clears pending, and calls the CPU-side handler installed with ``connect``
(the kernel, which turns it into IPC from an interrupt thread).  The line stays in service
(no further deliveries) until ``eoi(n)`` ends the interrupt; if the line was raised again in
the meantime, ``eoi`` delivers it again right away.  ``disable``/``enable`` mask a line.

Rules:
1. At most one delivery of a line is outstanding: between a delivery and its ``eoi`` the line
   is in service, and raises only set pending.
2. Raises coalesce: several raises while in service or disabled give one later delivery.
3. Delivery is synchronous and the handler must not block (it runs in the raiser's task).
"""

from __future__ import annotations

from collections.abc import Callable


class InterruptController:
    """``nlines`` interrupt lines with pending/in-service/enabled state."""

    def __init__(self, nlines: int = 32) -> None:
        self.nlines = nlines
        self.pending = [False] * nlines  # raised, not yet delivered
        self.in_service = [False] * nlines  # delivered, waiting for eoi
        self.enabled = [True] * nlines  # not masked
        self.count = [0] * nlines  # deliveries so far (for tests and /dev/irqstat-like views)
        self._handler: Callable[[int], None] | None = None

    def connect(self, handler: Callable[[int], None]) -> None:
        """Install the CPU side: ``handler(line)`` is called for each delivery."""
        self._handler = handler

    def raise_line(self, n: int) -> None:
        """A device asserts line ``n``; delivers it now if the line is free."""
        self._check(n)
        self.pending[n] = True
        self._deliver(n)

    def eoi(self, n: int) -> None:
        """End of interrupt on line ``n``: the line may be delivered again."""
        self._check(n)
        self.in_service[n] = False
        self._deliver(n)

    def enable(self, n: int) -> None:
        """Unmask line ``n`` (delivers a pending raise)."""
        self._check(n)
        self.enabled[n] = True
        self._deliver(n)

    def disable(self, n: int) -> None:
        """Mask line ``n``: raises stay pending."""
        self._check(n)
        self.enabled[n] = False

    def _deliver(self, n: int) -> None:
        if not self.pending[n] or self.in_service[n] or not self.enabled[n]:
            return
        if self._handler is None:
            return  # nobody connected yet: stays pending
        self.pending[n] = False
        self.in_service[n] = True
        self.count[n] += 1
        self._handler(n)

    def _check(self, n: int) -> None:
        if not 0 <= n < self.nlines:
            raise IndexError(f"no interrupt line {n}")

"""Physical memory: RAM of a configurable size, cut into 4 KiB frames over one buffer.

Theory of operation: one ``bytearray`` holds all of RAM; frame ``n`` is the byte range
``[n*PAGE_SIZE, (n+1)*PAGE_SIZE)``.  ``frame(n)`` hands out a ``memoryview`` of that range, so
the kernel's ``load``/``store`` copy straight into and out of the buffer without an extra copy.

Rules:
1. The size is a whole number of frames (rounded up at creation); it never changes.
2. Physical addresses run from 0 to ``size``; anything else is a caller error (``IndexError``),
   which the kernel above checks before it reaches here.
"""

from __future__ import annotations

PAGE_BITS = 12
PAGE_SIZE = 1 << PAGE_BITS  # 4 KiB, the only page size of the ia32-like model


class Ram:
    """RAM as ``nframes`` frames of PAGE_SIZE bytes over one buffer."""

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError("RAM size must be positive")
        self.nframes = (size + PAGE_SIZE - 1) // PAGE_SIZE  # number of 4 KiB frames
        self.size = self.nframes * PAGE_SIZE  # bytes
        self.buf = bytearray(self.size)  # the memory itself
        self.mv = memoryview(self.buf)  # zero-copy window over buf

    def frame(self, n: int) -> memoryview:
        """The bytes of frame ``n`` (a view: writes go to RAM)."""
        if not 0 <= n < self.nframes:
            raise IndexError(f"frame {n} outside RAM of {self.nframes} frames")
        return self.mv[n << PAGE_BITS : (n + 1) << PAGE_BITS]

    def read(self, paddr: int, n: int) -> bytes:
        """Copy ``n`` bytes at physical address ``paddr`` (a DMA-style access for devices)."""
        if paddr < 0 or paddr + n > self.size:
            raise IndexError("physical read outside RAM")
        return bytes(self.mv[paddr : paddr + n])

    def write(self, paddr: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` to physical address ``paddr``."""
        if paddr < 0 or paddr + len(data) > self.size:
            raise IndexError("physical write outside RAM")
        self.mv[paddr : paddr + len(data)] = data

    def zero_frame(self, n: int) -> None:
        """Fill frame ``n`` with zero bytes."""
        self.frame(n)[:] = bytes(PAGE_SIZE)

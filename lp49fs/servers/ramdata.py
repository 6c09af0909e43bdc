"""The contents of a ramfs file: sparse blocks, so a write far out stores one block.

A ``Blocks`` is a file's bytes as a dict of fixed-size blocks (``BLOCK`` bytes) plus a
length.  A block that was never written is a hole and reads as zeros; writing at offset
3 GiB stores one block, not 3 GB of zeros.  Truncation drops whole blocks past the new
length and zeroes the tail of the last one, so bytes beyond a shrink never come back.

``Store`` is the server-wide account of bytes held in blocks: every block added or dropped
goes through it (a dropped file's blocks when the file is freed), and an addition over its
``limit`` raises ``file system full`` before anything changes.  ``maxfile`` bounds a file's
length: ``file too large``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lp49fs.errors import Efbig, Efull, Error

BLOCK = 8192
MAXFILE = 1 << 40  # default longest file: 1 TiB of (mostly hole) length
MAXSTORE = 512 << 20  # default bytes of blocks one ramfs may hold


@dataclass
class Store:
    """Bytes held by all files of one server, against ``limit``; ``maxfile`` per file."""

    limit: int = MAXSTORE
    maxfile: int = MAXFILE
    used: int = 0

    def take(self, nbytes: int) -> None:
        if self.used + nbytes > self.limit:
            raise Error(Efull)
        self.used += nbytes

    def give(self, nbytes: int) -> None:
        self.used -= nbytes


class Blocks:
    """A sparse byte string (module docstring)."""

    __slots__ = ("blocks", "length", "store")

    def __init__(self, store: Store) -> None:
        self.store = store
        self.blocks: dict[int, bytearray] = {}
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def __bool__(self) -> bool:
        return self.length > 0

    def read(self, offset: int, count: int) -> bytes:
        end = min(self.length, offset + count)
        if offset >= end:
            return b""
        parts: list[bytes | memoryview] = []  # views of the blocks, joined once: one copy
        while offset < end:
            i, at = divmod(offset, BLOCK)
            n = min(BLOCK - at, end - offset)
            b = self.blocks.get(i)
            parts.append(memoryview(b)[at : at + n] if b is not None else bytes(n))
            offset += n
        return b"".join(parts)

    def _new(self, offset: int, data: bytes) -> int:
        """Bytes of blocks a write of ``data`` at ``offset`` adds; Error past ``maxfile``."""
        end = offset + len(data)
        if offset < 0 or end > self.store.maxfile:
            raise Error(Efbig)
        first, last = offset // BLOCK, (end - 1) // BLOCK if data else offset // BLOCK - 1
        return BLOCK * sum(1 for i in range(first, last + 1) if i not in self.blocks)

    def check(self, offset: int, data: bytes) -> None:
        """The Error ``write(offset, data)`` would raise, if any (nothing changes)."""
        if self.store.used + self._new(offset, data) > self.store.limit:
            raise Error(Efull)

    def write(self, offset: int, data: bytes) -> None:
        """Store ``data`` at ``offset``; Error (and no change) past the limits."""
        end = offset + len(data)
        self.store.take(self._new(offset, data))
        view = memoryview(data)
        while view:
            i, at = divmod(offset, BLOCK)
            b = self.blocks.get(i)
            if b is None:
                b = self.blocks[i] = bytearray(BLOCK)
            n = min(BLOCK - at, len(view))
            b[at : at + n] = view[:n]
            view, offset = view[n:], offset + n
        self.length = max(self.length, end)

    def truncate(self, length: int) -> None:
        """Make the file ``length`` bytes long (a longer one gains a hole)."""
        if length < 0 or length > self.store.maxfile:
            raise Error(Efbig)
        if length < self.length:
            keep = -(-length // BLOCK)  # blocks that still hold data
            for i in [i for i in self.blocks if i >= keep]:
                del self.blocks[i]
                self.store.give(BLOCK)
            tail = self.blocks.get(length // BLOCK)
            if tail is not None:
                at = length % BLOCK
                tail[at:] = bytes(BLOCK - at)
        self.length = length

    def clear(self) -> None:
        self.truncate(0)

    def __del__(self) -> None:
        """A file nothing refers to any more (removed, last fid clunked) gives its blocks
        back to the store."""
        self.store.give(len(self.blocks) * BLOCK)


def size(text: str) -> int:
    """``512M``-style sizes (``lp49 ramfs --maxsize``, ``ramfs -r``); ValueError if not one."""
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(text[-1:].upper(), 1)
    n = int(text[:-1] if mult > 1 else text)
    if n <= 0:
        raise ValueError(text)
    return n * mult

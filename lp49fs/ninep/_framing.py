"""Framer: cut a byte stream into whole 9P frames, whatever the chunking.

``feed(data)`` appends bytes as they arrive (one ``receive_some`` may hold half a message or
several); ``next_frame()`` returns the next whole frame (``size[4]`` included) or
``NEED_DATA``.  The frame is not decoded here, so a transport can also relay frames.

Rules:

Rule 1. A size below 7 (``size[4] type[1] tag[2]``) or above ``max_size`` is a
        ``ProtocolError`` as soon as the four size bytes are in; the buffer is then
        poisoned and every later ``next_frame`` raises the same error.
Rule 2. ``max_size`` may be lowered after version negotiation (``Framer.max_size = msize``).
"""

from __future__ import annotations

import enum
from typing import Final, Literal

from ._constants import HDRSZ
from ._errors import ProtocolError


class _Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return self.value


NEED_DATA: Final = _Sentinel.NEED_DATA
NeedData = Literal[_Sentinel.NEED_DATA]


class Framer:
    """Reassembles 9P frames from arbitrary chunks of a byte stream."""

    __slots__ = ("_buf", "_error", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size  # largest frame accepted (the msize)
        self._buf = bytearray()  # bytes received and not yet returned
        self._error: ProtocolError | None = None  # set once the stream is known bad

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet form a whole frame (or have not been taken)."""
        return len(self._buf)

    def next_frame(self) -> bytes | NeedData:
        """The next whole frame, or NEED_DATA; ProtocolError on an impossible size."""
        if self._error is not None:
            raise self._error
        buf = self._buf
        if len(buf) < 4:
            return NEED_DATA
        size = buf[0] | buf[1] << 8 | buf[2] << 16 | buf[3] << 24
        if size < HDRSZ or size > self.max_size:
            self._error = ProtocolError(
                f"frame size {size} outside [{HDRSZ}, {self.max_size}]")
            raise self._error
        if len(buf) < size:
            return NEED_DATA
        frame = bytes(buf[:size])
        del buf[:size]
        return frame

"""Framer: cut a byte stream into whole 9P frames, whatever the chunking.

Two ways in, two ways out:

* ``feed(data)`` copies bytes that arrived elsewhere (one ``receive_some`` may hold half a
  message or several);
* ``recv_buffer()`` gives a writable memoryview of the free space, so a transport can
  ``recv_into`` it directly (no intermediate bytes object), then reports with ``received(n)``;
* ``next_frame()`` returns the next whole frame (``size[4]`` included) as ``bytes`` (one copy
  out of the buffer) or ``NEED_DATA``;
* ``next_view()`` returns it as a memoryview into the buffer (no copy), valid only until the
  next ``feed``/``recv_buffer`` call: the caller decodes it at once (``decode`` accepts it).

The frame is not decoded here, so a transport can also relay frames.

Theory of operation: one bytearray (``_buf``) holds the unconsumed bytes in
``[_start, _end)``.  Taking a frame only moves ``_start``; when everything is taken both go
back to 0, and otherwise the remainder is moved to the front only when the free space at the
end is too small for what is expected next (the rest of a frame whose size is known, or
``CHUNK`` bytes).  The buffer is replaced by a larger one only when a frame does not fit: it
grows to the largest frame seen (at most ``max_size``) and stays, so a stream of 1 MiB frames
reuses one 1 MiB buffer.  That reuse is lp49fs's answer to glibc's mmap threshold (every
fresh ~1 MiB allocation is a new mmap whose pages fault in one by one): the big receive
buffer is allocated once per connection instead of once per frame, with no process-wide
``mallopt`` or environment variable.  A bigger buffer is a new bytearray (never an in-place
resize), so views handed out earlier stay valid memory even after their contract ended.

Rules:

Rule 1. A size below 7 (``size[4] type[1] tag[2]``) or above ``max_size`` is a
        ``ProtocolError`` as soon as the four size bytes are in; the buffer is then
        poisoned and every later ``next_frame`` raises the same error.
Rule 2. ``max_size`` may be lowered after version negotiation (``Framer.max_size = msize``).
Rule 3. A view from ``next_view`` or ``recv_buffer`` is valid until the next ``feed``,
        ``recv_buffer`` or ``received`` call; bytes from ``next_frame`` are the caller's.
"""

from __future__ import annotations

import enum
from typing import Final, Literal

from ._constants import HDRSZ
from ._errors import ProtocolError

CHUNK = 65536  # free space offered to recv_into when no frame size is known yet


class _Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return self.value


NEED_DATA: Final = _Sentinel.NEED_DATA
NeedData = Literal[_Sentinel.NEED_DATA]


class Framer:
    """Reassembles 9P frames from arbitrary chunks of a byte stream."""

    __slots__ = ("_buf", "_end", "_error", "_start", "_view", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size  # largest frame accepted (the msize)
        self._buf = bytearray()  # [_start, _end) holds bytes not yet taken
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self._error: ProtocolError | None = None  # set once the stream is known bad

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet form a whole frame (or have not been taken)."""
        return self._end - self._start

    def _want(self) -> int:
        """Bytes the free space should hold: the rest of the current frame, or CHUNK."""
        have = self._end - self._start
        if have >= 4:
            b, s = self._buf, self._start
            size = b[s] | b[s + 1] << 8 | b[s + 2] << 16 | b[s + 3] << 24
            if HDRSZ <= size <= self.max_size and size > have:
                return max(size - have, CHUNK) if size <= CHUNK else size - have
        return CHUNK

    def _make_room(self, need: int) -> None:
        """Ensure ``need`` free bytes after ``_end`` (compacting, or a bigger buffer)."""
        have = self._end - self._start
        if self._start == self._end:
            self._start = self._end = 0
        if len(self._buf) - self._end >= need:
            return
        if have + need <= len(self._buf):  # move the remainder to the front
            part = self._view[self._start:self._end]
            # slice assignment is a memcpy: copy first if source and target overlap
            self._buf[:have] = part if have <= self._start else part.tobytes()
        else:  # grow: a new buffer (old views stay valid memory)
            buf = bytearray(max(have + need, CHUNK))
            buf[:have] = self._view[self._start:self._end]
            self._buf, self._view = buf, memoryview(buf)
        self._start, self._end = 0, have

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        n = len(data)
        self._make_room(n)
        self._buf[self._end:self._end + n] = data
        self._end += n

    def recv_buffer(self) -> memoryview:
        """Free space to receive into (at least the rest of the current frame); Rule 3."""
        self._make_room(self._want())
        return self._view[self._end:]

    def received(self, n: int) -> None:
        """``n`` bytes were written at the start of the last ``recv_buffer()``."""
        if n < 0 or self._end + n > len(self._buf):
            raise ValueError(f"received {n} bytes into {len(self._buf) - self._end} free")
        self._end += n

    def _take(self) -> int:
        """The size of the whole frame at ``_start``, or 0 if it is not all in yet."""
        if self._error is not None:
            raise self._error
        s = self._start
        if self._end - s < 4:
            return 0
        b = self._buf
        size = b[s] | b[s + 1] << 8 | b[s + 2] << 16 | b[s + 3] << 24
        if size < HDRSZ or size > self.max_size:
            self._error = ProtocolError(
                f"frame size {size} outside [{HDRSZ}, {self.max_size}]")
            raise self._error
        if self._end - s < size:
            return 0
        self._start = s + size
        return size

    def next_frame(self) -> bytes | NeedData:
        """The next whole frame, or NEED_DATA; ProtocolError on an impossible size."""
        size = self._take()
        if not size:
            return NEED_DATA
        s = self._start - size
        return self._view[s:s + size].tobytes()

    def next_view(self) -> memoryview | NeedData:
        """Like ``next_frame`` but a view into the buffer, valid until the next
        ``feed``/``recv_buffer``/``received`` (Rule 3)."""
        size = self._take()
        if not size:
            return NEED_DATA
        s = self._start - size
        return self._view[s:s + size]

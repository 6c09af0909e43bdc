"""Link: the one description of the byte stream that carries 9P frames.

Nothing in ``lp49fs.ninep`` does I/O; this is only the shape that the I/O side (trio
transports, the mount servant's server link, an LP49 fd link, any trio Stream in tests)
offers to the 9P client and server loops, so that they all name one protocol.  A link may
also offer ``receive_into(buffer) -> int`` and ``send_parts(buffers)``, which the loops use
when present (``lp49fs.transport`` says how).
"""

from __future__ import annotations

from typing import Protocol


class Link(Protocol):
    """A reliable byte stream: ``receive_some`` returns b"" at EOF and never one frame
    by promise; ``send_all`` writes everything; ``aclose`` ends it."""

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray: ...

    async def send_all(self, data: bytes | bytearray | memoryview) -> None: ...

    async def aclose(self) -> None: ...

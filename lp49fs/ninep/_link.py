"""Link: the one description of the byte stream that carries 9P frames.

Nothing in ``lp49fs.ninep`` does I/O; this is only the shape that the I/O side (trio
transports, the mount servant's server link, an LP49 fd link, any trio Stream in tests)
offers to the 9P client and server loops, so that they all name one protocol.  A link may
also offer ``receive_into(buffer) -> int`` and ``send_parts(buffers)``, which the loops use
when present (``lp49fs.transport`` says how).  ``PrefixLink`` wraps a link whose first
bytes were already read (to tell a handshake or TLS from 9P) and gives them back first.
"""

from __future__ import annotations

from typing import Protocol


class Link(Protocol):
    """A reliable byte stream: ``receive_some`` returns b"" at EOF and never one frame
    by promise; ``send_all`` writes everything; ``aclose`` ends it."""

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray: ...

    async def send_all(self, data: bytes | bytearray | memoryview) -> None: ...

    async def aclose(self) -> None: ...


class PrefixLink:
    """A link that first returns ``prefix`` (bytes already read to look at, as the export
    handshake and the TLS-or-9P check do), then what ``link`` receives."""

    def __init__(self, link: Link, prefix: bytes = b"") -> None:
        self.link = link
        self.prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self.prefix:
            n = len(self.prefix) if max_bytes is None else max_bytes
            data, self.prefix = self.prefix[:n], self.prefix[n:]
            return data
        return bytes(await self.link.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.link.send_all(data)

    async def aclose(self) -> None:
        await self.link.aclose()

    def peer(self) -> str:
        """The wrapped link's peer (for log lines), or "import" if it names none."""
        peer = getattr(self.link, "peer", None)
        return str(peer()) if callable(peer) else "import"

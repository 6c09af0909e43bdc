"""Bounds on what one listener's clients can hold: a connection cap and an idle timeout.

* ``MAXCONNS`` connections are served at once (``serve_forever``'s ``maxconns``); the next
  one is not accepted until a slot frees, so it waits in the kernel's listen backlog
  instead of costing the server memory or file descriptors.
* ``IdleLink`` ends a connection on which nothing arrives for ``idle`` seconds: its
  ``receive_some`` raises ``trio.BrokenResourceError("idle ...")``, which the server treats
  like a hang-up, releasing every fid of the connection.  A client blocked waiting for a
  long reply (a read of /dev/cons) counts as idle too: the timeout is meant for dead or
  hostile clients, so its default is long.
* ``HANDSHAKE`` bounds what comes before 9P on a connection (the node's exportfs: TLS and
  the import handshake), so a caller that connects and stalls is dropped early.
"""

from __future__ import annotations

from typing import Any

import trio

MAXCONNS = 256
IDLE = 600.0  # seconds without a byte from the client
HANDSHAKE = 30.0  # seconds for a connection's handshake (TLS, import) before 9P


class IdleLink:
    """``link`` whose receives give up after ``idle`` seconds of silence (module docstring)."""

    def __init__(self, link: Any, idle: float) -> None:
        self.link = link
        self.idle = idle
        # keep the link's fast paths (lib9p.srv looks for them with getattr)
        if hasattr(link, "send_parts"):
            self.send_parts = link.send_parts
        if hasattr(link, "receive_into"):
            self.receive_into = self._receive_into

    async def _receive_into(self, buffer: memoryview) -> int:
        with trio.move_on_after(self.idle):
            return int(await self.link.receive_into(buffer))
        raise trio.BrokenResourceError(f"idle for {self.idle:g} s")

    def peer(self) -> str:
        peer = getattr(self.link, "peer", None)
        return str(peer()) if callable(peer) else "idle link"

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        with trio.move_on_after(self.idle):
            return bytes(await self.link.receive_some(max_bytes))
        raise trio.BrokenResourceError(f"idle for {self.idle:g} s")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.link.send_all(data)

    async def aclose(self) -> None:
        await self.link.aclose()

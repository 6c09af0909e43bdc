"""An fd as a link: what ``lp49fs.lib9p`` (client Session, server framework) reads and writes.

``FdLink(fd)`` gives an open file descriptor -- one end of a ``pipe()``, a posted ``/srv``
channel, a network data file -- the link interface ``receive_some(max)`` / ``send_all(data)``
/ ``aclose()``, made of ``read``/``write``/``close`` system calls.  So a server process can
serve 9P on a pipe fd with nothing but system calls, and a client can run a Session on one.

Rules:
1. ``receive_some`` returns what one ``read`` returns (a pipe keeps message boundaries, so one
   9P message per read when the writer wrote whole messages); b"" is end of file.  A hung-up
   pipe (``i/o on hungup channel``) also reads as end of file.
2. ``send_all`` writes everything (``write`` loops over MAXIO pieces).
3. ``aclose`` closes the fd once; later calls do nothing.
4. ``serving(srv)``: lib9p's ``serve`` runs it beside a connection it serves on this link;
   it is the connection's service-bus endpoint (``lp49fs.lib.bussrv``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lp49fs.errors import Ehungup, Error
from lp49fs.lib import bussrv, sys

if TYPE_CHECKING:
    from lp49fs.lib9p.srv import Srv

DEFAULT_READ = 65536 + 24  # enough for one 64 KiB-msize 9P message


class FdLink:
    """A link over file descriptor ``fd`` of the calling process."""

    def __init__(self, fd: int) -> None:
        self.fd = fd  # the descriptor; -1 once closed
        self.closed = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self.closed:
            return b""
        try:
            return await sys.read(self.fd, max_bytes or DEFAULT_READ)
        except Error as e:
            if e.ename == Ehungup:
                return b""
            raise

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            raise Error(Ehungup)
        await sys.write(self.fd, bytes(data))

    async def serving(self, srv: Srv) -> None:
        await bussrv.endpoint(self.fd, srv)

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await sys.close(self.fd)
        except Error:
            pass

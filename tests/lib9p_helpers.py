"""Helpers for the lib9p server tests: a raw 9P client and a file server with a gate.

``Raw`` speaks 9P frame by frame (no session logic), so a test controls tags, flushes and
versions exactly.  ``GateFs`` serves a root with ``slow`` (reads block until ``release``;
``mayblock``) and ``fast`` (a plain file), and counts cancellations and clunks.
``gate_served()`` runs ``lib9p.serve`` of a GateFs on one end of a pipe and yields the
GateFs and the other end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

import trio

from lp49fs.errors import Enotfound, Error
from lp49fs.lib9p import File, NotImplementedFile, ReadOnlyFile, serve
from lp49fs.ninep import (
    DMDIR,
    NEED_DATA,
    NOFID,
    NOTAG,
    QTDIR,
    Dir,
    Framer,
    Message,
    Qid,
    RMessage,
    Tattach,
    TMessage,
    Tversion,
    Twalk,
    decode,
    encode,
)
from lp49fs.transport import Link, pipe_pair


class Raw:
    """A 9P client without rules: send any message with any tag, read replies in order."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.framer = Framer(1 << 20)

    async def send(self, tag: int, msg: TMessage) -> None:
        await self.link.send_all(encode(tag, msg))

    async def recv(self) -> tuple[int, Message]:
        while (frame := self.framer.next_frame()) is NEED_DATA:
            data = await self.link.receive_some(65536)
            if not data:
                raise EOFError("server closed the connection")
            self.framer.feed(data)
        assert isinstance(frame, bytes)
        return decode(frame)

    async def rpc(self, tag: int, msg: TMessage) -> RMessage:
        await self.send(tag, msg)
        rtag, r = await self.recv()
        assert rtag == tag, f"reply {r} has tag {rtag}, wanted {tag}"
        return r  # type: ignore[return-value]

    async def start(self, fid: int = 0, msize: int = 8216) -> None:
        """Tversion + Tattach fid to the root."""
        await self.rpc(NOTAG, Tversion(msize, "9P2000"))
        await self.rpc(1, Tattach(fid, NOFID, "glenda", ""))

    async def walk(self, fid: int, newfid: int, *names: str) -> RMessage:
        return await self.rpc(2, Twalk(fid, newfid, names))


class GateFs:
    """Root directory with ``slow`` (blocking reads) and ``fast``; see the module docstring."""

    mayblock: ClassVar[bool] = True

    def __init__(self) -> None:
        self.release = trio.Event()
        self.reading = trio.Event()  # set when a slow read has started
        self.cancelled = 0  # slow reads cancelled
        self.clunks = 0

    async def attach(self, uname: str, aname: str) -> File:
        return GateDir(self)


class GateFile(ReadOnlyFile):
    mayblock: ClassVar[bool] = True

    def __init__(self, fs: GateFs, name: str, path: int) -> None:
        self.fs, self.name, self.path = fs, name, path

    @property
    def qid(self) -> Qid:
        return Qid(0, 0, self.path)

    async def stat(self) -> Dir:
        return Dir(qid=self.qid, mode=0o444, name=self.name, uid="gate", gid="gate")

    async def read(self, offset: int, count: int) -> bytes:
        if self.name == "slow":
            self.fs.reading.set()
            try:
                await self.fs.release.wait()
            except trio.Cancelled:
                self.fs.cancelled += 1
                raise
        return b"slow data"[offset : offset + count] if offset < 9 else b""

    async def clunk(self) -> None:
        self.fs.clunks += 1


class GateDir(ReadOnlyFile):
    mayblock: ClassVar[bool] = False

    def __init__(self, fs: GateFs) -> None:
        self.fs = fs

    @property
    def qid(self) -> Qid:
        return Qid(QTDIR, 0, 0)

    async def clone(self) -> File:
        return GateDir(self.fs)

    async def walk1(self, name: str) -> NotImplementedFile:
        if name == "..":
            return GateDir(self.fs)
        if name not in ("slow", "fast"):
            raise Error(Enotfound)
        return GateFile(self.fs, name, 1 if name == "slow" else 2)

    async def stat(self) -> Dir:
        return Dir(qid=self.qid, mode=DMDIR | 0o555, name="/", uid="gate", gid="gate")

    async def readdir(self) -> list[Dir]:
        return [await GateFile(self.fs, n, i).stat() for i, n in ((1, "slow"), (2, "fast"))]


@asynccontextmanager
async def gate_served() -> AsyncIterator[tuple[GateFs, Link]]:
    """A GateFs served over a pipe, and the client's end (closed when the body ends, which
    ends the server)."""
    fs = GateFs()
    client, server = pipe_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, server, fs)
        yield fs, client
        await client.aclose()

"""Byte-stream links over non-blocking sockets, driven directly by trio's I/O waits.

Why not ``trio.SocketStream``: it wraps every socket call in layers (checkpoints before and
after, conflict detection, ``send_all``'s loop), while a plain non-blocking socket whose
caller waits with ``trio.lowlevel.wait_readable``/``wait_writable`` only when the kernel says
EAGAIN is one system call per message in the common case.  9P is a small-message protocol,
so the link is the cheap one.

Rules:

1. Every ``receive_some``/``receive_into``/``accept`` is a trio checkpoint: it either waits
   in ``wait_readable`` (a checkpoint) or, when the system call succeeded at once, yields
   with ``trio.lowlevel.checkpoint()``, so a busy peer cannot starve other tasks and
   cancellation is always noticed.  ``send_all``/``send_parts`` yield only when the kernel
   says EAGAIN (``wait_writable``): a send that fits the socket buffer returns without a
   schedule point.  Reasons (``bench/ninep.py``): a 9P sender's next step is to wait for a
   reply or for more work, which is a checkpoint anyway, so the extra yield bought nothing
   and cost about a tenth of the 16-byte RPC rate; a task that only sends is still bounded
   by the socket buffer, after which it waits.  A send is therefore not a cancellation point
   unless it blocks (the 9P client and server shield their sends anyway: half a frame would
   wreck the connection).
2. At most one task receives and one task sends on a link at a time (the 9P server has one
   reader and one writer task); this is the caller's duty, as with trio streams.
3. ``aclose`` wakes any task blocked on the socket (``notify_closing``), which then raises
   ``trio.ClosedResourceError``.  A reset by the peer raises ``trio.BrokenResourceError``;
   an orderly close by the peer makes ``receive_some`` return ``b""``.
4. ``Listener.accept`` never fails for want of descriptors or memory (EMFILE, ENFILE,
   ENOBUFS, ENOMEM): it logs one line and retries after a back-off, so the connections
   being served can finish and free some.

A link is anything with ``receive_some``, ``send_all`` and ``aclose`` (the ``Link``
protocol in ``__init__``), so a ``trio.abc.Stream`` also serves as one in tests.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import trio

from lp49fs.errors import Econrefused, Error, Etimedout

from ._dialstr import Addr, parse
from ._malloc import tune_malloc

log = logging.getLogger(__name__)

DEFAULT_RECEIVE = 65536  # receive_some() default size: larger than any default msize

IOV_BATCH = 512  # buffers per sendmsg (Linux allows IOV_MAX = 1024)

_A = TypeVar("_A")
_R = TypeVar("_R")

BROKEN = (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ENOTCONN)


class SocketLink:
    """A connected stream socket used as a 9P link (see Rules in the module docstring)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket = sock
        self.closed = False

    def __repr__(self) -> str:
        return f"<SocketLink fd={self.socket.fileno()} peer={self.peer()}>"

    def peer(self) -> str:
        """The peer's address as a dial string (best effort, for log lines)."""
        try:
            name = self.socket.getpeername()
        except OSError:
            return "?"
        if isinstance(name, tuple):
            return f"tcp!{name[0]}!{name[1]}"
        return f"unix!{name or '(unnamed)'}"

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Up to ``max_bytes`` bytes that are available now or next; ``b""`` at EOF."""
        size = DEFAULT_RECEIVE if max_bytes is None else max_bytes
        return await self._receive(self.socket.recv, size)

    async def receive_into(self, buffer: memoryview) -> int:
        """Receive into ``buffer`` (as ``recv_into``); the count, 0 at EOF."""
        return await self._receive(self.socket.recv_into, buffer)

    async def _receive(self, call: Callable[[_A], _R], arg: _A) -> _R:
        """``call(arg)`` (a socket receive), waiting for readability on EAGAIN; a checkpoint
        either way (Rule 1)."""
        waited = False
        while True:
            if self.closed:
                raise trio.ClosedResourceError("link was closed")
            try:
                got = call(arg)
            except BlockingIOError:
                await self._wait(trio.lowlevel.wait_readable)
                waited = True
                continue
            except OSError as e:
                raise _broken(e) from e
            if not waited:
                await trio.lowlevel.checkpoint()
            return got

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send every byte of ``data``, waiting for buffer space as needed (Rule 1)."""
        view = memoryview(data)
        while True:
            if self.closed:
                raise trio.ClosedResourceError("link was closed")
            try:
                n = self.socket.send(view) if view else 0
            except BlockingIOError:
                await self._wait(trio.lowlevel.wait_writable)
                continue
            except OSError as e:
                raise _broken(e) from e
            view = view[n:]
            if not view:
                return

    async def send_parts(self, parts: Sequence[bytes | bytearray | memoryview]) -> None:
        """Send the concatenation of ``parts`` without joining them (one ``sendmsg``
        gathering up to IOV_BATCH buffers per system call); Rule 1 as ``send_all``."""
        todo = [memoryview(p) for p in parts if len(p)]
        while todo:
            if self.closed:
                raise trio.ClosedResourceError("link was closed")
            try:
                n = self.socket.sendmsg(todo[:IOV_BATCH])
            except BlockingIOError:
                await self._wait(trio.lowlevel.wait_writable)
                continue
            except OSError as e:
                raise _broken(e) from e
            i = 0
            while i < len(todo) and n >= len(todo[i]):
                n -= len(todo[i])
                i += 1
            del todo[:i]
            if n:
                todo[0] = todo[0][n:]

    async def _wait(self, waiter: object) -> None:
        try:
            await waiter(self.socket)  # type: ignore[operator]
        except trio.ClosedResourceError:
            raise trio.ClosedResourceError("link was closed") from None

    async def aclose(self) -> None:
        """Close the socket; blocked receivers and senders get ClosedResourceError."""
        if not self.closed:
            self.closed = True
            trio.lowlevel.notify_closing(self.socket)
            self.socket.close()
        await trio.lowlevel.checkpoint()


def _broken(e: OSError) -> Exception:
    if e.errno in BROKEN:
        return trio.BrokenResourceError(f"link broken: {e.strerror}")
    if e.errno == errno.EBADF:
        return trio.ClosedResourceError("link was closed")
    return e


RUNOUT = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)  # accept: out of resources


class AcceptBackoff:
    """Rule 4 for any accept loop (this Listener, ``#I``'s announced conversations): after
    a failure in ``RUNOUT``, log and wait 0.05 s doubling to 2 s; ``reset`` on success."""

    def __init__(self, what: object) -> None:
        self.what = what
        self.backoff = 0.0  # seconds of the current back-off (0: none)

    async def wait(self, e: OSError) -> None:
        self.backoff = min(2.0, max(0.05, self.backoff * 2))
        log.warning("%s: accept: %s; retrying in %.2f s", self.what, e.strerror, self.backoff)
        await trio.sleep(self.backoff)

    def reset(self) -> None:
        self.backoff = 0.0


class Listener:
    """A listening socket; ``accept()`` returns the next connection as a SocketLink."""

    def __init__(self, sock: socket.socket, addr: Addr) -> None:
        sock.setblocking(False)
        self.socket = sock
        self.addr = addr  # the bound address (the real port if 0 was announced)
        self.closed = False
        self.runout = AcceptBackoff(addr)

    def __repr__(self) -> str:
        return f"<Listener {self.addr}>"

    async def accept(self) -> SocketLink:
        while True:
            if self.closed:
                raise trio.ClosedResourceError("listener was closed")
            try:
                conn, _ = self.socket.accept()
            except BlockingIOError:
                try:
                    await trio.lowlevel.wait_readable(self.socket)
                except trio.ClosedResourceError:
                    raise trio.ClosedResourceError("listener was closed") from None
                continue
            except OSError as e:
                if e.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue  # the client gave up before we accepted: take the next one
                if e.errno in RUNOUT:
                    await self.runout.wait(e)  # out of descriptors: wait, never die
                    continue
                raise
            self.runout.reset()
            await trio.lowlevel.checkpoint()
            return SocketLink(conn)

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            trio.lowlevel.notify_closing(self.socket)
            self.socket.close()
            if self.addr.net == "unix":
                _unlink_socket(self.addr.host)
        await trio.lowlevel.checkpoint()


def _unlink_socket(path: str) -> None:
    """Remove ``path`` if it is a (stale) unix socket; leave any other file alone."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


def _oserror(addr: str, e: OSError) -> Error:
    if e.errno == errno.ECONNREFUSED:
        return Error(f"{Econrefused}: {addr}" if len(addr) < 80 else Econrefused)
    if e.errno == errno.ETIMEDOUT:
        return Error(Etimedout)
    return Error(f"{addr}: {e.strerror or e}")


async def dial(addr: str) -> SocketLink:
    """Connect to dial string ``addr``; raises DialError (bad string) or Error (failure)."""
    a = parse(addr)
    tune_malloc()
    targets: list[tuple[int, Any]]
    if a.net == "unix":
        targets = [(socket.AF_UNIX, a.host)]
    else:
        try:
            infos = await trio.socket.getaddrinfo(a.host, a.port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise Error(f"{addr}: {e.strerror}") from e
        targets = [(fam, sa) for fam, _, _, _, sa in infos]
    last: OSError | None = None
    for family, sockaddr in targets:
        ts = trio.socket.socket(family, socket.SOCK_STREAM)
        try:
            await ts.connect(sockaddr)
        except OSError as e:
            ts.close()
            last = e
            continue
        except BaseException:
            ts.close()
            raise
        return SocketLink(socket.socket(fileno=ts.detach()))
    assert last is not None
    raise _oserror(addr, last)


async def announce(addr: str, *, backlog: int = 128) -> Listener:
    """Listen on dial string ``addr`` (``tcp!*!port``, ``tcp!127.0.0.1!0``, ``unix!/p``)."""
    a = parse(addr, announce=True)
    tune_malloc()
    if a.net == "unix":
        _unlink_socket(a.host)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sockaddr: Any = a.host
    else:
        host = "" if a.host == "*" else a.host
        infos = await trio.socket.getaddrinfo(
            host or None, a.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, _, _, _, sockaddr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(sockaddr)
        sock.listen(backlog)
    except OSError as e:
        sock.close()
        raise Error(f"{addr}: {e.strerror or e}") from e
    if a.net == "tcp":
        a = Addr("tcp", a.host, sock.getsockname()[1])
    return Listener(sock, a)


def pipe_pair() -> tuple[SocketLink, SocketLink]:
    """Two connected in-process links (a socketpair, as Plan 9's pipe is two-way)."""
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return SocketLink(left), SocketLink(right)

"""The cable behind a NIC: a Linux TAP device, or a port on a hub of datagram unix sockets.

A backend is a trio task, ``await backend.run(nic)``: it plugs the card in
(``Nic.attach``), then copies every frame that arrives from the outside into
``Nic.receive`` until it is cancelled, when it unplugs the card and closes what it opened.
Frames the card transmits go out from inside ``Nic.attach``'s callback without blocking.

- ``TapPort(name)``: ``/dev/net/tun`` in TAP mode without packet information, so one
  ``read``/``write`` is one Ethernet frame.  Needs root (CAP_NET_ADMIN); Linux then sees the
  node as a host on interface ``name`` (which may already exist, made by ``ip tuntap``).
- ``HubPort(path)``: a unix ``SOCK_SEQPACKET`` connection to the hub at ``path`` that
  carries one frame per message (as QEMU's ``-netdev socket`` or a VDE switch carry them).
  No root needed; see ``hwsim.hub``.

Rules
  1. The card never blocks: a transmit the outside cannot take at once (EAGAIN) waits in a
     queue of ``TXQUEUE`` frames that a writer task drains when the socket or tap is writable
     again; past that, or with no hub listening, the frame is dropped and counted in
     ``txdrops``, as a frame lost on a congested wire.
  2. A received datagram that is not a frame reaches ``Nic.receive`` anyway; the card's own
     checks count it (hwsim.nic Rule 3).
  3. One wake-up of a receiving task takes every frame already waiting, up to ``BATCH``
     (then it lets others run), so a burst costs one scheduler round, not one per frame.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
from collections import deque
from collections.abc import Callable

import trio

from hwsim.nic import Nic

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
MAXREAD = 65536
TXQUEUE = 512  # frames waiting for a writable socket (Rule 1)
BATCH = 64  # frames taken per wake-up (Rule 3)


async def receive_all(
    fd: int | socket.socket, recv: Callable[[], bytes], take: Callable[[bytes], object]
) -> None:
    """Rule 3: hand every frame ``recv`` reads from ``fd`` to ``take``; returns at EOF (b"")."""
    while True:
        await trio.lowlevel.wait_readable(fd)
        for _ in range(BATCH):
            try:
                frame = recv()
            except BlockingIOError:
                break
            if not frame:
                return
            take(frame)
        else:
            await trio.lowlevel.checkpoint()


class Outq:
    """Rule 1: frames waiting to go out, and the task that sends them when it can."""

    def __init__(self, put: Callable[[bytes], object], fileno: Callable[[], int]) -> None:
        self.put = put  # one non-blocking send; raises BlockingIOError when full
        self.fileno = fileno
        self.q: deque[bytes] = deque()
        self.kick = trio.Event()
        self.txdrops = 0  # Rule 1

    def send(self, frame: bytes) -> None:
        if not self.q:
            try:
                self.put(frame)
                return
            except BlockingIOError:
                pass
            except OSError:
                self.txdrops += 1
                return
        if len(self.q) >= TXQUEUE:
            self.txdrops += 1
            return
        self.q.append(frame)
        self.kick.set()

    async def drain(self) -> None:
        while True:
            await self.kick.wait()
            self.kick = trio.Event()
            while self.q:
                await trio.lowlevel.wait_writable(self.fileno())
                try:
                    self.put(self.q[0])
                except BlockingIOError:
                    continue
                except OSError:
                    self.txdrops += 1
                self.q.popleft()


class TapPort:
    """The card's cable is Linux TAP interface ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name  # Linux interface name
        self.fd = -1
        self.outq = Outq(lambda f: os.write(self.fd, f), lambda: self.fd)

    def open(self) -> None:
        """Open ``/dev/net/tun`` and attach to the interface (OSError without root)."""
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", self.name.encode(), IFF_TAP | IFF_NO_PI))
        except OSError:
            os.close(fd)
            raise
        self.fd = fd

    async def run(self, nic: Nic) -> None:
        if self.fd < 0:
            self.open()
        nic.attach(self.outq.send)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.outq.drain)
                await self._receive(nic)
        finally:
            nic.detach()
            os.close(self.fd)
            self.fd = -1

    async def _receive(self, nic: Nic) -> None:
        await receive_all(self.fd, lambda: os.read(self.fd, MAXREAD), nic.receive)


class HubPort:
    """The card's cable is a port on the hub listening at ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path  # the hub's socket
        self.sock: socket.socket | None = None
        self.outq = Outq(self._put, lambda: self.sock.fileno() if self.sock else -1)

    def _put(self, frame: bytes) -> None:
        assert self.sock is not None
        self.sock.send(frame)

    def open(self) -> None:
        """Connect to the hub (OSError if nobody listens at ``path``)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(self.path)
        except OSError:
            s.close()
            raise
        s.setblocking(False)
        self.sock = s

    async def run(self, nic: Nic) -> None:
        if self.sock is None:
            self.open()
        assert self.sock is not None
        nic.attach(self.outq.send)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.outq.drain)
                sock = self.sock
                await receive_all(sock, lambda: sock.recv(MAXREAD), nic.receive)
                nursery.cancel_scope.cancel()  # the hub went away: the link is down
        finally:
            nic.detach()
            self.sock.close()
            self.sock = None


def backend(spec: str) -> TapPort | HubPort:
    """``tap:NAME`` or ``hub:PATH`` -> the backend (ValueError for anything else)."""
    kind, _, arg = spec.partition(":")
    if kind == "tap" and arg:
        return TapPort(arg)
    if kind == "hub" and arg:
        return HubPort(arg)
    raise ValueError(f"bad NIC {spec!r}: want tap:NAME or hub:PATH")

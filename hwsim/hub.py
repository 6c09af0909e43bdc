"""An Ethernet hub between nodes on one machine: unix sockets, faults on request.

The hub listens on a unix ``SOCK_SEQPACKET`` socket at ``path``: message boundaries are
kept (one message = one frame, like a datagram socket) but each port is its own connection,
so a slow port gets its own queue and back-pressure instead of the 10-datagram limit
(``net.unix.max_dgram_qlen``) of one shared datagram socket.  Every ``HubPort``
(``hwsim.netback``) that connects is a port; every frame a port sends is repeated to every
other port, as a hub (not a switch) does.  A path on the file system, so nodes in
different network namespaces can share a hub.

Faults, for tests: ``loss`` drops a frame, ``dup`` delivers it twice, ``reorder`` holds it
back and delivers it after the next frame; each is a probability, drawn independently per
frame from ``random.Random(seed)``, so a run is repeatable.  ``counts`` says how often each
happened.

``lp49 hub PATH... [--loss P] [--dup P] [--reorder P] [--seed N]`` (``main``) runs one hub
per PATH in a process of its own until SIGTERM or SIGINT, for nodes booted with
``--nic hub:PATH``; it prints ``hub PATH`` once each listens.

Rules
  1. A port lives as long as its connection; its queue is ``netback.TXQUEUE`` frames, and
     frames beyond that are lost (``counts["overflow"]``), as on a congested wire.
  2. A frame is never sent back to the port it came from.
  3. A held (reordered) frame is released after the next frame, or after ``HOLD`` seconds if
     none comes, so reordering never loses a frame.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
from collections import Counter

import trio

from hwsim.netback import MAXREAD, Outq

HOLD = 0.05  # seconds a reordered frame waits for a successor (Rule 3)


class Hub:
    """A hub at ``path`` with the given fault probabilities."""

    def __init__(self, path: str, *, loss: float = 0.0, dup: float = 0.0,
                 reorder: float = 0.0, seed: int = 0) -> None:  # fmt: skip
        self.path = path
        self.loss, self.dup, self.reorder = loss, dup, reorder
        self.rng = random.Random(seed)
        self.ports: dict[int, Outq] = {}  # connection fd -> its out queue
        self.counts: Counter[str] = Counter()  # frames, lost, duplicated, reordered, overflow
        self.held: tuple[int, bytes] | None = None  # a frame being reordered, with its port
        self.kick = trio.Event()

    async def serve(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the hub until cancelled; removes its socket file at the end."""
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ls.setblocking(False)
        if os.path.exists(self.path):
            os.unlink(self.path)
        try:
            ls.bind(self.path)
            ls.listen(64)
            async with trio.open_nursery() as nursery:
                task_status.started()
                nursery.start_soon(self._release)
                while True:
                    await trio.lowlevel.wait_readable(ls)
                    try:
                        conn, _ = ls.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    nursery.start_soon(self._port, conn)
        finally:
            ls.close()
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    async def _port(self, conn: socket.socket) -> None:
        fd = conn.fileno()
        q = Outq(conn.send, conn.fileno)
        self.ports[fd] = q
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(q.drain)
                while True:
                    await trio.lowlevel.wait_readable(conn)
                    try:
                        frame = conn.recv(MAXREAD)
                    except BlockingIOError:
                        continue
                    except OSError:
                        frame = b""
                    if not frame:
                        nursery.cancel_scope.cancel()
                        break
                    self.repeat(fd, frame)
        finally:
            del self.ports[fd]
            conn.close()

    def repeat(self, src: int, frame: bytes) -> None:
        """Send ``frame`` from port ``src`` to the others, with faults drawn (Rules 2, 3)."""
        self.counts["frames"] += 1
        held, self.held = self.held, None
        lose, hold, dup = (self.rng.random() < p for p in (self.loss, self.reorder, self.dup))
        if lose:
            self.counts["lost"] += 1
        elif hold and held is None:
            self.counts["reordered"] += 1
            self.held = (src, frame)
            self.kick.set()
        else:
            copies = 2 if dup else 1
            if copies == 2:
                self.counts["duplicated"] += 1
            for _ in range(copies):
                self._send(src, frame)
        if held is not None:
            self._send(*held)

    def _send(self, src: int, frame: bytes) -> None:
        for fd, q in list(self.ports.items()):
            if fd != src:
                before = q.txdrops
                q.send(frame)
                self.counts["overflow"] += q.txdrops - before

    async def _release(self) -> None:
        while True:
            await self.kick.wait()
            self.kick = trio.Event()
            await trio.sleep(HOLD)
            if self.held is not None:
                held, self.held = self.held, None
                self._send(*held)


def main(argv: list[str]) -> int:
    """``lp49 hub`` (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="lp49 hub", description="Ethernet hubs for hub: NICs")
    ap.add_argument("paths", nargs="+", metavar="PATH", help="the hub's unix socket")
    for fault in ("loss", "dup", "reorder"):
        ap.add_argument(f"--{fault}", type=float, default=0.0, help="probability per frame")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    async def serve() -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                for path in args.paths:
                    hub = Hub(path, loss=args.loss, dup=args.dup, reorder=args.reorder,
                              seed=args.seed)  # fmt: skip
                    await nursery.start(hub.serve)
                    print(f"hub {path}", flush=True)
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break

    try:
        trio.run(serve)
    except OSError as e:
        print(f"lp49 hub: {e}", flush=True)
        return 1
    return 0

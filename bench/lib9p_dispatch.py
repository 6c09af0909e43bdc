"""lib9p dispatch: inline answers vs a task per request, measured side by side.

    .venv/bin/python bench/lib9p_dispatch.py [--rounds N]

A ramfs server runs in a child process (pinned with the client to CPU 0)
in one of two modes: ``inline`` (ramfs as shipped: ``mayblock = False``, requests answered
in the reader task) and ``task`` (the same ramfs with ``mayblock = True``: one task and
cancel scope per request).  A blocking-socket client measures, over TCP loopback:

* Tstat round trips per second with one request outstanding;
* Tread (16 bytes) requests per second with 16 requests pipelined.

It prints the rates and the inline/task ratio.  A script, never a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import socket
import subprocess
import sys
import time
from typing import ClassVar

from lp49fs.ninep import (
    NOFID,
    NOTAG,
    ORDWR,
    OREAD,
    Tattach,
    Tcreate,
    Topen,
    Tread,
    Tstat,
    Tversion,
    Twalk,
    Twrite,
    encode,
)


def serve(mode: str, port_file: str) -> None:
    import functools

    import trio

    from lp49fs.lib9p import serve_forever
    from lp49fs.servers.ramfs import RamFile, Ramfs
    from lp49fs.transport import announce

    if mode == "task":
        RamFile.mayblock = True
        Ramfs.mayblock = True

    async def main() -> None:
        listener = await announce("tcp!127.0.0.1!0")
        with open(port_file, "w") as f:
            f.write(str(listener.addr.port))
        await serve_forever(listener, Ramfs("bench"))

    trio.run(functools.partial(main))


class Client:
    """A blocking 9P client that knows each reply's size in advance."""

    HDR: ClassVar[int] = 7

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def rpc(self, frame: bytes) -> bytes:
        self.sock.sendall(frame)
        return self.recv_one()

    def recv_one(self) -> bytes:
        buf = self.sock.recv(4)
        while len(buf) < 4:
            buf += self.sock.recv(4 - len(buf))
        size = int.from_bytes(buf, "little")
        while len(buf) < size:
            buf += self.sock.recv(size - len(buf))
        return buf

    def setup(self) -> None:
        self.rpc(encode(NOTAG, Tversion(8216, "9P2000")))
        self.rpc(encode(1, Tattach(0, NOFID, "bench", "")))
        self.rpc(encode(1, Twalk(0, 1, ())))
        self.rpc(encode(1, Tcreate(1, "f", 0o666, ORDWR)))
        self.rpc(encode(1, Twrite(1, 0, b"x" * 16)))
        self.rpc(encode(1, Twalk(0, 2, ("f",))))
        self.rpc(encode(1, Topen(2, OREAD)))


def measure(port: int, rounds: int) -> tuple[float, float]:
    c = Client(port)
    c.setup()
    stat = encode(5, Tstat(2))
    t0 = time.perf_counter()
    for _ in range(rounds):
        c.rpc(stat)
    pingpong = rounds / (time.perf_counter() - t0)
    batch = b"".join(encode(10 + i, Tread(2, 0, 16)) for i in range(16))
    t0 = time.perf_counter()
    for _ in range(rounds // 16):
        c.sock.sendall(batch)
        for _ in range(16):
            c.recv_one()
    pipelined = (rounds // 16 * 16) / (time.perf_counter() - t0)
    c.sock.close()
    return pingpong, pipelined


def run_mode(mode: str, rounds: int) -> tuple[float, float]:
    port_file = f"/tmp/lp49-bench-{os.getpid()}-{mode}"
    child = subprocess.Popen([sys.executable, __file__, "--serve", mode, port_file])
    try:
        os.sched_setaffinity(child.pid, {0})
        while not os.path.exists(port_file) or not pathlib.Path(port_file).read_text():
            time.sleep(0.02)
        port = int(pathlib.Path(port_file).read_text())
        measure(port, rounds // 10)  # warm up
        return measure(port, rounds)
    finally:
        child.terminate()
        child.wait()
        os.unlink(port_file)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=20000)
    p.add_argument("--serve", nargs=2, metavar=("MODE", "PORTFILE"))
    args = p.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    os.sched_setaffinity(0, {0})
    results = {m: run_mode(m, args.rounds) for m in ("task", "inline")}
    print(f"{'mode':<8} {'Tstat 1-out /s':>15} {'Tread 16-pipelined /s':>22}")
    for m, (a, b) in results.items():
        print(f"{m:<8} {a:>15.0f} {b:>22.0f}")
    (ia, ib), (ta, tb) = results["inline"], results["task"]
    print(f"inline/task ratio: {ia / ta:.2f} (1 outstanding), {ib / tb:.2f} (16 pipelined)")


if __name__ == "__main__":
    main()

"""9P throughput and latency of lp49fs's client + server, next to a raw trio ping-pong.

    .venv/bin/python bench/ninep.py [--seconds S] [--cpu N]

Prints, for TCP and a unix socket, measured in one run:

* read RPCs/s on an open fid (16 B reads), and walk+open+read+clunk per second, in plain
  9P2000 (four round trips) and on a 9P2000.lp49 session (walk and open sent at once, the
  clunk not waited for: two round trips; docs/ninep.md);
* MB/s of large sequential reads at msize 8 KiB, 64 KiB and 1 MiB;

each next to a raw trio ping-pong of the same message sizes (non-blocking sockets driven by
``wait_readable``/``wait_writable`` in a separate echo process: the fastest trio transport),
with the ratio.  Every figure, 9P and raw, is the median of ``RUNS`` runs of
``--seconds`` each, 9P and raw alternating (one raw run alone varies by a third).  Then
microseconds per encode/decode of Tread/Rread/Twrite with the shipped codec.  The 9P server
is ``lp49 ramfs --listen --msize 1048576`` in its own process (it must offer the msize asked
for, or the large-read rows would silently measure 8 KiB reads).  Everything is pinned to
CPU ``--cpu`` (default 0; -1 does not pin).  MB/s counts the bytes that
came back, not the bytes asked for.  This is a script, never a test: nothing here asserts a
time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

import trio

from lp49fs.host.demo.netns import free_port
from lp49fs.lib9p.client import Session
from lp49fs.lib9p.clientfid import attach, create_path, open_path
from lp49fs.ninep import (
    IOHDRSZ,
    OREAD,
    OWRITE,
    VERSIONLP49,
    Message,
    Rread,
    Tread,
    Twrite,
    decode,
    encode,
)
from lp49fs.transport import dial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIG = 8 << 20  # the large file read for MB/s
RUNS = 3  # each figure is the median of this many runs


# -- the raw baseline: an echo process and a ping-pong client ---------------------------------

async def echo_server(sock: socket.socket) -> None:
    """Answer each request of ``size[4] ...`` with a reply of the size named in its body."""
    sock.listen(8)
    while True:
        await trio.lowlevel.wait_readable(sock)
        conn, _ = sock.accept()
        conn.setblocking(False)
        if conn.family == socket.AF_INET:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        async with trio.open_nursery() as n:
            n.start_soon(echo_conn, conn)


async def recv_exact(conn: socket.socket, n: int, buf: bytearray) -> memoryview:
    """The next ``n`` bytes of ``conn`` in ``buf`` (grown as needed): recv first, and wait
    in ``wait_readable`` only when the kernel says EAGAIN, as ``lp49fs.transport`` does."""
    if len(buf) < n:
        buf.extend(bytes(n - len(buf)))
    view = memoryview(buf)[:n]
    got = 0
    while got < n:
        try:
            k = conn.recv_into(view[got:])
        except BlockingIOError:
            await trio.lowlevel.wait_readable(conn)
            continue
        if not k:
            raise EOFError
        got += k
    return view


async def send_all(conn: socket.socket, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[conn.send(view):]
        except BlockingIOError:
            await trio.lowlevel.wait_writable(conn)


async def echo_conn(conn: socket.socket) -> None:
    buf = bytearray()
    replies: dict[int, bytes] = {}  # reply size -> a ready-made reply
    try:
        while True:
            head = await recv_exact(conn, 8, buf)  # size[4] reply_size[4]
            size, reply = int.from_bytes(head[:4], "little"), int.from_bytes(head[4:8], "little")
            head.release()
            if size > 8:
                (await recv_exact(conn, size - 8, buf)).release()
            if reply not in replies:
                replies[reply] = reply.to_bytes(4, "little") + bytes(max(reply - 4, 0))
            await send_all(conn, replies[reply])
    except (EOFError, OSError):
        conn.close()


async def raw_pingpong(addr: tuple[int, object], req: int, rep: int, seconds: float) -> float:
    """Round trips per second of ``req``-byte requests and ``rep``-byte replies."""
    family, where = addr
    conn = socket.socket(family)
    conn.connect(where)  # type: ignore[arg-type]
    conn.setblocking(False)
    if family == socket.AF_INET:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = req.to_bytes(4, "little") + rep.to_bytes(4, "little") + bytes(max(req - 8, 0))
    buf = bytearray()
    n, t0 = 0, time.perf_counter()
    while (t := time.perf_counter()) - t0 < seconds:
        await send_all(conn, msg)
        head = await recv_exact(conn, 4, buf)
        size = int.from_bytes(head, "little")
        head.release()
        if size > 4:
            (await recv_exact(conn, size - 4, buf)).release()
        n += 1
    conn.close()
    return n / (t - t0)


# -- the 9P side ----------------------------------------------------------------------------

async def rate(seconds: float, op: Callable[[], Awaitable[object]]) -> float:
    n, t0 = 0, time.perf_counter()
    while (t := time.perf_counter()) - t0 < seconds:
        await op()
        n += 1
    return n / (t - t0)


async def medians(ours: Callable[[], Awaitable[float]],
                  raw: Callable[[], Awaitable[float]]) -> tuple[float, float]:
    """The medians of RUNS runs of each measurement, run alternately (drift hits both)."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(RUNS):
        a.append(await ours())
        b.append(await raw())
    return statistics.median(a), statistics.median(b)


async def ninep_rows(dialstr: str, raw: tuple[int, object], seconds: float) -> list[str]:
    rows: list[str] = []
    for msize in (8192 + IOHDRSZ, 65536 + IOHDRSZ, 1 << 20):
        rows += await one_msize(dialstr, raw, seconds, msize)
    return rows


async def one_msize(dialstr: str, raw: tuple[int, object], seconds: float, msize: int) -> list[str]:
    rows = []
    link = await dial(dialstr)
    session = Session(link)
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        await session.version(msize)
        if session.msize != msize:
            raise SystemExit(f"server offered msize {session.msize}, not {msize}")
        root = await attach(session, "bench", "")
        if msize == 8192 + IOHDRSZ:
            f = await create_path(root, "/small", 0o664, OWRITE)
            await f.write(b"0123456789abcdef")
            await f.clunk()
            big = await create_path(root, "/big", 0o664, OWRITE)
            block = bytes(range(256)) * 4096
            for _ in range(BIG // len(block)):
                await big.write(block)
            await big.clunk()
            small = await open_path(root, "/small", OREAD)
            r9, rr = await medians(lambda: rate(seconds, lambda: small.read(16, 0)),
                                   lambda: raw_pingpong(raw, 23, 11 + 16, seconds))
            rows.append(row("read 16 B RPC/s", r9, rr))

            async def wocr() -> None:
                f = await open_path(root, "/small", OREAD)
                await f.read(16, 0)
                await f.clunk()

            w9 = statistics.median([await rate(seconds, wocr) for _ in range(RUNS)])
            rows.append(row("walk+open+read+clunk/s (raw/4)", w9, rr / 4))
            rows.append(row("  same, 9P2000.lp49 (raw/2)",
                            await pipelined_wocr(dialstr, seconds), rr / 2))
        big = await open_path(root, "/big", OREAD)
        count = msize - IOHDRSZ

        got = reads = 0

        async def readbig() -> None:
            nonlocal got, reads
            data = await big.read(count)
            if not data:
                big.offset = 0
            got, reads = got + len(data), reads + 1

        async def ours() -> float:
            nonlocal got, reads
            got = reads = 0
            return await rate(seconds, readbig) * (got / reads) / 1e6  # bytes that came back

        async def theirs() -> float:
            return await raw_pingpong(raw, 23, 11 + count, seconds) * count / 1e6

        r9, rr = await medians(ours, theirs)
        rows.append(row(f"MB/s reads, msize {msize // 1024} KiB", r9, rr))
        await session.aclose()
        nursery.cancel_scope.cancel()
    return rows


async def pipelined_wocr(dialstr: str, seconds: float) -> float:
    """walk+open+read+clunk on a 9P2000.lp49 session: Twalk and Topen sent at once, Tclunk
    not waited for (docs/ninep.md): two round trips where plain 9P2000 takes four."""
    session = Session(await dial(dialstr))
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        if await session.version(version=VERSIONLP49) != VERSIONLP49:
            raise SystemExit("the server does not speak 9P2000.lp49")
        root = await attach(session, "bench", "")

        async def wocr() -> None:
            f, _ = await root.walkopen(["small"], OREAD)
            assert f is not None
            await f.read(16, 0)
            await f.clunk(wait=False)

        r = statistics.median([await rate(seconds, wocr) for _ in range(RUNS)])
        await session.aclose()
        nursery.cancel_scope.cancel()
    return r


def row(name: str, ours: float, raw: float) -> str:
    return f"  {name:<30} {ours:12.1f} {raw:12.1f} {ours / raw:8.0%}"


def codec_rows() -> list[str]:
    msgs: list[tuple[str, Message]] = [
        ("Tread", Tread(fid=1, offset=0, count=8192)),
        ("Rread 8 KiB", Rread(data=bytes(8192))),
        ("Twrite 8 KiB", Twrite(fid=1, offset=0, data=bytes(8192))),
    ]
    out = []
    for name, msg in msgs:
        frame = encode(1, msg)
        n = 20000
        t0 = time.perf_counter()
        for _ in range(n):
            encode(1, msg)
        t1 = time.perf_counter()
        for _ in range(n):
            decode(frame)
        t2 = time.perf_counter()
        out.append(f"  {name:<14} encode {1e6 * (t1 - t0) / n:6.2f} us  "
                   f"decode {1e6 * (t2 - t1) / n:6.2f} us")
    return out


def start(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(family: int, where: object) -> None:
    for _ in range(400):
        with socket.socket(family) as s:
            try:
                s.connect(where)  # type: ignore[arg-type]
                return
            except OSError:
                time.sleep(0.05)
    raise SystemExit(f"nothing listening on {where}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    ap.add_argument("--cpu", type=int, default=0,
                    help="pin this process and its servers to one CPU (-1: do not pin)")
    ap.add_argument("--echo", help=argparse.SUPPRESS)  # internal: run the echo server
    args = ap.parse_args()
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})  # children inherit it: all on one CPU
    if args.echo:
        family, _, where = args.echo.partition(":")
        sock = socket.socket(socket.AF_UNIX if family == "unix" else socket.AF_INET)
        sock.bind(where if family == "unix" else ("127.0.0.1", int(where)))
        sock.setblocking(False)
        trio.run(echo_server, sock)
        return 0
    tmp = tempfile.mkdtemp(prefix="lp49bench")
    procs = []
    try:
        print(f"{'':32} {'lp49fs 9P':>12} {'raw trio':>12} {'ratio':>8}")
        for net in ("tcp", "unix"):
            if net == "tcp":
                ep, rp = free_port(), free_port()
                raw: tuple[int, object] = (socket.AF_INET, ("127.0.0.1", ep))
                echo, nine = f"tcp:{ep}", f"tcp!127.0.0.1!{rp}"
                nine_at: tuple[int, object] = (socket.AF_INET, ("127.0.0.1", rp))
            else:
                raw = (socket.AF_UNIX, f"{tmp}/echo")
                echo, nine = f"unix:{tmp}/echo", f"unix!{tmp}/ramfs"
                nine_at = (socket.AF_UNIX, f"{tmp}/ramfs")
            procs.append(start([sys.executable, __file__, "--echo", echo]))
            procs.append(start([sys.executable, "-m", "lp49fs.host.cli", "ramfs", "--listen", nine,
                                "--msize", str(1 << 20)]))
            wait_for(*raw)
            wait_for(*nine_at)
            print(f"{net}:")
            for line in trio.run(ninep_rows, nine, raw, args.seconds):
                print(line, flush=True)
        print("codec (us per message):")
        for line in codec_rows():
            print(line)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

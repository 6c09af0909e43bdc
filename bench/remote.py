"""Remote file access through ``import`` against the same access to a local ramfs.

    .venv/bin/python bench/remote.py [--seconds S] [--no-netns]

Boots a benchmark node in this process (ramfs posted and mounted on /tmp, as every node) and a
second node, ``lp49 node --listen``, as a real subprocess.  An LP49 process of the benchmark
node imports the other node's /tmp (its ramfs) on /n over TCP, then times, side by side:

* ``open+read16+close``: open a 16-byte file, read 16 bytes, close: three system calls; locally
  each is one 9P exchange with the node's own ramfs over a pipe (``#M``); remotely the 9P goes
  over TCP to the other node's exportfs, which makes the same system calls there;
* ``read 1 MiB``: open, sequential 64 KiB reads of a 1 MiB file to the end, close.

Rows: ``local`` (/tmp), ``loopback`` (the other node on 127.0.0.1, plain 9P, served as
``none``), ``loopback+tls`` (the other node with ``--auth``: mutual TLS 1.3, the import
pushes ``#a`` on the conversation, served as glenda; docs/security.md) and, as root, ``netns``
(the other node in a Linux network namespace joined to the benchmark's by a veth pair: the
benchmark re-runs itself inside its own namespace with ``--remote DIAL``).  Printed: operations
per second, microseconds per operation, and the ratio to the local row (the target for the
small read is remote/local <= 2; LP49's paper measured about 600); then what TLS costs, the
TLS row over the plain loopback row (the target for 1 MiB reads is <= 1.20).  The local and
both loopback rows are one benchmark process importing both remote nodes, and the rows take
turns (``ROUNDS`` times), so a change of load on the machine hits them alike.  A script, not
a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

import trio

from lp49fs import lib
from lp49fs.auth.authority import NODES, USERS, Authority
from lp49fs.host.demo.console import LP49, DemoError, wait_for
from lp49fs.host.demo.netns import Hosts, can_netns, free_port
from lp49fs.ninep import OREAD, OTRUNC, OWRITE
from lp49fs.node import servers
from lp49fs.node.boot import boot

SMALL, BIG, CHUNK = 16, 1 << 20, 1 << 16
Op = Callable[[], Awaitable[object]]


async def put(path: str, data: bytes) -> None:
    fd = await lib.create(path, OWRITE | OTRUNC, 0o664)
    for i in range(0, len(data), CHUNK):
        await lib.write(fd, data[i : i + CHUNK])
    await lib.close(fd)


def small(path: str) -> Op:
    async def op() -> None:
        fd = await lib.open(path, OREAD)
        await lib.read(fd, SMALL)
        await lib.close(fd)

    return op


def big(path: str) -> Op:
    async def op() -> None:
        fd = await lib.open(path, OREAD)
        n = 0
        while data := await lib.read(fd, CHUNK):
            n += len(data)
        await lib.close(fd)
        assert n == BIG, n

    return op


async def timed(seconds: float, op: Op, batch: int) -> tuple[float, int]:
    """(seconds taken, ops done): ``op`` run in batches for about ``seconds``."""
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(batch):
            await op()
        n += batch
        if (dt := time.perf_counter() - t0) >= seconds:
            return dt, n


MTPTS = ("/n", "/mnt")  # where the remote rows are imported, in order
ROUNDS = 8  # the rows take turns this many times, so a load change hits all alike


async def measure(
    seconds: float, remotes: dict[str, tuple[str, str | None]]
) -> dict[str, dict[str, float]]:
    """{row: {op: seconds per op}}: ``local`` and each of ``remotes`` (row -> dial string,
    authority for TLS or None), imported in one benchmark process; the rows take turns
    (``ROUNDS``) for about ``seconds`` each per operation."""
    out: dict[str, dict[str, float]] = {}

    async def prog(argv: list[str]) -> None:
        dirs = {"local": "/tmp"}
        for (row, (dial, auth)), mtpt in zip(remotes.items(), MTPTS, strict=False):
            tls = ["-A", auth] if auth else []
            await lib.spawn("import", ["import", "-c", *tls, dial, "/tmp", mtpt])
            w = await lib.wait()
            if w.msg:
                raise DemoError(f"import -c {dial} /tmp {mtpt}: {w.msg}")
            dirs[row] = mtpt
        for d in dirs.values():
            await put(f"{d}/small", b"x" * SMALL)
            await put(f"{d}/big", os.urandom(BIG))
            await small(f"{d}/small")()  # warm: first walks, caches
        total = {row: {"small": [0.0, 0], "big": [0.0, 0]} for row in dirs}
        for _ in range(ROUNDS):
            for row, d in dirs.items():
                for name, op, batch in (("small", small, 20), ("big", big, 1)):
                    dt, n = await timed(seconds / ROUNDS, op(f"{d}/{name}"), batch)
                    total[row][name][0] += dt
                    total[row][name][1] += n
        for row, ops in total.items():
            out[row] = {name: dt / n for name, (dt, n) in ops.items()}

    async with boot("bench") as node, trio.open_nursery() as nursery:
        await servers.start_servers(node, nursery)
        node.programs["bench"] = prog
        status = await node.run("bench")
        nursery.cancel_scope.cancel()
    if status:
        raise DemoError(f"benchmark process: {status}")
    return out


def start_node(argv: list[str], log: str) -> subprocess.Popen[bytes]:
    with open(log, "wb") as f:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                start_new_session=True)  # fmt: skip


def stop(p: subprocess.Popen[bytes]) -> None:
    p.terminate()
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def listening(
    wrap: list[str], addr: str, port: int, node: subprocess.Popen[bytes], log: str
) -> Callable[[], bool]:
    """True once something accepts TCP on ``addr``:``port`` as seen from ``wrap``'s host;
    DemoError with the node's last log line if ``node`` exits first."""
    probe = f"import socket; socket.create_connection(({addr!r}, {port}), timeout=1).close()"

    def up() -> bool:
        if node.poll() is not None:
            with open(log, errors="replace") as f:
                last = (f.read().strip().splitlines() or ["(no output)"])[-1]
            raise DemoError(f"the remote node exited ({node.returncode}): {last}")
        r = subprocess.run([*wrap, sys.executable, "-c", probe], capture_output=True)
        return r.returncode == 0

    return up


def authority(root: str) -> str:
    """An authority for the TLS row: user glenda (the benchmark's), node srv on 127.0.0.1."""
    a = Authority(root)
    a.init()
    a.issue(USERS, "glenda")
    a.issue(NODES, "srv", ("127.0.0.1",))
    return root


def loopback(seconds: float, log: str, auth: str) -> dict[str, dict[str, float]]:
    """The local, ``loopback`` and ``loopback+tls`` rows, measured side by side: two remote
    nodes on 127.0.0.1, one plain, one with ``--auth``."""
    plain, tls = free_port(), free_port()
    nodes = [
        start_node([*LP49, "node", "--name", "srv", "--console", "none",
                    "--listen", f"tcp!127.0.0.1!{port}", *extra], f"{log}.{port}")
        for port, extra in ((plain, []), (tls, ["--auth", auth]))
    ]  # fmt: skip
    try:
        for port, p in zip((plain, tls), nodes, strict=True):
            up = listening([], "127.0.0.1", port, p, f"{log}.{port}")
            wait_for(up, 30, "the remote node's listener")
        remotes = {"loopback": (f"tcp!127.0.0.1!{plain}", None),
                   "loopback+tls": (f"tcp!127.0.0.1!{tls}", auth)}  # fmt: skip
        return trio.run(measure, seconds, remotes)
    finally:
        for port, p in zip((plain, tls), nodes, strict=True):
            stop(p)
            os.unlink(f"{log}.{port}")


def netns(seconds: float, log: str) -> dict[str, float]:
    with Hosts(["bench", "srv"], True) as hosts:
        hosts.link("bench", "srv")
        dial = hosts["srv"].dial(hosts["bench"])
        addr = hosts["srv"].addrs["bench"]
        # plain 9P as the loopback row: a non-loopback listener needs --insecure to serve so
        node = [*LP49, "node", "--name", "srv", "--console", "none", "--listen", "tcp!*!17007",
                "--insecure"]  # fmt: skip
        p = start_node(hosts.argv("srv", node), log)
        try:
            up = listening(hosts.argv("bench", []), addr, 17007, p, log)
            wait_for(up, 30, "the remote node")
            argv = [sys.executable, __file__, "--seconds", str(seconds), "--remote", dial]
            r = subprocess.run(hosts.argv("bench", argv), capture_output=True, text=True,
                               timeout=600)  # fmt: skip
            if r.returncode != 0:
                raise DemoError(f"benchmark inside the namespace failed: {r.stderr[-500:]}")
            result: dict[str, float] = json.loads(r.stdout.splitlines()[-1])["remote"]
            return result
        finally:
            stop(p)


def report(rows: dict[str, dict[str, float]]) -> None:
    local = rows["local"]
    print(f"{'row':12s} {'small ops/s':>11s} {'us/op':>8s} {'x local':>8s}"
          f" {'1 MiB MiB/s':>11s} {'ms/op':>7s} {'x local':>8s}")  # fmt: skip
    for name, r in rows.items():
        print(f"{name:12s} {1 / r['small']:11.0f} {r['small'] * 1e6:8.0f}"
              f" {r['small'] / local['small']:8.2f} {1 / r['big']:11.1f}"
              f" {r['big'] * 1e3:7.1f} {r['big'] / local['big']:8.2f}")  # fmt: skip
    plain, tls = rows["loopback"], rows["loopback+tls"]
    print(f"TLS / plain loopback: small {tls['small'] / plain['small']:.2f},"
          f" 1 MiB {tls['big'] / plain['big']:.2f} (target for 1 MiB: <= 1.20)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--no-netns", action="store_true", help="skip the namespace row")
    ap.add_argument("--remote", help=argparse.SUPPRESS)  # inner run: print JSON of one import
    args = ap.parse_args()
    if args.remote:
        remotes: dict[str, tuple[str, str | None]] = {"remote": (args.remote, None)}
        print(json.dumps(trio.run(measure, args.seconds, remotes)))
        return
    log = os.path.join("/tmp", f"lp49-bench-remote-{os.getpid()}.log")
    with tempfile.TemporaryDirectory() as d:
        rows = loopback(args.seconds, log, authority(f"{d}/auth"))
    if not args.no_netns and can_netns() is None:
        rows["netns"] = netns(args.seconds, log)
        os.unlink(log)
    report(rows)


if __name__ == "__main__":
    main()

"""Helpers for the ext2srv tests: images made by mke2fs and debugfs, a node that serves one.

``mkimage(path, size, bs)`` makes an ext2 image with ``mke2fs -t ext2`` (the real tool: a
missing tool fails the test); ``debugfs(img, *requests)`` runs ``debugfs -w`` requests;
``fsck(img)`` runs ``e2fsck -fn`` and returns its output after asserting exit status 0.
``served(img, body)`` boots a node with ``img`` as sdC0, starts ``ext2srv`` on it, mounts it on
``/mnt`` (aname ``/dev/sdC0/data``, or ``spec``) and runs ``body()`` as an LP49 process of the
node; the server is stopped by unmounting (its last client gone, it exits) before the
function returns, so the image is complete when the test looks at it.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
from collections.abc import Awaitable, Callable

import trio

from lp49fs import lib
from lp49fs.errors import Error
from lp49fs.lib import MCREATE, MREPL, RFFDG, RFPROC
from lp49fs.ninep import ORDWR, OWRITE
from lp49fs.node.boot import boot
from tests.lib_helpers import run_as
from tests.waiting import DEADLINE as GUARD
from tests.waiting import await_until

ENV = {**os.environ, "LC_ALL": "C"}


def tool(*argv: str, input: bytes | None = None, ok: tuple[int, ...] = (0,)) -> str:
    """Run an e2fsprogs tool; its stdout, after checking the exit status."""
    r = subprocess.run(argv, input=input, capture_output=True, env=ENV, check=False)
    out = r.stdout.decode(errors="replace")
    err = r.stderr.decode(errors="replace")
    assert r.returncode in ok, f"{argv} exited {r.returncode}:\n{out}{err}"
    return out


def mkimage(path: pathlib.Path, size: int, bs: int, *extra: str) -> pathlib.Path:
    with open(path, "wb") as f:
        f.truncate(size)
    tool("mke2fs", "-q", "-F", "-t", "ext2", "-b", str(bs), *extra, str(path))
    return path


def debugfs(img: pathlib.Path, *requests: str) -> str:
    return tool("debugfs", "-w", "-f", "-", str(img), input="\n".join(requests).encode())


def cat(img: pathlib.Path, path: str) -> bytes:
    r = subprocess.run(["debugfs", "-R", f"cat {path}", str(img)], capture_output=True,
                       check=True)  # fmt: skip
    return r.stdout


def fsck(img: pathlib.Path) -> str:
    return tool("e2fsck", "-fn", str(img))


async def mount_ext2(spec: str = "/dev/sdC0/data", where: str = "/mnt", srv: str = "ext2",
                     args: tuple[str, ...] = ()) -> int:  # fmt: skip
    """Start ext2srv (posting /srv/``srv``) and mount ``spec`` on ``where``; ext2srv's pid."""
    pid = await start_ext2(srv, args)
    await attach(spec, where, srv)
    return pid


async def start_ext2(srv: str = "ext2", args: tuple[str, ...] = ()) -> int:
    """Start ext2srv and wait until /srv/``srv`` is posted; its pid."""
    pid = await lib.spawn("ext2srv", ["ext2srv", "-S", srv, *args], RFPROC | RFFDG)

    async def posted() -> bool:  # the entry is made, then its fd written: open it
        try:
            await lib.close(await lib.open(f"/srv/{srv}", ORDWR))
            return True
        except Error:
            return False

    await await_until(posted, "ext2srv to post itself")
    return pid


async def attach(spec: str, where: str = "/mnt", srv: str = "ext2") -> None:
    """Mount the running ext2srv's partition ``spec`` on ``where``."""
    fd = await lib.open(f"/srv/{srv}", ORDWR)
    try:
        await lib.mount(fd, -1, where, MREPL | MCREATE, spec)
    finally:
        await lib.close(fd)


async def unmount_ext2(pid: int, where: str = "/mnt", srv: str = "ext2") -> None:
    """Unmount, remove the /srv entry and kill ext2srv (every reply it gave followed its
    writes, so nothing is lost); returns once it has exited."""
    await lib.unmount(None, where)
    await lib.remove(f"/srv/{srv}")
    fd = await lib.open(f"/proc/{pid}/ctl", OWRITE)
    await lib.write(fd, b"kill")
    await lib.close(fd)
    while True:
        w = await lib.wait()
        if w.pid == pid:
            return


async def in_node(img: pathlib.Path, body: Callable[[], Awaitable[None]],
                  timeout: float = GUARD, ro: bool = False) -> None:  # fmt: skip
    """Run ``body`` as an LP49 process of a node with ``img`` as sdC0 (``:ro`` if ``ro``)."""
    with trio.fail_after(timeout):
        async with boot(ram=16 << 20, disks=(f"{img}:ro" if ro else str(img),)) as node:
            assert await run_as(node, body, timeout=timeout) == ""


async def served(img: pathlib.Path, body: Callable[[], Awaitable[None]],
                 spec: str = "/dev/sdC0/data", timeout: float = GUARD) -> None:  # fmt: skip
    """Run ``body`` in a node whose /mnt is ext2srv serving ``img``."""

    async def proc() -> None:
        pid = await mount_ext2(spec)
        try:
            await body()
        finally:
            await unmount_ext2(pid)

    await in_node(img, proc, timeout)


async def writefile(path: str, data: bytes, perm: int = 0o644) -> None:
    fd = await lib.create(path, ORDWR, perm)
    try:
        await lib.write(fd, data)
    finally:
        await lib.close(fd)

"""dossrv in a booted node: a disk partitioned by sfdisk and formatted by mkfs.fat, fdisk -p at
boot, dossrv posted as /srv/dos, the partitions mounted on /n; files written by programs of
the node are fsck.fat-clean and read back by mtools on the host."""

from __future__ import annotations

import os
import pathlib
import random
import signal
import socket
import subprocess

import trio
from dos_helpers import MTOOLS, fsck, mget, mput
from lib_helpers import run_as
from sh_helpers import sh
from test_node_daemon import _connect, _read_until, _start, _stop, notify_socket
from waiting import DEADLINE, await_until

from lp49fs import lib
from lp49fs.errors import Error, Ewprotect
from lp49fs.ninep import DMDIR, OREAD, OWRITE
from lp49fs.node import disks
from lp49fs.node.boot import boot
from lp49fs.node.servers import stop_servers

__all__ = ["notify_socket"]  # a fixture of test_node_daemon

MiB = 1 << 20
P1, P2 = 2048, 2048 + 40960  # partition starts (sectors): FAT16 of 20 MiB, FAT32 of 40 MiB


def twofat(tmp: pathlib.Path) -> pathlib.Path:
    img = tmp / "disk.img"
    with img.open("wb") as f:
        f.truncate(64 * MiB)
    script = f"label: dos\nstart={P1}, size=40960, type=6\nstart={P2}, size=81920, type=c\n"
    subprocess.run(["sfdisk", "-q", str(img)], input=script.encode(), check=True)
    subprocess.run(["mkfs.fat", "-F", "16", "--offset", str(P1), str(img), "20480"],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(["mkfs.fat", "-F", "32", "--offset", str(P2), str(img), "40960"],
                   check=True, capture_output=True)  # fmt: skip
    return img


def part(img: pathlib.Path, start: int) -> pathlib.Path:
    """mtools' name for the partition at sector ``start``."""
    return pathlib.Path(f"{img}@@{start * 512}")


async def test_boot_serves_both_partitions(tmp_path: pathlib.Path) -> None:
    img = twofat(tmp_path)
    hello = random.Random(3).randbytes(300000)
    mput(part(img, P1), "From Linux.bin", hello, tmp_path)
    async with boot(disks=(str(img),)) as node, trio.open_nursery() as nursery:
        svs, ns = await disks.start(node, nursery)
        assert ns.splitlines() == ["mount -c /srv/n /n",
                                   "mount -c /srv/dos /n/c /dev/sdC0/dos",
                                   "mount -c /srv/dos /n/sdC0dos /dev/sdC0/dos",
                                   "mount -c /srv/dos /n/sdC0dos1 /dev/sdC0/dos1"]  # fmt: skip

        async def body() -> None:
            fd = await lib.open("/n/c/From Linux.bin", OREAD)
            got = await lib.readall(fd)
            await lib.close(fd)
            assert got == hello
            fd = await lib.create("/n/sdC0dos1/written by lp49.txt", OWRITE, 0o644)
            await lib.write(fd, hello[:70000])
            await lib.close(fd)

        assert await run_as(node, body, timeout=30) == ""
        r = await sh(node, "mkdir /n/c/tree /n/c/tree/sub; echo hi >/n/c/tree/sub/file; "
                           "ls /n/c/tree/sub; cat /n/sdC0dos/tree/sub/file")  # fmt: skip
        assert (r.out, r.status) == ("/n/c/tree/sub/file\nhi\n", ""), r
        r = await sh(node, "dossrv")  # /srv/dos is taken: a running server is never replaced
        assert r.err == "dossrv: /srv/dos: file already exists\n", r
        await stop_servers(node, svs)
        nursery.cancel_scope.cancel()
    fsck(img, P1 * 512)
    fsck(img, P2 * 512)
    assert mget(part(img, P2), "written by lp49.txt") == hello[:70000]
    assert mget(part(img, P1), "tree/sub/file") == b"hi\n"
    listing = subprocess.run(["mdir", "-b", "-i", str(part(img, P1)), "::tree"],
                             env=MTOOLS, capture_output=True, text=True, check=True).stdout
    assert listing.split() == ["::/tree/sub/"]


async def test_readonly_disk(tmp_path: pathlib.Path) -> None:
    """A ``:ro`` disk is served, and every change is refused before anything is written."""
    img = twofat(tmp_path)
    before = img.read_bytes()
    async with boot(disks=(f"{img}:ro",)) as node, trio.open_nursery() as nursery:
        svs, _ = await disks.start(node, nursery)

        async def body() -> None:
            assert [d.name for d in await lib.dirreadall(await lib.open("/n/c", OREAD))] == []
            for what, attempt in (("create", lib.create("/n/c/x", OWRITE, 0o644)),
                                  ("mkdir", lib.create("/n/c/d", OREAD, DMDIR | 0o755))):
                try:
                    await attempt
                except Error as e:
                    assert e.ename == Ewprotect, (what, e)
                    continue
                raise AssertionError(f"{what} on a read-only disk was accepted")

        assert await run_as(node, body, timeout=30) == ""
        await stop_servers(node, svs)
        nursery.cancel_scope.cancel()
    assert img.read_bytes() == before


def test_lp49_node_disk_flag(tmp_path: pathlib.Path, notify_socket: socket.socket) -> None:
    """``lp49 node --disk IMAGE``: the shell of init finds the FAT partitions on /n."""
    img = twofat(tmp_path)
    mput(part(img, P1), "HELLO.TXT", b"from the host\n", tmp_path)
    path = tmp_path / "cons"
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.getsockname()}
    p = _start(["--console", f"unix!{path}", "--disk", str(img)], env=env)
    try:
        assert notify_socket.recv(4096).split(b"\n")[0] == b"READY=1"
        with _connect(path) as s:
            s.sendall(b"ls /n; cat /n/c/hello.txt; echo done\n")
            out = _read_until(s, b"done\r\n% ").decode().replace("\r\n", "\n")
        assert out.splitlines()[1:5] == ["/n/c", "/n/sdC0dos", "/n/sdC0dos1", "from the host"]
    finally:
        status, err = _stop(p)
    assert status == 0 and "Traceback" not in err, err
    fsck(img, P1 * 512)


def test_kill_9_during_a_write_loop(tmp_path: pathlib.Path, notify_socket: socket.socket) -> None:
    """The node daemon is killed with SIGKILL while a loop copies a file again and again
    onto the FAT partition; after ``fsck.fat -a`` every copy that the loop had finished
    (its cat returned, so each write and the close were acknowledged) has its exact bytes."""
    img = twofat(tmp_path)
    src = random.Random(8).randbytes(150000)
    mput(part(img, P1), "SRC", src, tmp_path)
    path = tmp_path / "cons"
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.getsockname()}
    p = _start(["--console", f"unix!{path}", "--disk", str(img)], env=env)
    try:
        assert notify_socket.recv(4096).split(b"\n")[0] == b"READY=1"
        with _connect(path) as s:
            loop = " ".join(str(i) for i in range(1, 200))
            s.sendall(f"for(i in {loop}) {{ cat /n/c/src >/n/c/copy$i; echo done $i }}\n".encode())
            out = _read_until(s, b"done 6\r\n", timeout=60)
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=DEADLINE)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        for f in (p.stdin, p.stdout, p.stderr):
            if f is not None:
                f.close()
    done = [int(x.split()[1]) for x in out.decode().split("\r\n") if x.startswith("done ")]
    assert done[:6] == [1, 2, 3, 4, 5, 6]
    partfile = tmp_path / "p1.img"
    with img.open("rb") as f:
        f.seek(P1 * 512)
        partfile.write_bytes(f.read(40960 * 512))
    subprocess.run(["fsck.fat", "-a", str(partfile)], capture_output=True)  # repair, if needed
    fsck(partfile)
    for i in done:
        assert mget(partfile, f"copy{i}") == src, i


async def test_a_killed_dossrv_is_restarted_and_mounted_again(tmp_path: pathlib.Path) -> None:
    img = twofat(tmp_path)
    mput(part(img, P1), "KEEP.TXT", b"still here\n", tmp_path)

    async def body() -> None:
        fd = await lib.open("/n/c/keep.txt", OREAD)
        assert await lib.read(fd, 100) == b"still here\n"
        await lib.close(fd)
        fd = await lib.open("/n/sdC0dos1", OREAD)
        await lib.dirreadall(fd)
        await lib.close(fd)

    async with boot(disks=(str(img),)) as node, trio.open_nursery() as nursery:
        svs, _ = await disks.start(node, nursery)
        (dos,) = [sv for sv in svs if sv.spec.prog == "dossrv"]
        assert await run_as(node, body, timeout=30) == ""
        node.procmgr.note(node.procmgr.bypid[dos.pid].proc, "kill")
        await await_until(lambda: dos.starts == 2 and dos.up.is_set(), "dossrv restarted")
        assert await run_as(node, body, timeout=30) == ""
        await stop_servers(node, svs)
        nursery.cancel_scope.cancel()

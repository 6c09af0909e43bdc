"""FAT images made and checked by the Linux tools (mkfs.fat, mtools, fsck.fat, sfdisk), and
dossrv served in process on one of them (the partition read with os.pread/os.pwrite).

The in-process ``HostDisk`` stands where dossrv's ``FdDisk`` (system calls on
``/dev/sdC0/dos``) stands in a node; the node path has its own tests (test_dossrv_node.py).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
from collections.abc import AsyncIterator

from conformance import NinepTree, ninep_tree

from lp49fs.lib9p import clientfid as cf
from lp49fs.ninep import OREAD
from lp49fs.servers.dos.fs import Dossrv

MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "LC_ALL": "C.UTF-8"}
SIZES = {12: 4 << 20, 16: 32 << 20, 32: 64 << 20}  # image bytes that give each FAT type


class HostDisk:
    """A FAT image on the host as dossrv's Disk."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR)
        self.size = os.fstat(self.fd).st_size

    async def read(self, offset: int, count: int) -> bytes:
        return os.pread(self.fd, count, offset)

    async def write(self, offset: int, data: bytes) -> None:
        os.pwrite(self.fd, data, offset)


def mkfat(path: pathlib.Path, fattype: int, size: int = 0, *extra: str) -> pathlib.Path:
    """A fresh FAT``fattype`` image of ``size`` bytes (default ``SIZES``) made by mkfs.fat."""
    path.unlink(missing_ok=True)
    size = size or SIZES[fattype]
    cmd = ["mkfs.fat", "-C", "-F", str(fattype), *extra, str(path), str(size // 1024)]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def mtools(cmd: str, img: pathlib.Path, *args: str, data: bytes | None = None) -> str:
    """Run mtools' ``cmd`` (mcopy, mdir, mtype, mmd ...) on ``img``; its stdout."""
    r = subprocess.run([cmd, "-i", str(img), *args], input=data, capture_output=True,
                       env=MTOOLS, check=True)  # fmt: skip
    return r.stdout.decode("utf-8", "replace")


def mput(img: pathlib.Path, name: str, data: bytes, tmp: pathlib.Path) -> None:
    """Put a file in the image with mcopy."""
    src = tmp / "mput.src"
    src.write_bytes(data)
    mtools("mcopy", img, "-o", str(src), f"::{name}")


def mget(img: pathlib.Path, name: str) -> bytes:
    """A file's bytes as mtype reads them."""
    r = subprocess.run(["mtype", "-i", str(img), f"::{name}"], capture_output=True,
                       env=MTOOLS, check=True)  # fmt: skip
    return r.stdout


def mnames(img: pathlib.Path, d: str = "") -> set[str]:
    """The long names mdir shows in directory ``d`` (``.``/``..`` left out)."""
    out = mtools("mdir", img, "-b", f"::{d}")  # bare: one path per line
    return {line.rstrip("/").rsplit("/", 1)[-1] for line in out.splitlines() if line.strip()}


def fsck(img: pathlib.Path | str, offset: int = 0) -> str:
    """``fsck.fat -n`` of the image (or of the partition at byte ``offset``); fails unless
    it is clean; returns its report."""
    path = str(img)
    if offset:
        part = pathlib.Path(path + ".part")
        with open(path, "rb") as f:
            f.seek(offset)
            part.write_bytes(f.read())
        path = str(part)
    r = subprocess.run(["fsck.fat", "-n", path], capture_output=True, text=True)
    assert r.returncode == 0, f"fsck.fat -n: {r.stdout}{r.stderr}"
    lines = [x for x in r.stdout.splitlines()[1:] if not x.startswith(path + ":")]
    assert not lines, f"fsck.fat -n found problems: {r.stdout}"
    return r.stdout


@contextlib.asynccontextmanager
async def served(img: pathlib.Path, uname: str = "glenda") -> AsyncIterator[NinepTree]:
    """dossrv on ``img``, attached with an empty spec (the default file)."""

    async def opener(path: str) -> HostDisk:
        return HostDisk(path)

    async with ninep_tree(Dossrv(opener, str(img)), uname) as tree:
        yield tree


async def slurp(t: NinepTree, path: str) -> bytes:
    """The whole file, read to its end in msize pieces."""
    async with await cf.open_path(t.root, path, OREAD) as fid:
        return await fid.readall()

"""ext2srv against the real tools: images made by mke2fs and filled by debugfs are read
through the server in a booted node; trees written through the server are checked by
``e2fsck -fn`` (clean), read back by ``debugfs -R cat`` and by the Linux kernel's own ext2
(``mount -o loop,ro``) byte for byte."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import random
import subprocess

import pytest

from lp49fs import lib
from lp49fs.cmd._util import readfile
from lp49fs.errors import Error
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OTRUNC, OWRITE, Dir
from tests.ext2_helpers import (
    attach,
    cat,
    debugfs,
    fsck,
    in_node,
    mkimage,
    mount_ext2,
    served,
    start_ext2,
    tool,
    unmount_ext2,
    writefile,
)

MiB = 1 << 20


def nochange(**fields: object) -> Dir:
    """A wstat Dir changing only ``fields``."""
    return dataclasses.replace(Dir.nulldir(), **fields)  # type: ignore[arg-type]


SPECIAL = ("tty", "fifo")  # device nodes made by debugfs mknod: opening them is refused


async def tree(root: str) -> dict[str, bytes | None]:
    """path -> contents (None for a directory) of everything under ``root``."""
    out: dict[str, bytes | None] = {}

    async def walk(rel: str) -> None:
        fd = await lib.open(f"{root}{rel}", OREAD)
        try:
            ents = await lib.dirreadall(fd)
        finally:
            await lib.close(fd)
        for d in ents:
            p = f"{rel}/{d.name}"
            if d.mode & DMDIR:
                out[p] = None
                await walk(p)
            elif d.name in SPECIAL:
                out[p] = b""
            else:
                out[p] = await readfile(f"{root}{p}")

    await walk("")
    return out


def host_tree(root: pathlib.Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = "/" + os.path.relpath(dirpath, root) if dirpath != str(root) else ""
        for d in dirnames:
            out[f"{rel}/{d}"] = None
        for f in filenames:
            out[f"{rel}/{f}"] = (pathlib.Path(dirpath) / f).read_bytes()
    return out


@pytest.mark.parametrize("bs", [1024, 4096])
async def test_reads_what_debugfs_wrote(tmp_path: pathlib.Path, bs: int) -> None:
    img = mkimage(tmp_path / "e.img", 24 * MiB, bs)
    rnd = random.Random(bs)
    # sizes reach the double indirect blocks of both block sizes (12 + bs/4 blocks)
    files = {"/a": b"", "/b": b"hello\n", "/d/c": rnd.randbytes(bs * 13 + 5),
             "/d/e/big": rnd.randbytes(bs * (12 + bs // 4) + 3 * bs + 17)}  # fmt: skip
    reqs = ["mkdir d", "mkdir d/e", "mkdir empty"]
    for name, data in files.items():
        src = tmp_path / name.replace("/", "_")
        src.write_bytes(data)
        reqs.append(f"write {src} {name[1:]}")
    longtarget = "/d/" + "t" * 100  # past the 60 bytes kept in the inode: a block of its own
    reqs += ["symlink d/link /d/c", f"symlink longlink {longtarget}", "sif /b uid 1000",
             "sif /b gid 100", "sif /b mode 0100600", "cd /d", "mknod tty c 4 64", "cd /",
             "mknod fifo p"]
    debugfs(img, *reqs)
    seen: dict[str, object] = {}

    async def body() -> None:
        seen["b"] = await lib.stat("/mnt/b")
        seen["link"] = await lib.stat("/mnt/d/link")
        with pytest.raises(Error):
            await lib.open("/mnt/d/link", OWRITE)
        seen["far"] = await lib.pread(await lib.open("/mnt/d/e/big", OREAD), 10, 1 << 30)
        seen["tree"] = await tree("/mnt")
        await lib.remove("/mnt/d/link")  # a fast symlink: its i_block is text, not blocks
        await lib.remove("/mnt/longlink")
        with pytest.raises(Error, match="special file not served"):
            await lib.open("/mnt/d/tty", OREAD)
        await lib.remove("/mnt/d/tty")  # i_block holds the device number, not blocks
        await lib.remove("/mnt/fifo")

    await served(img, body)
    fsck(img)
    got = seen["tree"]
    assert isinstance(got, dict)
    for name, data in files.items():
        assert got[name] == data, name
    assert got["/d"] is None and got["/d/e"] is None and got["/empty"] is None
    assert got["/d/link"] == b"/d/c"  # a symlink reads as its target
    assert got["/longlink"] == longtarget.encode()
    assert got["/d/tty"] == b"" and got["/fifo"] == b""  # listed, never opened: see tree()
    assert "/lost+found" in got
    b = seen["b"]
    assert isinstance(b, Dir) and (b.uid, b.gid, b.mode & 0o777) == ("1000", "100", 0o600)
    link = seen["link"]
    assert isinstance(link, Dir) and link.mode & 0o222 == 0
    assert seen["far"] == b""


def kernel_tree(img: pathlib.Path, mnt: pathlib.Path) -> dict[str, bytes | None]:
    """The tree as the Linux kernel's ext2 driver reads it (loop, read-only; needs root)."""
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop,ro", "-t", "ext2", str(img), str(mnt)], check=True)
    try:
        return host_tree(mnt)
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.parametrize("bs", [1024, 4096])
async def test_writes_pass_e2fsck_debugfs_and_the_kernel(tmp_path: pathlib.Path, bs: int) -> None:
    img = mkimage(tmp_path / "e.img", 32 * MiB, bs)
    rnd = random.Random(bs + 1)
    model: dict[str, bytes | None] = {"/lost+found": None}

    async def body() -> None:
        for d in ("/x", "/x/y", "/x/y/z", "/gone"):
            await lib.close(await lib.create(f"/mnt{d}", OREAD, DMDIR | 0o755))
            model[d] = None
        sizes = [0, 1, bs - 1, bs, bs + 1, 12 * bs, 13 * bs + 7, (12 + bs // 4 + 5) * bs + 3]
        for k, n in enumerate(sizes):
            data = rnd.randbytes(n)
            await writefile(f"/mnt/x/f{k}", data)
            model[f"/x/f{k}"] = data
        # a file written piecewise at odd offsets, holes included
        buf = bytearray(5 * bs + 100)
        fd = await lib.create("/mnt/x/y/holes", ORDWR, 0o600)
        for off, n in ((3 * bs + 5, 200), (10, 30), (5 * bs, 100), (bs - 3, 7)):
            piece = rnd.randbytes(n)
            assert await lib.pwrite(fd, piece, off) == n
            buf[off : off + n] = piece
        await lib.close(fd)
        model["/x/y/holes"] = bytes(buf)
        # truncate down (mid block) then up: the tail reads as zeros
        data = rnd.randbytes(20 * bs)
        await writefile("/mnt/x/y/z/t", data)
        await lib.wstat("/mnt/x/y/z/t", nochange(length=7 * bs + 9))
        await lib.wstat("/mnt/x/y/z/t", nochange(length=9 * bs))
        model["/x/y/z/t"] = data[: 7 * bs + 9] + bytes(9 * bs - 7 * bs - 9)
        # OTRUNC, rename, remove, mode and mtime
        fd = await lib.open("/mnt/x/f6", OWRITE | OTRUNC)
        await lib.write(fd, b"short")
        await lib.close(fd)
        model["/x/f6"] = b"short"
        await lib.wstat("/mnt/x/f5", nochange(name="renamed"))
        model["/x/renamed"] = model.pop("/x/f5")
        await lib.remove("/mnt/x/f7")
        del model["/x/f7"]
        await writefile("/mnt/gone/file", b"soon gone")
        with pytest.raises(Error):
            await lib.remove("/mnt/gone")  # not empty
        await lib.remove("/mnt/gone/file")
        await lib.remove("/mnt/gone")
        del model["/gone"]
        await lib.wstat("/mnt/x/f1", nochange(mode=0o640, mtime=1_000_000_000))
        assert await tree("/mnt") == model  # and the server agrees with itself

    await served(img, body)
    fsck(img)
    for name, data in model.items():
        if data is not None:
            assert cat(img, name) == data, name
    assert kernel_tree(img, tmp_path / "k") == model
    out = debugfs(img, "stat /x/f1")
    assert "Mode:  0640" in out and "2001" in out  # mtime 1e9 is in September 2001


async def test_revision_0_image(tmp_path: pathlib.Path) -> None:
    """Revision 0: 128-byte inodes, first inode 11, no filetype in directory entries."""
    img = mkimage(tmp_path / "r0.img", 8 * MiB, 1024, "-r", "0")
    debugfs(img, "mkdir old")

    async def body() -> None:
        await writefile("/mnt/old/new", b"rev 0" * 1000)
        await lib.close(await lib.create("/mnt/d", OREAD, DMDIR | 0o755))
        assert await readfile("/mnt/old/new") == b"rev 0" * 1000

    await served(img, body)
    fsck(img)
    assert cat(img, "/old/new") == b"rev 0" * 1000


REFUSED = {"ext4": r"unsupported ext2 feature: .*extent", "8k": "block size 8192"}


@pytest.mark.parametrize("kind", ["ext3", "ext4", "8k"])
async def test_journal_extents_and_big_blocks(tmp_path: pathlib.Path, kind: str) -> None:
    """ext3 (a journal, compat) is served read-only; ext4 (extents, 64bit: incompat) and
    8 KiB blocks are refused at attach with the reason; the server keeps serving."""
    img = tmp_path / "j.img"
    with open(img, "wb") as f:
        f.truncate(16 * MiB)
    how = ["-t", "ext2", "-b", "8192"] if kind == "8k" else ["-t", kind]
    subprocess.run(["mke2fs", "-q", "-F", *how, str(img)], check=True, capture_output=True)
    src = tmp_path / "s"
    src.write_bytes(b"journalled")
    if kind == "ext3":
        debugfs(img, f"write {src} s")
    before = img.read_bytes()

    async def body() -> None:
        if kind in REFUSED:
            with pytest.raises(Error, match=REFUSED[kind]):
                await mount_ext2()
            return
        pid = await mount_ext2()
        assert await readfile("/mnt/s") == b"journalled"
        with pytest.raises(Error, match="write protected: has_journal"):
            await writefile("/mnt/t", b"no")
        with pytest.raises(Error, match="write protected"):
            await lib.open("/mnt/s", OWRITE)
        await unmount_ext2(pid)

    await in_node(img, body)
    assert img.read_bytes() == before


async def test_corrupt_images_are_refused_and_nothing_is_written(tmp_path: pathlib.Path) -> None:
    """The whole disk has no ext2 magic (zeros: the attach fails); a partition at 8 MiB
    holds a good image, and the same server then serves it."""
    img = tmp_path / "c.img"
    img.write_bytes(bytes(16 * MiB))
    tool("mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", "-E", f"offset={8 * MiB}",
         str(img), "8192k")  # fmt: skip
    before = img.read_bytes()[: 8 * MiB]

    async def body() -> None:
        pid = await start_ext2()
        with pytest.raises(Error, match="corrupt ext2 file system: no ext2 magic"):
            await attach("/dev/sdC0/data")
        fd = await lib.open("/dev/sdC0/ctl", OWRITE)
        await lib.write(fd, f"part good {8 * MiB // 512} {16 * MiB // 512}\n".encode())
        await lib.close(fd)
        await attach("/dev/sdC0/good")
        await writefile("/mnt/f", b"served")
        assert await readfile("/mnt/f") == b"served"
        await unmount_ext2(pid)

    await in_node(img, body)
    assert img.read_bytes()[: 8 * MiB] == before


async def test_a_corrupt_directory_is_an_error_and_left_alone(tmp_path: pathlib.Path) -> None:
    img = mkimage(tmp_path / "c.img", 8 * MiB, 1024)
    debugfs(img, "mkdir bad")
    blk = int(debugfs(img, "bmap bad 0").split()[-1])
    raw = bytearray(img.read_bytes())
    raw[blk * 1024 + 4 : blk * 1024 + 6] = (3).to_bytes(2, "little")  # rec_len of "." = 3
    img.write_bytes(raw)

    async def body() -> None:
        with pytest.raises(Error, match="corrupt ext2 file system"):
            await lib.create("/mnt/bad/x", ORDWR, 0o644)
        await writefile("/mnt/good", b"still serving")
        assert await readfile("/mnt/good") == b"still serving"

    await served(img, body)
    assert img.read_bytes()[blk * 1024 : (blk + 1) * 1024] == raw[blk * 1024 : (blk + 1) * 1024]

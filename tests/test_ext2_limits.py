"""ext2srv at the edges: a full disk, a partition of an MBR disk, a big directory, a file
removed while open, the users table; each image is checked by e2fsck -fn afterwards."""

from __future__ import annotations

import os
import pathlib
import random
import subprocess

import pytest

from lp49fs import lib
from lp49fs.cmd._util import readfile
from lp49fs.errors import Error
from lp49fs.ninep import DMDIR, ORDWR, OREAD, OWRITE
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


def free_blocks(img: pathlib.Path, offset: int = 0) -> int:
    out = tool("dumpe2fs", "-h", f"{img}?offset={offset}" if offset else str(img))
    return int(next(ln for ln in out.splitlines() if ln.startswith("Free blocks:")).split()[-1])


async def test_a_full_disk_is_file_system_full_and_stays_clean(tmp_path: pathlib.Path) -> None:
    img = mkimage(tmp_path / "f.img", 2 * MiB, 1024)
    acked = bytearray()
    rnd = random.Random(5)

    async def body() -> None:
        fd = await lib.create("/mnt/fill", ORDWR, 0o644)
        with pytest.raises(Error, match="file system full"):
            while True:
                piece = rnd.randbytes(10_000)
                n = await lib.write(fd, piece)
                acked.extend(piece[:n])
                if n < len(piece):  # a short count first, then the error (write(2) rules)
                    await lib.write(fd, piece[n:])
        await lib.close(fd)
        with pytest.raises(Error, match="file system full"):
            await writefile("/mnt/more", rnd.randbytes(5000))
        assert await readfile("/mnt/fill") == bytes(acked)

    await served(img, body)
    fsck(img)
    assert len(acked) > MiB and cat(img, "/fill") == bytes(acked)


async def test_a_linux_partition_of_an_mbr_disk(tmp_path: pathlib.Path) -> None:
    """sfdisk's MBR with a FAT and a Linux partition; mke2fs -E offset= formats the second;
    ext2srv serves ``/dev/sdC0/linux`` (the part line fdisk -p would write) and leaves the
    first partition's bytes alone."""
    img = tmp_path / "d.img"
    img.write_bytes(bytes(12 * MiB))
    script = "label: dos\nstart=2048, size=4096, type=6\nstart=6144, type=83\n"
    subprocess.run(["sfdisk", "-q", str(img)], input=script.encode(), check=True)
    off = 6144 * 512
    size = 12 * MiB - off
    tool("mke2fs", "-q", "-F", "-t", "ext2", "-b", "4096", "-E", f"offset={off}", str(img),
         f"{size // 1024}k")  # fmt: skip
    head = img.read_bytes()[:off]
    data = random.Random(1).randbytes(300_000)

    async def body() -> None:
        fd = await lib.open("/dev/sdC0/ctl", OWRITE)
        await lib.write(fd, f"part linux 6144 {12 * MiB // 512}\n".encode())
        await lib.close(fd)
        pid = await mount_ext2("/dev/sdC0/linux")
        await lib.close(await lib.create("/mnt/d", OREAD, DMDIR | 0o755))
        await writefile("/mnt/d/f", data)
        assert await readfile("/mnt/d/f") == data
        await unmount_ext2(pid)

    await in_node(img, body)
    assert img.read_bytes()[:off] == head
    part = tmp_path / "p.img"
    part.write_bytes(img.read_bytes()[off:])
    fsck(part)
    assert cat(part, "/d/f") == data


async def test_a_directory_of_500_entries(tmp_path: pathlib.Path) -> None:
    """500 names of 12-51 bytes fill about 15 1 KiB blocks, more than ``dirent.SCAN``: new
    entries go in the last block or a new one; freed ones are merged or emptied.  (A
    directory of 5,000 entries is in bench/ext2.py: each create costs about 10 ms of system
    calls in the node.)"""
    img = mkimage(tmp_path / "m.img", 8 * MiB, 1024)
    names = [f"entry-{k:05d}-{'x' * (k % 40)}" for k in range(500)]

    async def body() -> None:
        await lib.close(await lib.create("/mnt/many", OREAD, DMDIR | 0o755))
        for n in names:
            await lib.close(await lib.create(f"/mnt/many/{n}", ORDWR, 0o644))
        for n in names[::3]:
            await lib.remove(f"/mnt/many/{n}")
        for n in names[::6]:
            await writefile(f"/mnt/many/{n}", n.encode())
        fd = await lib.open("/mnt/many", OREAD)
        got = sorted(d.name for d in await lib.dirreadall(fd))
        await lib.close(fd)
        want = sorted(set(names) - set(names[::3]) | set(names[::6]))
        assert got == want

    await served(img, body)
    fsck(img)
    # debugfs -p lines: /inode/mode/uid/gid/name/size/; a freed first entry of a block
    # keeps its name with inode 0 (as the Linux driver leaves it)
    listed = [ln.split("/") for ln in debugfs(img, "ls -p /many").splitlines()]
    live = sorted(f[5] for f in listed if len(f) > 6 and f[1] != "0" and f[5] not in (".", ".."))
    assert live == sorted(set(names) - set(names[::3]) | set(names[::6]))
    assert cat(img, f"/many/{names[6]}") == names[6].encode()


async def test_a_removed_open_file_lives_until_closed(tmp_path: pathlib.Path) -> None:
    img = mkimage(tmp_path / "o.img", 8 * MiB, 1024)
    before = free_blocks(img)
    data = random.Random(2).randbytes(200_000)

    async def body() -> None:
        fd = await lib.create("/mnt/tmpfile", ORDWR, 0o644)
        await lib.write(fd, data)
        await lib.remove("/mnt/tmpfile")
        with pytest.raises(Error):
            await lib.stat("/mnt/tmpfile")
        assert await lib.pread(fd, 100, 1000) == data[1000:1100]
        await lib.pwrite(fd, b"still here", 0)
        assert await lib.pread(fd, 10, 0) == b"still here"
        await lib.close(fd)

    await served(img, body)
    fsck(img)
    assert free_blocks(img) == before


async def test_owners_are_names_from_the_users_table(tmp_path: pathlib.Path) -> None:
    img = mkimage(tmp_path / "u.img", 8 * MiB, 1024)
    src = tmp_path / "s"
    src.write_bytes(b"x")
    debugfs(img, f"write {src} a", f"write {src} b", "sif a uid 1000", "sif a gid 100",
            "sif b uid 4242", "sif b gid 4242")  # fmt: skip

    async def body() -> None:
        fd = await lib.create("/env/ext2users", OWRITE, 0o644)
        await lib.write(fd, b"1000:glenda:glenda:\n100:users::glenda\n# comment\n")
        await lib.close(fd)
        pid = await mount_ext2(args=("-u", "/env/ext2users"))
        a, b = await lib.stat("/mnt/a"), await lib.stat("/mnt/b")
        assert (a.uid, a.gid, b.uid, b.gid) == ("glenda", "users", "4242", "4242")
        await unmount_ext2(pid)

    await in_node(img, body)


async def test_triple_indirect_and_large_files(tmp_path: pathlib.Path) -> None:
    """A byte at 70 MiB of a 1 KiB-block image goes through the triple indirect block (past
    12 + 256 + 65,536 blocks); one at 5 GiB of a 4 KiB-block image sets ``large_file`` and
    ``size_high``.  e2fsck, debugfs and the kernel agree on both."""
    small = mkimage(tmp_path / "s.img", 8 * MiB, 1024, "-O", "^large_file")
    big = mkimage(tmp_path / "b.img", 16 * MiB, 4096, "-O", "^large_file")
    cases = ((small, 70 * MiB + 5), (big, 5 << 30))
    for img, off in cases:

        async def body(off: int = off) -> None:
            fd = await lib.create("/mnt/sparse", ORDWR, 0o644)
            await lib.pwrite(fd, b"far away", off)
            await lib.pwrite(fd, b"near", 100)
            await lib.close(fd)
            assert (await lib.stat("/mnt/sparse")).length == off + 8
            fd = await lib.open("/mnt/sparse", OREAD)
            assert await lib.pread(fd, 12, off - 4) == bytes(4) + b"far away"
            assert await lib.pread(fd, 8, 98) == b"\0\0near\0\0"
            await lib.close(fd)

        await served(img, body)
        fsck(img)
        out = debugfs(img, "stat /sparse", "dump_extents /sparse")
        assert f"Size: {off + 8}" in out
        mnt = tmp_path / f"k{off}"
        mnt.mkdir()
        subprocess.run(["mount", "-o", "loop,ro", "-t", "ext2", str(img), str(mnt)], check=True)
        try:
            with open(mnt / "sparse", "rb") as f:
                assert os.fstat(f.fileno()).st_size == off + 8
                assert os.pread(f.fileno(), 8, off) == b"far away"
                assert os.pread(f.fileno(), 4, 100) == b"near"
        finally:
            subprocess.run(["umount", str(mnt)], check=True)
    assert "large_file" in tool("dumpe2fs", "-h", str(big))
    assert "large_file" not in tool("dumpe2fs", "-h", str(small))


@pytest.mark.parametrize("how", ["disk", "flag"])
async def test_a_read_only_disk_or_r_serves_read_only(tmp_path: pathlib.Path, how: str) -> None:
    """A ``:ro`` disk (its partition files mode 0440) or ``ext2srv -r``: reads work, every
    change is ``write protected`` with the reason, and the image is untouched."""
    img = mkimage(tmp_path / "r.img", 8 * MiB, 1024)
    src = tmp_path / "s"
    src.write_bytes(b"kept")
    debugfs(img, f"write {src} a", "mkdir d")
    before = img.read_bytes()

    async def body() -> None:
        pid = await mount_ext2(args=("-r",) if how == "flag" else ())
        assert await readfile("/mnt/a") == b"kept"
        for change in (lambda: writefile("/mnt/b", b"x"), lambda: lib.remove("/mnt/a"),
                       lambda: lib.open("/mnt/a", ORDWR),
                       lambda: lib.create("/mnt/d/e", OREAD, DMDIR | 0o755)):  # fmt: skip
            with pytest.raises(Error, match="write protected"):
                await change()
        await unmount_ext2(pid)

    await in_node(img, body, ro=how == "disk")
    assert img.read_bytes() == before


async def test_a_hashed_directory_is_kept_readable(tmp_path: pathlib.Path) -> None:
    """``e2fsck -D`` gives a 300-entry directory an htree index (``dir_index``); ext2srv reads
    it linearly, and when it changes the directory it drops the index flag, which leaves a
    directory that e2fsck and the kernel both read in full."""
    img = mkimage(tmp_path / "h.img", 8 * MiB, 1024)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    debugfs(img, "mkdir big", *(f"write {empty} big/file{k:04d}" for k in range(300)))
    tool("e2fsck", "-fyD", str(img), ok=(0, 1))
    assert "Flags: 0x1000" in debugfs(img, "stat big")  # EXT2_INDEX_FL
    names = {f"file{k:04d}" for k in range(300)}

    async def body() -> None:
        for k in range(0, 300, 15):
            await lib.remove(f"/mnt/big/file{k:04d}")
            names.discard(f"file{k:04d}")
        for k in range(20):
            await writefile(f"/mnt/big/new{k}", b"n")
            names.add(f"new{k}")
        fd = await lib.open("/mnt/big", OREAD)
        assert {d.name for d in await lib.dirreadall(fd)} == names
        await lib.close(fd)

    await served(img, body)
    fsck(img)
    assert "Flags: 0x0" in debugfs(img, "stat big")
    mnt = tmp_path / "k"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop,ro", "-t", "ext2", str(img), str(mnt)], check=True)
    try:
        assert set(os.listdir(mnt / "big")) == names
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


async def test_two_names_of_one_partition_share_one_image(tmp_path: pathlib.Path) -> None:
    """``/dev/sdC0/data`` and ``#S/sdC0/data`` are one file: one ext2srv serves both attaches
    from one image (one cache), so a change through either is seen through the other."""
    img = mkimage(tmp_path / "t.img", 8 * MiB, 1024)

    async def body() -> None:
        pid = await start_ext2()
        await attach("/dev/sdC0/data", "/mnt")
        await attach("#S/sdC0/data", "/n")
        fd = await lib.open("/n", OREAD)  # read the root through the second name first
        assert "one" not in [d.name for d in await lib.dirreadall(fd)]
        await lib.close(fd)
        await writefile("/mnt/one", b"through /mnt")
        assert await readfile("/n/one") == b"through /mnt"
        await lib.close(await lib.create("/n/d", OREAD, DMDIR | 0o755))
        assert (await lib.stat("/mnt/d")).mode & DMDIR
        await lib.unmount(None, "/n")
        await unmount_ext2(pid)

    await in_node(img, body)
    fsck(img)
    assert cat(img, "/one") == b"through /mnt"

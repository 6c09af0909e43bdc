"""dossrv against the Linux FAT tools, FAT12, FAT16 and FAT32 each: images made by mkfs.fat
and filled by mtools are read back byte for byte; what dossrv writes is fsck.fat-clean and
reads back the same through mtools."""

from __future__ import annotations

import dataclasses
import pathlib
import random

import pytest
from dos_helpers import HostDisk, fsck, mget, mkfat, mnames, mput, mtools, served, slurp

from lp49fs.errors import Ebadfs, Ecorrupt, Eexist, Efull, Elongname, Enotempty, Error
from lp49fs.lib9p import clientfid as cf
from lp49fs.ninep import DMDIR, OREAD, OWRITE, Dir
from lp49fs.servers.dos import dirent as de
from lp49fs.servers.dos.bpb import parse
from lp49fs.servers.dos.vol import Volume

FATS = (12, 16, 32)
LONG = "A rather long file name, with spaces & unicode ü — 長い名前.txt"


@pytest.fixture(params=FATS, ids=[f"fat{n}" for n in FATS])
def img(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> pathlib.Path:
    return mkfat(tmp_path / "fat.img", request.param)


def blob(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


async def test_reads_what_mtools_wrote(img: pathlib.Path, tmp_path: pathlib.Path) -> None:
    files = {"SHORT.TXT": blob(100), LONG: blob(70000, 2), "lower.c": b"int x;\n",
             "sub/deeper/In Deep.bin": blob(300000, 3), "sub/EMPTY": b""}  # fmt: skip
    mtools("mmd", img, "::sub", "::sub/deeper")
    for name, data in files.items():
        mput(img, name, data, tmp_path)
    async with served(img) as t:
        assert {d.name for d in await t.listdir("")} == {"SHORT.TXT", LONG, "lower.c", "sub"}
        assert {d.name for d in await t.listdir("sub")} == {"deeper", "EMPTY"}
        for name, data in files.items():
            st = await t.stat(name)
            assert st.length == len(data) and st.name == name.rsplit("/", 1)[-1]
            assert await slurp(t, name) == data
        assert await t.read("sub/deeper/in deep.bin", 123457, 5) == files[
            "sub/deeper/In Deep.bin"
        ][123457:123462]  # names are case-insensitive
        assert (await t.stat("sub")).mode & DMDIR


async def test_writes_that_fsck_and_mtools_accept(img: pathlib.Path) -> None:
    big = blob(1 << 20, 4)
    async with served(img) as t:
        await t.create("dir", DMDIR | 0o755)
        await t.create("dir/inner dir", DMDIR | 0o755)
        await t.create(f"dir/inner dir/{LONG}", 0o644)
        await t.write(f"dir/inner dir/{LONG}", big)
        await t.create("README", 0o644)
        await t.write("README", b"hello\n")
        await t.create("x" * 255, 0o644)
        await t.write("x" * 255, b"longest")
        for i in range(40):  # more entries than one cluster of the directory holds
            await t.create(f"dir/file number {i}", 0o644)
            await t.write(f"dir/file number {i}", blob(i * 97, i))
        with pytest.raises(Error) as e:
            await t.create("readme", 0o644)  # case-insensitive
        assert e.value == Error(Eexist)
        with pytest.raises(Error) as e:
            await t.create("y" * 256, 0o644)
        assert e.value == Error(Elongname)
        with pytest.raises(Error):
            await t.create("bad:name", 0o644)
    fsck(img)
    assert mget(img, f"dir/inner dir/{LONG}") == big
    assert mget(img, "README") == b"hello\n" and mget(img, "x" * 255) == b"longest"
    assert mnames(img, "dir") == {"inner dir", *(f"file number {i}" for i in range(40))}
    for i in range(40):
        assert mget(img, f"dir/file number {i}") == blob(i * 97, i)


async def test_truncate_rename_remove(img: pathlib.Path, tmp_path: pathlib.Path) -> None:
    mput(img, "keep.txt", b"k" * 5000, tmp_path)
    null = Dir.nulldir()
    async with served(img) as t:
        await t.create("f", 0o644)
        await t.write("f", blob(50000))
        await t.wstat("f", dataclasses.replace(null, length=10))  # down
        await t.wstat("f", dataclasses.replace(null, length=9000))  # up: zeros
        assert await slurp(t, "f") == blob(50000)[:10] + bytes(8990)
        q = (await t.stat("f")).qid.path
        await t.wstat("f", dataclasses.replace(null, name="a much longer name than before"))
        assert (await t.stat("a much longer name than before")).qid.path == q
        await t.wstat("a much longer name than before", dataclasses.replace(null, name="F2"))
        await t.wstat("keep.txt", dataclasses.replace(null, mtime=946684800))  # 2000-01-01
        await t.wstat("keep.txt", dataclasses.replace(null, mode=0o444))
        assert (await t.stat("keep.txt")).mode & 0o777 == 0o444
        with pytest.raises(Error):
            await t.write("keep.txt", b"no")
        await t.create("d", DMDIR | 0o755)
        await t.create("d/g", 0o644)
        with pytest.raises(Error) as e:
            await t.remove("d")
        assert e.value == Error(Enotempty)
        await t.remove("d/g")
        await t.remove("d")
        await t.create("gone", 0o644)
        await t.write("gone", blob(20000))
        await t.remove("gone")
    fsck(img)
    assert mnames(img) == {"keep.txt", "F2"}
    assert mget(img, "F2") == blob(50000)[:10] + bytes(8990)
    assert "2000-01-01" in mtools("mdir", img, "::keep.txt")
    assert " R " in mtools("mattrib", img, "::keep.txt") or "R" in mtools(
        "mattrib", img, "::keep.txt"
    ).split("::")[0]


async def test_full_disk(tmp_path: pathlib.Path) -> None:
    """Writing until the volume is full gives the Plan 9 'file system full'; what was
    acknowledged is there, and the volume stays clean."""
    img = mkfat(tmp_path / "small.img", 12, 1 << 20)
    chunk = blob(4096, 5)  # one Twrite each: each is acknowledged or refused whole
    done = 0
    async with served(img) as t:
        await t.create("big", 0o644)
        async with await cf.open_path(t.root, "big", OWRITE) as fid:
            with pytest.raises(Error) as e:
                while True:
                    await fid.write(chunk, done)
                    done += len(chunk)
        assert e.value == Error(Efull)
        assert (await t.stat("big")).length == done > 0
        await t.create("small", 0o644)  # an entry still fits, but no data
        with pytest.raises(Error):
            await t.write("small", chunk)
    fsck(img)
    assert mget(img, "big") == chunk * (done // len(chunk))


async def test_many_entries_and_open_fids(img: pathlib.Path) -> None:
    """A directory of 600 entries (several clusters of slots) lists whole; a removed file
    read through an open fid says the file is gone, and stat still answers."""
    async with served(img) as t:
        await t.create("many", DMDIR | 0o755)
        for i in range(600):
            await t.create(f"many/entry-{i:04d}.dat", 0o644)
        assert len(await t.listdir("many")) == 600
        await t.create("f", 0o644)
        fid = await cf.open_path(t.root, "f", OREAD)
        await t.remove("f")
        with pytest.raises(Error):
            await fid.read(10, 0)
        await fid.clunk()
    fsck(img)
    assert len(mnames(img, "many")) == 600


async def test_bad_volumes_are_refused(tmp_path: pathlib.Path) -> None:
    """A boot sector that is not FAT's is refused; a chain that loops fails the read
    (``corrupt FAT chain``), the server still answers, and nothing is written."""
    junk = tmp_path / "junk.img"
    junk.write_bytes(blob(1 << 20))
    with pytest.raises(Error) as e:
        await Volume.open(HostDisk(str(junk)))
    assert e.value == Error(Ebadfs)
    good = mkfat(tmp_path / "good.img", 16)
    mput(good, "loop.bin", blob(20000), tmp_path)
    raw = bytearray(good.read_bytes())
    bpb = parse(bytes(raw[:512]), len(raw))
    (ent,) = de.scan(raw[bpb.rootdir : bpb.rootdir + bpb.rootents * 32])
    second = int.from_bytes(raw[bpb.fat + 2 * ent.cluster : bpb.fat + 2 * ent.cluster + 2],
                            "little")  # fmt: skip
    raw[bpb.fat + 2 * second : bpb.fat + 2 * second + 2] = second.to_bytes(2, "little")
    good.write_bytes(bytes(raw))  # the file's second cluster now points at itself
    async with served(good) as t:
        with pytest.raises(Error) as e:
            await slurp(t, "loop.bin")
        assert e.value == Error(Ecorrupt)
        assert [d.name for d in await t.listdir("")] == ["loop.bin"]
    assert good.read_bytes() == bytes(raw)


async def test_a_directory_of_1000_long_names(tmp_path: pathlib.Path) -> None:
    """1,000 long names in one directory (4,000 slots over many clusters, short names past
    ~4 from a hash): all listed, a few removed and their slots reused; fsck.fat and mdir
    agree.  (bench/disk.py --small 5000 makes a directory of 5,000.)"""
    img = mkfat(tmp_path / "fat.img", 32)
    names = [f"a file with a long name {i:05d}.txt" for i in range(1000)]
    async with served(img) as t:
        await t.create("big dir", DMDIR | 0o755)
        for name in names:
            await t.create(f"big dir/{name}", 0o644)
        for name in names[:50]:
            await t.remove(f"big dir/{name}")
        for name in names[:20]:
            await t.create(f"big dir/{name}", 0o644)
        listed = {d.name for d in await t.listdir("big dir")}
        assert listed == set(names[:20] + names[50:])
        assert (await t.stat(f"big dir/{names[999]}")).length == 0
    fsck(img)
    assert mnames(img, "big dir") == set(names[:20] + names[50:])


async def test_fids_per_attach_are_bounded(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAXFILES live Files on one attach a walk is refused; clunking frees a place."""
    from lp49fs.errors import Etoomany
    from lp49fs.servers.dos import fs as dosfs

    monkeypatch.setattr(dosfs, "MAXFILES", 6)
    img = mkfat(tmp_path / "fat.img", 12)
    async with served(img) as t:
        fids = [await t.root.walk([]) for _ in range(5)]  # the attach fid is the sixth
        with pytest.raises(Error) as e:
            await t.root.walk([])
        assert e.value == Error(Etoomany)
        await fids.pop().clunk()
        fids.append(await t.root.walk([]))
        for f in fids:
            await f.clunk()


async def test_qids_are_the_same_after_a_restart(img: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """A restarted dossrv gives each file the qid path it had (``#M`` recovery walks held
    fids again and refuses a changed one), whatever order the files are walked in; a file
    renamed away keeps its qid while another takes its old slot, and they stay distinct."""
    names = ["a", "b", "sub/c", "sub/d"]
    mtools("mmd", img, "::sub")
    for i, name in enumerate(names):
        mput(img, name, blob(100 * i + 1, i), tmp_path)
    null = Dir.nulldir()
    async with served(img) as t:
        first = {n: (await t.stat(n)).qid.path for n in names}
        await t.wstat("a", dataclasses.replace(null, name="moved"))
        await t.create("a", 0o644)  # may take the slot the old a left
        assert (await t.stat("moved")).qid.path == first["a"]
        assert (await t.stat("a")).qid.path not in first.values()
    async with served(img) as t:  # the next run walks them in the other order
        again = {n: (await t.stat(n)).qid.path for n in reversed(names[1:])}
        assert again == {n: first[n] for n in names[1:]}
        assert (await t.stat("sub")).qid.path != (await t.stat("b")).qid.path

"""The default node's disk (lp49fs/host/cdisk.py): /n/c on an image in the state directory.

The image is made once (an MBR written by our code, mkfs.fat at the partition's offset),
checked by sfdisk and fsck.fat; a file written to /n/c through one FUSE view of the default
node is there in the next one; a second node while the image is in use gets a temporary
image of its own.
"""

from __future__ import annotations

import fcntl
import os
import pathlib
import subprocess

import pytest
from dos_helpers import fsck, mget, mnames
from fuse_view import daemons, mounted

from lp49fs.host import cdisk
from tests.waiting import wait_until


@pytest.fixture
def state(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    d = tmp_path / "state"
    monkeypatch.setenv("LP49_STATE", str(d))
    return d


def partition(img: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(f"{img}@@{cdisk.START * cdisk.SECTOR}")


def test_the_image_is_partitioned_and_clean(tmp_path: pathlib.Path) -> None:
    img = tmp_path / "c.img"
    cdisk.make(str(img))
    assert img.stat().st_size == cdisk.SIZE
    dump = subprocess.run(["sfdisk", "--dump", str(img)], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    sectors = cdisk.SIZE // cdisk.SECTOR - cdisk.START
    assert f"start=        {cdisk.START}, size=       {sectors}, type=6" in dump, dump
    fsck(img, cdisk.START * cdisk.SECTOR)
    with img.open("rb") as f:
        f.seek(cdisk.START * cdisk.SECTOR + 54)  # BS_FilSysType of a FAT12/16 boot sector
        assert f.read(8) == b"FAT16   "
    assert mnames(partition(img)) == set()


def test_files_on_n_c_survive_a_remount(tmp_path: pathlib.Path, state: pathlib.Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    with mounted(first) as mnt:
        assert sorted(os.listdir(mnt / "n")) == ["c", "sdC0dos"]
        (mnt / "n" / "c" / "kept").mkdir()
        (mnt / "n" / "c" / "kept" / "note.txt").write_bytes(b"still here\n")
    wait_until(lambda: not daemons(first / "mnt"), what="the first view's daemon to exit")
    img = state / cdisk.NAME
    assert mget(partition(img), "kept/note.txt") == b"still here\n"
    with mounted(second) as mnt:
        assert (mnt / "n" / "c" / "kept" / "note.txt").read_bytes() == b"still here\n"
        (mnt / "n" / "c" / "kept" / "note.txt").write_bytes(b"changed\n")
    wait_until(lambda: not daemons(second / "mnt"), what="the second view's daemon to exit")
    fsck(img, cdisk.START * cdisk.SECTOR)
    assert mget(partition(img), "kept/note.txt") == b"changed\n"


def test_an_image_in_use_is_not_shared(state: pathlib.Path) -> None:
    path = cdisk.cdisk()
    assert path == str(state / cdisk.NAME)
    other = os.open(path, os.O_RDWR)
    try:  # a second holder: this process's lock is on another open file
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(other)
    again = cdisk.cdisk()  # the same process asking again is a second node
    assert again is not None and again != path
    assert os.path.getsize(again) == cdisk.SIZE


def test_only_the_default_node_gets_one(state: pathlib.Path) -> None:
    from lp49fs.node.config import NodeConfig, parse

    assert cdisk.with_cdisk(NodeConfig(disks=("x.img",))).disks == ("x.img",)
    assert cdisk.with_cdisk(parse("", "node.toml")).disks == ()
    assert not state.exists()

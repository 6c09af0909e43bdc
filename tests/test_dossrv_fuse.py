"""A FAT disk through the FUSE view: ``lp49 mount default DIR -o disk=IMAGE`` shows the first
FAT partition at DIR/n/c; ``cp -r`` of a tree into it leaves the partition fsck.fat-clean with
the same names and bytes for mtools."""

from __future__ import annotations

import filecmp
import os
import pathlib
import random
import subprocess

from dos_helpers import fsck, mget, mnames
from fuse_view import mounted

MiB = 1 << 20
START = 2048


def disk(tmp: pathlib.Path) -> pathlib.Path:
    img = tmp / "disk.img"
    with img.open("wb") as f:
        f.truncate(48 * MiB)
    script = f"label: dos\nstart={START}, type=c\n".encode()
    subprocess.run(["sfdisk", "-q", str(img)], input=script, check=True)
    subprocess.run(["mkfs.fat", "-F", "32", "--offset", str(START), str(img), str(46 * 1024)],
                   check=True, capture_output=True)  # fmt: skip
    return img


def tree(root: pathlib.Path) -> None:
    rnd = random.Random(9)
    (root / "Deep Dir" / "level two" / "three").mkdir(parents=True)
    (root / "empty").mkdir()
    for i, rel in enumerate(["a.txt", "Deep Dir/Long name of a file.data",
                             "Deep Dir/level two/ünïcode ñame.bin", "Deep Dir/level two/three/x",
                             "big.bin"]):  # fmt: skip
        size = 3 * MiB if rel == "big.bin" else rnd.randrange(0, 40000)
        (root / rel).write_bytes(rnd.randbytes(size) if i else b"hello\n")


def test_cp_r_through_the_view(tmp_path: pathlib.Path) -> None:
    img = disk(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    tree(src)
    with mounted(tmp_path, f"disk={img}") as mnt:
        c = mnt / "n" / "c"
        assert os.listdir(c) == []
        subprocess.run(["cp", "-r", str(src), str(c / "copy")], check=True, timeout=120)
        assert not filecmp.dircmp(src, c / "copy").diff_files
        assert sorted(os.listdir(mnt / "n")) == ["c", "sdC0dos"]
    fsck(img, START * 512)
    part = pathlib.Path(f"{img}@@{START * 512}")
    assert mnames(part, "copy") == {"a.txt", "Deep Dir", "empty", "big.bin"}
    assert mnames(part, "copy/Deep Dir/level two") == {"ünïcode ñame.bin", "three"}
    for f in src.rglob("*"):
        if f.is_file():
            rel = f.relative_to(src).as_posix()
            assert mget(part, f"copy/{rel}") == f.read_bytes(), rel

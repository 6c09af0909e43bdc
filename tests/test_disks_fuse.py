"""A disk with a FAT and an ext2 partition through the FUSE view, checked by the Linux tools.

The image is made by sfdisk (an MBR with a FAT16 and a Linux partition), mkfs.fat and
mke2fs at the partitions' offsets; ``lp49 mount --disk IMAGE default DIR`` boots the default
node with it as sdC0, whose boot (``lp49fs/node/disks.py``) runs fdisk -p, dossrv and
ext2srv and mounts the partitions on /n/c and /n/sdC0dos (FAT) and /n/sdC0linux (ext2).
``cp -r`` of a small tree (files, a subdirectory, an empty one, a 1 MiB file) onto each goes
through the view; after the unmount each partition is cut out of the image and checked:
``fsck.fat -n`` and ``e2fsck -fn`` clean, and the trees mtools (``mcopy -s``) and debugfs
(``rdump``) copy out are the same names and bytes as the source.
"""

from __future__ import annotations

import filecmp
import os
import pathlib
import random
import subprocess

import ext2_helpers
from dos_helpers import MTOOLS, fsck
from fuse_view import LP49, mounted, run

MiB = 1 << 20
FAT = (2048, 40960)  # start, sectors: 20 MiB of FAT16
EXT2 = (43008, 40960)  # 20 MiB of ext2 (1 KiB blocks)


def disk(tmp: pathlib.Path) -> pathlib.Path:
    img = tmp / "d.img"
    with img.open("wb") as f:
        f.truncate(48 * MiB)
    script = f"label: dos\nstart={FAT[0]}, size={FAT[1]}, type=6\n" \
             f"start={EXT2[0]}, size={EXT2[1]}, type=83\n"  # fmt: skip
    subprocess.run(["sfdisk", "-q", str(img)], input=script.encode(), check=True)
    subprocess.run(["mkfs.fat", "-F", "16", "--offset", str(FAT[0]), str(img), str(FAT[1] // 2)],
                   check=True, capture_output=True)  # fmt: skip
    ext2_helpers.tool("mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", "-E",
                      f"offset={EXT2[0] * 512}", str(img), str(EXT2[1] // 2))  # fmt: skip
    return img


def cut(img: pathlib.Path, part: tuple[int, int], name: str) -> pathlib.Path:
    """The partition's bytes as a file of their own."""
    out = img.with_name(name)
    with img.open("rb") as f:
        f.seek(part[0] * 512)
        out.write_bytes(f.read(part[1] * 512))
    return out


def tree(root: pathlib.Path) -> None:
    rnd = random.Random(10)
    (root / "sub dir" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "hello.txt").write_bytes(b"hello\n")
    (root / "sub dir" / "A Long File Name.data").write_bytes(rnd.randbytes(30000))
    (root / "sub dir" / "deeper" / "x").write_bytes(rnd.randbytes(517))
    (root / "one mib.bin").write_bytes(rnd.randbytes(MiB))


def same(a: pathlib.Path, b: pathlib.Path) -> None:
    """The trees under ``a`` and ``b`` have the same names and bytes (recursively)."""
    names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*"))
    assert names == sorted(p.relative_to(b).as_posix() for p in b.rglob("*"))
    for rel in names:
        if (a / rel).is_file():
            assert filecmp.cmp(a / rel, b / rel, shallow=False), rel


def test_cp_r_onto_fat_and_ext2(tmp_path: pathlib.Path) -> None:
    img = disk(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    tree(src)
    with mounted(tmp_path, f"disk={img}") as mnt:
        n = mnt / "n"
        assert sorted(os.listdir(n)) == ["c", "sdC0dos", "sdC0linux"]
        assert os.listdir(n / "c") == []
        assert "lost+found" in os.listdir(n / "sdC0linux")
        for where in (n / "c", n / "sdC0linux"):
            subprocess.run(["cp", "-r", str(src), str(where / "copy")], check=True, timeout=120)
            same(src, where / "copy")
    fat = cut(img, FAT, "fat.part")
    fsck(fat)
    out = tmp_path / "mtools"
    subprocess.run(["mcopy", "-s", "-i", str(fat), "::copy", str(out)], env=MTOOLS,
                   check=True, capture_output=True)  # fmt: skip
    same(src, out)
    ext2 = cut(img, EXT2, "ext2.part")
    ext2_helpers.fsck(ext2)
    dump = tmp_path / "debugfs"
    dump.mkdir()
    ext2_helpers.tool("debugfs", "-R", f"rdump /copy {dump}", str(ext2))
    same(src, dump / "copy")


def test_the_disk_option_on_the_command_line(tmp_path: pathlib.Path) -> None:
    """``lp49 mount --disk IMAGE default DIR``, the spelling of the issue, boots the same."""
    img = disk(tmp_path)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run([str(LP49), "mount", "--disk", str(img), "default", str(mnt),
             "-o", f"log={tmp_path / 'view.log'}"])  # fmt: skip
    assert (r.returncode, r.stderr) == (0, ""), r
    try:
        assert sorted(os.listdir(mnt / "n")) == ["c", "sdC0dos", "sdC0linux"]
        (mnt / "n" / "sdC0linux" / "f").write_bytes(b"on ext2\n")
    finally:
        run(["fusermount3", "-u", str(mnt)])
    assert ext2_helpers.cat(cut(img, EXT2, "ext2.part"), "/f") == b"on ext2\n"
